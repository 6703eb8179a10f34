/**
 * The chain indexer against a real anvil chain and real LevelDB: after a multi-tier story the
 * index equals the contracts' own views; the traceability queries answer from it; a restart
 * continues without missing or doubling anything.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mayReadItem } from "../../../lib/access.ts";
import { RecordKind } from "../../../lib/registry.ts";
import { recordKindName } from "../../../node/indexer/handlers/values.ts";
import { IndexAccessChecker, IndexQueries, Indexer } from "../../../node/indexer/index.ts";
import { INDEX_LAYOUT, K } from "../../../node/indexer/store.ts";
import { expectIndexEqualsChain, expectSameIndex } from "../../helpers/index-compare.ts";
import { done, eventHash, key, lotKey, ORG_ID, playStory, startStoryChain, type StoryChain, type StoryKeys } from "../../helpers/story.ts";

let s: StoryChain;
let keys: StoryKeys;
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "tm-index-"));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  s = await startStoryChain();
  keys = await playStory(s);
});

afterAll(async () => {
  await s?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("indexer", () => {
  let indexer: Indexer;
  let q: IndexQueries;

  beforeAll(async () => {
    const progress: number[] = [];
    // Small ranges, so the story spans many eth_getLogs pages.
    indexer = await Indexer.open({ provider: s.provider, deployment: s.deployment, store: tempDir(), maxRange: 7, onProgress: (p) => progress.push(p.indexedBlock) });
    const p = await indexer.sync();
    expect(p.indexedBlock).toBe(await s.provider.getBlockNumber());
    expect(p.lag).toBe(0);
    expect(progress.length).toBeGreaterThan(5);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    q = new IndexQueries(indexer.store);
  });

  afterAll(async () => {
    await indexer?.stop();
  });

  it("equals the contracts' own views after the story", async () => {
    await expectIndexEqualsChain(q, s.view, keys);
    expect(indexer.checkpoint.events).toBeGreaterThan(60);
    expect(indexer.checkpoint.hash).toBe((await s.provider.getBlock(indexer.indexedBlock))!.hash);
  });

  it("answers item history in record order, with corrections and batch recalls", async () => {
    const coil1 = await q.history(key("COIL-1"));
    expect(coil1.map((e) => e.kindName)).toEqual(["commission", "ship", "receive", "transform", "recallBatch"]);
    expect(coil1.at(-1)!.via).toBe(lotKey("LOT-A"));
    const ingot = await q.history(key("INGOT-9"));
    expect(ingot.map((e) => e.kindName)).toEqual(["commission", "correction", "recall"]);
    expect(ingot[1]!.corrects).toBe(ingot[0]!.id);
    const engine = await q.history(key("ENGINE-1"));
    expect(engine.map((e) => e.kindName)).toEqual(["commission", "assemble", "disassemble", "inspect", "disposition"]);
    expect((await q.history(key("ENGINE-1"), { after: engine[1]!.id, limit: 2 })).map((e) => e.kindName)).toEqual(["disassemble", "inspect"]);
    expect(await q.history(key("NO-SUCH-ITEM"))).toEqual([]);
    // Observations name items without changing them, registered or not.
    expect((await q.history(key("COIL-3"))).map((e) => e.kindName)).toEqual(["commission", "observation", "recallBatch"]);
    expect((await q.history(key("FOREIGN-1"))).map((e) => [e.kindName, e.org])).toEqual([["observation", ORG_ID.steel]]);
    expect(await q.item(key("FOREIGN-1"))).toBeUndefined();
    // A record kind a later Provenance may append keeps its number.
    expect([recordKindName(RecordKind.Observation), recordKindName(99)]).toEqual(["observation", "kind-99"]);
    expect(await q.shipments(key("COIL-2"))).toMatchObject([{ state: "cancelled", from: ORG_ID.steel, to: ORG_ID.foundry }]);
  });

  it("says what a ship record shipped, to whom and how it stands (the consignee's right in lib/access.ts)", async () => {
    expect(await q.shippedByRecord(eventHash("ship-coil1"), ORG_ID.steel)).toEqual([{ item: key("COIL-1"), to: ORG_ID.foundry, state: "received" }]);
    expect(await q.shippedByRecord(eventHash("ship-coil2"), ORG_ID.steel)).toEqual([{ item: key("COIL-2"), to: ORG_ID.foundry, state: "cancelled" }]);
    // The record is the shipper's alone; another organisation's record of the hash (none here) or a record that shipped nothing gives nothing.
    expect(await q.shippedByRecord(eventHash("ship-coil1"), ORG_ID.foundry)).toEqual([]);
    expect(await q.shippedByRecord(eventHash("cancel-coil2"), ORG_ID.steel)).toEqual([]);
    expect(await q.shippedByRecord(eventHash("no-such-event"), ORG_ID.steel)).toEqual([]);
  });

  it("walks the genealogy backward and forward, with the recall scope", async () => {
    const back = await q.genealogy(key("ENGINE-1"), { direction: "backward" });
    expect(new Set(back.nodes.map((n) => n.key))).toEqual(new Set([key("ENGINE-1"), key("SHAFT-1"), key("CAST-1"), key("COIL-1")]));
    expect(back.edges.map((e) => e.kind).sort()).toEqual(["assembly", "transformation", "transformation"]);
    expect(back.nodes.find((n) => n.key === key("COIL-1"))!.depth).toBe(3);
    // The sensor was taken out again: no edge.
    expect(back.nodes.some((n) => n.key === key("SENSOR-1"))).toBe(false);
    const fwd = await q.genealogy(key("COIL-1"), { direction: "forward" });
    expect(new Set(fwd.nodes.map((n) => n.key))).toEqual(new Set([key("COIL-1"), key("CAST-1"), key("CAST-2"), key("SHAFT-1"), key("ENGINE-1")]));
    // COIL-1 is in recalled lot A: everything forward of it is in the recall scope.
    expect(new Set(fwd.recallScope)).toEqual(new Set(fwd.nodes.map((n) => n.key)));
    const limited = await q.genealogy(key("COIL-1"), { direction: "forward", depth: 1 });
    expect(new Set(limited.nodes.map((n) => n.key))).toEqual(new Set([key("COIL-1"), key("CAST-1"), key("CAST-2")]));
    const capped = await q.genealogy(key("COIL-1"), { direction: "forward", maxNodes: 2 });
    expect(capped.nodes.length).toBe(2);
    expect(capped.truncated).toBe(true);
    // Each part's view, built with the whole graph's (parents and batches read together), is its view on its own.
    for (const g of [back, fwd, await q.genealogy(key("SHAFT-1"))])
      for (const { depth, ...view } of g.nodes) expect({ depth, ...view }).toEqual({ depth, ...(await q.item(view.key)) });
    const scope = await q.recallScope(lotKey("LOT-A"));
    expect(new Set(scope.keys)).toEqual(new Set([key("COIL-1"), key("COIL-2"), key("COIL-3"), key("CAST-1"), key("CAST-2"), key("SHAFT-1"), key("ENGINE-1")]));
    expect(new Set(await q.containedIn(key("CAST-1")))).toEqual(new Set([key("SHAFT-1"), key("ENGINE-1")]));
    expect(await q.containedIn(key("ENGINE-1"))).toEqual([]);
  });

  it("answers lib/access.ts's rule from the index, genealogy grants included", async () => {
    const checker = new IndexAccessChecker(q);
    const scope = async (k: string) => ({ key: k, batchKey: (await q.item(k))!.batch ?? undefined, containedIn: await q.containedIn(k) });
    // The OEM granted the lab the engine with its genealogy: the lab reads the shaft's data (owned by the OEM).
    expect(await mayReadItem(checker, ORG_ID.lab, ORG_ID.oem, await scope(key("SHAFT-1")))).toMatchObject({ allowed: true, via: "grant" });
    // The mill shared lot A with the OEM: coil 3 is covered by the batch grant.
    expect(await mayReadItem(checker, ORG_ID.oem, ORG_ID.steel, await scope(key("COIL-3")))).toMatchObject({ allowed: true, kind: 2 });
    // The ingot grant was revoked; the foundry never had one.
    expect(await mayReadItem(checker, ORG_ID.oem, ORG_ID.steel, await scope(key("INGOT-9")))).toEqual({ allowed: false });
    expect(await mayReadItem(checker, ORG_ID.foundry, ORG_ID.oem, await scope(key("ENGINE-1")))).toEqual({ allowed: false });
    // The same answers as the contract for each underlying question.
    for (const [grantee, owner, k] of [[ORG_ID.lab, ORG_ID.oem, key("ENGINE-1")], [ORG_ID.oem, ORG_ID.steel, key("INGOT-9")], [ORG_ID.oem, ORG_ID.steel, lotKey("LOT-A")]] as const) {
      expect(await checker.isAllowed(grantee, owner, k)).toBe(await s.view.accessGrants.isAllowed(grantee, owner, k));
    }
  });

  it("lists members, open proposals with votes, certificates of a subject and anchors of a node", async () => {
    const members = await q.members();
    expect(members.map((m) => m.name)).toContain("Atlas Motors");
    expect(members.find((m) => m.id === ORG_ID.oem)!.roleNames).toEqual(["supplier", "manufacturer"]);
    const open = await q.openProposals();
    expect(open.map((p) => [p.kindName, p.yes, p.no, p.required])).toEqual([["AddAccount", 1, 1, 5]]);
    expect((await q.recentProposals()).map((p) => p.statusName)).toEqual(["rejected", "open", "executed"]);
    const certs = await q.certificatesOf(key("ENGINE-1"));
    expect(certs.map((c) => c.statusName)).toEqual(["superseded", "valid"]);
    expect(certs[0]!.history.map((h) => h.action)).toEqual(["issued", "suspended", "reinstated", "superseded"]);
    expect(await q.wasAccredited(ORG_ID.lab, certs[0]!.scope, certs[0]!.issuedAt)).toBe(true);
    expect(await q.wasAccredited(ORG_ID.lab, certs[0]!.scope, certs[0]!.issuedAt - 3600)).toBe(false);
    const anchors = await q.anchors(s.nodeAccount);
    expect(anchors.map((a) => [a.sequence, a.leafCount])).toEqual([[1, 5], [2, 7]]);
    expect(anchors[1]!.prevRoot).toBe(anchors[0]!.root);
  });

  it("continues after a restart without missing or doubling anything", async () => {
    const head = await s.provider.getBlockNumber();
    const dir = tempDir();
    // Stop halfway: with this many confirmations the first run ends in the middle of the story.
    const first = await Indexer.open({ provider: s.provider, deployment: s.deployment, store: dir, maxRange: 5, confirmations: Math.floor((head - s.deployment.deploymentBlock) / 2) });
    const mid = (await first.sync()).indexedBlock;
    expect(mid).toBeLessThan(head);
    expect(mid).toBeGreaterThan(s.deployment.deploymentBlock);
    const eventsAtMid = first.checkpoint.events;
    await first.stop();
    const second = await Indexer.open({ provider: s.provider, deployment: s.deployment, store: dir, maxRange: 5 });
    expect(second.indexedBlock).toBe(mid);
    expect(second.checkpoint.events).toBe(eventsAtMid);
    await second.sync();
    expect(second.checkpoint.events).toBe(indexer.checkpoint.events);
    await expectSameIndex(second.store, indexer.store);
    // Syncing again at the head changes nothing.
    await second.sync();
    await expectSameIndex(second.store, indexer.store);
    await second.stop();
  });

  it("refuses an index built for another deployment", async () => {
    const dir = tempDir();
    const a = await Indexer.open({ provider: s.provider, deployment: s.deployment, store: dir });
    await a.stop();
    const other = { ...s.deployment, contracts: { ...s.deployment.contracts, provenance: s.deployment.contracts.certificates } };
    await expect(Indexer.open({ provider: s.provider, deployment: other, store: dir })).rejects.toThrow(/built for chain .* with other contracts/);
  });

  it("rebuilds an index built with an older key layout, so keys added since cover earlier blocks too", async () => {
    const dir = tempDir();
    const first = await Indexer.open({ provider: s.provider, deployment: s.deployment, store: dir });
    await first.sync();
    const outgoing = await new IndexQueries(first.store).shipmentsOf(ORG_ID.steel, "out");
    expect(outgoing.length).toBeGreaterThan(0);
    // What an index of the first layout looks like: no layout key and no shipments by organisation.
    await first.store.db.del(K.layout);
    for await (const k of first.store.db.keys({ gte: "so:", lt: "so;" })) await first.store.db.del(k);
    await first.stop();
    const problems: string[] = [];
    const again = await Indexer.open({ provider: s.provider, deployment: s.deployment, store: dir, onError: (e) => problems.push(e.message) });
    expect(problems).toEqual([expect.stringMatching(/has key layout 1, this version writes 2: rebuilding it from the chain/)]);
    await again.sync();
    expect(await new IndexQueries(again.store).shipmentsOf(ORG_ID.steel, "out")).toEqual(outgoing);
    expect(await again.store.get(K.layout)).toBe(INDEX_LAYOUT);
    await again.stop();
  });

  it("follows new blocks when started", async () => {
    const dir = tempDir();
    const follower = await Indexer.open({ provider: s.provider, deployment: s.deployment, store: dir, pollMs: 50 });
    follower.start();
    const waitFor = async (cond: () => Promise<boolean>) => {
      const deadline = Date.now() + 20_000;
      while (!(await cond())) {
        if (Date.now() > deadline) throw new Error("timed out");
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await waitFor(async () => follower.indexedBlock === (await s.provider.getBlockNumber()));
    const extra = key("LATE-1");
    await done(s.as.steel.provenance.commission(extra, "0x" + "11".repeat(32), "0x" + "22".repeat(32)));
    const q2 = new IndexQueries(follower.store);
    await waitFor(async () => (await q2.item(extra)) !== undefined);
    expect((await q2.item(extra))!.ownerOrg).toBe(ORG_ID.steel);
    await follower.stop();
  });
});
