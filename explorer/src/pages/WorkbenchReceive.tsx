/**
 * Workbench: receive a shipment. The consignee opens the dispatch document that came with the
 * goods (lib/workbench/dispatch.ts); the page asks the chain about every item on it (is it on its
 * way to us?), the receiver ticks what actually arrived and notes why anything is short, and the
 * receiving event names the items received and, as a discrepancy, the ones that were not.
 */
import type { TargetedEvent } from "preact";
import { useState } from "preact/hooks";
import type { ItemOrBatchAnswer } from "../../../lib/api/trace.ts";
import { epcisDocument, receive } from "../../../lib/epcis/builders.ts";
import { type DispatchDocument, readDispatch } from "../../../lib/workbench/dispatch.ts";
import { ApiError, api, enc, orgName, session } from "../api.ts";
import { useI18n } from "../i18n.ts";
import { FormFooter, useCapture } from "./Workbench.tsx";
import { ShipmentLists } from "./WorkbenchShipments.tsx";

interface Incoming {
  doc: DispatchDocument;
  /** Per item: on its way to us (true), or what the chain says instead. */
  state: Map<string, true | string>;
}

export function ReceiveTab() {
  const { t } = useI18n();
  const [incoming, setIncoming] = useState<Incoming>();
  const [error, setError] = useState<string>();
  // Bumped once a receipt from a dispatch document is recorded: the lists of shipments reload.
  const [received, setReceived] = useState(0);
  const open = async (e: TargetedEvent<HTMLInputElement>) => {
    const file = e.currentTarget.files?.[0];
    if (file === undefined) return;
    try {
      const doc = readDispatch(await file.text());
      const me = session()!.organisation.id;
      const state = new Map<string, true | string>();
      for (const id of doc.items) {
        try {
          const a = await api<ItemOrBatchAnswer>(`/items/${enc(id)}`);
          if (a.kind === "item" && a.status === "inTransit" && a.consignee?.id === me) state.set(id, true);
          else state.set(id, a.kind === "item" ? t("wb.recv.notToUs", { status: a.status, org: orgName(a.status === "inTransit" ? a.consignee : a.custodian) }) : t("wb.recv.batch"));
        } catch (err) {
          state.set(id, err instanceof ApiError && err.status === 404 ? t("wb.recv.unknown") : (err as Error).message);
        }
      }
      setIncoming({ doc, state });
      setError(undefined);
    } catch (err) {
      setIncoming(undefined);
      setError((err as Error).message);
    }
  };
  return (
    <>
    <ShipmentLists reload={received} />
    <section aria-labelledby="wb-receive">
      <h2 id="wb-receive">{t("wb.recv.title")}</h2>
      <p>{t("wb.recv.intro")}</p>
      <label>
        {t("wb.recv.open")} <input type="file" accept=".csv,text/csv" onChange={open} data-testid="dispatch-file" />
      </label>
      {error !== undefined && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {incoming !== undefined && <ReceiveForm key={incoming.doc.despatchAdvice} incoming={incoming} onReceived={() => setReceived((n) => n + 1)} />}
    </section>
    </>
  );
}

function ReceiveForm({ incoming, onReceived }: { incoming: Incoming; onReceived: () => void }) {
  const { t } = useI18n();
  const { doc, state } = incoming;
  const expected = doc.items.filter((i) => state.get(i) === true);
  const [arrived, setArrived] = useState<ReadonlySet<string>>(new Set(expected));
  const [note, setNote] = useState("");
  const [progress, capture] = useCapture(onReceived);
  const missing = expected.filter((i) => !arrived.has(i));
  const submit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    const time = new Date().toISOString();
    const event = receive({ time, at: doc.to, from: doc.from, items: [...arrived], ...(missing.length > 0 ? { missing } : {}), ...(note.trim() ? { note: note.trim() } : {}) });
    await capture([{ document: epcisDocument([event], time), items: arrived.size }]);
  };
  const toggle = (id: string) => {
    const s = new Set(arrived);
    if (s.has(id)) s.delete(id);
    else s.add(id);
    setArrived(s);
  };
  return (
    <form onSubmit={submit} data-testid="receive-form">
      <h3>{t("wb.recv.shipment", { advice: doc.despatchAdvice, items: doc.items.length, expected: expected.length })}</h3>
      <ul class="receive-list">
        {doc.items.map((id) => {
          const s = state.get(id);
          return (
            <li key={id} data-item={id}>
              <label>
                <input type="checkbox" disabled={s !== true} checked={arrived.has(id)} onChange={() => toggle(id)} /> {decodeURIComponent(id.split("/").pop() ?? id)}
              </label>
              {s !== true && <span class="notice"> {s}</span>}
            </li>
          );
        })}
      </ul>
      {missing.length > 0 && (
        <label>
          {t("wb.recv.note", { n: missing.length })}
          <textarea rows={2} value={note} onInput={(e) => setNote(e.currentTarget.value)} data-testid="receive-note" />
        </label>
      )}
      <FormFooter
        label={missing.length === 0 ? t("wb.recv.all", { n: arrived.size }) : t("wb.recv.some", { n: arrived.size, missing: missing.length })}
        testId="receive-send"
        disabled={arrived.size === 0 || (missing.length > 0 && note.trim() === "")}
        fault={undefined}
        progress={progress}
      />
    </form>
  );
}
