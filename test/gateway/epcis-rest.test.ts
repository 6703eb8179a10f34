/**
 * The GS1 EPCIS 2.0 REST binding's conventions on Tracemesh's routes: the GS1 version headers on
 * every EPCIS answer (and 406 for a version this node does not speak), OPTIONS discovery with the
 * capture limits, and single-event capture by POST /events (201 with the event's Location).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { paths as epcisPaths } from "../../gateway/routes/epcis.ts";
import { paths as identifiersPaths } from "../../gateway/routes/identifiers.ts";
import { paths as queriesPaths } from "../../gateway/routes/queries.ts";
import { documentEventHashes, eventHash } from "../../lib/epcis/event-hash.ts";
import { parseEpcisXml } from "../../lib/epcis/xml.ts";
import { EPCIS_FIXTURES, type EventsGateway, startEventsGateway } from "../helpers/events-gateway.ts";

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

describe("errors as GS1's epcisException types", () => {
  const problem = async (res: Promise<Response>) => {
    const r = await res;
    expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    return { status: r.status, ...((await r.json()) as { type: string; tracemeshType: string; detail: string }) };
  };
  it("answers each refusal with the spec's exception, keeping Tracemesh's type beside it", async () => {
    expect(await problem(h.gw.request("/events"))).toMatchObject({ status: 401, type: "epcisException:SecurityException", tracemeshType: "https://tracemesh.dev/problems/unauthorized" });
    expect(await problem(h.gw.request("/events/urn%3Auuid%3Anone", { token: h.oem }))).toMatchObject({ status: 404, type: "epcisException:NoSuchResourceException" });
    expect(await problem(h.gw.request("/events?perPage=0", { token: h.oem }))).toMatchObject({ status: 400, type: "epcisException:QueryParameterException" });
    expect(await problem(h.gw.request("/events?GE_eventTime=yesterday", { token: h.oem }))).toMatchObject({ status: 400, type: "epcisException:QueryParameterException" });
    expect(await problem(h.gw.request("/events", { token: h.oem, headers: { "GS1-EPCIS-Version": "9" } }))).toMatchObject({ status: 406, type: "epcisException:NotAcceptableException" });
    expect(await problem(h.post("/capture", "x", "text/plain"))).toMatchObject({ status: 415, type: "epcisException:UnsupportedMediaTypeException" });
    expect(await problem(h.post("/capture", "<epcis/>", "application/xml"))).toMatchObject({ status: 400, type: "epcisException:ValidationException" });
    const steel = await h.gw.signIn("steel");
    expect(await problem(h.gw.request("/capture", { method: "POST", token: steel, body: "{}", headers: { "content-type": "application/json" } }))).toMatchObject({ status: 403, type: "epcisException:SecurityException" });
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

/**
 * Where our EPCIS operations differ from GS1's OpenAPI document, each with its reason (the same list
 * is in lib/epcis/README.md). An operation missing from here and from either side fails the test.
 */
const DEVIATIONS: Record<string, string> = {
  "GET /": "the gateway's root is not the EPCIS root (the EPCIS resources sit beside the other Tracemesh routes)",
  "OPTIONS /": "as GET /",
  "DELETE /nextPageToken/{token}": "page tokens are stateless (MAC-checked, bound to the query and the caller): there is nothing to delete",
  "GET /events/{eventID}/readings": "Tracemesh extension: the plant-floor readings an event names, with their proofs",
  "GET /search": "Tracemesh extension: items and lots by a plain serial or lot number, among those named by events the caller may read",
};

describe("our OpenAPI document against GS1's", () => {
  const METHODS = ["get", "post", "put", "delete", "options", "patch", "head"];
  const operations = (p: Record<string, Record<string, unknown>>) => new Set(Object.entries(p).flatMap(([k, v]) => Object.keys(v).filter((m) => METHODS.includes(m)).map((m) => `${m.toUpperCase()} ${k}`)));
  const gs1 = operations((JSON.parse(readFileSync(path.join(EPCIS_FIXTURES, "openapi/openapi.json"), "utf8")) as { paths: Record<string, Record<string, unknown>> }).paths);

  it("differs from GS1's EPCIS operations only where listed, and every listed difference is real", () => {
    const ours = operations(h.gw.gateway.openapi.paths as Record<string, Record<string, unknown>>);
    // Our EPCIS operations are those of the EPCIS, identifier-list and named-query route modules, all served in the document.
    const epcis = operations({ ...epcisPaths, ...identifiersPaths, ...queriesPaths } as Record<string, Record<string, unknown>>);
    for (const op of epcis) expect(ours.has(op), op).toBe(true);
    const differences = [...[...gs1].filter((op) => !epcis.has(op)), ...[...epcis].filter((op) => !gs1.has(op))].sort();
    expect(differences).toEqual(Object.keys(DEVIATIONS).sort());
  });

  it("serves the EPCIS operations GS1 lists that are not deviations", async () => {
    const types = await h.gw.request("/eventTypes", { token: h.oem });
    expect(await types.json()).toMatchObject({ type: "Collection", member: ["ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"] });
    expect(await (await h.gw.request("/dispositions/in_transit", { token: h.oem })).json()).toMatchObject({ member: ["events"] });
    expect((await h.gw.request("/eventTypes/NoSuchEvent", { token: h.oem })).status).toBe(404);
    const byType = await h.gw.request("/eventTypes/ObjectEvent/events?perPage=50", { token: h.oem });
    expect(byType.status).toBe(200);
    const listed = ((await byType.json()) as { epcisBody: { queryResults: { resultsBody: { eventList: { type: string }[] } } } }).epcisBody.queryResults.resultsBody.eventList;
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.every((e) => e.type === "ObjectEvent")).toBe(true);
    expect((await h.gw.request("/readPoints/urn%3Aepc%3Aid%3Asgln%3A0614141.00001.0/events", { token: h.oem })).status).toBe(200);
    expect((await h.gw.request("/bizLocations/urn%3Aepc%3Aid%3Asgln%3A0614141.00001.0/events", { token: h.oem })).status).toBe(200);
  });
});

