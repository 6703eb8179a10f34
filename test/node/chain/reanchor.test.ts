/**
 * Lost anchors on a real anvil: the chain is reverted (evm_revert) to a state without the node's
 * latest anchors, as after a chain crash that lost its last seconds or a reorg deeper than the
 * confirmation depth. The anchorer anchors the lost windows again, in order from the last one the
 * chain still holds, records what happened (log, status, store) and goes on; a restarted node
 * does the same at start. A chain whose last remaining anchor has another root stays fatal.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Wallet} from "ethers";
import { ZeroHash, id } from "ethers";
import { describe, expect, it } from "vitest";
import { DataAnchors__factory } from "../../../lib/contracts/types/index.js";
import type { Reading } from "../../../lib/reading.ts";
import { Anchorer } from "../../../node/chain/anchorer.ts";
import { AnchorChain, ChainClient } from "../../../node/chain/client.ts";
import { AnchorConflictError } from "../../../node/chain/errors.ts";
import { IngestPipeline } from "../../../node/ingest/pipeline.ts";
import { IngestStore } from "../../../node/ingest/store.ts";
import { useAnvilAnchors } from "../../helpers/anchor-chains.ts";

const reading = (stream: string, value: number): Reading => ({ stream, metric: "load", unit: "%", value, sourceTime: Date.now(), quality: "good" });

describe("anchoring again the windows whose anchors the chain lost", () => {
  const env = useAnvilAnchors();
  const { cleanups } = env;

  const anchorsOf = (signer: Wallet) => DataAnchors__factory.connect(env.chain.deployment.contracts.dataAnchors, signer);

  /** A store and pipeline in `dir` (fresh by default) and an anchorer for `signer`, started. */
  async function node(signer: Wallet, dir = mkdtempSync(path.join(tmpdir(), "tracemesh-reanchor-"))) {
    const store = await IngestStore.open(dir);
    const pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 1), { windowMs: 3_600_000 });
    const client = new ChainClient(env.provider, { pollMs: 20, receiptTimeoutMs: 5_000 });
    const anchorChain = await AnchorChain.create(client, env.chain.deployment.contracts.dataAnchors, signer.connect(env.provider));
    const logs: string[] = [];
    const anchorer = new Anchorer(store, pipeline, anchorChain, { retry: { minMs: 20, maxMs: 200 }, log: (m) => logs.push(m) });
    pipeline.on("window", () => anchorer.notify());
    await anchorer.start();
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      await anchorer.stop();
      await pipeline.stop();
      await store.close();
    };
    cleanups.push(async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    });
    const closeWindows = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await pipeline.write([reading("press-1/force", i), reading("press-2/force", i)]);
        await pipeline.closeWindow();
        await new Promise((r) => setTimeout(r, 3)); // windows need a later end than the last
      }
    };
    return { dir, store, pipeline, anchorer, logs, closeWindows, stop };
  }

  /** The node's anchors on chain: sequence -> root. */
  const onChain = async (signer: Wallet) => {
    const c = anchorsOf(signer);
    const last = Number(await c.lastSequence(signer.address));
    const out: string[] = [];
    for (let s = 1; s <= last; s++) out.push((await c.getAnchor(signer.address, s)).root);
    return out;
  };
  const roots = async (store: IngestStore, to: number) => {
    const out: string[] = [];
    for (let s = 1; s <= to; s++) out.push((await store.window(s))!.root);
    return out;
  };

  it("a running node anchors the lost windows again in order once the chain is reverted, and records it", async () => {
    const signer = env.chain.orgs.steel.signer;
    const n = await node(signer);
    await n.closeWindows(2);
    await n.anchorer.anchoredUpTo(2);
    const snapshot = (await env.provider.send("evm_snapshot", [])) as string;
    await n.closeWindows(3);
    await n.anchorer.anchoredUpTo(5);
    expect(await onChain(signer)).toHaveLength(5);

    await env.provider.send("evm_revert", [snapshot]);
    expect(await onChain(signer)).toHaveLength(2); // windows 3..5 lost, the store saw them confirmed
    expect(await n.store.lastAnchored()).toBe(5);

    const lost = new Promise((r) => n.anchorer.once("anchorsLost", r));
    await n.closeWindows(1); // window 6: the chain expects 3, refuses, the anchorer reconciles
    expect(await lost).toMatchObject({ chainLast: 2, lostUpTo: 5 });
    while (n.anchorer.status().lastAnchored < 6) await new Promise((r) => setTimeout(r, 20));

    expect(await onChain(signer)).toEqual(await roots(n.store, 6));
    const status = n.anchorer.status();
    expect(status).toMatchObject({ state: "idle", lastAnchored: 6, pendingWindows: 0, recovery: { chainLast: 2, lostUpTo: 5 } });
    expect(status.recovery!.reanchoredAt).toBeGreaterThanOrEqual(status.recovery!.detectedAt);
    expect(await n.store.anchorRecovery()).toEqual(status.recovery);
    // The receipts are the new transactions', not the lost ones'.
    const events = await anchorsOf(signer).queryFilter(anchorsOf(signer).filters.WindowAnchored(signer.address, undefined, 3));
    expect((await n.store.anchorReceipt(3))!.txHash).toBe(events.at(-1)!.transactionHash);
    expect(n.logs.join("\n")).toMatch(/ANCHORS LOST: .* only up to window 2, but 5 were confirmed before.*anchoring windows 3\.\.5 again/);
    expect(n.logs.join("\n")).toMatch(/anchors recovered: windows 3\.\.5/);
    expect(n.logs.join("\n")).not.toMatch(/ANCHORING STOPPED/);
  }, 60_000);

  it("a node restarted on a chain reset to an older state anchors on from the last anchor it holds", async () => {
    const signer = env.chain.orgs.oem.signer;
    const dir = mkdtempSync(path.join(tmpdir(), "tracemesh-reanchor-"));
    const first = await node(signer, dir);
    const snapshot = (await env.provider.send("evm_snapshot", [])) as string; // before any of its anchors
    await first.closeWindows(3);
    await first.anchorer.anchoredUpTo(3);
    await first.stop();

    await env.provider.send("evm_revert", [snapshot]);
    const again = await node(signer, dir);
    // The store says 3 anchored until the start's reconciling finds them lost.
    while (again.anchorer.status().recovery?.reanchoredAt === undefined) await new Promise((r) => setTimeout(r, 20));
    expect(await onChain(signer)).toEqual(await roots(again.store, 3));
    expect(again.anchorer.status()).toMatchObject({ lastAnchored: 3, recovery: { chainLast: 0, lostUpTo: 3 } });
    await again.closeWindows(1);
    await again.anchorer.anchoredUpTo(4);
    expect(await onChain(signer)).toEqual(await roots(again.store, 4));
  }, 60_000);

  it("stays stopped when the last anchor the chain still holds has another root (another history)", async () => {
    const signer = env.chain.orgs.foundry.signer;
    const n = await node(signer);
    const snapshot = (await env.provider.send("evm_snapshot", [])) as string;
    await n.closeWindows(2);
    await n.anchorer.anchoredUpTo(2);
    await env.provider.send("evm_revert", [snapshot]);
    const w1 = (await n.store.window(1))!;
    await (await anchorsOf(signer.connect(env.provider) as Wallet).anchor(1, id("another history"), ZeroHash, w1.fromTimeMs, w1.toTimeMs, w1.leafCount)).wait();

    const fatal = new Promise<Error>((r) => n.anchorer.on("fatal", r));
    await n.closeWindows(1);
    const err = await fatal;
    expect(err).toBeInstanceOf(AnchorConflictError);
    expect(err).toMatchObject({ sequence: 1, localRoot: w1.root });
    expect(n.anchorer.status()).toMatchObject({ state: "failed", lastAnchored: 2 });
    expect(n.anchorer.status().recovery).toBeUndefined();
  }, 60_000);
});
