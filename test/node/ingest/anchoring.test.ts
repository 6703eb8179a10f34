/**
 * The anchorer (node/chain) against a real DataAnchors on an in-process chain: windows anchored
 * in order, a backlog caught up with anchorBatch, an anchor that landed before a crash recognised
 * instead of resent, and the typed, fatal disagreements (conflicting root, chain ahead).
 */
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { ZeroHash, id } from "ethers";
import { describe, expect, it } from "vitest";
import type { Reading } from "../../../lib/reading.ts";
import { AnchorConflictError, ChainAheadError } from "../../../node/chain/errors.ts";
import { anchoringNode, useInProcessAnchors } from "../../helpers/anchor-chains.ts";

const reading = (stream: string, value: number): Reading => ({ stream, metric: "load", unit: "%", value, sourceTime: Date.now(), quality: "good" });

describe("anchoring closed windows on DataAnchors", () => {
  const env = useInProcessAnchors();
  const { cleanups } = env;

  /** A store and pipeline in a fresh directory, and an anchorer for `signer` (not started). */
  async function node(signer: HardhatEthersSigner, maxBatch = 32, confirmations = 1) {
    const made = await anchoringNode(env, signer, env.tempDir("tracemesh-anchor-"), Buffer.alloc(32, 1), { bindNode: false, start: false, client: { confirmations }, anchorer: { maxBatch } });
    cleanups.push(made.stop);
    const { pipeline } = made;
    const closeWindows = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await pipeline.write([reading("spindle-1/load", i), reading("spindle-2/load", i)]);
        await pipeline.closeWindow();
        await new Promise((r) => setTimeout(r, 3)); // windows need a later end than the last
      }
    };
    return { ...made, closeWindows };
  }

  const eventsOf = async (address: string) => env.anchors.queryFilter(env.anchors.filters.WindowAnchored(address), 0);

  it("anchors each closed window in order, chained to the previous root, and records its transaction", async () => {
    const signer = env.fx.orgs.machining.signer;
    const n = await node(signer);
    await n.anchorer.start();
    await n.closeWindows(3);
    await n.anchorer.anchoredUpTo(3);
    const events = await eventsOf(signer.address);
    expect(events.map((e) => Number(e.args.sequence))).toEqual([1, 2, 3]);
    let prev = ZeroHash;
    for (const e of events) {
      const w = (await n.store.window(Number(e.args.sequence)))!;
      expect([e.args.root, e.args.prevRoot, Number(e.args.leafCount), Number(e.args.toTimeMs)]).toEqual([w.root, prev, 2, w.toTimeMs]);
      expect((await n.store.anchorReceipt(w.sequence))!.txHash).toBe(e.transactionHash);
      prev = w.root;
    }
    expect(n.anchorer.status()).toMatchObject({ lastAnchored: 3, pendingWindows: 0, attempts: 0 });
    expect(await n.store.lastAnchored()).toBe(3);
  });

  it("catches up a backlog of windows with one anchorBatch transaction", async () => {
    const signer = env.fx.orgs.foundry.signer;
    const n = await node(signer, 4);
    await n.closeWindows(6); // closed while the anchorer is not running (e.g. the chain was down)
    await n.anchorer.start();
    await n.anchorer.anchoredUpTo(6);
    const events = await eventsOf(signer.address);
    expect(events.map((e) => Number(e.args.sequence))).toEqual([1, 2, 3, 4, 5, 6]);
    const txs = [...new Set(events.map((e) => e.transactionHash))];
    expect(txs).toHaveLength(2); // maxBatch 4: windows 1-4, then 5-6
    expect(events.filter((e) => e.transactionHash === txs[0])).toHaveLength(4);
  });

  it("recognises a window that was anchored before a crash instead of sending it again", async () => {
    const signer = env.fx.orgs.steel.signer;
    const n = await node(signer);
    await n.closeWindows(2);
    // The node sent window 1 and died before it recorded the receipt.
    const w1 = (await n.store.window(1))!;
    const sent = await (await env.anchors.connect(signer).anchor(1, w1.root, w1.prevRoot, w1.fromTimeMs, w1.toTimeMs, w1.leafCount)).wait();
    await n.anchorer.start();
    await n.anchorer.anchoredUpTo(2);
    const events = await eventsOf(signer.address);
    expect(events.map((e) => Number(e.args.sequence))).toEqual([1, 2]);
    expect((await n.store.anchorReceipt(1))!.txHash).toBe(sent!.hash);
  });

  it("stops loudly with AnchorConflictError when the chain holds another root for a window", async () => {
    const signer = env.fx.orgs.oem.signer;
    const n = await node(signer);
    await n.closeWindows(2);
    const w1 = (await n.store.window(1))!;
    const other = id("another history");
    await (await env.anchors.connect(signer).anchor(1, other, ZeroHash, w1.fromTimeMs, w1.toTimeMs, w1.leafCount)).wait();
    const fatal = new Promise<Error>((r) => n.anchorer.on("fatal", r));
    await n.anchorer.start();
    const err = await fatal;
    expect(err).toBeInstanceOf(AnchorConflictError);
    expect(err).toMatchObject({ sequence: 1, localRoot: w1.root, chainRoot: other });
    expect(n.anchorer.status()).toMatchObject({ state: "failed", lastAnchored: 0, pendingWindows: 2 });
    expect(n.anchorer.error).toBe(err);
    expect(await eventsOf(signer.address)).toHaveLength(1);
    // Ingestion goes on: readings stay durable while an operator sorts it out.
    await n.pipeline.write([reading("spindle-1/load", 99)]);
  });

  it("stops loudly with ChainAheadError when the chain holds windows the store never closed", async () => {
    const signer = env.fx.orgs.carrier.signer;
    const n = await node(signer);
    await n.closeWindows(1);
    const w1 = (await n.store.window(1))!;
    await (await env.anchors.connect(signer).anchor(1, w1.root, ZeroHash, w1.fromTimeMs, w1.toTimeMs, w1.leafCount)).wait();
    await (await env.anchors.connect(signer).anchor(2, id("x"), w1.root, w1.toTimeMs, w1.toTimeMs + 1, 1)).wait();
    const fatal = new Promise<Error>((r) => n.anchorer.on("fatal", r));
    await n.anchorer.start();
    expect(await fatal).toBeInstanceOf(ChainAheadError);
    expect(await fatal).toMatchObject({ chainLast: 2, localLast: 1 });
  });

  it("counts an anchor only once it is `confirmations` blocks deep", async () => {
    const signer = env.fx.orgs.lab.signer;
    const n = await node(signer, 32, 3);
    await n.anchorer.start();
    await n.closeWindows(1);
    while ((await eventsOf(signer.address)).length === 0) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200));
    expect(n.anchorer.status()).toMatchObject({ state: "anchoring", lastAnchored: 0 }); // in a block, 1 deep
    await env.conn.provider.request({ method: "evm_mine", params: [] });
    await new Promise((r) => setTimeout(r, 200));
    expect(n.anchorer.status().lastAnchored).toBe(0); // 2 deep
    await env.conn.provider.request({ method: "evm_mine", params: [] });
    await n.anchorer.anchoredUpTo(1); // 3 deep
    expect(await n.store.lastAnchored()).toBe(1);
  });

  it("retries a refused anchor with back-off (an account of no organisation) without holding up ingestion", async () => {
    const n = await node(env.fx.outsider);
    const retries: Error[] = [];
    n.anchorer.on("retry", (e: Error) => retries.push(e));
    await n.anchorer.start();
    await n.closeWindows(2);
    while (retries.length < 3) await new Promise((r) => setTimeout(r, 20));
    expect(retries[0]!.message).toMatch(/NotActiveMember/);
    expect(n.anchorer.status()).toMatchObject({ lastAnchored: 0, pendingWindows: 2 });
    expect(n.anchorer.status().lastError).toMatch(/NotActiveMember/);
    expect(["retrying", "reconciling", "anchoring"]).toContain(n.anchorer.status().state);
    await n.pipeline.write([reading("spindle-1/load", 1)]);
    expect(n.pipeline.status().readingsStored).toBe(5);
  });
});
