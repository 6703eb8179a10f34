/**
 * GS1 query parameters answered by testing each candidate event (rather than from the store's
 * indexes): EQ_action, GE_/LT_recordTime (when this repository recorded the event),
 * EQ_transformationID, EQ_persistentDisposition_set/unset, WD_readPoint / WD_bizLocation, the
 * quantity parameters, the error declaration parameters, EXISTS_sensorElementList, the sensor
 * parameters on sensorMetadata / sensorReport members, and the parameters with flexible names of
 * EPCIS 2.0 section 8.2.7.1: EQ_bizTransaction_<type>, EQ_source_<type>, EQ_destination_<type>, and
 * EQ_ / GT_ / GE_ / LT_ / LE_ / EXISTS_ [INNER_] [ILMD_ | SENSORELEMENT_ | SENSORMETADATA_ |
 * SENSORREPORT_] <fieldname>. A value that cannot be used throws QueryTermError naming the parameter.
 *
 * A fieldname is a field's full IRI (`https://ns.example.com/epcis/myField`), the EPCIS 1.x form
 * `namespace#localName`, or a CURIE with a prefix the event's @context declares; EXISTS_ also takes
 * a standard field's name (EXISTS_bizLocation).
 */
import { cbvUri } from "./cbv.ts";
import { canonicalEpcValue } from "./subjects.ts";
import { TracemeshError } from "../errors.ts";

/** How long a query's page token stays usable (announced in GS1-Next-Page-Token-Expires). */
export const PAGE_TOKEN_LIFETIME_MS = 3_600_000;

export class QueryTermError extends TracemeshError {
  constructor(message: string) {
    super("invalid-query", message);
  }
}

/** What the predicate sees of a stored event. */
export interface TermSubject {
  event: Record<string, unknown>;
  /** ISO 8601: when this repository recorded the event (its recordTime). */
  storedAt: string;
  /** The capturing document's @context (its prefixes name extension fields). */
  context?: unknown;
}

export interface EventTerms {
  /** Parameter names used, with their values, sorted: binds page tokens to these terms too. */
  readonly key: string;
  readonly matches: (e: TermSubject) => boolean;
}

const SENSOR_NUMBERS = ["value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"];
const SENSOR_STRINGS = ["type", "uom", "deviceID", "stringValue", "uriValue", "booleanValue", "hexBinaryValue", "dataProcessingMethod", "microorganism", "chemicalSubstance", "bizRules"];
const SENSOR_TIMES = ["startTime", "endTime"];
const QUANTITY = ["EQ_quantity", "GT_quantity", "GE_quantity", "LT_quantity", "LE_quantity"];

/** Every parameter with a fixed name this module answers. */
export const EVENT_TERM_PARAMETERS: readonly string[] = [
  "EQ_action",
  "GE_recordTime",
  "LT_recordTime",
  "EQ_transformationID",
  "EQ_persistentDisposition_set",
  "EQ_persistentDisposition_unset",
  "WD_readPoint",
  "WD_bizLocation",
  ...QUANTITY,
  "GE_errorDeclarationTime",
  "LT_errorDeclarationTime",
  "EQ_errorReason",
  "EQ_correctiveEventID",
  "EXISTS_sensorElementList",
  ...SENSOR_STRINGS.map((s) => `EQ_${s}`),
  ...SENSOR_NUMBERS.flatMap((n) => [`GE_${n}`, `LT_${n}`]),
  ...SENSOR_TIMES.flatMap((n) => [`GE_${n}`, `LT_${n}`]),
];

/** Parameters with flexible names (EPCIS 2.0 section 8.2.7.1), as answered here. */
const TYPED_LIST = /^EQ_(bizTransaction|source|destination)_(.+)$/;
const FIELD = /^(EQ|GT|GE|LT|LE|EXISTS)_(INNER_)?(ILMD_|SENSORELEMENT_|SENSORMETADATA_|SENSORREPORT_)?(.+)$/;

