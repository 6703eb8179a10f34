/**
 * The node daemon with its clock ahead of the chain (issue 12), on anvil: the clock alert and
 * the held windows show in the log, in status.json and in `status` as printed; nothing is lost,
 * and once the chain's time catches up every window is anchored and every reading verifies.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as wait } from "node:timers/promises";
import { JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataAnchors__factory } from "../../../lib/contracts/types/index.js";
import { contractAnchorView } from "../../../lib/verify-reading.ts";
import { loadConfig } from "../../../node/config.ts";
import { type NodeStatus, type RunningNode, formatStatus, startNode } from "../../../node/daemon.ts";
import { type NodeEnv, nodeEnv } from "./support/env.ts";

const AHEAD_MS = 900_000; // 15 minutes: DataAnchors refuses windows ending more than 300 s after block time

describe("the node daemon with its clock ahead of the chain", () => {
  let env: NodeEnv;
  let node: RunningNode;
  const logs: string[] = [];
  const clock = () => Date.now() + AHEAD_MS;
  const statusFile = (): NodeStatus => JSON.parse(readFileSync(path.join(env.dataDir, "status.json"), "utf8")) as NodeStatus;

  beforeAll(async () => {
    env = await nodeEnv();
    node = await startNode(loadConfig(env.configFile), { log: (m) => logs.push(m), clock });
  }, 60_000);
  afterAll(async () => {
    await node?.stop();
    await env?.cleanup();
  });

  it("alerts, reports and holds, then anchors everything once the chain catches up", async () => {
    for (let i = 0; i < 5; i++) {
      await node.pipeline.write([{ stream: "press-1/force", metric: "force", unit: "kN", value: i, sourceTime: clock(), quality: "good" }]);
      await wait(60);
    }
    await node.pipeline.closeWindow();
    const closed = node.pipeline.lastClosed;
    expect(closed).toBeGreaterThanOrEqual(1);

    const deadline = Date.now() + 15_000;
    while (!(statusFile().anchoring.state === "held" && statusFile().anchoring.heldWindows === closed)) {
      if (Date.now() > deadline) throw new Error(`anchoring did not hold: ${JSON.stringify(statusFile().anchoring)}`);
      await wait(50);
    }
    const file = statusFile();
    expect(file.windows).toMatchObject({ closed, anchored: 0, pending: closed });
    expect(file.anchoring.clock).toMatchObject({ alert: true });
    expect(file.anchoring.clock!.aheadMs).toBeGreaterThan(AHEAD_MS - 10_000);
    const printed = formatStatus(file, true);
    expect(printed).toMatch(new RegExp(`anchoring   held \\(${closed} windows held`));
    expect(printed).toMatch(/CLOCK ALERT node clock \d+ s ahead of the chain's time/);
    expect(logs.filter((m) => m.startsWith("ALERT: the node clock is"))).toHaveLength(1);

    // The chain's time catches up: every held window is anchored, in order, and its readings verify.
    const provider = new JsonRpcProvider(env.chain.url, undefined, { staticNetwork: true });
    try {
      await provider.send("evm_mine", [Math.ceil(clock() / 1000)]);
      await node.anchorer.anchoredUpTo(closed);
      expect(node.status().windows).toMatchObject({ anchored: closed, pending: 0 });
      const anchors = DataAnchors__factory.connect(env.deployment.contracts.dataAnchors, provider);
      expect(Number(await anchors.lastSequence(env.node))).toBe(closed);
      const report = await node.proofs.audit(contractAnchorView(anchors));
      expect(report.failures).toEqual([]);
      expect(report.unanchored).toEqual([]);
      expect(report.verified).toBe(5);
    } finally {
      provider.destroy();
    }
  }, 60_000);
});
