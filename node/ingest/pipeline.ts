/**
 * The ingest pipeline: the node's ReadingSink.
 *
 *   write(readings)  validate and normalise, assign per-stream sequence numbers, derive salts,
 *                    encode canonically, hash the leaves (all synchronously, on the caller's turn)
 *   group commit     everything written while the previous LevelDB batch was on its way to disk
 *                    goes into the next batch (sync: true), so one fsync acknowledges many writes;
 *                    write() resolves when its batch is on disk
 *   windows          readings join the open window in commit order; the window closes when it is
 *                    `windowMs` old (node clock) or holds `maxWindowReadings`; closing sorts its
 *                    leaves by (stream, seq), builds the Merkle root and persists the window in
 *                    the same atomic batch as the readings committed with it
 *   anchoring        closed windows are picked up by node/chain/anchorer.ts
 *
 * Memory is bounded: at most `maxPendingReadings` readings are admitted and not yet on disk (a
 * write that would exceed it waits, in arrival order, which is the back-pressure adapters see);
 * the open window holds 32 bytes per reading up to `maxWindowReadings`.
 *
 * Times: each reading gets a receivedTime (node clock, never earlier than the one before it) and
 * is put in its window by it, on the writer's turn: a window's time range [fromTimeMs, toTimeMs)
 * starts at its first reading's receivedTime and ends after its last one and no later than the
 * next window's first, so every reading's receivedTime lies in its window's range by
 * construction, and it is committed in the reading's canonical bytes (lib/canonical-reading.ts).
 * The device's sourceTime is kept beside it, whatever it says: a reading that arrives late, or
 * from a device whose clock runs ahead, verifies all the same. The pipeline counts, per stream,
 * readings whose source time lies more than `clockToleranceMs` before (late) or after (ahead)
 * their receive time (timing.ts), and emits "timing" when a stream turns late or ahead (then at most every
 * `timingReportMs`), so the node logs it.
 *
 * A LevelDB write error (disk full, I/O error) pauses ingestion, it does not end it: the group
 * commit's batch is written again, the store reopened before each attempt (LevelDB refuses writes
 * after a failed one until then), with back-off (lib/retry.ts), until it lands; its writers wait
 * for their acknowledgement meanwhile and later writers wait for room (back-pressure), so devices
 * keep what they cannot deliver. The pipeline emits "stalled" at each failed attempt and
 * "resumed" once the batch is on disk; status() says so while it lasts. Retrying the same batch
 * is safe: its writes are puts of the same keys and values, whether or not a failed attempt left
 * part of it. Only a store closed underneath (the node stopping) or a stop during the pause ends
 * the pipeline: the batch's writers are rejected, and nothing unacknowledged is ever half-kept.
 */
import { EventEmitter } from "node:events";
import { hash } from "node:crypto";
import { MAX_CANONICAL_BYTES, MAX_STRING_VALUE_BYTES, ReadingError, encodeReadingInto, peekReceivedTime } from "../../lib/canonical-reading.ts";
import { leafHash, merkleRoot } from "../../lib/merkle.ts";
import type { Reading, ReadingSink } from "../../lib/reading.ts";
import { SaltDeriver, type StreamSalts } from "./salt.ts";
import { type StreamTiming, TimingMonitor } from "./timing.ts";
import {
  CHUNK_BYTES,
  type Head,
  type IngestStore,
  LEAF_PAGE,
  pageBlockRoots,
  type LocatedSection,
  StoreBatch,
  type StreamRun,
  type WindowRecord,
  encodeChunk,
  parseChunk,
  sectionRecords,
} from "./store.ts";
import { TracemeshError } from "../../lib/errors.ts";
import { Backoff, type BackoffPolicy, sleep } from "../../lib/retry.ts";

export interface PipelineOptions {
  /** Window length on the node clock, ms (default 1000). */
  windowMs?: number;
  /** A window closes early when it holds this many readings (default 200,000). */
  maxWindowReadings?: number;
  /** Readings admitted but not yet on disk before writers wait (default 65,536). */
  maxPendingReadings?: number;
  /** Source time further than this from the receive time counts as late or ahead (default 2000 ms). */
  clockToleranceMs?: number;
  /** A stream that stays late or ahead is reported again ("timing") after this long (default 10 min). */
  timingReportMs?: number;
  /** Close the open window when the pipeline stops (default true). */
  closeOnStop?: boolean;
  /** Back-off between attempts to write a batch the store refused (default 1 s doubling to 30 s). */
  storeRetry?: Partial<BackoffPolicy>;
  /** The node clock (tests). */
  now?: () => number;
}

