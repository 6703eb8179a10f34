/**
 * The repair side of re-fetching from partners (issue 18), where it needs no peer network: a lost
 * window the chain never anchored is not asked for (nothing returned could be checked) and stays
 * reported lost; `repair --from-partners` on a node without a p2p section is a configuration error
 * naming the section (exit 2). The network side: test/node/p2p/return-fetch.test.ts.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Reading } from "../../../lib/reading.ts";
import { cachedAnchorView, contractAnchorView } from "../../../lib/verify-reading.ts";
import { connectContracts } from "../../../lib/deployment.ts";
import { IngestPipeline } from "../../../node/ingest/pipeline.ts";
import { refetchWindows } from "../../../node/ingest/refetch.ts";
import { IngestStore } from "../../../node/ingest/store.ts";
import { type NodeEnv, ROOT, nodeEnv } from "./support/env.ts";
import { JsonRpcProvider } from "ethers";

const reading = (value: number): Reading => ({ stream: "oven-2/temperature", metric: "m", unit: "Cel", value, sourceTime: Date.now(), quality: "good" });

describe("re-fetching lost windows, the node's side", { timeout: 120_000 }, () => {
  let env: NodeEnv;
  beforeAll(async () => {
    env = await nodeEnv();
    const store = await IngestStore.open(path.join(env.dataDir, "db"));
    await store.bindNode(env.node);
    const p = await IngestPipeline.open(store, Buffer.alloc(32, 7), { windowMs: 600_000 });
    for (let w = 0; w < 2; w++) {
      await p.write([reading(w), reading(w + 10)]);
      await p.closeWindow();
    }
    await p.stop();
    await store.close();
  }, 60_000);
  afterAll(async () => {
    await env?.cleanup();
  });

  it("does not ask for a window the chain never anchored, and reports it lost", async () => {
    const provider = new JsonRpcProvider(env.chain.url, undefined, { staticNetwork: true });
    const store = await IngestStore.open(path.join(env.dataDir, "db"));
    try {
      const asked: string[] = [];
      const report = await refetchWindows(store, [2], {
        node: env.node,
        anchors: cachedAnchorView(contractAnchorView(connectContracts(env.deployment.contracts, provider).dataAnchors)),
        partners: [{ peer: "partner", org: 2, ask: async (r) => (asked.push(r.stream), { items: [], more: false }) }],
        onLie: async () => undefined,
        log: () => undefined,
      });
      expect(asked).toEqual([]);
      expect(report.restored).toEqual([]);
      expect(report.lost).toEqual([expect.objectContaining({ window: 2, reason: expect.stringMatching(/not anchored/) })]);
    } finally {
      await store.close();
      provider.destroy();
    }
  });

  it("needs the node's p2p section to reach partners (exit 2, naming it)", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "node/cli.ts"), "repair", "--config", env.configFile, "--from-partners"], { cwd: ROOT, encoding: "utf8" });
    expect(run.status, run.stdout + run.stderr).toBe(2);
    expect(run.stderr).toMatch(/p2p: --from-partners needs the node's p2p section/);
  });
});
