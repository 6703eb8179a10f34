/**
 * The EPCIS XML binding: EPCIS 2.0 and 1.2 XML documents read into the JSON-LD form Tracemesh keeps
 * (`parseEpcisXml`), and JSON-LD query documents written back as EPCIS 2.0 XML (`epcisXmlOf`).
 *
 * Reading follows GS1's XSLT (fixtures/epcis/XSL/convert-1.2-to-2.0.xsl) and the JSON twins of the
 * XML examples: 1.2's `extension` / `baseExtension` wrappers are unwrapped (their reserved,
 * un-namespaced future-extension content is dropped, as the XSLT drops it), a 1.2
 * TransformationEvent inside `EventList/extension` is an event, lists become arrays, quantities
 * and sensor values numbers, user extensions `prefix:name` members with each namespace declared in
 * the document's `@context`. Typed extension values (`xsi:type` xsd:integer, xsd:double,
 * xsd:boolean …) become JSON numbers and booleans. So an event hashes the same in either binding.
 *
 * The parser (@xmldom/xmldom) resolves no external entity; a DOCTYPE with an internal subset or an
 * external identifier is refused before parsing, a bare `<!DOCTYPE name>` (found in GS1's own
 * examples) is harmless and allowed. Size, event count and element depth are limited like JSON.
 * Problems are EpcisXmlError with `errors: [{ path, message }]`, `path` naming the element
 * ("/EPCISDocument/EPCISBody/EventList/ObjectEvent[2]/epcList").
 *
 * Validation against GS1's XSD is not done here (no maintained pure-JS XSD validator exists):
 * unknown EPCIS elements, missing required elements and malformed values are refused by name, and
 * the converted document then passes the GS1 JSON Schema like any JSON capture (lib/epcis/README.md).
 */
import { type Attr, DOMParser, type Element as XmlElement, type Node as XmlNode } from "@xmldom/xmldom";
import { type CbvVocabulary, cbvTerm, cbvUri } from "./cbv.ts";
import { EPCIS_CONTEXT_URLS } from "./contexts.ts";
import { DEFAULT_LIMITS, type ValidationIssue, type ValidationLimits } from "./validate.ts";
import { TracemeshError } from "../errors.ts";

export const XML_MEDIA_TYPES = ["application/xml", "text/xml"] as const;

const EPCIS_NS = ["urn:epcglobal:epcis:xsd:2", "urn:epcglobal:epcis:xsd:1"];
const EPCIS_QUERY_NS = ["urn:epcglobal:epcis-query:xsd:2", "urn:epcglobal:epcis-query:xsd:1"];
const XSI_NS = "http://www.w3.org/2001/XMLSchema-instance";
const XMLNS_NS = "http://www.w3.org/2000/xmlns/";
const EPCIS2_NS = EPCIS_NS[0]!;
const EPCIS2_QUERY_NS = EPCIS_QUERY_NS[0]!;

/** An XML document that cannot be read as EPCIS; nothing was recorded. */
export class EpcisXmlError extends TracemeshError {
  constructor(readonly errors: readonly ValidationIssue[]) {
    super("invalid-epcis", `the EPCIS XML document is not valid: ${errors.slice(0, 3).map((e) => `${e.path || "/"} ${e.message}`).join("; ")}`);
  }
}

const fail = (path: string, message: string): never => {
  throw new EpcisXmlError([{ path, message }]);
};

// ------------------------------------------------------------------------------ reading

