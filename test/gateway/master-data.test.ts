/**
 * EPCIS master data: captured in an EPCISMasterDataDocument or an EPCISDocument's header, served
 * by GET /vocabularies/{vocabulary}; only the holder of an identifier's prefix defines names for
 * it, and a caller reads an element only when it owns it or may read an event naming it.
 */
import { id as keccakId } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalIdentifier, itemKey } from "../../lib/identifiers/canonical.ts";
import { ScopeKind } from "../../lib/registry.ts";
import { type EventsGateway, startEventsGateway } from "../helpers/events-gateway.ts";

const EPCIS_CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
const NAME = "urn:epcglobal:cbv:mda:name";
const OEM_SITE = "urn:epc:id:sgln:0614141.00001.0";
const STEEL_SITE = "urn:epc:id:sgln:4012345.00001.0";
const PRODUCT = canonicalIdentifier("urn:epc:class:lgtin:0614141.112345.L1").replace(/\/10\/.*$/, "");
let h: EventsGateway;

const masterDataDocument = (vocabularyList: unknown[]) => ({ "@context": [EPCIS_CTX], type: "EPCISMasterDataDocument", schemaVersion: "2.0", creationDate: "2024-09-01T00:00:00Z", epcisBody: { vocabularyList } });
const location = (id: string, name: string) => ({
  type: "urn:epcglobal:epcis:vtype:BusinessLocation",
  vocabularyElementList: [{ id, attributes: [{ id: NAME, attribute: name }, { id: "urn:epcglobal:cbv:mda:streetAddressOne", attribute: "1 Foundry Road" }] }],
});
const names = async (vocabulary: string, token: string | undefined, ids?: string[]) => {
  const res = await h.gw.request(`/vocabularies/${vocabulary}${ids ? `?EQ_name=${encodeURIComponent(ids.join("|"))}` : ""}`, { ...(token ? { token } : {}) });
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { names: Record<string, string> }).names;
};

beforeAll(async () => {
  h = await startEventsGateway({ prefixes: { oem: ["0614141"], steel: ["4012345"] } });
}, 120_000);
afterAll(async () => {
  await h?.stop();
});

