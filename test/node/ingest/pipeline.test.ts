/**
 * The ingest pipeline without a chain: sequence numbers, windows (by count and by time), leaf
 * order and roots (checked against an independent computation), proofs across leaf pages,
 * recovery of the open window, back-pressure, refused input and store failures.
 */
import { describe, expect, it } from "vitest";
import { ReadingError, decodeReading, encodeReading } from "../../../lib/canonical-reading.ts";
import { MerkleTree, leafHash, siblingsFromHex, verifyProof, verifyRangeProof } from "../../../lib/merkle.ts";
import type { Reading } from "../../../lib/reading.ts";
import { IngestPipeline, type PipelineOptions, PipelineClosedError } from "../../../node/ingest/pipeline.ts";
import { ProofService } from "../../../node/ingest/proofs.ts";
import { SaltDeriver } from "../../../node/ingest/salt.ts";
import { type IngestStore, LEAF_PAGE, type WindowRecord, parseChunk, sectionRecords } from "../../../node/ingest/store.ts";
import { storesPerTest } from "./support/stores.ts";

const SECRET = Buffer.alloc(32, 9);
const NODE = "0x" + "ab".repeat(20);
const { tempDir, openStore } = storesPerTest("tracemesh-ingest-");

async function pipelineOn(store: IngestStore, options: PipelineOptions = {}) {
  return IngestPipeline.open(store, SECRET, { windowMs: 60_000, ...options });
}

const reading = (stream: string, value: number, sourceTime = Date.now()): Reading => ({
  stream,
  metric: "temperature",
  unit: "Cel",
  value,
  sourceTime,
  quality: "good",
});

/** `n` readings round-robin over `streams` streams. */
const batch = (n: number, streams: string[], base = 0) => Array.from({ length: n }, (_, i) => reading(streams[(base + i) % streams.length]!, base + i));

/** Every stored reading of a closed window, decoded, in chunk order. */
async function storedReadings(store: IngestStore, window: number) {
  const out: { reading: Reading; seq: number; bytes: Buffer }[] = [];
  for await (const { value } of store.chunks(window)) {
    for (const section of parseChunk(value).sections) {
      for (const bytes of sectionRecords(value, section)) {
        const d = decodeReading(bytes);
        out.push({ reading: d.reading, seq: d.seq, bytes: Buffer.from(bytes) });
      }
    }
  }
  return out;
}

const closedWindows = async (store: IngestStore) => {
  const head = await store.head();
  const out: WindowRecord[] = [];
  for (let w = 1; w <= head.lastClosed; w++) out.push((await store.window(w))!);
  return out;
};