const EVENT_TYPES = new Set(["ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"]);
const STRING_FIELDS = new Set(["eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "action", "bizStep", "disposition", "parentID", "transformationID"]);
const EPC_LISTS = new Set(["epcList", "childEPCs", "inputEPCList", "outputEPCList"]);
const QUANTITY_LISTS = new Set(["quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"]);
const LOCATIONS = new Set(["readPoint", "bizLocation"]);
const PARTY_LISTS: Record<string, string> = { bizTransactionList: "bizTransaction", sourceList: "source", destinationList: "destination" };
/** Elements each event type requires (EPCIS 2.0 XSD). */
const REQUIRED: Record<string, string[]> = {
  ObjectEvent: ["eventTime", "eventTimeZoneOffset", "action"],
  AggregationEvent: ["eventTime", "eventTimeZoneOffset", "action"],
  TransactionEvent: ["eventTime", "eventTimeZoneOffset", "action"],
  TransformationEvent: ["eventTime", "eventTimeZoneOffset"],
  AssociationEvent: ["eventTime", "eventTimeZoneOffset", "action"],
};
const VOCAB_FIELDS: Record<string, CbvVocabulary> = { bizStep: "bizStep", disposition: "disposition" };
/** Sensor attributes that are numbers or booleans in JSON (EPCIS 2.0 §7.3.8). */
const SENSOR_NUMBERS = new Set(["value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"]);
const XSD_NUMBERS = new Set(["integer", "int", "long", "short", "byte", "decimal", "double", "float", "nonNegativeInteger", "positiveInteger", "negativeInteger", "nonPositiveInteger", "unsignedInt", "unsignedLong", "unsignedShort", "unsignedByte"]);
/** Prefixes the EPCIS context or JSON-LD give a meaning; an extension namespace under one of them is renamed. */
const RESERVED_PREFIXES: Record<string, string | undefined> = { gs1: "https://gs1.org/voc/", cbv: "https://ref.gs1.org/cbv/", epcis: "https://ref.gs1.org/epcis/", http: undefined, https: undefined, urn: undefined, xsd: undefined, rdf: undefined, rdfs: undefined, owl: undefined, dcterms: undefined, schema: undefined, _: undefined };

const elements = (el: XmlElement): XmlElement[] => Array.from(el.childNodes as ArrayLike<XmlNode>).filter((n): n is XmlElement => n.nodeType === 1);
const textOf = (el: XmlElement): string => (el.textContent ?? "").trim();
const isEpcisElement = (el: XmlElement) => el.namespaceURI === null || el.namespaceURI === "" || EPCIS_NS.includes(el.namespaceURI) || EPCIS_QUERY_NS.includes(el.namespaceURI);

interface ReadState {
  /** prefix -> namespace of every extension namespace used. */
  prefixes: Map<string, string>;
  /** namespace -> the prefix it is written with. */
  names: Map<string, string>;
  events: number;
  limits: Required<ValidationLimits>;
}

/** Elements in document order with their paths, siblings of one name numbered from 1 when repeated. */
function childPaths(parent: XmlElement, path: string): { el: XmlElement; path: string }[] {
  const kids = elements(parent);
  const count = new Map<string, number>();
  for (const k of kids) count.set(k.tagName, (count.get(k.tagName) ?? 0) + 1);
  const seen = new Map<string, number>();
  return kids.map((el) => {
    const n = (seen.get(el.tagName) ?? 0) + 1;
    seen.set(el.tagName, n);
    return { el, path: `${path}/${el.tagName}${count.get(el.tagName)! > 1 ? `[${n}]` : ""}` };
  });
}

/** The compact name (prefix:local) of an extension element or attribute, declaring its namespace. */
function extensionName(node: { namespaceURI: string | null; prefix: string | null; localName: string | null }, state: ReadState, path: string): string {
  const ns = node.namespaceURI;
  if (!ns) return fail(path, `"${node.localName}" is not an EPCIS element here; an extension must be in its own namespace`);
  let prefix = state.names.get(ns);
  if (prefix === undefined) {
    const wanted = node.prefix && /^[A-Za-z][\w.-]*$/.test(node.prefix) ? node.prefix : "ext";
    prefix = wanted;
    for (let i = 1; (state.prefixes.has(prefix) && state.prefixes.get(prefix) !== ns) || (Object.hasOwn(RESERVED_PREFIXES, prefix) && RESERVED_PREFIXES[prefix] !== ns) || (wanted === "ext" && prefix === "ext"); i++) prefix = `${wanted}${i}`;
    state.prefixes.set(prefix, ns);
    state.names.set(ns, prefix);
  }
  return `${prefix}:${node.localName}`;
}

/**
 * A compact value ("example:someSensorProperty") whose prefix is an XML namespace in scope gets that
 * namespace declared in @context, as the XML gave it meaning; the value itself is kept as written.
 */
function declareCurie(el: XmlElement, value: string, state: ReadState): string {
  const m = /^([A-Za-z][\w.-]*):(?!\/\/)/.exec(value);
  if (!m || Object.hasOwn(RESERVED_PREFIXES, m[1]!) || m[1] === "urn") return value;
  const ns = el.lookupNamespaceURI(m[1]!);
  if (ns && !EPCIS_NS.includes(ns) && !EPCIS_QUERY_NS.includes(ns) && !state.prefixes.has(m[1]!)) {
    state.prefixes.set(m[1]!, ns);
    if (!state.names.has(ns)) state.names.set(ns, m[1]!);
  }
  return value;
}

/** A typed leaf (xsi:type xsd:integer/double/boolean) as a JSON number or boolean; else the text. */
function typedValue(el: XmlElement, path: string): string | number | boolean {
  const text = textOf(el);
  const type = el.getAttributeNS(XSI_NS, "type");
  const local = type ? type.slice(type.indexOf(":") + 1) : "";
  if (type && XSD_NUMBERS.has(local)) {
    const n = Number(text);
    if (text === "" || !Number.isFinite(n)) fail(path, `"${text}" is not a number (xsi:type ${type})`);
    return n;
  }
  if (type && local === "boolean") {
    if (text === "true" || text === "1") return true;
    if (text === "false" || text === "0") return false;
    fail(path, `"${text}" is not a boolean (xsi:type ${type})`);
  }
  return text;
}

/** Attributes that carry data (not namespace declarations or xsi:type/schemaLocation). */
function dataAttributes(el: XmlElement): Attr[] {
  return Array.from(el.attributes as ArrayLike<Attr>).filter((a) => a.namespaceURI !== XMLNS_NS && a.namespaceURI !== XSI_NS && a.name !== "xmlns" && !a.name.startsWith("xmlns:"));
}

/** Keys that became lists because their element repeats (a JSON array value is otherwise one value). */
const repeated = new WeakMap<object, Set<string>>();

/** Adds `value` under `key`, turning a repeated key into a list (XML repeats, JSON lists). */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  const lists = repeated.get(target) ?? new Set<string>();
  repeated.set(target, lists);
  if (!Object.hasOwn(target, key)) target[key] = value;
  else if (lists.has(key)) (target[key] as unknown[]).push(value);
  else {
    target[key] = [target[key], value];
    lists.add(key);
  }
}

/** A user extension element's JSON value. */
function extensionValue(el: XmlElement, state: ReadState, path: string): unknown {
  const kids = childPaths(el, path);
  const attrs = dataAttributes(el);
  // A leaf with text keeps the text only, as GS1's JSON twins write e.g. cbvmda:netWeight measurementUnitCode="KGM".
  if (kids.length === 0 && (attrs.length === 0 || textOf(el) !== "")) return typedValue(el, path);
  if (kids.length > 0 && el.localName === "ignoreFields" && kids.every(({ el: k }) => elements(k).length === 0 && textOf(k) === ""))
    return kids.map(({ el: k, path: p }) => extensionName(k, state, p));
  const out: Record<string, unknown> = {};
  for (const a of attrs) out[a.namespaceURI ? extensionName(a, state, `${path}/@${a.name}`) : extensionName({ namespaceURI: el.namespaceURI, prefix: el.prefix, localName: a.localName }, state, path)] = a.value;
  if (kids.length === 0) return out;
  // Inside an extension anything goes; un-namespaced children keep their bare names (as GS1's hash reference reads them).
  for (const { el: k, path: p } of kids) put(out, k.namespaceURI ? extensionName(k, state, p) : k.localName!, extensionValue(k, state, p));
  return out;
}

/** Extension members of an element that holds both standard children and extensions. */
function readExtension(target: Record<string, unknown>, el: XmlElement, state: ReadState, path: string): void {
  put(target, extensionName(el, state, path), extensionValue(el, state, path));
}

function listOf(el: XmlElement, item: string, path: string, read: (k: XmlElement, p: string) => unknown): unknown[] {
  return childPaths(el, path).map(({ el: k, path: p }) => (k.localName === item && isEpcisElement(k) ? read(k, p) : fail(p, `"${k.tagName}" is not allowed in ${el.tagName} (expected ${item})`)));
}

/** A CBV value in the JSON spelling: the bare term for a standard value (1.x URNs and Web URIs alike), else as written. */
const jsonVocab = (vocabulary: CbvVocabulary, value: string): string => cbvTerm(vocabulary, value) ?? value;

function numberOf(text: string, path: string): number {
  const n = Number(text);
  if (text === "" || !Number.isFinite(n)) fail(path, `"${text}" is not a number`);
  return n;
}

function quantityElement(el: XmlElement, state: ReadState, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { el: k, path: p } of childPaths(el, path)) {
    if (!isEpcisElement(k)) readExtension(out, k, state, p);
    else if (k.localName === "epcClass" || k.localName === "uom") out[k.localName] = textOf(k);
    else if (k.localName === "quantity") {
      if (k.getAttributeNS(XSI_NS, "nil") !== "true") out["quantity"] = numberOf(textOf(k), p);
    }
    else fail(p, `"${k.tagName}" is not allowed in quantityElement`);
  }
  if (out["epcClass"] === undefined) fail(path, "quantityElement has no epcClass");
  return out;
}

