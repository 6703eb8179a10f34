/**
 * How a stored EPCIS event is handed out (query results, item histories, the peer network's
 * answers): self-contained, so that anyone can recompute its CBV hash from what they received.
 */
import { EPCIS_CONTEXT_URLS } from "./contexts.ts";

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const listOf = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

/**
 * The event as handed out: its declared eventID, or its CBV 2.0 hash ID when it declared none; and,
 * in its own `@context`, the capturing document's context terms before the event's own (so a
 * prefix the document declared still means what it meant when the event was hashed, and the
 * event's own terms still win). The standard EPCIS context URLs are left to the carrying document.
 */
export function publishedEvent(e: { event: Record<string, unknown>; hashId: string; context?: unknown }): Record<string, unknown> {
  const { "@context": own, ...rest } = e.event;
  const body = e.event["eventID"] === undefined ? { ...rest, eventID: e.hashId } : rest;
  const inherited = listOf(e.context).filter((c) => isObject(c) || (typeof c === "string" && !EPCIS_CONTEXT_URLS.includes(c)));
  const context = [...inherited, ...listOf(own)];
  return context.length === 0 ? body : { "@context": context, ...body };
}

/** An EPCISQueryDocument of events as handed out; `extra` joins its queryResults (e.g. subscriptionID). */
export function queryDocument(events: readonly { event: Record<string, unknown>; hashId: string; context?: unknown }[], queryName = "SimpleEventQuery", extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    "@context": [EPCIS_CONTEXT_URLS[0], ...(Object.keys(extra).some((k) => k.startsWith("tm:")) ? [{ tm: "https://tracemesh.dev/ns/epcis/" }] : [])],
    type: "EPCISQueryDocument",
    schemaVersion: "2.0",
    creationDate: new Date().toISOString(),
    epcisBody: { queryResults: { queryName, ...extra, resultsBody: { eventList: events.map(publishedEvent) } } },
  };
}
