/**
 * A full disk under ingestion (issue 18): the reading store's LevelDB refuses writes with ENOSPC
 * (injected at its batch call, since CI cannot fill a disk; like LevelDB after a failed log sync,
 * it keeps refusing until it is reopened). Ingestion pauses with a clear message, readings wait
 * instead of being dropped, counters count durable writes only, and it resumes by itself once
 * space returns: no restart, nothing lost, sequence numbers without a gap. A running node says
 * so in its log, status and metrics.
 */
import { describe, expect, it } from "vitest";
import type { Reading } from "../../../lib/reading.ts";
import { loadConfig } from "../../../node/config.ts";
import { type EdgeModule, formatStatus, startNode } from "../../../node/daemon.ts";
import type { AdapterContext, AdapterStatus, EdgeAdapter } from "../../../node/edge/adapter.ts";
import { type IngestStall, IngestPipeline, PipelineClosedError } from "../../../node/ingest/pipeline.ts";
import { type IngestStore, parseChunk } from "../../../node/ingest/store.ts";
import { nodeEnv } from "./support/env.ts";
import { storesPerTest } from "./support/stores.ts";

const SECRET = Buffer.alloc(32, 9);
const { tempDir, openStore } = storesPerTest("tracemesh-diskfull-");

/**
 * Makes the store's LevelDB refuse batches with ENOSPC while `full`; a refusal sticks until the
 * database is reopened with space back, as LevelDB's own does.
 */
function injectDiskFull(store: IngestStore) {
  const db = store.db;
  const batch = db.batch.bind(db) as (ops: unknown, options: unknown) => Promise<void>;
  const open = db.open.bind(db);
  const fault = { full: false, refusing: false, refused: 0, reopened: 0 };
  (db as unknown as { batch: (ops: unknown, options: unknown) => Promise<void> }).batch = (ops, options) => {
    if (fault.full || fault.refusing) {
      fault.refused++;
      fault.refusing = true;
      const cause = Object.assign(new Error(`IO error: ${store.location}/000005.log: No space left on device`), { code: "ENOSPC" });
      return Promise.reject(Object.assign(new Error("Write failed", { cause }), { code: "LEVEL_IO_ERROR" }));
    }
    return batch(ops, options);
  };
  db.open = (async (...args: Parameters<typeof open>) => {
    await open(...args);
    fault.reopened++;
    if (!fault.full) fault.refusing = false;
  }) as typeof open;
  return fault;
}

const reading = (stream: string, value: number): Reading => ({ stream, metric: "temperature", unit: "Cel", value, sourceTime: Date.now(), quality: "good" });
const batchOf = (n: number, base: number) => Array.from({ length: n }, (_, i) => reading(i % 2 === 0 ? "a" : "b", base + i));

async function until(what: string, probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every reading in the store (closed windows and the open one): per stream, its sequence numbers in order. */
async function storedSeqs(store: IngestStore): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for await (const [, value] of store.db.iterator({ gte: Buffer.from("c"), lt: Buffer.from("d") })) {
    for (const s of parseChunk(value).sections) {
      const list = out.get(s.stream) ?? [];
      for (let k = 0; k < s.count; k++) list.push(s.firstSeq + k);
      out.set(s.stream, list);
    }
  }
  return out;
}