function attributesObject(el: XmlElement, state: ReadState, path: string, numbers: Set<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of dataAttributes(el)) {
    const p = `${path}/@${a.name}`;
    if (a.namespaceURI) out[extensionName(a, state, p)] = a.value;
    else if (numbers.has(a.localName ?? "")) out[a.localName!] = numberOf(a.value.trim(), p);
    else if (a.localName === "booleanValue") out[a.localName] = a.value.trim() === "true" || a.value.trim() === "1" ? true : a.value.trim() === "false" || a.value.trim() === "0" ? false : fail(p, `"${a.value}" is not a boolean`);
    else out[a.localName!] = declareCurie(el, a.value, state);
  }
  return out;
}

function sensorElement(el: XmlElement, state: ReadState, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const reports: unknown[] = [];
  for (const { el: k, path: p } of childPaths(el, path)) {
    if (!isEpcisElement(k)) readExtension(out, k, state, p);
    else if (k.localName === "sensorMetadata") out["sensorMetadata"] = attributesObject(k, state, p, new Set());
    else if (k.localName === "sensorReport") reports.push(attributesObject(k, state, p, SENSOR_NUMBERS));
    else if (k.localName === "extension") for (const { el: x, path: xp } of childPaths(k, p)) if (!isEpcisElement(x)) readExtension(out, x, state, xp);
    else fail(p, `"${k.tagName}" is not allowed in sensorElement`);
  }
  if (reports.length === 0) fail(path, "sensorElement has no sensorReport");
  return { ...(out["sensorMetadata"] ? { sensorMetadata: out["sensorMetadata"] } : {}), sensorReport: reports, ...Object.fromEntries(Object.entries(out).filter(([k]) => k !== "sensorMetadata")) };
}

