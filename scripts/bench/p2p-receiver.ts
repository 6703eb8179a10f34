/**
 * The receiving member node of the peer-network benchmark (p2p.ts): its peer network and received
 * store, fetching a producer's readings page by page, every answer verified and stored. It runs in
 * the benchmark's own process (`--processes 1`: both ends share one event loop) or, by default, in
 * a child process of its own (`--processes 2`: two member processes, each with its core, as
 * members run), driven over IPC: `startReceiver` forks it and hands back the same interface.
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { multiaddr } from "@multiformats/multiaddr";
import type { Deployment } from "../../lib/deployment.ts";
import { rpcProvider } from "../../node/chain/client.ts";
import { parseConfig } from "../../node/config.ts";
import { PeerNetwork } from "../../node/p2p/network.ts";

export interface ReceiverSetup {
  /** The benchmark's directory: the receiver's key file and data go there. */
  dir: string;
  chainUrl: string;
  deployment: Deployment;
}

/** What one phase of fetching moved and cost, on the receiving side. */
export interface PhaseResult {
  readings: number;
  answers: number;
  seconds: number;
  /** Answer frames as received. */
  bytes: number;
  verifyMs: number;
  /** CPU time of the receiving process over the phase (its own process only). */
  cpuUs: number;
  /** One line per page of the large window. */
  lines: string[];
}

export interface Receiver {
  /**
   * A warm-up before anything is timed: the first reading of each stream fetched, verified and
   * stored (the connection dialled, the code paths compiled); the timed pages store them again
   * under the same keys.
   */
  warmUp(plan: { producer: string; streams: string[] }): Promise<void>;
  /** Every page of each stream, a stream's pages in order (the next one asked for while one is verified), `concurrency` streams at once. */
  fetchStreams(plan: { producer: string; streams: string[]; page: number; concurrency: number }): Promise<PhaseResult>;
  /** The `readings` of one stream's single window by seq offsets, `concurrency` pages at once, each checked to hold its page. */
  fetchWindow(plan: { producer: string; stream: string; readings: number; page: number; concurrency: number }): Promise<PhaseResult>;
  /** Readings held in the received store. */
  stored(): Promise<number>;
  stop(): Promise<void>;
}

const cpuNow = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

/** The receiver in this process. */
export async function receiverHere(setup: ReceiverSetup): Promise<Receiver> {
  let bytes = 0;
  let verifyMs = 0;
  const provider = rpcProvider(setup.chainUrl, 31337);
  const config = parseConfig(
    { organisation: 2, dataDir: "./oem", chain: { rpcUrl: setup.chainUrl, deployment: "./deployment.json", keyEnv: "UNUSED" }, p2p: { keyFile: "./oem.p2p.key", listen: ["/ip4/127.0.0.1/tcp/0"] } },
    setup.dir,
  );
  const network = await PeerNetwork.start({
    config: config.p2p!,
    dataDir: config.dataDir,
    deployment: setup.deployment,
    provider,
    ownerOrg: 2,
    clientHooks: { onBytes: (n) => (bytes += n), onVerified: (ms) => (verifyMs += ms) },
  });
  const phase = async (work: (result: PhaseResult) => Promise<void>): Promise<PhaseResult> => {
    const [bytes0, verify0, cpu0, t0] = [bytes, verifyMs, cpuNow(), performance.now()];
    const result: PhaseResult = { readings: 0, answers: 0, seconds: 0, bytes: 0, verifyMs: 0, cpuUs: 0, lines: [] };
    await work(result);
    return { ...result, seconds: (performance.now() - t0) / 1000, bytes: bytes - bytes0, verifyMs: verifyMs - verify0, cpuUs: cpuNow() - cpu0 };
  };
  const open = Date.now() + 60_000;
  return {
    async warmUp({ producer, streams }) {
      for (const stream of streams) await network.fetchReadings(multiaddr(producer), { stream, from: 0, to: open, afterSeq: 0, limit: 1 });
    },
    fetchStreams: ({ producer, streams, page, concurrency }) =>
      phase(async (result) => {
        const queue = [...streams];
        const fetchStream = async (stream: string) => {
          // As a follow fetches: the next page asked for while this one is verified and stored.
          for await (const r of network.fetchReadingPages(multiaddr(producer), { stream, from: 0, to: open, afterSeq: 0, limit: page })) {
            result.readings += r.count;
            result.answers++;
          }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, streams.length) }, async () => {
          for (let s = queue.shift(); s !== undefined; s = queue.shift()) await fetchStream(s);
        }));
      }),
    fetchWindow: ({ producer, stream, readings, page, concurrency }) =>
      phase(async (result) => {
        // The window's seqs are 1..readings (its stream has no other window).
        const offsets = Array.from({ length: Math.ceil(readings / page) }, (_, k) => k * page);
        await Promise.all(Array.from({ length: Math.min(concurrency, offsets.length) }, async () => {
          for (let afterSeq = offsets.shift(); afterSeq !== undefined; afterSeq = offsets.shift()) {
            const ta = performance.now();
            const r = await network.fetchReadings(multiaddr(producer), { stream, from: 0, to: open, afterSeq, limit: page });
            if (r.count !== Math.min(page, readings - afterSeq)) throw new Error(`the page after seq ${afterSeq} held ${r.count} readings`);
            result.lines.push(`page after seq ${afterSeq.toLocaleString("en-US")}: ${r.count.toLocaleString("en-US")} readings in ${Math.round(performance.now() - ta)} ms`);
            result.readings += r.count;
            result.answers++;
          }
        }));
      }),
    stored: () => network.received.total(),
    async stop() {
      await network.stop();
      provider.destroy();
    },
  };
}