describe("query parameters tested on each event", () => {
  const list = async (query: string) => {
    const r = await h.gw.request(`/events?${query}`, { token: h.oem });
    expect(r.status, await r.clone().text()).toBe(200);
    const qd = (await r.json()) as { epcisBody: { queryResults: { resultsBody: { eventList: Record<string, unknown>[] } } } };
    return { events: qd.epcisBody.queryResults.resultsBody.eventList, link: r.headers.get("link") };
  };
  const lot = "urn:epc:id:sgtin:0614141.112345.Q";
  it("EQ_action, sensor values and types, EXISTS_sensorElementList, recordTime, eventCountLimit, orderBy", async () => {
    const sensor = (value: number) => [{ sensorMetadata: { deviceID: "urn:epc:id:giai:0614141.1" }, sensorReport: [{ type: "Temperature", value, uom: "CEL" }] }];
    const doc = {
      "@context": [EPCIS_CTX],
      type: "EPCISDocument",
      schemaVersion: "2.0",
      creationDate: "2024-06-01T00:00:00Z",
      epcisBody: { eventList: [event({ action: "ADD", epcList: [`${lot}1`] }), event({ epcList: [`${lot}1`], sensorElementList: sensor(21.5) }), event({ epcList: [`${lot}1`], sensorElementList: sensor(80) })] },
    };
    const before = new Date().toISOString();
    const job = await h.finished(await h.post("/capture", JSON.stringify(doc), "application/ld+json"));
    expect(job.success, JSON.stringify(job.errors)).toBe(true);
    const epc = `MATCH_epc=${encodeURIComponent(`${lot}1`)}`;
    expect((await list(epc)).events).toHaveLength(3);
    expect((await list(`${epc}&EQ_action=ADD`)).events.map((e) => e["action"])).toEqual(["ADD"]);
    expect((await list(`${epc}&EQ_action=ADD|OBSERVE`)).events).toHaveLength(3);
    expect((await list(`${epc}&EXISTS_sensorElementList=true`)).events).toHaveLength(2);
    expect((await list(`${epc}&EXISTS_sensorElementList=false`)).events).toHaveLength(1);
    const hot = (await list(`${epc}&GE_value=50`)).events;
    expect(hot).toHaveLength(1);
    expect(JSON.stringify(hot[0])).toContain('"value":80');
    expect((await list(`${epc}&LT_value=50&EQ_type=gs1:Temperature&EQ_uom=CEL`)).events).toHaveLength(1);
    expect((await list(`${epc}&EQ_type=${encodeURIComponent("https://gs1.org/voc/Humidity")}`)).events).toHaveLength(0);
    expect((await list(`${epc}&GE_recordTime=${encodeURIComponent(before)}`)).events).toHaveLength(3);
    expect((await list(`${epc}&LT_recordTime=${encodeURIComponent(before)}`)).events).toHaveLength(0);
    const limited = await list(`${epc}&eventCountLimit=2&orderBy=eventTime&orderDirection=ASC`);
    expect(limited.events).toHaveLength(2);
    expect(limited.link).toBeNull();
    const paged = await list(`${epc}&perPage=2`);
    expect(paged.link).toMatch(/rel="next"/);
  }, 60_000);

  it("refuses what it cannot answer, naming the parameter", async () => {
    for (const [query, why] of [
      ["orderBy=ex%3Afield", /orderBy "ex:field" is not supported/],
      ["orderDirection=SIDEWAYS", /orderDirection must be ASC or DESC/],
      ["eventCountLimit=0", /eventCountLimit must be a positive integer/],
      ["EQ_action=JUMP", /EQ_action takes ADD, OBSERVE or DELETE/],
      ["GE_value=hot", /GE_value must be a number/],
      ["GE_recordTime=soon", /GE_recordTime must be an ISO 8601 date-time/],
    ] as const) {
      const r = await h.gw.request(`/events?${query}`, { token: h.oem });
      expect(r.status, query).toBe(400);
      const p = (await r.json()) as { type: string; detail: string };
      expect(p.type).toBe("epcisException:QueryParameterException");
      expect(p.detail).toMatch(why);
    }
  });
});
