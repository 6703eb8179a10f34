/**
 * The cold single-reading proof benchmark: no chain, no peers, only the node's reading store.
 *
 * Readings go through the ingest pipeline (node/ingest/pipeline.ts) into a fresh store, in group
 * commits of `--batch` readings over `--streams` streams, closing a window every `--window`
 * readings. The store is then closed and opened afresh (empty caches), and `--proofs` random
 * readings are proven one after another, then again `--concurrency` at once on a store opened
 * afresh again. Every proof is checked against its window's root (the root the node anchors).
 * The machine's load average (as `uptime` prints it) stands beside every figure.
 *
 * Flags:
 *   --readings N     readings stored (default 200000)
 *   --streams N      streams they are spread over (default 4)
 *   --batch N        readings per group commit (default 2000)
 *   --window N       readings per window (default 20000)
 *   --proofs N       cold proofs (default 5000)
 *   --concurrency N  proofs at once in the second pass (default 4)
 *   --quick          50,000 readings, 2,000 proofs
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Reading } from "../../lib/reading.ts";
import { type AnchorView, verifyReading } from "../../lib/verify-reading.ts";
import { IngestPipeline } from "../../node/ingest/pipeline.ts";
import { type ProvenReading, ProofService } from "../../node/ingest/proofs.ts";
import { IngestStore } from "../../node/ingest/store.ts";

const NODE = "0x" + "be".repeat(20);
const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
/** Counts the store's LevelDB reads: gets (on this thread or LevelDB's thread pool), getManys, and iterators (seeks). */
function countCalls(store: IngestStore): { get: number; getSync: number; getMany: number; iterators: number } {
  const counts = { get: 0, getSync: 0, getMany: 0, iterators: 0 };
  const db = store.db as unknown as Record<string, (...args: unknown[]) => unknown>;
  // keys() and values() make their iterator through iterator().
  for (const [method, counter] of [["get", "get"], ["getSync", "getSync"], ["getMany", "getMany"], ["iterator", "iterators"]] as const) {
    const original = db[method]!.bind(store.db);
    db[method] = (...args: unknown[]) => {
      counts[counter]++;
      return original(...args);
    };
  }
  return counts;
}

