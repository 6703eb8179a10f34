/**
 * Workbench: my items. The organisation's items are the ones its own events brought into its
 * hands (commissioned, made by a transformation, received), with each item's status, custodian
 * and consignee from the chain index, so the list agrees with the chain: GET /workbench/items, a
 * page at a time ("more"), searched at the gateway; the filter box narrows what is loaded. Selected items get labels, or are shipped to a partner: the
 * shipping event names the partner's GLN and the dispatch document, which is offered as CSV to
 * travel with the goods (the consignee's workbench receives from it). A shipment not yet received
 * can be cancelled by its sender (CBV void_shipping). Items in hand can be inspected, given a
 * disposition, recalled, transformed into new items, or assembled into a registered product.
 */
import type { TargetedEvent } from "preact";
import { useMemo, useState } from "preact/hooks";
import type { MyItemsAnswer } from "../../../lib/api/stock.ts";
import type { ItemOrBatchAnswer } from "../../../lib/api/trace.ts";
import { DISPOSITIONS, type Disposition, assemble, cancelShipment, epcisDocument, inspect, recall, setDisposition, sgtin, ship, transform } from "../../../lib/epcis/builders.ts";
import { checkElement } from "../../../lib/identifiers/gs1-keys.ts";
import { dispatchCsv } from "../../../lib/workbench/dispatch.ts";
import { glnFault } from "../../../lib/workbench/sheet.ts";
import { api, orgName, session } from "../api.ts";
import { Async, ErrorView, useAsync } from "../components/async.tsx";
import { useStatusWord } from "../components/Recall.tsx";
import { useI18n } from "../i18n.ts";
import { href } from "../router.ts";
import { FormFooter, useCapture } from "./Workbench.tsx";
import { LabelSheet } from "./WorkbenchLabels.tsx";

/** Items per page of GET /workbench/items: the list grows by a page at a time ("more"). */
const PER_PAGE = 500;

interface StockItem {
  id: string;
  chain?: ItemOrBatchAnswer;
}

interface StockPage {
  items: StockItem[];
  next?: string;
  /** Items the search leaves, across all pages. */
  matching: number;
}

/** One page of the organisation's items with their chain state, searched at the gateway by `query`. */
async function loadPage(query: string, token: string | undefined, signal?: AbortSignal): Promise<StockPage> {
  const params = new URLSearchParams({ perPage: String(PER_PAGE), ...(query !== "" ? { q: query } : {}), ...(token !== undefined ? { nextPageToken: token } : {}) });
  const a = await api<MyItemsAnswer>(`/workbench/items?${params.toString()}`, signal ? { signal } : {});
  return { items: a.items.map((i) => ({ id: i.identifier, ...(i.chain ? { chain: i.chain } : {}) })), ...(a.nextPageToken !== undefined ? { next: a.nextPageToken } : {}), matching: a.matching };
}

export function StockTab() {
  const { t } = useI18n();
  // The search the gateway applies; the filter box narrows what is loaded at once.
  const [query, setQuery] = useState("");
  const state = useAsync((signal) => loadPage(query, undefined, signal), [query]);
  return (
    <section aria-labelledby="wb-stock">
      <h2 id="wb-stock">{t("wb.stock.title")}</h2>
      <p>{t("wb.stock.intro")}</p>
      <Async state={state}>{(first) => <StockTable key={query} first={first} query={query} onSearch={setQuery} />}</Async>
    </section>
  );
}

const serialOf = (id: string) => decodeURIComponent(id.split("/").pop() ?? id);

