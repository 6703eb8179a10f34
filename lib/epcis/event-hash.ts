/**
 * The CBV 2.0 event hash ID (CBV 2.0 section 8.9): `ni:///sha-256;<hex>?ver=CBV2.0`, the identity
 * of an EPCIS event on chain (its 32-byte digest is the `eventHash` of every Provenance record).
 *
 * The pre-hash string is built exactly as the GS1 reference implementation
 * (github.com/RalphTro/epcis-event-hash-generator, commit 5d2f1c38, whose vectors are this
 * module's oracle) builds it for JSON/JSON-LD:
 *
 *   "eventType=" + type
 *   + the standard fields in this order, each as name=value or name + sub-fields:
 *       eventTime, eventTimeZoneOffset, certificationInfo, parentID, epcList, inputEPCList,
 *       childEPCs, quantityList, childQuantityList, inputQuantityList, outputEPCList,
 *       outputQuantityList, action, transformationID, bizStep, disposition, persistentDisposition
 *       (set, unset), readPoint (id), bizLocation (id), sensorElementList (sensorElement:
 *       sensorMetadata, sensorReport)
 *   + every other member of the event (bizTransactionList, sourceList, destinationList, ilmd,
 *     user extensions), each serialised on its own, the strings sorted.
 *
 * Left out: eventID, recordTime, errorDeclaration, the JSON "type" member, "@context",
 * "comment"/"rdfs:comment", and fields a document lists in "<prefix>:ignoreFields".
 *
 * Values: white space trimmed; timestamps (fields whose name contains "time") in UTC with
 * milliseconds, rounded half-up ("…03.1415Z" -> "…03.142Z"); numbers without trailing zeros (as
 * Python's Decimal prints them); booleans true/false; bare CBV terms expanded to their URIs
 * ("shipping" -> https://ref.gs1.org/cbv/BizStep-shipping) in the fields the EPCIS context
 * types as vocabularies; EPCIS 1.x URNs (urn:epcglobal:cbv:bizstep:...) replaced by CBV Web URIs;
 * CURIEs expanded with the document's @context prefixes (and the EPCIS context's); EPC URIs and
 * GS1 Digital Links of any host written as constrained canonical Digital Links on id.gs1.org
 * (lib/identifiers/canonical.ts). Extension member names are written "{namespace}localName". Lists are
 * sorted by the code points of their serialised entries; sub-fields of an extension point
 * (readPoint, bizLocation, quantityElement, sensorElement, sensorMetadata, sensorReport) that are
 * not standard follow the standard ones, sorted. A bizTransaction, source or destination is
 * serialised "type=<T>" + "<field>=<V>", and the entries are sorted by that string.
 *
 * Where the reference deviates from its own README, the vectors win (tests pin each point); where
 * the reference has an accident of its Python data model (e.g. an extension namespace without a
 * trailing "/" is not recognised as an extension; a Digital Link containing "%" is left
 * un-normalised; any string anywhere that equals a CBV term is expanded), this module follows the
 * algorithm's rules instead. Documented in lib/epcis/README.md.
 */
import { sha256Hex } from "#platform";
import { LENIENT_DIGITAL_LINK, parseDigitalLink, toDigitalLink } from "../identifiers/digital-link.ts";
import { parseEpcUri } from "../identifiers/epc-uri.ts";
import { IdentifierError, finestGranularity } from "../identifiers/gs1-keys.ts";
import { type CbvVocabulary, GS1_VOC_BASE, URN_TO_WEB_URI, expandBareTerm } from "./cbv.ts";
import { TracemeshError } from "../errors.ts";

export const CBV_VERSION = "CBV2.0";
/**
 * The algorithm versions this module computes: CBV 2.0 (the identity on chain, pinned) and CBV 2.1
 * (an alias a partner may have computed; see `cbvVersion` below).
 */
