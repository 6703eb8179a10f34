import { describe, expect, it } from "vitest";
import type { Reading } from "../../../lib/reading.ts";
import { Backoff, sleep } from "../../../lib/retry.ts";
import { ReadingQueue } from "../../../node/edge/queue.ts";
import { float32Decimal } from "../../../node/edge/values.ts";
import { TestSink, delay, waitFor } from "./helpers.ts";

const reading = (i: number): Reading => ({ stream: "s", metric: "m", value: i, sourceTime: i, quality: "good" });
const readings = (from: number, n: number) => Array.from({ length: n }, (_, k) => reading(from + k));

describe("Backoff", () => {
  it("doubles from the initial delay up to the cap, without jitter", () => {
    const b = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 });
    expect(Array.from({ length: 7 }, () => b.next())).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(b.attempts).toBe(7);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it("shortens each delay by at most the jitter fraction and never exceeds the cap", () => {
    let r = 0;
    const randoms = [0, 0.5, 0.999];
    const b = new Backoff({ initialDelayMs: 1000, maxDelayMs: 4000, jitter: 0.5 }, () => randoms[r++ % 3] as number);
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([1000, 1500, 2002, 4000]);
    const real = new Backoff({ initialDelayMs: 50, maxDelayMs: 400, jitter: 0.3 });
    for (let i = 0; i < 50; i++) {
      const d = real.next();
      const base = Math.min(400, 50 * 2 ** Math.min(i, 52));
      expect(d).toBeGreaterThanOrEqual(Math.floor(base * 0.7));
      expect(d).toBeLessThanOrEqual(base);
    }
  });

  it("sleep resolves false at once when aborted", async () => {
    const ac = new AbortController();
    const started = Date.now();
    const p = sleep(10_000, ac.signal);
    ac.abort();
    expect(await p).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await sleep(5, new AbortController().signal)).toBe(true);
  });
});

describe("ReadingQueue", () => {
  it("writes everything in order, one write at a time, batching what piled up", async () => {
    const sink = new TestSink();
    sink.delayMs = 20;
    const q = new ReadingQueue(sink, { highWater: 1000, maxBatch: 50 });
    for (let i = 0; i < 10; i++) q.push(readings(i * 20, 20));
    expect(q.pending).toBe(200);
    expect(await q.flush(5000)).toBe(0);
    expect(sink.readings.map((r) => r.value)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(sink.maxWritesInFlight).toBe(1);
    expect(Math.max(...sink.batches)).toBeLessThanOrEqual(50);
    expect(sink.batches[0]).toBe(20);
  });

  it("offer() waits while pending is at the high-water mark, so producers slow to the sink", async () => {
    const sink = new TestSink();
    sink.delayMs = 30;
    const q = new ReadingQueue(sink, { highWater: 10, maxBatch: 100 });
    let peak = 0;
    const started = Date.now();
    for (let i = 0; i < 20; i++) {
      await q.offer(readings(i * 4, 4));
      peak = Math.max(peak, q.pending);
    }
    // Each offer adds 4; it returns only below 10, so pending never passes 9 + 4.
    expect(peak).toBeLessThanOrEqual(13);
    expect(q.peakPending).toBeLessThanOrEqual(13);
    expect(Date.now() - started).toBeGreaterThanOrEqual(5 * 30);
    expect(await q.flush(5000)).toBe(0);
    expect(sink.readings).toHaveLength(80);
  });

  it("offer({durable}) resolves only once the readings are written", async () => {
    const sink = new TestSink();
    sink.delayMs = 50;
    const q = new ReadingQueue(sink);
    let done = false;
    const p = q.offer([reading(1)], { durable: true }).then(() => (done = true));
    await delay(20);
    expect(done).toBe(false);
    await p;
    expect(sink.readings).toHaveLength(1);
  });

  it("retries a failed write with the same batch and loses nothing; reports error and recovery", async () => {
    const sink = new TestSink();
    sink.failures = 2;
    const events: string[] = [];
    const q = new ReadingQueue(sink, { maxBatch: 100 }, { onSinkError: () => events.push("error"), onSinkRecovered: () => events.push("ok"), onWritten: (n) => events.push(`w${n}`) }, new Backoff({ initialDelayMs: 5, maxDelayMs: 10, jitter: 0 }));
    q.push(readings(0, 5));
    expect(await q.flush(5000)).toBe(0);
    expect(events).toEqual(["error", "error", "ok", "w5"]);
    expect(sink.readings.map((r) => r.value)).toEqual([0, 1, 2, 3, 4]);
  });

  it("signals pressure at the high-water mark and relief at half of it; drops past the hard limit and says so", async () => {
    const sink = new TestSink();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    sink.write = async (rs) => {
      await gate;
      sink.readings.push(...rs);
    };
    const pressure: boolean[] = [];
    let dropped = 0;
    const q = new ReadingQueue(sink, { highWater: 10, maxBatch: 1000 }, { onPressure: (h) => pressure.push(h), onDropped: (n) => (dropped += n) });
    q.push(readings(0, 1)); // being written (held at the gate)
    q.push(readings(1, 9));
    expect(pressure).toEqual([true]);
    q.push(readings(10, 40)); // hard limit is 4 x 10
    expect(q.pending).toBe(40);
    expect(dropped).toBe(10);
    release();
    expect(await q.flush(5000)).toBe(0);
    expect(pressure).toEqual([true, false]);
    // The oldest queued readings went; the one being written and the newest 39 stayed.
    expect(sink.readings.map((r) => r.value)).toEqual([0, ...Array.from({ length: 39 }, (_, i) => 11 + i)]);
  });

  it("close() releases waiting producers and abandons a stuck sink", async () => {
    const sink = new TestSink();
    sink.write = () => new Promise(() => {});
    const q = new ReadingQueue(sink, { highWater: 2 });
    const offered = q.offer(readings(0, 5));
    expect(await q.flush(50)).toBe(5);
    q.close();
    await offered;
    await waitFor(() => true, "nothing");
  });
});

describe("float32Decimal", () => {
  it("gives the shortest decimal that is the same float32", () => {
    expect(float32Decimal(Math.fround(24.61))).toBe(24.61);
    expect(float32Decimal(Math.fround(0.1))).toBe(0.1);
    expect(float32Decimal(Math.fround(1e-7))).toBe(1e-7);
    expect(float32Decimal(Math.fround(16777217))).toBe(16777216);
    expect(float32Decimal(NaN)).toBeNaN();
    for (const x of [3.4028234663852886e38, 1.401298464324817e-45, -123.456, 7]) {
      expect(Math.fround(float32Decimal(Math.fround(x)))).toBe(Math.fround(x));
    }
  });
});
