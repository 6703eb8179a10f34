/**
 * The bounded hand-off between an adapter and the node's ReadingSink.
 *
 * Readings are written in arrival order, one `sink.write` at a time, in batches of whatever has
 * accumulated while the previous write was being made durable (so a slow disk gets bigger
 * batches, not more calls). `pending` (received but not yet acknowledged) is bounded:
 * - producers that can wait (an MQTT message handler, a Modbus poll loop) `await offer()`,
 *   which resolves only when pending is below the high-water mark, so the device side slows;
 * - producers that cannot wait (OPC UA notifications) `push()` and react to `onPressure` by
 *   pausing the source; a hard limit guards memory if the source overshoots anyway.
 * A failed sink write is retried (same batch, same order) with back-off; nothing is dropped
 * except past the hard limit, and that is reported.
 */
import type { Reading, ReadingSink } from "../../lib/reading.ts";
import { Backoff, sleep } from "../../lib/retry.ts";

export interface QueueOptions {
  /** Pending readings at which producers wait and sources are asked to pause. */
  highWater: number;
  /** Largest batch handed to one `sink.write`. */
  maxBatch: number;
}

export const DEFAULT_QUEUE: QueueOptions = { highWater: 1000, maxBatch: 500 };

export interface QueueHooks {
  /** `count` readings were acknowledged durable by the sink. */
  onWritten?(count: number): void;
  /** A write failed; the same batch is retried after `retryInMs`. */
  onSinkError?(error: unknown, retryInMs: number): void;
  /** A write succeeded after failures. */
  onSinkRecovered?(): void;
  /** true when pending reached the high-water mark, false when it fell to half of it. */
  onPressure?(high: boolean): void;
  /** Readings discarded because `push()` went past the hard limit. */
  onDropped?(count: number): void;
}

export class ReadingQueue {
  private items: Reading[] = [];
  private head = 0;
  private writing = 0;
  private writer: Promise<void> | undefined;
  private waiters: (() => void)[] = [];
  private durableWaiters: { target: number; resolve: () => void }[] = [];
  /** Readings ever enqueued, and of those, written or dropped: positions for durable waits. */
  private enqueued = 0;
  private settled = 0;
  private idle: (() => void)[] = [];
  private high = false;
  private closed = false;
  private failing = false;
  private readonly abort = new AbortController();
  private readonly opts: QueueOptions;
  private readonly hardLimit: number;
  private peak = 0;

  constructor(
    private readonly sink: ReadingSink,
    opts: Partial<QueueOptions> = {},
    private readonly hooks: QueueHooks = {},
    private readonly sinkBackoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 5_000, jitter: 0.2 }),
  ) {
    this.opts = { ...DEFAULT_QUEUE, ...opts };
    this.hardLimit = this.opts.highWater * 4;
  }

  /** Readings received and not yet acknowledged durable. */
  get pending(): number {
    return this.items.length - this.head + this.writing;
  }

  /** The largest `pending` seen so far. */
  get peakPending(): number {
    return this.peak;
  }

  get highWater(): number {
    return this.opts.highWater;
  }

  /**
   * Enqueue, then wait: until there is room again (pending below the high-water mark), or with
   * `durable`, until these readings are acknowledged by the sink (or the queue is closed).
   */
  async offer(readings: readonly Reading[], opts: { durable?: boolean } = {}): Promise<void> {
    this.enqueue(readings, false);
    if (this.closed) return;
    if (opts.durable) {
      const target = this.enqueued;
      if (this.settled >= target) return;
      await new Promise<void>((resolve) => this.durableWaiters.push({ target, resolve }));
      return;
    }
    if (this.pending < this.opts.highWater) return;
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /**
   * Enqueue without waiting; the caller watches `onPressure` to pause its source. Past the hard
   * limit (4x the high-water mark) the oldest queued readings are dropped and reported.
   */
  push(readings: readonly Reading[]): void {
    this.enqueue(readings, true);
  }

  private enqueue(readings: readonly Reading[], limit: boolean): void {
    if (this.closed || readings.length === 0) return;
    for (const r of readings) this.items.push(r);
    this.enqueued += readings.length;
    const queued = this.items.length - this.head;
    if (limit && queued + this.writing > this.hardLimit) {
      const drop = Math.min(queued, queued + this.writing - this.hardLimit);
      this.head += drop;
      this.settled += drop;
      this.hooks.onDropped?.(drop);
    }
    this.peak = Math.max(this.peak, this.pending);
    if (!this.high && this.pending >= this.opts.highWater) {
      this.high = true;
      this.hooks.onPressure?.(true);
    }
    this.kick();
  }

  private kick(): void {
    this.writer ??= this.drain().finally(() => {
      this.writer = undefined;
      // Readings pushed while the loop was exiting start a new one.
      if (!this.closed && this.items.length > this.head) this.kick();
    });
  }

  /**
   * Wait until everything pending is durable, or `timeoutMs` passed. Returns how many readings
   * are still pending (0 when all were written).
   */
  async flush(timeoutMs: number): Promise<number> {
    if (this.pending === 0) return 0;
    const signal = AbortSignal.timeout(timeoutMs);
    await new Promise<void>((resolve) => {
      this.idle.push(resolve);
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
    return this.pending;
  }

  /** Stop writing (abandoning a retry in progress) and release every waiting producer. */
  close(): void {
    this.closed = true;
    this.abort.abort();
    this.release();
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private release(): void {
    for (const resolve of this.waiters.splice(0)) resolve();
    this.releaseDurable();
  }

  private async drain(): Promise<void> {
    while (!this.closed && this.items.length > this.head) {
      const end = Math.min(this.items.length, this.head + this.opts.maxBatch);
      const batch = this.items.slice(this.head, end);
      this.head = end;
      this.writing = batch.length;
      this.compact();
      while (!this.closed) {
        try {
          await this.sink.write(batch);
          if (this.failing) {
            this.failing = false;
            this.sinkBackoff.reset();
            this.hooks.onSinkRecovered?.();
          }
          break;
        } catch (error) {
          this.failing = true;
          const delay = this.sinkBackoff.next();
          this.hooks.onSinkError?.(error, delay);
          await sleep(delay, this.abort.signal);
        }
      }
      if (this.closed) return;
      this.writing = 0;
      this.settled += batch.length;
      this.hooks.onWritten?.(batch.length);
      if (this.pending < this.opts.highWater) this.release();
      else this.releaseDurable();
      if (this.high && this.pending <= this.opts.highWater / 2) {
        this.high = false;
        this.hooks.onPressure?.(false);
      }
    }
    if (this.pending === 0) for (const resolve of this.idle.splice(0)) resolve();
  }

  private releaseDurable(): void {
    const ready = this.closed ? this.durableWaiters : this.durableWaiters.filter((w) => w.target <= this.settled);
    if (ready.length === 0) return;
    this.durableWaiters = this.closed ? [] : this.durableWaiters.filter((w) => w.target > this.settled);
    for (const w of ready) w.resolve();
  }

  private compact(): void {
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