export type CbvHashVersion = "CBV2.0" | "CBV2.1";
/** The GS1 Web Vocabulary base CBV 2.1 writes (CBV 2.0, as pinned, writes https://gs1.org/voc/). */
const GS1_VOC_BASE_2_1 = "https://ref.gs1.org/voc/";
const HASH_ID = /^ni:\/\/\/sha-256;([0-9a-fA-F]{64})\?ver=(CBV\d+\.\d+(?:\.\d+)?)$/;

/** Thrown when an input is not an EPCIS event or document the hash can be computed for. */
export class EventHashError extends TracemeshError {
  constructor(message: string) {
    super("invalid-event-hash", message);
  }
}

export interface EventHashOptions {
  /**
   * The JSON-LD "@context" in force for the event (the document's). Its prefixes expand CURIEs in
   * member names and values; the EPCIS 2.0 context's own prefixes (cbv, gs1, cbvmda, ...) apply
   * without it.
   */
  readonly context?: unknown;
  /** Event members to leave out of the hash, as CURIEs or "{namespace}local" names. */
  readonly ignoreFields?: readonly string[];
  /**
   * "CBV2.0" (default): the pinned algorithm, the event's identity on chain. "CBV2.1": the GS1
   * reference's CBV 2.1 rules (its README, "Differences between CBV 2.0 and 2.1", and its worked
   * examples): certificationInfo left out; epcList before parentID; bizTransactionList,
   * sourceList, destinationList in property order after bizLocation; ilmd before user extensions;
   * the GS1 Web Vocabulary at https://ref.gs1.org/voc/. Only used as an alias for look-ups.
   */
  readonly cbvVersion?: CbvHashVersion;
}

export interface EventHash {
  /** Position of the event in its document's event list. */
  readonly index: number;
  readonly preHash: string;
  /** ni:///sha-256;<hex>?ver=CBV2.0 */
  readonly hashId: string;
  /** The 32-byte SHA-256 digest as 0x-prefixed hex: the event's bytes32 on chain. */
  readonly digest: string;
}

// ------------------------------------------------------------------------------ prefixes

/** Prefixes of the EPCIS 2.0 JSON-LD context. */
const STANDARD_PREFIXES: Readonly<Record<string, string>> = {
  epcis: "https://ref.gs1.org/epcis/",
  cbv: "https://ref.gs1.org/cbv/",
  cbvmda: "urn:epcglobal:cbv:mda:",
  gs1: GS1_VOC_BASE,
  rdfs: "http://www.w3.org/2000/01/rdf-schema#",
  owl: "http://www.w3.org/2002/07/owl#",
  xsd: "http://www.w3.org/2001/XMLSchema#",
  dcterms: "http://purl.org/dc/terms/",
};

type Prefixes = ReadonlyMap<string, string>;

function prefixesOf(context: unknown): Prefixes {
  const map = new Map(Object.entries(STANDARD_PREFIXES));
  const visit = (c: unknown): void => {
    if (Array.isArray(c)) c.forEach(visit);
    else if (c !== null && typeof c === "object")
      for (const [k, v] of Object.entries(c)) {
        if (k.startsWith("@")) continue;
        if (typeof v === "string") map.set(k, v);
        else if (v !== null && typeof v === "object" && typeof (v as Record<string, unknown>)["@id"] === "string")
          map.set(k, (v as Record<string, string>)["@id"]!);
      }
  };
  visit(context);
  return map;
}

/** "ex:field" -> "{https://ns.example.com/}field" when "ex" is a known prefix. */
function expandName(name: string, prefixes: Prefixes): string {
  const i = name.indexOf(":");
  if (i <= 0) return name;
  const ns = prefixes.get(name.slice(0, i));
  return ns === undefined ? name : `{${ns}}${name.slice(i + 1)}`;
}

/** "cbv:Comp-x" -> "https://ref.gs1.org/cbv/Comp-x" when "cbv" is a known prefix. */
function expandCurie(value: string, prefixes: Prefixes): string {
  const i = value.indexOf(":");
  if (i <= 0) return value;
  const ns = prefixes.get(value.slice(0, i));
  return ns === undefined ? value : ns + value.slice(i + 1);
}