describe("ingest pipeline", () => {
  it("numbers each stream's readings from 1, salts them from the node secret, and continues after a restart", async () => {
    const store = await openStore();
    let p = await pipelineOn(store);
    const seqs = await p.append([reading("a", 1), reading("b", 2), reading("a", 3)]);
    expect([...seqs]).toEqual([1, 1, 2]);
    await p.stop();
    const [w] = await storedReadings(store, 1).then((r) => [r]);
    const salts = new SaltDeriver(SECRET);
    for (const r of w!) {
      expect(r.bytes).toEqual(encodeReading(r.reading, r.seq, salts.salt(r.reading.stream, r.seq)));
    }
    p = await pipelineOn(store);
    expect([...(await p.append([reading("b", 4), reading("c", 5), reading("a", 6)]))]).toEqual([2, 1, 3]);
    await p.stop();
  });

  it("closes windows by count: exactly maxWindowReadings each, splitting a write between windows", async () => {
    const store = await openStore();
    const p = await pipelineOn(store, { maxWindowReadings: 10 });
    const streams = ["s1", "s2", "s3"];
    await p.write(batch(7, streams));
    await p.write(batch(18, streams, 7)); // crosses two window boundaries
    await p.stop(); // closes the last, partial window
    const windows = await closedWindows(store);
    expect(windows.map((w) => w.leafCount)).toEqual([10, 10, 5]);
    // Windows chain, time ranges do not overlap, and each stream's runs are consecutive.
    const next = new Map<string, number>();
    let prev = { root: "0x" + "00".repeat(32), to: 0 };
    for (const w of windows) {
      expect(w.prevRoot).toBe(prev.root);
      expect(w.fromTimeMs).toBeGreaterThanOrEqual(prev.to);
      expect(w.toTimeMs).toBeGreaterThan(w.fromTimeMs);
      for (const run of w.runs) {
        expect(run.firstSeq).toBe(next.get(run.stream) ?? 1);
        next.set(run.stream, run.firstSeq + run.count);
      }
      prev = { root: w.root, to: w.toTimeMs };
    }
    expect([...next.values()].reduce((a, b) => a + b - 1, 0)).toBe(25);
  });

  it("commits every reading's receive time inside its window's range, whatever the clocks do", async () => {
    const dir = tempDir();
    let clock = 1_700_000_000_000;
    const now = () => clock;
    let store = await openStore(dir);
    let p = await pipelineOn(store, { windowMs: 100, maxWindowReadings: 4, now, closeOnStop: false });
    // Full windows within one millisecond, source times seconds late and ahead.
    await p.write(batch(10, ["late", "ahead"]).map((r, i) => ({ ...r, sourceTime: clock + (i % 2 === 0 ? -4_000 : 6_000) })));
    const onTime = (n: number, stream: string) => batch(n, [stream]).map((r) => ({ ...r, sourceTime: clock }));
    clock += 250; // past the open window's span: the next reading opens a new window
    await p.write(onTime(3, "late"));
    clock -= 5_000; // the node clock steps back: receive times never do
    await p.write(onTime(3, "ahead"));
    expect(p.status().timing.map((t) => [t.stream, t.late, t.ahead])).toEqual([
      ["late", 5, 0],
      ["ahead", 3, 5], // the last three count late: the receive time holds at the clock's old value
    ]);
    await p.stop();
    await store.close();
    store = await openStore(dir);
    p = await pipelineOn(store, { windowMs: 100, maxWindowReadings: 4, now, closeOnStop: true });
    await p.write(onTime(2, "late")); // joins the recovered open window
    await p.stop();

    const windows = await closedWindows(store);
    expect(windows.length).toBeGreaterThanOrEqual(5);
    let count = 0;
    let prevTo = 0;
    for (const w of windows) {
      expect(w.fromTimeMs).toBeGreaterThanOrEqual(prevTo);
      expect(w.toTimeMs).toBeGreaterThan(w.fromTimeMs);
      for (const { reading: r } of await storedReadings(store, w.sequence)) {
        expect(r.receivedTime!, `window ${w.sequence} [${w.fromTimeMs}, ${w.toTimeMs})`).toBeGreaterThanOrEqual(w.fromTimeMs);
        expect(r.receivedTime!, `window ${w.sequence} [${w.fromTimeMs}, ${w.toTimeMs})`).toBeLessThan(w.toTimeMs);
        count++;
      }
      prevTo = w.toTimeMs;
    }
    expect(count).toBe(18);
  });

  it("closes windows by time on the node clock", async () => {
    const store = await openStore();
    const p = await pipelineOn(store, { windowMs: 100 });
    const closed: WindowRecord[] = [];
    p.on("window", (w: WindowRecord) => closed.push(w));
    // Wait for the timer rather than a fixed time: on a loaded machine a timer fires late.
    const windowsClosed = async (n: number) => {
      for (const deadline = Date.now() + 5000; closed.length < n && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await p.write(batch(5, ["t"]));
    await windowsClosed(1);
    expect(closed).toHaveLength(1); // closed by its timer, with nothing else written
    await p.write(batch(5, ["t"], 5));
    await windowsClosed(2);
    await p.stop();
    expect(closed).toHaveLength(2);
    for (const w of closed) expect(w.toTimeMs - w.fromTimeMs).toBeGreaterThanOrEqual(100);
    expect(closed[1]!.fromTimeMs).toBeGreaterThanOrEqual(closed[0]!.toTimeMs);
    expect(p.status()).toMatchObject({ readingsStored: 10, windowsClosed: 2, openWindow: { sequence: 3, readings: 0 } });
  });

  it("orders a window's leaves by (stream bytes, seq), so the root matches an independent computation", async () => {
    const store = await openStore();
    const p = await pipelineOn(store);
    // Stream ids whose UTF-16 order differs from their UTF-8 byte order.
    const streams = ["zeta", "\uff21lpha", "\u{1f600}emoji", "Beta", "alpha"];
    for (let i = 0; i < 6; i++) await p.write(batch(13, streams, i * 13));
    await p.stop();
    const [w] = await closedWindows(store);
    const stored = await storedReadings(store, 1);
    const sorted = [...stored].sort((a, b) => Buffer.compare(Buffer.from(a.reading.stream), Buffer.from(b.reading.stream)) || a.seq - b.seq);
    expect(w!.root).toBe("0x" + MerkleTree.fromLeaves(sorted.map((r) => r.bytes)).root.toString("hex"));
    expect(w!.runs.map((r) => r.stream)).toEqual([...new Set(sorted.map((r) => r.reading.stream))]);
    let leaf = 0;
    for (const run of w!.runs) {
      expect(run.leafStart).toBe(leaf);
      leaf += run.count;
    }
    expect(leaf).toBe(78);
  });

  it("proves every reading, across leaf pages, and each stream's run with one range proof", async () => {
    const store = await openStore();
    const p = await pipelineOn(store);
    const streams = Array.from({ length: 7 }, (_, i) => `machine-${i}/spindle`);
    const total = LEAF_PAGE * 2 + 600; // three leaf pages
    for (let i = 0; i < total; i += 500) await p.write(batch(Math.min(500, total - i), streams, i));
    await p.stop();
    const [w] = await closedWindows(store);
    expect(w!.leafCount).toBe(total);
    const root = Buffer.from(w!.root.slice(2), "hex");
    const proofs = new ProofService(store, NODE);
    let proven = 0;
    for (const run of w!.runs) {
      for (let seq = run.firstSeq; seq < run.firstSeq + run.count; seq++) {
        const r = (await proofs.proveReading(run.stream, seq))!;
        const leaf = leafHash(encodeReading(r.reading, r.proof.seq, Buffer.from(r.proof.salt.slice(2), "hex")));
        expect(leaf.toString("hex")).toBe(r.proof.leafHash.slice(2));
        const proof = { index: r.proof.index, leafCount: r.proof.leafCount, siblings: siblingsFromHex(r.proof.siblings) };
        expect(verifyProof(proof, root, leaf), `${run.stream} #${seq}`).toBe(true);
        proven++;
      }
      const range = (await proofs.proveRun(run.stream, 1))!;
      expect(range.readings).toHaveLength(run.count);
      const leaves = range.readings.map((r, k) => leafHash(encodeReading(r, range.proof.seqs[k]!, Buffer.from(range.proof.salts[k]!.slice(2), "hex"))));
      const rp = { start: range.proof.start, end: range.proof.end, leafCount: range.proof.leafCount, siblings: siblingsFromHex(range.proof.siblings) };
      expect(verifyRangeProof(rp, root, leaves)).toBe(true);
    }
    expect(proven).toBe(total);
    expect(await proofs.proveReading("machine-0/spindle", 10_000)).toBeUndefined();
    expect(await proofs.proveReading("nope", 1)).toBeUndefined();
    expect(await proofs.proveRun("machine-0/spindle", 2)).toBeUndefined();
  });

  it("rebuilds the open window from its chunks after a restart", async () => {
    const dir = tempDir();
    let store = await openStore(dir);
    let p = await pipelineOn(store, { closeOnStop: false });
    await p.write(batch(40, ["a", "b", "c"]));
    await p.write(batch(20, ["a", "d"], 40));
    await p.stop();
    expect((await store.head()).lastClosed).toBe(0);
    await store.close();

    store = await openStore(dir);
    p = await pipelineOn(store);
    expect(p.status().openWindow).toMatchObject({ sequence: 1, readings: 60 });
    expect([...(await p.append([reading("a", 99)]))]).toEqual([25]); // a had 14 + 10 readings
    await p.stop();
    const [w] = await closedWindows(store);
    expect(w!.leafCount).toBe(61);
    const stored = await storedReadings(store, 1);
    const sorted = stored.sort((x, y) => Buffer.compare(Buffer.from(x.reading.stream), Buffer.from(y.reading.stream)) || x.seq - y.seq);
    expect(w!.root).toBe("0x" + MerkleTree.fromLeaves(sorted.map((r) => r.bytes)).root.toString("hex"));
  });

  it("applies back-pressure: admitted readings never exceed maxPendingReadings, writers wait and all get through", async () => {
    const store = await openStore();
    const p = await pipelineOn(store, { maxPendingReadings: 200, maxWindowReadings: 1000 });
    let maxPending = 0;
    let maxWaiting = 0;
    let sampling = true;
    const sample = () => {
      const s = p.status();
      maxPending = Math.max(maxPending, s.pendingReadings);
      maxWaiting = Math.max(maxWaiting, s.waitingWrites);
      if (sampling) setImmediate(sample);
    };
    sample();
    const writers = Array.from({ length: 20 }, async (_, w) => {
      for (let i = 0; i < 10; i++) await p.write(batch(50, [`w${w}`], i * 50));
    });
    await Promise.all(writers);
    sampling = false;
    await p.stop();
    expect(maxPending).toBeLessThanOrEqual(200);
    expect(maxPending).toBeGreaterThan(0);
    expect(maxWaiting).toBeGreaterThan(0);
    expect(p.status().readingsStored).toBe(20 * 10 * 50);
    expect((await closedWindows(store)).map((w) => w.leafCount)).toEqual(Array(10).fill(1000));
  });

  it("refuses a batch with an invalid reading as a whole, naming it, without using sequence numbers", async () => {
    const store = await openStore();
    const p = await pipelineOn(store);
    await p.write([reading("a", 1)]);
    const bad = [reading("a", 2), reading("b", 3), { ...reading("a", 4), quality: "excellent" } as unknown as Reading];
    const err = await p.write(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReadingError);
    expect(err).toMatchObject({ index: 2, field: "quality" });
    expect((err as Error).message).toMatch(/^reading 2: quality/);
    expect(await p.write(null as unknown as Reading[]).catch((e: unknown) => e)).toBeInstanceOf(TypeError);
    expect([...(await p.append([reading("a", 5), reading("b", 6)]))]).toEqual([2, 1]);
    expect(p.status().pendingReadings).toBe(0);
    await p.stop();
    expect(p.status().readingsStored).toBe(3);
  });

  it("refuses writes once stopped, and fails loudly when the store cannot be written", async () => {
    const store = await openStore();
    const p = await pipelineOn(store);
    await p.stop();
    await expect(p.write([reading("a", 1)])).rejects.toBeInstanceOf(PipelineClosedError);

    const store2 = await openStore();
    const q = await pipelineOn(store2);
    await q.write([reading("a", 1)]);
    const failed = new Promise<Error>((r) => q.on("failed", r));
    await store2.db.close(); // the disk goes away underneath
    const err = await q.write([reading("a", 2), reading("b", 3), reading("c", 4)]).catch((e: unknown) => e);
    // Counted only once durable: the three whose write failed are not "stored" (issue 18).
    expect(q.status().readingsStored).toBe(1);
    expect(err).toBeInstanceOf(PipelineClosedError);
    expect((err as Error).message).toMatch(/writing to the reading store failed/);
    expect((await failed).message).toMatch(/writing to the reading store failed/);
    await expect(q.write([reading("a", 3)])).rejects.toBeInstanceOf(PipelineClosedError);
    expect(q.status().failed).toMatch(/reading store/);
    await q.stop();
  });
});
