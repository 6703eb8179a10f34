/**
 * Workbench: shipments on their way in and out, from the chain index (GET /workbench/shipments).
 * An incoming shipment is received from the list, all of it or what arrived with the rest noted.
 * The receiving event must name the items by identifier, and the chain knows only their keys: an
 * identifier shows where this node holds a document about the item that the organisation may read
 * (the sender's grant); otherwise the page says so, names what the sender must share, and the
 * receiver scans or types the identifiers from the labels on the goods, each checked against the
 * shipment's keys. No access is widened for the receiver.
 */
import type { TargetedEvent } from "preact";
import { useState } from "preact/hooks";
import type { MyShipmentsAnswer, ShipmentAnswer } from "../../../lib/api/shipments.ts";
import { epcisDocument, receive } from "../../../lib/epcis/builders.ts";
import { itemKey } from "../../../lib/identifiers/canonical.ts";
import { glnFault } from "../../../lib/workbench/sheet.ts";
import { api, orgName } from "../api.ts";
import { Async, useAsync } from "../components/async.tsx";
import { useI18n } from "../i18n.ts";
import { FormFooter, useCapture } from "./Workbench.tsx";

const shortKey = (key: string) => `${key.slice(0, 10)}…${key.slice(-6)}`;
const serialOf = (identifier: string) => decodeURIComponent(identifier.split("/").pop() ?? identifier);
const when = (s: ShipmentAnswer) => (s.time === null ? "?" : new Date(s.time * 1000).toISOString().slice(0, 16).replace("T", " "));

/** The lists in and out; they reload on the button, when `reload` changes, and after a receipt from the list. */
export function ShipmentLists({ reload: outside = 0 }: { reload?: number }) {
  const { t } = useI18n();
  const [reload, setReload] = useState(0);
  // Items the last receipt from the list recorded: its form leaves with the reload, its outcome stays.
  const [receipt, setReceipt] = useState<number>();
  const state = useAsync(() => api<MyShipmentsAnswer>("/workbench/shipments?limit=20"), [reload, outside]);
  return (
    <>
    {receipt !== undefined && (
      <p class="ok" role="status" data-testid="shipments-received">
        {t("wb.captured", { total: receipt })}
      </p>
    )}
    <Async state={state}>
      {(a) => {
        const incoming = a.incoming.filter((s) => s.open > 0);
        return (
          <div class="wb-shipments">
            <p>
              <button type="button" onClick={() => setReload((n) => n + 1)} data-testid="shipments-refresh">
                {t("wb.ship.refresh")}
              </button>
            </p>
            <section aria-labelledby="wb-incoming" data-testid="incoming">
              <h2 id="wb-incoming">{t("wb.ship.in.title")}</h2>
              {incoming.length === 0 && <p>{t("wb.ship.in.none")}</p>}
              {incoming.map((s) => (
                <IncomingShipment
                  key={s.record}
                  shipment={s}
                  onReceived={(n) => {
                    setReceipt(n);
                    setReload((r) => r + 1);
                  }}
                />
              ))}
            </section>
            <section aria-labelledby="wb-outgoing" data-testid="outgoing">
              <h2 id="wb-outgoing">{t("wb.ship.out.title")}</h2>
              {a.outgoing.length === 0 && <p>{t("wb.ship.out.none")}</p>}
              <ul class="shipment-list">
                {a.outgoing.map((s) => (
                  <li key={s.record} data-record={s.record} data-open={s.open}>
                    <strong>{t("wb.ship.out.to", { org: orgName(s.to), time: when(s) })}</strong>{" "}
                    {s.open > 0 ? t("wb.ship.out.open", { open: s.open, n: s.items.length }) : t("wb.ship.out.closed", { received: s.items.filter((i) => i.state === "received").length, n: s.items.length })}
                    <details>
                      <summary>{t("wb.ship.items")}</summary>
                      <ul>
                        {s.items.map((i) => (
                          <li key={i.key} data-state={i.state}>
                            {i.identifier === null ? shortKey(i.key) : serialOf(i.identifier)}: {t(`wb.ship.state.${i.state}`)}
                          </li>
                        ))}
                      </ul>
                    </details>
                  </li>
                ))}
              </ul>
            </section>
          </div>
        );
      }}
    </Async>
    </>
  );
}

