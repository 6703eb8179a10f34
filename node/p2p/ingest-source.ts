/**
 * The fetch protocol's ReadingSource over the node's own reading store: readings come from the
 * ingest store's closed and anchored windows, each with the proof node/ingest/proofs.ts builds.
 *
 * A stream's run in a window is sent whole with one range proof when every reading of it is
 * asked for and fits the answer (fast to verify, and it proves nothing in between was left out);
 * otherwise the readings asked for go as consecutive parts of the run, each with a proof of just
 * its leaves (ProofService.provePart): a run larger than one answer is fetched in pages, and a
 * time-range grant never sees a reading outside its range. Readings bound to an event (`each`)
 * go one by one with their own proofs. Only anchored windows are served: a partner can check
 * nothing else.
 *
 * Finding the first window of a time range is a binary search over the stream's sequence numbers
 * (windows of a node follow each other in time), so its cost grows with the log of the history.
 */
import type { Reading } from "../../lib/reading.ts";
import type { ProofService, ProvenRange } from "../ingest/proofs.ts";
import type { IngestStore, WindowRecord } from "../ingest/store.ts";
import type { ReadingSource } from "./fetch-server.ts";
import type { ReadingItem, ReadingQuery, WindowSummary } from "./protocol.ts";

export interface IngestSourceOptions {
  /** How far a reading's source time may lie outside its window's node-clock range (config.ingest.clockToleranceMs). */
  clockToleranceMs: number;
  /** Most windows listed for one stream (the newest are kept). */
  maxWindows?: number;
  /**
   * Most windows one answer reads (default 64): each costs a proof build, so a long range of small
   * windows is answered in pages of bounded time rather than one answer that outlasts the timeout.
   */
  maxWindowsPerAnswer?: number;
}

export class IngestReadingSource implements ReadingSource {
  private readonly records = new Map<number, WindowRecord>();

  constructor(
    private readonly store: IngestStore,
    private readonly proofs: ProofService,
    private readonly options: IngestSourceOptions,
  ) {}

  /** A closed window's record (closed windows never change, so they are kept; a few hundred at most). */
  private async record(window: number): Promise<WindowRecord> {
    let r = this.records.get(window);
    if (r === undefined) {
      r = await this.store.window(window);
      if (r === undefined) throw new Error(`window ${window} is indexed but has no record: the store is damaged`);
      if (this.records.size >= 512) this.records.delete(this.records.keys().next().value!);
      this.records.set(window, r);
    }
    return r;
  }

  /**
   * The first seq of `stream` from `atLeast` on whose window may hold source times at or after
   * `from`. A page after the first usually starts in such a window already: one lookup then,
   * not a search over the whole history.
   */
  private async firstSeqFrom(stream: string, from: number, atLeast: number): Promise<number> {
    const tol = this.options.clockToleranceMs;
    const before = async (seq: number) => {
      const w = await this.store.windowOf(stream, seq);
      return w !== undefined && (await this.record(w)).toTimeMs + tol <= from;
    };
    let lo = atLeast;
    let hi = await this.store.nextSeq(stream); // exclusive
    if (lo >= hi || !(await before(lo))) return lo;
    lo++;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (await before(mid)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  async readings(q: ReadingQuery): Promise<{ items: ReadingItem[]; more: boolean }> {
    const tol = this.options.clockToleranceMs;
    const anchored = await this.store.lastAnchored();
    const startSeq = await this.firstSeqFrom(q.stream, q.from, q.afterSeq + 1);
    const items: ReadingItem[] = [];
    let remaining = q.limit;
    let windows = 0;
    const maxWindows = this.options.maxWindowsPerAnswer ?? 64;
    for await (const { window } of this.store.streamRuns(q.stream, startSeq)) {
      if (window > anchored) break;
      const record = await this.record(window);
      if (record.fromTimeMs - tol >= q.to) break;
      if (record.toTimeMs + tol <= q.from) continue;
      if (windows++ >= maxWindows) return { items, more: true };
      const inWindow = record.runs.find((r) => r.stream === q.stream);
      if (inWindow === undefined) continue;
      // The run is read part by part, each at most what the answer still takes.
      const end = inWindow.firstSeq + inWindow.count;
      for (let next = Math.max(inWindow.firstSeq, q.afterSeq + 1); next < end; ) {
        if (remaining <= 0) return { items, more: true };
        const run = await this.proofs.proveRun(q.stream, window, { fromSeq: next, count: Math.min(remaining, end - next) }, { leafHashes: false });
        if (run === undefined) break;
        next = run.proof.seqs.at(-1)! + 1;
        for (const item of await this.itemsOf(q, run)) {
          items.push(item);
          remaining -= item.kind === "run" ? item.readings.length : 1;
        }
      }
    }
    return { items, more: false };
  }

  /**
   * The readings of `run` that `q` asks for (its time range), as items: consecutive ones as proven
   * parts of the run, or, bound to an event (`each`), one by one with their own proofs.
   */
  private async itemsOf(q: ReadingQuery, run: ProvenRange): Promise<ReadingItem[]> {
    const wanted: number[] = [];
    run.readings.forEach((r: Reading, k) => {
      if (r.sourceTime >= q.from && r.sourceTime < q.to) wanted.push(k);
    });
    const tx = run.anchor?.txHash;
    const items: ReadingItem[] = [];
    if (q.each) {
      for (const k of wanted) {
        const one = await this.proofs.proveReading(q.stream, run.proof.seqs[k]!);
        if (one === undefined) throw new Error(`reading ${q.stream} #${run.proof.seqs[k]} is in window ${run.proof.window} but has no proof`);
        items.push({ kind: "one", reading: one.reading, proof: one.proof, ...(tx ? { tx } : {}) });
      }
      return items;
    }
    for (let i = 0; i < wanted.length; ) {
      let j = i + 1;
      while (j < wanted.length && wanted[j] === wanted[j - 1]! + 1) j++;
      const part = await this.proofs.provePart(run, wanted[i]!, wanted[j - 1]! + 1);
      items.push({ kind: "run", readings: part.readings, proof: part.proof, ...(tx ? { tx } : {}) });
      i = j;
    }
    return items;
  }

  async windows(stream: string): Promise<WindowSummary[]> {
    const anchored = await this.store.lastAnchored();
    const max = this.options.maxWindows ?? 10_000;
    const out: WindowSummary[] = [];
    for await (const { window } of this.store.streamRuns(stream, 1)) {
      if (window > anchored) break;
      const record = await this.record(window);
      const run = record.runs.find((r) => r.stream === stream);
      // An archived run (node/retention) is no longer served from the store.
      if (run === undefined || run.archived !== undefined) continue;
      const receipt = await this.store.anchorReceipt(window);
      out.push({
        node: this.proofs.node,
        sequence: window,
        fromTimeMs: record.fromTimeMs,
        toTimeMs: record.toTimeMs,
        count: run.count,
        ...(receipt?.txHash ? { tx: receipt.txHash } : {}),
      });
      if (out.length > max) out.shift();
    }
    return out;
  }

  async streams(): Promise<string[]> {
    return [...(await this.store.closedNextSeqs()).keys()];
  }
}
