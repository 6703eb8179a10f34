/**
 * Proofs of stored readings, and the audit that verifies the store against the chain.
 *
 * A proof is rebuilt from what the window close persisted (node/ingest/store.ts): the reading's
 * block of LEAF_BLOCK leaves, its page's block roots and the window's page roots give its path;
 * the locator finds its canonical bytes in a chunk (at most CHUNK_BYTES of records as the
 * pipeline writes them). Recently used windows (record, locator, top tree) and chunks are cached,
 * and a reading of a cached window's run is found without the stream index: a cold proof of such
 * a reading reads its chunk, leaf page, block roots and anchor receipt, nothing else. Readings
 * still in the open window have no proof yet.
 */
import { type DecodedReading, ReadingError, decodeReading } from "../../lib/canonical-reading.ts";
import { TracemeshError } from "../../lib/errors.ts";
import { MerkleTree, siblingsToHex } from "../../lib/merkle.ts";
import type { Reading } from "../../lib/reading.ts";
import {
  type AnchorView,
  PROOF_VERSION,
  type ReadingProof,
  type ReadingRangeProof,
  type VerifyFailureReason,
  type VerifyOptions,
  cachedAnchorView,
  verifyReading,
} from "../../lib/verify-reading.ts";
import {
  type AnchorReceipt,
  type IngestStore,
  LEAF_BLOCK,
  LEAF_PAGE,
  type LocatedSection,
  type StreamRun,
  type WindowRecord,
  parseChunk,
  recordAt,
  recordOffset,
  sectionRecords,
} from "./store.ts";

export interface ProvenReading {
  stream: string;
  seq: number;
  reading: Reading;
  proof: ReadingProof;
  /** The anchoring transaction, once the node saw it confirmed. */
  anchor?: AnchorReceipt;
}

export interface ProvenRange {
  stream: string;
  readings: Reading[];
  proof: ReadingRangeProof;
  anchor?: AnchorReceipt;
}

export interface AuditFailure {
  window: number;
  stream: string;
  seq: number;
  index: number;
  reason: VerifyFailureReason;
  detail: string;
}

export interface AuditReport {
  windows: number;
  readings: number;
  verified: number;
  /** Closed windows the chain does not hold yet (not failures: anchoring may be behind). */
  unanchored: number[];
  /** Closed windows the store lost before they were anchored, recorded on chain as lost (no reading of them is provable). */
  lost: number[];
  /** Readings of anchored windows moved to the archive (node/retention): audited there. */
  archived: number;
  failures: AuditFailure[];
}

/** What a window's proofs need besides leaf pages: its record, runs, locator and top tree. */
interface WindowInfo {
  record: WindowRecord;
  runs: Map<string, { run: StreamRun; located: LocatedSection[] }>;
  /** The tree over the window's page roots. */
  top: MerkleTree;
}

/**
 * Part of a closed window the reading store no longer holds (a damaged store, after repair): not a
 * fault of this process, and not final, so callers say so (503) rather than fail internally.
 */
function lostFromStore(what: string): TracemeshError {
  return new TracemeshError(
    "unavailable",
    `${what}: the node's reading store lost it (a damaged store); its operator can fetch it back from the partners that follow its streams (\`npm run node -- repair --config FILE --from-partners\`)`,
  );
}

const hex = (b: Uint8Array) => "0x" + Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

/** A small least-recently-used cache of promises (a failed load is forgotten). */
class Lru<K, V> {
  private readonly map = new Map<K, Promise<V>>();
  constructor(
    private readonly size: number,
    /** Told of each key that leaves the cache (evicted, deleted or failed). */
    private readonly onDrop?: (key: K) => void,
  ) {}
  /** The entry for `key` if present, without loading it or making it recent. */
  peek(key: K): Promise<V> | undefined {
    return this.map.get(key);
  }
  get(key: K, load: () => Promise<V>): Promise<V> {
    let v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
      return v;
    }
    v = load();
    v.catch(() => this.delete(key));
    this.map.set(key, v);
    while (this.map.size > this.size) this.delete(this.map.keys().next().value!);
    return v;
  }
  delete(key: K): void {
    if (this.map.delete(key)) this.onDrop?.(key);
  }
}