/** Writes to the store are failing and retried: ingestion is paused (readings wait, nothing is dropped). */
export interface IngestStall {
  /** When the first attempt failed, Unix ms. */
  since: number;
  /** Failed attempts so far. */
  attempts: number;
  lastError: string;
  /** Delay before the next attempt, ms. */
  retryInMs: number;
}

export interface PipelineStatus {
  readingsStored: number;
  windowsClosed: number;
  openWindow: { sequence: number; readings: number; fromTimeMs?: number };
  /** Readings admitted and not yet durable. */
  pendingReadings: number;
  /** write() calls waiting for room (back-pressure). */
  waitingWrites: number;
  /** Readings whose source time lies more than the tolerance from their receive time (late + ahead). */
  skewedReadings: number;
  /** Readings a device delivered from its store and forward (Reading.historical): never counted as skewed. */
  historicalReadings: number;
  /** Per stream with late or ahead readings: how many, and by how much. */
  timing: StreamTiming[];
  commits: number;
  /** Present while writes to the store fail and are retried (disk full, I/O error). */
  stalled?: IngestStall;
  failed?: string;
}


/** Thrown by write() once the pipeline is stopping or has failed. */
export class PipelineClosedError extends TracemeshError {
  constructor(reason: string, options?: ErrorOptions) {
    super("closed", `the ingest pipeline is not accepting readings: ${reason}`, options);
  }
}

const EMPTY = Buffer.alloc(0);
/** Room for the leaf prefix byte and a canonical reading without a string value (a number takes 8). */
const FIXED_ROOM = 1 + MAX_CANONICAL_BYTES - MAX_STRING_VALUE_BYTES + 8;

/** A stream's sequence counter, salts, and its run in the open window. */
class StreamState {
  readonly idBytes: Buffer;
  readonly salts: StreamSalts;
  /** The next sequence number to assign (write() time). */
  nextSeq: number;
  /** The open window's run: first seq, count and leaf hashes (grown by doubling). */
  runFirstSeq = 0;
  runCount = 0;
  leaves: Buffer = EMPTY;
  /** Where the open window's run sits in its chunks. */
  located: LocatedSection[] = [];
  /** Scratch while a chunk is built. */
  section: SectionBuilder | undefined;

  constructor(
    readonly id: string,
    next: number,
    salts: SaltDeriver,
  ) {
    this.idBytes = Buffer.from(id, "utf8");
    this.nextSeq = next;
    this.salts = salts.forStream(id);
  }

  appendLeaf(src: Buffer, offset: number): void {
    const need = (this.runCount + 1) * 32;
    if (need > this.leaves.length) {
      const grown = Buffer.allocUnsafe(Math.max(1024, this.leaves.length * 2));
      this.leaves.copy(grown, 0, 0, this.runCount * 32);
      this.leaves = grown;
    }
    src.copy(this.leaves, this.runCount * 32, offset, offset + 32);
    this.runCount++;
  }
}

/** One write() call's readings, encoded: record i is buf[starts[i], ends[i]), with 0x00 before it. */
interface Call {
  n: number;
  buf: Buffer;
  starts: Uint32Array;
  ends: Uint32Array;
  states: StreamState[];
  seqs: Float64Array;
  /** The window each reading was put in (non-decreasing), and its receivedTime. */
  windows: Float64Array;
  received: Float64Array;
  leaves: Buffer;
  arrival: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface SectionBuilder {
  state: StreamState;
  firstSeq: number;
  calls: Call[];
  idx: number[];
  bytes: number;
}

interface OpenWindow {
  sequence: number;
  count: number;
  fromTimeMs: number;
  parts: number;
  streams: StreamState[];
}

/**
 * The window new readings are put in, on the writer's turn (it runs ahead of the commit loop's
 * open window while calls wait to be committed).
 */
interface Placing {
  sequence: number;
  count: number;
  fromTimeMs: number;
  /** The receivedTime of its last reading. */
  lastMs: number;
}

/** Builds one chunk value from records of possibly many calls. */
class ChunkBuilder {
  private readonly sections: SectionBuilder[] = [];
  count = 0;

