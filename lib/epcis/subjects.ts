/**
 * What an EPCIS event is about, as identifiers a node can index and a registry can key: the EPCs
 * in each role (epcList and childEPCs, parentID, inputs, outputs), the classes of quantities, and
 * the on-chain keys of the individually identified items and lots among them.
 *
 * Values are written in one spelling so that a query by EPC URI finds an event captured with a
 * Digital Link and the other way round: the canonical identifier of lib/identifiers/canonical.ts where the
 * value is a GS1 identifier, the value as given otherwise (private URIs are valid EPCs in EPCIS).
 */
import { batchKey, canonicalIdentifier, itemKey, parseIdentifier } from "../identifiers/canonical.ts";
import { toDigitalLink } from "../identifiers/digital-link.ts";
import { IdentifierError, identifierType, isBatchType, isItemType } from "../identifiers/gs1-keys.ts";
import type { EpcisEvent } from "./events.ts";

/** Roles an EPC plays in an event, as the GS1 query parameters name them. */
export type EpcRole = "epc" | "parent" | "input" | "output";
/** Roles of a quantity class (MATCH_epcClass covers "class"; MATCH_anyEPCClass all three). */
export type ClassRole = "class" | "inputClass" | "outputClass";

export interface EventSubjects {
  /** Canonical values per EPC role (deduplicated). */
  readonly epcs: Readonly<Record<EpcRole, readonly string[]>>;
  /**
   * Per EPC role, the classes of the individually identified items (an SGTIN's GTIN): what EPC
   * patterns (urn:epc:idpat:sgtin:CP.IR.*) match.
   */
  readonly epcClasses: Readonly<Record<EpcRole, readonly string[]>>;
  readonly classes: Readonly<Record<ClassRole, readonly string[]>>;
  /** On-chain keys of the individually identified items the event names, in first-seen order. */
  readonly itemKeys: readonly string[];
  /** On-chain keys of the lots (LGTIN) named as quantity classes. */
  readonly batchKeys: readonly string[];
}

/** The canonical spelling of an EPC or class for indexing and matching; the value itself when it is not a GS1 identifier. */
export function canonicalEpcValue(value: string): string {
  try {
    return canonicalIdentifier(value);
  } catch (e) {
    if (e instanceof IdentifierError) return value.trim();
    throw e;
  }
}

/**
 * The class an EPC pattern or an individually identified item belongs to (its GS1 key without
 * serial: an SGTIN's GTIN, a GRAI's asset type), canonical; undefined for anything else.
 */
export function epcClassOf(value: string): string | undefined {
  try {
    const id = parseIdentifier(value);
    if (id.qualifiers.length > 0 && id.primary.ai === "01") return toDigitalLink({ primary: id.primary, qualifiers: [] });
    if (id.primary.ai === "8003" && id.primary.value.length > 14)
      return toDigitalLink({ primary: { ai: "8003", value: id.primary.value.slice(0, 14) }, qualifiers: [] });
    return undefined;
  } catch (e) {
    if (e instanceof IdentifierError) return undefined;
    throw e;
  }
}

/** True for an EPC pattern URI (urn:epc:idpat:...): it matches every item of one class. */
export const isEpcPattern = (value: string): boolean => value.startsWith("urn:epc:idpat:");

function keyOf(value: string, kind: "item" | "batch"): string | undefined {
  try {
    const id = parseIdentifier(value);
    const t = identifierType(id);
    if (kind === "item" ? !isItemType(t) : !isBatchType(t)) return undefined;
    return kind === "item" ? itemKey(id) : batchKey(id);
  } catch (e) {
    if (e instanceof IdentifierError) return undefined;
    throw e;
  }
}

const uniq = (xs: Iterable<string>): string[] => [...new Set(xs)];

/** The subjects of one event. */
export function subjectsOf(event: EpcisEvent): EventSubjects {
  const epcLists: Record<EpcRole, string[]> = { epc: [], parent: [], input: [], output: [] };
  const classLists: Record<ClassRole, string[]> = { class: [], inputClass: [], outputClass: [] };
  switch (event.type) {
    case "ObjectEvent":
      epcLists.epc = [...event.epcList];
      classLists.class = event.quantityList.map((q) => q.epcClass);
      break;
    case "TransactionEvent":
      epcLists.epc = [...event.epcList];
      if (event.parentID !== undefined) epcLists.parent = [event.parentID];
      classLists.class = event.quantityList.map((q) => q.epcClass);
      break;
    case "AggregationEvent":
    case "AssociationEvent":
      epcLists.epc = [...event.childEPCs];
      if (event.parentID !== undefined) epcLists.parent = [event.parentID];
      classLists.class = event.childQuantityList.map((q) => q.epcClass);
      break;
    case "TransformationEvent":
      epcLists.input = [...event.inputEPCList];
      epcLists.output = [...event.outputEPCList];
      classLists.inputClass = event.inputQuantityList.map((q) => q.epcClass);
      classLists.outputClass = event.outputQuantityList.map((q) => q.epcClass);
      break;
  }
  const roles: EpcRole[] = ["epc", "parent", "input", "output"];
  const epcs = Object.fromEntries(roles.map((r) => [r, uniq(epcLists[r].map(canonicalEpcValue))])) as Record<EpcRole, string[]>;
  const epcClasses = Object.fromEntries(
    roles.map((r) => [r, uniq(epcLists[r].map(epcClassOf).filter((c): c is string => c !== undefined))]),
  ) as Record<EpcRole, string[]>;
  const classes = Object.fromEntries(
    (Object.keys(classLists) as ClassRole[]).map((r) => [r, uniq(classLists[r].map(canonicalEpcValue))]),
  ) as Record<ClassRole, string[]>;
  const allEpcs = [...epcLists.parent, ...epcLists.epc, ...epcLists.input, ...epcLists.output];
  const allClasses = [...classLists.class, ...classLists.inputClass, ...classLists.outputClass];
  return {
    epcs,
    epcClasses,
    classes,
    itemKeys: uniq(allEpcs.map((v) => keyOf(v, "item")).filter((k): k is string => k !== undefined)),
    batchKeys: uniq(allClasses.map((v) => keyOf(v, "batch")).filter((k): k is string => k !== undefined)),
  };
}
