/**
 * The GS1 EPCIS 2.0 REST binding's conventions on Tracemesh's routes: the GS1 version headers on
 * every EPCIS answer (and 406 for a version this node does not speak), OPTIONS discovery with the
 * capture limits, and single-event capture by POST /events (201 with the event's Location).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { documentEventHashes, eventHash } from "../../lib/epcis/event-hash.ts";
import { parseEpcisXml } from "../../lib/epcis/xml.ts";
import { type EventsGateway, startEventsGateway } from "../helpers/events-gateway.ts";

const EPCIS_CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
let h: EventsGateway;
let serial = 0;
const event = (extra: Record<string, unknown> = {}) => ({
  type: "ObjectEvent",
  eventTime: new Date(Date.UTC(2024, 5, 1) + ++serial * 60_000).toISOString(),
  eventTimeZoneOffset: "+00:00",
  action: "OBSERVE",
  epcList: [`urn:epc:id:sgtin:0614141.112345.R${serial}`],
  ...extra,
});

beforeAll(async () => {
  h = await startEventsGateway();
}, 120_000);
afterAll(async () => {
  await h?.stop();
});

describe("GS1 headers and discovery", () => {
  it("answers OPTIONS with the methods, versions, extensions and capture limits", async () => {
    const res = await h.gw.request("/capture", { method: "OPTIONS", token: h.oem });
    expect(res.status).toBe(204);
    expect(res.headers.get("allow")).toBe("OPTIONS, GET, POST");
    expect(res.headers.get("gs1-epcis-version")).toBe("2.0.0");
    expect(res.headers.get("gs1-cbv-version")).toBe("2.0.0");
    expect(res.headers.get("gs1-extensions")).toBe("tm=https://tracemesh.dev/ns/epcis/");
    expect(res.headers.get("gs1-epcis-capture-limit")).toBe(String(h.events.maxCaptureEvents));
    expect(Number(res.headers.get("gs1-epcis-capture-file-size-limit"))).toBeGreaterThan(0);
    const one = await h.gw.request("/events/x", { method: "OPTIONS", token: h.oem });
    expect(one.status).toBe(204);
    expect(one.headers.get("allow")).toBe("OPTIONS, GET");
    expect((await h.gw.request("/capture", { method: "OPTIONS" })).status).toBe(401);
  });

  it("announces the versions on every EPCIS answer, refusals included, and refuses versions it does not speak", async () => {
    const ok = await h.gw.request("/events", { token: h.oem });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("gs1-epcis-version")).toBe("2.0.0");
    const unauthenticated = await h.gw.request("/events");
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get("gs1-epcis-version")).toBe("2.0.0");
    const future = await h.gw.request("/events", { token: h.oem, headers: { "GS1-EPCIS-Version": "3.0" } });
    expect(future.status).toBe(406);
    expect(((await future.json()) as { detail: string }).detail).toMatch(/GS1-EPCIS-Version 3.0 is not supported/);
    expect((await h.gw.request("/events", { token: h.oem, headers: { "GS1-CBV-Version": "1.0" } })).status).toBe(406);
    expect((await h.gw.request("/events", { token: h.oem, headers: { "GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0" } })).status).toBe(200);
  });
});

describe("single-event capture: POST /events", () => {
  it("records one event and answers 201 with its Location, where it reads back re-hashing to its hash ID", async () => {
    const e = { "@context": [EPCIS_CTX, { ex: "https://ns.example.com/x/" }], ...event({ "ex:lot": "L7" }) };
    const res = await h.post("/events", JSON.stringify(e), "application/json");
    expect(res.status, await res.clone().text()).toBe(201);
    const hashId = documentEventHashes({ "@context": e["@context"], type: "EPCISDocument", epcisBody: { eventList: [e] } })[0]!.hashId;
    const body = (await res.json()) as { eventID: string; hashId: string };
    expect(body.hashId).toBe(hashId);
    expect(res.headers.get("location")).toBe(`/events/${encodeURIComponent(hashId)}`);
    const back = await h.gw.request(res.headers.get("location")!, { token: h.oem });
    const qd = (await back.json()) as Record<string, unknown>;
    const served = ((qd["epcisBody"] as { queryResults: { resultsBody: { eventList: Record<string, unknown>[] } } }).queryResults.resultsBody.eventList)[0]!;
    expect(served["ex:lot"]).toBe("L7");
    expect(eventHash(served, { context: qd["@context"] }).hashId).toBe(hashId);
  }, 60_000);

  it("takes the event as XML too (a document of one event)", async () => {
    const xml = `<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2024-06-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent><eventTime>2024-06-02T00:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset><epcList><epc>urn:epc:id:sgtin:0614141.112345.X9</epc></epcList><action>OBSERVE</action></ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>`;
    const res = await h.post("/events", xml, "application/xml");
    expect(res.status, await res.clone().text()).toBe(201);
    expect(((await res.json()) as { hashId: string }).hashId).toBe(documentEventHashes(parseEpcisXml(xml))[0]!.hashId);
  }, 60_000);

  it("refuses more than one event, a non-object, invalid events, and other organisations; nothing recorded", async () => {
    const before = await h.chain.orgs.oem.contracts.provenance.recordCount();
    const two = { "@context": [EPCIS_CTX], type: "EPCISDocument", schemaVersion: "2.0", creationDate: "2024-06-01T00:00:00Z", epcisBody: { eventList: [event(), event()] } };
    const many = await h.post("/events", JSON.stringify(two), "application/ld+json");
    expect(many.status).toBe(400);
    expect(((await many.json()) as { detail: string }).detail).toMatch(/takes one event; this document has 2 events/);
    expect((await h.post("/events", "[]", "application/json")).status).toBe(400);
    const invalid = await h.post("/events", JSON.stringify(event({ action: "DANCE" })), "application/json");
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { detail: string }).detail).toMatch(/action/);
    const steel = await h.gw.signIn("steel");
    expect((await h.gw.request("/events", { method: "POST", token: steel, body: JSON.stringify(event()), headers: { "content-type": "application/json" } })).status).toBe(403);
    expect((await h.gw.request("/events", { method: "POST", body: JSON.stringify(event()), headers: { "content-type": "application/json" } })).status).toBe(401);
    expect(await h.chain.orgs.oem.contracts.provenance.recordCount()).toBe(before);
  });
});