  constructor(readonly arrival: number) {}

  add(call: Call, i: number): void {
    const state = call.states[i]!;
    let s = state.section;
    if (s === undefined) {
      s = { state, firstSeq: call.seqs[i]!, calls: [], idx: [], bytes: 0 };
      state.section = s;
      this.sections.push(s);
    }
    s.calls.push(call);
    s.idx.push(i);
    s.bytes += 2 + call.ends[i]! - call.starts[i]!;
    this.count++;
  }

  /**
   * The chunk values (store.ts lays them out), parts `firstPart` on: the sections in order, packed
   * into chunks of at most CHUNK_BYTES of records (a section larger than that is split at a record
   * boundary; a record larger than that is a chunk of its own), because a single reading's proof
   * reads its whole chunk. Records where each stream's sections landed (for the window's locator).
   */
  seal(firstPart: number): Buffer[] {
    type Piece = { s: SectionBuilder; from: number; to: number; bytes: number };
    const chunks: Piece[][] = [[]];
    let room = CHUNK_BYTES;
    for (const s of this.sections) {
      let piece: Piece = { s, from: 0, to: 0, bytes: 0 };
      for (let k = 0; k < s.idx.length; k++) {
        const size = 2 + s.calls[k]!.ends[s.idx[k]!]! - s.calls[k]!.starts[s.idx[k]!]!;
        if (size > room && (piece.to > piece.from || chunks.at(-1)!.length > 0)) {
          if (piece.to > piece.from) chunks.at(-1)!.push(piece);
          chunks.push([]);
          room = CHUNK_BYTES;
          piece = { s, from: k, to: k, bytes: 0 };
        }
        piece.to = k + 1;
        piece.bytes += size;
        room -= size;
      }
      chunks.at(-1)!.push(piece);
    }
    const values = chunks.map((pieces, c) => {
      const { value, offsets } = encodeChunk(
        this.arrival,
        pieces.map(({ s, from, to, bytes }) => ({
          stream: s.state.idBytes,
          firstSeq: s.firstSeq + from,
          count: to - from,
          bytes,
          records: (put) => {
            for (let k = from; k < to; k++) put(s.calls[k]!.buf, s.calls[k]!.starts[s.idx[k]!]!, s.calls[k]!.ends[s.idx[k]!]!);
          },
        })),
      );
      pieces.forEach((piece, k) => piece.s.state.located.push({ part: firstPart + c, offset: offsets[k]!, count: piece.to - piece.from }));
      return value;
    });
    for (const s of this.sections) s.state.section = undefined;
    return values;
  }
}

export class IngestPipeline extends EventEmitter implements ReadingSink {
  private readonly windowMs: number;
  private readonly maxWindowReadings: number;
  private readonly maxPending: number;
  private readonly clockToleranceMs: number;
  private readonly closeOnStop: boolean;
  private readonly now: () => number;

  private readonly streams = new Map<string, StreamState>();
  private head: Head;
  private open: OpenWindow;
  private placing: Placing;
  /** The earliest receivedTime the next reading may get (receive times never go back). */
  private receiveFloor: number;
  /** toTimeMs of windows closed by placing (a reading went past them) and not yet sealed. */
  private readonly placedEnds = new Map<number, number>();
  private pending: Call[] = [];
  /** Readings admitted and not yet durable (pending plus the batch in flight). */
  private admitted = 0;
  private waiters: { n: number; go: () => void; stop: (e: Error) => void }[] = [];
  private wakeUp: (() => void) | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private forceClose: (() => void)[] = [];
  /** flush() callers, resolved when nothing admitted is left undurable. */
  private idle: (() => void)[] = [];
  private loopDone = false;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private failure: Error | undefined;
  private readonly timing: TimingMonitor;
  /** Historical readings admitted (Reading.historical). */
  private historical = 0;
  private commits = 0;
  private stall: IngestStall | undefined;
  private readonly storeBackoff: Backoff;
  /** Cuts a back-off short when the pipeline stops. */
  private readonly stopSignal = new AbortController();
  /** The last window whose close is on disk (head.lastClosed runs ahead while its batch is written). */
  private closedDurable: number;
  /** Readings on disk: counted once their commit is, never a reading whose write failed. */
  private readingsDurable: number;