export class ProofService {
  private readonly windows: Lru<number, WindowInfo>;
  /**
   * The windows of `windows` once loaded: a proof of a reading whose run one of them holds skips
   * the stream index lookup (a LevelDB seek, the largest read left in a cold proof).
   */
  private readonly loaded = new Map<number, WindowInfo>();
  private readonly pages: Lru<string, MerkleTree>;
  /** Chunks hold one group commit of all streams: consecutive proofs of a window reuse them. */
  private readonly chunks: Lru<string, Buffer | undefined>;
  /** Whole-window trees for range proofs: the pages of one large window's answer all reuse one. */
  private readonly trees: Lru<number, MerkleTree>;

  constructor(
    private readonly store: IngestStore,
    /** The node's signing account, as anchored. */
    readonly node: string,
    cache: { windows?: number; pages?: number; chunks?: number } = {},
  ) {
    this.windows = new Lru(cache.windows ?? 64, (w) => this.loaded.delete(w));
    this.pages = new Lru(cache.pages ?? 64);
    this.chunks = new Lru(cache.chunks ?? 16);
    this.trees = new Lru(cache.windows ?? 64);
  }

  /** Windows forgotten so far: a proof that raced a rewrite (its chunks gone under it) is built again. */
  private rewrites = 0;

  /** Runs `build` again once when a window was rewritten while it ran (node/retention prunes online). */
  private async retryOnRewrite<T>(build: () => Promise<T>): Promise<T> {
    const before = this.rewrites;
    try {
      return await build();
    } catch (e) {
      if (this.rewrites === before) throw e;
      return build();
    }
  }

  /** Forgets what is cached of `window`: retention (node/retention) rewrote its chunks and locator. */
  forget(window: number): void {
    this.rewrites++;
    this.windows.delete(window);
    this.loaded.delete(window);
    this.trees.delete(window);
  }

  /** The tree over every leaf of closed window `window` (kept: closed windows never change). */
  private tree(window: number): Promise<MerkleTree> {
    return this.trees.get(window, async () => {
      const leaves = await this.store.leaves(window);
      if (leaves === undefined) throw lostFromStore(`window ${window} has no leaves`);
      return MerkleTree.fromLeafHashes(leaves);
    });
  }

  private chunk(window: number, part: number): Promise<Buffer | undefined> {
    return this.chunks.get(`${window}:${part}`, () => this.store.chunk(window, part));
  }

  private info(window: number): Promise<WindowInfo> {
    return this.windows.get(window, async () => {
      const rewrites = this.rewrites;
      const closed = await this.store.closedWindow(window);
      if (closed === undefined) throw new Error(`window ${window} is not closed`);
      const { record, locator, pageRoots: roots } = closed;
      const runs = new Map(record.runs.map((run, i) => [run.stream, { run, located: locator[i] ?? [] }]));
      const info = { record, runs, top: MerkleTree.fromLeafHashes(roots) };
      // Not when a rewrite came during the load (what was read may be from before it).
      if (this.rewrites === rewrites && this.windows.peek(window) !== undefined) this.loaded.set(window, info);
      return info;
    });
  }

  /** The closed window holding (stream, seq): a loaded window's runs, else the store's stream index. */
  private async windowOf(stream: string, seq: number): Promise<number | undefined> {
    for (const [w, info] of this.loaded) {
      const run = info.runs.get(stream)?.run;
      if (run !== undefined && seq >= run.firstSeq && seq < run.firstSeq + run.count) return w;
    }
    return this.store.windowOf(stream, seq);
  }

