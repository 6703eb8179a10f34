/**
 * Workbench: lots by quantity (no serials). Register a quantity of a lot (GTIN + lot + quantity +
 * unit), ship part of what the organisation holds to another member, receive what is on its way
 * in (all, or less with the shortfall noted: the rest stays in transit until the sender withdraws
 * it), and see the quantity on hand per lot (GET /workbench/lots, from the chain index). Every
 * action is an EPCIS document from lib/epcis/builders.ts sent to POST /capture.
 */
import type { TargetedEvent } from "preact";
import { useState } from "preact/hooks";
import type { IncomingLotAnswer, LotInTransitAnswer, MyLotsAnswer } from "../../../lib/api/lots.ts";
import { cancelLotShipment, commissionLot, epcisDocument, lgtin, receiveLot, shipLot } from "../../../lib/epcis/builders.ts";
import { batchKey } from "../../../lib/identifiers/canonical.ts";
import { glnFault } from "../../../lib/workbench/sheet.ts";
import { api, orgName } from "../api.ts";
import { Async, useAsync } from "../components/async.tsx";
import { useI18n } from "../i18n.ts";
import { FormFooter, useCapture } from "./Workbench.tsx";

const shortKey = (key: string) => `${key.slice(0, 10)}…${key.slice(-6)}`;
const lotName = (l: { lot: string; identifier: string | null }) => (l.identifier === null ? shortKey(l.lot) : decodeURIComponent(l.identifier.split("/").pop() ?? l.identifier));
const amount = (quantity: string, unit: string) => `${quantity}${unit === "" ? "" : ` ${unit}`}`;

/** A whole positive quantity typed by the user, or the fault in words. */
function quantityFault(text: string, what: string): string | undefined {
  return /^[1-9]\d{0,14}$/.test(text.trim()) ? undefined : `${what} "${text}" is not a whole number above 0`;
}

export function LotsTab() {
  const { t } = useI18n();
  const [reload, setReload] = useState(0);
  const state = useAsync(() => api<MyLotsAnswer>("/workbench/lots"), [reload]);
  const refresh = () => setReload((n) => n + 1);
  return (
    <section class="wb-lots">
      <h2>{t("wb.lots.register")}</h2>
      <RegisterLot onDone={refresh} />
      <Async state={state}>
        {(a) => (
          <>
            <section aria-labelledby="wb-lots-held" data-testid="lots-held">
              <h2 id="wb-lots-held">{t("wb.lots.held")}</h2>
              {a.holdings.length === 0 && <p>{t("wb.lots.none")}</p>}
              <ul>
                {a.holdings.map((h) => (
                  <li key={h.lot} data-lot={h.lot} data-quantity={h.quantity}>
                    <strong>{lotName(h)}</strong>: {amount(h.quantity, h.unit)}
                    {h.identifier !== null && <ShipLot lot={h.identifier} unit={h.unit} held={h.quantity} onDone={refresh} />}
                  </li>
                ))}
              </ul>
            </section>
            <section aria-labelledby="wb-lots-in" data-testid="lots-incoming">
              <h2 id="wb-lots-in">{t("wb.lots.incoming")}</h2>
              {a.incoming.length === 0 && <p>{t("wb.lots.none")}</p>}
              {a.incoming.map((x) => (
                <ReceiveLot key={`${x.lot}:${x.from?.id}`} transit={x} onDone={refresh} />
              ))}
            </section>
            <section aria-labelledby="wb-lots-out" data-testid="lots-outgoing">
              <h2 id="wb-lots-out">{t("wb.lots.outgoing")}</h2>
              {a.outgoing.length === 0 && <p>{t("wb.lots.none")}</p>}
              <ul>
                {a.outgoing.map((x) => (
                  <li key={`${x.lot}:${x.to?.id}`} data-lot={x.lot} data-quantity={x.quantity}>
                    {t("wb.lots.outTo", { lot: lotName(x), amount: amount(x.quantity, x.unit), org: orgName(x.to) })}
                    {x.identifier !== null && <WithdrawLot lot={x.identifier} transit={x} onDone={refresh} />}
                  </li>
                ))}
              </ul>
            </section>
          </>
        )}
      </Async>
    </section>
  );
}

