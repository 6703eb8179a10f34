/**
 * Typed access to the events of an EPCIS 2.0 document, with CBV values in one spelling (the CBV
 * Web URI: "shipping", "cbv:BizStep-shipping" and "urn:epcglobal:cbv:bizstep:shipping" all read
 * as https://ref.gs1.org/cbv/BizStep-shipping), and the mapping of an event onto a Provenance
 * record (contracts/Provenance.sol).
 *
 * One event makes at most one record: Provenance accepts an event hash once, so an event that is
 * both, say, an inspection and a disposition change is recorded as the one that matters most for
 * the chain's state (order below). Events that change nothing Provenance tracks are reported as
 * not recorded, with the reason.
 *
 * Mapping, first match wins:
 *  1. errorDeclaration with correctiveEventIDs           -> correct
 *  2. TransformationEvent                                 -> transform (inputs -> outputs)
 *  3. AggregationEvent ADD / DELETE                       -> assemble / disassemble
 *     AssociationEvent                                    -> not recorded
 *  4. ObjectEvent ADD with bizStep commissioning          -> commission (a batch when the ILMD
 *                                                            names a lot and the items share a GTIN)
 *  then, for the items of an ObjectEvent, TransactionEvent or AggregationEvent OBSERVE (its parent):
 *  5. bizStep shipping or departing                       -> ship
 *  6. bizStep receiving or arriving                       -> receive
 *     bizStep void_shipping                               -> cancelShipment (the sender withdraws it)
 *  7. bizStep recalling, or disposition recalled          -> recall (items) / recallBatch (one LGTIN)
 *  8. bizStep inspecting                                  -> inspect (passed unless the disposition
 *                                                            says otherwise: non_conformant, damaged...)
 *  9. any other event carrying a disposition              -> setDisposition
 *
 * Lots by quantity (an ObjectEvent with no epcList and exactly one quantityList element naming
 * an LGTIN, a whole positive quantity and an optional UN/ECE Rec 20 uom):
 *  commissioning ADD -> commissionLot, shipping/departing -> shipLot (to the destination party),
 *  receiving/arriving -> receiveLot (from the source party), void_shipping -> cancelLotShipment.
 */
import { keccak256, toUtf8Bytes } from "ethers";
import { canonicalBatchIdentifier, canonicalIdentifier, canonicalItemIdentifier, keyOfCanonical, parseIdentifier } from "../identifiers/canonical.ts";
import { toDigitalLink } from "../identifiers/digital-link.ts";
import { IdentifierError, type Gs1Identifier, identifierType } from "../identifiers/gs1-keys.ts";
import { cbvTerm, cbvUri } from "./cbv.ts";
import { type EventHashOptions, digestOfHashId, documentEventList, eventHash } from "./event-hash.ts";
import { TracemeshError } from "../errors.ts";