function StockTable({ first, query, onSearch }: { first: StockPage; query: string; onSearch: (q: string) => void }) {
  const { t } = useI18n();
  const statusWord = useStatusWord();
  const me = session()!.organisation.id;
  const [items, setItems] = useState(first.items);
  const [next, setNext] = useState(first.next);
  const [matching, setMatching] = useState(first.matching);
  const [more, setMore] = useState<{ loading: boolean; error?: unknown }>({ loading: false });
  const loadMore = async () => {
    setMore({ loading: true });
    try {
      const page = await loadPage(query, next);
      setItems([...items, ...page.items]);
      setNext(page.next);
      setMore({ loading: false });
    } catch (error) {
      setMore({ loading: false, error });
    }
  };
  // After a capture changed items (ship, cancel, make): the first page again, in place, so the open form and its outcome stay.
  const onChanged = async () => {
    try {
      const page = await loadPage(query, undefined);
      setItems(page.items);
      setNext(page.next);
      setMatching(page.matching);
    } catch (error) {
      setMore({ loading: false, error });
    }
  };
  const [filter, setFilter] = useState(query);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  // The open form and the items it acts on, taken when it opened: a reload after its capture leaves them.
  const [action, setAction] = useState<{ kind: "ship" | "cancel" | "make"; items: string[] } | "labels">();
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return f === "" ? items : items.filter((i) => i.id.toLowerCase().includes(f) || (i.chain && "status" in i.chain && i.chain.status.includes(f)));
  }, [items, filter]);
  const toggle = (id: string) => {
    const s = new Set(selected);
    if (s.has(id)) s.delete(id);
    else s.add(id);
    setSelected(s);
  };
  const mine = (i: StockItem) => i.chain?.kind === "item" && i.chain.custodian?.id === me && i.chain.status === "active";
  const shippable = items.filter((i) => selected.has(i.id) && mine(i)).map((i) => i.id);
  // Shipped by us and not yet received: the shipment may still be cancelled.
  const outgoing = (i: StockItem) => i.chain?.kind === "item" && i.chain.custodian?.id === me && i.chain.status === "inTransit";
  const cancellable = items.filter((i) => selected.has(i.id) && outgoing(i)).map((i) => i.id);
  if (items.length === 0 && query === "") return <p data-testid="stock-empty">{t("wb.stock.empty")}</p>;
  return (
    <>
      <p class="wb-form">
        <label>
          {t("wb.stock.filter")} <input type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} data-testid="stock-filter" />
        </label>
        <button type="button" class="link" onClick={() => setSelected(new Set(shown.filter(mine).map((i) => i.id)))}>
          {t("wb.stock.selectShown")}
        </button>
        <button type="button" class="link" onClick={() => onSearch(filter.trim())} data-testid="stock-search">
          {t("wb.stock.searchAll")}
        </button>
      </p>
      <p role="status" data-testid="stock-count" data-items={items.length} data-held={items.filter(mine).length}>
        {t("wb.stock.count", { items: items.length, held: items.filter(mine).length, selected: selected.size })}
      </p>
      <p class="wb-form">
        <button type="button" disabled={selected.size === 0} onClick={() => setAction("labels")}>
          {t("wb.stock.labels", { n: selected.size })}
        </button>
        <button type="button" disabled={shippable.length === 0} onClick={() => setAction({ kind: "ship", items: shippable })} data-testid="ship-open">
          {t("wb.stock.ship", { n: shippable.length })}
        </button>
        <button type="button" disabled={cancellable.length === 0} onClick={() => setAction({ kind: "cancel", items: cancellable })} data-testid="cancel-open">
          {t("wb.stock.cancel", { n: cancellable.length })}
        </button>
        <button type="button" disabled={shippable.length === 0} onClick={() => setAction({ kind: "make", items: shippable })} data-testid="make-open">
          {t("wb.stock.make", { n: shippable.length })}
        </button>
      </p>
      {action === "labels" && <LabelSheet items={[...selected]} />}
      {typeof action === "object" && action.kind === "ship" && <ShipForm key={action.items.join()} items={action.items} onShipped={() => void onChanged()} />}
      {typeof action === "object" && action.kind === "cancel" && <CancelForm key={action.items.join()} items={action.items} onCancelled={() => void onChanged()} />}
      {typeof action === "object" && action.kind === "make" && <MakeForm key={action.items.join()} items={action.items} onDone={() => void onChanged()} />}
      <div class="table-wrap">
        <table data-testid="stock">
          <thead>
            <tr>
              <th />
              <th>{t("wb.stock.item")}</th>
              <th>{t("wb.stock.status")}</th>
              <th>{t("wb.stock.custodian")}</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((i) => (
              <tr key={i.id} data-item={i.id} data-status={i.chain?.kind === "item" ? i.chain.status : ""}>
                <td>
                  <input type="checkbox" aria-label={serialOf(i.id)} checked={selected.has(i.id)} onChange={() => toggle(i.id)} />
                </td>
                <td>
                  <a href={href({ page: "item", id: i.id })}>{serialOf(i.id)}</a>
                </td>
                <td>{i.chain?.kind === "item" ? (i.chain.status === "inTransit" ? t("wb.stock.inTransitTo", { org: orgName(i.chain.consignee) }) : statusWord(i.chain.status)) : t("wb.stock.unknown")}</td>
                <td>{i.chain?.kind === "item" ? orgName(i.chain.custodian) : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p data-testid="stock-pages" data-loaded={items.length} data-matching={matching}>
        {t("wb.stock.loaded", { loaded: items.length, matching })}{" "}
        {next !== undefined && (
          <button type="button" onClick={() => void loadMore()} disabled={more.loading} data-testid="stock-more">
            {t("wb.stock.more", { n: PER_PAGE })}
          </button>
        )}
      </p>
      {more.error !== undefined && <ErrorView error={more.error} />}
    </>
  );
}

function ShipForm({ items, onShipped }: { items: string[]; onShipped: () => void }) {
  const { t } = useI18n();
  const [f, setF] = useState({ from: "", to: "", advice: "" });
  const [fault, setFault] = useState<string>();
  const [progress, capture] = useCapture(onShipped);
  const [dispatch, setDispatch] = useState<string>();
  const submit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    const why = glnFault(f.from.trim(), t("wb.ship.from")) ?? glnFault(f.to.trim(), t("wb.ship.to")) ?? (f.advice.trim() === "" ? t("wb.ship.adviceMissing") : undefined);
    setFault(why);
    if (why) return;
    const time = new Date().toISOString();
    const event = ship({ time, at: f.from.trim(), to: f.to.trim(), items, despatchAdvice: f.advice.trim() });
    if (await capture([{ document: epcisDocument([event], time), items: items.length }])) {
      setDispatch(dispatchCsv({ despatchAdvice: f.advice.trim(), from: f.from.trim(), to: f.to.trim(), items }));
    }
  };
  const input = (k: keyof typeof f, label: string) => (
    <label>
      {label}
      <input value={f[k]} onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })} data-testid={`ship-${k}`} />
    </label>
  );
  return (
    <form onSubmit={submit} aria-label={t("wb.ship.title", { n: items.length })}>
      <h3>{t("wb.ship.title", { n: items.length })}</h3>
      <div class="wb-form">
        {input("from", t("wb.ship.from"))}
        {input("to", t("wb.ship.to"))}
        {input("advice", t("wb.ship.advice"))}
      </div>
      <FormFooter label={t("wb.ship.send", { n: items.length })} testId="ship-send" fault={fault} progress={progress} onRefresh={onShipped}>
        {dispatch !== undefined && (
          <a class="button-link" download={`dispatch-${f.advice.trim()}.csv`} href={`data:text/csv;charset=utf-8,${encodeURIComponent(dispatch)}`} data-testid="dispatch-download">
            {t("wb.ship.dispatch")}
          </a>
        )}
      </FormFooter>
    </form>
  );
}

