/**
 * What every adapter shares: status bookkeeping and reporting, the bounded queue to the sink,
 * and a clean start/stop life cycle (one AbortSignal per run that every timer and retry loop
 * honours).
 */
import type { Reading } from "../../lib/reading.ts";
import type { AdapterContext, AdapterState, AdapterStatus, EdgeAdapter } from "./adapter.ts";
import { Backoff, type BackoffPolicy as ReconnectOptions } from "../../lib/retry.ts";
import type { QueueOptions } from "./queue.ts";
import { ReadingQueue } from "./queue.ts";

/** How long `stop()` waits for pending readings to become durable before abandoning them. */
const STOP_FLUSH_MS = 5_000;

export interface CommonOptions {
  reconnect?: Partial<ReconnectOptions>;
  queue?: Partial<QueueOptions>;
}

export abstract class AdapterBase implements EdgeAdapter {
  private state: AdapterState = "stopped";
  private detail: string | undefined;
  private sinkProblem: string | undefined;
  private written = 0;
  private gapCount = 0;
  private sourceMap: Record<string, "online" | "offline"> | undefined;
  private running = false;
  protected queue: ReadingQueue;
  protected abort = new AbortController();
  protected backoff: Backoff;

  protected constructor(
    readonly device: string,
    protected readonly ctx: AdapterContext,
    private readonly common: CommonOptions,
  ) {
    this.backoff = new Backoff(common.reconnect);
    this.queue = this.makeQueue();
  }

  status(): AdapterStatus {
    const detail = [this.detail, this.sinkProblem && `sink: ${this.sinkProblem}`].filter(Boolean).join("; ");
    return {
      device: this.device,
      state: this.state,
      ...(detail ? { detail } : {}),
      readings: this.written,
      gaps: this.gapCount,
      pending: this.queue.pending,
      ...(this.sourceMap ? { sources: { ...this.sourceMap } } : {}),
    };
  }

  /** Highest number of readings held at once since start (received, not yet durable). */
  get peakPending(): number {
    return this.queue.peakPending;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.backoff = new Backoff(this.common.reconnect);
    this.queue = this.makeQueue();
    this.setState("connecting");
    await this.open(this.abort.signal);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    try {
      await this.beforeStop();
    } catch (error) {
      this.log(`stopping: ${message(error)}`);
    }
    this.abort.abort();
    try {
      await this.close();
    } catch (error) {
      this.log(`closing: ${message(error)}`);
    }
    const left = await this.queue.flush(STOP_FLUSH_MS);
    if (left > 0) this.log(`stopped with ${left} readings not acknowledged by the sink`);
    this.queue.close();
    this.setState("stopped");
  }

  /** Begin connecting; resolve once the first attempt has settled (never reject for device trouble). */
  protected abstract open(signal: AbortSignal): Promise<void>;
  /** Release every socket, client and timer. */
  protected abstract close(): Promise<void>;
  /** Runs at stop() while the connection is still up: a last message to the device, if the protocol has one. */
  protected async beforeStop(): Promise<void> {}

  protected get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  protected setState(state: AdapterState, detail?: string): void {
    if (this.stopped && state !== "stopped") return;
    if (state === this.state && detail === this.detail) return;
    this.state = state;
    this.detail = detail;
    this.emit();
  }

  protected get currentState(): AdapterState {
    return this.state;
  }

  protected addGaps(count: number, why: string): void {
    if (count <= 0) return;
    this.gapCount += count;
    this.log(`${count} missed: ${why}`);
    this.emit();
  }

  protected setSource(id: string, online: boolean): void {
    const next = online ? "online" : "offline";
    this.sourceMap ??= {};
    if (this.sourceMap[id] === next) return;
    this.sourceMap[id] = next;
    this.emit();
  }

  protected log(text: string): void {
    this.ctx.log?.(`[${this.device}] ${text}`);
  }

  private emit(): void {
    try {
      this.ctx.onStatus?.(this.status());
    } catch (error) {
      this.ctx.log?.(`[${this.device}] onStatus threw: ${message(error)}`);
    }
  }

  private makeQueue(): ReadingQueue {
    return new ReadingQueue(this.ctx.sink, this.common.queue, {
      onWritten: (n) => {
        this.written += n;
      },
      onSinkError: (error, retryInMs) => {
        this.sinkProblem = `${message(error)} (retrying in ${retryInMs} ms)`;
        this.emit();
      },
      onSinkRecovered: () => {
        this.sinkProblem = undefined;
        this.emit();
      },
      onPressure: (high) => this.onPressure(high),
      onDropped: (n) => this.addGaps(n, "buffer limit exceeded while the sink was slow"),
    });
  }

  /** Sources that cannot wait on `offer()` pause and resume here. */
  protected onPressure(_high: boolean): void {}

  /**
   * Hand readings to the sink, waiting while the buffer is full, or with `durable` until the
   * sink acknowledged them (for protocols whose acknowledgement should mean "stored").
   */
  protected deliver(readings: readonly Reading[], durable = false): Promise<void> {
    return this.queue.offer(readings, { durable });
  }
}

export function message(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "object" && error !== null && "message" in error) return String((error as { message: unknown }).message);
  return String(error);
}