/** Whether a parameter is one this module answers (a fixed name, or a flexible one). */
export function isEventTermParameter(name: string): boolean {
  if (EVENT_TERM_PARAMETERS.includes(name) || TYPED_LIST.test(name)) return true;
  const m = FIELD.exec(name);
  // An extension's fieldname is qualified (IRI, namespace#local or CURIE); EXISTS_ also takes a standard field.
  return m !== null && (/[:#]/.test(m[4]!) || (m[1] === "EXISTS" && m[2] === undefined && m[3] === undefined && STANDARD_FIELDS.has(m[4]!)));
}

/** Event fields EXISTS_<field> may name unqualified. */
const STANDARD_FIELDS = new Set([
  "eventID", "eventTime", "recordTime", "eventTimeZoneOffset", "certificationInfo", "epcList", "parentID", "childEPCs", "inputEPCList", "outputEPCList",
  "quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList", "action", "transformationID", "bizStep", "disposition",
  "persistentDisposition", "readPoint", "bizLocation", "bizTransactionList", "sourceList", "destinationList", "sensorElementList", "ilmd", "errorDeclaration",
]);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const asList = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
const elementsOf = (event: Record<string, unknown>): Record<string, unknown>[] => asList(event["sensorElementList"]).filter(isObject);
const reportsOf = (event: Record<string, unknown>): Record<string, unknown>[] => elementsOf(event).flatMap((s) => asList(s["sensorReport"]).filter(isObject));
const metadataOf = (event: Record<string, unknown>): Record<string, unknown>[] => elementsOf(event).flatMap((s) => asList(s["sensorMetadata"]).filter(isObject));
const quantitiesOf = (event: Record<string, unknown>): number[] =>
  ["quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"].flatMap((l) =>
    asList(event[l]).flatMap((q) => (isObject(q) && typeof q["quantity"] === "number" ? [q["quantity"]] : [])),
  );
const placeOf = (v: unknown): string | undefined => {
  const id = isObject(v) ? v["id"] : v;
  return typeof id === "string" ? canonicalEpcValue(id) : undefined;
};

function time(param: string, v: string): number {
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new QueryTermError(`${param} must be an ISO 8601 date-time (got "${v}")`);
  return ms;
}

/** The text of a leaf value (JSON-LD value objects and XML text included), else undefined. */
function textOf(v: unknown): string | undefined {
  if (typeof v === "string") return v.trim();
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (isObject(v)) return textOf(v["@value"] ?? v["#text"]);
  return undefined;
}

/** Prefixes an event's @context declares (string values and { "@id" } definitions). */
function prefixesOf(context: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (c: unknown): void => {
    if (Array.isArray(c)) c.forEach(visit);
    else if (isObject(c))
      for (const [k, v] of Object.entries(c)) {
        if (typeof v === "string") out.set(k, v);
        else if (isObject(v) && typeof v["@id"] === "string") out.set(k, v["@id"]);
      }
  };
  visit(context);
  return out;
}

/** The IRI a member name or query fieldname stands for ("ns#local" read as ns + local, CURIEs expanded). */
function iriOf(name: string, prefixes: Map<string, string>): string {
  const hash = /^(.*[^#])#([^#/]+)$/.exec(name);
  if (hash && /^[a-z][a-z0-9+.-]*:\/\//i.test(hash[1]!)) return hash[1]!.replace(/\/?$/, "/") + hash[2];
  const i = name.indexOf(":");
  if (i > 0 && !name.slice(i + 1).startsWith("//")) {
    const ns = prefixes.get(name.slice(0, i));
    if (ns !== undefined) return ns + name.slice(i + 1);
  }
  return name;
}

/** Compares a value with a bound: numbers as numbers, date-times as times, else undefined. */
function compare(v: unknown, bound: string): number | undefined {
  const t = textOf(v);
  if (t === undefined) return undefined;
  const a = Number(t);
  const b = Number(bound);
  if (t !== "" && bound !== "" && Number.isFinite(a) && Number.isFinite(b)) return a - b;
  const ta = Date.parse(t);
  const tb = Date.parse(bound);
  return /\d{4}-\d\d-\d\dT/.test(t) && !Number.isNaN(ta) && !Number.isNaN(tb) ? ta - tb : undefined;
}

/** The values of the members named `field` in `scopes`, and with `inner`, at any depth below them. */
function fieldValues(scopes: readonly Record<string, unknown>[], field: string, inner: boolean, prefixes: Map<string, string>): unknown[] {
  const want = iriOf(field, prefixes);
  const out: unknown[] = [];
  const visit = (o: Record<string, unknown>, depth: number): void => {
    if (depth > 32) return;
    for (const [k, v] of Object.entries(o)) {
      if (k.startsWith("@")) continue;
      if (k === field || iriOf(k, prefixes) === want) out.push(...asList(v));
      if (inner) for (const x of asList(v)) if (isObject(x)) visit(x, depth + 1);
    }
  };
  for (const s of scopes) {
    if (!inner) visit(s, 0);
    // INNER_: nested below the top-level members of the scope, not at its top level.
    else for (const v of Object.values(s)) for (const x of asList(v)) if (isObject(x)) visit(x, 1);
  }
  return out;
}

/** One parameter's test on an event. */
function termOf(param: string, raw: string, list: readonly string[]): (e: TermSubject) => boolean {
  const strings = (vals: unknown[], wanted: ReadonlySet<string>) => vals.some((v) => wanted.has(textOf(v) ?? "\u0000"));
  switch (param) {
    case "EQ_action": {
      const bad = list.find((a) => !["ADD", "OBSERVE", "DELETE"].includes(a));
      if (bad !== undefined) throw new QueryTermError(`EQ_action takes ADD, OBSERVE or DELETE (got "${bad}")`);
      return (e) => list.includes(String(e.event["action"]));
    }
    case "GE_recordTime":
    case "LT_recordTime": {
      const t = time(param, raw);
      return param === "GE_recordTime" ? (e) => Date.parse(e.storedAt) >= t : (e) => Date.parse(e.storedAt) < t;
    }
    case "EQ_transformationID":
      return (e) => list.includes(String(e.event["transformationID"]));
    case "EQ_persistentDisposition_set":
    case "EQ_persistentDisposition_unset": {
      const which = param.endsWith("_set") ? "set" : "unset";
      const wanted = new Set(list.map((d) => cbvUri("disposition", d)));
      return (e) => asList(e.event["persistentDisposition"]).some((p) => isObject(p) && asList(p[which]).some((d) => typeof d === "string" && wanted.has(cbvUri("disposition", d))));
    }
    case "WD_readPoint":
    case "WD_bizLocation": {
      // With descendants: the caller (gateway/routes/epcis.ts) widens the list by the master data's children.
      const wanted = new Set(list.map(canonicalEpcValue));
      const field = param.slice(3);
      return (e) => {
        const p = placeOf(e.event[field]);
        return p !== undefined && wanted.has(p);
      };
    }
    case "EXISTS_sensorElementList": {
      if (!["", "true", "false"].includes(raw)) throw new QueryTermError(`EXISTS_sensorElementList must be true or false (got "${raw}")`);
      const want = raw !== "false";
      return (e) => reportsOf(e.event).length > 0 === want;
    }
    case "GE_errorDeclarationTime":
    case "LT_errorDeclarationTime": {
      const t = time(param, raw);
      const ge = param.startsWith("GE_");
      return (e) => {
        const d = e.event["errorDeclaration"];
        const at = isObject(d) && typeof d["declarationTime"] === "string" ? Date.parse(d["declarationTime"]) : NaN;
        return !Number.isNaN(at) && (ge ? at >= t : at < t);
      };
    }
    case "EQ_errorReason": {
      const wanted = new Set(list.map((r) => cbvUri("errorReason", r)));
      return (e) => {
        const d = e.event["errorDeclaration"];
        return isObject(d) && typeof d["reason"] === "string" && wanted.has(cbvUri("errorReason", d["reason"]));
      };
    }
    case "EQ_correctiveEventID": {
      const wanted = new Set(list);
      return (e) => {
        const d = e.event["errorDeclaration"];
        return isObject(d) && asList(d["correctiveEventIDs"]).some((id) => typeof id === "string" && wanted.has(id));
      };
    }
  }
  if (QUANTITY.includes(param)) {
    const bound = Number(raw);
    if (!Number.isFinite(bound)) throw new QueryTermError(`${param} must be a number (got "${raw}")`);
    const op = param.slice(0, 2);
    return (e) => quantitiesOf(e.event).some((q) => (op === "EQ" ? q === bound : op === "GT" ? q > bound : op === "GE" ? q >= bound : op === "LT" ? q < bound : q <= bound));
  }
  const sensorField = param.slice(3);
  if (param.startsWith("EQ_") && SENSOR_STRINGS.includes(sensorField)) {
    // Measurement types in any spelling: Temperature, gs1:Temperature, https://gs1.org/voc/Temperature.
    const norm = (v: string) => (sensorField === "type" ? cbvUri("measurementType", v) : v);
    const wanted = new Set(list.map(norm));
    return (e) => [...reportsOf(e.event), ...metadataOf(e.event)].some((r) => r[sensorField] !== undefined && wanted.has(norm(String(r[sensorField]))));
  }
  if ((param.startsWith("GE_") || param.startsWith("LT_")) && SENSOR_TIMES.includes(sensorField)) {
    const t = time(param, raw);
    const ge = param.startsWith("GE_");
    return (e) => metadataOf(e.event).some((m) => typeof m[sensorField] === "string" && (ge ? Date.parse(m[sensorField]) >= t : Date.parse(m[sensorField]) < t));
  }
  if ((param.startsWith("GE_") || param.startsWith("LT_")) && SENSOR_NUMBERS.includes(sensorField)) {
    const bound = Number(raw);
    if (!Number.isFinite(bound)) throw new QueryTermError(`${param} must be a number (got "${raw}")`);
    const ge = param.startsWith("GE_");
    return (e) => reportsOf(e.event).some((r) => typeof r[sensorField] === "number" && (ge ? (r[sensorField] as number) >= bound : (r[sensorField] as number) < bound));
  }
  const typed = TYPED_LIST.exec(param);
  if (typed) {
    const [, member, type] = typed as unknown as [string, string, string];
    const vocab = member === "bizTransaction" ? "bizTransactionType" : "sourceDestType";
    const wantType = cbvUri(vocab, type);
    const wanted = new Set(list.map(canonicalEpcValue));
    return (e) =>
      asList(e.event[`${member}List`]).some(
        (x) => isObject(x) && typeof x["type"] === "string" && cbvUri(vocab, x["type"]) === wantType && typeof x[member] === "string" && wanted.has(canonicalEpcValue(x[member])),
      );
  }
  const m = FIELD.exec(param);
  if (!m) throw new QueryTermError(`query parameter \`${param}\` is not one this repository answers`);
  const [, op, inner, scope, field] = m as unknown as [string, string, string | undefined, string | undefined, string];
  const scopesOf = (event: Record<string, unknown>): Record<string, unknown>[] =>
    scope === "ILMD_" ? asList(event["ilmd"]).filter(isObject)
    : scope === "SENSORELEMENT_" ? elementsOf(event)
    : scope === "SENSORMETADATA_" ? metadataOf(event)
    : scope === "SENSORREPORT_" ? reportsOf(event)
    : [event];
  const valuesIn = (e: TermSubject) => fieldValues(scopesOf(e.event), field, inner !== undefined, prefixesOf(e.context ?? e.event["@context"]));
  if (op === "EXISTS") {
    if (!["", "true"].includes(raw)) throw new QueryTermError(`${param} takes no value (or "true"); got "${raw}"`);
    return (e) => valuesIn(e).length > 0;
  }
  if (op === "EQ") return (e) => strings(valuesIn(e), new Set(list));
  if (compare(raw, raw) === undefined) throw new QueryTermError(`${param} must be a number or an ISO 8601 date-time (got "${raw}")`);
  const ok = (c: number) => (op === "GT" ? c > 0 : op === "GE" ? c >= 0 : op === "LT" ? c < 0 : c <= 0);
  return (e) => valuesIn(e).some((v) => {
    const c = compare(v, raw);
    return c !== undefined && ok(c);
  });
}

/**
 * The terms of a request's query (values as given; lists separated by "|"): every parameter in
 * `query` that `isTermParameter` accepts (by default, every one this module answers).
 */
export function eventTerms(query: Readonly<Record<string, string | string[] | undefined>>, isTermParameter: (name: string) => boolean = isEventTermParameter): EventTerms {
  const tests: ((e: TermSubject) => boolean)[] = [];
  const used: string[] = [];
  for (const [param, raw] of Object.entries(query)) {
    if (raw === undefined || !isTermParameter(param)) continue;
    if (Array.isArray(raw)) throw new QueryTermError(`query parameter \`${param}\` is given ${raw.length} times; give it once`);
    used.push(`${param}=${raw}`);
    const list = raw.split("|").map((v) => v.trim());
    if (list.some((v) => v === "") && !param.startsWith("EXISTS_")) throw new QueryTermError(`query parameter \`${param}\` has an empty value`);
    tests.push(termOf(param, raw, list));
  }
  return { key: used.sort().join("&"), matches: (e) => tests.every((t) => t(e)) };
}
