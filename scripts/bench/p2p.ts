/**
 * The peer-network benchmark: readings moving between two member nodes with every proof checked.
 *
 * A producing node (node/daemon.ts: ingest store, pipeline, anchorer, peer network) ingests
 * `--readings` readings over `--streams` streams into `--window-ms` windows on anvil, anchored on
 * DataAnchors; it grants the second organisation each stream. A second node (the peer network
 * with its received store) then fetches every reading over libp2p (TCP, Noise, Yamux on
 * 127.0.0.1) through `/tracemesh/fetch`, in pages of `--page`, verifying each answer against the
 * anchors on chain (lib/verify-reading.ts) and storing it whole in its received LevelDB.
 *
 * Reported: readings/s and MB/s of answer frames over the whole transfer (serving, proofs, wire,
 * verification, storage), bytes a reading as counted on the stream (answer frames), CPU time a
 * reading (both ends: a figure a busy machine distorts less than wall time), and the share of time
 * spent verifying. The receiving node runs in a child process of its own (p2p-receiver.ts), so
 * the two members each have their core as they would in production; with `--processes 1` both
 * share this process's event loop, a single-core path (CPU a reading is then the one process's).
 * Before anything is timed, the receiver fetches the first reading of each stream (a warm-up:
 * the connection dialled, the code paths compiled). Then one window holding `--big-window` readings of a
 * single stream (a run larger than one answer) is fetched the same way, in pages of sub-range
 * proofs, and reported on its own. Last, cold single-reading proofs: the producer stopped, its
 * store opened afresh (empty caches) and `--proofs` random readings proven one after another.
 * The machine's load average (as `uptime` prints it) stands beside every figure.
 *
 * Flags:
 *   --readings N    readings to produce and transfer (default 40000)
 *   --streams N     streams they are spread over (default 4)
 *   --page N        readings per answer at most (default 10000)
 *   --window-ms MS  window length of the producer (default 1000)
 *   --big-window N  readings of one stream in one window, fetched after the rest (default 50000; 0 skips it)
 *   --concurrency N pages asked for at once (default 4): streams in parallel, and the large window's
 *                   pages by seq offsets (1 asks one page after another); also cold proofs at once
 *   --proofs N      cold single-reading proofs (default 2000; 0 skips them)
 *   --processes N   2 (default): the receiver in a child process; 1: both nodes in this process
 *   --quick         10,000 readings, a large window of 12,000, 500 proofs: under a minute
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { encodeBytes32String, NonceManager, Wallet } from "ethers";
import { streamScopeKey } from "../../lib/access.ts";
import { connectContracts } from "../../lib/deployment.ts";
import type { Reading } from "../../lib/reading.ts";
import { ScopeKind } from "../../lib/registry.ts";
import { rpcProvider } from "../../node/chain/client.ts";
import { deployLocal, devKey, startAnvil } from "../local-chain/local-chain.ts";
import { writeNodeFolder } from "./node-folder.ts";
import { startNode } from "../../node/daemon.ts";
import { peerIdOfKeyFile } from "../../node/p2p/host.ts";
import { ProofService } from "../../node/ingest/proofs.ts";
import { IngestStore } from "../../node/ingest/store.ts";
import { type PhaseResult, type Receiver, receiverApart, receiverHere } from "./p2p-receiver.ts";

/** The most readings `stream` has in one window of `store`. */
async function largestRunOf(store: IngestStore, stream: string): Promise<number> {
  let largest = 0;
  for (let w = 1; w <= (await store.head()).lastClosed; w++) largest = Math.max(largest, (await store.window(w))?.runs.find((r) => r.stream === stream)?.count ?? 0);
  return largest;
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** A registered node identity for a peer id (enode and validator derived, unique per peer). */
function nodeIdentity(peerId: string, i: number) {
  return { peerId, enodeId: (i + 1).toString(16).padStart(128, "0"), enodeHost: "127.0.0.1", enodePort: 30303, validator: "0x" + (i + 1).toString(16).padStart(40, "0") };
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      readings: { type: "string" },
      streams: { type: "string", default: "4" },
      page: { type: "string", default: "10000" },
      "window-ms": { type: "string", default: "1000" },
      "big-window": { type: "string" },
      concurrency: { type: "string", default: "4" },
      proofs: { type: "string" },
      processes: { type: "string", default: "2" },
      quick: { type: "boolean", default: false },
      duration: { type: "string" }, // other benchmarks' flag: ignored here
    },
  });
  const quick = values.quick === true;
  const total = Number(values.readings ?? (quick ? 10_000 : 40_000));
  const streamCount = Number(values.streams);
  const page = Number(values.page);
  const windowMs = Number(values["window-ms"]);
  const bigWindow = Number(values["big-window"] ?? (quick ? 12_000 : 50_000));
  const concurrency = Math.max(1, Number(values.concurrency));
  const proofCount = Number(values.proofs ?? (quick ? 500 : 2_000));
  const processes = Number(values.processes);
  if (processes !== 1 && processes !== 2) throw new Error(`--processes must be 1 or 2 (got ${values.processes})`);
  const load = () => `load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`;
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`run: ${fmt(total)} readings over ${streamCount} streams, ${windowMs} ms windows, pages of ${fmt(page)}, ${concurrency} at once, ${processes === 2 ? "producer and receiver in processes of their own" : "producer and receiver in one process"}`);

  const dir = mkdtempSync(path.join(tmpdir(), "tracemesh-bench-p2p-"));
  const chain = await startAnvil();
  const provider = rpcProvider(chain.url, 31337);
  let producer: Awaited<ReturnType<typeof startNode>> | undefined;
  let receiver: Receiver | undefined;
  try {
    const [plantPeer, oemPeer] = await Promise.all(["plant", "oem"].map((n) => peerIdOfKeyFile(path.join(dir, `${n}.p2p.key`))));
    const plantKey = devKey(3);
    const plantAdmin = devKey(5);
    const deployment = await deployLocal(chain.url, devKey(0), [
      { name: "Bench Plant", accounts: [new Wallet(plantKey).address, new Wallet(plantAdmin).address], nodes: [nodeIdentity(plantPeer!, 0)] },
      { name: "Bench OEM", accounts: [new Wallet(devKey(4)).address], nodes: [nodeIdentity(oemPeer!, 1)] },
    ]);
    const config = writeNodeFolder(dir, {
      deployment,
      rpcUrl: chain.url,
      nodeKey: plantKey,
      organisation: "Bench Plant",
      dataDir: "plant",
      windowMs,
      more: { p2p: { keyFile: "./plant.p2p.key", listen: ["/ip4/127.0.0.1/tcp/0"], maxReadings: page } },
    });
    const log = () => {};
    producer = await startNode(config, { log });

    // Produce: batches of readings, spread over the streams, then everything anchored.
    const streams = Array.from({ length: streamCount }, (_, i) => `press-${i}/force`);
    const bigStream = "press-big/force";
    const t0 = performance.now();
    for (let i = 0; i < total; ) {
      const now = Date.now();
      const batch: Reading[] = [];
      for (let k = 0; k < 1000 && i < total; k++, i++) {
        batch.push({ stream: streams[i % streamCount]!, metric: "force", unit: "kN", value: 200 + ((i * 7919) % 1000) / 10, sourceTime: now, quality: "good" });
      }
      await producer.pipeline.write(batch);
    }
    await producer.pipeline.closeWindow();
    // The large window: one stream's readings written at once, in a window of their own.
    if (bigWindow > 0) {
      const now = Date.now();
      await producer.pipeline.write(Array.from({ length: bigWindow }, (_, i): Reading => ({ stream: bigStream, metric: "force", unit: "kN", value: i / 10, sourceTime: now, quality: "good" })));
      await producer.pipeline.closeWindow();
    }
    await producer.anchorer.anchoredUpTo(producer.pipeline.lastClosed);
    console.log(`produced and anchored ${fmt(total)} readings in ${fmt((performance.now() - t0) / 1000, 1)} s (${producer.status().windows.anchored} windows)`);

    const grants = connectContracts(deployment.contracts, provider).accessGrants.connect(new NonceManager(new Wallet(plantAdmin, provider)));
    const expiry = Math.floor(Date.now() / 1000) + 3600;
    for (const s of [...streams, ...(bigWindow > 0 ? [bigStream] : [])]) await (await grants.grantAccess(2, ScopeKind.DataStream, streamScopeKey(s), encodeBytes32String("BENCH"), 0, 0, expiry)).wait();

    // The receiving node: its peer network and received store, in this process or a child process.
    const setup = { dir, chainUrl: chain.url, deployment };
    receiver = processes === 2 ? await receiverApart(setup) : await receiverHere(setup);
    const producerAddr = producer.p2p!.host.getMultiaddrs()[0]!.toString();
    const cpuUs = (c: NodeJS.CpuUsage) => c.user + c.system;
    // CPU of both ends over a phase: this process's, plus the receiver's own when it runs apart.
    const both = async (fetch: () => Promise<PhaseResult>) => {
      const cpu = process.cpuUsage();
      const result = await fetch();
      return { result, cpu: cpuUs(process.cpuUsage(cpu)) + (processes === 2 ? result.cpuUs : 0) };
    };

    await receiver.warmUp({ producer: producerAddr, streams });
    const { result: all, cpu } = await both(() => receiver!.fetchStreams({ producer: producerAddr, streams, page, concurrency }));
    const stored = await receiver.stored();
    if (all.readings !== total || stored !== total) throw new Error(`transferred ${all.readings} and stored ${stored} readings, produced ${total}`);
    const cpuPerReading = cpu / all.readings;

    console.log("\nresults");
    console.log(`  transferred        ${fmt(all.readings)} readings in ${all.answers} answers, ${fmt(all.seconds, 2)} s, every proof verified and every answer stored`);
    console.log(`  throughput         ${fmt(all.readings / all.seconds)} readings/s, ${fmt(all.bytes / 1e6 / all.seconds, 2)} MB/s (${fmt(all.bytes / 1e6, 1)} MB of answer frames, ${fmt(all.bytes / all.readings)} bytes per reading)`);
    console.log(`  CPU                ${fmt(cpuPerReading, 1)} us per reading, both ends (at most ${fmt(1e6 / cpuPerReading)} readings/s per core)`);
    if (processes === 2) {
      // Busy share of each process's core over the transfer; the rest it waited (on the other end, the wire, the disk, or the machine).
      const busy = (us: number) => `${fmt((us / 1e6 / all.seconds) * 100, 1)} %`;
      console.log(`  busy               producer ${busy(cpu - all.cpuUs)} of its core, receiver ${busy(all.cpuUs)} (idle the rest)`);
    }
    console.log(`  verification       ${fmt((all.verifyMs / 1000 / all.seconds) * 100, 1)} % of the time (${fmt(all.verifyMs / 1000, 2)} s, ${fmt((all.verifyMs * 1000) / all.readings, 1)} us per reading)`);
    console.log(`  machine            ${load()}`);

    if (bigWindow > 0) {
      const largestRun = await largestRunOf(producer.store, bigStream);
      const { result: big, cpu } = await both(() => receiver!.fetchWindow({ producer: producerAddr, stream: bigStream, readings: largestRun, page, concurrency }));
      for (const line of big.lines) console.log(`  ${line}`);
      if (big.readings !== bigWindow) throw new Error(`the large window: transferred ${big.readings} readings of ${bigWindow}`);
      console.log(`\nlarge window: ${fmt(largestRun)} readings of one stream in one window, fetched in ${big.answers} answers of sub-range proofs`);
      console.log(`  throughput         ${fmt(big.readings / big.seconds)} readings/s, ${fmt(big.bytes / big.readings)} bytes per reading, verification ${fmt((big.verifyMs / 1000 / big.seconds) * 100, 1)} % of the time`);
      console.log(`  CPU                ${fmt(cpu / big.readings, 1)} us per reading, both ends`);
      console.log(`  machine            ${load()}`);
    }

    if (proofCount > 0) {
      // Cold single-reading proofs: the producer's store opened afresh, nothing cached.
      await producer.stop();
      producer = undefined;
      let store = await IngestStore.open(path.join(dir, "plant", "db"));
      try {
        const proofs = new ProofService(store, new Wallet(plantKey).address);
        const perStream = (await store.closedNextSeqs()).get(streams[0]!)! - 1;
        const picks = Array.from({ length: proofCount }, () => ({ stream: streams[Math.floor(Math.random() * streamCount)]!, seq: 1 + Math.floor(Math.random() * perStream) }));
        const cpu3 = process.cpuUsage();
        const t3 = performance.now();
        for (const p of picks) if ((await proofs.proveReading(p.stream, p.seq)) === undefined) throw new Error(`no proof for ${p.stream} #${p.seq}`);
        const s3 = (performance.now() - t3) / 1000;
        const cpuPerProof = cpuUs(process.cpuUsage(cpu3)) / proofCount;
        // As a serving node answers them: `concurrency` at once, on a store opened afresh again.
        await store.close();
        store = await IngestStore.open(path.join(dir, "plant", "db"));
        const concurrent = new ProofService(store, new Wallet(plantKey).address);
        const queue = [...picks];
        const t4 = performance.now();
        await Promise.all(Array.from({ length: concurrency }, async () => {
          for (let p = queue.shift(); p !== undefined; p = queue.shift()) if ((await concurrent.proveReading(p.stream, p.seq)) === undefined) throw new Error(`no proof for ${p.stream} #${p.seq}`);
        }));
        const s4 = (performance.now() - t4) / 1000;
        console.log(`\ncold single-reading proofs: ${fmt(proofCount)} random readings of ${streamCount} streams, store opened afresh`);
        console.log(`  throughput         ${fmt(proofCount / s3)} proofs/s, one after another`);
        console.log(`  concurrently       ${fmt(proofCount / s4)} proofs/s, ${concurrency} at once`);
        console.log(`  CPU                ${fmt(cpuPerProof, 1)} us per proof (at most ${fmt(1e6 / cpuPerProof)} proofs/s per core; the rest of the wall time waits on LevelDB reads)`);
        console.log(`  machine            ${load()}`);
      } finally {
        await store.close();
      }
    }
  } finally {
    await receiver?.stop();
    await producer?.stop();
    provider.destroy();
    await chain.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