/** readPoint / bizLocation / errorDeclaration: standard members plus extensions. */
function structured(el: XmlElement, state: ReadState, path: string, fields: Record<string, (k: XmlElement, p: string) => unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const walk = (parent: XmlElement, base: string) => {
    for (const { el: k, path: p } of childPaths(parent, base)) {
      if (!isEpcisElement(k)) readExtension(out, k, state, p);
      else if (k.localName === "extension") walk(k, p);
      else if (Object.hasOwn(fields, k.localName!)) out[k.localName!] = fields[k.localName!]!(k, p);
      else fail(p, `"${k.tagName}" is not allowed in ${el.tagName}`);
    }
  };
  walk(el, path);
  return out;
}

function readEvent(el: XmlElement, state: ReadState, path: string): Record<string, unknown> {
  const type = el.localName!;
  const out: Record<string, unknown> = { type };
  const text = (k: XmlElement) => textOf(k);
  const readField = (k: XmlElement, p: string, depth: number): void => {
    const name = k.localName!;
    if (!isEpcisElement(k)) return readExtension(out, k, state, p);
    if (name === "extension" || name === "baseExtension") {
      // 1.2 wrappers: standard fields inside; un-namespaced elements of a nested extension are reserved for GS1 and dropped (as GS1's XSLT does).
      for (const { el: x, path: xp } of childPaths(k, p)) if (!(depth > 0 && isEpcisElement(x) && x.localName !== "extension")) readField(x, xp, depth + 1);
      return;
    }
    if (Object.hasOwn(VOCAB_FIELDS, name)) out[name] = jsonVocab(VOCAB_FIELDS[name]!, textOf(k));
    else if (STRING_FIELDS.has(name)) out[name] = textOf(k);
    else if (EPC_LISTS.has(name)) out[name] = listOf(k, "epc", p, text);
    else if (QUANTITY_LISTS.has(name)) out[name] = listOf(k, "quantityElement", p, (q, qp) => quantityElement(q, state, qp));
    else if (LOCATIONS.has(name)) out[name] = structured(k, state, p, { id: text });
    else if (Object.hasOwn(PARTY_LISTS, name)) {
      const item = PARTY_LISTS[name]!;
      const vocabulary: CbvVocabulary = name === "bizTransactionList" ? "bizTransactionType" : "sourceDestType";
      out[name] = listOf(k, item, p, (b) => ({ ...(b.getAttribute("type") ? { type: jsonVocab(vocabulary, b.getAttribute("type")!) } : {}), [item]: textOf(b) }));
    } else if (name === "sensorElementList") out[name] = listOf(k, "sensorElement", p, (s, sp) => sensorElement(s, state, sp));
    else if (name === "persistentDisposition") {
      const pd: Record<string, string[]> = {};
      for (const { el: x, path: xp } of childPaths(k, p)) {
        if (x.localName !== "set" && x.localName !== "unset") fail(xp, `"${x.tagName}" is not allowed in persistentDisposition (set, unset)`);
        (pd[x.localName!] ??= []).push(jsonVocab("disposition", textOf(x)));
      }
      out[name] = pd;
    } else if (name === "ilmd") out[name] = structured(k, state, p, {});
    else if (name === "certificationInfo") put(out, name, textOf(k));
    else if (name === "errorDeclaration")
      out[name] = structured(k, state, p, { declarationTime: text, reason: (r) => jsonVocab("errorReason", textOf(r)), correctiveEventIDs: (c, cp) => listOf(c, "correctiveEventID", cp, text) });
    else fail(p, `"${k.tagName}" is not an element of ${type}`);
  };
  for (const { el: k, path: p } of childPaths(el, path)) readField(k, p, 0);
  for (const r of REQUIRED[type] ?? []) if (out[r] === undefined || out[r] === "") fail(path, `${type} has no ${r}`);
  return out;
}