  private constructor(
    readonly store: IngestStore,
    private readonly salts: SaltDeriver,
    head: Head,
    options: PipelineOptions,
  ) {
    super();
    this.windowMs = options.windowMs ?? 1000;
    this.maxWindowReadings = options.maxWindowReadings ?? 200_000;
    this.maxPending = options.maxPendingReadings ?? 65_536;
    this.clockToleranceMs = options.clockToleranceMs ?? 2000;
    this.timing = new TimingMonitor(this.clockToleranceMs, options.timingReportMs ?? 600_000);
    this.closeOnStop = options.closeOnStop ?? true;
    this.now = options.now ?? Date.now;
    this.storeBackoff = new Backoff({ initialDelayMs: 1000, maxDelayMs: 30_000, jitter: 0.2, ...options.storeRetry });
    if (!(this.windowMs >= 1) || !(this.maxWindowReadings >= 1) || this.maxWindowReadings > 0xffff_ffff || !(this.maxPending >= 1)) {
      throw new RangeError("windowMs, maxWindowReadings (<= 2^32 - 1) and maxPendingReadings must be positive");
    }
    this.head = head;
    this.closedDurable = head.lastClosed;
    this.readingsDurable = head.readingsClosed;
    this.open = { sequence: head.lastClosed + 1, count: 0, fromTimeMs: 0, parts: 0, streams: [] };
    this.placing = { sequence: this.open.sequence, count: 0, fromTimeMs: 0, lastMs: 0 };
    this.receiveFloor = head.lastToTimeMs;
  }

  /**
   * Opens the pipeline on `store`, rebuilding the open window from its chunks (what was
   * acknowledged before a crash is exactly what is on disk), and starts committing.
   */
  static async open(store: IngestStore, nodeSecret: Uint8Array, options: PipelineOptions = {}): Promise<IngestPipeline> {
    const head = await store.head();
    const p = new IngestPipeline(store, new SaltDeriver(nodeSecret), head, options);
    for (const [stream, next] of await store.closedNextSeqs()) p.streams.set(stream, new StreamState(stream, next, p.salts));
    await p.recoverOpenWindow();
    p.readingsDurable = p.head.readingsClosed + p.open.count;
    p.loop = p.run().finally(() => (p.loopDone = true));
    return p;
  }

  private async recoverOpenWindow(): Promise<void> {
    const w = this.open;
    const last = await this.store.lastChunkWindow();
    if (last > w.sequence) {
      throw new Error(`the reading store has chunks of window ${last} but its last closed window is ${this.head.lastClosed}: the store is inconsistent`);
    }
    let firstMs = Infinity;
    let lastMs = -Infinity;
    for await (const { part, value } of this.store.chunks(w.sequence)) {
      if (part !== w.parts) throw new Error(`window ${w.sequence} is missing chunk ${w.parts}`);
      const chunk = parseChunk(value);
      for (const section of chunk.sections) {
        const state = this.stream(section.stream);
        if (section.firstSeq !== state.nextSeq) {
          throw new Error(`stream ${section.stream}: window ${w.sequence} continues at seq ${section.firstSeq}, expected ${state.nextSeq}`);
        }
        if (state.runCount === 0) {
          state.runFirstSeq = section.firstSeq;
          w.streams.push(state);
        }
        for (const record of sectionRecords(value, section)) {
          state.appendLeaf(leafHash(record), 0);
          const t = peekReceivedTime(record);
          firstMs = Math.min(firstMs, t);
          lastMs = Math.max(lastMs, t);
        }
        state.located.push({ part, offset: section.offset, count: section.count });
        state.nextSeq += section.count;
        w.count += section.count;
      }
      w.parts++;
    }
    if (w.count > 0) {
      // The window goes on as it was: from its first reading's receive time, after its last.
      w.fromTimeMs = firstMs;
      this.placing = { sequence: w.sequence, count: w.count, fromTimeMs: firstMs, lastMs };
      this.receiveFloor = Math.max(this.receiveFloor, lastMs);
      this.armCloseTimer();
    }
  }

  private stream(id: string): StreamState {
    let s = this.streams.get(id);
    if (s === undefined) {
      s = new StreamState(id, 1, this.salts);
      this.streams.set(id, s);
    }
    return s;
  }