const load = () => `load average ${loadavg().map((l) => l.toFixed(2)).join(", ")}`;

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      readings: { type: "string", default: "200000" },
      streams: { type: "string", default: "4" },
      batch: { type: "string", default: "2000" },
      window: { type: "string", default: "20000" },
      proofs: { type: "string", default: "5000" },
      concurrency: { type: "string", default: "4" },
      quick: { type: "boolean", default: false },
    },
  });
  const total = values.quick ? 50_000 : Number(values.readings);
  const proofCount = values.quick ? 2_000 : Number(values.proofs);
  const streamCount = Number(values.streams);
  const batch = Number(values.batch);
  const concurrency = Number(values.concurrency);
  const streams = Array.from({ length: streamCount }, (_, i) => `line-${i + 1}/press/temperature`);
  const dir = mkdtempSync(path.join(tmpdir(), "tm-bench-proofs-"));
  try {
    let store = await IngestStore.open(dir);
    const pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 7), { windowMs: 3_600_000, maxWindowReadings: Number(values.window) });
    const t0 = Date.now() - 60_000;
    const tw = performance.now();
    for (let i = 0; i < total; i += batch) {
      await pipeline.write(
        Array.from({ length: Math.min(batch, total - i) }, (_, k): Reading => ({ stream: streams[(i + k) % streamCount]!, metric: "temperature", value: 20 + ((i + k) % 1000) / 10, unit: "Cel", sourceTime: t0 + i + k, quality: "good" })),
      );
    }
    await pipeline.stop();
    const storeSeconds = (performance.now() - tw) / 1000;
    const { lastClosed } = await store.head();
    // What it settles to on disk (classic-level has compactRange; the level package's types omit it).
    await (store.db as unknown as { compactRange(start: Buffer, end: Buffer): Promise<void> }).compactRange(Buffer.alloc(0), Buffer.alloc(64, 0xff));
    const bytes = readdirSync(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
    console.log(`stored ${fmt(total)} readings of ${streamCount} streams in ${lastClosed} windows (group commits of ${fmt(batch)}) in ${fmt(storeSeconds, 1)} s; ${fmt(bytes / total, 1)} bytes a reading on disk once compacted`);
    // The anchors the node would have put on chain: each window's root, time range and leaf count.
    const anchors = new Map<bigint, { root: string; fromTimeMs: number; toTimeMs: number; anchoredAt: number; leafCount: number }>();
    for (let w = 1; w <= lastClosed; w++) {
      const r = (await store.window(w))!;
      anchors.set(BigInt(w), { root: r.root, fromTimeMs: r.fromTimeMs, toTimeMs: r.toTimeMs, anchoredAt: Math.ceil(r.toTimeMs / 1000), leafCount: r.leafCount });
    }
    const chain: AnchorView = { getAnchor: async (node, seq) => (node.toLowerCase() === NODE ? anchors.get(seq) : undefined) };
    const perStream = Math.floor(total / streamCount);
    const picks = Array.from({ length: proofCount }, () => ({ stream: streams[Math.floor(Math.random() * streamCount)]!, seq: 1 + Math.floor(Math.random() * perStream) }));
    const check = async (p: { stream: string; seq: number }, r: ProvenReading | undefined) => {
      if (r === undefined) throw new Error(`no proof for ${p.stream} #${p.seq}`);
      const result = await verifyReading(r.reading, r.proof, chain);
      if (!result.ok || r.seq !== p.seq || r.reading.stream !== p.stream) throw new Error(`the proof of ${p.stream} #${p.seq} does not verify against window ${r.proof.window}'s root: ${JSON.stringify(result)}`);
    };

    await store.close();
    store = await IngestStore.open(dir);
    let proofs = new ProofService(store, NODE);
    const calls = countCalls(store);
    const proven: (ProvenReading | undefined)[] = [];
    const cpu = process.cpuUsage();
    const t1 = performance.now();
    for (const p of picks) proven.push(await proofs.proveReading(p.stream, p.seq));
    const s1 = (performance.now() - t1) / 1000;
    const cpuUs = process.cpuUsage(cpu);
    const perProofCalls = `${fmt(calls.getSync / proofCount, 2)} gets on this thread, ${fmt(calls.get / proofCount, 2)} gets and ${fmt(calls.getMany / proofCount, 2)} getManys on LevelDB's threads, ${fmt(calls.iterators / proofCount, 2)} seeks`;
    for (let k = 0; k < picks.length; k++) await check(picks[k]!, proven[k]);

    await store.close();
    store = await IngestStore.open(dir);
    proofs = new ProofService(store, NODE);
    const queue = picks.map((p, k) => ({ ...p, k }));
    const t2 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let p = queue.shift(); p !== undefined; p = queue.shift()) proven[p.k] = await proofs.proveReading(p.stream, p.seq);
      }),
    );
    const s2 = (performance.now() - t2) / 1000;
    for (let k = 0; k < picks.length; k++) await check(picks[k]!, proven[k]);
    await store.close();
    const perProof = (cpuUs.user + cpuUs.system) / proofCount;
    console.log(`\ncold single-reading proofs: ${fmt(proofCount)} random readings, store opened afresh, each checked against its window's root`);
    console.log(`  one after another  ${fmt(proofCount / s1)} proofs/s ${proofCount / s1 >= 5000 ? "(target 5,000: met)" : "(target 5,000: NOT met)"}`);
    console.log(`  ${concurrency} at once          ${fmt(proofCount / s2)} proofs/s`);
    console.log(`  CPU                ${fmt(perProof, 1)} us per proof, one after another (main thread and LevelDB's threads)`);
    console.log(`  LevelDB calls      ${perProofCalls} per proof, one after another`);
    console.log(`  machine            ${load()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
