/**
 * The public passport's owner-chosen fields: the maker of an item chooses, through its own member's
 * gateway (PUT /passport/{id}/fields), which extra fields (product name and description from its
 * master data, production date, lot, country of origin) GET /passport/{id} shows to anyone.
 * Fields not chosen never leave the gateway. Hostile callers: anonymous and forged tokens get 401,
 * another member 403 (it cannot choose for the node's organisation), the node's organisation 403
 * on an item another member made; bad bodies get 400 naming what was wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { id as textHash } from "ethers";
import type { PassportAnswer, PassportFieldsAnswer } from "../../lib/api/trace.ts";
import { canonicalIdentifier, itemKey } from "../../lib/identifiers/canonical.ts";
import { type EventsGateway, startEventsGateway } from "../helpers/events-gateway.ts";
import { DISP_ACTIVE } from "../helpers/story.ts";

const EPCIS_CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
const PUMP = "urn:epc:id:sgtin:0614141.112345.P-0001";
const PUMP_DL = canonicalIdentifier(PUMP);
const PRODUCT = PUMP_DL.replace(/\/21\/.*$/, "");
// Commissioned on chain by the steel mill, not through this node.
const COIL_DL = canonicalIdentifier("urn:epc:id:sgtin:4012345.011111.C-77");
let h: EventsGateway;
let steel: string;

const enc = encodeURIComponent;
const put = (token: string | undefined, id: string, body: unknown) =>
  h.gw.request(`/passport/${enc(id)}/fields`, { method: "PUT", body: JSON.stringify(body), headers: { "content-type": "application/json" }, ...(token ? { token } : {}) });
const passport = async (id: string) => {
  const res = await h.gw.request(`/passport/${enc(id)}`);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return { answer: JSON.parse(text) as PassportAnswer, text };
};

beforeAll(async () => {
  h = await startEventsGateway({ prefixes: { oem: ["0614141"], steel: ["4012345"] } }, { withIndex: true });
  const mda = (id: string, attribute: string) => ({ id: `urn:epcglobal:cbv:mda:${id}`, attribute });
  const doc = {
    "@context": [EPCIS_CTX],
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate: "2026-11-01T00:00:00Z",
    epcisHeader: {
      epcisMasterData: {
        vocabularyList: [
          { type: "urn:epcglobal:epcis:vtype:EPCClass", vocabularyElementList: [{ id: PRODUCT, attributes: [mda("name", "Pump PX-40"), mda("descriptionShort", "Centrifugal pump, cast housing"), mda("countryOfOrigin", "DE")] }] },
        ],
      },
    },
    epcisBody: {
      eventList: [
        { type: "ObjectEvent", eventTime: "2026-11-02T08:00:00Z", eventTimeZoneOffset: "+00:00", action: "ADD", bizStep: "commissioning", epcList: [PUMP], ilmd: { "cbvmda:productionDate": "2026-11-01", "cbvmda:lotNumber": "L-4711" } },
      ],
    },
  };
  const job = await h.finished(await h.post("/capture", JSON.stringify(doc), "application/ld+json"));
  expect(job.success, JSON.stringify(job.errors)).toBe(true);
  const sent = await h.chain.orgs.steel.contracts.provenance.commission(itemKey(COIL_DL), DISP_ACTIVE, textHash("coil commissioning"));
  await sent.wait();
  await h.indexer!.sync();
  steel = await h.gw.signIn("steel");
}, 120_000);
afterAll(async () => {
  await h?.stop();
});

describe("owner-chosen passport fields", () => {
  it("shows nothing extra until the maker chooses; then exactly the chosen fields, to anyone", async () => {
    expect((await passport(PUMP_DL)).answer).not.toHaveProperty("fields");

    const preview = await h.gw.request(`/passport/${enc(PUMP)}/fields`, { token: h.oem });
    expect(preview.status, await preview.clone().text()).toBe(200);
    expect(await preview.json()).toEqual({
      identifier: PUMP_DL,
      chosen: [],
      values: { productName: "Pump PX-40", productDescription: "Centrifugal pump, cast housing", productionDate: "2026-11-01", lot: "L-4711", countryOfOrigin: "DE" },
    } satisfies PassportFieldsAnswer);

    const res = await put(h.oem, PUMP_DL, { fields: ["lot", "productName", "lot"] });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as PassportFieldsAnswer).chosen).toEqual(["productName", "lot"]);

    const { answer, text } = await passport(PUMP_DL);
    expect(answer.fields).toEqual({ productName: "Pump PX-40", lot: "L-4711" });
    // What was not chosen never leaves the gateway.
    for (const secret of ["Centrifugal", "2026-11-01", '"DE"']) expect(text).not.toContain(secret);
    // A visitor with the key only learns no lot: fields need the identifier the label carries.
    expect((await passport(itemKey(PUMP))).answer).not.toHaveProperty("fields");

    // Choosing none takes them all off again.
    expect((await put(h.oem, PUMP_DL, { fields: [] })).status).toBe(200);
    expect((await passport(PUMP_DL)).answer).not.toHaveProperty("fields");
  });

  it("refuses anonymous callers, forged tokens, another member and items another member made", async () => {
    expect((await put(undefined, PUMP_DL, { fields: ["productName"] })).status).toBe(401);
    expect((await put("eyJhbGciOiJIUzI1NiJ9.eyJvcmciOjF9.forged", PUMP_DL, { fields: ["productName"] })).status).toBe(401);
    expect((await h.gw.request(`/passport/${enc(PUMP_DL)}/fields`)).status).toBe(401);
    // The steel mill, a member, cannot choose for the OEM's node, nor read its preview.
    const bySteel = await put(steel, PUMP_DL, { fields: ["productName", "productDescription"] });
    expect(bySteel.status).toBe(403);
    expect((await h.gw.request(`/passport/${enc(PUMP_DL)}/fields`, { token: steel })).status).toBe(403);
    expect((await passport(PUMP_DL)).answer).not.toHaveProperty("fields");
    // The OEM cannot publish fields on the mill's coil.
    const coil = await put(h.oem, COIL_DL, { fields: ["productName"] });
    expect(coil.status).toBe(403);
    expect(((await coil.json()) as { detail: string }).detail).toMatch(/registered by another organisation/);
    expect((await h.gw.request(`/passport/${enc(canonicalIdentifier("urn:epc:id:sgtin:0614141.112345.NEVER"))}/fields`, { token: h.oem })).status).toBe(404);
  });

  it("answers 400 naming what was wrong", async () => {
    const detail = async (res: Response) => {
      expect(res.status).toBe(400);
      return ((await res.json()) as { detail: string }).detail;
    };
    expect(await detail(await put(h.oem, PUMP_DL, { fields: ["recipe"] }))).toMatch(/"recipe".*one of productName/);
    expect(await detail(await put(h.oem, PUMP_DL, { fields: "productName" }))).toMatch(/`fields` must be a list/);
    expect(await detail(await put(h.oem, PUMP_DL, { fields: [], extra: 1 }))).toMatch(/unknown field `extra`/);
    expect(await detail(await put(h.oem, PUMP_DL, [1]))).toMatch(/JSON object/);
    expect(await detail(await put(h.oem, itemKey(PUMP), { fields: [] }))).toMatch(/by its identifier/);
    expect(await detail(await put(h.oem, "not-an-id", { fields: [] }))).toMatch(/not an item id/);
  });
});