// -------------------------------------------------------------------------- value rules

/** Python's str.strip() white space (the reference trims with it). */
const PY_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";

function strip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && PY_SPACE.includes(s[a]!)) a++;
  while (b > a && PY_SPACE.includes(s[b - 1]!)) b--;
  return s.slice(a, b);
}

/** Compares by Unicode code points (Python's string order), not UTF-16 code units. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (astral code point) sorts after every BMP character from U+E000 up.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? (y >= 0xe000 ? 1 : x - y) : x >= 0xe000 ? -1 : x - y;
    return x - y;
  }
  return a.length - b.length;
}

const sorted = (xs: string[]): string[] => xs.sort(compareCodePoints);

const NUMBER = /^([+-]?)(?:([0-9]+(?:_[0-9]+)*)(?:\.([0-9]+(?:_[0-9]+)*)?)?|\.([0-9]+(?:_[0-9]+)*))(?:[eE]([+-]?[0-9]+(?:_[0-9]+)*))?$/;

/**
 * A numeric string written as the reference writes it (Python Decimal): an integral value as an
 * integer ("452.0" -> "452"), other values in plain notation without trailing zeros
 * ("0.3434000" -> "0.3434", "1e-7" -> "0.0000001"). Integral values written with a positive
 * exponent keep Decimal's scientific form ("1E3" -> "1E+3"). Non-numbers: undefined.
 */
export function canonicalNumber(text: string): string | undefined {
  const m = NUMBER.exec(text);
  if (!m) return undefined;
  const neg = m[1] === "-";
  const intPart = (m[2] ?? "").replace(/_/g, "");
  const fracPart = (m[3] ?? m[4] ?? "").replace(/_/g, "");
  const exp = Number((m[5] ?? "0").replace(/_/g, "")) - fracPart.length;
  if (!Number.isSafeInteger(exp)) return undefined;
  let coeff = (intPart + fracPart).replace(/^0+/, "");
  if (coeff === "") coeff = "0";
  const sign = neg ? "-" : "";
  if (exp > 0) {
    // Decimal's to_integral_value() keeps a positive exponent, and str() shows it.
    const adjusted = exp + coeff.length - 1;
    return `${sign}${coeff[0]}${coeff.length > 1 ? "." + coeff.slice(1) : ""}E+${adjusted}`;
  }
  const scale = -exp;
  const padded = coeff.padStart(scale + 1, "0");
  const whole = padded.slice(0, padded.length - scale);
  const frac = padded.slice(padded.length - scale).replace(/0+$/, "");
  return frac === "" ? sign + whole : `${sign}${whole}.${frac}`;
}

