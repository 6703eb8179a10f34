/**
 * How an EPCIS event names the plant-floor readings of its process step, so a partner who may
 * read the event gets exactly those readings, each with its Merkle proof and anchor.
 *
 * Tracemesh extension, namespace https://tracemesh.dev/ns/epcis/ (any prefix, declared in the
 * document's @context, e.g. {"tm": "https://tracemesh.dev/ns/epcis/"}). Two equivalent places:
 *
 * 1. on the event, a list of stream windows:
 *      "tm:readings": [{ "tm:stream": "furnace-1/temperature",
 *                        "tm:startTime": "2024-05-01T10:00:00.000Z", "tm:endTime": "2024-05-01T10:05:00.000Z" }]
 * 2. in an EPCIS sensor element, the stream(s) whose readings the element summarises, over the
 *    standard sensorMetadata startTime / endTime:
 *      "sensorElementList": [{ "sensorMetadata": { "startTime": "...", "endTime": "...",
 *                                                  "tm:stream": "furnace-1/temperature" }, "sensorReport": [...] }]
 *
 * A binding means: every reading of that stream (of the capturing organisation's node) whose
 * source time is in [startTime, endTime). Streams are the node's stream ids (lib/reading.ts).
 * Being members of the event, bindings are covered by its CBV 2.0 hash, so the chain fixes which
 * readings belong to the step; the readings themselves are fixed by their anchors.
 */
import { canonicalTimestamp } from "./event-hash.ts";
import { TracemeshError } from "../errors.ts";

export const TRACEMESH_EPCIS_NS = "https://tracemesh.dev/ns/epcis/";

export interface ReadingBinding {
  stream: string;
  /** Unix ms, inclusive. */
  from: number;
  /** Unix ms, exclusive. */
  to: number;
  /** Where the event names it: its own list, or sensor element `index`. */
  source: "event" | { sensorElement: number };
}

/**
 * Whether `binding` names a reading measured at `sourceTime` (Unix ms). A reading belongs to an
 * event by when it was measured, not when it arrived: store-and-forward data (Reading.historical)
 * arrives long after. The one rule for serving bound readings and for keeping them from retention.
 */
export function bindsSourceTime(binding: Pick<ReadingBinding, "from" | "to">, sourceTime: number): boolean {
  return sourceTime >= binding.from && sourceTime < binding.to;
}

export class ReadingBindingError extends TracemeshError {
  constructor(message: string) {
    super("invalid-reading-binding", message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

function prefixes(context: unknown): Map<string, string> {
  const map = new Map<string, string>();
  const visit = (c: unknown): void => {
    if (Array.isArray(c)) c.forEach(visit);
    else if (isObject(c)) for (const [k, v] of Object.entries(c)) if (!k.startsWith("@") && typeof v === "string") map.set(k, v);
  };
  visit(context);
  return map;
}

/** The local name of a member in the Tracemesh namespace ("tm:stream" -> "stream"), else undefined. */
function local(name: string, px: Map<string, string>): string | undefined {
  if (name.startsWith(TRACEMESH_EPCIS_NS)) return name.slice(TRACEMESH_EPCIS_NS.length);
  const i = name.indexOf(":");
  if (i <= 0) return undefined;
  return px.get(name.slice(0, i)) === TRACEMESH_EPCIS_NS ? name.slice(i + 1) : undefined;
}

function member(o: Record<string, unknown>, name: string, px: Map<string, string>, bareToo: boolean): unknown {
  for (const [k, v] of Object.entries(o)) if (local(k, px) === name || (bareToo && k === name)) return v;
  return undefined;
}

function time(v: unknown, what: string): number {
  const c = typeof v === "string" ? canonicalTimestamp(v.trim()) : undefined;
  const ms = c === undefined ? NaN : Date.parse(c);
  if (!Number.isFinite(ms)) throw new ReadingBindingError(`${what} must be a date and time with a UTC offset (got ${JSON.stringify(v)})`);
  return ms;
}

function streams(v: unknown, what: string): string[] {
  const list = typeof v === "string" ? [v] : Array.isArray(v) ? v : [];
  if (list.length === 0 || !list.every((s) => typeof s === "string" && s.trim() !== ""))
    throw new ReadingBindingError(`${what} must name one stream id or a list of them (got ${JSON.stringify(v)})`);
  return list.map((s) => (s as string).trim());
}

/**
 * The reading bindings of an event (as captured) read with its document's @context; [] when it
 * names none. Throws ReadingBindingError for a binding that is malformed.
 */
export function readingBindingsOf(event: Record<string, unknown>, context: unknown): ReadingBinding[] {
  const px = prefixes([context, event["@context"]]);
  const out: ReadingBinding[] = [];
  const range = (from: number, to: number, what: string) => {
    if (!(to > from)) throw new ReadingBindingError(`${what}: endTime must be after startTime`);
  };
  const list = member(event, "readings", px, false);
  if (list !== undefined) {
    if (!Array.isArray(list)) throw new ReadingBindingError("tm:readings must be a list of { tm:stream, tm:startTime, tm:endTime }");
    list.forEach((b, i) => {
      const what = `tm:readings[${i}]`;
      if (!isObject(b)) throw new ReadingBindingError(`${what} must be an object`);
      const from = time(member(b, "startTime", px, true), `${what} startTime`);
      const to = time(member(b, "endTime", px, true), `${what} endTime`);
      range(from, to, what);
      for (const stream of streams(member(b, "stream", px, true), `${what} stream`)) out.push({ stream, from, to, source: "event" });
    });
  }
  const sensors = event["sensorElementList"];
  if (Array.isArray(sensors))
    sensors.forEach((el, i) => {
      const meta = isObject(el) ? el["sensorMetadata"] : undefined;
      if (!isObject(meta)) return;
      const named = member(meta, "stream", px, false);
      if (named === undefined) return;
      const what = `sensorElementList[${i}].sensorMetadata`;
      const from = time(meta["startTime"], `${what}.startTime`);
      const to = time(meta["endTime"], `${what}.endTime`);
      range(from, to, what);
      for (const stream of streams(named, `${what} tm:stream`)) out.push({ stream, from, to, source: { sensorElement: i } });
    });
  return out;
}
