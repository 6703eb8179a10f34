/**
 * EPCIS 2.0 conformance of the query side, against GS1's OpenAPI document
 * (../shared/fixtures/epcis/openapi/openapi.yaml): every query parameter it names is answered, or
 * refused by name as listed in lib/epcis/README.md; CBV 2.1 hash IDs find events; the top-level
 * identifier lists show only what the caller may read; ordering, maxEventCount, and expiring page
 * tokens.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { id as keccakId } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNSUPPORTED_QUERY_PARAMETERS } from "../../gateway/routes/epcis.ts";
import { eventHash } from "../../lib/epcis/event-hash.ts";
import { canonicalIdentifier, itemKey } from "../../lib/identifiers/canonical.ts";
import { ScopeKind } from "../../lib/registry.ts";
import { EPCIS_FIXTURES, type EventsGateway, startEventsGateway } from "../helpers/events-gateway.ts";

// js-yaml ships no type declarations; its one function used here, typed.
const yaml = createRequire(import.meta.url)("js-yaml") as { load(text: string): unknown };
const EPCIS_CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
const CONTEXT = [EPCIS_CTX, { ex: "https://ns.example.com/x/" }];
let h: EventsGateway;
let serial = 0;
const epc = (tag: string) => `urn:epc:id:sgtin:0614141.112345.${tag}`;
const event = (extra: Record<string, unknown> = {}) => ({
  type: "ObjectEvent",
  eventTime: new Date(Date.UTC(2024, 6, 1) + ++serial * 60_000).toISOString(),
  eventTimeZoneOffset: "+00:00",
  action: "ADD",
  bizStep: "commissioning",
  epcList: [epc(`C${serial}`)],
  ...extra,
});
const capture = async (...eventList: Record<string, unknown>[]) => {
  const doc = { "@context": CONTEXT, type: "EPCISDocument", schemaVersion: "2.0", creationDate: "2024-07-01T00:00:00Z", epcisBody: { eventList } };
  const job = await h.finished(await h.post("/capture", JSON.stringify(doc), "application/ld+json"));
  expect(job.success, JSON.stringify(job.errors)).toBe(true);
  return job;
};
type QueryDocument = { epcisBody: { queryResults: { resultsBody: { eventList: Record<string, unknown>[] } } } };
const listOf = async (res: Response) => ((await res.json()) as QueryDocument).epcisBody.queryResults.resultsBody.eventList;
const members = async (res: Response) => {
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { member: string[] }).member;
};

beforeAll(async () => {
  h = await startEventsGateway();
}, 120_000);
afterAll(async () => {
  await h?.stop();
});

describe("CBV 2.1 hash IDs as aliases", () => {
  it("finds an event by the CBV 2.1 hash ID a partner computed: GET /events/{id}, EQ_eventID; never for another member", async () => {
    const e = event({ readPoint: { id: "urn:epc:id:sgln:0614141.00001.0", "ex:dock": "7" }, sensorElementList: [{ sensorReport: [{ type: "Temperature", value: 21, uom: "CEL" }] }] });
    const job = await capture(e);
    const v20 = job.results![0]!.hashId;
    const v21 = eventHash(e, { context: CONTEXT, cbvVersion: "CBV2.1" }).hashId;
    expect(v21).toMatch(/\?ver=CBV2\.1$/);
    expect(v21.slice(0, 78)).not.toBe(v20.slice(0, 78));
    const byAlias = await h.gw.request(`/events/${encodeURIComponent(v21)}`, { token: h.oem });
    expect(byAlias.status, await byAlias.clone().text()).toBe(200);
    const served = (await listOf(byAlias))[0]!;
    expect(eventHash(served, { context: CONTEXT }).hashId).toBe(v20);
    expect(await listOf(await h.gw.request(`/events?EQ_eventID=${encodeURIComponent(v21)}`, { token: h.oem }))).toHaveLength(1);
    // Another member without a grant, and an anonymous caller, learn nothing by the alias.
    const steel = await h.gw.signIn("steel");
    expect((await h.gw.request(`/events/${encodeURIComponent(v21)}`, { token: steel })).status).toBe(404);
    expect(await listOf(await h.gw.request(`/events?EQ_eventID=${encodeURIComponent(v21)}`, { token: steel }))).toHaveLength(0);
    expect((await h.gw.request(`/events/${encodeURIComponent(v21)}`)).status).toBe(401);
  }, 60_000);
});

describe("top-level identifier lists", () => {
  it("lists EPCs, business steps, locations, read points and dispositions the caller may read, and nothing else", async () => {
    const granted = epc("G1");
    const hidden = epc("H1");
    const place = "urn:epc:id:sgln:0614141.00009.0";
    await capture(event({ epcList: [granted] }), event({ epcList: [hidden], bizLocation: { id: place }, readPoint: { id: place }, disposition: "active" }));
    const oemEpcs = await members(await h.gw.request("/epcs?perPage=1000", { token: h.oem }));
    expect(oemEpcs).toEqual(expect.arrayContaining([canonicalIdentifier(granted), canonicalIdentifier(hidden)]));
    expect(await members(await h.gw.request("/bizSteps", { token: h.oem }))).toContain("commissioning");
    expect(await members(await h.gw.request("/dispositions", { token: h.oem }))).toContain("active");
    expect(await members(await h.gw.request("/bizLocations", { token: h.oem }))).toContain(canonicalIdentifier(place));
    expect(await members(await h.gw.request("/readPoints", { token: h.oem }))).toContain(canonicalIdentifier(place));

    // Another member sees nothing without a grant; with a grant on one item, that item only.
    const steel = await h.gw.signIn("steel");
    for (const r of ["epcs", "bizSteps", "bizLocations", "readPoints", "dispositions"]) expect(await members(await h.gw.request(`/${r}`, { token: steel })), r).toEqual([]);
    const expires = Math.floor(Date.now() / 1000) + 3600;
    await (await h.chain.orgs.oem.contracts.accessGrants.grantAccess(h.chain.orgs.steel.id, ScopeKind.Item, itemKey(granted), keccakId("audit"), 0, 0, expires)).wait();
    await expect.poll(async () => members(await h.gw.request("/epcs", { token: steel })), { timeout: 10_000, interval: 100 }).toEqual([canonicalIdentifier(granted)]);
    expect(await members(await h.gw.request("/bizLocations", { token: steel }))).toEqual([]);
    expect(await members(await h.gw.request("/dispositions", { token: steel }))).toEqual([]);
    // Anonymous: refused.
    expect((await h.gw.request("/epcs")).status).toBe(401);
  }, 60_000);

  it("pages by the last identifier listed and refuses other parameters", async () => {
    await capture(event(), event(), event());
    const first = await h.gw.request("/epcs?perPage=2", { token: h.oem });
    const page1 = await members(first);
    expect(page1).toHaveLength(2);
    const next = first.headers.get("link")!;
    expect(next).toMatch(/rel="next"/);
    const page2 = await members(await h.gw.request(next.slice(1, next.indexOf(">")), { token: h.oem }));
    expect(page2[0]! > page1[1]!).toBe(true);
    expect((await h.gw.request("/epcs?MATCH_epc=x", { token: h.oem })).status).toBe(400);
    expect((await h.gw.request("/epcs?nextPageToken=%25%25", { token: h.oem })).status).toBe(400);
  }, 60_000);
});

describe("every query parameter of GS1's OpenAPI document", () => {
  type Parameter = { name: string; in: string; schema?: { type?: string; format?: string; enum?: string[]; items?: { type?: string } } };
  const doc = yaml.load(readFileSync(path.join(EPCIS_FIXTURES, "openapi/openapi.yaml"), "utf8")) as { paths: Record<string, Record<string, { parameters?: ({ $ref: string } | Parameter)[] }>>; components: { parameters: Record<string, Parameter> } };
  const resolve = (p: { $ref: string } | Parameter): Parameter => ("$ref" in p ? doc.components.parameters[p.$ref.split("/").pop()!]! : p);
  const parameters = new Map<string, Parameter>();
  for (const item of Object.values(doc.paths))
    for (const op of Object.values(item)) for (const p of (op && typeof op === "object" && Array.isArray(op.parameters) ? op.parameters : []).map(resolve)) if (p.in === "query") parameters.set(p.name, p);
  const readme = readFileSync(new URL("../../lib/epcis/README.md", import.meta.url), "utf8");

  /** A value of the parameter's type, as a partner would send it. */
  const sample = (p: Parameter): string => {
    const s = p.schema ?? {};
    if (s.enum) return s.enum[0]!;
    const fixed: Record<string, string> = { EQ_action: "OBSERVE", eventType: "ObjectEvent", perPage: "5", eventCountLimit: "5", maxEventCount: "1000", orderBy: "recordTime", orderDirection: "DESC" };
    if (fixed[p.name]) return fixed[p.name]!;
    if (s.format === "date-time" || /Time$/.test(p.name)) return "2024-01-01T00:00:00.000Z";
    if (s.type === "integer" || s.type === "number" || /_quantity$/.test(p.name)) return "1";
    if (s.type === "boolean" || p.name.startsWith("EXISTS_")) return "true";
    return "urn:epc:id:sgtin:0614141.112345.NONE";
  };

  it("reads dozens of parameters from the document", () => {
    expect(parameters.size).toBeGreaterThan(50);
  });

  it("answers each one, or refuses it by name as the README lists it", async () => {
    const unanswered: string[] = [];
    for (const p of parameters.values()) {
      if (p.name === "nextPageToken") continue; // needs a token from a previous page: below
      const res = await h.gw.request(`/events?${p.name}=${encodeURIComponent(sample(p))}`, { token: h.oem });
      const why = UNSUPPORTED_QUERY_PARAMETERS[p.name];
      if (why === undefined) {
        if (res.status !== 200) unanswered.push(`${p.name}: ${res.status} ${await res.text()}`);
        continue;
      }
      expect(res.status, p.name).toBe(400);
      const problem = (await res.json()) as { type: string; detail: string };
      expect(problem, p.name).toMatchObject({ type: "epcisException:QueryParameterException" });
      expect(problem.detail).toContain(p.name);
      expect(readme, `${p.name} is listed in lib/epcis/README.md`).toContain(`\`${p.name}\``);
    }
    expect(unanswered).toEqual([]);
    // Every deliberately unsupported parameter is one of GS1's, not an invention.
    for (const name of Object.keys(UNSUPPORTED_QUERY_PARAMETERS)) expect(parameters.has(name), name).toBe(true);
  }, 120_000);

  it("refuses a parameter no EPCIS version defines, naming it", async () => {
    const res = await h.gw.request("/events?colour=red", { token: h.oem });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/unknown query parameter `colour`/);
  });
});