function readEventList(list: XmlElement, state: ReadState, path: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const { el, path: p } of childPaths(list, path)) {
    if (isEpcisElement(el) && el.localName === "extension") {
      // EPCIS 1.2: TransformationEvent (and future types) inside EventList/extension.
      out.push(...readEventList(el, state, p));
      continue;
    }
    if (!isEpcisElement(el) || !EVENT_TYPES.has(el.localName!)) fail(p, `"${el.tagName}" is not an EPCIS event (${[...EVENT_TYPES].join(", ")})`);
    if (++state.events > state.limits.maxEvents) fail(path, `more than ${state.limits.maxEvents} events; split the document`);
    out.push(readEvent(el, state, p));
  }
  return out;
}

function only(parent: XmlElement, name: string, path: string): { el: XmlElement; path: string } {
  const found = childPaths(parent, path).filter(({ el }) => el.localName === name && isEpcisElement(el));
  if (found.length !== 1) fail(path, found.length === 0 ? `${parent.tagName} has no ${name}` : `${parent.tagName} has ${found.length} ${name} elements; one is allowed`);
  return found[0]!;
}

function maxDepth(el: XmlElement): number {
  let deepest = 0;
  const stack: [XmlElement, number][] = [[el, 1]];
  while (stack.length > 0) {
    const [e, d] = stack.pop()!;
    if (d > deepest) deepest = d;
    for (const k of elements(e)) stack.push([k, d + 1]);
  }
  return deepest;
}

