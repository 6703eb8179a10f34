/**
 * A node clock ahead of the chain's time (issue 12): DataAnchors refuses windows ending more than
 * MAX_CLOCK_SKEW_MS after the block time. The anchorer compares clocks before each batch, alerts
 * (once, not on every poll), shows the gap in its status, holds the windows the chain would
 * refuse without losing them, and anchors them in order once the chain's time has caught up.
 * Runs against a real DataAnchors on an in-process chain whose block time is moved forward.
 */
import { setTimeout as wait } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { Reading } from "../../../lib/reading.ts";
import { anchoringNode, useInProcessAnchors } from "../../helpers/anchor-chains.ts";

const reading = (value: number, at: number): Reading => ({ stream: "spindle-1/load", metric: "load", unit: "%", value, sourceTime: at, quality: "good" });

async function until(what: string, test: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await wait(20);
  }
}

describe("anchoring with the node clock ahead of the chain", () => {
  const env = useInProcessAnchors();
  const { cleanups } = env;

  /** The chain's time, ms: the latest block's timestamp. */
  const chainNow = async () => ((await env.conn.ethers.provider.getBlock("latest"))!.timestamp) * 1000;

  /** A node whose clock runs `aheadMs` ahead of the chain's latest block. */
  async function node(signerIndex: "machining" | "steel", aheadMs: number) {
    const offset = (await chainNow()) - Date.now() + aheadMs;
    const clock = () => Date.now() + offset;
    const signer = env.fx.orgs[signerIndex].signer;
    const logs: string[] = [];
    const { store, pipeline, anchorer, stop } = await anchoringNode(env, signer, env.tempDir("tracemesh-clock-ahead-"), Buffer.alloc(32, 1), {
      bindNode: false,
      start: false,
      pipeline: { now: clock },
      anchorer: { heldPollMs: 30, clock, log: (m) => logs.push(m) },
    });
    cleanups.push(stop);
    const closeWindows = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await pipeline.write([reading(i, clock())]);
        await pipeline.closeWindow();
        await wait(3); // windows need a later end than the last
      }
    };
    return { store, anchorer, signer, clock, logs, closeWindows };
  }

  it("alerts once, holds the windows the chain would refuse, loses none, and anchors them in order once the chain catches up", async () => {
    const n = await node("machining", 600_000); // 10 minutes ahead: past the 300 s DataAnchors allows
    await n.anchorer.start();
    await n.closeWindows(3);
    await until("anchoring to hold", () => n.anchorer.status().state === "held");
    await wait(300); // many held polls: the alert is not repeated on each
    const held = n.anchorer.status();
    expect(held).toMatchObject({ state: "held", lastAnchored: 0, pendingWindows: 3, heldWindows: 3, clock: { alert: true } });
    expect(held.clock!.aheadMs).toBeGreaterThan(590_000);
    expect(n.logs.filter((l) => l.startsWith("ALERT: the node clock is"))).toHaveLength(1);
    expect(n.logs.filter((l) => l.startsWith("anchoring held"))).toHaveLength(1);
    expect(n.logs.some((l) => l.startsWith("anchoring:"))).toBe(false); // nothing sent, so nothing refused
    expect(Number(await env.anchors.lastSequence(n.signer.address))).toBe(0);
    for (const s of [1, 2, 3]) expect(await n.store.window(s)).toBeDefined();

    // The chain's time catches up with the node clock: the held windows go out, in order.
    await env.conn.ethers.provider.send("evm_mine", [Math.ceil(n.clock() / 1000)]);
    await n.anchorer.anchoredUpTo(3);
    const events = await env.anchors.queryFilter(env.anchors.filters.WindowAnchored(n.signer.address), 0);
    expect(events.map((e) => Number(e.args.sequence))).toEqual([1, 2, 3]);
    for (const e of events) expect(e.args.root).toBe((await n.store.window(Number(e.args.sequence)))!.root);
    await until("anchoring to go idle", () => n.anchorer.status().state === "idle");
    const after = n.anchorer.status();
    expect(after).toMatchObject({ lastAnchored: 3, pendingWindows: 0, clock: { alert: false } });
    expect(after.heldWindows).toBeUndefined();
    expect(n.logs).toContain("anchoring resumed: the chain's time caught up with window 1");
    expect(n.logs.some((l) => l.startsWith("the node clock is back within"))).toBe(true);
  });

  it("alerts on a clock ahead within the allowed skew but holds nothing the chain accepts", async () => {
    const n = await node("steel", 120_000); // 2 minutes ahead: alert, but DataAnchors still accepts
    await n.anchorer.start();
    await n.closeWindows(2);
    await n.anchorer.anchoredUpTo(2);
    expect(Number(await env.anchors.lastSequence(n.signer.address))).toBe(2);
    expect(n.anchorer.status().clock).toMatchObject({ alert: true });
    expect(n.logs.filter((l) => l.startsWith("ALERT: the node clock is"))).toHaveLength(1);
    expect(n.logs.some((l) => l.startsWith("anchoring held"))).toBe(false);
  });
});
