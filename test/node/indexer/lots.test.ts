/**
 * The chain indexer follows lots by quantity: each holder's quantity on hand and the quantities in
 * transit between two members equal Provenance's own views, through a short receipt, a withdrawal
 * and a holding that runs out; and the lot's history lists every quantity record.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DISP_ACTIVE, ORGS, ORG_ID, type OrgKey, type StoryChain, done, eventHash, lotKey, startStoryChain } from "../../helpers/story.ts";
import { IndexQueries, Indexer } from "../../../node/indexer/index.ts";
import { lotUnitBytes } from "../../../lib/registry.ts";

let s: StoryChain;
let indexer: Indexer;
let q: IndexQueries;
let dir: string;
const KGM = lotUnitBytes("KGM");
const plate = lotKey("PLATE-1");
const bolts = lotKey("BOLTS-1");

beforeAll(async () => {
  s = await startStoryChain();
  const { steel, foundry, oem } = s.as;
  await done(steel.provenance.commissionLot(plate, 1000n, KGM, DISP_ACTIVE, eventHash("lot:commission")));
  await done(steel.provenance.shipLot(plate, 300n, KGM, ORG_ID.foundry, eventHash("lot:ship-1")));
  await done(foundry.provenance.receiveLot(plate, ORG_ID.steel, 290n, KGM, eventHash("lot:receive-1")));
  await done(steel.provenance.shipLot(plate, 50n, KGM, ORG_ID.oem, eventHash("lot:ship-2")));
  await done(steel.provenance.cancelLotShipment(plate, ORG_ID.foundry, 10n, KGM, eventHash("lot:void-1")));
  // The foundry passes on all it holds: its holding runs out.
  await done(foundry.provenance.shipLot(plate, 290n, KGM, ORG_ID.oem, eventHash("lot:ship-3")));
  await done(oem.provenance.receiveLot(plate, ORG_ID.foundry, 290n, KGM, eventHash("lot:receive-3")));
  await done(oem.provenance.commissionLot(bolts, 5000n, lotUnitBytes(""), DISP_ACTIVE, eventHash("lot:bolts")));
  dir = mkdtempSync(path.join(tmpdir(), "tm-index-lots-"));
  indexer = await Indexer.open({ provider: s.provider, deployment: s.deployment, store: dir, maxRange: 3 });
  await indexer.sync();
  q = new IndexQueries(indexer.store);
}, 120_000);

afterAll(async () => {
  await indexer?.stop();
  await s?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("indexed lots by quantity", () => {
  const orgs = ORGS.map((o) => o.key as OrgKey);

  it("equals Provenance's balances and quantities in transit for every pair of members", async () => {
    for (const lot of [plate, bolts])
      for (const a of orgs) {
        expect(await q.lotBalance(lot, ORG_ID[a]), `${a} holds`).toBe((await s.view.provenance.lotBalanceOf(lot, ORG_ID[a])).toString());
        for (const b of orgs) {
          const chain = await s.view.provenance.lotInTransit(lot, ORG_ID[a], ORG_ID[b]);
          const out = (await q.lotsInTransit(ORG_ID[a], "out")).find((t) => t.batch === lot && t.to === ORG_ID[b]);
          const incoming = (await q.lotsInTransit(ORG_ID[b], "in")).find((t) => t.batch === lot && t.from === ORG_ID[a]);
          expect([out?.quantity ?? "0", incoming?.quantity ?? "0"], `${a} -> ${b}`).toEqual([chain.toString(), chain.toString()]);
        }
      }
  });

  it("lists each member's quantity on hand per lot, with the unit, and drops a holding that ran out", async () => {
    expect((await q.lotHoldings(ORG_ID.steel)).map((h) => [h.batch, h.quantity, h.unit])).toEqual([[plate, "660", "KGM"]]);
    expect(await q.lotHoldings(ORG_ID.foundry)).toEqual([]);
    const oem = await q.lotHoldings(ORG_ID.oem);
    expect(new Map(oem.map((h) => [h.batch, [h.quantity, h.unit]]))).toEqual(
      new Map([
        [plate, ["290", "KGM"]],
        [bolts, ["5000", ""]],
      ]),
    );
    expect((await q.lotsInTransit(ORG_ID.oem, "in")).map((t) => [t.from, t.quantity])).toEqual([[ORG_ID.steel, "50"]]);
    expect((await q.batch(plate))?.unit).toBe("KGM");
  });

  it("lists every quantity record in the lot's history", async () => {
    expect((await q.history(plate)).map((e) => e.kindName)).toEqual(["commission", "ship", "receive", "ship", "cancelShipment", "ship", "receive"]);
  });
});