export const EVENT_TYPES = [
  "ObjectEvent",
  "AggregationEvent",
  "TransactionEvent",
  "TransformationEvent",
  "AssociationEvent",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export type Action = "ADD" | "OBSERVE" | "DELETE";

export class EpcisEventError extends TracemeshError {
  constructor(message: string) {
    super("invalid-epcis", message);
  }
}

export interface QuantityElement {
  readonly epcClass: string;
  readonly quantity?: number;
  readonly uom?: string;
}

/** A bizTransaction, source or destination; `type` as a CBV Web URI when standard. */
export interface TypedReference {
  readonly type?: string;
  readonly id: string;
}

export interface ErrorDeclaration {
  readonly declarationTime: string;
  /** CBV Web URI of the reason (e.g. https://ref.gs1.org/cbv/ER-incorrect_data), when given. */
  readonly reason?: string;
  readonly correctiveEventIDs: readonly string[];
}

interface EventCommon {
  /** Position in the document's event list. */
  readonly index: number;
  /** The event as received (for hashing and for fields not modelled here). */
  readonly raw: Readonly<Record<string, unknown>>;
  readonly eventTime: string;
  readonly eventTimeZoneOffset: string;
  readonly recordTime?: string;
  readonly eventID?: string;
  readonly certificationInfo: readonly string[];
  /** CBV Web URI (standard steps) or the URI as given. */
  readonly bizStep?: string;
  readonly disposition?: string;
  readonly persistentDisposition: { readonly set: readonly string[]; readonly unset: readonly string[] };
  readonly readPoint?: string;
  readonly bizLocation?: string;
  readonly bizTransactionList: readonly TypedReference[];
  readonly sourceList: readonly TypedReference[];
  readonly destinationList: readonly TypedReference[];
  readonly sensorElementList: readonly Readonly<Record<string, unknown>>[];
  readonly errorDeclaration?: ErrorDeclaration;
}

export interface ObjectEvent extends EventCommon {
  readonly type: "ObjectEvent";
  readonly action: Action;
  readonly epcList: readonly string[];
  readonly quantityList: readonly QuantityElement[];
  readonly ilmd?: Readonly<Record<string, unknown>>;
}

export interface AggregationEvent extends EventCommon {
  readonly type: "AggregationEvent";
  readonly action: Action;
  readonly parentID?: string;
  readonly childEPCs: readonly string[];
  readonly childQuantityList: readonly QuantityElement[];
}

export interface TransactionEvent extends EventCommon {
  readonly type: "TransactionEvent";
  readonly action: Action;
  readonly parentID?: string;
  readonly epcList: readonly string[];
  readonly quantityList: readonly QuantityElement[];
}

export interface TransformationEvent extends EventCommon {
  readonly type: "TransformationEvent";
  readonly transformationID?: string;
  readonly inputEPCList: readonly string[];
  readonly inputQuantityList: readonly QuantityElement[];
  readonly outputEPCList: readonly string[];
  readonly outputQuantityList: readonly QuantityElement[];
  readonly ilmd?: Readonly<Record<string, unknown>>;
}

export interface AssociationEvent extends EventCommon {
  readonly type: "AssociationEvent";
  readonly action: Action;
  readonly parentID?: string;
  readonly childEPCs: readonly string[];
  readonly childQuantityList: readonly QuantityElement[];
}

export type EpcisEvent = ObjectEvent | AggregationEvent | TransactionEvent | TransformationEvent | AssociationEvent;

// --------------------------------------------------------------------------- reading events

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

function str(e: Record<string, unknown>, k: string): string | undefined {
  const v = e[k];
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

function strings(e: Record<string, unknown>, k: string): string[] {
  const v = e[k];
  if (typeof v === "string") return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function quantities(e: Record<string, unknown>, k: string): QuantityElement[] {
  const v = e[k];
  if (!Array.isArray(v)) return [];
  return v.filter(isObject).flatMap((q) => {
    if (typeof q["epcClass"] !== "string") return [];
    const out: { epcClass: string; quantity?: number; uom?: string } = { epcClass: q["epcClass"] };
    if (typeof q["quantity"] === "number") out.quantity = q["quantity"];
    if (typeof q["uom"] === "string") out.uom = q["uom"];
    return [out];
  });
}

function references(e: Record<string, unknown>, list: string, field: string, vocab: "bizTransactionType" | "sourceDestType"): TypedReference[] {
  const v = e[list];
  if (!Array.isArray(v)) return [];
  return v.filter(isObject).flatMap((r) => {
    const id = r[field];
    if (typeof id !== "string") return [];
    const t = r["type"];
    return [typeof t === "string" ? { type: cbvUri(vocab, t), id } : { id }];
  });
}

function place(e: Record<string, unknown>, k: string): string | undefined {
  const v = e[k];
  if (typeof v === "string") return v;
  return isObject(v) && typeof v["id"] === "string" ? v["id"] : undefined;
}

function action(e: Record<string, unknown>, type: string): Action {
  const a = e["action"];
  if (a === "ADD" || a === "OBSERVE" || a === "DELETE") return a;
  throw new EpcisEventError(`${type} needs "action" ADD, OBSERVE or DELETE (got ${JSON.stringify(a)})`);
}

/** Reads one event; refuses anything that is not one of the five EPCIS 2.0 event types. */
export function toEpcisEvent(raw: unknown, index = 0): EpcisEvent {
  if (!isObject(raw)) throw new EpcisEventError(`event ${index} is not a JSON object`);
  const type = raw["type"];
  if (typeof type !== "string" || !(EVENT_TYPES as readonly string[]).includes(type))
    throw new EpcisEventError(`event ${index} has type ${JSON.stringify(type)}; expected one of ${EVENT_TYPES.join(", ")}`);
  const eventTime = str(raw, "eventTime");
  const eventTimeZoneOffset = str(raw, "eventTimeZoneOffset");
  if (eventTime === undefined || eventTimeZoneOffset === undefined)
    throw new EpcisEventError(`event ${index} needs "eventTime" and "eventTimeZoneOffset"`);
  const pd = isObject(raw["persistentDisposition"]) ? raw["persistentDisposition"] : {};
  const ed = raw["errorDeclaration"];
  const common = {
    index,
    raw,
    eventTime,
    eventTimeZoneOffset,
    ...(str(raw, "recordTime") !== undefined ? { recordTime: str(raw, "recordTime")! } : {}),
    ...(str(raw, "eventID") !== undefined ? { eventID: str(raw, "eventID")! } : {}),
    certificationInfo: strings(raw, "certificationInfo"),
    ...(str(raw, "bizStep") !== undefined ? { bizStep: cbvUri("bizStep", str(raw, "bizStep")!) } : {}),
    ...(str(raw, "disposition") !== undefined ? { disposition: cbvUri("disposition", str(raw, "disposition")!) } : {}),
    persistentDisposition: {
      set: strings(pd, "set").map((d) => cbvUri("disposition", d)),
      unset: strings(pd, "unset").map((d) => cbvUri("disposition", d)),
    },
    ...(place(raw, "readPoint") !== undefined ? { readPoint: place(raw, "readPoint")! } : {}),
    ...(place(raw, "bizLocation") !== undefined ? { bizLocation: place(raw, "bizLocation")! } : {}),
    bizTransactionList: references(raw, "bizTransactionList", "bizTransaction", "bizTransactionType"),
    sourceList: references(raw, "sourceList", "source", "sourceDestType"),
    destinationList: references(raw, "destinationList", "destination", "sourceDestType"),
    sensorElementList: Array.isArray(raw["sensorElementList"]) ? raw["sensorElementList"].filter(isObject) : [],
    ...(isObject(ed) && typeof ed["declarationTime"] === "string"
      ? {
          errorDeclaration: {
            declarationTime: ed["declarationTime"],
            ...(typeof ed["reason"] === "string" ? { reason: cbvUri("errorReason", ed["reason"]) } : {}),
            correctiveEventIDs: strings(ed, "correctiveEventIDs"),
          },
        }
      : {}),
  };
  const parentID = str(raw, "parentID");
  const parent = parentID !== undefined ? { parentID } : {};
  const ilmd = isObject(raw["ilmd"]) ? { ilmd: raw["ilmd"] } : {};
  switch (type as EventType) {
    case "ObjectEvent":
      return { ...common, type: "ObjectEvent", action: action(raw, type), epcList: strings(raw, "epcList"), quantityList: quantities(raw, "quantityList"), ...ilmd };
    case "AggregationEvent":
      return { ...common, type: "AggregationEvent", action: action(raw, type), ...parent, childEPCs: strings(raw, "childEPCs"), childQuantityList: quantities(raw, "childQuantityList") };
    case "TransactionEvent":
      return { ...common, type: "TransactionEvent", action: action(raw, type), ...parent, epcList: strings(raw, "epcList"), quantityList: quantities(raw, "quantityList") };
    case "AssociationEvent":
      return { ...common, type: "AssociationEvent", action: action(raw, type), ...parent, childEPCs: strings(raw, "childEPCs"), childQuantityList: quantities(raw, "childQuantityList") };
    case "TransformationEvent":
      return {
        ...common,
        type: "TransformationEvent",
        ...(str(raw, "transformationID") !== undefined ? { transformationID: str(raw, "transformationID")! } : {}),
        inputEPCList: strings(raw, "inputEPCList"),
        inputQuantityList: quantities(raw, "inputQuantityList"),
        outputEPCList: strings(raw, "outputEPCList"),
        outputQuantityList: quantities(raw, "outputQuantityList"),
        ...ilmd,
      };
  }
}

/** The typed events of an EPCISDocument or EPCISQueryDocument, in document order. */
export function eventsOf(doc: unknown): EpcisEvent[] {
  return documentEventList(doc).map((e, i) => toEpcisEvent(e, i));
}

/** The standard bizStep term of an event ("shipping"), undefined for none or a private step. */
export function bizStepOf(event: EpcisEvent): string | undefined {
  return event.bizStep === undefined ? undefined : cbvTerm("bizStep", event.bizStep);
}

/** The standard disposition term of an event ("in_transit"), undefined for none or a private one. */
export function dispositionOf(event: EpcisEvent): string | undefined {
  return event.disposition === undefined ? undefined : cbvTerm("disposition", event.disposition);
}

// ------------------------------------------------------------------------ chain mapping

/** keccak256 of a disposition's CBV Web URI: what Provenance stores as a disposition. */
export function dispositionKey(disposition: string): string {
  return keccak256(toUtf8Bytes(cbvUri("disposition", disposition)));
}

/** Items (or a batch) of a record: canonical identifiers and their keys, in the same order. */
export interface KeyedIdentifiers {
  readonly identifiers: readonly string[];
  readonly keys: readonly string[];
}

/** Parties and place a shipment goes to, as canonical identifiers (a PGLN/GLN Digital Link). */
export interface Consignee {
  readonly owningParty?: string;
  readonly possessingParty?: string;
  readonly location?: string;
}

/** A quantity of one lot (LGTIN) as Provenance keeps it: a whole number in the lot's unit. */
export interface LotQuantity {
  readonly batch: { readonly identifier: string; readonly key: string };
  readonly quantity: bigint;
  /** UN/ECE Rec 20 code, "" for a count (no uom). */
  readonly unit: string;
}

export type ProvenanceAction =
  | ({ readonly op: "commissionLot"; readonly disposition: string; readonly dispositionKey: string } & LotQuantity)
  | ({ readonly op: "shipLot"; readonly consignee: Consignee } & LotQuantity)
  /** `sender`: the source parties the quantity comes from. */
  | ({ readonly op: "receiveLot"; readonly sender: Consignee } & LotQuantity)
  | ({ readonly op: "cancelLotShipment"; readonly consignee: Consignee } & LotQuantity)
  | ({ readonly op: "commission"; readonly batch?: { readonly identifier: string; readonly key: string }; readonly disposition: string; readonly dispositionKey: string } & KeyedIdentifiers)
  | ({ readonly op: "ship"; readonly consignee: Consignee; readonly transferOwnership: boolean } & KeyedIdentifiers)
  | ({ readonly op: "receive" } & KeyedIdentifiers)
  | ({ readonly op: "cancelShipment" } & KeyedIdentifiers)
  | {
      readonly op: "transform";
      readonly inputs: KeyedIdentifiers;
      readonly outputs: KeyedIdentifiers;
      readonly outputBatch?: { readonly identifier: string; readonly key: string };
      readonly disposition: string;
      readonly dispositionKey: string;
    }
  | { readonly op: "assemble"; readonly parent: { readonly identifier: string; readonly key: string }; readonly children: KeyedIdentifiers }
  | {
      readonly op: "disassemble";
      readonly parent: { readonly identifier: string; readonly key: string };
      readonly children: KeyedIdentifiers;
      /** DELETE without childEPCs means every child: the caller lists them (Provenance needs keys). */
      readonly allChildren: boolean;
    }
  | ({ readonly op: "inspect"; readonly passed: boolean } & KeyedIdentifiers)
  | ({ readonly op: "setDisposition"; readonly disposition: string; readonly dispositionKey: string } & KeyedIdentifiers)
  | ({ readonly op: "recall" } & KeyedIdentifiers)
  | { readonly op: "recallBatch"; readonly batch: { readonly identifier: string; readonly key: string } }
  | {
      readonly op: "correct";
      /** The declared-erroneous event's hash; the record it made is `recordOfEvent(this)` on chain. */
      readonly correctsEventHash: string;
      readonly correctiveEventIDs: readonly string[];
      /** bytes32 of the corrective IDs that are CBV event hash IDs (others need a lookup by eventID). */
      readonly correctiveEventHashes: readonly string[];
    };

export type ProvenanceMapping =
  | {
      readonly recorded: true;
      /** The event's CBV 2.0 hash as bytes32: the record's `eventHash`. */
      readonly eventHash: string;
      readonly action: ProvenanceAction;
    }
  | { readonly recorded: false; readonly eventHash: string; readonly reason: string };

export const ACTIVE = "https://ref.gs1.org/cbv/Disp-active";

/** Dispositions that mean an inspection found the items wanting. */
const FAILED = new Set([
  "non_conformant",
  "damaged",
  "needs_replacement",
  "destroyed",
  "expired",
  "recalled",
  "stolen",
  "mismatch_instance",
  "mismatch_class",
  "mismatch_quantity",
  "no_pedigree_match",
]);

class NotRecorded extends Error {}

function keyed(values: readonly string[], role: string): KeyedIdentifiers {
  const identifiers: string[] = [];
  for (const v of values) {
    let c: string;
    try {
      c = canonicalItemIdentifier(v);
    } catch (e) {
      if (e instanceof IdentifierError) throw new NotRecorded(`${role} ${JSON.stringify(v)} cannot be keyed: ${e.message}`);
      throw e;
    }
    if (!identifiers.includes(c)) identifiers.push(c); // the same item written twice is one item
  }
  return { identifiers, keys: identifiers.map(keyOfCanonical) };
}

function keyedOne(value: string, role: string): { identifier: string; key: string } {
  const k = keyed([value], role);
  return { identifier: k.identifiers[0]!, key: k.keys[0]! };
}

function partyOrPlace(id: string): string {
  try {
    return canonicalIdentifier(id);
  } catch {
    return id;
  }
}

/** A lot from the ILMD (cbvmda:lotNumber or gs1:lotNumber) as the batch of items sharing one GTIN. */
function ilmdBatch(event: ObjectEvent | TransformationEvent, items: KeyedIdentifiers, context: unknown): { identifier: string; key: string } | undefined {
  if (event.ilmd === undefined || items.identifiers.length === 0) return undefined;
  const prefixes = new Map<string, string>([["cbvmda", "urn:epcglobal:cbv:mda:"], ["gs1", "https://gs1.org/voc/"]]);
  const visit = (c: unknown): void => {
    if (Array.isArray(c)) c.forEach(visit);
    else if (isObject(c)) for (const [k, v] of Object.entries(c)) if (typeof v === "string" && !k.startsWith("@")) prefixes.set(k, v);
  };
  visit(context);
  let lot: string | undefined;
  for (const [k, v] of Object.entries(event.ilmd)) {
    const i = k.indexOf(":");
    const full = i > 0 && prefixes.has(k.slice(0, i)) ? prefixes.get(k.slice(0, i))! + k.slice(i + 1) : k;
    if (
      typeof v === "string" &&
      (full === "urn:epcglobal:cbv:mda:lotNumber" || full === "https://gs1.org/voc/lotNumber" || full === "https://ref.gs1.org/voc/lotNumber")
    )
      lot = v;
  }
  if (lot === undefined) return undefined;
  const gtins = new Set<string>();
  for (const c of items.identifiers) {
    const id: Gs1Identifier = parseIdentifier(c);
    if (identifierType(id) !== "sgtin") return undefined;
    gtins.add(id.primary.value);
  }
  if (gtins.size !== 1) return undefined;
  try {
    // Through the string form, so the lot is checked like any identifier read from outside.
    const identifier = canonicalBatchIdentifier(toDigitalLink({ primary: { ai: "01", value: [...gtins][0]! }, qualifiers: [{ ai: "10", value: lot }] }));
    return { identifier, key: keyOfCanonical(identifier) };
  } catch (e) {
    if (e instanceof IdentifierError) throw new NotRecorded(`ILMD lot number ${JSON.stringify(lot)} is not a valid GS1 lot: ${e.message}`);
    throw e;
  }
}

function hashIdBytes(id: string): string | undefined {
  try {
    return digestOfHashId(id);
  } catch {
    return undefined;
  }
}

/** The one lot quantity of an event (see the header), or why it names none Provenance can keep. */
function lotQuantity(quantities: readonly QuantityElement[], what: string): LotQuantity {
  if (quantities.length !== 1)
    throw new NotRecorded(`${what} names ${quantities.length} quantities; Provenance records one lot quantity per event`);
  const q = quantities[0]!;
  let identifier: string;
  try {
    identifier = canonicalBatchIdentifier(q.epcClass);
  } catch (e) {
    if (e instanceof IdentifierError) throw new NotRecorded(`${what}: quantity class ${JSON.stringify(q.epcClass)} is not a lot (LGTIN): ${e.message}`);
    throw e;
  }
  if (q.quantity === undefined) throw new NotRecorded(`${what}: the quantity of ${identifier} is missing`);
  if (!Number.isSafeInteger(q.quantity) || q.quantity <= 0)
    throw new NotRecorded(
      `${what}: quantity ${q.quantity} of ${identifier} is not a whole positive number; Provenance keeps whole quantities (state fractions in a smaller unit, e.g. GRM for KGM)`,
    );
  const unit = q.uom ?? "";
  if (!/^[0-9A-Z]{0,3}$/.test(unit)) throw new NotRecorded(`${what}: uom ${JSON.stringify(unit)} is not a UN/ECE Rec 20 code (up to 3 capitals or digits)`);
  return { batch: { identifier, key: keyOfCanonical(identifier) }, quantity: BigInt(q.quantity), unit };
}

/** The member parties of a source or destination list, as canonical identifiers. */
function partiesOf(list: readonly TypedReference[]): Consignee {
  const byType = (t: string) => list.find((d) => d.type !== undefined && cbvTerm("sourceDestType", d.type) === t)?.id;
  const owning = byType("owning_party");
  const possessing = byType("possessing_party");
  const location = byType("location");
  return {
    ...(owning !== undefined ? { owningParty: partyOrPlace(owning) } : {}),
    ...(possessing !== undefined ? { possessingParty: partyOrPlace(possessing) } : {}),
    ...(location !== undefined ? { location: partyOrPlace(location) } : {}),
  };
}

/** Shipping, receiving or voiding a quantity of one lot (an ObjectEvent without epcList). */
function lotCustody(event: ObjectEvent): ProvenanceAction | undefined {
  if (event.epcList.length > 0 || event.quantityList.length === 0) return undefined;
  const step = bizStepOf(event);
  if (step === "shipping" || step === "departing") return { op: "shipLot", ...lotQuantity(event.quantityList, `${step} event`), consignee: partiesOf(event.destinationList) };
  if (step === "receiving" || step === "arriving") return { op: "receiveLot", ...lotQuantity(event.quantityList, `${step} event`), sender: partiesOf(event.sourceList) };
  if (step === "void_shipping") return { op: "cancelLotShipment", ...lotQuantity(event.quantityList, "void_shipping event"), consignee: partiesOf(event.destinationList) };
  return undefined;
}

function custodyOrStatus(event: EpcisEvent, values: readonly string[], batches: readonly string[]): ProvenanceAction {
  const step = bizStepOf(event);
  const disp = dispositionOf(event);
  const recalled =
    step === "recalling" || disp === "recalled" || event.persistentDisposition.set.some((d) => cbvTerm("disposition", d) === "recalled");
  const none = (what: string) =>
    new NotRecorded(
      `${what}: the event names no individually identified items${batches.length > 0 ? " (quantities of a class or lot are not tracked per item on chain)" : ""}`,
    );
  if (step === "shipping" || step === "departing") {
    if (values.length === 0) throw none(`${step} event`);
    const consignee = partiesOf(event.destinationList);
    const sourceOwner = partiesOf(event.sourceList).owningParty;
    const owning = consignee.owningParty;
    const transferOwnership = owning !== undefined && (sourceOwner === undefined || sourceOwner !== owning);
    return { op: "ship", ...keyed(values, "item"), consignee, transferOwnership };
  }
  if (step === "receiving" || step === "arriving") {
    if (values.length === 0) throw none(`${step} event`);
    return { op: "receive", ...keyed(values, "item") };
  }
  if (step === "void_shipping") {
    if (values.length === 0) throw none("void_shipping event");
    return { op: "cancelShipment", ...keyed(values, "item") };
  }
  if (recalled) {
    if (values.length > 0) return { op: "recall", ...keyed(values, "item") };
    const lots = [...new Set(batches.map((b) => {
      try {
        return canonicalBatchIdentifier(b);
      } catch {
        return undefined;
      }
    }))].filter((b): b is string => b !== undefined);
    if (lots.length === 1) return { op: "recallBatch", batch: { identifier: lots[0]!, key: keyOfCanonical(lots[0]!) } };
    throw new NotRecorded(
      lots.length === 0
        ? "recall event names no items and no lot (LGTIN)"
        : `recall event names ${lots.length} lots; Provenance.recallBatch takes one lot per event`,
    );
  }
  if (step === "inspecting") {
    if (values.length === 0) throw none("inspecting event");
    return { op: "inspect", ...keyed(values, "item"), passed: disp === undefined || !FAILED.has(disp) };
  }
  if (event.disposition !== undefined) {
    if (values.length === 0) throw none("disposition change");
    return { op: "setDisposition", ...keyed(values, "item"), disposition: event.disposition, dispositionKey: dispositionKey(event.disposition) };
  }
  throw new NotRecorded(
    `${event.type} with bizStep ${event.bizStep === undefined ? "(none)" : JSON.stringify(event.bizStep)} and no disposition changes nothing Provenance records`,
  );
}

function mapEvent(event: EpcisEvent, context: unknown, selfHash: string): ProvenanceAction {
  if (event.errorDeclaration !== undefined) {
    const ids = event.errorDeclaration.correctiveEventIDs;
    if (ids.length === 0)
      throw new NotRecorded("error declaration without correctiveEventIDs: Provenance.correct records a corrective event, and none is named");
    return {
      op: "correct",
      correctsEventHash: selfHash,
      correctiveEventIDs: ids,
      correctiveEventHashes: ids.map(hashIdBytes).filter((h): h is string => h !== undefined),
    };
  }
  switch (event.type) {
    case "TransformationEvent": {
      if (event.inputEPCList.length === 0 || event.outputEPCList.length === 0)
        throw new NotRecorded(
          "transformation without individually identified inputs and outputs: Provenance records genealogy between items (inputEPCList -> outputEPCList), not between quantities",
        );
      const inputs = keyed(event.inputEPCList, "input");
      const outputs = keyed(event.outputEPCList, "output");
      const outputBatch = ilmdBatch(event, outputs, context);
      const disposition = event.disposition ?? ACTIVE;
      return { op: "transform", inputs, outputs, ...(outputBatch ? { outputBatch } : {}), disposition, dispositionKey: dispositionKey(disposition) };
    }
    case "AggregationEvent": {
      if (event.action === "OBSERVE") {
        if (event.parentID === undefined) throw new NotRecorded("AggregationEvent OBSERVE without parentID names no item");
        return custodyOrStatus(event, [event.parentID], []);
      }
      if (event.parentID === undefined) throw new NotRecorded(`AggregationEvent ${event.action} without parentID`);
      const parent = keyedOne(event.parentID, "parent");
      const children = keyed(event.childEPCs, "child");
      if (event.action === "ADD") {
        if (children.keys.length === 0)
          throw new NotRecorded("AggregationEvent ADD without childEPCs: quantities cannot be assembled on chain");
        if (children.keys.includes(parent.key)) throw new NotRecorded("AggregationEvent lists the parent among its children");
        return { op: "assemble", parent, children };
      }
      return { op: "disassemble", parent, children, allChildren: children.keys.length === 0 };
    }
    case "AssociationEvent":
      throw new NotRecorded("AssociationEvent (assets, sensors, devices linked to a parent) is not part of the Provenance genealogy");
    case "ObjectEvent": {
      if (event.action === "ADD" && bizStepOf(event) === "commissioning") {
        if (event.epcList.length === 0) {
          if (event.quantityList.length === 0) throw new NotRecorded("commissioning names neither items (epcList) nor a lot quantity (quantityList)");
          const disposition = event.disposition ?? ACTIVE;
          return { op: "commissionLot", ...lotQuantity(event.quantityList, "commissioning"), disposition, dispositionKey: dispositionKey(disposition) };
        }
        const items = keyed(event.epcList, "item");
        const batch = ilmdBatch(event, items, context);
        const disposition = event.disposition ?? ACTIVE;
        return { op: "commission", ...items, ...(batch ? { batch } : {}), disposition, dispositionKey: dispositionKey(disposition) };
      }
      return lotCustody(event) ?? custodyOrStatus(event, event.epcList, event.quantityList.map((q) => q.epcClass));
    }
    case "TransactionEvent":
      return custodyOrStatus(event, [...(event.parentID !== undefined ? [event.parentID] : []), ...event.epcList], event.quantityList.map((q) => q.epcClass));
  }
}

export type ProvenanceOptions = EventHashOptions;

/**
 * How an event maps onto Provenance: the one record it makes (operation, item keys, batch,
 * disposition) with its event hash, or the reason it makes none. Pass the document's @context
 * in `options.context` so the event hash (and ILMD prefixes) read the event as its document does.
 */
export function provenanceActionsOf(event: EpcisEvent | Record<string, unknown>, options: ProvenanceOptions = {}): ProvenanceMapping {
  const typed = "raw" in event && isObject(event["raw"]) ? (event as EpcisEvent) : toEpcisEvent(event);
  const selfHash = eventHash(typed.raw, options).digest;
  try {
    return { recorded: true, eventHash: selfHash, action: mapEvent(typed, options.context, selfHash) };
  } catch (e) {
    if (e instanceof NotRecorded) return { recorded: false, eventHash: selfHash, reason: e.message };
    throw e;
  }
}