/** GTIN, lot, quantity, unit and site: a lot registered by quantity in the caller's hands. */
function RegisterLot({ onDone }: { onDone: () => void }) {
  const { t } = useI18n();
  const [f, setF] = useState({ gtin: "", lot: "", quantity: "", unit: "", site: "" });
  const [fault, setFault] = useState<string>();
  // The lists reload once the chain index has read the capture's block.
  const [progress, capture] = useCapture(onDone);
  const field = (k: keyof typeof f, label: string) => (
    <label>
      {label}
      <input value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} data-testid={`lot-${k}`} />
    </label>
  );
  const submit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    const time = new Date().toISOString();
    let event: Record<string, unknown>;
    try {
      const why = quantityFault(f.quantity, t("wb.lots.quantity")) ?? glnFault(f.site.trim(), t("wb.reg.location"));
      if (why) throw new Error(why);
      const lot = lgtin(f.gtin.trim(), f.lot.trim());
      batchKey(lot); // checks the GTIN and the lot number with GS1's rules
      event = commissionLot({ time, at: f.site.trim(), lot, quantity: Number(f.quantity.trim()), unit: f.unit.trim().toUpperCase() });
    } catch (err) {
      setFault((err as Error).message);
      return;
    }
    setFault(undefined);
    await capture([{ document: epcisDocument([event], time), items: 1 }]);
  };
  return (
    <form class="wb-form" onSubmit={submit} data-testid="lot-register">
      {field("gtin", t("wb.reg.gtin"))}
      {field("lot", t("wb.lots.lot"))}
      {field("quantity", t("wb.lots.quantity"))}
      {field("unit", t("wb.lots.unit"))}
      {field("site", t("wb.reg.location"))}
      <FormFooter label={t("wb.lots.registerButton")} testId="lot-register-submit" fault={fault} progress={progress} />
    </form>
  );
}

/** Ships part of a lot the organisation holds to a partner's GLN. */
function ShipLot({ lot, unit, held, onDone }: { lot: string; unit: string; held: string; onDone: () => void }) {
  const { t } = useI18n();
  return (
    <MoveLotQuantity
      kind="ship"
      summary={t("wb.lots.ship")}
      partnerLabel={t("wb.lots.to")}
      button={t("wb.lots.shipButton")}
      initial=""
      tooMuch={(quantity) => (BigInt(quantity) > BigInt(held) ? t("wb.lots.moreThanHeld", { quantity, held }) : undefined)}
      build={(w) => shipLot({ ...w, lot, unit })}
      onDone={onDone}
    />
  );
}

/**
 * Withdraws (CBV void_shipping) what of a shipment was not received: a short delivery leaves the
 * rest in transit until the sender takes it back into its stock.
 */
function WithdrawLot({ lot, transit: x, onDone }: { lot: string; transit: LotInTransitAnswer; onDone: () => void }) {
  const { t } = useI18n();
  return (
    <MoveLotQuantity
      kind="withdraw"
      summary={t("wb.lots.withdraw")}
      partnerLabel={t("wb.lots.withdrawTo")}
      button={t("wb.lots.withdrawButton")}
      initial={x.quantity}
      tooMuch={(quantity) => (BigInt(quantity) > BigInt(x.quantity) ? t("wb.lots.moreThanInTransit", { quantity, transit: x.quantity }) : undefined)}
      build={(w) => cancelLotShipment({ ...w, lot, unit: x.unit })}
      onDone={onDone}
    />
  );
}

/**
 * A quantity of a lot sent towards a partner's GLN or taken back from it: the quantity (at most
 * what `tooMuch` allows), the partner's and our site's GLNs checked before anything is sent.
 */
function MoveLotQuantity(p: {
  kind: "ship" | "withdraw";
  summary: string;
  partnerLabel: string;
  button: string;
  initial: string;
  tooMuch: (quantity: string) => string | undefined;
  build: (w: { time: string; at: string; to: string; quantity: number }) => Record<string, unknown>;
  onDone: () => void;
}) {
  const { t } = useI18n();
  const [f, setF] = useState({ quantity: p.initial, to: "", site: "" });
  const [fault, setFault] = useState<string>();
  const [progress, capture] = useCapture(p.onDone);
  const labels = { quantity: t("wb.lots.quantity"), to: p.partnerLabel, site: t("wb.reg.location") };
  const submit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    const why =
      quantityFault(f.quantity, labels.quantity) ?? p.tooMuch(f.quantity.trim()) ?? glnFault(f.to.trim(), labels.to) ?? glnFault(f.site.trim(), labels.site);
    setFault(why);
    if (why) return;
    const time = new Date().toISOString();
    const event = p.build({ time, at: f.site.trim(), to: f.to.trim(), quantity: Number(f.quantity.trim()) });
    await capture([{ document: epcisDocument([event], time), items: 1 }]);
  };
  return (
    <details>
      <summary>{p.summary}</summary>
      <form class="wb-form" onSubmit={submit} data-testid={`lot-${p.kind}`}>
        {(["quantity", "to", "site"] as const).map((k) => (
          <label key={k}>
            {labels[k]}
            <input value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} data-testid={`lot-${p.kind}-${k}`} />
          </label>
        ))}
        <FormFooter label={p.button} testId={`lot-${p.kind}-submit`} fault={fault} progress={progress} />
      </form>
    </details>
  );
}