/** A DOCTYPE with an internal subset or an external identifier (SYSTEM / PUBLIC). */
const DANGEROUS_DOCTYPE = /<!DOCTYPE[^>[]*(\[|\bSYSTEM\b|\bPUBLIC\b)/i;
const ENTITY_DECLARATION = /<!ENTITY/i;

/**
 * Reads an EPCIS 2.0 or 1.2 XML document (EPCISDocument or EPCISQueryDocument) into the JSON-LD
 * form of the same document. Throws EpcisXmlError naming the offending element.
 */
export function parseEpcisXml(input: string | Uint8Array, limits: ValidationLimits = {}): Record<string, unknown> {
  const lim = { ...DEFAULT_LIMITS, ...limits };
  const bytes = typeof input === "string" ? Buffer.byteLength(input, "utf8") : input.byteLength;
  if (bytes > lim.maxBytes) fail("", `the document has ${bytes} bytes; at most ${lim.maxBytes} are accepted`);
  const text = (typeof input === "string" ? input : new TextDecoder("utf-8", { fatal: false }).decode(input)).replace(/^\uFEFF/, "");
  const withoutComments = text.replace(/<!--[\s\S]*?-->/g, "");
  if (DANGEROUS_DOCTYPE.test(withoutComments) || ENTITY_DECLARATION.test(withoutComments))
    fail("", "DTDs and entity declarations are not accepted (no internal subset, no SYSTEM or PUBLIC identifier)");
  let root: XmlElement | null;
  try {
    const doc = new DOMParser({
      onError: (level, message) => {
        if (level !== "warning") throw new EpcisXmlError([{ path: "", message: `not well-formed XML: ${message.split("\n")[0]}` }]);
      },
    }).parseFromString(text, "text/xml");
    root = doc.documentElement;
  } catch (e) {
    if (e instanceof EpcisXmlError) throw e;
    return fail("", `not well-formed XML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!root) return fail("", "the document has no root element");
  const depth = maxDepth(root);
  if (depth > lim.maxDepth) fail("", `elements are nested ${depth} deep; at most ${lim.maxDepth} levels are accepted`);
  const rootPath = `/${root.localName}`;
  const state: ReadState = { prefixes: new Map(), names: new Map(), events: 0, limits: lim };
  const isQuery = root.localName === "EPCISQueryDocument" && EPCIS_QUERY_NS.includes(root.namespaceURI ?? "");
  if (!isQuery && !(root.localName === "EPCISDocument" && EPCIS_NS.includes(root.namespaceURI ?? "")))
    fail(rootPath, `"${root.tagName}" (namespace ${root.namespaceURI ?? "none"}) is not an EPCIS document: expected EPCISDocument in ${EPCIS_NS.join(" or ")}, or EPCISQueryDocument in ${EPCIS_QUERY_NS.join(" or ")}`);
  const creationDate = root.getAttribute("creationDate");
  if (!creationDate) fail(rootPath, "the document has no creationDate attribute");
  const out: Record<string, unknown> = {};
  // Document-level extensions (e.g. ignoreFields) are kept; the header (SBDH, master data) is not.
  for (const { el, path } of childPaths(root, rootPath)) if (!isEpcisElement(el)) readExtension(out, el, state, path);
  for (const a of dataAttributes(root)) if (a.namespaceURI) out[extensionName(a, state, `${rootPath}/@${a.name}`)] = a.value;
  const body = only(root, "EPCISBody", rootPath);
  let epcisBody: Record<string, unknown>;
  if (isQuery) {
    const results = only(body.el, "QueryResults", body.path);
    const queryResults: Record<string, unknown> = {};
    for (const { el, path } of childPaths(results.el, results.path)) {
      if (!isEpcisElement(el)) readExtension(queryResults, el, state, path);
      else if (el.localName === "queryName" || el.localName === "subscriptionID") queryResults[el.localName] = textOf(el);
      else if (el.localName === "resultsBody") queryResults["resultsBody"] = { eventList: readEventList(only(el, "EventList", path).el, state, `${path}/EventList`) };
      else if (el.localName !== "extension") fail(path, `"${el.tagName}" is not allowed in QueryResults`);
    }
    if (queryResults["queryName"] === undefined) fail(results.path, "QueryResults has no queryName");
    queryResults["resultsBody"] ??= { eventList: [] };
    epcisBody = { queryResults };
  } else {
    const list = childPaths(body.el, body.path).find(({ el }) => el.localName === "EventList");
    epcisBody = { eventList: list ? readEventList(list.el, state, list.path) : [] };
  }
  return {
    "@context": [EPCIS_CONTEXT_URLS[0], ...[...state.prefixes].map(([p, ns]) => ({ [p]: ns }))],
    type: isQuery ? "EPCISQueryDocument" : "EPCISDocument",
    schemaVersion: "2.0",
    creationDate,
    ...out,
    epcisBody,
  };
}

// ------------------------------------------------------------------------------ writing

/** Event members written in this order (EPCIS 2.0 XSD sequence); the rest follow as extensions. */
const XML_ORDER = [
  "eventTime", "recordTime", "eventTimeZoneOffset", "certificationInfo", "eventID", "errorDeclaration",
  "parentID", "epcList", "childEPCs", "inputEPCList", "inputQuantityList", "outputEPCList", "outputQuantityList",
  "transformationID", "quantityList", "childQuantityList", "action", "bizStep", "disposition", "persistentDisposition",
  "readPoint", "bizLocation", "bizTransactionList", "sourceList", "destinationList", "sensorElementList", "ilmd",
];

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const scalar = (v: unknown) => escapeXml(typeof v === "string" ? v : JSON.stringify(v));

/** prefix -> namespace from a JSON-LD @context (string URLs carry none of the user's). */
function prefixesOf(context: unknown, into: Map<string, string>): Map<string, string> {
  for (const c of Array.isArray(context) ? context : [context])
    if (isObject(c)) for (const [k, v] of Object.entries(c)) if (typeof v === "string" && !k.startsWith("@")) into.set(k, v);
  return into;
}

function xmlName(key: string, prefixes: Map<string, string>, used: Map<string, string>): string {
  const i = key.indexOf(":");
  const prefix = i > 0 ? key.slice(0, i) : "";
  const ns = prefixes.get(prefix) ?? (prefix === "gs1" ? "https://gs1.org/voc/" : undefined);
  if (ns === undefined || !/^[A-Za-z_][\w.-]*$/.test(key.slice(i + 1))) throw new TracemeshError("invalid-epcis", `the member "${key}" has no declared namespace and cannot be written as XML`);
  used.set(prefix, ns);
  return key;
}

/** A user extension member as XML; inside an extension, un-prefixed names are un-namespaced elements. */
function writeExtension(key: string, value: unknown, prefixes: Map<string, string>, used: Map<string, string>, nested = false): string {
  const name = nested && !key.includes(":") && /^[A-Za-z_][\w.-]*$/.test(key) ? key : xmlName(key, prefixes, used);
  if (Array.isArray(value)) return value.map((v) => writeExtension(key, v, prefixes, used, nested)).join("");
  if (isObject(value)) return `<${name}>${Object.entries(value).map(([k, v]) => writeExtension(k, v, prefixes, used, true)).join("")}</${name}>`;
  const type = typeof value === "number" ? (Number.isInteger(value) ? ' xsi:type="xsd:integer"' : ' xsi:type="xsd:double"') : typeof value === "boolean" ? ' xsi:type="xsd:boolean"' : "";
  if (type) used.set("xsd", "http://www.w3.org/2001/XMLSchema");
  return `<${name}${type}>${scalar(value)}</${name}>`;
}

/** Declared on every document element by epcisXmlOf. */
const ROOT_PREFIXES = new Set(["xsi", "xsd", "gs1"]);
const el = (name: string, content: string) => `<${name}>${content}</${name}>`;
const attrs = (o: Record<string, unknown>, prefixes: Map<string, string>, used: Map<string, string>) =>
  Object.entries(o).map(([k, v]) => ` ${k.includes(":") ? xmlName(k, prefixes, used) : k}="${scalar(v)}"`).join("");

function writeMember(key: string, value: unknown, prefixes: Map<string, string>, used: Map<string, string>): string {
  if (value === undefined || value === null) return "";
  if (EPC_LISTS.has(key)) return el(key, (value as unknown[]).map((v) => el("epc", scalar(v))).join(""));
  if (QUANTITY_LISTS.has(key))
    return el(key, (value as Record<string, unknown>[]).map((q) => el("quantityElement", ["epcClass", "quantity", "uom"].filter((f) => q[f] !== undefined).map((f) => el(f, scalar(q[f]))).join(""))).join(""));
  if (Object.hasOwn(PARTY_LISTS, key)) {
    const item = PARTY_LISTS[key]!;
        const vocabulary: CbvVocabulary = key === "bizTransactionList" ? "bizTransactionType" : "sourceDestType";
    return el(key, (value as Record<string, unknown>[]).map((b) => `<${item}${b["type"] !== undefined ? ` type="${scalar(cbvUri(vocabulary, String(b["type"])))}"` : ""}>${scalar(b[item])}</${item}>`).join(""));
  }
  if (LOCATIONS.has(key) || key === "ilmd" || key === "errorDeclaration") {
    const o = value as Record<string, unknown>;
    const std = key === "errorDeclaration" ? ["declarationTime", "reason", "correctiveEventIDs"] : key === "ilmd" ? [] : ["id"];
    return el(
      key,
      std.filter((f) => o[f] !== undefined).map((f) => (f === "correctiveEventIDs" ? el(f, (o[f] as unknown[]).map((c) => el("correctiveEventID", scalar(c))).join("")) : el(f, scalar(f === "reason" ? cbvUri("errorReason", String(o[f])) : o[f])))).join("") +
        Object.entries(o).filter(([k]) => !std.includes(k)).map(([k, v]) => writeExtension(k, v, prefixes, used)).join(""),
    );
  }
  if (key === "persistentDisposition") {
    const o = value as Record<string, string[]>;
    return el(key, [...(o["set"] ?? []).map((v) => el("set", scalar(cbvUri("disposition", v)))), ...(o["unset"] ?? []).map((v) => el("unset", scalar(cbvUri("disposition", v))))].join(""));
  }
  if (key === "sensorElementList")
    return el(
      key,
      (value as Record<string, unknown>[])
        .map((s) => {
          const meta = isObject(s["sensorMetadata"]) ? `<sensorMetadata${attrs(s["sensorMetadata"], prefixes, used)}/>` : "";
          const reports = ((s["sensorReport"] as Record<string, unknown>[] | undefined) ?? []).map((r) => `<sensorReport${attrs(typeof r["type"] === "string" && !r["type"].includes(":") ? { ...r, type: `gs1:${r["type"]}` } : r, prefixes, used)}/>`).join("");
          if (reports.includes("gs1:")) used.set("gs1", "https://gs1.org/voc/");
          const ext = Object.entries(s).filter(([k]) => k !== "sensorMetadata" && k !== "sensorReport").map(([k, v]) => writeExtension(k, v, prefixes, used)).join("");
          return el("sensorElement", meta + reports + ext);
        })
        .join(""),
    );
  if (key === "certificationInfo") return (Array.isArray(value) ? value : [value]).map((v) => el(key, scalar(v))).join("");
  if (Object.hasOwn(VOCAB_FIELDS, key)) return el(key, scalar(cbvUri(VOCAB_FIELDS[key]!, String(value))));
  return el(key, scalar(value));
}

function writeEvent(event: Record<string, unknown>, docPrefixes: Map<string, string>): string {
  const prefixes = prefixesOf(event["@context"], new Map(docPrefixes));
  const used = new Map<string, string>();
  const type = String(event["type"]);
  // Compact values ("example:x") need their prefix declared too.
  const scan = (v: unknown): void => {
    if (typeof v === "string") {
      const p = /^([A-Za-z][\w.-]*):(?!\/\/)/.exec(v)?.[1];
      if (p !== undefined && prefixes.has(p)) used.set(p, prefixes.get(p)!);
    } else if (Array.isArray(v)) v.forEach(scan);
    else if (isObject(v)) Object.values(v).forEach(scan);
  };
  scan(event);
  const body =
    XML_ORDER.map((k) => writeMember(k, event[k], prefixes, used)).join("") +
    Object.entries(event).filter(([k]) => k !== "type" && k !== "@context" && !XML_ORDER.includes(k)).map(([k, v]) => writeExtension(k, v, prefixes, used)).join("");
  const decls = [...used].filter(([p, ns]) => docPrefixes.get(p) !== ns && !ROOT_PREFIXES.has(p)).map(([p, ns]) => ` xmlns:${p}="${escapeXml(ns)}"`).join("");
  return `<${type}${decls}>${body}</${type}>`;
}

/**
 * An EPCISQueryDocument or EPCISDocument (JSON-LD, as this node serves it) written as EPCIS 2.0 XML.
 * Bare CBV terms are written as their URIs; namespaces of extensions are declared where used.
 */
export function epcisXmlOf(doc: Record<string, unknown>): string {
  const docPrefixes = prefixesOf(doc["@context"], new Map());
  const body = doc["epcisBody"] as Record<string, unknown>;
  const isQuery = doc["type"] === "EPCISQueryDocument";
  const qr = isQuery ? (body["queryResults"] as Record<string, unknown>) : undefined;
  const list = ((qr ? (qr["resultsBody"] as Record<string, unknown>)["eventList"] : body["eventList"]) ?? []) as Record<string, unknown>[];
  const events = list.map((e) => writeEvent(e, docPrefixes)).join("");
  const decls = [...docPrefixes].filter(([p]) => /^[A-Za-z_][\w.-]*$/.test(p)).map(([p, ns]) => ` xmlns:${p}="${escapeXml(ns)}"`).join("");
  const common = ` xmlns:xsi="${XSI_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:gs1="https://gs1.org/voc/"${decls.replace(/ xmlns:(xsi|xsd|gs1)="[^"]*"/g, "")} schemaVersion="2.0" creationDate="${escapeXml(String(doc["creationDate"] ?? new Date().toISOString()))}"`;
  const eventList = el("EventList", events);
  if (qr)
    return `<?xml version="1.0" encoding="UTF-8"?>\n<epcisq:EPCISQueryDocument xmlns:epcisq="${EPCIS2_QUERY_NS}"${common}><EPCISBody><epcisq:QueryResults>${el("queryName", scalar(qr["queryName"] ?? "SimpleEventQuery"))}${qr["subscriptionID"] !== undefined ? el("subscriptionID", scalar(qr["subscriptionID"])) : ""}${el("resultsBody", eventList)}</epcisq:QueryResults></EPCISBody></epcisq:EPCISQueryDocument>\n`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<epcis:EPCISDocument xmlns:epcis="${EPCIS2_NS}"${common}><EPCISBody>${eventList}</EPCISBody></epcis:EPCISDocument>\n`;
}