describe("master data", () => {
  it("captures an EPCISMasterDataDocument of the owner's sites and products, served with names", async () => {
    const doc = masterDataDocument([
      location(OEM_SITE, "OEM assembly plant, hall 1"),
      { type: "urn:epcglobal:epcis:vtype:EPCClass", vocabularyElementList: [{ id: PRODUCT, attributes: [{ id: NAME, attribute: "Pump housing PH-200" }] }] },
    ]);
    const res = await h.post("/capture", JSON.stringify(doc), "application/ld+json");
    expect(res.status, await res.clone().text()).toBe(201);
    expect(await res.json()).toEqual({ vocabularyElements: 2 });
    // Any spelling of the identifier names the same element.
    expect(await names("BusinessLocation", h.oem, [canonicalIdentifier(OEM_SITE)])).toEqual({ [canonicalIdentifier(OEM_SITE)]: "OEM assembly plant, hall 1" });
    expect(await names("EPCClass", h.oem)).toEqual({ [PRODUCT]: "Pump housing PH-200" });
    const full = await (await h.gw.request(`/vocabularies/BusinessLocation?EQ_name=${encodeURIComponent(OEM_SITE)}`, { token: h.oem })).json();
    expect(full).toMatchObject({ type: "EPCISMasterDataDocument", epcisBody: { vocabularyList: [{ type: "urn:epcglobal:epcis:vtype:BusinessLocation", vocabularyElementList: [{ id: canonicalIdentifier(OEM_SITE), attributes: expect.arrayContaining([{ id: "urn:epcglobal:cbv:mda:streetAddressOne", attribute: "1 Foundry Road" }]) }] }] } });
  });

  it("refuses names for identifiers under another organisation's prefix, or under none: nothing is recorded", async () => {
    // The OEM, hostile, renames the steel mill's site: refused whole, its own element included.
    const hostile = masterDataDocument([location(OEM_SITE, "renamed by a hostile document"), location(STEEL_SITE, "Scrap yard")]);
    const res = await h.post("/capture", JSON.stringify(hostile), "application/ld+json");
    expect(res.status).toBe(403);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/may only be defined by the holder of its prefix \(organisation 1\)/);
    expect(await names("BusinessLocation", h.oem, [OEM_SITE])).toEqual({ [canonicalIdentifier(OEM_SITE)]: "OEM assembly plant, hall 1" });
    expect(await names("BusinessLocation", h.oem, [STEEL_SITE])).toEqual({});
    const unowned = await h.post("/capture", JSON.stringify(masterDataDocument([location("urn:epc:id:sgln:9999999.00001.0", "Nobody's")])), "application/ld+json");
    expect(unowned.status).toBe(403);
    expect(((await unowned.json()) as { detail: string }).detail).toMatch(/no organisation holds it/);
    // The steel mill cannot capture at the OEM's node at all; anonymous callers neither.
    const steel = await h.gw.signIn("steel");
    expect((await h.gw.request("/capture", { method: "POST", token: steel, body: JSON.stringify(masterDataDocument([location(STEEL_SITE, "x")])), headers: { "content-type": "application/ld+json" } })).status).toBe(403);
    expect((await h.gw.request("/capture", { method: "POST", body: "{}", headers: { "content-type": "application/ld+json" } })).status).toBe(401);
    // Malformed master data names the place.
    const bad = await h.post("/capture", JSON.stringify(masterDataDocument([{ type: "urn:epcglobal:epcis:vtype:BusinessLocation", vocabularyElementList: [{ id: "not-an-id" }] }])), "application/ld+json");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/vocabularyElementList\/0\/id/);
  });

  it("keeps master data of an EPCISDocument's header with its events; another member reads it only with a grant on an item at that site", async () => {
    const dock = "urn:epc:id:sgln:0614141.00002.0";
    const item = "urn:epc:id:sgtin:0614141.112345.MD1";
    const doc = {
      "@context": [EPCIS_CTX],
      type: "EPCISDocument",
      schemaVersion: "2.0",
      creationDate: "2024-09-01T00:00:00Z",
      epcisHeader: { epcisMasterData: { vocabularyList: [location(dock, "OEM dispatch dock")] } },
      epcisBody: { eventList: [{ type: "ObjectEvent", eventTime: "2024-09-01T10:00:00Z", eventTimeZoneOffset: "+00:00", action: "ADD", bizStep: "commissioning", epcList: [item], bizLocation: { id: dock } }] },
    };
    const job = await h.finished(await h.post("/capture", JSON.stringify(doc), "application/ld+json"));
    expect(job.success, JSON.stringify(job.errors)).toBe(true);
    expect(await names("BusinessLocation", h.oem, [dock])).toEqual({ [canonicalIdentifier(dock)]: "OEM dispatch dock" });

    const steel = await h.gw.signIn("steel");
    expect(await names("BusinessLocation", steel)).toEqual({});
    expect(await names("EPCClass", steel)).toEqual({});
    expect((await h.gw.request("/vocabularies/BusinessLocation")).status).toBe(401);
    const expires = Math.floor(Date.now() / 1000) + 3600;
    await (await h.chain.orgs.oem.contracts.accessGrants.grantAccess(h.chain.orgs.steel.id, ScopeKind.Item, itemKey(item), keccakId("audit"), 0, 0, expires)).wait();
    await expect.poll(() => names("BusinessLocation", steel), { timeout: 10_000, interval: 100 }).toEqual({ [canonicalIdentifier(dock)]: "OEM dispatch dock" });
    // The product of the granted item is named too; the plant, where no readable event happened, is not.
    expect(await names("EPCClass", steel)).toEqual({ [PRODUCT]: "Pump housing PH-200" });
    expect(await names("BusinessLocation", steel, [OEM_SITE])).toEqual({});
  }, 60_000);

  it("answers WD_bizLocation with the descendants master data names (children, transitively)", async () => {
    const hall = "urn:epc:id:sgln:0614141.00003.0";
    const bay = "urn:epc:id:sgln:0614141.00004.0";
    const withChildren = (id: string, children: string[]) => ({ type: "urn:epcglobal:epcis:vtype:BusinessLocation", vocabularyElementList: [{ id, children }] });
    const doc = {
      "@context": [EPCIS_CTX],
      type: "EPCISDocument",
      schemaVersion: "2.0",
      creationDate: "2024-09-02T00:00:00Z",
      epcisHeader: { epcisMasterData: { vocabularyList: [withChildren(OEM_SITE, [hall]), withChildren(hall, [bay])] } },
      epcisBody: { eventList: [{ type: "ObjectEvent", eventTime: "2024-09-02T10:00:00Z", eventTimeZoneOffset: "+00:00", action: "ADD", bizStep: "commissioning", epcList: ["urn:epc:id:sgtin:0614141.112345.WD1"], bizLocation: { id: bay } }] },
    };
    const job = await h.finished(await h.post("/capture", JSON.stringify(doc), "application/ld+json"));
    expect(job.success, JSON.stringify(job.errors)).toBe(true);
    const count = async (query: string) => {
      const res = await h.gw.request(`/events?${query}`, { token: h.oem });
      expect(res.status, await res.clone().text()).toBe(200);
      return ((await res.json()) as { epcisBody: { queryResults: { resultsBody: { eventList: unknown[] } } } }).epcisBody.queryResults.resultsBody.eventList.length;
    };
    expect(await count(`WD_bizLocation=${encodeURIComponent(OEM_SITE)}`)).toBe(1);
    expect(await count(`WD_bizLocation=${encodeURIComponent(hall)}`)).toBe(1);
    expect(await count(`EQ_bizLocation=${encodeURIComponent(OEM_SITE)}`)).toBe(0);
    expect(await count(`WD_bizLocation=${encodeURIComponent("urn:epc:id:sgln:0614141.00002.0")}`)).toBe(1); // the dock's own event only
  }, 60_000);
});
