/**
 * The ingest benchmark: the member node's whole reading path on this machine.
 *
 * A real node (node/daemon.ts: LevelDB store, ingest pipeline, anchorer) runs against anvil on a
 * loopback port with the Tracemesh contracts deployed. Synthetic producers write batches of
 * readings into its ReadingSink as fast as the acknowledgements come back (or at --rate), so the
 * path is: normalise, canonical bytes, salt, leaf hash, group-committed LevelDB writes
 * (sync: true), window close (tree over the window), one anchor transaction per window, confirmed.
 *
 * Reported: readings/s (overall and per second: sustained), windows anchored and the anchoring
 * lag, peak RSS and its trend over the run (flat or growing), CPU used, proof retrieval and proof
 * verification rates (lib/verify-reading.ts against the anchors on chain), and lib/merkle.ts's
 * tree build against @openzeppelin/merkle-tree over the same leaves in the same run.
 *
 * Flags:
 *   --duration S       seconds of ingestion (default 45, about a minute in all; the soak test is 600)
 *   --streams N        distinct streams (default 100)
 *   --producers N      concurrent writers (default 4)
 *   --batch N          readings per write (default 500)
 *   --rate N           total readings/s to offer (default 0: as fast as acknowledgements allow)
 *   --window-ms MS     window length (default 1000)
 *   --proofs N         proofs to retrieve (default 3000); each is verified three times
 *   --merkle-leaves N  leaves for the tree comparison (default 10000)
 *   --keep             keep the data directory and print its path
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { loadavg, cpus, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
import { Wallet } from "ethers";
import { DataAnchors__factory } from "../../lib/contracts/types/index.js";
import { MerkleTree } from "../../lib/merkle.ts";
import type { Reading } from "../../lib/reading.ts";
import { sleep } from "../../lib/retry.ts";
import { type ReadingProof, cachedAnchorView, contractAnchorView, verifyReading } from "../../lib/verify-reading.ts";
import { rpcProvider } from "../../node/chain/client.ts";
import { deployLocal, devKey, peerOnlyNode, startAnvil } from "../local-chain/local-chain.ts";
import { writeNodeFolder } from "./node-folder.ts";
import { startNode } from "../../node/daemon.ts";

const root = path.resolve(import.meta.dirname, "..", "..");

interface Sample {
  t: number;
  acked: number;
  rssMb: number;
  heapMb: number;
  pending: number;
  closed: number;
  anchored: number;
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round((p / 100) * (s.length - 1))))] ?? 0;
};
/** Least-squares slope of y over x. */
const slope = (xs: number[], ys: number[]) => {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
};

