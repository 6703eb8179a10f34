/**
 * EPCIS 2.0 documents from plain actions: commission serials (optionally of one lot), ship,
 * receive all or some, cancel a
 * shipment (CBV void_shipping), transform, assemble, inspect, set a disposition, recall; and the
 * same moves for a lot by quantity (no serials: a quantityList of one LGTIN, whole quantities in
 * one UN/ECE Rec 20 unit). The demo scenario,
 * the member CLI's spreadsheet import and the explorer's workbench all build their documents
 * here and send them to the gateway's POST /capture, the one write path for events.
 *
 * Every builder is a pure function of its arguments (times included), so a step retried after a
 * crash sends the same bytes and so the same event hashes: the gateway answers the earlier job.
 * Places and parties are GLNs written as GS1 Digital Links (414 for a place, 417 for a party),
 * items as Digital Links (01 + 21 for a serial, 01 + 10 for a lot).
 */
import { gs1CheckDigit } from "../identifiers/gs1-keys.ts";
import { encodeAiValue } from "../identifiers/digital-link.ts";
import { TRACEMESH_EPCIS_NS } from "./readings.ts";

export const EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld";

export type EpcisEventJson = Record<string, unknown>;

/** A GS1 company prefix and a location reference within it: one site of an organisation. */
export interface Site {
  companyPrefix: string;
  /** Location reference within the prefix (13 digits minus the prefix and the check digit). */
  location: string;
}

const withCheckDigit = (body: string) => body + String(gs1CheckDigit(body));

/** GTIN-14 for an item reference under the site's prefix (indicator digit 0). */
export const gtin = (site: Site, itemRef: string) => withCheckDigit(`0${site.companyPrefix}${itemRef}`);
/** GLN of the site (13 digits). */
export const gln = (site: Site) => withCheckDigit(`${site.companyPrefix}${site.location}`);

export const sgtin = (gtin14: string, serial: string) => `https://id.gs1.org/01/${gtin14}/21/${encodeAiValue(serial)}`;
export const lgtin = (gtin14: string, lot: string) => `https://id.gs1.org/01/${gtin14}/10/${encodeAiValue(lot)}`;
/** A party (organisation) by its GLN: source and destination owning_party. */
export const party = (glnDigits: string) => `https://id.gs1.org/417/${glnDigits}`;
/** A place by its GLN: readPoint and bizLocation. */
export const place = (glnDigits: string) => `https://id.gs1.org/414/${glnDigits}`;

/** An EPCIS 2.0 document around the given events ("tm:" names Tracemesh's extensions). */
export function epcisDocument(events: EpcisEventJson[], creationDate: string): Record<string, unknown> {
  return {
    "@context": [EPCIS_CONTEXT, { tm: TRACEMESH_EPCIS_NS }],
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate,
    epcisBody: { eventList: events },
  };
}

/** When and where an action happens: ISO time and the GLN of the site. */
export interface At {
  time: string;
  /** GLN (13 digits) of the place: readPoint and bizLocation. */
  at: string;
}

const common = (w: At, bizStep: string) => ({
  eventTime: w.time,
  eventTimeZoneOffset: "+00:00",
  bizStep,
  readPoint: { id: place(w.at) },
  bizLocation: { id: place(w.at) },
});

/**
 * Items come into existence. With `lot` (the lot number, AI 10), they are one batch: the items
 * must share a GTIN. `productionDate` (YYYY-MM-DD) goes into the ILMD beside the lot.
 */
export function commission(w: At & { items: string[]; lot?: string; productionDate?: string }): EpcisEventJson {
  const ilmd = {
    ...(w.lot !== undefined ? { "cbvmda:lotNumber": w.lot } : {}),
    ...(w.productionDate !== undefined ? { "cbvmda:productionDate": w.productionDate } : {}),
  };
  return {
    type: "ObjectEvent",
    ...common(w, "commissioning"),
    action: "ADD",
    epcList: w.items,
    disposition: "active",
    ...(Object.keys(ilmd).length > 0 ? { ilmd } : {}),
  };
}

