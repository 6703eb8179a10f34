/**
 * Every acknowledged reading is provable whatever its device's clock says: a device whose
 * readings arrive seconds after their source time (as OPC UA source timestamps do behind a busy
 * server) and one whose clock runs ahead both end with every reading verified against the chain,
 * their lag stated by the reading itself, and the node reporting both streams in its log and its
 * status (in process, status.json and `status` as printed).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataAnchors__factory } from "../../../lib/contracts/types/index.js";
import type { Reading } from "../../../lib/reading.ts";
import { type AnchorView, contractAnchorView, readingLagMs, verifyReading } from "../../../lib/verify-reading.ts";
import { loadConfig } from "../../../node/config.ts";
import { type NodeStatus, type RunningNode, formatStatus, startNode } from "../../../node/daemon.ts";
import { type NodeEnv, nodeEnv } from "./support/env.ts";

const LATE = "furnace-1/temperature";
const AHEAD = "press-2/force";
const ON_TIME = "mill-3/vibration";
const LAG_MS = 4_000;
const LEAD_MS = 6_000;

describe("readings from late devices and fast clocks", () => {
  let env: NodeEnv;
  let provider: JsonRpcProvider;
  let view: AnchorView;
  let node: RunningNode;
  const logs: string[] = [];
  let total = 0;

  beforeAll(async () => {
    env = await nodeEnv();
    provider = new JsonRpcProvider(env.chain.url, undefined, { staticNetwork: true });
    view = contractAnchorView(DataAnchors__factory.connect(env.deployment.contracts.dataAnchors, provider));
    node = await startNode(loadConfig(env.configFile), { log: (m) => logs.push(m) });
    // About five 200 ms windows of readings, written as they "arrive".
    const end = Date.now() + 1_000;
    let i = 0;
    while (Date.now() < end) {
      const now = Date.now();
      const batch: Reading[] = [
        { stream: LATE, metric: "temperature", unit: "Cel", value: 1500 + i, sourceTime: now - LAG_MS, quality: "good" },
        { stream: AHEAD, metric: "force", unit: "kN", value: 120 + i, sourceTime: now + LEAD_MS, quality: "good" },
        { stream: ON_TIME, metric: "vibration", unit: "mm/s", value: i, sourceTime: now - 5, quality: "good" },
      ];
      await node.pipeline.write(batch);
      total += batch.length;
      i++;
      await new Promise((r) => setTimeout(r, 20));
    }
    await node.pipeline.closeWindow();
    await node.anchorer.anchoredUpTo(node.pipeline.lastClosed);
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    provider?.destroy();
    await env?.cleanup();
  });

  it("verifies every reading, each stating how late it arrived", async () => {
    expect(node.pipeline.lastClosed).toBeGreaterThanOrEqual(3);
    const report = await node.proofs.audit(view);
    expect(report.failures).toEqual([]);
    expect(report.unanchored).toEqual([]);
    expect(report.verified).toBe(total);

    for (const [stream, lag] of [
      [LATE, LAG_MS],
      [AHEAD, -LEAD_MS],
    ] as const) {
      for (let seq = 1; seq <= 3; seq++) {
        const proven = await node.proofs.proveReading(stream, seq);
        expect(proven).toBeDefined();
        expect(await verifyReading(proven!.reading, proven!.proof, view)).toEqual({ ok: true });
        // Receive time is the node's; the device's source time is kept as it came.
        const stated = readingLagMs(proven!.reading)!;
        expect(Math.abs(stated - lag)).toBeLessThan(1_000);
      }
    }
  });

  it("reports the late stream and the fast clock in the log and the status, and not the punctual one", async () => {
    expect(logs.filter((m) => m.includes(LATE) && /late/.test(m))).toHaveLength(1);
    expect(logs.filter((m) => m.includes(AHEAD) && /ahead/.test(m))).toHaveLength(1);
    expect(logs.some((m) => m.includes(ON_TIME))).toBe(false);

    const readings = total / 3;
    const timing = node.status().ingest.timing;
    expect(timing.map((t) => t.stream).sort()).toEqual([LATE, AHEAD].sort());
    const late = timing.find((t) => t.stream === LATE)!;
    expect(late).toMatchObject({ late: readings, ahead: 0 });
    expect(late.maxLateMs).toBeGreaterThanOrEqual(LAG_MS);
    const ahead = timing.find((t) => t.stream === AHEAD)!;
    expect(ahead).toMatchObject({ late: 0, ahead: readings });
    expect(ahead.maxAheadMs).toBeGreaterThan(LEAD_MS - 1_000);
    expect(node.status().ingest.skewedReadings).toBe(2 * readings);

    await new Promise((r) => setTimeout(r, 450)); // a status file written after the last reading
    const file = JSON.parse(readFileSync(path.join(env.dataDir, "status.json"), "utf8")) as NodeStatus;
    expect(file.ingest.timing.find((t) => t.stream === LATE)).toMatchObject({ late: readings });
    const printed = formatStatus(file, true);
    expect(printed).toMatch(new RegExp(`timing ${LATE}: ${readings} late \\(up to 4\\.\\d s\\)`));
    expect(printed).toMatch(new RegExp(`timing ${AHEAD}: ${readings} ahead of receipt`));
  });
});
