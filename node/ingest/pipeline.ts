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
 * A window's time range [fromTimeMs, toTimeMs) is node-clock time: from the arrival of its first
 * reading (never before the previous window's end) to its close. Readings carry device time
 * (sourceTime), which trails arrival by transport delay and differs by clock offset; the verifier
 * allows a tolerance for that (lib/verify-reading.ts), and the pipeline counts readings whose
 * source time is further than `clockToleranceMs` from their arrival (`skewedReadings`).
 *
 * A LevelDB write error (disk full, I/O error) is fatal: the batch's writers are rejected, and so
 * is every later write, until the node restarts; nothing unacknowledged is ever half-kept.
 */
import { EventEmitter } from "node:events";
import { hash } from "node:crypto";
import { MAX_CANONICAL_BYTES, MAX_STRING_VALUE_BYTES, ReadingError, encodeReadingInto } from "../../lib/canonical-reading.ts";
import { leafHash, merkleRoot } from "../../lib/merkle.ts";
import type { Reading, ReadingSink } from "../../lib/reading.ts";
import { SaltDeriver, type StreamSalts } from "./salt.ts";
import {
  CHUNK_FORMAT,
  type Head,
  type IngestStore,
  LEAF_PAGE,
  type LocatedSection,
  type Op,
  type StreamRun,
  type WindowRecord,
  encodeLocator,
  keys,
  parseChunk,
  sectionRecords,
  values,
} from "./store.ts";
import { TracemeshError } from "../../lib/errors.ts";

export interface PipelineOptions {
  /** Window length on the node clock, ms (default 1000). */
  windowMs?: number;
  /** A window closes early when it holds this many readings (default 200,000). */
  maxWindowReadings?: number;
  /** Readings admitted but not yet on disk before writers wait (default 65,536). */
  maxPendingReadings?: number;
  /** Source time further than this from arrival counts as skewed (default 2000 ms). */
  clockToleranceMs?: number;
  /** Close the open window when the pipeline stops (default true). */
  closeOnStop?: boolean;
  /** The node clock (tests). */
  now?: () => number;
}

export interface PipelineStatus {
  readingsStored: number;
  windowsClosed: number;
  openWindow: { sequence: number; readings: number; fromTimeMs?: number };
  /** Readings admitted and not yet durable. */
  pendingReadings: number;
  /** write() calls waiting for room (back-pressure). */
  waitingWrites: number;
  skewedReadings: number;
  commits: number;
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

  /** The chunk value; records where each stream's section landed (for the window's locator). */
  seal(part: number): Buffer {
    let size = 13;
    for (const s of this.sections) size += 1 + s.state.idBytes.length + 16 + s.bytes;
    const out = Buffer.allocUnsafe(size);
    out[0] = CHUNK_FORMAT;
    out.writeUInt32BE(Math.floor(this.arrival / 0x1_0000_0000), 1);
    out.writeUInt32BE(this.arrival >>> 0, 5);
    out.writeUInt32BE(this.sections.length, 9);
    let o = 13;
    for (const s of this.sections) {
      const id = s.state.idBytes;
      out[o++] = id.length;
      id.copy(out, o);
      o += id.length;
      out.writeUInt32BE(Math.floor(s.firstSeq / 0x1_0000_0000), o);
      out.writeUInt32BE(s.firstSeq >>> 0, o + 4);
      out.writeUInt32BE(s.idx.length, o + 8);
      out.writeUInt32BE(s.bytes, o + 12);
      o += 16;
      s.state.located.push({ part, offset: o, count: s.idx.length });
      for (let k = 0; k < s.idx.length; k++) {
        const call = s.calls[k]!;
        const i = s.idx[k]!;
        const start = call.starts[i]!;
        const end = call.ends[i]!;
        out.writeUInt16BE(end - start, o);
        call.buf.copy(out, o + 2, start, end);
        o += 2 + end - start;
      }
      s.state.section = undefined;
    }
    return out;
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
  private skewed = 0;
  private commits = 0;
  /** The last window whose close is on disk (head.lastClosed runs ahead while its batch is written). */
  private closedDurable: number;

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
    this.closeOnStop = options.closeOnStop ?? true;
    this.now = options.now ?? Date.now;
    if (!(this.windowMs >= 1) || !(this.maxWindowReadings >= 1) || this.maxWindowReadings > 0xffff_ffff || !(this.maxPending >= 1)) {
      throw new RangeError("windowMs, maxWindowReadings (<= 2^32 - 1) and maxPendingReadings must be positive");
    }
    this.head = head;
    this.closedDurable = head.lastClosed;
    this.open = { sequence: head.lastClosed + 1, count: 0, fromTimeMs: 0, parts: 0, streams: [] };
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
    p.loop = p.run().finally(() => (p.loopDone = true));
    return p;
  }

  private async recoverOpenWindow(): Promise<void> {
    const w = this.open;
    const last = await this.store.lastChunkWindow();
    if (last > w.sequence) {
      throw new Error(`the reading store has chunks of window ${last} but its last closed window is ${this.head.lastClosed}: the store is inconsistent`);
    }
    for await (const { part, value } of this.store.chunks(w.sequence)) {
      if (part !== w.parts) throw new Error(`window ${w.sequence} is missing chunk ${w.parts}`);
      const chunk = parseChunk(value);
      if (w.parts === 0) w.fromTimeMs = Math.max(this.head.lastToTimeMs, chunk.arrivalMs);
      for (const section of chunk.sections) {
        const state = this.stream(section.stream);
        if (section.firstSeq !== state.nextSeq) {
          throw new Error(`stream ${section.stream}: window ${w.sequence} continues at seq ${section.firstSeq}, expected ${state.nextSeq}`);
        }
        if (state.runCount === 0) {
          state.runFirstSeq = section.firstSeq;
          w.streams.push(state);
        }
        for (const record of sectionRecords(value, section)) state.appendLeaf(leafHash(record), 0);
        state.located.push({ part, offset: section.offset, count: section.count });
        state.nextSeq += section.count;
        w.count += section.count;
      }
      w.parts++;
    }
    if (w.count > 0) this.armCloseTimer();
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
    const touched = new Map<StreamState, number>();
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
        buf[o] = 0x00; // the leaf prefix, so the leaf hash needs no copy
        const end = encodeReadingInto(r, seq, state.salts.get(seq), buf, o + 1);
        state.nextSeq = seq + 1;
        starts[i] = o + 1;
        ends[i] = end;
        states[i] = state;
        seqs[i] = seq;
        o = end;
        const skew = r.sourceTime - arrival;
        if (skew > this.clockToleranceMs || skew < -this.clockToleranceMs) this.skewed++;
      }
    } catch (e) {
      for (const [state, next] of touched) state.nextSeq = next;
      if (e instanceof ReadingError) throw e.at(i);
      throw e;
    }
    const leaves = Buffer.allocUnsafe(n * 32);
    for (let k = 0; k < n; k++) {
      leaves.write(hash("sha256", buf.subarray(starts[k]! - 1, ends[k]!), "binary"), k * 32, 32, "latin1");
    }
    return { n, buf, starts, ends, states, seqs, leaves, arrival, resolve: noop, reject: noop };
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
    const ops: Op[] = [];
    const closed: WindowRecord[] = [];
    const now = this.now();
    const forced = this.forceClose.length > 0;
    const settle = forced ? this.forceClose.splice(0) : [];
    if (this.closeDue() || (forced && this.open.count > 0)) closed.push(this.sealWindow(ops, now));

    let builder: ChunkBuilder | undefined;
    const seal = () => {
      if (builder === undefined || builder.count === 0) return;
      ops.push({ type: "put", key: keys.chunk(this.open.sequence, this.open.parts), value: builder.seal(this.open.parts) });
      this.open.parts++;
      builder = undefined;
    };
    for (const call of calls) {
      for (let i = 0; i < call.n; i++) {
        if (this.open.count >= this.maxWindowReadings) {
          seal();
          closed.push(this.sealWindow(ops, now));
        }
        const w = this.open;
        if (w.count === 0) w.fromTimeMs = Math.max(this.head.lastToTimeMs, Math.min(call.arrival, now));
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
    if (closeAtStop && this.open.count > 0) closed.push(this.sealWindow(ops, now));

    try {
      await this.store.write(ops);
    } catch (e) {
      const err = new PipelineClosedError(`writing to the reading store failed: ${(e as Error).message}`, { cause: e });
      for (const c of calls) c.reject(err);
      for (const f of settle) f();
      throw err;
    }
    this.commits++;
    this.closedDurable = this.head.lastClosed;
    let released = 0;
    for (const c of calls) {
      released += c.n;
      c.resolve();
    }
    this.release(released);
    if (this.open.count > 0 && (closed.length > 0 || this.open.parts === 1)) this.armCloseTimer();
    for (const record of closed) this.emit("window", record);
    for (const f of settle) f();
  }

  /** Closes the open window into `ops`, and opens the next one (empty). */
  private sealWindow(ops: Op[], now: number): WindowRecord {
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
      ops.push({ type: "put", key: keys.streamIndex(s.idBytes, s.runFirstSeq), value: values.streamIndexEntry(w.sequence) });
      ops.push({ type: "put", key: keys.nextSeq(s.idBytes), value: values.u64(s.runFirstSeq + s.runCount) });
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
    for (let p = 0; p < pages; p++) {
      const page = blob.subarray(p * LEAF_PAGE * 32, Math.min(w.count, (p + 1) * LEAF_PAGE) * 32);
      merkleRoot(page).copy(pageRoots, p * 32);
      ops.push({ type: "put", key: keys.leafPage(w.sequence, p), value: page });
    }
    const root = "0x" + merkleRoot(pageRoots).toString("hex");
    const record: WindowRecord = {
      sequence: w.sequence,
      fromTimeMs: w.fromTimeMs,
      toTimeMs: Math.max(now, w.fromTimeMs + 1),
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
    ops.push({ type: "put", key: keys.window(w.sequence), value: values.json(record) });
    ops.push({ type: "put", key: keys.pageRoots(w.sequence), value: pageRoots });
    ops.push({ type: "put", key: keys.locator(w.sequence), value: encodeLocator(located) });
    ops.push({ type: "put", key: keys.meta("head"), value: values.json(this.head) });
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

  status(): PipelineStatus {
    return {
      readingsStored: this.head.readingsClosed + this.open.count,
      windowsClosed: this.closedDurable,
      openWindow: {
        sequence: this.open.sequence,
        readings: this.open.count,
        ...(this.open.count > 0 ? { fromTimeMs: this.open.fromTimeMs } : {}),
      },
      pendingReadings: this.admitted,
      waitingWrites: this.waiters.length,
      skewedReadings: this.skewed,
      commits: this.commits,
      ...(this.failure ? { failed: this.failure.message } : {}),
    };
  }
}

function noop(): void {}
