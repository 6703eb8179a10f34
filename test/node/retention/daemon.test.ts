/**
 * Retention in the running node daemon (anvil, the real contracts, LevelDB on disk): the periodic
 * task archives readings past a short policy while readings keep arriving, its metrics are
 * scraped, and the node commands `proof` and `audit` answer from the archive, verified against
 * the chain, and refuse a tampered one; `audit` also verifies the archive of received readings.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Reading } from "../../../lib/reading.ts";
import { loadConfig } from "../../../node/config.ts";
import { startNode } from "../../../node/daemon.ts";
import { ProofService } from "../../../node/ingest/proofs.ts";
import { IngestStore } from "../../../node/ingest/store.ts";
import { ReceivedStore } from "../../../node/p2p/received-store.ts";
import { segmentName } from "../../../node/retention/archive.ts";
import { ReceivedRetention } from "../../../node/retention/received.ts";
import { type NodeEnv, ROOT, nodeEnv } from "../ingest/support/env.ts";

const STREAM = "spindle-1/load";
const KEEP = "furnace-1/temperature";
const DAY = 86_400_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "node/cli.ts"), ...args], { cwd: ROOT, encoding: "utf8" });

describe("retention in the node daemon", () => {
  let env: NodeEnv;
  beforeAll(async () => {
    env = await nodeEnv();
    // About 1.7 s of spindle readings stay in the store; the furnace has no policy.
    env.writeConfig({ retention: { streams: [{ stream: "spindle-*", keepDays: 0.00002 }], intervalMs: 1000 }, metrics: { host: "127.0.0.1", port: 0 } });
  }, 120_000);
  afterAll(async () => env?.cleanup());

  it("archives while ingesting, counts it in metrics, and proof and audit work from the archive", async () => {
    const node = await startNode(loadConfig(env.configFile), { log: () => {} });
    let value = 0;
    try {
      const deadline = Date.now() + 60_000;
      while ((node.status().retention?.prunedReadings ?? 0) < 50 || node.status().windows.anchored < 5) {
        if (Date.now() > deadline) throw new Error(`nothing archived in time: ${JSON.stringify(node.status().retention)}`);
        const t = Date.now();
        const batch: Reading[] = [];
        for (let i = 0; i < 10; i++, value++) batch.push({ stream: STREAM, metric: "load", unit: "%", value, sourceTime: t, quality: "good" }, { stream: KEEP, metric: "temperature", unit: "Cel", value, sourceTime: t, quality: "good" });
        await node.pipeline.write(batch);
        await sleep(50);
      }
      const metrics = await (await fetch(node.status().metricsUrl!)).text();
      const pruned = Number(/^tracemesh_node_retention_pruned_readings_total (\d+)$/m.exec(metrics)?.[1]);
      expect(pruned).toBeGreaterThanOrEqual(50);
      expect(Number(/^tracemesh_node_retention_archive_bytes (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
      expect(metrics).toMatch(/^tracemesh_node_retention_failed 0$/m);
    } finally {
      await node.stop();
    }

    // The first spindle reading is archived: proved from the archive and verified on chain.
    const proof = cli("proof", "--config", env.configFile, "--stream", STREAM, "--seq", "1");
    expect(proof.status, proof.stderr).toBe(0);
    const answer = JSON.parse(proof.stdout) as { reading: Reading; verified: { ok: boolean }; archive: { segment: number } };
    expect(answer).toMatchObject({ reading: { stream: STREAM, value: 0 }, verified: { ok: true }, archive: { segment: 1 } });
    // The furnace (no policy) is still proved from the store.
    const kept = cli("proof", "--config", env.configFile, "--stream", KEEP, "--seq", "1");
    expect(kept.status, kept.stderr).toBe(0);
    expect(JSON.parse(kept.stdout)).not.toHaveProperty("archive");

    // A run of a followed stream, received long ago and archived by retention (here the node's own
    // furnace run stands in for a partner's): audited against its owner's anchors.
    const store = await IngestStore.open(path.join(env.dataDir, "db"));
    const proofs = new ProofService(store, node.address);
    const run = (await proofs.proveRun(KEEP, (await proofs.proveReading(KEEP, 1))!.proof.window))!;
    await store.close();
    const received = await ReceivedStore.open(path.join(env.dataDir, "received-copy"));
    await received.putReadings({ peer: "12D3KooWPartner", ownerOrg: 1, stream: KEEP, items: [{ kind: "run", readings: run.readings, proof: run.proof }], more: false, lastSeq: 0, count: run.readings.length, unverifiable: [] }, { now: Date.now() - 2 * DAY });
    const archivedReceived = await new ReceivedRetention(received, [{ stream: "*", keepMs: DAY }], path.join(env.dataDir, "archive", "received")).runOnce(Date.now());
    await received.close();
    expect(archivedReceived.readings).toBe(run.readings.length);

    const audit = cli("audit", "--config", env.configFile);
    expect(audit.status, audit.stdout + audit.stderr).toBe(0);
    expect(audit.stdout).toMatch(/archive .*: (\d+) readings in \d+ segments, \1 verified, 0 failed/);
    expect(audit.stdout).toMatch(new RegExp(`received archive .*: ${run.readings.length} readings of followed streams in 1 segments, ${run.readings.length} verified against their owners' anchors, 0 failed`));

    // Tampered: the first archived reading's value changed.
    const file = path.join(env.dataDir, "archive", segmentName(1), "streams", `${encodeURIComponent(STREAM)}.ndjson.gz`);
    const lines = gunzipSync(readFileSync(file)).toString("utf8").split("\n");
    lines[0] = lines[0]!.replace('"value":0,', '"value":1000000,');
    writeFileSync(file, gzipSync(lines.join("\n")));
    const refused = cli("proof", "--config", env.configFile, "--stream", STREAM, "--seq", "1");
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/does not verify against its anchor: reading-altered/);
    const failed = cli("audit", "--config", env.configFile);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toMatch(/FAILED spindle-1\/load #1 \(segment 1, .* line 1\): reading-altered/);
  }, 180_000);
});
