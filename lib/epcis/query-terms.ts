/**
 * GS1 query parameters answered by testing each candidate event (rather than from the store's
 * indexes): EQ_action, GE_/LT_recordTime (when this repository recorded the event),
 * EQ_transformationID, EXISTS_sensorElementList, and the sensor parameters on sensorReport
 * members (EQ_type, EQ_uom, EQ_deviceID, EQ_stringValue, EQ_booleanValue, EQ_uriValue,
 * GE_/LT_ value, minValue, maxValue, meanValue, sDev, percRank, percValue). A value that cannot be
 * used throws QueryTermError naming the parameter.
 */
import { cbvUri } from "./cbv.ts";
import { TracemeshError } from "../errors.ts";

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
}

export interface EventTerms {
  /** Parameter names used, with their values, sorted: binds page tokens to these terms too. */
  readonly key: string;
  readonly matches: (e: TermSubject) => boolean;
}

const SENSOR_NUMBERS = ["value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"];
const SENSOR_STRINGS = ["type", "uom", "deviceID", "stringValue", "uriValue", "booleanValue"];
/** Every parameter this module answers. */
export const EVENT_TERM_PARAMETERS: readonly string[] = [
  "EQ_action",
  "GE_recordTime",
  "LT_recordTime",
  "EQ_transformationID",
  "EXISTS_sensorElementList",
  ...SENSOR_STRINGS.map((s) => `EQ_${s}`),
  ...SENSOR_NUMBERS.flatMap((n) => [`GE_${n}`, `LT_${n}`]),
];

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const reportsOf = (event: Record<string, unknown>): Record<string, unknown>[] =>
  (Array.isArray(event["sensorElementList"]) ? event["sensorElementList"] : []).flatMap((s: unknown) => (isObject(s) && Array.isArray(s["sensorReport"]) ? s["sensorReport"].filter(isObject) : []));

function time(param: string, v: string): number {
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new QueryTermError(`${param} must be an ISO 8601 date-time (got "${v}")`);
  return ms;
}

/** The terms of a request's query (values as given; lists separated by "|"). */
export function eventTerms(query: Readonly<Record<string, string | string[] | undefined>>): EventTerms {
  const tests: ((e: TermSubject) => boolean)[] = [];
  const used: string[] = [];
  for (const param of EVENT_TERM_PARAMETERS) {
    const raw = query[param];
    if (raw === undefined) continue;
    if (Array.isArray(raw)) throw new QueryTermError(`query parameter \`${param}\` is given ${raw.length} times; give it once`);
    used.push(`${param}=${raw}`);
    const list = raw.split("|").map((v) => v.trim());
    if (list.some((v) => v === "")) throw new QueryTermError(`query parameter \`${param}\` has an empty value`);
    if (param === "EQ_action") {
      const bad = list.find((a) => !["ADD", "OBSERVE", "DELETE"].includes(a));
      if (bad !== undefined) throw new QueryTermError(`EQ_action takes ADD, OBSERVE or DELETE (got "${bad}")`);
      tests.push((e) => list.includes(String(e.event["action"])));
    } else if (param === "GE_recordTime" || param === "LT_recordTime") {
      const t = time(param, raw);
      tests.push(param === "GE_recordTime" ? (e) => Date.parse(e.storedAt) >= t : (e) => Date.parse(e.storedAt) < t);
    } else if (param === "EQ_transformationID") tests.push((e) => list.includes(String(e.event["transformationID"])));
    else if (param === "EXISTS_sensorElementList") {
      if (!["", "true", "false"].includes(raw)) throw new QueryTermError(`EXISTS_sensorElementList must be true or false (got "${raw}")`);
      const want = raw !== "false";
      tests.push((e) => reportsOf(e.event).length > 0 === want);
    } else if (param.startsWith("EQ_")) {
      const field = param.slice(3);
      // Measurement types in any spelling: Temperature, gs1:Temperature, https://gs1.org/voc/Temperature.
      const norm = (v: string) => (field === "type" ? cbvUri("measurementType", v) : v);
      const wanted = new Set(list.map(norm));
      tests.push((e) => reportsOf(e.event).some((r) => r[field] !== undefined && wanted.has(norm(String(r[field])))));
    } else {
      const field = param.slice(3);
      const bound = Number(raw);
      if (!Number.isFinite(bound)) throw new QueryTermError(`${param} must be a number (got "${raw}")`);
      const ge = param.startsWith("GE_");
      tests.push((e) => reportsOf(e.event).some((r) => typeof r[field] === "number" && (ge ? (r[field] as number) >= bound : (r[field] as number) < bound)));
    }
  }
  return { key: used.sort().join("&"), matches: (e) => tests.every((t) => t(e)) };
}
