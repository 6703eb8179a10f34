/**
 * Windows lost before they were anchored, on a real anvil: closed windows that the node never
 * anchored are lost from its store (a damaged store, then `repair`); the restarted node records
 * them on chain as lost (DataAnchors.recordLostWindows) instead of waiting for them forever,
 * anchors on after them, and says so in its log, status, metrics and audit. A node that crashed
 * after recording them finds the record on chain and does not send it again.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { DataAnchors__factory } from "../../../lib/contracts/types/index.js";
import type { Reading } from "../../../lib/reading.ts";
import { contractAnchorView } from "../../../lib/verify-reading.ts";
import { Anchorer } from "../../../node/chain/anchorer.ts";
import { AnchorChain, ChainClient } from "../../../node/chain/client.ts";
import { IngestPipeline } from "../../../node/ingest/pipeline.ts";
import { ProofService } from "../../../node/ingest/proofs.ts";
import { repairDataDir } from "../../../node/ingest/repair.ts";
import { IngestStore, type Op, keys } from "../../../node/ingest/store.ts";
import { nodeMetrics } from "../../../node/metrics.ts";
import type { NodeStatus } from "../../../node/daemon.ts";
import { useAnvilAnchors } from "../../helpers/anchor-chains.ts";

const reading = (stream: string, value: number): Reading => ({ stream, metric: "load", unit: "%", value, sourceTime: Date.now(), quality: "good" });

describe("windows lost from the store before they were anchored", () => {
  const env = useAnvilAnchors();
  const { cleanups } = env;

  const anchorsOf = (signer: Wallet) => DataAnchors__factory.connect(env.chain.deployment.contracts.dataAnchors, signer.connect(env.provider));

  /** A data directory whose reading store is `<dir>/db`, as the daemon lays it out. */
  function dataDir(): string {
    const dir = mkdtempSync(path.join(tmpdir(), "tracemesh-lost-windows-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /** The store and pipeline in `dir`, and with `signer` an anchorer, started. */
  async function node(dir: string, signer?: Wallet) {
    const store = await IngestStore.open(path.join(dir, "db"));
    const pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 1), { windowMs: 3_600_000 });
    const logs: string[] = [];
    let anchorer: Anchorer | undefined;
    if (signer) {
      const client = new ChainClient(env.provider, { pollMs: 20, receiptTimeoutMs: 5_000 });
      const anchorChain = await AnchorChain.create(client, env.chain.deployment.contracts.dataAnchors, signer.connect(env.provider));
      anchorer = new Anchorer(store, pipeline, anchorChain, { retry: { minMs: 20, maxMs: 200 }, log: (m) => logs.push(m) });
      pipeline.on("window", () => anchorer!.notify());
      await anchorer.start();
    }
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      await anchorer?.stop();
      await pipeline.stop();
      await store.close();
    };
    cleanups.push(stop);
    const closeWindows = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await pipeline.write([reading("press-1/force", i), reading("press-2/force", i)]);
        await pipeline.closeWindow();
        await new Promise((r) => setTimeout(r, 3)); // windows need a later end than the last
      }
    };
    return { store, pipeline, anchorer, logs, closeWindows, stop };
  }

  /** Windows 1..2 anchored, 3..5 closed while the chain was not reached, then 3..4 lost from the store (their record and readings). */
  async function damagedNode(signer: Wallet) {
    const dir = dataDir();
    const first = await node(dir, signer);
    await first.closeWindows(2);
    await first.anchorer!.anchoredUpTo(2);
    await first.stop();
    const offline = await node(dir);
    await offline.closeWindows(3);
    const ops: Op[] = [];
    for (const w of [3, 4]) {
      const record = (await offline.store.window(w))!;
      ops.push({ type: "del", key: keys.window(w) });
      for (let part = 0; part < record.parts; part++) ops.push({ type: "del", key: keys.chunk(w, part) });
    }
    await offline.store.write(ops);
    await offline.stop();
    return dir;
  }

  it("a restarted node records the lost run on chain, anchors on after it, and shows it in its log, status, metrics and audit", async () => {
    const signer = env.chain.orgs.steel.signer;
    const dir = await damagedNode(signer);

    const report = await repairDataDir(dir);
    expect(report.windows.damaged.map((d) => [d.sequence, d.anchored])).toEqual([
      [3, false],
      [4, false],
    ]);
    expect(report.left.join("\n")).toMatch(/windows 3, 4 were lost before they were anchored: when it starts, the node records them on chain as lost/);

    const n = await node(dir, signer);
    const lost = new Promise((r) => n.anchorer!.once("windowsLost", r));
    await n.anchorer!.anchoredUpTo(5);
    expect(await lost).toMatchObject({ fromSequence: 3, toSequence: 4 });

    // On chain: 3 has no anchor, 4 is the run's leafless record naming the root window 5 extends, then 5.
    const anchors = anchorsOf(signer);
    const w5 = (await n.store.window(5))!;
    expect(await anchors.lastSequence(signer.address)).toBe(5n);
    const end = await anchors.getAnchor(signer.address, 4);
    expect([end.root, end.leafCount, end.fromTimeMs, end.toTimeMs]).toEqual([w5.prevRoot, 0n, BigInt((await n.store.window(2))!.toTimeMs), BigInt(w5.fromTimeMs)]);
    await expect(anchors.getAnchor(signer.address, 3)).rejects.toThrow();
    expect((await anchors.getAnchor(signer.address, 5)).root).toBe(w5.root);
    const events = await anchors.queryFilter(anchors.filters.WindowsLost(signer.address));
    expect(events.map((e) => [e.args.fromSequence, e.args.toSequence])).toEqual([[3n, 4n]]);

    // The operator's view: a log line, the status, the store's receipts, the metric.
    expect(n.logs.join("\n")).toMatch(/WINDOWS LOST: closed windows 3\.\.4 are missing from the store and were never anchored.*anchoring goes on with window 5/);
    expect(n.logs.join("\n")).not.toMatch(/ANCHORING STOPPED/);
    const status = n.anchorer!.status();
    expect(status).toMatchObject({ lastAnchored: 5, pendingWindows: 0, lost: { windows: 2, runs: [{ fromSequence: 3, toSequence: 4, txHash: events[0]!.transactionHash }] } });
    expect(await n.store.anchorReceipt(3)).toMatchObject({ sequence: 3, lost: true, txHash: events[0]!.transactionHash });
    expect((await n.store.anchorReceipt(5))!.lost).toBeUndefined();
    const metrics = nodeMetrics({ status: () => ({ ingest: { timing: [] }, adapters: [], windows: {}, anchoring: { lost: status.lost } }) as unknown as NodeStatus, streamReadings: () => new Map(), chainHead: async () => null });
    expect(await metrics.getSingleMetricAsString("tracemesh_node_windows_lost_before_anchoring")).toMatch(/^tracemesh_node_windows_lost_before_anchoring 2$/m);

    // Anchoring goes on.
    await n.closeWindows(1);
    await n.anchorer!.anchoredUpTo(6);
    expect(await anchors.lastSequence(signer.address)).toBe(6n);

    // The auditor sees windows 3 and 4 as lost, not as pending or failing, and verifies the rest.
    const audit = await new ProofService(n.store, signer.address).audit(contractAnchorView(DataAnchors__factory.connect(env.chain.deployment.contracts.dataAnchors, env.provider)));
    expect(audit).toMatchObject({ lost: [3, 4], unanchored: [], failures: [], windows: 4, verified: 8 });

    // A restart keeps the record, and sends nothing again.
    await n.stop();
    const again = await node(dir, signer);
    await again.closeWindows(1);
    await again.anchorer!.anchoredUpTo(7);
    expect(again.anchorer!.status().lost).toEqual(status.lost);
    expect(await anchors.queryFilter(anchors.filters.WindowsLost(signer.address))).toHaveLength(1);
  }, 90_000);

  it("a chain that loses the record of the lost run (a reset) gets it again, in order, with the windows after it", async () => {
    const signer = env.chain.orgs.foundry.signer;
    const dir = await damagedNode(signer);
    const snapshot = (await env.provider.send("evm_snapshot", [])) as string; // windows 1..2 anchored
    const n = await node(dir, signer);
    await n.anchorer!.anchoredUpTo(5);
    expect(n.anchorer!.status().lost?.windows).toBe(2);

    await env.provider.send("evm_revert", [snapshot]);
    const recovered = new Promise((r) => n.anchorer!.once("anchorsLost", r));
    await n.closeWindows(1); // window 6: the chain expects 3
    expect(await recovered).toMatchObject({ chainLast: 2, lostUpTo: 5 });
    while (n.anchorer!.status().lastAnchored < 6) await new Promise((r) => setTimeout(r, 20));

    const anchors = anchorsOf(signer);
    expect(await anchors.lastSequence(signer.address)).toBe(6n);
    expect((await anchors.getAnchor(signer.address, 4)).leafCount).toBe(0n);
    const events = await anchors.queryFilter(anchors.filters.WindowsLost(signer.address));
    expect(events.map((e) => [e.args.fromSequence, e.args.toSequence])).toEqual([[3n, 4n]]);
    const status = n.anchorer!.status();
    expect(status.lost).toEqual({ windows: 2, runs: [expect.objectContaining({ fromSequence: 3, toSequence: 4, txHash: events[0]!.transactionHash })] });
    expect(status.recovery?.reanchoredAt).toBeDefined();
    expect(n.logs.join("\n")).not.toMatch(/ANCHORING STOPPED/);
  }, 90_000);

  it("a node that crashed after recording the lost run finds the record on chain and goes on", async () => {
    const signer = env.chain.orgs.oem.signer;
    const dir = await damagedNode(signer);
    // An earlier start recorded the run, then died before noting it in its store.
    const peek = await node(dir);
    const [w2, w5] = [(await peek.store.window(2))!, (await peek.store.window(5))!];
    await peek.stop();
    await (await anchorsOf(signer).recordLostWindows(3, 4, w5.prevRoot, w2.root, w2.toTimeMs, w5.fromTimeMs)).wait();

    const n = await node(dir, signer);
    await n.anchorer!.anchoredUpTo(5);
    expect(n.logs.join("\n")).toMatch(/reconciled: windows 3\.\.4, missing from the store, were already recorded on chain as lost/);
    expect(n.logs.join("\n")).not.toMatch(/WINDOWS LOST/);
    expect(n.anchorer!.status()).toMatchObject({ lastAnchored: 5, lost: { windows: 2, runs: [{ fromSequence: 3, toSequence: 4 }] } });
    expect(await anchorsOf(signer).queryFilter(anchorsOf(signer).filters.WindowsLost(signer.address))).toHaveLength(1);
  }, 90_000);
});