  /**
   * Leaf hash and siblings of leaf `index`: from a page already built, its page's path; otherwise
   * its block's path and the path over the page's block roots (a cold proof hashes about 60 nodes,
   * not a whole page); then the top tree's.
   */
  private async path(info: WindowInfo, index: number): Promise<{ leaf: Buffer; siblings: Buffer[]; anchor?: AnchorReceipt }> {
    const w = info.record.sequence;
    const p = Math.floor(index / LEAF_PAGE);
    const i = index % LEAF_PAGE;
    const top = info.top.proof(p).siblings as Buffer[];
    const built = this.pages.peek(`${w}:${p}`);
    if (built !== undefined) {
      const [page, anchor] = await Promise.all([built, this.store.anchorReceipt(w)]);
      return { leaf: page.leaf(i), siblings: [...(page.proof(i).siblings as Buffer[]), ...top], anchor };
    }
    const { blockRoots: roots, leafPage: leaves, anchor } = await this.store.proofReads(w, p);
    if (leaves === undefined) throw lostFromStore(`window ${w} has no leaf page ${p}`);
    if (roots === undefined) {
      const page = await this.pages.get(`${w}:${p}`, async () => MerkleTree.fromLeafHashes(leaves));
      return { leaf: page.leaf(i), siblings: [...(page.proof(i).siblings as Buffer[]), ...top], anchor };
    }
    const b = Math.floor(i / LEAF_BLOCK);
    const block = MerkleTree.fromLeafHashes(leaves.subarray(b * LEAF_BLOCK * 32, Math.min(leaves.length, (b + 1) * LEAF_BLOCK * 32)));
    const blocks = MerkleTree.fromLeafHashes(roots);
    // Both roots are computed anyway: a damaged block index or leaf page is refused here, not
    // served as a proof that fails at the verifier.
    if (!blocks.root.equals(info.top.leaf(p)) || b >= blocks.leafCount || !block.root.equals(blocks.leaf(b))) {
      throw new Error(`window ${w} leaf page ${p}: its block roots do not match its leaves and the window's page root: the reading store is damaged (run the node's repair)`);
    }
    const j = i % LEAF_BLOCK;
    return { leaf: block.leaf(j), siblings: [...(block.proof(j).siblings as Buffer[]), ...(blocks.proof(b).siblings as Buffer[]), ...top], anchor };
  }

  private async bytesOf(info: WindowInfo, located: readonly LocatedSection[], firstSeq: number, seq: number): Promise<Buffer> {
    let from = firstSeq;
    for (const s of located) {
      if (seq < from + s.count) {
        const value = await this.chunk(info.record.sequence, s.part);
        if (value === undefined) break;
        return Buffer.from(recordAt(value, s.offset, seq - from));
      }
      from += s.count;
    }
    throw lostFromStore(`window ${info.record.sequence} has no stored bytes for seq ${seq}`);
  }

  private proofOf(window: number, leafCount: number, index: number, seq: number, salt: Buffer, path: { leaf: Buffer; siblings: Buffer[] }): ReadingProof {
    return {
      version: PROOF_VERSION,
      node: this.node,
      window,
      seq,
      salt: hex(salt),
      leafHash: hex(path.leaf),
      index,
      leafCount,
      siblings: siblingsToHex(path.siblings),
    };
  }

  /**
   * The reading (stream, seq) with its proof; undefined when the node holds no such reading in a
   * closed window. Throws when the stored bytes no longer decode (a damaged or altered store).
   */
  async proveReading(stream: string, seq: number): Promise<ProvenReading | undefined> {
    return this.retryOnRewrite(() => this.proveReadingOnce(stream, seq));
  }

  private async proveReadingOnce(stream: string, seq: number): Promise<ProvenReading | undefined> {
    if (!Number.isSafeInteger(seq) || seq < 1) return undefined; // no reading has such a sequence number
    const window = await this.windowOf(stream, seq);
    if (window === undefined) return undefined;
    const info = await this.info(window);
    const entry = info.runs.get(stream);
    // An archived run's readings are in the archive (node/retention/archive.ts), proved from there.
    if (entry === undefined || entry.run.archived !== undefined || seq < entry.run.firstSeq || seq >= entry.run.firstSeq + entry.run.count) return undefined;
    const index = entry.run.leafStart + (seq - entry.run.firstSeq);
    const [bytes, { anchor, ...path }] = await Promise.all([this.bytesOf(info, entry.located, entry.run.firstSeq, seq), this.path(info, index)]);
    const decoded = decodeReading(bytes);
    const proof = this.proofOf(window, info.record.leafCount, index, seq, decoded.salt, path);
    return { stream, seq, reading: decoded.reading, proof, ...(anchor ? { anchor } : {}) };
  }