/** One shipment on its way in, with the form that receives it. */
function IncomingShipment({ shipment: s, onReceived }: { shipment: ShipmentAnswer; onReceived: (items: number) => void }) {
  const { t } = useI18n();
  const expected = s.items.filter((i) => i.state === "in-transit");
  // Identifiers the chain's list named, then those the receiver scanned from the labels.
  const [scanned, setScanned] = useState<ReadonlyMap<string, string>>(new Map());
  const [scanText, setScanText] = useState("");
  const [scanFaults, setScanFaults] = useState<string[]>([]);
  const identifierOf = (key: string) => expected.find((i) => i.key === key)?.identifier ?? scanned.get(key);
  const [arrived, setArrived] = useState<ReadonlySet<string>>(new Set(expected.filter((i) => i.identifier !== null).map((i) => i.key)));
  const [site, setSite] = useState("");
  const [note, setNote] = useState("");
  const [fault, setFault] = useState<string>();
  const [progress, capture] = useCapture(() => onReceived(arrived.size));
  const unnamed = expected.filter((i) => i.identifier === null).length;
  const missing = expected.filter((i) => !arrived.has(i.key));

  const scan = () => {
    const byKey = new Map(scanned);
    const faults: string[] = [];
    const add = new Set(arrived);
    for (const line of scanText.split(/\s+/).filter((l) => l !== "")) {
      let key: string;
      try {
        key = itemKey(line).toLowerCase();
      } catch (e) {
        faults.push(`${line}: ${(e as Error).message}`);
        continue;
      }
      if (!expected.some((i) => i.key === key)) faults.push(t("wb.ship.in.notInShipment", { id: line }));
      else {
        byKey.set(key, line);
        add.add(key);
      }
    }
    setScanned(byKey);
    setArrived(add);
    setScanFaults(faults);
  };
  const toggle = (key: string) => {
    const next = new Set(arrived);
    if (next.has(key)) next.delete(key);
    else next.add(key);
    setArrived(next);
  };
  const submit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    const why = glnFault(site.trim(), t("wb.ship.in.site"));
    setFault(why);
    if (why) return;
    const time = new Date().toISOString();
    const items = [...arrived].map((k) => identifierOf(k)!);
    // A missing item whose identifier was never shared is named by its key.
    const short = missing.map((i) => identifierOf(i.key) ?? i.key);
    const event = receive({ time, at: site.trim(), items, ...(short.length > 0 ? { missing: short } : {}), ...(note.trim() ? { note: note.trim() } : {}) });
    await capture([{ document: epcisDocument([event], time), items: items.length }]);
  };
  return (
    <form class="incoming" onSubmit={submit} data-testid="incoming-shipment" data-record={s.record} aria-label={t("wb.ship.in.from", { org: orgName(s.from), time: when(s), n: expected.length })}>
      <h3>{t("wb.ship.in.from", { org: orgName(s.from), time: when(s), n: expected.length })}</h3>
      {unnamed > 0 && (
        <p class="notice" data-testid="unshared">
          {t("wb.ship.in.unshared", { n: unnamed, org: orgName(s.from) })}
        </p>
      )}
      <ul class="receive-list">
        {expected.map((i) => {
          const id = identifierOf(i.key);
          return (
            <li key={i.key} data-key={i.key}>
              <label>
                <input type="checkbox" disabled={id === undefined} checked={arrived.has(i.key)} onChange={() => toggle(i.key)} /> {id === undefined ? <code title={i.key}>{shortKey(i.key)}</code> : serialOf(id)}
              </label>
            </li>
          );
        })}
      </ul>
      {unnamed > 0 && (
        <div class="wb-form">
          <label>
            {t("wb.ship.in.scan")}
            <textarea rows={3} value={scanText} onInput={(e) => setScanText(e.currentTarget.value)} data-testid="scan-ids" />
          </label>
          <button type="button" onClick={scan} data-testid="scan-match">
            {t("wb.ship.in.match")}
          </button>
          {scanFaults.length > 0 && (
            <ul class="error" role="alert">
              {scanFaults.map((f) => (
                <li key={f}>{f}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      <div class="wb-form">
        <label>
          {t("wb.ship.in.site")}
          <input value={site} onInput={(e) => setSite(e.currentTarget.value)} data-testid="incoming-site" />
        </label>
        {missing.length > 0 && (
          <label>
            {t("wb.recv.note", { n: missing.length })}
            <textarea rows={2} value={note} onInput={(e) => setNote(e.currentTarget.value)} data-testid="incoming-note" />
          </label>
        )}
      </div>
      <FormFooter
        label={missing.length === 0 ? t("wb.recv.all", { n: arrived.size }) : t("wb.recv.some", { n: arrived.size, missing: missing.length })}
        testId="incoming-receive"
        disabled={arrived.size === 0 || (missing.length > 0 && note.trim() === "")}
        fault={fault}
        progress={progress}
      />
    </form>
  );
}