/** The sender withdraws shipments not yet received (CBV void_shipping): the items are back in its hands. */
function CancelForm({ items, onCancelled }: { items: string[]; onCancelled: () => void }) {
  const { t } = useI18n();
  const [site, setSite] = useState("");
  const [fault, setFault] = useState<string>();
  const [progress, capture] = useCapture(onCancelled);
  const submit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    const why = glnFault(site.trim(), t("wb.ship.from"));
    setFault(why);
    if (why) return;
    const time = new Date().toISOString();
    await capture([{ document: epcisDocument([cancelShipment({ time, at: site.trim(), items })], time), items: items.length }]);
  };
  return (
    <form onSubmit={submit} aria-label={t("wb.cancel.title", { n: items.length })}>
      <h3>{t("wb.cancel.title", { n: items.length })}</h3>
      <div class="wb-form">
        <label>
          {t("wb.ship.from")}
          <input value={site} onInput={(e) => setSite(e.currentTarget.value)} data-testid="cancel-site" />
        </label>
      </div>
      <FormFooter label={t("wb.cancel.send", { n: items.length })} testId="cancel-send" fault={fault} progress={progress} onRefresh={onCancelled} />
    </form>
  );
}

const MAKE_ACTIONS = ["inspect-pass", "inspect-fail", "disposition", "recall", "transform", "assemble"] as const;
type MakeAction = (typeof MAKE_ACTIONS)[number];