/** A timestamp in UTC with milliseconds, rounded half-up; undefined when unparseable. */
export function canonicalTimestamp(text: string): string | undefined {
  const m =
    /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?\s*([Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)$/.exec(
      text,
    );
  if (!m) return undefined;
  const [y, mo, d, h, mi] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number, number];
  const s = Number(m[6] ?? "0");
  const frac = m[7] ?? "";
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59) return undefined;
  let offsetMin = 0;
  const z = m[8]!;
  if (z !== "Z" && z !== "z") {
    const digits = z.slice(1).replace(":", "");
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || "0");
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (z[0] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  let ms = Number((frac + "000").slice(0, 3));
  if (frac.length > 3 && frac.charCodeAt(3) >= 53 /* '5' */) ms += 1;
  const total = ((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi - offsetMin) * 60_000 + s * 1000 + ms;
  const days = Math.floor(total / 86_400_000);
  let rest = total - days * 86_400_000;
  const [Y, M, D] = civilFromDays(days);
  if (Y < 1 || Y > 9999) return undefined;
  const H = Math.floor(rest / 3_600_000);
  rest -= H * 3_600_000;
  const Mi = Math.floor(rest / 60_000);
  rest -= Mi * 60_000;
  const S = Math.floor(rest / 1000);
  const Ms = rest - S * 1000;
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(Y, 4)}-${p(M)}-${p(D)}T${p(H)}:${p(Mi)}:${p(S)}.${p(Ms, 3)}Z`;
}

function daysInMonth(y: number, m: number): number {
  return m === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z0: number): [number, number, number] {
  const z = z0 + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

/**
 * An identifier value as the constrained canonical Digital Link (CBV 2.0 rules 17 and 18), or
 * undefined when the value is not a GS1 key the rules cover. Check digits are not verified here:
 * the hash describes the event as written; validation is a separate step.
 */
export function canonicalIdentifierForHash(value: string): string | undefined {
  try {
    if (value.startsWith("urn:epc:")) return toDigitalLink(parseEpcUri(value).identifier);
    if (/^https?:\/\//i.test(value)) {
      const parsed = parseDigitalLink(value, { ...LENIENT_DIGITAL_LINK, checkDigits: false, decompress: false });
      return toDigitalLink(finestGranularity(parsed.identifier));
    }
  } catch (e) {
    if (!(e instanceof IdentifierError)) throw e;
  }
  return undefined;
}

/** Rules 14, 6/7 and 17/18 applied to one (trimmed, CURIE-expanded) value. */
function canonicalValue(text: string): string {
  let v = text;
  for (const [urn, uri] of URN_TO_WEB_URI) if (v.includes(urn)) v = v.split(urn).join(uri);
  v = canonicalNumber(v) ?? v;
  return canonicalIdentifierForHash(v) ?? v;
}

// ------------------------------------------------------------------------ serialisation

interface Ctx {
  readonly prefixes: Prefixes;
  /** CBV 2.1 writes GS1 Web Vocabulary terms under ref.gs1.org. */
  readonly v21: boolean;
  readonly ignored: ReadonlySet<string>;
  depth: number;
}

const MAX_DEPTH = 64;

/** Members never hashed, at any level (JSON-LD keywords aside, the reference drops comments). */
const COMMENT_KEYS = new Set(["comment", "rdfs:comment", "#text"]);
/** Event members left out of the hash. */
const EVENT_IGNORED = new Set(["eventID", "recordTime", "type", "errorDeclaration"]);

function primitiveText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === "boolean") return v ? "true" : "false";
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** One member's value(s): arrays stand for repeated members (the XML view of the data). */
function items(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return [v];
  const out: unknown[] = [];
  for (const x of v) out.push(...items(x));
  return out;
}

/** name=value for a leaf, "" when the value is empty. */
function leaf(name: string, raw: string, ctx: Ctx, opts: { time?: boolean; vocab?: CbvVocabulary } = {}): string {
  const t = strip(raw);
  if (t === "") return "";
  let v: string;
  if (opts.time) v = canonicalTimestamp(t) ?? t;
  else {
    const term = opts.vocab ? expandBareTerm(opts.vocab, t) : undefined;
    v = canonicalValue(term ?? expandCurie(t, ctx.prefixes));
    if (ctx.v21 && v.startsWith(GS1_VOC_BASE)) v = GS1_VOC_BASE_2_1 + v.slice(GS1_VOC_BASE.length);
  }
  return `${name}=${v}`;
}

/** The generic serialisation of a member and its sub-members (extensions, ilmd, unknown fields). */
function generic(name: string, value: unknown, ctx: Ctx): string[] {
  if (++ctx.depth > MAX_DEPTH) throw new EventHashError(`event nests deeper than ${MAX_DEPTH} levels`);
  try {
    const out: string[] = [];
    for (const v of items(value)) {
      if (isObject(v)) {
        const text = typeof v["#text"] === "string" ? strip(v["#text"]) : "";
        out.push(name + (text === "" ? "" : "=" + canonicalValue(expandCurie(text, ctx.prefixes))) + genericMembers(v, ctx));
      } else {
        const text = primitiveText(v);
        if (text === undefined) continue;
        const t = strip(text);
        out.push(name + (t === "" ? "" : "=" + canonicalValue(expandCurie(t, ctx.prefixes))));
      }
    }
    return out;
  } finally {
    ctx.depth--;
  }
}

function genericMembers(obj: Record<string, unknown>, ctx: Ctx, skip: ReadonlySet<string> = new Set()): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (skip.has(k) || COMMENT_KEYS.has(k) || k.startsWith("@")) continue;
    parts.push(...generic(expandName(k, ctx.prefixes), v, ctx));
  }
  return sorted(parts).join("");
}

interface FieldRule {
  readonly time?: boolean;
  readonly vocab?: CbvVocabulary;
}

/** Standard sub-fields in their order (each repeated value sorted), then the others, sorted. */
function structured(obj: Record<string, unknown>, order: readonly [string, FieldRule][], ctx: Ctx): string {
  let out = "";
  for (const [field, rule] of order) {
    const vals: string[] = [];
    for (const v of items(obj[field])) {
      const text = primitiveText(v);
      if (text !== undefined) {
        const s = leaf(field, text, ctx, rule);
        if (s !== "") vals.push(s);
      } else if (isObject(v)) vals.push(...generic(field, v, ctx));
    }
    out += sorted(vals).join("");
  }
  return out + genericMembers(obj, ctx, new Set(order.map(([f]) => f)));
}

const QUANTITY_ELEMENT: readonly [string, FieldRule][] = [["epcClass", {}], ["quantity", {}], ["uom", {}]];
const SENSOR_METADATA: readonly [string, FieldRule][] = [
  ["time", { time: true }],
  ["startTime", { time: true }],
  ["endTime", { time: true }],
  ["deviceID", {}],
  ["deviceMetadata", {}],
  ["rawData", {}],
  ["dataProcessingMethod", {}],
  ["bizRules", {}],
];
const SENSOR_REPORT: readonly [string, FieldRule][] = [
  ["type", { vocab: "measurementType" }],
  ["exception", { vocab: "sensorAlertType" }],
  ["deviceID", {}],
  ["deviceMetadata", {}],
  ["rawData", {}],
  ["dataProcessingMethod", {}],
  ["time", { time: true }],
  ["microorganism", {}],
  ["chemicalSubstance", {}],
  ["value", {}],
  ["component", { vocab: "component" }],
  ["stringValue", {}],
  ["booleanValue", {}],
  ["hexBinaryValue", {}],
  ["uriValue", {}],
  ["minValue", {}],
  ["maxValue", {}],
  ["meanValue", {}],
  ["sDev", {}],
  ["percRank", {}],
  ["percValue", {}],
  ["uom", {}],
  ["coordinateReferenceSystem", {}],
];

function list(name: string, entries: string[]): string {
  const nonEmpty = entries.filter((e) => e !== "");
  return nonEmpty.length === 0 ? "" : name + sorted(nonEmpty).join("");
}

function epcListField(name: string, value: unknown, ctx: Ctx): string {
  return list(
    name,
    items(value).flatMap((v) => {
      const t = primitiveText(v);
      return t !== undefined ? [leaf("epc", t, ctx)] : isObject(v) ? generic("epc", v, ctx) : [];
    }),
  );
}

function quantityListField(name: string, value: unknown, ctx: Ctx): string {
  return list(
    name,
    items(value).map((v) => {
      if (!isObject(v)) return "";
      const body = structured(v, QUANTITY_ELEMENT, ctx);
      return body === "" ? "" : "quantityElement" + body;
    }),
  );
}

function idField(name: string, value: unknown, ctx: Ctx): string {
  const parts: string[] = [];
  for (const v of items(value)) {
    const text = primitiveText(v);
    const body = text !== undefined ? leaf("id", text, ctx) : isObject(v) ? structured(v, [["id", {}]], ctx) : "";
    if (body !== "") parts.push(name + body);
  }
  return sorted(parts).join("");
}

function persistentDispositionField(value: unknown, ctx: Ctx): string {
  const parts: string[] = [];
  for (const v of items(value)) {
    if (!isObject(v)) continue;
    const body = structured(v, [["set", { vocab: "disposition" }], ["unset", { vocab: "disposition" }]], ctx);
    if (body !== "") parts.push("persistentDisposition" + body);
  }
  return sorted(parts).join("");
}

function sensorElementListField(value: unknown, ctx: Ctx): string {
  return list(
    "sensorElementList",
    items(value).map((el) => {
      if (!isObject(el)) return "";
      let body = "";
      const meta = sorted(
        items(el["sensorMetadata"])
          .filter(isObject)
          .map((m) => structured(m, SENSOR_METADATA, ctx))
          .filter((s) => s !== "")
          .map((s) => "sensorMetadata" + s),
      );
      body += meta.join("");
      const reports = items(el["sensorReport"])
        .filter(isObject)
        .map((r) => structured(r, SENSOR_REPORT, ctx))
        .filter((s) => s !== "")
        .map((s) => "sensorReport" + s);
      body += sorted(reports).join("");
      body += genericMembers(el, ctx, new Set(["sensorMetadata", "sensorReport"]));
      return body === "" ? "" : "sensorElement" + body;
    }),
  );
}

/** bizTransactionList / sourceList / destinationList: "type=<T><field>=<V>" entries, sorted. */
function typedList(name: string, field: string, vocab: CbvVocabulary, value: unknown, ctx: Ctx): string {
  const entries = items(value).map((v) => {
    if (!isObject(v)) return "";
    let s = "";
    for (const t of items(v["type"])) {
      const text = primitiveText(t);
      if (text !== undefined) s += leaf("type", text, ctx, { vocab });
    }
    for (const x of items(v[field])) {
      const text = primitiveText(x);
      if (text !== undefined) s += leaf(field, text, ctx);
    }
    return s + genericMembers(v, ctx, new Set(["type", field]));
  });
  return entries.some((e) => e !== "") ? name + sorted(entries.filter((e) => e !== "")).join("") : "";
}

/** The pre-hash string of one event (CBV 2.0 unless `options.cbvVersion` says CBV2.1). */
export function eventPreHash(event: unknown, options: EventHashOptions = {}): string {
  if (!isObject(event)) throw new EventHashError("an EPCIS event must be a JSON object");
  const type = event["type"];
  if (typeof type !== "string" || type.trim() === "") throw new EventHashError('an EPCIS event needs a "type" (e.g. "ObjectEvent")');
  const v21 = options.cbvVersion === "CBV2.1";
  const contexts = [options.context, event["@context"]];
  const prefixes = new Map(prefixesOf(contexts));
  if (v21 && prefixes.get("gs1") === GS1_VOC_BASE) prefixes.set("gs1", GS1_VOC_BASE_2_1);
  const ignored = new Set((options.ignoreFields ?? []).map((f) => expandName(f, prefixes)));
  const ctx: Ctx = { prefixes, v21, ignored, depth: 0 };
  const text = (k: string, rule: FieldRule = {}): string => {
    const vals: string[] = [];
    for (const v of items(event[k])) {
      const t = primitiveText(v);
      if (t !== undefined) {
        const s = leaf(k, t, ctx, rule);
        if (s !== "") vals.push(s);
      } else if (isObject(v)) vals.push(...generic(k, v, ctx));
    }
    return sorted(vals).join("");
  };
  const typed = (k: string): string =>
    k === "bizTransactionList"
      ? typedList(k, "bizTransaction", "bizTransactionType", event[k], ctx)
      : k === "sourceList"
        ? typedList(k, "source", "sourceDestType", event[k], ctx)
        : typedList(k, "destination", "sourceDestType", event[k], ctx);
  let out = "eventType=" + strip(type);
  out += text("eventTime", { time: true });
  out += text("eventTimeZoneOffset");
  if (v21) out += epcListField("epcList", event["epcList"], ctx) + text("parentID");
  else out += text("certificationInfo") + text("parentID") + epcListField("epcList", event["epcList"], ctx);
  out += epcListField("inputEPCList", event["inputEPCList"], ctx);
  out += epcListField("childEPCs", event["childEPCs"], ctx);
  out += quantityListField("quantityList", event["quantityList"], ctx);
  out += quantityListField("childQuantityList", event["childQuantityList"], ctx);
  out += quantityListField("inputQuantityList", event["inputQuantityList"], ctx);
  out += epcListField("outputEPCList", event["outputEPCList"], ctx);
  out += quantityListField("outputQuantityList", event["outputQuantityList"], ctx);
  out += text("action");
  out += text("transformationID");
  out += text("bizStep", { vocab: "bizStep" });
  out += text("disposition", { vocab: "disposition" });
  out += persistentDispositionField(event["persistentDisposition"], ctx);
  out += idField("readPoint", event["readPoint"], ctx);
  out += idField("bizLocation", event["bizLocation"], ctx);
  if (v21) for (const k of TYPED_LISTS) out += typed(k);
  out += sensorElementListField(event["sensorElementList"], ctx);
  if (v21 && !ignored.has("ilmd")) out += generic("ilmd", event["ilmd"], ctx).join("");

  const tail: string[] = [];
  const skip = v21 ? ORDERED_2_1 : ORDERED;
  for (const [k, v] of Object.entries(event)) {
    if (skip.has(k) || EVENT_IGNORED.has(k) || COMMENT_KEYS.has(k) || k.startsWith("@")) continue;
    const name = expandName(k, prefixes);
    if (ignored.has(name) || ignored.has(k)) continue;
    if (TYPED_LISTS.includes(k)) tail.push(typed(k));
    else tail.push(...generic(name, v, ctx));
  }
  return out + sorted(tail.filter((s) => s !== "")).join("");
}

const TYPED_LISTS = ["bizTransactionList", "sourceList", "destinationList"];

const ORDERED = new Set([
  "eventTime",
  "eventTimeZoneOffset",
  "certificationInfo",
  "parentID",
  "epcList",
  "inputEPCList",
  "childEPCs",
  "quantityList",
  "childQuantityList",
  "inputQuantityList",
  "outputEPCList",
  "outputQuantityList",
  "action",
  "transformationID",
  "bizStep",
  "disposition",
  "persistentDisposition",
  "readPoint",
  "bizLocation",
  "sensorElementList",
]);
/** CBV 2.1 also places the typed lists and ilmd, and leaves certificationInfo out (the reference's 2.1 exclusions). */
const ORDERED_2_1 = new Set([...ORDERED, ...TYPED_LISTS, "ilmd"]);

// ----------------------------------------------------------------------------- hash IDs

/** SHA-256 of the pre-hash string's UTF-8 bytes, as 0x-prefixed hex. */
export function preHashDigest(preHash: string): string {
  return "0x" + sha256Hex(preHash);
}

/** The hash ID of a digest (0x-prefixed or bare hex), of the CBV 2.0 algorithm unless told otherwise. */
export function hashIdOfDigest(digest: string, version: CbvHashVersion = CBV_VERSION): string {
  const hex = digest.startsWith("0x") ? digest.slice(2) : digest;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new EventHashError(`"${digest}" is not a 32-byte hex digest`);
  return `ni:///sha-256;${hex.toLowerCase()}?ver=${version}`;
}

