/**
 * A damaged reading store (issue 18): one of its LevelDB table files truncated, as a disk fault
 * leaves it. The node refuses to start and names the repair command; `npm run node -- repair`
 * repairs the store, reports by window what was lost (and that those windows were not anchored),
 * keeps the report in the data directory; then the node starts and serves what remains.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, statSync, truncateSync } from "node:fs";
import path from "node:path";
import { Level } from "level";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Reading } from "../../../lib/reading.ts";
import { type NodeConfig, loadConfig } from "../../../node/config.ts";
import { startNode } from "../../../node/daemon.ts";
import { IngestPipeline } from "../../../node/ingest/pipeline.ts";
import { type RepairReport, StoreDamagedError } from "../../../node/ingest/repair.ts";
import { IngestStore } from "../../../node/ingest/store.ts";
import { type NodeEnv, ROOT, nodeEnv } from "./support/env.ts";

const SECRET = Buffer.alloc(32, 5);
const STREAMS = ["oven-2/temperature", "press-7/force"];
const reading = (stream: string, value: number): Reading => ({ stream, metric: "m", unit: "Cel", value, sourceTime: Date.now(), quality: "good" });

let env: NodeEnv;
const dbDir = () => path.join(env.dataDir, "db");
const tables = () =>
  readdirSync(dbDir())
    .filter((f) => f.endsWith(".ldb"))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10));

/** Three sessions of three windows each (5 readings per stream per window); each session's data ends in a table file of its own. */
async function fillStore(): Promise<void> {
  for (let session = 0; session < 3; session++) {
    const store = await IngestStore.open(dbDir()); // opening flushes the last session's log into a table
    await store.bindNode(env.node);
    const p = await IngestPipeline.open(store, SECRET, { windowMs: 600_000 });
    for (let w = 0; w < 3; w++) {
      await p.write(STREAMS.flatMap((s) => Array.from({ length: 5 }, (_, i) => reading(s, session * 100 + w * 10 + i))));
      await p.closeWindow();
    }
    await p.stop();
    await store.close();
  }
  const store = await IngestStore.open(dbDir());
  await store.close();
}

const nodeCli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "node/cli.ts"), ...args], { cwd: ROOT, encoding: "utf8" });

describe("a damaged reading store", { timeout: 120_000 }, () => {
  beforeAll(async () => {
    env = await nodeEnv();
    await fillStore();
  }, 60_000);
  afterAll(async () => {
    await env?.cleanup();
  });

  it("makes the node refuse to start naming the repair; repair reports the loss; the node then serves what remains", async () => {
    const files = tables();
    expect(files.length).toBeGreaterThanOrEqual(3);
    // The second session's table, cut in half by a disk fault.
    const victim = path.join(dbDir(), files[1]!);
    truncateSync(victim, Math.floor(statSync(victim).size / 2));

    const refused = await startNode(loadConfig(env.configFile), { log: () => {} }).then(
      (n) => n.stop().then(() => undefined),
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(StoreDamagedError);
    expect((refused as Error).message).toContain(`npm run node -- repair --config ${env.configFile}`);
    // A node with no peer network has no partners to ask.
    expect((refused as Error).message).not.toContain("--from-partners");
    // With one, the refusal names the repair that also asks partners for their copies of what was lost.
    const withPeers = await startNode({ ...loadConfig(env.configFile), p2p: { listen: ["/ip4/127.0.0.1/tcp/0"] } as NodeConfig["p2p"] }, { log: () => {} }).then(
      (n) => n.stop().then(() => undefined),
      (e: unknown) => e,
    );
    expect(withPeers).toBeInstanceOf(StoreDamagedError);
    expect((withPeers as Error).message).toContain(`npm run node -- repair --config ${env.configFile} --from-partners`);
    expect((withPeers as Error).message).toMatch(/then asks its partners for their verified copies of what was lost/);
    // The CLI says the same and exits 65 (restarting will not help).
    const start = nodeCli("start", "--config", env.configFile);
    expect(start.status, start.stderr).toBe(65);
    expect(start.stderr).toMatch(/is damaged .*npm run node -- repair/);

    // Never under a process that holds the store (LevelDB's repair takes no lock itself).
    const holder = new Level(dbDir());
    await holder.open();
    const refusedRepair = nodeCli("repair", "--config", env.configFile);
    await holder.close();
    expect(refusedRepair.status).toBe(1);
    expect(refusedRepair.stderr).toMatch(/is in use by another process.*stop the node/);

    const repair = nodeCli("repair", "--config", env.configFile);
    expect(repair.status, repair.stderr + repair.stdout).toBe(0);
    expect(repair.stdout).toMatch(/reading store: 9 closed windows, 6 intact, 3 damaged/);
    expect(repair.stdout).toMatch(/LOST window 4: .*not anchored/);
    // Each stream's readings of the three lost windows, from the gaps between the runs that remain.
    expect(repair.stdout).toMatch(/reading store: .* 60 readings intact, 30 lost/);
    expect(repair.stdout).toContain(`LOST readings ${STREAMS[0]} #16..#30`);
    expect(repair.stdout).toContain(`LOST readings ${STREAMS[1]} #16..#30`);
    expect(repair.stdout).toMatch(/left to do: fetch back from partners/);
    const file = /report kept in (\S+)/.exec(repair.stdout)![1]!;
    const report = JSON.parse(readFileSync(file, "utf8")) as RepairReport;
    expect(report.windows.damaged.map((d) => d.sequence)).toEqual([4, 5, 6]);
    expect(report.readings.intact).toBe(60);
    expect(report.stores.find((s) => s.dir === "db")!.lostFiles.length).toBeGreaterThan(0);

    const node = await startNode(loadConfig(env.configFile), { log: () => {}, stopGraceMs: 0 });
    try {
      // Sessions one and three are served with their proofs; the second's readings are said to be gone.
      const first = await node.proofs.proveReading(STREAMS[1]!, 7);
      expect(first?.proof.window).toBe(2);
      const third = await node.proofs.proveReading(STREAMS[0]!, 40);
      expect(third?.proof.window).toBe(8);
      expect(await node.proofs.proveReading(STREAMS[0]!, 22)).toBeUndefined();
      // Ingestion goes on from where the store stands.
      await node.pipeline.write([reading(STREAMS[0]!, 1)]);
      expect([...node.pipeline.streamReadings().entries()]).toContainEqual([STREAMS[0], 46]);
    } finally {
      await node.stop();
    }
  });
});