  /**
   * Stores readings; resolves once they are durable (the acknowledgement). Waits while the node
   * holds `maxPendingReadings` undurable readings. Rejects with ReadingError (naming the reading
   * and field) when a reading is invalid, in which case none of the batch is stored.
   */
  async write(readings: readonly Reading[]): Promise<void> {
    await this.append(readings);
  }

  /** As write(), resolving with each reading's sequence number in its stream. */
  async append(readings: readonly Reading[]): Promise<Float64Array> {
    if (!Array.isArray(readings)) throw new TypeError("write() takes an array of readings");
    const n = readings.length;
    if (n === 0) return new Float64Array(0);
    await this.admit(n);
    let call: Call;
    try {
      call = this.encode(readings);
    } catch (e) {
      this.release(n);
      throw e;
    }
    if (this.loopDone) {
      this.release(n);
      throw new PipelineClosedError(this.failure?.message ?? "stopped");
    }
    return new Promise<Float64Array>((resolve, reject) => {
      call.resolve = () => resolve(call.seqs);
      call.reject = reject;
      this.pending.push(call);
      this.wake();
    });
  }

  private admit(n: number): Promise<void> {
    if (this.failure) return Promise.reject(new PipelineClosedError(this.failure.message, { cause: this.failure }));
    if (this.stopping) return Promise.reject(new PipelineClosedError("stopping"));
    // A write larger than the limit is admitted alone, so it cannot wait forever.
    if (this.waiters.length === 0 && (this.admitted + n <= this.maxPending || this.admitted === 0)) {
      this.admitted += n;
      return Promise.resolve();
    }
    return new Promise<void>((go, stop) => this.waiters.push({ n, go, stop }));
  }

  private release(n: number): void {
    this.admitted -= n;
    while (this.waiters.length > 0) {
      const w = this.waiters[0]!;
      if (this.admitted + w.n > this.maxPending && this.admitted > 0) break;
      this.waiters.shift();
      this.admitted += w.n;
      w.go();
    }
    if (this.admitted === 0) for (const f of this.idle.splice(0)) f();
  }

  /** Sequence numbers, salts, canonical bytes and leaf hashes of one call, all or nothing. */
  private encode(readings: readonly Reading[]): Call {
    const n = readings.length;
    const arrival = this.now();
    let buf = Buffer.allocUnsafe(n * 192);
    const starts = new Uint32Array(n);
    const ends = new Uint32Array(n);
    const states: StreamState[] = new Array<StreamState>(n);
    const seqs = new Float64Array(n);
    const windows = new Float64Array(n);
    const received = new Float64Array(n);
    const touched = new Map<StreamState, number>();
    const placingBefore = { ...this.placing };
    const floorBefore = this.receiveFloor;
    let o = 0;
    let i = 0;
    try {
      for (; i < n; i++) {
        const r = readings[i]!;
        const id = r?.stream;
        if (typeof id !== "string") throw new ReadingError("stream", `stream must be a string (got ${id === null ? "null" : typeof id})`);
        const state = this.streams.get(id) ?? this.stream(id);
        if (!touched.has(state)) touched.set(state, state.nextSeq);
        const seq = state.nextSeq;
        // Room for the largest encoding this reading can have (a string value is length-checked
        // before it is written).
        const need = FIXED_ROOM + (typeof r.value === "string" ? Math.min(r.value.length * 3, MAX_STRING_VALUE_BYTES) : 0);
        if (buf.length - o < need) {
          const grown = Buffer.allocUnsafe(Math.max(buf.length * 2, o + need));
          buf.copy(grown, 0, 0, o);
          buf = grown;
        }
        const t = this.place(arrival);
        buf[o] = 0x00; // the leaf prefix, so the leaf hash needs no copy
        const end = encodeReadingInto(r, seq, state.salts.get(seq), t, buf, o + 1);
        state.nextSeq = seq + 1;
        starts[i] = o + 1;
        ends[i] = end;
        states[i] = state;
        seqs[i] = seq;
        windows[i] = this.placing.sequence;
        received[i] = t;
        o = end;
      }
    } catch (e) {
      for (const [state, next] of touched) state.nextSeq = next;
      for (let w = placingBefore.sequence; w < this.placing.sequence; w++) this.placedEnds.delete(w);
      this.placing = placingBefore;
      this.receiveFloor = floorBefore;
      if (e instanceof ReadingError) throw e.at(i);
      throw e;
    }
    for (let k = 0; k < n; k++) {
      // Store-and-forward data is late by design: counted as historical, not as a late stream.
      if (readings[k]!.historical === true) {
        this.historical++;
        continue;
      }
      const report = this.timing.note(states[k]!.id, received[k]! - Math.floor(readings[k]!.sourceTime), arrival);
      if (report) this.emit("timing", report);
    }
    const leaves = Buffer.allocUnsafe(n * 32);
    for (let k = 0; k < n; k++) {
      leaves.write(hash("sha256", buf.subarray(starts[k]! - 1, ends[k]!), "binary"), k * 32, 32, "latin1");
    }
    return { n, buf, starts, ends, states, seqs, windows, received, leaves, arrival, resolve: noop, reject: noop };
  }