function table(rows: [string, string, string?][]): string {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const line = `+-${"-".repeat(w0)}-+-${"-".repeat(w1)}-+`;
  const out = [line];
  for (const [k, v, note] of rows) out.push(`| ${k.padEnd(w0)} | ${v.padStart(w1)} |${note ? ` ${note}` : ""}`);
  out.push(line);
  return out.join("\n");
}

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: "string", default: "45" },
      streams: { type: "string", default: "100" },
      producers: { type: "string", default: "4" },
      batch: { type: "string", default: "500" },
      rate: { type: "string", default: "0" },
      "window-ms": { type: "string", default: "1000" },
      proofs: { type: "string", default: "3000" },
      "merkle-leaves": { type: "string", default: "10000" },
      keep: { type: "boolean", default: false },
    },
  });
  const duration = Number(values.duration) * 1000;
  const streamCount = Number(values.streams);
  const producers = Number(values.producers);
  const batchSize = Number(values.batch);
  const rate = Number(values.rate);
  const windowMs = Number(values["window-ms"]);
  const proofCount = Number(values.proofs);
  const merkleLeaves = Number(values["merkle-leaves"]);

  const loadBefore = loadavg();
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`run: ${values.duration} s, ${streamCount} streams, ${producers} producers x ${batchSize} readings per write, ${rate > 0 ? `${fmt(rate)} readings/s offered` : "unthrottled"}, ${windowMs} ms windows`);

  const dir = mkdtempSync(path.join(tmpdir(), "tracemesh-bench-"));
  const chain = await startAnvil();
  const nodeKey = devKey(3);
  const deployment = await deployLocal(chain.url, devKey(0), [{ name: "Bench Plant", accounts: [new Wallet(nodeKey).address], nodes: [peerOnlyNode("12D3KooWBenchPlant")] }]);
  const config = writeNodeFolder(dir, { deployment, rpcUrl: chain.url, nodeKey, organisation: "Bench Plant", dataDir: "data", windowMs });
  const node = await startNode(config, { log: (m) => console.log(`  [node] ${m}`) });

  const streams = Array.from({ length: streamCount }, (_, i) => `line-${Math.floor(i / 10)}/machine-${i % 10}/spindle-load`);
  let acked = 0;
  let producing = true;
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const producer = async (p: number) => {
    let i = p;
    let offered = 0;
    const share = rate / producers;
    while (producing) {
      const now = Date.now();
      const batch: Reading[] = new Array(batchSize);
      for (let k = 0; k < batchSize; k++) {
        batch[k] = { stream: streams[i++ % streamCount]!, metric: "spindleLoad", unit: "%", value: 40 + ((i * 7919) % 600) / 10, sourceTime: now, quality: "good" };
      }
      await node.pipeline.write(batch);
      acked += batchSize;
      offered += batchSize;
      if (share > 0) {
        const ahead = (offered / share) * 1000 - (performance.now() - started);
        if (ahead > 0) await sleep(ahead);
      }
    }
  };

  const samples: Sample[] = [];
  const sample = () => {
    const m = process.memoryUsage();
    const s = node.status();
    samples.push({ t: (performance.now() - started) / 1000, acked, rssMb: m.rss / 1e6, heapMb: m.heapUsed / 1e6, pending: s.windows.pending, closed: s.windows.closed, anchored: s.windows.anchored });
    const last = samples.at(-1)!;
    if (samples.length % 10 === 0) {
      const prev = samples.at(-11) ?? samples[0]!;
      const r = (last.acked - prev.acked) / (last.t - prev.t);
      console.log(`  t=${fmt(last.t)} s  ${fmt(r)} readings/s  rss ${fmt(last.rssMb)} MB  windows closed ${last.closed}, anchored ${last.anchored}, pending ${last.pending}`);
    }
  };
  const ticker = setInterval(sample, 1000);
  const running = Array.from({ length: producers }, (_, p) => producer(p));
  await sleep(duration);
  producing = false;
  await Promise.all(running);
  const ingestSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  clearInterval(ticker);
  sample();

  // Drain: close the last window and wait until everything is anchored.
  const drainStart = performance.now();
  await node.pipeline.closeWindow();
  await node.anchorer.anchoredUpTo(node.pipeline.lastClosed);
  const drainMs = performance.now() - drainStart;
  const final = node.status();

  // Proofs: random readings of closed windows, retrieved by the node, verified against the chain.
  const provider = rpcProvider(chain.url, deployment.chainId);
  const view = cachedAnchorView(contractAnchorView(DataAnchors__factory.connect(deployment.contracts.dataAnchors, provider)));
  const perStream = Math.floor(acked / streamCount);
  const picks = Array.from({ length: proofCount }, () => ({ stream: streams[Math.floor(Math.random() * streamCount)]!, seq: 1 + Math.floor(Math.random() * Math.max(1, perStream - 1)) }));
  const proven: { reading: Reading; proof: ReadingProof }[] = [];
  let t = performance.now();
  for (const p of picks) {
    const r = await node.proofs.proveReading(p.stream, p.seq);
    if (r) proven.push(r);
  }
  const proveSeconds = (performance.now() - t) / 1000;
  for (const p of proven) await view.getAnchor(p.proof.node, BigInt(p.proof.window)); // fetch the anchors once
  t = performance.now();
  let verified = 0;
  const rounds = 3;
  for (let round = 0; round < rounds; round++) {
    for (const p of proven) if ((await verifyReading(p.reading, p.proof, view)).ok && round === 0) verified++;
  }
  const verifySeconds = (performance.now() - t) / 1000 / rounds;
  provider.destroy();

  // Merkle trees over the same leaves: the leaf hashes of the fullest window.
  let fullest = 1;
  let fullestCount = 0;
  for (let w = 1; w <= final.windows.closed; w++) {
    const rec = await node.store.window(w);
    if (rec && rec.leafCount > fullestCount) [fullest, fullestCount] = [w, rec.leafCount];
  }
  const windowLeaves = (await node.store.leaves(fullest))!;
  const n = Math.min(merkleLeaves, windowLeaves.length / 32);
  const leaves = windowLeaves.subarray(0, n * 32);
  const hexLeaves = Array.from({ length: n }, (_, i) => "0x" + leaves.toString("hex", i * 32, (i + 1) * 32));
  const time = (f: () => void, reps: number) => {
    const s = performance.now();
    for (let i = 0; i < reps; i++) f();
    return (performance.now() - s) / 1000 / reps;
  };
  time(() => MerkleTree.fromLeafHashes(leaves), 2); // warm up
  const oursS = time(() => MerkleTree.fromLeafHashes(leaves), 10);
  time(() => SimpleMerkleTree.of(hexLeaves.slice(0, 1000)), 1);
  const ozS = time(() => SimpleMerkleTree.of(hexLeaves), 2);

  await node.stop();
  await chain.stop();

  // Figures.
  const perSecond: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = samples[i]!.t - samples[i - 1]!.t;
    if (dt > 0.5 && samples[i]!.t <= ingestSeconds) perSecond.push((samples[i]!.acked - samples[i - 1]!.acked) / dt);
  }
  const steady = perSecond.slice(Math.min(5, Math.floor(perSecond.length / 4))); // skip warm-up
  const rss = samples.map((s) => s.rssMb);
  // Memory trend: medians of 10-second buckets over the second half of the run (RSS swings with
  // LevelDB memtable flushes and garbage collection, and grows while V8 and LevelDB warm up; the
  // medians of the second half show whether it keeps growing).
  const buckets: { t: number; rss: number }[] = [];
  for (let b = Math.floor(ingestSeconds / 2 / 10) * 10; b < ingestSeconds; b += 10) {
    const inBucket = samples.filter((s) => s.t >= b && s.t < b + 10 && s.t <= ingestSeconds).map((s) => s.rssMb);
    if (inBucket.length > 0) buckets.push({ t: b + 5, rss: percentile(inBucket, 50) });
  }
  const rssSlope = buckets.length > 2 ? slope(buckets.map((b) => b.t / 60), buckets.map((b) => b.rss)) : 0;
  const quarter = (q: number) => {
    const inQ = samples.filter((s) => s.t >= (q * ingestSeconds) / 4 && s.t < ((q + 1) * ingestSeconds) / 4).map((s) => s.rssMb);
    return percentile(inQ, 50);
  };
  const maxPending = Math.max(...samples.map((s) => s.pending));
  const cores = (cpu.user + cpu.system) / 1e6 / ingestSeconds;
  const overall = acked / ingestSeconds;
  const loadAfter = loadavg();

  const rows: [string, string, string?][] = [
    ["readings acknowledged", fmt(acked), `in ${fmt(ingestSeconds, 1)} s`],
    ["readings/s, overall", fmt(overall), overall >= 50_000 ? "target 50,000: met" : "target 50,000: NOT met"],
    ["readings/s per second: min / median / max", `${fmt(Math.min(...steady))} / ${fmt(percentile(steady, 50))} / ${fmt(Math.max(...steady))}`, "after warm-up"],
    ["windows closed / anchored", `${fmt(final.windows.closed)} / ${fmt(final.windows.anchored)}`, `mean ${fmt(acked / Math.max(1, final.windows.closed))} readings per window`],
    ["windows pending anchoring, max during run", fmt(maxPending), maxPending <= 2 ? "anchoring kept up" : "anchoring fell behind"],
    ["drain: last window closed to anchored", `${fmt(drainMs)} ms`],
    ["peak RSS", `${fmt(Math.max(...rss))} MB`],
    ["median RSS per quarter of the run", `${fmt(quarter(0))} / ${fmt(quarter(1))} / ${fmt(quarter(2))} / ${fmt(quarter(3))} MB`],
    ["RSS trend (10 s medians, second half)", `${rssSlope >= 0 ? "+" : ""}${fmt(rssSlope, 1)} MB/min`, Math.abs(rssSlope) < 5 ? "flat" : rssSlope > 0 ? "growing" : "shrinking"],
    ["group commits (LevelDB sync batches)", fmt(final.ingest.commits), `${fmt(acked / Math.max(1, final.ingest.commits))} readings per fsync`],
    ["CPU used by the node process", `${fmt(cores, 2)} cores`, "main thread + LevelDB and libuv threads"],
    ["proofs retrieved/s (random readings, cold)", fmt(proven.length / proveSeconds), `${fmt(proven.length)} proofs`],
    ["proofs verified/s (verify-reading, anchors cached)", fmt(proven.length / verifySeconds), `${fmt(verified)} of ${fmt(proven.length)} ok`],
    [`Merkle build, lib/merkle.ts (${fmt(n)} leaves)`, `${fmt(n / oursS)} leaves/s`, `${fmt(oursS * 1000, 1)} ms per tree`],
    [`Merkle build, @openzeppelin SimpleMerkleTree`, `${fmt(n / ozS)} leaves/s`, `${fmt(ozS * 1000, 1)} ms per tree`],
    ["ratio lib/merkle.ts : OpenZeppelin", `${fmt(ozS / oursS, 1)}x`, "same leaves, same run"],
    ["load average before / after", `${loadBefore[0]!.toFixed(2)} / ${loadAfter[0]!.toFixed(2)}`, "other processes share the machine"],
  ];
  console.log("\n" + table(rows));

  const report = {
    machine: { cores: cpus().length, model: cpus()[0]?.model.trim(), loadBefore, loadAfter },
    settings: { durationS: Number(values.duration), streams: streamCount, producers, batch: batchSize, rate, windowMs },
    readings: acked,
    readingsPerSecond: overall,
    perSecond: { min: Math.min(...steady), median: percentile(steady, 50), max: Math.max(...steady) },
    windows: { closed: final.windows.closed, anchored: final.windows.anchored, maxPending, drainMs },
    rssMb: { peak: Math.max(...rss), quarters: [0, 1, 2, 3].map(quarter), trendMbPerMin: rssSlope, samples: samples.map((s) => [Math.round(s.t), Math.round(s.rssMb), Math.round(s.heapMb)]) },
    commits: final.ingest.commits,
    cpuCores: cores,
    proofs: { retrievedPerSecond: proven.length / proveSeconds, verifiedPerSecond: proven.length / verifySeconds, verified, total: proven.length },
    merkle: { leaves: n, oursLeavesPerSecond: n / oursS, openzeppelinLeavesPerSecond: n / ozS, ratio: ozS / oursS },
  };
  mkdirSync(path.join(root, "reports"), { recursive: true });
  writeFileSync(path.join(root, "reports", "bench-ingest.json"), JSON.stringify(report, null, 2) + "\n");
  console.log(`\nreport: reports/bench-ingest.json`);
  if (values.keep) console.log(`data kept in ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
