/**
 * EPCIS master data (EPCIS 2.0 section 6.6, CBV 2.0 master data attributes): the vocabulary
 * elements an EPCISMasterDataDocument carries in `epcisBody.vocabularyList`, or an EPCISDocument
 * in `epcisHeader.epcisMasterData.vocabularyList` — names and addresses of locations (GLN / SGLN),
 * descriptions of products (GTIN, LGTIN classes) and parties (PGLN).
 *
 * Who may define them is decided elsewhere (the holder of the identifier's prefix,
 * lib/namespaces.ts `holderOfIdentifier`); this module reads and checks the shape, and writes each
 * element's identifier in its canonical form (lib/identifiers/canonical.ts) so every spelling of
 * a location names the same element.
 */
import { canonicalIdentifier } from "../identifiers/canonical.ts";
import { IdentifierError } from "../identifiers/gs1-keys.ts";
import { TracemeshError } from "../errors.ts";

/** The vocabulary types master data is kept for, by their short names (EPCIS 2.0 vtype URNs). */
export const VOCABULARY_TYPES = {
  BusinessLocation: "urn:epcglobal:epcis:vtype:BusinessLocation",
  ReadPoint: "urn:epcglobal:epcis:vtype:ReadPoint",
  EPCClass: "urn:epcglobal:epcis:vtype:EPCClass",
  Party: "urn:epcglobal:epcis:vtype:Party",
} as const;
export type VocabularyName = keyof typeof VOCABULARY_TYPES;

/** CBV 2.0 master data attribute names the explorer speaks with (the name of a thing). */
export const NAME_ATTRIBUTES = ["urn:epcglobal:cbv:mda:name", "https://gs1.org/voc/name", "https://ref.gs1.org/voc/name", "gs1:name", "cbvmda:name"];

export interface VocabularyElement {
  vocabulary: VocabularyName;
  /** Canonical GS1 Digital Link of the identifier. */
  id: string;
  /** Attribute id -> value (string, number or object), as captured. */
  attributes: Record<string, unknown>;
  /** Canonical identifiers of the element's children (e.g. the sub-locations of a site). */
  children: string[];
}

export class MasterDataError extends TracemeshError {
  constructor(message: string) {
    super("invalid-epcis", message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

function vocabularyName(type: unknown, where: string): VocabularyName {
  const name = (Object.keys(VOCABULARY_TYPES) as VocabularyName[]).find((n) => type === VOCABULARY_TYPES[n] || type === n);
  if (name === undefined) throw new MasterDataError(`${where}/type: vocabulary type ${JSON.stringify(type)} is not kept here (${Object.values(VOCABULARY_TYPES).join(", ")})`);
  return name;
}

function canonical(value: unknown, where: string): string {
  if (typeof value !== "string") throw new MasterDataError(`${where}: an identifier must be a string`);
  try {
    return canonicalIdentifier(value);
  } catch (e) {
    if (e instanceof IdentifierError) throw new MasterDataError(`${where}: ${JSON.stringify(value)} is not a GS1 identifier master data can describe here (${e.message})`);
    throw e;
  }
}

/** The vocabulary list of a document: EPCISMasterDataDocument body, or an EPCISDocument's header; [] when none. */
function vocabularyListOf(doc: Record<string, unknown>): { list: unknown; where: string } {
  if (doc["type"] === "EPCISMasterDataDocument") {
    const body = doc["epcisBody"];
    return { list: isObject(body) ? body["vocabularyList"] : undefined, where: "/epcisBody/vocabularyList" };
  }
  const header = doc["epcisHeader"];
  const md = isObject(header) ? header["epcisMasterData"] : undefined;
  return { list: isObject(md) ? md["vocabularyList"] : [], where: "/epcisHeader/epcisMasterData/vocabularyList" };
}

/** Whether a document carries master data (an EPCISMasterDataDocument, or a header with a vocabulary list). */
export function hasMasterData(doc: unknown): boolean {
  if (!isObject(doc)) return false;
  const { list } = vocabularyListOf(doc);
  return doc["type"] === "EPCISMasterDataDocument" || (Array.isArray(list) && list.length > 0);
}

/** The vocabulary elements of a document, checked; errors name the JSON Pointer at fault. */
export function masterDataOf(doc: unknown, limits: { maxElements?: number } = {}): VocabularyElement[] {
  if (!isObject(doc)) throw new MasterDataError("master data comes in a JSON object (EPCISMasterDataDocument or EPCISDocument)");
  const { list, where } = vocabularyListOf(doc);
  if (!Array.isArray(list)) throw new MasterDataError(`${where} must be a list`);
  const out: VocabularyElement[] = [];
  const max = limits.maxElements ?? 10_000;
  list.forEach((vocabulary, v) => {
    const at = `${where}/${v}`;
    if (!isObject(vocabulary)) throw new MasterDataError(`${at} must be an object`);
    const name = vocabularyName(vocabulary["type"], at);
    const elements = vocabulary["vocabularyElementList"] ?? [];
    if (!Array.isArray(elements)) throw new MasterDataError(`${at}/vocabularyElementList must be a list`);
    elements.forEach((element, e) => {
      const el = `${at}/vocabularyElementList/${e}`;
      if (!isObject(element)) throw new MasterDataError(`${el} must be an object`);
      const attributes: Record<string, unknown> = {};
      const attrs = element["attributes"] ?? [];
      if (!Array.isArray(attrs)) throw new MasterDataError(`${el}/attributes must be a list`);
      attrs.forEach((a, i) => {
        if (!isObject(a) || typeof a["id"] !== "string" || a["id"].trim() === "") throw new MasterDataError(`${el}/attributes/${i} needs an "id" (the attribute's URI)`);
        const value = a["attribute"];
        if (!["string", "number", "object"].includes(typeof value) || value === null) throw new MasterDataError(`${el}/attributes/${i}/attribute must be a string, a number or an object`);
        attributes[a["id"]] = value;
      });
      const children = element["children"] ?? [];
      if (!Array.isArray(children)) throw new MasterDataError(`${el}/children must be a list`);
      out.push({ vocabulary: name, id: canonical(element["id"], `${el}/id`), attributes, children: children.map((c, i) => canonical(c, `${el}/children/${i}`)) });
      if (out.length > max) throw new MasterDataError(`more than ${max} vocabulary elements in one document`);
    });
  });
  return out;
}

/** The name an element gives its identifier (CBV `name` attribute in any of its spellings), else undefined. */
export function nameOf(element: Pick<VocabularyElement, "attributes">): string | undefined {
  for (const a of NAME_ATTRIBUTES) {
    const v = element.attributes[a];
    if (typeof v === "string" && v.trim() !== "") return v.trim();
  }
  return undefined;
}

/** Vocabulary elements as EPCIS writes them (vocabularyList of an EPCISMasterDataDocument). */
export function vocabularyListJson(elements: readonly VocabularyElement[]): Record<string, unknown>[] {
  const byType = new Map<VocabularyName, VocabularyElement[]>();
  for (const e of elements) byType.set(e.vocabulary, [...(byType.get(e.vocabulary) ?? []), e]);
  return [...byType].map(([name, list]) => ({
    type: VOCABULARY_TYPES[name],
    vocabularyElementList: list.map((e) => ({
      id: e.id,
      attributes: Object.entries(e.attributes).map(([id, attribute]) => ({ id, attribute })),
      ...(e.children.length > 0 ? { children: e.children } : {}),
    })),
  }));
}