describe("parameters with flexible names, ordering, maxEventCount, page token expiry", () => {
  it("answers EQ_/GT_/EXISTS_ on extension fields, INNER_, ILMD_, typed lists, quantities, persistent dispositions, input/output classes", async () => {
    const lot = epc("FLEX");
    await capture(
      event({ epcList: [lot], "ex:grade": "A", "ex:batch": { "ex:heat": 42 }, bizTransactionList: [{ type: "po", bizTransaction: "urn:epc:id:gdti:0614141.00001.PO7" }], persistentDisposition: { set: ["completeness_verified"] } }),
      event({ action: "OBSERVE", bizStep: "inspecting", epcList: [lot], "ex:grade": "B", quantityList: [{ epcClass: "urn:epc:class:lgtin:0614141.112345.L1", quantity: 12, uom: "KGM" }] }),
      event({ type: "TransformationEvent", action: undefined, bizStep: "commissioning", epcList: undefined, inputQuantityList: [{ epcClass: "urn:epc:class:lgtin:0614141.112345.IN", quantity: 3 }], outputEPCList: [epc("FLEXOUT")], ilmd: { "ex:melt": "M9" } }),
    );
    const q = async (query: string) => {
      const res = await h.gw.request(`/events?${query}`, { token: h.oem });
      expect(res.status, `${query}: ${await res.clone().text()}`).toBe(200);
      return listOf(res);
    };
    const m = `MATCH_anyEPC=${encodeURIComponent(lot)}`;
    expect(await q(`${m}&EQ_ex:grade=A`)).toHaveLength(1);
    expect(await q(`${m}&EQ_${encodeURIComponent("https://ns.example.com/x#grade")}=B`)).toHaveLength(1);
    expect(await q(`${m}&EXISTS_ex:batch`)).toHaveLength(1);
    expect(await q(`${m}&GT_INNER_ex:heat=41`)).toHaveLength(1);
    expect(await q(`${m}&GT_INNER_ex:heat=42`)).toHaveLength(0);
    expect(await q(`${m}&EQ_bizTransaction_po=${encodeURIComponent("urn:epc:id:gdti:0614141.00001.PO7")}`)).toHaveLength(1);
    expect(await q(`${m}&EQ_bizTransaction_inv=${encodeURIComponent("urn:epc:id:gdti:0614141.00001.PO7")}`)).toHaveLength(0);
    expect(await q(`${m}&EQ_persistentDisposition_set=completeness_verified`)).toHaveLength(1);
    expect(await q(`${m}&GE_quantity=12`)).toHaveLength(1);
    expect(await q(`${m}&LT_quantity=12`)).toHaveLength(0);
    expect(await q(`EQ_ILMD_ex:melt=M9`)).toHaveLength(1);
    expect(await q(`MATCH_inputEPCClass=${encodeURIComponent("urn:epc:class:lgtin:0614141.112345.IN")}`)).toHaveLength(1);
    expect(await q(`MATCH_outputEPCClass=${encodeURIComponent("urn:epc:class:lgtin:0614141.112345.IN")}`)).toHaveLength(0);
    for (const [query, why] of [
      [`GT_ex:grade=high`, /GT_ex:grade must be a number or an ISO 8601 date-time/],
      [`eventCountLimit=2&maxEventCount=2`, /cannot be used together/],
      [`EXISTS_ex:grade=maybe`, /takes no value/],
    ] as const) {
      const res = await h.gw.request(`/events?${query}`, { token: h.oem });
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { detail: string }).detail).toMatch(why);
    }
  }, 60_000);

  it("orders by eventTime or recordTime, either direction, paged; maxEventCount refuses a larger answer", async () => {
    const tag = "ORD";
    const times = ["2024-08-01T03:00:00Z", "2024-08-01T01:00:00Z", "2024-08-01T02:00:00Z"];
    for (const t of times) await capture({ ...event({ epcList: [epc(tag)] }), eventTime: t, action: "OBSERVE" });
    const m = `MATCH_epc=${encodeURIComponent(epc(tag))}`;
    const at = (list: Record<string, unknown>[]) => list.map((e) => e["eventTime"]);
    expect(at(await listOf(await h.gw.request(`/events?${m}&orderDirection=DESC`, { token: h.oem })))).toEqual([times[0], times[2], times[1]]);
    // Recorded in capture order: 03:00, 01:00, 02:00.
    expect(at(await listOf(await h.gw.request(`/events?${m}&orderBy=recordTime`, { token: h.oem })))).toEqual(times);
    const first = await h.gw.request(`/events?${m}&orderBy=recordTime&orderDirection=DESC&perPage=2`, { token: h.oem });
    expect(at(await listOf(first))).toEqual([times[2], times[1]]);
    const link = first.headers.get("link")!;
    expect(Date.parse(first.headers.get("gs1-next-page-token-expires")!)).toBeGreaterThan(Date.now());
    expect(at(await listOf(await h.gw.request(link.slice(1, link.indexOf(">")), { token: h.oem })))).toEqual([times[0]]);
    // The token is bound to its caller and query.
    const steel = await h.gw.signIn("steel");
    expect((await h.gw.request(link.slice(1, link.indexOf(">")), { token: steel })).status).toBe(400);
    expect((await h.gw.request(`/events?${m}&maxEventCount=3`, { token: h.oem })).status).toBe(200);
    const tooMany = await h.gw.request(`/events?${m}&maxEventCount=2`, { token: h.oem });
    expect(tooMany.status).toBe(413);
    expect(((await tooMany.json()) as { type: string }).type).toBe("epcisException:QueryTooLargeException");
    // The default order pages through the store, with the expiry announced too.
    const paged = await h.gw.request(`/events?${m}&perPage=1`, { token: h.oem });
    expect(paged.headers.get("link")).toMatch(/rel="next"/);
    expect(Date.parse(paged.headers.get("gs1-next-page-token-expires")!)).toBeGreaterThan(Date.now());
  }, 60_000);
});
