/**
 * The retention benchmark: bytes on disk per million readings before and after retention
 * (node/retention), and what that makes per day at a given rate.
 *
 * A real node (node/daemon.ts: LevelDB store, pipeline, anchorer) against anvil takes --readings
 * readings over --streams streams in windows of --window-ms; once every window is anchored, the
 * store is compacted and measured (before), then a retention run archives the streams under a
 * policy (all of them, or all but --kept-streams) as if their keep period had passed, the store
 * is compacted and measured again (after), and the archive is measured. LevelDB sizes depend on
 * compaction, hence the compaction before each measure.
 *
 * Flags:
 *   --readings N       readings to ingest (default 1,000,000)
 *   --streams N        streams (default 20)
 *   --kept-streams N   of those, streams without a policy: kept in the store (default 0)
 *   --window-ms MS     window length (default 1000)
 *   --rate N           readings/s for the per-day figures (default 50,000)
 *   --keep-days D      the policy's keep period for the per-day figures (default 7)
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { Wallet } from "ethers";
import type { Reading } from "../../lib/reading.ts";
import { writeNodeFolder } from "./node-folder.ts";
import { startNode } from "../../node/daemon.ts";
import { Retention } from "../../node/retention/prune.ts";
import { deployLocal, devKey, peerOnlyNode, startAnvil } from "../local-chain/local-chain.ts";

const DAY = 86_400_000;
const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const gb = (bytes: number) => `${fmt(bytes / 1e9, 1)} GB`;

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) total += statSync(path.join(e.parentPath, e.name)).size;
  return total;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      readings: { type: "string", default: "1000000" },
      streams: { type: "string", default: "20" },
      "kept-streams": { type: "string", default: "0" },
      "window-ms": { type: "string", default: "1000" },
      rate: { type: "string", default: "50000" },
      "keep-days": { type: "string", default: "7" },
    },
  });
  const total = Number(values.readings);
  const streamCount = Number(values.streams);
  const keptStreams = Number(values["kept-streams"]);
  const windowMs = Number(values["window-ms"]);
  const rate = Number(values.rate);
  const keepDays = Number(values["keep-days"]);
  const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");
  console.log(`machine: ${cpus().length} cores, load average ${load()} (a shared machine makes timings noise; the byte counts are what this measures)`);

  const dir = mkdtempSync(path.join(tmpdir(), "tracemesh-bench-retention-"));
  const chain = await startAnvil();
  try {
    const nodeKey = devKey(3);
    const deployment = await deployLocal(chain.url, devKey(0), [{ name: "Bench Plant", accounts: [new Wallet(nodeKey).address], nodes: [peerOnlyNode("12D3KooWBenchRetention")] }]);
    const config = writeNodeFolder(dir, { deployment, rpcUrl: chain.url, nodeKey, organisation: "Bench Plant", dataDir: "data", windowMs });
    const node = await startNode(config, { log: () => {} });
    const streams = Array.from({ length: streamCount }, (_, i) => `${i < keptStreams ? "kept" : "pruned"}-${i}/spindle-load`);
    const started = performance.now();
    let written = 0;
    const producer = async () => {
      while (written < total) {
        const n = Math.min(1000, total - written);
        written += n;
        const t = Date.now();
        const batch: Reading[] = Array.from({ length: n }, (_, i) => ({ stream: streams[i % streamCount]!, metric: "spindleLoad", unit: "%", value: 40 + Math.random() * 20, sourceTime: t, quality: "good" }));
        await node.pipeline.write(batch);
      }
    };
    await Promise.all([producer(), producer(), producer(), producer()]);
    const ingestSeconds = (performance.now() - started) / 1000;
    await node.pipeline.closeWindow();
    await node.anchorer.anchoredUpTo(node.pipeline.lastClosed);
    console.log(`ingested ${fmt(total)} readings over ${streamCount} streams (${keptStreams} without a policy) in ${node.pipeline.lastClosed} windows, ${fmt((performance.now() - started) / 1000, 1)} s`);

    // classic-level (what `level` is in Node) compacts on request; its typings leave it out.
    const db = node.store.db as unknown as { compactRange(start: Buffer, end: Buffer): Promise<void> };
    const compact = () => db.compactRange(Buffer.alloc(1, 0), Buffer.alloc(1, 0xff));
    await compact();
    const before = dirBytes(node.store.location);
    const retention = new Retention(
      node.store,
      node.proofs,
      { rules: [{ stream: "pruned-*", keepMs: keepDays * DAY }], archiveDir: path.join(dir, "archive"), intervalMs: 3_600_000, windowsPerSegment: 1000 },
      { node: node.address, bindings: async function* () {}, now: () => Date.now() + keepDays * DAY + 60_000, log: (m) => console.log(`  [retention] ${m}`) },
    );
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const result = await retention.runOnce();
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    await compact();
    const after = dirBytes(node.store.location);
    const archive = dirBytes(path.join(dir, "archive"));
    await node.stop();

    const perM = (b: number) => (b / total) * 1e6;
    const daily = rate * 86_400;
    const archiveRate = result.readings / seconds;
    const ingestRate = total / ingestSeconds;
    console.log(`retention: ${fmt(result.readings)} readings archived in ${result.segments} segments, ${fmt(seconds, 1)} s (${fmt(archiveRate)} readings/s), load average ${load()}`);
    // CPU time (main thread and the thread pool's compression and LevelDB work) barely depends on
    // the machine's load, unlike the wall time: it bounds the rate on an otherwise idle core.
    console.log(`retention CPU: ${fmt(cpuSeconds, 1)} s, ${fmt((cpuSeconds / Math.max(1, result.readings)) * 1e6, 2)} us a reading: one idle core archives up to ${fmt(result.readings / cpuSeconds)} readings/s (${fmt(result.readings / cpuSeconds / rate, 2)}x the target)`);
    // Retention must keep up with ingestion: compared with this run's own ingest rate (same machine, same load) and with --rate.
    console.log(
      `keeping up: retention archives ${fmt(archiveRate / ingestRate, 2)}x this run's ingest rate (${fmt(ingestRate)} readings/s committed) ` +
        `and ${fmt(archiveRate / rate, 2)}x the ${fmt(rate)} readings/s target; it runs on one core beside ingestion`,
    );
    console.log(`store before: ${fmt(before)} bytes, ${fmt(before / total, 1)} bytes a reading, ${fmt(perM(before) / 1e6, 1)} MB per million readings`);
    console.log(`store after:  ${fmt(after)} bytes, ${fmt(after / total, 1)} bytes a reading, ${fmt(perM(after) / 1e6, 1)} MB per million readings (window records, page roots, stream index, receipts${keptStreams ? ", kept streams" : ""})`);
    console.log(`archive:      ${fmt(archive)} bytes, ${fmt(archive / Math.max(1, result.readings), 1)} bytes an archived reading (gzip'd NDJSON with proof material)`);
    console.log(
      `at ${fmt(rate)} readings/s (${fmt(daily / 1e9, 2)} billion a day): without retention the store grows ${gb((before / total) * daily)} a day, forever; ` +
        `with ${keepDays} days kept it holds about ${gb((before / total) * daily * keepDays)} of recent readings and grows ${gb((after / total) * daily)} a day of what stays, while the archive takes ${gb((archive / total) * daily)} a day`,
    );
  } finally {
    await chain.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
