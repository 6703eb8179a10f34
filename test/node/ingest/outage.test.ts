/**
 * A chain outage only delays anchoring: the node keeps ingesting and closing windows while anvil
 * is down (stopped with its state saved), and once anvil is back on the same port with the same
 * state, the queued windows are anchored in order, catching up with anchorBatch.
 */
import { JsonRpcProvider, ZeroHash } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataAnchors__factory } from "../../../lib/contracts/types/index.js";
import type { Reading } from "../../../lib/reading.ts";
import { contractAnchorView } from "../../../lib/verify-reading.ts";
import { startAnvil } from "../../../scripts/local-chain/local-chain.ts";
import { loadConfig } from "../../../node/config.ts";
import { type RunningNode, startNode } from "../../../node/daemon.ts";
import { type NodeEnv, nodeEnv } from "./support/env.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe("chain outage", () => {
  let env: NodeEnv;
  let node: RunningNode | undefined;
  beforeAll(async () => {
    env = await nodeEnv({ stateFile: true });
  });
  afterAll(async () => {
    await node?.stop();
    await env?.cleanup();
  });

  it("keeps ingesting while the chain is down, then anchors every queued window in order", async () => {
    const logs: string[] = [];
    node = await startNode(loadConfig(env.configFile), { log: (m) => logs.push(m) });
    let producing = true;
    let acked = 0;
    const producer = (async () => {
      for (let i = 0; producing; i++) {
        const batch: Reading[] = Array.from({ length: 50 }, (_, k) => ({
          stream: `oven-${k % 5}/temperature`,
          metric: "temperature",
          unit: "Cel",
          value: 180 + ((i + k) % 7),
          sourceTime: Date.now(),
          quality: "good",
        }));
        await node!.pipeline.write(batch);
        acked += batch.length;
        await sleep(10);
      }
    })();

    await node.anchorer.anchoredUpTo(2);
    await env.chain.stop(); // writes its state file
    const anchoredBefore = node.anchorer.status().lastAnchored;
    const closedBefore = node.pipeline.lastClosed;
    const ackedBefore = acked;

    await until(() => node!.pipeline.lastClosed >= closedBefore + 6, 20_000, "windows to close during the outage");
    expect(acked).toBeGreaterThan(ackedBefore); // writes are acknowledged with the chain down
    const during = node.status();
    expect(during.windows.anchored).toBeLessThanOrEqual(anchoredBefore + 1); // at most one was in flight
    expect(during.windows.pending).toBeGreaterThanOrEqual(5);
    expect(during.anchoring.state).toMatch(/retrying|reconciling|anchoring/);
    expect(during.anchoring.lastError).toMatch(/chain unavailable|ECONNREFUSED|fetch failed|not confirmed/i);

    env.chain = await startAnvil({ port: env.chain.port, stateFile: `${env.dir}/anvil-state.json` });
    producing = false;
    await producer;
    await node.pipeline.closeWindow();
    const last = node.pipeline.lastClosed;
    await node.anchorer.anchoredUpTo(last);
    expect(node.status().windows).toMatchObject({ closed: last, anchored: last, pending: 0 });

    const provider = new JsonRpcProvider(env.chain.url, undefined, { staticNetwork: true });
    try {
      const anchors = DataAnchors__factory.connect(env.deployment.contracts.dataAnchors, provider);
      expect(Number(await anchors.lastSequence(env.node))).toBe(last);
      const events = await anchors.queryFilter(anchors.filters.WindowAnchored(env.node), 0);
      expect(events.map((e) => Number(e.args.sequence))).toEqual(Array.from({ length: last }, (_, i) => i + 1));
      let prev = ZeroHash;
      for (const e of events) {
        expect(e.args.prevRoot).toBe(prev);
        prev = e.args.root;
      }
      // The backlog went out batched: some transaction anchored several windows.
      const perTx = new Map<string, number>();
      for (const e of events) perTx.set(e.transactionHash, (perTx.get(e.transactionHash) ?? 0) + 1);
      expect(Math.max(...perTx.values())).toBeGreaterThanOrEqual(5);

      await node.stop();
      node = undefined;
      // Everything acknowledged is stored and verifies (reopened by the audit below).
      const { IngestStore } = await import("../../../node/ingest/store.ts");
      const { ProofService } = await import("../../../node/ingest/proofs.ts");
      const store = await IngestStore.open(`${env.dataDir}/db`);
      try {
        const report = await new ProofService(store, env.node).audit(contractAnchorView(anchors));
        expect(report.failures).toEqual([]);
        expect(report.unanchored).toEqual([]);
        expect(report.verified).toBe(acked);
      } finally {
        await store.close();
      }
    } finally {
      provider.destroy();
    }
    expect(logs.some((l) => /retrying in \d+ ms/.test(l))).toBe(true);
  }, 90_000);
});
