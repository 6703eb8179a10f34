/**
 * GET /workbench/lots: an organisation's quantity on hand per lot and its lot quantities in
 * transit in and out, from the chain index. Only the organisation that runs the gateway reads
 * them: anonymous callers get 401, another member (even the consignee of a shipment) 403.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MyLotsAnswer } from "../../lib/api/lots.ts";
import { lotUnitBytes } from "../../lib/registry.ts";
import { indexService } from "../../node/indexer/service.ts";
import { type TestGateway, startTestGateway } from "../helpers/gateway.ts";
import { type IndexedStory, startIndexedStory } from "../helpers/indexed-story.ts";
import { DISP_ACTIVE, done, eventHash, lotKey, ORG_ID } from "../helpers/story.ts";

let chain: IndexedStory;
let foundry: TestGateway;
const KGM = lotUnitBytes("KGM");
const sand = lotKey("SAND-3");
const ingots = lotKey("INGOTS-4");

beforeAll(async () => {
  chain = await startIndexedStory(async (story) => {
    const { steel, foundry: f } = story.as;
    await done(f.provenance.commissionLot(sand, 900n, KGM, DISP_ACTIVE, eventHash("wl:sand")));
    await done(f.provenance.shipLot(sand, 100n, KGM, ORG_ID.oem, eventHash("wl:sand-to-oem")));
    await done(steel.provenance.commissionLot(ingots, 40n, lotUnitBytes(""), DISP_ACTIVE, eventHash("wl:ingots")));
    await done(steel.provenance.shipLot(ingots, 12n, lotUnitBytes(""), ORG_ID.foundry, eventHash("wl:ingots-to-foundry")));
    await done(f.provenance.receiveLot(ingots, ORG_ID.steel, 10n, lotUnitBytes(""), eventHash("wl:ingots-received")));
  });
  foundry = await startTestGateway({ chain: chain.tc, node: "foundry", services: { index: indexService(chain.indexer) } });
}, 240_000);

afterAll(async () => {
  await foundry?.stop();
  await chain?.stop();
});

describe("GET /workbench/lots", () => {
  it("answers the foundry's quantity on hand per lot, and what is on its way in and out", async () => {
    const res = await foundry.request("/workbench/lots", { token: await foundry.signIn("foundry") });
    expect(res.status).toBe(200);
    const a = (await res.json()) as MyLotsAnswer;
    expect(a.organisation.id).toBe(ORG_ID.foundry);
    expect(new Map(a.holdings.map((h) => [h.lot, [h.quantity, h.unit]]))).toEqual(
      new Map([
        [sand, ["800", "KGM"]],
        [ingots, ["10", ""]],
      ]),
    );
    // The mill's short delivery: 2 of 12 ingots still in transit, seen by the foundry as incoming.
    expect(a.incoming.map((t) => [t.lot, t.from?.id, t.to?.id, t.quantity])).toEqual([[ingots, ORG_ID.steel, ORG_ID.foundry, "2"]]);
    expect(a.outgoing.map((t) => [t.lot, t.to?.id, t.quantity, t.unit])).toEqual([[sand, ORG_ID.oem, "100", "KGM"]]);
    // No documents at this node: the lots are keys only, never guessed identifiers.
    expect(a.holdings.every((h) => h.identifier === null)).toBe(true);
  });

  it("refuses anonymous callers, other members and unknown parameters", async () => {
    expect((await foundry.request("/workbench/lots")).status).toBe(401);
    for (const who of ["oem", "steel"] as const) {
      const res = await foundry.request("/workbench/lots", { token: await foundry.signIn(who) });
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain(sand.slice(2, 20));
    }
    const bad = await foundry.request("/workbench/lots?limit=1", { token: await foundry.signIn("foundry") });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/unknown query parameter `limit`/);
  });
});
