/**
 * lib/epcis/published.ts: every event as Tracemesh hands it out re-hashes to its eventID by anyone,
 * from nothing but what was handed out (regression: an event with its own @context that used a
 * prefix declared only by its document was served without that prefix).
 */
import { describe, expect, it } from "vitest";
import { documentEventHashes, eventHash } from "../../../lib/epcis/event-hash.ts";
import { publishedEvent } from "../../../lib/epcis/published.ts";

const EPCIS_CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
const base = { type: "ObjectEvent", eventTime: "2024-05-01T10:00:00Z", eventTimeZoneOffset: "+00:00", action: "OBSERVE", epcList: ["urn:epc:id:sgtin:0614141.112345.1"] };

/** Served as in a query document: its own @context only, under the standard context. */
const rehash = (event: Record<string, unknown>) => eventHash(event, { context: [EPCIS_CTX] }).hashId;

describe("publishedEvent", () => {
  it("keeps the document's prefixes for an event with its own @context", () => {
    const event = { "@context": [{ own: "https://own.example.com/" }], ...base, "doc:field": "a", "own:field": "b" };
    const context = [EPCIS_CTX, { doc: "https://doc.example.com/" }];
    const [h] = documentEventHashes({ "@context": context, type: "EPCISDocument", epcisBody: { eventList: [event] } });
    const out = publishedEvent({ event, hashId: h!.hashId, context });
    expect(out["@context"]).toEqual([{ doc: "https://doc.example.com/" }, { own: "https://own.example.com/" }]);
    expect(rehash(out)).toBe(h!.hashId);
    expect(out["eventID"]).toBe(h!.hashId);
    // What was served before: the event's own context alone, which loses "doc:".
    expect(rehash({ ...event })).not.toBe(h!.hashId);
  });

  it("lets the event's own terms win over the document's", () => {
    const event = { "@context": { ex: "https://event.example.com/" }, ...base, "ex:f": "1" };
    const context = [EPCIS_CTX, { ex: "https://document.example.com/" }];
    const [h] = documentEventHashes({ "@context": context, type: "EPCISDocument", epcisBody: { eventList: [event] } });
    expect(rehash(publishedEvent({ event, hashId: h!.hashId, context }))).toBe(h!.hashId);
  });

  it("leaves an event without document terms as it was, with its declared eventID", () => {
    const event = { ...base, eventID: "urn:uuid:7d0e6c5a-7b0e-4c3b-9a53-0d6f6e0c4f11" };
    expect(publishedEvent({ event, hashId: "ni:///x", context: [EPCIS_CTX] })).toEqual(event);
  });
});