/**
 * Production steps on items in hand: inspect (with the outcome), change the disposition, recall,
 * transform them into new items (GTIN and serials of the outputs), or assemble them into a product
 * already registered (its GTIN and serial).
 */
function MakeForm({ items, onDone }: { items: string[]; onDone: () => void }) {
  const { t } = useI18n();
  const [f, setF] = useState({ action: "inspect-pass" as MakeAction, site: "", disposition: "damaged" as Disposition, gtin: "", serials: "" });
  const [fault, setFault] = useState<string>();
  const [progress, capture] = useCapture(onDone);
  const needsOutputs = f.action === "transform" || f.action === "assemble";
  /** The output (transform) or parent (assemble) identifiers the form names, or what is wrong with them. */
  const outputs = (): string[] | string => {
    try {
      const g = checkElement("01", f.gtin.trim(), f.gtin.trim(), true, true);
      const serials = f.serials.split(/[\s,]+/).filter((x) => x !== "").map((x) => checkElement("21", x, x, true, true));
      if (serials.length === 0) return t("wb.make.noSerial");
      if (f.action === "assemble" && serials.length > 1) return t("wb.make.oneParent");
      return serials.map((x) => sgtin(g, x));
    } catch (e) {
      return (e as Error).message;
    }
  };
  const submit = async (e: TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    const at = f.site.trim();
    const out = needsOutputs ? outputs() : [];
    const why = glnFault(at, t("wb.make.site")) ?? (typeof out === "string" ? out : undefined);
    setFault(why);
    if (why || typeof out === "string") return;
    const time = new Date().toISOString();
    const w = { time, at };
    const event =
      f.action === "inspect-pass" || f.action === "inspect-fail"
        ? inspect({ ...w, items, passed: f.action === "inspect-pass" })
        : f.action === "disposition"
          ? setDisposition({ ...w, items, disposition: f.disposition })
          : f.action === "recall"
            ? recall({ ...w, items })
            : f.action === "transform"
              ? transform({ ...w, inputs: items, outputs: out })
              : assemble({ ...w, parent: out[0]!, children: items });
    await capture([{ document: epcisDocument([event], time), items: items.length }]);
  };
  return (
    <form onSubmit={submit} aria-label={t("wb.make.title", { n: items.length })}>
      <h3>{t("wb.make.title", { n: items.length })}</h3>
      <div class="wb-form">
        <label>
          {t("wb.make.action")}
          <select value={f.action} onChange={(e) => setF({ ...f, action: e.currentTarget.value as MakeAction })} data-testid="make-action">
            {MAKE_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {t(`wb.make.${a}`)}
              </option>
            ))}
          </select>
        </label>
        {f.action === "disposition" && (
          <label>
            {t("wb.make.disposition")}
            <select value={f.disposition} onChange={(e) => setF({ ...f, disposition: e.currentTarget.value as Disposition })}>
              {DISPOSITIONS.map((d) => (
                <option key={d} value={d}>
                  {d}
                </option>
              ))}
            </select>
          </label>
        )}
        {needsOutputs && (
          <>
            <label>
              {t(f.action === "transform" ? "wb.make.outGtin" : "wb.make.parentGtin")}
              <input value={f.gtin} onInput={(e) => setF({ ...f, gtin: e.currentTarget.value })} data-testid="make-gtin" />
            </label>
            <label>
              {t(f.action === "transform" ? "wb.make.outSerials" : "wb.make.parentSerial")}
              <input value={f.serials} onInput={(e) => setF({ ...f, serials: e.currentTarget.value })} data-testid="make-serials" />
            </label>
          </>
        )}
        <label>
          {t("wb.make.site")}
          <input value={f.site} onInput={(e) => setF({ ...f, site: e.currentTarget.value })} data-testid="make-site" />
        </label>
      </div>
      <FormFooter label={t("wb.make.send")} testId="make-send" fault={fault} progress={progress} onRefresh={onDone} />
    </form>
  );
}