/**
 * The bytes32 (0x hex) of a CBV event hash ID. Only SHA-256 IDs fit the chain's bytes32; other
 * algorithms and malformed IDs are refused with the reason.
 */
export function digestOfHashId(hashId: string): string {
  const m = HASH_ID.exec(hashId.trim());
  if (!m) {
    if (/^ni:\/\/\/[^;]+;/.test(hashId) && !hashId.startsWith("ni:///sha-256;"))
      throw new EventHashError(`"${hashId}" uses a digest other than sha-256; the chain records SHA-256 event hashes only`);
    throw new EventHashError(`"${hashId}" is not a CBV event hash ID (ni:///sha-256;<64 hex digits>?ver=CBV2.0)`);
  }
  if (m[2] !== CBV_VERSION)
    throw new EventHashError(`"${hashId}" was computed with ${m[2]}; this node computes ${CBV_VERSION} event hashes`);
  return "0x" + m[1]!.toLowerCase();
}

/** The event hash of one event (CBV 2.0 unless `options.cbvVersion` says CBV2.1). */
export function eventHash(event: unknown, options: EventHashOptions = {}, index = 0): EventHash {
  const preHash = eventPreHash(event, options);
  const digest = preHashDigest(preHash);
  return { index, preHash, hashId: hashIdOfDigest(digest, options.cbvVersion), digest };
}