  /**
   * Closed windows whose node-clock range overlaps [fromMs, toMs), widened by `marginMs` on each
   * side (source times sit slightly outside the window that received them). Windows follow each
   * other in time, so this is a binary search plus the answer.
   */
  async windowsBetween(fromMs: number, toMs: number, marginMs = 0): Promise<number[]> {
    const last = (await this.store.head()).lastClosed;
    const lo = fromMs - marginMs;
    const hi = toMs + marginMs;
    let a = 1;
    let b = last + 1;
    while (a < b) {
      const mid = (a + b) >> 1;
      const w = await this.store.window(mid);
      if (w !== undefined && w.toTimeMs <= lo) a = mid + 1;
      else b = mid;
    }
    const out: number[] = [];
    for (let w = a; w <= last; w++) {
      const rec = await this.store.window(w);
      if (rec === undefined || rec.fromTimeMs >= hi) break;
      out.push(w);
    }
    return out;
  }

  /**
   * All readings of `stream` in `window`, with one range proof (which also proves completeness);
   * or, with `part`, only the run's readings from seq `fromSeq` on, at most `count` of them, with
   * a proof of just those (only they are read and decoded: a large run is served page by page).
   * With `leafHashes: false` the proof leaves out the committed leaf hashes (a verifier recomputes
   * them; the peer wire does not carry them).
   */
  async proveRun(stream: string, window: number, part?: { fromSeq: number; count: number }, options: { leafHashes?: boolean } = {}): Promise<ProvenRange | undefined> {
    return this.retryOnRewrite(() => this.proveRunOnce(stream, window, part, options));
  }

  private async proveRunOnce(stream: string, window: number, part?: { fromSeq: number; count: number }, options: { leafHashes?: boolean } = {}): Promise<ProvenRange | undefined> {
    if (!Number.isInteger(window) || window < 1 || window > (await this.store.head()).lastClosed) return undefined;
    const info = await this.info(window);
    const entry = info.runs.get(stream);
    if (entry === undefined || entry.run.archived !== undefined) return undefined;
    const { run, located } = entry;
    const first = part ? Math.max(part.fromSeq, run.firstSeq) : run.firstSeq;
    const last = part ? Math.min(first + part.count, run.firstSeq + run.count) : run.firstSeq + run.count; // exclusive
    if (!(first < last)) return undefined;
    const readings: Reading[] = [];
    const seqs: number[] = [];
    const salts: string[] = [];
    let seq = run.firstSeq;
    for (const s of located) {
      if (seq + s.count <= first) {
        seq += s.count;
        continue;
      }
      if (seq >= last) break;
      const value = await this.chunk(window, s.part);
      if (value === undefined) throw lostFromStore(`window ${window} chunk ${s.part} is missing`);
      // Records are length-prefixed: walk them in order (finding each from the section's start
      // made a page of a large section quadratic).
      const skip = Math.max(0, first - seq);
      let o = skip === 0 ? s.offset : recordOffset(value, s.offset, skip);
      for (let k = skip; k < s.count && seq + k < last; k++) {
        const len = value.readUInt16BE(o);
        const d = decodeReading(value.subarray(o + 2, o + 2 + len));
        o += 2 + len;
        readings.push(d.reading);
        seqs.push(seq + k);
        salts.push(hex(d.salt));
      }
      seq += s.count;
    }
    const tree = await this.tree(window);
    const start = run.leafStart + (first - run.firstSeq);
    const end = start + (last - first);
    const leafHashes = options.leafHashes === false ? undefined : Array.from({ length: end - start }, (_, k) => hex(tree.leaf(start + k)));
    const anchor = await this.store.anchorReceipt(window);
    return {
      stream,
      readings,
      proof: {
        version: PROOF_VERSION,
        node: this.node,
        window,
        seqs,
        salts,
        ...(leafHashes ? { leafHashes } : {}),
        start,
        end,
        leafCount: tree.leafCount,
        siblings: siblingsToHex(tree.rangeProof(start, end).siblings),
      },
      ...(anchor ? { anchor } : {}),
    };
  }