/**
 * Items leave for another member (`to`: the GLN of its party and of its receiving place). With
 * `despatchAdvice`, the dispatch document's number rides along as a CBV desadv business transaction.
 */
export function ship(w: At & { to: string; items: string[]; from?: string; despatchAdvice?: string }): EpcisEventJson {
  return {
    type: "ObjectEvent",
    ...common(w, "shipping"),
    action: "OBSERVE",
    epcList: w.items,
    disposition: "in_transit",
    ...(w.despatchAdvice !== undefined ? { bizTransactionList: [{ type: "desadv", bizTransaction: `urn:tracemesh:desadv:${encodeURIComponent(w.despatchAdvice)}` }] } : {}),
    sourceList: [{ type: "owning_party", source: party(w.from ?? w.at) }],
    destinationList: [
      { type: "owning_party", destination: party(w.to) },
      { type: "location", destination: place(w.to) },
    ],
  };
}

/**
 * Items shipped by `from` arrive at `at`. A partial receipt lists only the items that came; the
 * ones that did not are named in `missing` with the receiver's note, as a Tracemesh extension
 * (tm:discrepancy), so the shipment's record says what was short and why.
 */
export function receive(w: At & { from?: string; items: string[]; missing?: string[]; note?: string }): EpcisEventJson {
  const discrepancy =
    (w.missing?.length ?? 0) > 0 || w.note !== undefined
      ? { "tm:discrepancy": { ...(w.missing?.length ? { "tm:missing": w.missing } : {}), ...(w.note !== undefined ? { "tm:note": w.note } : {}) } }
      : {};
  return {
    type: "ObjectEvent",
    ...common(w, "receiving"),
    action: "OBSERVE",
    epcList: w.items,
    disposition: "in_progress",
    // The sender's GLN when the receiver knows it (a dispatch document); receiving from the chain's list knows the organisation only.
    ...(w.from !== undefined ? { sourceList: [{ type: "owning_party", source: party(w.from) }] } : {}),
    destinationList: [{ type: "owning_party", destination: party(w.at) }],
    ...discrepancy,
  };
}

/** The sender withdraws a shipment not yet received: the items are back in its hands. */
export function cancelShipment(w: At & { items: string[] }): EpcisEventJson {
  return {
    type: "ObjectEvent",
    ...common(w, "void_shipping"),
    action: "OBSERVE",
    epcList: w.items,
  };
}

/** Inputs are consumed to make outputs (casting, machining...): the genealogy's links. */
export function transform(w: At & { bizStep?: string; inputs: string[]; outputs: string[] }): EpcisEventJson {
  return {
    type: "TransformationEvent",
    ...common(w, w.bizStep ?? "creating_class_instance"),
    inputEPCList: w.inputs,
    outputEPCList: w.outputs,
    disposition: "active",
  };
}

/** Components are built into a product. */
export function assemble(w: At & { parent: string; children: string[] }): EpcisEventJson {
  return {
    type: "AggregationEvent",
    ...common(w, "assembling"),
    action: "ADD",
    parentID: w.parent,
    childEPCs: w.children,
    disposition: "active",
  };
}

/** An inspection and its outcome (conformant or non_conformant). */
export function inspect(w: At & { items: string[]; passed: boolean }): EpcisEventJson {
  return {
    type: "ObjectEvent",
    ...common(w, "inspecting"),
    action: "OBSERVE",
    epcList: w.items,
    disposition: w.passed ? "conformant" : "non_conformant",
  };
}

/** CBV 2.0 dispositions a workbench user picks from. */
export const DISPOSITIONS = ["active", "conformant", "non_conformant", "damaged", "destroyed", "expired", "needs_replacement", "sellable_accessible", "sellable_not_accessible", "stolen", "unavailable"] as const;
export type Disposition = (typeof DISPOSITIONS)[number];