describe("a full disk under ingestion", () => {
  it("pauses, keeps the readings waiting, counts only durable ones, and resumes by itself once space returns", async () => {
    const store = await openStore();
    const fault = injectDiskFull(store);
    const p = await IngestPipeline.open(store, SECRET, { windowMs: 100, maxPendingReadings: 10, storeRetry: { initialDelayMs: 30, maxDelayMs: 120 } });
    const stalls: IngestStall[] = [];
    const resumed: IngestStall[] = [];
    p.on("stalled", (s: IngestStall) => stalls.push(s));
    p.on("resumed", (s: IngestStall) => resumed.push(s));
    await p.write(batchOf(4, 0));
    expect(p.status().readingsStored).toBe(4);

    fault.full = true;
    let acked = false;
    const first = p.append(batchOf(6, 100)).then((seqs) => ((acked = true), seqs));
    await until("the pause", () => (p.status().stalled?.attempts ?? 0) >= 3);
    // Later writers wait for room (back-pressure), they are not refused.
    const second = p.append(batchOf(8, 200));
    await until("a writer waiting", () => p.status().waitingWrites === 1);
    const during = p.status();
    expect(during.stalled!.lastError).toMatch(/the disk is full: .*No space left on device/);
    expect(during.failed).toBeUndefined();
    expect(during.readingsStored).toBe(4); // none of the refused ones
    expect(acked).toBe(false);
    expect(stalls[0]!.attempts).toBe(1);
    expect(stalls.at(-1)!.retryInMs).toBeLessThanOrEqual(120);

    fault.full = false; // space returns
    expect([...(await first)]).toEqual([3, 3, 4, 4, 5, 5]);
    expect([...(await second)]).toEqual([6, 6, 7, 7, 8, 8, 9, 9]);
    expect(fault.reopened).toBeGreaterThanOrEqual(1); // LevelDB's sticky refusal needed a reopen
    expect(resumed).toHaveLength(1);
    expect(resumed[0]!.attempts).toBe(stalls.length);
    await p.write(batchOf(2, 300));
    await p.flush();
    const after = p.status();
    expect(after.stalled).toBeUndefined();
    expect(after.readingsStored).toBe(20);
    await p.stop();

    // Everything acknowledged is on disk, each stream numbered without a gap.
    const seqs = await storedSeqs(store);
    expect(seqs.get("a")).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(seqs.get("b")).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await store.head()).readingsClosed).toBe(20);
  });

  it("a stop while the disk stays full rejects the waiting writers and keeps the store as it was", async () => {
    const dir = tempDir();
    const store = await openStore(dir);
    const fault = injectDiskFull(store);
    const p = await IngestPipeline.open(store, SECRET, { windowMs: 60_000, storeRetry: { initialDelayMs: 30, maxDelayMs: 60 } });
    await p.write(batchOf(2, 0));
    fault.full = true;
    const refused = p.write(batchOf(3, 10)).catch((e: unknown) => e);
    await until("the pause", () => p.status().stalled !== undefined);
    await p.stop();
    const err = await refused;
    expect(err).toBeInstanceOf(PipelineClosedError);
    expect((err as Error).message).toMatch(/writing to the reading store failed/);
    await store.close();

    // Opened again with space back: the two acknowledged readings, the open window intact.
    const again = await openStore(dir);
    const q = await IngestPipeline.open(again, SECRET, { windowMs: 60_000 });
    expect(q.status().readingsStored).toBe(2);
    expect([...(await q.append([reading("a", 5)]))]).toEqual([2]);
    await q.stop();
  });

  it("a running node logs the pause and the resumption, and shows it in its status and metrics", async () => {
    const env = await nodeEnv();
    const produced = { acked: 0, refused: 0 };
    const edge: EdgeModule<{ name: string }> = {
      parseDeviceConfig: (raw) => ({ name: (raw as { name: string }).name }),
      createAdapter(config, ctx: AdapterContext): EdgeAdapter {
        let timer: NodeJS.Timeout | undefined;
        let inFlight = false;
        let value = 0;
        const status = (): AdapterStatus => ({ device: config.name, state: "connected", readings: produced.acked, gaps: 0 });
        return {
          device: config.name,
          async start() {
            // One write at a time, as an adapter's queue delivers: a write that waits holds the next.
            timer = setInterval(() => {
              if (inFlight) return;
              inFlight = true;
              void ctx.sink.write([reading(`${config.name}/force`, value++)]).then(
                () => ((produced.acked++), (inFlight = false)),
                () => ((produced.refused++), (inFlight = false)),
              );
            }, 10);
          },
          async stop() {
            clearInterval(timer);
          },
          status,
        };
      },
    };
    const logged: string[] = [];
    env.writeConfig({ devices: [{ name: "press-7" }], metrics: { port: 0 } });
    const node = await startNode(loadConfig(env.configFile), { edge: edge as EdgeModule, log: (m) => logged.push(m), stopGraceMs: 0 });
    const scrape = async () => (await fetch(node.status().metricsUrl!)).text();
    const gauge = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    try {
      await until("readings", () => node.status().readingsStored >= 5);
      const fault = injectDiskFull(node.store);
      fault.full = true;
      await until("the pause", () => logged.some((l) => l.startsWith("INGEST PAUSED")));
      await new Promise((r) => setTimeout(r, 1500));
      const paused = node.status();
      expect(paused.ingest.stalled).toBeDefined();
      expect(formatStatus(paused, true)).toMatch(/INGEST PAUSED since .*the disk is full.*resumes by itself/);
      const text = await scrape();
      expect(gauge(text, "tracemesh_node_ingest_stalled_seconds")).toBeGreaterThan(0.5);
      expect(gauge(text, "tracemesh_node_ingest_failed")).toBe(0);
      expect(paused.readingsStored).toBe(produced.acked); // counted once durable, exactly

      fault.full = false;
      await until("the resumption", () => logged.some((l) => l.startsWith("INGEST RESUMED")), 30_000);
      const at = node.status().readingsStored;
      await until("ingestion going on", () => node.status().readingsStored > at + 5);
      expect(gauge(await scrape(), "tracemesh_node_ingest_stalled_seconds")).toBe(0);
      expect(node.status().ingest.failed).toBeUndefined();
      expect(produced.refused).toBe(0);
      expect(logged.join("\n")).not.toMatch(/INGEST STOPPED/);
    } finally {
      await node.stop();
      await env.cleanup();
    }
  }, 60_000);
});