  /**
   * The receivedTime of the next reading, arrived at `arrival`, and the window it goes in: the
   * placing window, or the next one when this reading falls after the placing window's span or
   * it is full (the placing window then ends at a time between its last reading and this one).
   */
  private place(arrival: number): number {
    let t = Math.max(arrival, this.receiveFloor);
    const p = this.placing;
    if (p.count > 0 && (t >= p.fromTimeMs + this.windowMs || p.count >= this.maxWindowReadings)) {
      const end = t >= p.fromTimeMs + this.windowMs ? p.fromTimeMs + this.windowMs : Math.max(t, p.lastMs + 1);
      this.placedEnds.set(p.sequence, end);
      t = Math.max(t, end);
      this.placing = { sequence: p.sequence + 1, count: 0, fromTimeMs: t, lastMs: t };
    }
    const q = this.placing;
    if (q.count === 0) q.fromTimeMs = t;
    q.count++;
    q.lastMs = t;
    this.receiveFloor = t;
    return t;
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private armCloseTimer(): void {
    clearTimeout(this.closeTimer);
    const delay = Math.max(0, this.open.fromTimeMs + this.windowMs - this.now());
    this.closeTimer = setTimeout(() => this.wake(), delay);
  }

  private closeDue(): boolean {
    return this.open.count > 0 && (this.forceClose.length > 0 || this.now() >= this.open.fromTimeMs + this.windowMs);
  }

  private async run(): Promise<void> {
    for (;;) {
      if (this.failure) return;
      const closeAtStop = this.stopping && this.closeOnStop && this.open.count > 0;
      if (this.pending.length === 0 && !this.closeDue() && !closeAtStop) {
        if (this.forceClose.length > 0) this.settleForced(); // nothing to close
        if (this.stopping) return;
        // A timer can fire a moment before the node clock reaches the window's end (or while a
        // commit is under way); re-arm it before sleeping so an open window always gets closed.
        if (this.open.count > 0) this.armCloseTimer();
        await new Promise<void>((r) => (this.wakeUp = r));
        continue;
      }
      try {
        await this.commit(closeAtStop);
      } catch (e) {
        this.fail(e as Error);
        return;
      }
    }
  }

  private settleForced(): void {
    const done = this.forceClose;
    this.forceClose = [];
    for (const f of done) f();
  }

  /** One group commit: the pending calls' chunks, and any window closes, in one atomic batch. */
  private async commit(closeAtStop: boolean): Promise<void> {
    const calls = this.pending;
    this.pending = [];
    const batch = new StoreBatch();
    const closed: WindowRecord[] = [];
    const now = this.now();
    const forced = this.forceClose.length > 0;
    const settle = forced ? this.forceClose.splice(0) : [];

    const partsBefore = this.open.parts;
    let builder: ChunkBuilder | undefined;
    const seal = () => {
      if (builder === undefined || builder.count === 0) return;
      for (const value of builder.seal(this.open.parts)) batch.putChunk(this.open.sequence, this.open.parts++, value);
      builder = undefined;
    };
    for (const call of calls) {
      for (let i = 0; i < call.n; i++) {
        // The writer placed this reading past the open window: that window ends where placing ended it.
        while (call.windows[i]! > this.open.sequence) {
          seal();
          const end = this.placedEnds.get(this.open.sequence);
          if (end === undefined) throw new Error(`window ${this.open.sequence} was left without an end time`);
          this.placedEnds.delete(this.open.sequence);
          closed.push(this.sealWindow(batch, end, now));
        }
        const w = this.open;
        if (w.count === 0) w.fromTimeMs = call.received[i]!;
        builder ??= new ChunkBuilder(call.arrival);
        builder.add(call, i);
        const state = call.states[i]!;
        if (state.runCount === 0) {
          state.runFirstSeq = call.seqs[i]!;
          w.streams.push(state);
        }
        state.appendLeaf(call.leaves, i * 32);
        w.count++;
      }
    }
    seal();
    // Every call placed so far is in this commit, so placing is at the open window: end it at
    // its span's end when that has passed, else just after its last reading.
    if (this.open.count > 0 && (this.closeDue() || forced || closeAtStop)) {
      const p = this.placing;
      const end = now >= p.fromTimeMs + this.windowMs ? p.fromTimeMs + this.windowMs : Math.max(now, p.lastMs + 1);
      closed.push(this.sealWindow(batch, end, now));
      this.placing = { sequence: this.open.sequence, count: 0, fromTimeMs: 0, lastMs: 0 };
      this.receiveFloor = Math.max(this.receiveFloor, end);
    }

    try {
      await this.writeDurably(batch);
    } catch (e) {
      const err = new PipelineClosedError(`writing to the reading store failed: ${(e as Error).message}`, { cause: e });
      for (const c of calls) c.reject(err);
      for (const f of settle) f();
      throw err;
    }
    this.commits++;
    this.closedDurable = this.head.lastClosed;
    this.readingsDurable = this.head.readingsClosed + this.open.count;
    let released = 0;
    for (const c of calls) {
      released += c.n;
      c.resolve();
    }
    this.release(released);
    if (this.open.count > 0 && (closed.length > 0 || (partsBefore === 0 && this.open.parts > 0))) this.armCloseTimer();
    for (const record of closed) this.emit("window", record);
    for (const f of settle) f();
  }

  /**
   * Writes `batch`, again and again while the store refuses it (see the header), reopening the
   * store before each new attempt. Throws when the store was closed underneath or the pipeline
   * stops while the write keeps failing.
   */
  private async writeDurably(batch: StoreBatch): Promise<void> {
    let reopen = false;
    for (;;) {
      try {
        if (reopen) await this.store.reopen();
        await this.store.commit(batch);
        break;
      } catch (e) {
        const err = e as Error & { code?: string };
        // Closed by someone else (not by a reopen of ours that failed): the node is going away.
        if (!reopen && err.code === "LEVEL_DATABASE_NOT_OPEN") throw err;
        if (this.stopping) throw err;
        reopen = true;
        const retryInMs = this.storeBackoff.next();
        this.stall = { since: this.stall?.since ?? this.now(), attempts: this.storeBackoff.attempts, lastError: describeStoreError(err), retryInMs };
        this.emit("stalled", { ...this.stall });
        await sleep(retryInMs, this.stopSignal.signal);
      }
    }
    if (this.stall) {
      const stall = this.stall;
      this.stall = undefined;
      this.storeBackoff.reset();
      this.emit("resumed", { ...stall, retryInMs: 0 });
    }
  }

  /** Closes the open window into `batch` with its end time `toTimeMs`, and opens the next one (empty). */
  private sealWindow(batch: StoreBatch, toTimeMs: number, now: number): WindowRecord {
    const w = this.open;
    const streams = w.streams.sort((a, b) => Buffer.compare(a.idBytes, b.idBytes));
    const blob = Buffer.allocUnsafe(w.count * 32);
    const runs: StreamRun[] = [];
    const located: LocatedSection[][] = [];
    let leafStart = 0;
    for (const s of streams) {
      s.leaves.copy(blob, leafStart * 32, 0, s.runCount * 32);
      runs.push({ stream: s.id, firstSeq: s.runFirstSeq, count: s.runCount, leafStart });
      located.push(s.located);
      leafStart += s.runCount;
      s.runCount = 0;
      s.runFirstSeq = 0;
      s.located = [];
      // Keep small buffers for the next window; let large ones go.
      if (s.leaves.length > 64 * 1024) s.leaves = EMPTY;
    }
    // The root over the page roots is the window's root (see store.ts): each leaf is hashed into
    // the tree once.
    const pages = Math.ceil(w.count / LEAF_PAGE);
    const pageRoots = Buffer.allocUnsafe(pages * 32);
    const leafPages: Buffer[] = [];
    const blockRoots: Buffer[] = [];
    for (let p = 0; p < pages; p++) {
      const page = blob.subarray(p * LEAF_PAGE * 32, Math.min(w.count, (p + 1) * LEAF_PAGE) * 32);
      const blocks = pageBlockRoots(page); // the page's root is the root over its block roots (store.ts)
      merkleRoot(blocks).copy(pageRoots, p * 32);
      leafPages.push(page);
      blockRoots.push(blocks);
    }
    const root = "0x" + merkleRoot(pageRoots).toString("hex");
    const record: WindowRecord = {
      sequence: w.sequence,
      fromTimeMs: w.fromTimeMs,
      toTimeMs,
      leafCount: w.count,
      root,
      prevRoot: this.head.lastRoot,
      parts: w.parts,
      closedAt: now,
      runs,
    };
    this.head = {
      lastClosed: w.sequence,
      lastRoot: root,
      lastToTimeMs: record.toTimeMs,
      readingsClosed: this.head.readingsClosed + w.count,
    };
    batch.closeWindow({ record, leafPages, pageRoots, blockRoots, locator: located, head: this.head });
    this.open = { sequence: w.sequence + 1, count: 0, fromTimeMs: 0, parts: 0, streams: [] };
    clearTimeout(this.closeTimer);
    return record;
  }

  private fail(e: Error): void {
    this.failure = e;
    clearTimeout(this.closeTimer);
    const err = new PipelineClosedError(e.message, { cause: e });
    for (const c of this.pending) c.reject(err);
    this.pending = [];
    for (const w of this.waiters.splice(0)) w.stop(err);
    this.settleForced();
    for (const f of this.idle.splice(0)) f();
    this.emit("failed", e);
  }

  /** Closes the open window now (if it holds readings), after what is pending; resolves when durable. */
  closeWindow(): Promise<void> {
    if (this.failure) return Promise.reject(new PipelineClosedError(this.failure.message));
    return new Promise<void>((resolve) => {
      this.forceClose.push(resolve);
      this.wake();
    });
  }

  /** Resolves once everything written so far is durable. */
  async flush(): Promise<void> {
    if (this.admitted === 0 || this.failure) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  /**
   * Stops accepting readings, commits what was admitted, closes the open window (unless
   * `closeOnStop` is false) and ends the commit loop. The store stays open (the caller closes it).
   */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.stopSignal.abort();
      const err = new PipelineClosedError("stopping");
      for (const w of this.waiters.splice(0)) {
        w.stop(err);
      }
      this.wake();
    }
    await this.loop;
    clearTimeout(this.closeTimer);
  }