/** The items' disposition changes (a CBV disposition, e.g. damaged), at a holding step. */
export function setDisposition(w: At & { items: string[]; disposition: Disposition }): EpcisEventJson {
  return {
    type: "ObjectEvent",
    ...common(w, "holding"),
    action: "OBSERVE",
    epcList: w.items,
    disposition: w.disposition,
  };
}

/**
 * A recall: of items, or with `lot` (an LGTIN Digital Link) of a whole lot, whose recall scope
 * reaches everything made from it. CBV 2.0 has no recalling step; the items are put on hold with
 * the disposition "recalled".
 */
export function recall(w: At & ({ items: string[] } | { lot: string })): EpcisEventJson {
  return {
    type: "ObjectEvent",
    ...common(w, "holding"),
    action: "OBSERVE",
    ...("lot" in w ? { epcList: [], quantityList: [{ epcClass: w.lot }] } : { epcList: w.items }),
    disposition: "recalled",
  };
}

/** A quantity of one lot: its LGTIN Digital Link, a whole positive quantity, and its unit ("" or absent: a count). */
export interface LotAmount {
  lot: string;
  quantity: number;
  unit?: string;
}

/** The event's quantityList; a fraction, zero or a malformed unit is refused here, named. */
function quantityList(a: LotAmount): { quantityList: Record<string, unknown>[] } {
  if (!Number.isSafeInteger(a.quantity) || a.quantity <= 0) throw new RangeError(`quantity of ${a.lot} must be a whole number above 0, got ${a.quantity}`);
  const unit = a.unit ?? "";
  if (!/^[0-9A-Z]{0,3}$/.test(unit)) throw new RangeError(`unit ${JSON.stringify(unit)} is not a UN/ECE Rec 20 code (e.g. KGM, MTR, LTR)`);
  return { quantityList: [{ epcClass: a.lot, quantity: a.quantity, ...(unit !== "" ? { uom: unit } : {}) }] };
}

/** A quantity of a lot comes into existence in its maker's hands; `productionDate` (YYYY-MM-DD) goes into the ILMD. */
export function commissionLot(w: At & LotAmount & { productionDate?: string }): EpcisEventJson {
  return {
    type: "ObjectEvent",
    ...common(w, "commissioning"),
    action: "ADD",
    epcList: [],
    ...quantityList(w),
    disposition: "active",
    ...(w.productionDate !== undefined ? { ilmd: { "cbvmda:productionDate": w.productionDate } } : {}),
  };
}

/** A quantity of a lot leaves for another member (`to`: the GLN of its party and receiving place), as `ship` does for items. */
export function shipLot(w: At & LotAmount & { to: string; from?: string; despatchAdvice?: string }): EpcisEventJson {
  return { ...ship({ ...w, items: [] }), ...quantityList(w) };
}

/**
 * A quantity of a lot shipped by `from` (its party GLN: the chain keeps lot quantities per sender)
 * arrives at `at`. Less than `shipped` is a short receipt: the rest stays in transit until the
 * sender withdraws it, and the event notes the shortfall (tm:discrepancy) with the receiver's note.
 */
export function receiveLot(w: At & LotAmount & { from: string; shipped?: number; note?: string }): EpcisEventJson {
  const short = w.shipped !== undefined && w.shipped > w.quantity ? w.shipped - w.quantity : 0;
  const event = receive({ ...w, items: [], ...(w.note !== undefined ? { note: w.note } : {}) });
  if (short > 0) event["tm:discrepancy"] = { ...(event["tm:discrepancy"] as object | undefined), "tm:shortQuantity": short };
  return { ...event, ...quantityList(w) };
}

/** The sender withdraws a quantity of a lot it shipped to `to` and that was not received. */
export function cancelLotShipment(w: At & LotAmount & { to: string }): EpcisEventJson {
  return { ...cancelShipment({ ...w, items: [] }), ...quantityList(w), destinationList: [{ type: "owning_party", destination: party(w.to) }] };
}
