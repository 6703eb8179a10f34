/**
 * Reorgs on a real anvil chain: blocks the index already applied are replaced (evm_revert and
 * new blocks, anvil_reorg); the index undoes them and follows the new chain, ending equal to a
 * fresh index of it. A reorg deeper than the configured depth stops the indexer with a clear error.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { IndexQueries, Indexer, ReorgTooDeepError } from "../../../node/indexer/index.ts";
import { expectSameIndex } from "../../helpers/index-compare.ts";
import { connectTo, DISP_ACTIVE, done, eventHash, key, ORG_ID, rpc, startStoryChain, type StoryChain } from "../../helpers/story.ts";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "tm-reorg-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let s: StoryChain;
beforeEach(async () => {
  s = await startStoryChain();
});
afterEach(async () => {
  await s?.stop();
});

/** Commissions `serial` as the mill (account 1), then ships it to the foundry. */
async function commissionAndShip(serial: string) {
  const steel = connectTo(s, 1);
  await done(steel.provenance.commission(key(serial), DISP_ACTIVE, eventHash(`c:${serial}`)));
  await done(steel.provenance.ship([key(serial)], ORG_ID.foundry, true, eventHash(`s:${serial}`)));
}

async function freshIndexEquals(indexer: Indexer) {
  const fresh = await Indexer.open({ provider: s.provider, deployment: s.deployment, store: tempDir() });
  await fresh.sync();
  expect(fresh.indexedBlock).toBe(indexer.indexedBlock);
  expect(fresh.checkpoint).toEqual(indexer.checkpoint);
  await expectSameIndex(indexer.store, fresh.store);
  await fresh.stop();
}

describe("indexer reorgs", () => {
  it("undoes replaced blocks after evm_revert and follows the new, longer chain", async () => {
    await commissionAndShip("BASE");
    const indexer = await Indexer.open({ provider: s.provider, deployment: s.deployment, store: tempDir(), reorgDepth: 16 });
    await indexer.sync();
    const snapshot = await rpc<string>(s, "evm_snapshot");
    await commissionAndShip("OLD-1");
    await commissionAndShip("OLD-2");
    await done(connectTo(s, 2).provenance.receiveShipment([key("BASE")], eventHash("r:BASE")));
    await indexer.sync();
    const q = new IndexQueries(indexer.store);
    expect(await q.item(key("OLD-2"))).toBeDefined();
    expect((await q.item(key("BASE")))!.custodianOrg).toBe(ORG_ID.foundry);
    const oldHead = indexer.indexedBlock;

    await rpc(s, "evm_revert", [snapshot]);
    await commissionAndShip("NEW-1");
    await commissionAndShip("NEW-2");
    await commissionAndShip("NEW-3");
    expect(await s.provider.getBlockNumber()).toBeGreaterThan(oldHead);
    await indexer.sync();
    expect(indexer.rewinds).toBe(1);
    expect(await q.item(key("OLD-1"))).toBeUndefined();
    expect(await q.item(key("OLD-2"))).toBeUndefined();
    expect(await q.recordOfEvent(eventHash("r:BASE"))).toBeUndefined();
    expect((await q.item(key("BASE")))!.custodianOrg).toBe(ORG_ID.steel);
    expect((await q.item(key("NEW-3")))!.statusName).toBe("inTransit");
    expect((await q.history(key("BASE"))).map((e) => e.kindName)).toEqual(["commission", "ship"]);
    await freshIndexEquals(indexer);
    await indexer.stop();
  });

  it("notices a shorter replacement chain, and blocks replaced by anvil_reorg", async () => {
    await commissionAndShip("A");
    const indexer = await Indexer.open({ provider: s.provider, deployment: s.deployment, store: tempDir(), reorgDepth: 16 });
    const snapshot = await rpc<string>(s, "evm_snapshot");
    await commissionAndShip("B");
    await indexer.sync();
    // Back to fewer blocks than the index has seen, with one different block on top.
    await rpc(s, "evm_revert", [snapshot]);
    await rpc(s, "evm_mine");
    expect(await s.provider.getBlockNumber()).toBeLessThan(indexer.indexedBlock);
    await indexer.sync();
    const q = new IndexQueries(indexer.store);
    expect(await q.item(key("B"))).toBeUndefined();
    await freshIndexEquals(indexer);

    await commissionAndShip("C");
    await indexer.sync();
    expect(await q.item(key("C"))).toBeDefined();
    // anvil_reorg replaces the last two blocks (C's commission and shipment) with empty ones.
    await rpc(s, "anvil_reorg", [2, []]);
    await indexer.sync();
    expect(indexer.rewinds).toBe(2);
    expect(await q.item(key("C"))).toBeUndefined();
    await freshIndexEquals(indexer);
    await indexer.stop();
  });

  it("stops with ReorgTooDeepError when the replaced blocks go deeper than reorgDepth", async () => {
    const snapshot = await rpc<string>(s, "evm_snapshot");
    for (let i = 0; i < 4; i++) await commissionAndShip(`DEEP-${i}`);
    const fatal: Error[] = [];
    const indexer = await Indexer.open({ provider: s.provider, deployment: s.deployment, store: tempDir(), reorgDepth: 3, pollMs: 20, onFatal: (e) => fatal.push(e) });
    await indexer.sync();
    await rpc(s, "evm_revert", [snapshot]);
    for (let i = 0; i < 10; i++) await rpc(s, "evm_mine");
    await expect(indexer.sync()).rejects.toThrow(ReorgTooDeepError);
    await expect(indexer.sync()).rejects.toThrow(/deeper than the configured depth of 3 blocks/);
    indexer.start();
    const deadline = Date.now() + 10_000;
    while (fatal.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(fatal[0]).toBeInstanceOf(ReorgTooDeepError);
    expect(indexer.fatal).toBe(fatal[0]);
    // The index itself is untouched: still the old chain's last block.
    expect((await new IndexQueries(indexer.store).item(key("DEEP-3")))).toBeDefined();
    await indexer.stop();
  });
});