type Call = { id: number; method: "warmUp" | "fetchStreams" | "fetchWindow" | "stored" | "stop"; args: unknown[] };
type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** The receiver in a child process of its own (this file, forked), with the same interface. */
export async function receiverApart(setup: ReceiverSetup): Promise<Receiver> {
  const child = fork(fileURLToPath(import.meta.url), ["--bench-receiver"], { execArgv: ["--import", "tsx"], serialization: "advanced", stdio: "inherit" });
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let next = 0;
  let exited: Error | undefined;
  child.on("message", (m: Reply | "ready") => {
    if (m === "ready") return waiting.get(-1)?.resolve(undefined);
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.ok) w?.resolve(m.value);
    else w?.reject(new Error(`receiver process: ${m.error}`));
  });
  child.on("exit", (code) => {
    exited = new Error(`the receiver process exited (code ${code})`);
    for (const w of waiting.values()) w.reject(exited);
    waiting.clear();
  });
  const call = (id: number, send: () => void) =>
    new Promise<unknown>((resolve, reject) => {
      if (exited) return reject(exited);
      waiting.set(id, { resolve, reject });
      send();
    });
  await call(-1, () => child.send({ setup }));
  const remote = (method: Call["method"]) => (...args: unknown[]) => {
    const id = next++;
    return call(id, () => child.send({ id, method, args } satisfies Call));
  };
  return {
    warmUp: remote("warmUp") as Receiver["warmUp"],
    fetchStreams: remote("fetchStreams") as Receiver["fetchStreams"],
    fetchWindow: remote("fetchWindow") as Receiver["fetchWindow"],
    stored: remote("stored") as Receiver["stored"],
    async stop() {
      if (exited) return;
      await remote("stop")();
      child.disconnect();
    },
  };
}

// The child: set up on the first message, then answer calls one by one.
if (process.argv.includes("--bench-receiver") && process.send) {
  let receiver: Receiver | undefined;
  process.on("disconnect", () => process.exit(0)); // the benchmark ended, or failed
  process.on("message", (m: { setup: ReceiverSetup } | Call) => {
    void (async () => {
      if ("setup" in m) {
        receiver = await receiverHere(m.setup);
        process.send!("ready");
        return;
      }
      try {
        const value = await (receiver![m.method] as (...a: unknown[]) => Promise<unknown>)(...m.args);
        process.send!({ id: m.id, ok: true, value } satisfies Reply);
      } catch (e) {
        process.send!({ id: m.id, ok: false, error: (e as Error).stack ?? String(e) } satisfies Reply);
      }
    })();
  });
}
