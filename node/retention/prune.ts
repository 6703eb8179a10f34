/**
 * Retention of a member node's readings (issue 18): a periodic task in the node daemon that moves
 * readings older than their stream's policy (node/retention/policy.ts) out of the store into
 * archive files (node/retention/archive.ts), while ingestion goes on.
 *
 * What is pruned: the runs (one stream's readings in one window) of windows anchored and
 * confirmed on chain whose window ended more than the stream's keepDays ago. What stays: streams
 * without a policy; every run holding a reading an own EPCIS event binds (lib/epcis/readings.ts;
 * decided reading by reading on source time); the window records with their roots, page roots,
 * stream index entries and anchor receipts; and the leaf hashes (with their block roots) of
 * every window that still keeps some run, so kept readings are proved from the store as before (node/ingest/proofs.ts).
 *
 * How, per segment (at most `windowsPerSegment` windows, a million readings or 32 MB of
 * rewritten chunks): the pruned readings and their windows' proof material are written to a
 * pending segment, synced and renamed into place; then one atomic LevelDB batch deletes the
 * windows' chunks, writes one chunk of the runs they keep, the locator, the runs' archive marks
 * and where retention stands ("retention" metadata: the last committed segment, per keep period
 * the first window not yet looked at, the readings pruned). A crash before the batch leaves the
 * readings in the store and a segment it does not record, removed at the next run; after it,
 * both agree. The ingest pipeline writes only the open window, the anchorer only receipts, so
 * neither contends with the windows pruned here.
 *
 * With a received store and `followed` rules, each run also prunes the readings received from
 * partners' streams (node/retention/received.ts) into `<archiveDir>/received`.
 */
import path from "node:path";
import { type ReadingBinding, bindsSourceTime, readingBindingsOf } from "../../lib/epcis/readings.ts";
import { decodeReading, type DecodedReading } from "../../lib/canonical-reading.ts";
import type { ProofService } from "../ingest/proofs.ts";
import {
  type IngestStore,
  LEAF_PAGE,
  type LocatedSection,
  type Op,
  type SectionInput,
  type StreamRun,
  type WindowRecord,
  encodeChunk,
  encodeLocator,
  keys,
  parseChunk,
} from "../ingest/store.ts";
import type { EventStore } from "../events/store.ts";
import { type ArchivedWindow, SegmentWriter, archiveBytes, claimArchive, cleanArchive, readingLine, segmentName } from "./archive.ts";
import { type RetentionConfig, keepMsOf } from "./policy.ts";
import { ReceivedRetention, type ReceivedRetentionState } from "./received.ts";
import type { ReceivedStore } from "../p2p/received-store.ts";

/** Where retention stands, kept in the store ("retention" metadata) with each commit. */
export interface RetentionState {
  lastSegment: number;
  /** Per keep period (ms, as a string): the first window not looked at yet. */
  cursors: Record<string, number>;
  prunedReadings: number;
}

export interface RetentionStatus {
  /** Runs of the task since the node started. */
  runs: number;
  running: boolean;
  lastRunAt?: number;
  lastError?: string;
  /** Readings moved to the archive, over the store's life. */
  prunedReadings: number;
  /** Runs kept past their policy because an own EPCIS event binds them, since the node started. */
  keptBoundRuns: number;
  lastSegment: number;
  archiveDir: string;
  archiveBytes: number;
  /** Readings received from followed streams moved to `<archiveDir>/received` (with `followed` rules and a peer network). */
  received?: ReceivedRetentionState & { dir: string };
}

export interface RetentionOptions {
  /** The node's anchoring account (named in every segment). */
  node: string;
  /** The reading bindings of the node's own EPCIS events (readings they bind are kept). */
  bindings: () => AsyncIterable<ReadingBinding>;
  now?: () => number;
  log?: (message: string) => void;
  maxReadingsPerSegment?: number;
  maxRewriteBytes?: number;
  /** The store of readings received from partners, pruned by the config's `followed` rules. */
  received?: Pick<ReceivedStore, "entries" | "getMeta" | "db">;
}

/** The reading bindings of every own event in `events` (a binding that does not parse binds nothing). */
export async function* ownEventBindings(events: Pick<EventStore, "ownEvents">): AsyncGenerator<ReadingBinding> {
  for await (const e of events.ownEvents()) {
    let bindings: ReadingBinding[];
    try {
      bindings = readingBindingsOf(e.event, e.context);
    } catch {
      continue; // refused at capture already; nothing it names can be bound
    }
    yield* bindings;
  }
}

interface DecodedRun {
  index: number;
  run: StreamRun;
  records: Buffer[];
  decoded?: DecodedReading[];
}