  /**
   * Readings `from` (inclusive) to `to` (exclusive) of a proven run, positions within the run,
   * with a proof of just those leaves: a run larger than one answer goes out in such pages, each
   * verified on its own, and consecutive pages prove nothing in between was left out.
   */
  async provePart(run: ProvenRange, from: number, to: number): Promise<ProvenRange> {
    const n = run.readings.length;
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > n || from >= to) throw new RangeError(`part [${from}, ${to}) is not within a run of ${n} readings`);
    if (from === 0 && to === n) return run;
    const tree = await this.tree(run.proof.window);
    const start = run.proof.start + from;
    const end = run.proof.start + to;
    return {
      stream: run.stream,
      readings: run.readings.slice(from, to),
      proof: {
        ...run.proof,
        seqs: run.proof.seqs.slice(from, to),
        salts: run.proof.salts.slice(from, to),
        ...(run.proof.leafHashes ? { leafHashes: run.proof.leafHashes.slice(from, to) } : {}),
        start,
        end,
        siblings: siblingsToHex(tree.rangeProof(start, end).siblings),
      },
      ...(run.anchor ? { anchor: run.anchor } : {}),
    };
  }

  /**
   * Verifies every stored reading of closed windows `from`..`to` against the chain with
   * lib/verify-reading.ts, naming each reading that fails and why.
   */
  async audit(view: AnchorView, options: { from?: number; to?: number; verify?: VerifyOptions; maxFailures?: number } = {}): Promise<AuditReport> {
    const head = await this.store.head();
    const from = Math.max(1, options.from ?? 1);
    const to = Math.min(head.lastClosed, options.to ?? head.lastClosed);
    const maxFailures = options.maxFailures ?? 1000;
    const chain = cachedAnchorView(view);
    const report: AuditReport = { windows: 0, readings: 0, verified: 0, unanchored: [], lost: [], archived: 0, failures: [] };
    const lostRuns = await this.store.lostRuns();
    for (let w = from; w <= to; w++) {
      // A run the node says it lost counts as lost only where the chain records it so (a leafless anchor at its end).
      const lostRun = lostRuns.find((r) => w >= r.fromSequence && w <= r.toSequence);
      if (lostRun && Number((await chain.getAnchor(this.node, BigInt(lostRun.toSequence)))?.leafCount ?? -1) === 0) {
        report.lost.push(w);
        continue;
      }
      if ((await chain.getAnchor(this.node, BigInt(w))) === undefined) {
        report.unanchored.push(w);
        continue;
      }
      report.windows++;
      const info = await this.info(w);
      for (const run of info.record.runs) if (run.archived !== undefined) report.archived += run.count;
      const leaves = await this.store.leaves(w);
      const tree = leaves && MerkleTree.fromLeafHashes(leaves);
      for await (const { value } of this.store.chunks(w)) {
        for (const section of parseChunk(value).sections) {
          const run = info.runs.get(section.stream)?.run;
          const records = sectionRecords(value, section);
          report.readings += records.length;
          for (let k = 0; k < records.length; k++) {
            const seq = section.firstSeq + k;
            const index = run ? run.leafStart + (seq - run.firstSeq) : -1;
            const failure = (reason: VerifyFailureReason, detail: string) => {
              if (report.failures.length < maxFailures) report.failures.push({ window: w, stream: section.stream, seq, index, reason, detail });
            };
            if (tree === undefined || run === undefined || index < run.leafStart || index >= run.leafStart + run.count) {
              failure("proof-invalid", "the window record has no leaf for this reading");
              continue;
            }
            let decoded: DecodedReading;
            try {
              decoded = decodeReading(records[k]!);
            } catch (e) {
              if (!(e instanceof ReadingError)) throw e;
              failure("reading-altered", `the stored bytes no longer decode: ${e.message}`);
              continue;
            }
            const path = { leaf: tree.leaf(index), siblings: tree.proof(index).siblings as Buffer[] };
            const proof = this.proofOf(w, info.record.leafCount, index, seq, decoded.salt, path);
            const result = await verifyReading(decoded.reading, proof, chain, options.verify);
            if (result.ok) report.verified++;
            else failure(result.reason, result.detail);
          }
        }
      }
    }
    return report;
  }
}