/**
 * Receives a lot quantity on its way in. The chain keeps lot quantities per sender, so the event
 * names the sender's party GLN: the list gives the sender's GLNs from this node's directory of
 * parties (the first filled in, the others offered), else the receiver types it from the dispatch
 * document. The lot's identifier comes from the list where the sender shared it, else the
 * receiver types it from the goods' label.
 */
function ReceiveLot({ transit: x, onDone }: { transit: IncomingLotAnswer; onDone: () => void }) {
  const { t } = useI18n();
  const [f, setF] = useState({ lot: x.identifier ?? "", quantity: x.quantity, from: x.fromParties[0] ?? "", site: "", note: "" });
  const partiesId = `lot-in-parties-${x.lot}-${x.from?.id ?? ""}`;
  const [fault, setFault] = useState<string>();
  const [progress, capture] = useCapture(onDone);
  const short = /^\d+$/.test(f.quantity.trim()) && BigInt(f.quantity.trim()) < BigInt(x.quantity);
  const submit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    let why =
      quantityFault(f.quantity, t("wb.lots.quantity")) ??
      (BigInt(f.quantity.trim()) > BigInt(x.quantity) ? t("wb.lots.moreThanShipped", { quantity: f.quantity.trim(), shipped: x.quantity }) : undefined) ??
      glnFault(f.from.trim(), t("wb.lots.from")) ??
      glnFault(f.site.trim(), t("wb.reg.location")) ??
      (short && f.note.trim() === "" ? t("wb.lots.noteNeeded") : undefined);
    if (!why) {
      try {
        if (batchKey(f.lot.trim()).toLowerCase() !== x.lot.toLowerCase()) why = t("wb.lots.otherLot", { lot: f.lot.trim() });
      } catch (err) {
        why = (err as Error).message;
      }
    }
    setFault(why);
    if (why) return;
    const time = new Date().toISOString();
    const event = receiveLot({ time, at: f.site.trim(), from: f.from.trim(), lot: f.lot.trim(), quantity: Number(f.quantity.trim()), unit: x.unit, shipped: Number(x.quantity), ...(short ? { note: f.note.trim() } : {}) });
    await capture([{ document: epcisDocument([event], time), items: 1 }]);
  };
  return (
    <form class="wb-form incoming" onSubmit={submit} data-testid="lot-incoming" data-lot={x.lot}>
      <h3>{t("wb.lots.inFrom", { lot: lotName(x), amount: amount(x.quantity, x.unit), org: orgName(x.from) })}</h3>
      {x.identifier === null && (
        <label>
          {t("wb.lots.lotId")}
          <input value={f.lot} onInput={(e) => setF({ ...f, lot: e.currentTarget.value })} data-testid="lot-in-lot" />
        </label>
      )}
      {(["quantity", "from", "site"] as const).map((k) => (
        <label key={k}>
          {k === "from" && x.fromParties.length > 0 ? t("wb.lots.fromDirectory", { org: orgName(x.from) }) : t(k === "quantity" ? "wb.lots.received" : k === "from" ? "wb.lots.from" : "wb.reg.location")}
          <input value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} data-testid={`lot-in-${k}`} type="text" list={k === "from" && x.fromParties.length > 1 ? partiesId : undefined} />
        </label>
      ))}
      {x.fromParties.length > 1 && (
        <datalist id={partiesId}>
          {x.fromParties.map((p) => (
            <option key={p} value={p} />
          ))}
        </datalist>
      )}
      {short && (
        <label>
          {t("wb.lots.note", { missing: (BigInt(x.quantity) - BigInt(f.quantity.trim())).toString() })}
          <textarea rows={2} value={f.note} onInput={(e) => setF({ ...f, note: e.currentTarget.value })} data-testid="lot-in-note" />
        </label>
      )}
      <FormFooter label={t("wb.lots.receiveButton")} testId="lot-in-submit" fault={fault} progress={progress} />
    </form>
  );
}