/**
 * The CBV 2.1 hash ID of an event: an alias a partner may have computed, by which the event is
 * found too (never its identity on chain, which stays the CBV 2.0 hash). Undefined when the event
 * cannot be hashed.
 */
export function cbv21HashIdOf(event: unknown, options: Omit<EventHashOptions, "cbvVersion"> = {}): string | undefined {
  try {
    return eventHash(event, { ...options, cbvVersion: "CBV2.1" }).hashId;
  } catch (e) {
    if (e instanceof EventHashError) return undefined;
    throw e;
  }
}

/** The events of an EPCISDocument or EPCISQueryDocument (or a bare event, as a one-element list). */
export function documentEventList(doc: unknown): unknown[] {
  if (!isObject(doc)) throw new EventHashError("an EPCIS document must be a JSON object");
  const body = doc["epcisBody"];
  if (body === undefined && typeof doc["type"] === "string" && doc["type"] !== "EPCISDocument" && doc["type"] !== "EPCISQueryDocument")
    return [doc];
  if (!isObject(body)) throw new EventHashError('an EPCIS document needs an "epcisBody" object');
  if (Array.isArray(body["eventList"])) return body["eventList"];
  const results = body["queryResults"];
  if (isObject(results)) {
    const rb = results["resultsBody"];
    if (isObject(rb) && Array.isArray(rb["eventList"])) return rb["eventList"];
    throw new EventHashError('"epcisBody.queryResults.resultsBody.eventList" must be a list');
  }
  if (isObject(body["event"])) return [body["event"]];
  throw new EventHashError('"epcisBody" has no "eventList" (nor "queryResults" or "event")');
}

/** Fields a document (or its query results) declares to be left out: "<prefix>:ignoreFields". */
export function declaredIgnoreFields(doc: Record<string, unknown>): string[] {
  const out: string[] = [];
  const scan = (o: unknown) => {
    if (!isObject(o)) return;
    for (const [k, v] of Object.entries(o))
      if ((k === "ignoreFields" || k.endsWith(":ignoreFields")) && Array.isArray(v))
        for (const f of v) if (typeof f === "string") out.push(f);
  };
  scan(doc);
  const body = doc["epcisBody"];
  scan(body);
  if (isObject(body)) scan(body["queryResults"]);
  return out;
}

/** The CBV 2.0 event hash of every event of a document, in document order. */
export function documentEventHashes(doc: unknown, options: Omit<EventHashOptions, "context"> = {}): EventHash[] {
  const events = documentEventList(doc);
  const d = doc as Record<string, unknown>;
  const context = d["@context"];
  const ignoreFields = [...declaredIgnoreFields(d), ...(options.ignoreFields ?? [])];
  return events.map((e, i) => eventHash(e, { context, ignoreFields }, i));
}