const hex = (b: Buffer) => "0x" + b.toString("hex");

export class Retention {
  private readonly now: () => number;
  private readonly log: (m: string) => void;
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<unknown> | undefined;
  private stopping = false;
  private runs = 0;
  private lastRunAt: number | undefined;
  private lastError: string | undefined;
  private keptBoundRuns = 0;
  private state: RetentionState = { lastSegment: 0, cursors: {}, prunedReadings: 0 };
  private bytes = 0;
  private readonly received: ReceivedRetention | undefined;

  constructor(
    private readonly store: IngestStore,
    private readonly proofs: Pick<ProofService, "forget">,
    readonly config: RetentionConfig,
    private readonly options: RetentionOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.log = options.log ?? ((m) => console.log(`[retention] ${m}`));
    if (options.received && (config.followed ?? []).length > 0) {
      this.received = new ReceivedRetention(options.received, config.followed!, path.join(config.archiveDir, "received"), { log: this.log, ...(options.maxReadingsPerSegment ? { maxReadingsPerSegment: options.maxReadingsPerSegment } : {}) });
    }
  }

  /** Runs now, then every `intervalMs`. */
  async start(): Promise<void> {
    this.state = (await this.store.retentionState<RetentionState>()) ?? this.state;
    this.bytes = archiveBytes(this.config.archiveDir);
    await this.received?.load();
    const tick = () => {
      if (this.stopping) return;
      this.current = this.runOnce()
        .catch(() => {}) // recorded in lastError and logged by runOnce
        .finally(() => {
          if (!this.stopping) this.timer = setTimeout(tick, this.config.intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  /** Stops after the segment in progress (an unfinished one is dropped, its readings stay). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.current;
  }

  status(): RetentionStatus {
    return {
      runs: this.runs,
      running: this.busy,
      ...(this.lastRunAt !== undefined ? { lastRunAt: this.lastRunAt } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      prunedReadings: this.state.prunedReadings,
      keptBoundRuns: this.keptBoundRuns,
      lastSegment: this.state.lastSegment,
      archiveDir: this.config.archiveDir,
      archiveBytes: this.bytes,
      ...(this.received ? { received: this.received.status() } : {}),
    };
  }

  private busy = false;

  /** One pass: every keep period's expired windows, in segments. Answers what it archived. */
  async runOnce(): Promise<{ segments: number; readings: number }> {
    if (this.busy) throw new Error("a retention run is in progress");
    this.busy = true;
    const done = { segments: 0, readings: 0 };
    try {
      this.state = (await this.store.retentionState<RetentionState>()) ?? { lastSegment: 0, cursors: {}, prunedReadings: 0 };
      claimArchive(this.config.archiveDir, this.options.node);
      const removed = cleanArchive(this.config.archiveDir, this.state.lastSegment);
      if (removed.length > 0) this.log(`removed ${removed.join(", ")} from ${this.config.archiveDir}: written by a run that did not finish (their readings are still in the store)`);
      if (this.received) {
        const r = await this.received.runOnce(this.now(), () => this.stopping);
        done.segments += r.segments;
        done.readings += r.readings;
      }
      const periods = [...new Set(this.config.rules.map((r) => r.keepMs).filter((k): k is number => k !== undefined))].sort((a, b) => a - b);
      if (periods.length === 0) return done;
      const bindings = await this.loadBindings();
      const anchored = await this.store.lastAnchored();
      const now = this.now();
      for (const keepMs of periods) {
        if (this.stopping) break;
        const r = await this.prunePeriod(keepMs, now - keepMs, anchored, bindings);
        done.segments += r.segments;
        done.readings += r.readings;
      }
      this.lastError = undefined;
      return done;
    } catch (e) {
      this.lastError = (e as Error).message;
      this.log(`RETENTION FAILED: ${this.lastError} (readings stay in the store; the next run tries again)`);
      throw e;
    } finally {
      this.busy = false;
      this.runs++;
      this.lastRunAt = this.now();
      this.bytes = archiveBytes(this.config.archiveDir);
    }
  }

  private async loadBindings(): Promise<Map<string, ReadingBinding[]>> {
    const map = new Map<string, ReadingBinding[]>();
    for await (const b of this.options.bindings()) {
      let list = map.get(b.stream);
      if (list === undefined) map.set(b.stream, (list = []));
      list.push(b);
    }
    return map;
  }

  /** Windows up to `anchored` that ended by `cutoff`, for the streams kept `keepMs`. */
  private async prunePeriod(keepMs: number, cutoff: number, anchored: number, bindings: Map<string, ReadingBinding[]>): Promise<{ segments: number; readings: number }> {
    const key = String(keepMs);
    const done = { segments: 0, readings: 0 };
    let w = this.state.cursors[key] ?? 1;
    const start = w;
    let seg: { writer: SegmentWriter; ops: Op[]; windows: number[]; rewrite: number } | undefined;
    const maxReadings = this.options.maxReadingsPerSegment ?? 1_000_000;
    const maxRewrite = this.options.maxRewriteBytes ?? 32 * 1024 * 1024;
    const commit = async () => {
      const s = seg!;
      seg = undefined;
      const readings = s.writer.readings;
      let bytes: number;
      try {
        ({ bytes } = await s.writer.commit());
      } catch (e) {
        s.writer.abort();
        throw e;
      }
      const state: RetentionState = { lastSegment: s.writer.segment, cursors: { ...this.state.cursors, [key]: w }, prunedReadings: this.state.prunedReadings + readings };
      s.ops.push({ type: "put", key: keys.meta("retention"), value: Buffer.from(JSON.stringify(state)) });
      await this.store.write(s.ops);
      this.state = state;
      for (const win of s.windows) this.proofs.forget(win);
      done.segments++;
      done.readings += readings;
      this.log(
        `archived ${readings} readings of windows ${s.windows[0]}-${s.windows.at(-1)} (kept ${keepMs / 86_400_000} days) to ${segmentName(s.writer.segment)} (${bytes} bytes); ${state.prunedReadings} archived in all`,
      );
    };
    try {
      for (; w <= anchored && !this.stopping; w++) {
        const record = await this.store.window(w);
        if (record === undefined || record.toTimeMs > cutoff) break;
        const expired = record.runs.map((run, index) => ({ run, index })).filter(({ run }) => run.archived === undefined && keepMsOf(this.config.rules, run.stream) === keepMs);
        if (expired.length === 0) continue;
        seg ??= { writer: new SegmentWriter(this.config.archiveDir, this.state.lastSegment + 1, this.options.node), ops: [], windows: [], rewrite: 0 };
        const rewritten = await this.pruneWindow(record, expired, bindings, seg.writer, seg.ops);
        if (rewritten === undefined) continue;
        seg.windows.push(w);
        seg.rewrite += rewritten;
        if (seg.windows.length >= this.config.windowsPerSegment || seg.writer.readings >= maxReadings || seg.rewrite >= maxRewrite) {
          w++;
          await commit();
          w--;
        }
      }
      if (seg !== undefined && seg.windows.length > 0) await commit();
      else {
        seg?.writer.abort();
        seg = undefined;
        if (w !== start) {
          // Nothing to archive, but the windows looked at need not be looked at again.
          const state: RetentionState = { ...this.state, cursors: { ...this.state.cursors, [key]: w } };
          await this.store.write([{ type: "put", key: keys.meta("retention"), value: Buffer.from(JSON.stringify(state)) }]);
          this.state = state;
        }
      }
    } catch (e) {
      seg?.writer.abort();
      throw e;
    }
    return done;
  }

  /**
   * Archives the `expired` runs of `record` that no own event binds and adds the store's writes
   * to `ops`; answers the bytes of the chunk rewritten, or undefined when every run is kept.
   */
  private async pruneWindow(record: WindowRecord, expired: { run: StreamRun; index: number }[], bindings: Map<string, ReadingBinding[]>, writer: SegmentWriter, ops: Op[]): Promise<number | undefined> {
    const w = record.sequence;
    const [locator, pageRoots] = await Promise.all([this.store.locator(w), this.store.pageRoots(w)]);
    if (locator === undefined || pageRoots === undefined) throw new Error(`window ${w} is not closed in the store`);
    const chunks = new Map<number, Buffer>();
    for await (const { part, value } of this.store.chunks(w)) chunks.set(part, value);

    const recordsOf = (index: number): Buffer[] => {
      const out: Buffer[] = [];
      for (const s of locator[index] ?? []) {
        const value = chunks.get(s.part);
        if (value === undefined) throw new Error(`window ${w} chunk ${s.part} is missing: the store is damaged`);
        let o = s.offset;
        for (let k = 0; k < s.count; k++) {
          const len = value.readUInt16BE(o);
          out.push(value.subarray(o + 2, o + 2 + len));
          o += 2 + len;
        }
      }
      return out;
    };

    const prune: DecodedRun[] = [];
    for (const { run, index } of expired) {
      const records = recordsOf(index);
      if (records.length !== run.count) throw new Error(`window ${w} holds ${records.length} readings of ${run.stream}, its record says ${run.count}: the store is damaged`);
      const decoded = records.map((r) => decodeReading(r));
      const bound = bindings.get(run.stream);
      if (bound && decoded.some((d) => bound.some((b) => bindsSourceTime(b, d.reading.sourceTime)))) {
        this.keptBoundRuns++;
        continue;
      }
      prune.push({ index, run, records, decoded });
    }
    if (prune.length === 0) return undefined;

    // The archive: the window's proof material, then the readings.
    const segment = writer.segment;
    const pages = new Set<number>();
    for (const { run } of prune) for (let p = Math.floor(run.leafStart / LEAF_PAGE); p <= Math.floor((run.leafStart + run.count - 1) / LEAF_PAGE); p++) pages.add(p);
    const pageHex: Record<string, string> = {};
    for (const p of [...pages].sort((a, b) => a - b)) {
      const leaves = await this.store.leafPage(w, p);
      if (leaves === undefined) throw new Error(`window ${w} has no leaf page ${p}: the store is damaged`);
      pageHex[String(p)] = leaves.toString("hex");
    }
    const receipt = await this.store.anchorReceipt(w);
    const archived: ArchivedWindow = {
      window: w,
      root: record.root,
      prevRoot: record.prevRoot,
      fromTimeMs: record.fromTimeMs,
      toTimeMs: record.toTimeMs,
      leafCount: record.leafCount,
      ...(receipt ? { anchor: { ...(receipt.txHash ? { txHash: receipt.txHash } : {}), ...(receipt.blockNumber !== undefined ? { blockNumber: receipt.blockNumber } : {}), anchoredAt: receipt.anchoredAt } } : {}),
      pageRoots: Array.from({ length: pageRoots.length / 32 }, (_, i) => hex(pageRoots.subarray(i * 32, (i + 1) * 32))),
      pages: pageHex,
    };
    await writer.addWindow(archived);
    for (const { run, decoded } of prune) {
      for (let k = 0; k < decoded!.length; k++) {
        const d = decoded![k]!;
        if (d.seq !== run.firstSeq + k) throw new Error(`window ${w}: reading ${k} of ${run.stream} has seq ${d.seq}, expected ${run.firstSeq + k}: the store is damaged`);
        await writer.addReading(readingLine(d.reading, d.seq, w, run.leafStart + k, d.salt));
      }
    }

    // The store: the kept runs in one new chunk (a new part, so a proof reading the old locator
    // finds no chunk rather than another reading's bytes), the old chunks gone.
    const pruned = new Set(prune.map((p) => p.index));
    const kept = record.runs.map((run, index) => ({ run, index })).filter(({ run, index }) => run.archived === undefined && !pruned.has(index));
    const parts = [...chunks.keys()];
    const newPart = Math.max(record.parts - 1, ...parts) + 1;
    for (const part of parts) ops.push({ type: "del", key: keys.chunk(w, part) });
    const newLocator: LocatedSection[][] = record.runs.map(() => []);
    let rewritten = 0;
    if (kept.length > 0) {
      const sections: SectionInput[] = kept.map(({ run, index }) => {
        const records = recordsOf(index);
        return {
          stream: Buffer.from(run.stream, "utf8"),
          firstSeq: run.firstSeq,
          count: records.length,
          bytes: records.reduce((n, r) => n + 2 + r.length, 0),
          records: (put) => {
            for (const r of records) put(r, 0, r.length);
          },
        };
      });
      const arrivalMs = Math.min(...[...chunks.values()].map((c) => parseChunk(c).arrivalMs));
      const { value, offsets } = encodeChunk(arrivalMs, sections);
      ops.push({ type: "put", key: keys.chunk(w, newPart), value });
      kept.forEach(({ run, index }, i) => (newLocator[index] = [{ part: newPart, offset: offsets[i]!, count: run.count }]));
      rewritten = value.length;
    } else {
      // Nothing of the window is kept: its leaf hashes and their block roots go too (the archive
      // holds the pages its readings need; the page roots stay with the window record).
      for (let p = 0; p < Math.ceil(record.leafCount / LEAF_PAGE); p++) ops.push({ type: "del", key: keys.leafPage(w, p) }, { type: "del", key: keys.blockRoots(w, p) });
    }
    ops.push({ type: "put", key: keys.locator(w), value: encodeLocator(newLocator) });
    const runs = record.runs.map((run, index) => (pruned.has(index) ? { ...run, archived: segment } : run));
    ops.push({ type: "put", key: keys.window(w), value: Buffer.from(JSON.stringify({ ...record, parts: kept.length > 0 ? newPart + 1 : record.parts, runs })) });
    return rewritten;
  }
}