  /** The last closed window that is durable (only those may be anchored). */
  get lastClosed(): number {
    return this.closedDurable;
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** Per stream: its last sequence number, i.e. readings sequenced for it (admitted ones included). */
  streamReadings(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, s] of this.streams) out.set(id, s.nextSeq - 1);
    return out;
  }

  status(): PipelineStatus {
    return {
      readingsStored: this.readingsDurable,
      windowsClosed: this.closedDurable,
      openWindow: {
        sequence: this.open.sequence,
        readings: this.open.count,
        ...(this.open.count > 0 ? { fromTimeMs: this.open.fromTimeMs } : {}),
      },
      pendingReadings: this.admitted,
      waitingWrites: this.waiters.length,
      skewedReadings: this.timing.skewed,
      historicalReadings: this.historical,
      timing: this.timing.list(),
      commits: this.commits,
      ...(this.stall ? { stalled: { ...this.stall } } : {}),
      ...(this.failure ? { failed: this.failure.message } : {}),
    };
  }
}

function noop(): void {}

/** A store error as an operator reads it: LevelDB's message, with the cause's (ENOSPC, EIO) when it has one. */
function describeStoreError(e: Error & { code?: string; cause?: unknown }): string {
  const cause = e.cause instanceof Error ? e.cause.message : undefined;
  const text = cause && !e.message.includes(cause) ? `${e.message} (${cause})` : e.message;
  return /no space left|ENOSPC/i.test(text) ? `the disk is full: ${text}` : text;
}
