/**
 * The node's reading store in LevelDB: the layout, and reads and writes that keep it consistent.
 *
 * Keys (one-byte prefix, integers big-endian so keys sort numerically):
 *   c | window u64 | part u32        chunk: readings of one group commit, grouped by stream (a
 *                                    commit of more than CHUNK_BYTES of records spans several)
 *   w | window u64                   window record (JSON): time range, root, prevRoot, stream runs
 *   l | window u64 | page u32        the window's leaf hashes in tree order, 32 bytes each, in
 *                                    pages of LEAF_PAGE (the last page may be shorter)
 *   t | window u64                   the roots of the window's leaf pages, concatenated
 *   k | window u64 | page u32        the roots of the page's blocks of LEAF_BLOCK leaves, concatenated
 *                                    (format 2: a single reading's proof hashes one block and the
 *                                    block roots, about 60 hashes, not its whole page's 1,023)
 *   x | window u64                   locator: per stream run, the chunk sections holding it
 *   s | len u8 | stream | seq u64    stream index: the window holding the stream's run from seq
 *   n | len u8 | stream              the stream's next sequence number after its last closed window
 *   a | window u64                   anchor receipt (JSON): transaction, block, anchoredAt
 *   m | name                         metadata (JSON): "format", "head", "anchored", "recovery" (the
 *                                    last re-anchoring after the chain lost anchors), "retention"
 *                                    (node/retention: segments archived, where pruning stands),
 *                                    "lost" (runs of windows lost before they were anchored)
 *
 * Leaf pages: LEAF_PAGE is a power of two, so every full page is a complete subtree of the
 * window's tree (RFC 6962 splits at powers of two) and the tree over the page roots is the top of
 * the window's tree. A reading's proof needs one page and the page roots, not the whole window.
 * The same holds one level down for blocks of LEAF_BLOCK leaves within a page (RFC 6962 splits at
 * the largest power of two below the count, which for more than LEAF_BLOCK leaves is a whole
 * number of blocks), so a page's root is the root over its block roots.
 *
 * Formats: 1 had no block roots; opening a format-1 store computes them for every closed window
 * once, says so in the log, and marks the store format 2.
 *
 * Locator (binary): for each run of the window record, in order: u32 sections, then per section
 * u32 part | u32 offset (of its first record in the chunk) | u32 count.
 *
 * Chunk keys grow monotonically (window, then part), so the bulk of the data is appended in key
 * order and LevelDB moves its files down the levels instead of rewriting them.
 *
 * Chunk value (format 1):
 *   u8 format = 1 | u64 arrivalMs | u32 sections
 *   per section: u8 len | stream | u64 firstSeq | u32 count | u32 bytes | count x (u16 len | canonical bytes)
 *
 * The open window (last closed + 1) exists only as its chunks; closing it writes its window
 * record, leaf hashes, stream index entries, the streams' next sequence numbers and the head in
 * one atomic batch, so after a crash the store is either before or after the close, and the open
 * window is rebuilt from its chunks.
 */
import { mkdirSync } from "node:fs";
import { Level } from "level";
import { merkleRoot } from "../../lib/merkle.ts";

export const STORE_FORMAT = 2;
/** Leaves per stored page (a power of two). */
export const LEAF_PAGE = 1024;
/** Leaves per block within a page, whose roots are stored (a power of two dividing LEAF_PAGE). */
export const LEAF_BLOCK = 32;
export const CHUNK_FORMAT = 1;
/**
 * Most bytes of records the pipeline puts in one chunk: a group commit larger than this is
 * stored as several chunks. A single reading's proof reads its whole chunk (LevelDB reads values
 * whole), so this bounds what a cold proof reads.
 */
export const CHUNK_BYTES = 4 * 1024;

export type Key = Buffer;
export type Op = { type: "put"; key: Key; value: Buffer } | { type: "del"; key: Key };

/** One stream's contiguous run of readings within a window, in tree order. */
export interface StreamRun {
  stream: string;
  firstSeq: number;
  count: number;
  /** Index of the run's first leaf in the window's tree. */
  leafStart: number;
  /**
   * The archive segment the run's readings were moved to (node/retention): its chunk sections
   * and locator entries are gone, its leaves and stream index entry stay.
   */
  archived?: number;
}

export interface WindowRecord {
  sequence: number;
  fromTimeMs: number;
  toTimeMs: number;
  leafCount: number;
  /** 0x-prefixed hex. */
  root: string;
  prevRoot: string;
  /** Number of chunks (parts 0 .. parts-1) holding the window's readings. */
  parts: number;
  closedAt: number;
  runs: StreamRun[];
}

export interface Head {
  lastClosed: number;
  lastRoot: string;
  lastToTimeMs: number;
  readingsClosed: number;
}

export interface AnchorReceipt {
  sequence: number;
  txHash?: string;
  blockNumber?: number;
  /** Block timestamp, Unix seconds. */
  anchoredAt: number;
  /** The window was lost from the store before it was anchored; the chain records it as lost (node/chain/anchorer.ts). */
  lost?: true;
}

/** The chain lost anchors this store had seen confirmed: what was lost, and the re-anchoring. */
export interface AnchorRecovery {
  /** When the loss was found, Unix ms. */
  detectedAt: number;
  /** The last window the chain still held. */
  chainLast: number;
  /** The last window seen confirmed before; chainLast + 1 .. this are anchored again. */
  lostUpTo: number;
  /** When the last lost window was anchored again, Unix ms. */
  reanchoredAt?: number;
}

/** Windows lost from the store before they were anchored, recorded on chain as lost. */
export interface LostRun {
  fromSequence: number;
  toSequence: number;
  /** When the node found them missing, Unix ms. */
  detectedAt: number;
  txHash?: string;
}

export interface FormatRecord {
  version: number;
  /** The signing account whose anchor chain this store feeds (lower case), once known. */
  node?: string;
  createdAt: number;
}

export const ZERO_ROOT = "0x" + "00".repeat(32);

const u64 = (v: number): Buffer => {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32BE(Math.floor(v / 0x1_0000_0000), 0);
  b.writeUInt32BE(v >>> 0, 4);
  return b;
};
export const readU64 = (b: Uint8Array, o: number): number => {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return view.getUint32(o) * 0x1_0000_0000 + view.getUint32(o + 4);
};
const prefixed = (p: string, ...parts: Buffer[]) => Buffer.concat([Buffer.from(p, "latin1"), ...parts]);
const streamPart = (stream: string | Buffer) => {
  const bytes = typeof stream === "string" ? Buffer.from(stream, "utf8") : stream;
  return Buffer.concat([Buffer.of(bytes.length), bytes]);
};

export const keys = {
  chunk: (window: number, part: number) => {
    const k = Buffer.allocUnsafe(13);
    k[0] = 0x63; // c
    k.writeUInt32BE(Math.floor(window / 0x1_0000_0000), 1);
    k.writeUInt32BE(window >>> 0, 5);
    k.writeUInt32BE(part, 9);
    return k;
  },
  window: (window: number) => prefixed("w", u64(window)),
  leafPage: (window: number, page: number) => {
    const k = prefixed("l", u64(window), Buffer.alloc(4));
    k.writeUInt32BE(page, 9);
    return k;
  },
  pageRoots: (window: number) => prefixed("t", u64(window)),
  blockRoots: (window: number, page: number) => {
    const k = prefixed("k", u64(window), Buffer.alloc(4));
    k.writeUInt32BE(page, 9);
    return k;
  },
  locator: (window: number) => prefixed("x", u64(window)),
  streamIndex: (stream: string | Buffer, seq: number) => prefixed("s", streamPart(stream), u64(seq)),
  nextSeq: (stream: string | Buffer) => prefixed("n", streamPart(stream)),
  anchor: (window: number) => prefixed("a", u64(window)),
  meta: (name: "format" | "head" | "anchored" | "recovery" | "retention" | "lost") => prefixed("m", Buffer.from(name, "latin1")),
};

const json = (v: unknown) => Buffer.from(JSON.stringify(v), "utf8");
const parse = <T>(b: Buffer | undefined): T | undefined => (b === undefined ? undefined : (JSON.parse(b.toString("utf8")) as T));

/** One section of a chunk: a stream's consecutive readings from one group commit. */
export interface ChunkSection {
  stream: string;
  firstSeq: number;
  count: number;
  /** Offset of the section's first record (its u16 length) within the chunk value. */
  offset: number;
  bytes: number;
}

export interface ParsedChunk {
  arrivalMs: number;
  sections: ChunkSection[];
}

/** Reads a chunk's header and section table (records are left in place). */
export function parseChunk(value: Buffer): ParsedChunk {
  if (value[0] !== CHUNK_FORMAT) throw new Error(`unknown chunk format ${value[0]}`);
  const arrivalMs = readU64(value, 1);
  const n = value.readUInt32BE(9);
  const sections: ChunkSection[] = [];
  let o = 13;
  for (let i = 0; i < n; i++) {
    const len = value[o]!;
    const stream = value.toString("utf8", o + 1, o + 1 + len);
    o += 1 + len;
    const firstSeq = readU64(value, o);
    const count = value.readUInt32BE(o + 8);
    const bytes = value.readUInt32BE(o + 12);
    o += 16;
    sections.push({ stream, firstSeq, count, offset: o, bytes });
    o += bytes;
  }
  if (o !== value.length) throw new Error(`chunk is ${value.length} bytes, its sections end at ${o}`);
  return { arrivalMs, sections };
}

/** A section to write into a chunk: `count` records of one stream from `firstSeq`, `bytes` long in all (2 + length each). */
export interface SectionInput {
  stream: Buffer;
  firstSeq: number;
  count: number;
  bytes: number;
  /** Hands each record, in sequence order, to `put` (as a range of a buffer, so nothing is copied twice). */
  records(put: (src: Buffer, start: number, end: number) => void): void;
}

/** A chunk value (format 1) from its sections, and where each section's first record landed. */
export function encodeChunk(arrivalMs: number, sections: readonly SectionInput[]): { value: Buffer; offsets: number[] } {
  let size = 13;
  for (const s of sections) size += 1 + s.stream.length + 16 + s.bytes;
  const out = Buffer.allocUnsafe(size);
  out[0] = CHUNK_FORMAT;
  out.writeUInt32BE(Math.floor(arrivalMs / 0x1_0000_0000), 1);
  out.writeUInt32BE(arrivalMs >>> 0, 5);
  out.writeUInt32BE(sections.length, 9);
  let o = 13;
  const offsets: number[] = [];
  for (const s of sections) {
    out[o++] = s.stream.length;
    s.stream.copy(out, o);
    o += s.stream.length;
    out.writeUInt32BE(Math.floor(s.firstSeq / 0x1_0000_0000), o);
    out.writeUInt32BE(s.firstSeq >>> 0, o + 4);
    out.writeUInt32BE(s.count, o + 8);
    out.writeUInt32BE(s.bytes, o + 12);
    o += 16;
    offsets.push(o);
    s.records((src, start, end) => {
      out.writeUInt16BE(end - start, o);
      src.copy(out, o + 2, start, end);
      o += 2 + end - start;
    });
  }
  if (o !== size) throw new Error(`chunk sections declared ${size} bytes, wrote ${o}`);
  return { value: out, offsets };
}

/** What closing a window writes (StoreBatch.closeWindow). */
export interface WindowClose {
  record: WindowRecord;
  /** The window's leaf hashes in tree order, in pages of LEAF_PAGE leaves. */
  leafPages: Buffer[];
  /** The roots of those pages, concatenated. */
  pageRoots: Buffer;
  /** Per page, the roots of its blocks of LEAF_BLOCK leaves, concatenated (`pageBlockRoots`). */
  blockRoots: Buffer[];
  /** Per run of the record (same order), the chunk sections holding it. */
  locator: readonly (readonly LocatedSection[])[];
  /** The head after the close. */
  head: Head;
}

/**
 * The writes of one group commit (chunks of the open window, window closes), in the store's
 * layout; `IngestStore.commit` writes them in one atomic batch.
 */
export class StoreBatch {
  readonly ops: Op[] = [];

  putChunk(window: number, part: number, value: Buffer): void {
    this.ops.push({ type: "put", key: keys.chunk(window, part), value });
  }

  /** The window's record, leaves, locator, stream index, the streams' next sequence numbers and the head. */
  closeWindow(c: WindowClose): void {
    const w = c.record.sequence;
    for (const run of c.record.runs) {
      const stream = Buffer.from(run.stream, "utf8");
      this.ops.push({ type: "put", key: keys.streamIndex(stream, run.firstSeq), value: u64(w) });
      this.ops.push({ type: "put", key: keys.nextSeq(stream), value: u64(run.firstSeq + run.count) });
    }
    c.leafPages.forEach((page, p) => this.ops.push({ type: "put", key: keys.leafPage(w, p), value: page }));
    c.blockRoots.forEach((roots, p) => this.ops.push({ type: "put", key: keys.blockRoots(w, p), value: roots }));
    this.ops.push({ type: "put", key: keys.window(w), value: json(c.record) });
    this.ops.push({ type: "put", key: keys.pageRoots(w), value: c.pageRoots });
    this.ops.push({ type: "put", key: keys.locator(w), value: encodeLocator(c.locator) });
    this.ops.push({ type: "put", key: keys.meta("head"), value: json(c.head) });
  }
}

/** The canonical byte records of a section, in sequence order (views into the chunk). */
export function sectionRecords(value: Buffer, section: ChunkSection): Buffer[] {
  const out: Buffer[] = [];
  let o = section.offset;
  const end = section.offset + section.bytes;
  while (o < end) {
    const len = value.readUInt16BE(o);
    out.push(value.subarray(o + 2, o + 2 + len));
    o += 2 + len;
  }
  if (out.length !== section.count || o !== end) throw new Error(`chunk section of ${section.stream} is malformed`);
  return out;
}


export class IngestStore {
  /** Set by close(): the store is not reopened after that. */
  private closed = false;

  private constructor(readonly db: Level<Buffer, Buffer>, readonly location: string) {}

  /**
   * Opens (creating) the store in `dir`. LevelDB's lock keeps a second process out. A format-1
   * store gets its block roots built once (told to `log`).
   */
  static async open(dir: string, options: { log?: (message: string) => void } = {}): Promise<IngestStore> {
    mkdirSync(dir, { recursive: true });
    const db = new Level<Buffer, Buffer>(dir, {
      keyEncoding: "buffer",
      valueEncoding: "buffer",
      // Larger memtables than the 4 MB default: fewer level-0 files under a sustained stream of
      // chunks, at a bounded cost in memory (one memtable and one being flushed).
      writeBufferSize: 16 * 1024 * 1024,
      maxFileSize: 16 * 1024 * 1024,
      // A get reads (and checksums, and decompresses) the whole block holding its value: blocks
      // of a leaf page (32 KB) or two chunks keep a cold proof's reads small (64 KB blocks: about
      // 25 % more CPU a proof; 16 KB: 5 % more bytes on disk, as each block compresses alone).
      // Each open table keeps its index in memory (an entry per block); the cap on open tables
      // keeps that flat as the data grows.
      blockSize: 2 * CHUNK_BYTES,
      maxOpenFiles: 256,
    });
    try {
      await db.open();
    } catch (e) {
      const cause = (e as { cause?: Error }).cause;
      const detail = cause?.message ?? (e as Error).message;
      throw new Error(`cannot open the reading store ${dir}: ${detail}${/lock/i.test(detail) ? " (is another node process using this data directory?)" : ""}`, { cause: e });
    }
    const store = new IngestStore(db, dir);
    let format: FormatRecord | undefined;
    try {
      format = await store.format();
    } catch (e) {
      await db.close(); // a damaged store must not stay locked by the process that refused it
      throw e;
    }
    if (format === undefined) {
      await db.put(keys.meta("format"), json({ version: STORE_FORMAT, createdAt: Date.now() } satisfies FormatRecord), { sync: true });
    } else if (format.version === 1) {
      await store.addBlockRoots(format, options.log ?? (() => {}));
    } else if (format.version !== STORE_FORMAT) {
      await db.close();
      throw new Error(`the reading store ${dir} has format ${format.version}; this node reads format ${STORE_FORMAT}`);
    }
    return store;
  }

  /** Format 1 to 2: the block roots of every closed window's leaf pages, then the new format (one batch per window). */
  private async addBlockRoots(format: FormatRecord, log: (message: string) => void): Promise<void> {
    const { lastClosed } = await this.head();
    log(`reading store ${this.location}: building the block index of ${lastClosed} closed windows once (store format 1 to 2: single-reading proofs read a block, not a whole leaf page)`);
    const started = Date.now();
    for (let w = 1; w <= lastClosed; w++) {
      const ops: Op[] = [];
      let p = 0;
      for await (const page of this.db.values({ gte: keys.leafPage(w, 0), lt: keys.leafPage(w + 1, 0) })) ops.push({ type: "put", key: keys.blockRoots(w, p++), value: pageBlockRoots(page) });
      if (ops.length > 0) await this.db.batch(ops);
    }
    await this.db.put(keys.meta("format"), json({ ...format, version: STORE_FORMAT }), { sync: true });
    log(`reading store ${this.location}: block index built in ${Date.now() - started} ms`);
  }

  /**
   * Writes the block roots of each leaf page of window `sequence` that lacks them or holds others
   * (repair: they derive from the leaves, which the caller checked against the window's root);
   * returns how many pages got them.
   */
  async restoreBlockRoots(sequence: number): Promise<number> {
    const ops: Op[] = [];
    for await (const [key, page] of this.db.iterator({ gte: keys.leafPage(sequence, 0), lt: keys.leafPage(sequence + 1, 0) })) {
      const p = key.readUInt32BE(9);
      const roots = pageBlockRoots(page);
      if (!(await this.blockRoots(sequence, p))?.equals(roots)) ops.push({ type: "put", key: keys.blockRoots(sequence, p), value: roots });
    }
    if (ops.length > 0) await this.write(ops);
    return ops.length;
  }

  async write(ops: Op[]): Promise<void> {
    await this.db.batch(ops, { sync: true });
  }

  /** Writes a group commit's batch atomically (synced). */
  async commit(batch: StoreBatch): Promise<void> {
    await this.write(batch.ops);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.db.status === "open" || this.db.status === "opening") await this.db.close();
  }

  /**
   * Closes and opens LevelDB again, after a write failed (a full disk, an I/O error): LevelDB
   * refuses every later write once a log sync or a compaction failed, until it is reopened, which
   * also drops a torn last log record. Readers see the store closed for that moment.
   */
  async reopen(): Promise<void> {
    if (this.closed) throw new Error(`the reading store ${this.location} is closed`);
    if (this.db.status === "open") await this.db.close();
    await this.db.open();
  }

  private async getRaw(key: Key): Promise<Buffer | undefined> {
    return (await this.db.get(key)) as Buffer | undefined;
  }

  async format(): Promise<FormatRecord | undefined> {
    return parse<FormatRecord>(await this.getRaw(keys.meta("format")));
  }

  /**
   * Binds the store to the node's signing account on first use, and refuses another account
   * later: the store's windows are numbered in that account's anchor chain.
   */
  async bindNode(address: string): Promise<void> {
    const format = (await this.format())!;
    const node = address.toLowerCase();
    if (format.node === undefined) {
      await this.db.put(keys.meta("format"), json({ ...format, node }), { sync: true });
    } else if (format.node !== node) {
      throw new Error(
        `the data directory ${this.location} holds the windows of node ${format.node}, not of ${node}: ` +
          "use the key it was created with, or a new data directory for a new key",
      );
    }
  }

  async head(): Promise<Head> {
    return parse<Head>(await this.getRaw(keys.meta("head"))) ?? { lastClosed: 0, lastRoot: ZERO_ROOT, lastToTimeMs: 0, readingsClosed: 0 };
  }

  async lastAnchored(): Promise<number> {
    return parse<{ lastAnchored: number }>(await this.getRaw(keys.meta("anchored")))?.lastAnchored ?? 0;
  }

  async window(sequence: number): Promise<WindowRecord | undefined> {
    return parse<WindowRecord>(await this.getRaw(keys.window(sequence)));
  }

  /** One page of a window's leaf hashes. */
  async leafPage(sequence: number, page: number): Promise<Buffer | undefined> {
    return this.getRaw(keys.leafPage(sequence, page));
  }

  /** All of a window's leaf hashes, concatenated in tree order. */
  async leaves(sequence: number): Promise<Buffer | undefined> {
    const pages: Buffer[] = [];
    for await (const value of this.db.values({ gte: keys.leafPage(sequence, 0), lt: keys.leafPage(sequence + 1, 0) })) pages.push(value);
    return pages.length === 0 ? undefined : Buffer.concat(pages);
  }

  async pageRoots(sequence: number): Promise<Buffer | undefined> {
    return this.getRaw(keys.pageRoots(sequence));
  }

  /** The roots of a leaf page's blocks of LEAF_BLOCK leaves, concatenated. */
  async blockRoots(sequence: number, page: number): Promise<Buffer | undefined> {
    return this.getRaw(keys.blockRoots(sequence, page));
  }

  /** A closed window's record, locator and page roots; undefined when the window is not closed. */
  async closedWindow(sequence: number): Promise<{ record: WindowRecord; locator: LocatedSection[][]; pageRoots: Buffer } | undefined> {
    const [record, locator, pageRoots] = (await this.db.getMany([keys.window(sequence), keys.locator(sequence), keys.pageRoots(sequence)])) as (Buffer | undefined)[];
    if (record === undefined || locator === undefined || pageRoots === undefined) return undefined;
    return { record: parse<WindowRecord>(record)!, locator: decodeLocator(locator), pageRoots };
  }

  /**
   * What a single reading's proof reads at leaf page `page` of `sequence`: the page's block roots
   * and leaves, and the window's anchor receipt.
   */
  async proofReads(sequence: number, page: number): Promise<{ blockRoots?: Buffer; leafPage?: Buffer; anchor?: AnchorReceipt }> {
    // At most LEAF_PAGE leaves, their block roots and a receipt (about 34 KB), read on this thread
    // while the store is open: a trip to LevelDB's thread pool and back costs several times
    // reading such values from the file system cache, and a proof waits for it.
    const list = [keys.blockRoots(sequence, page), keys.leafPage(sequence, page), keys.anchor(sequence)];
    const [blockRoots, leafPage, anchor] = this.db.status === "open" ? list.map((key) => this.db.getSync(key) as Buffer | undefined) : ((await this.db.getMany(list)) as (Buffer | undefined)[]);
    return { blockRoots, leafPage, anchor: parse<AnchorReceipt>(anchor) };
  }

  /** Per run of the window record (same order), the chunk sections holding it. */
  async locator(sequence: number): Promise<LocatedSection[][] | undefined> {
    const raw = await this.getRaw(keys.locator(sequence));
    return raw === undefined ? undefined : decodeLocator(raw);
  }

  async chunk(window: number, part: number): Promise<Buffer | undefined> {
    // Not kept in LevelDB's block cache: chunks are most of the data, and read through it they
    // would push out the small window, index and leaf blocks every proof needs.
    // On LevelDB's thread pool: a chunk is small when the pipeline wrote it (CHUNK_BYTES), but one
    // that retention rewrote, or written before chunks were capped, may be megabytes.
    return (await this.db.get(keys.chunk(window, part), { fillCache: false })) as Buffer | undefined;
  }

  async anchorReceipt(sequence: number): Promise<AnchorReceipt | undefined> {
    return parse<AnchorReceipt>(await this.getRaw(keys.anchor(sequence)));
  }

  /** Every chunk of `window`, in part order. */
  async *chunks(window: number): AsyncGenerator<{ part: number; value: Buffer }> {
    const gte = keys.chunk(window, 0);
    const lt = keys.chunk(window + 1, 0);
    for await (const [key, value] of this.db.iterator({ gte, lt })) {
      yield { part: key.readUInt32BE(9), value };
    }
  }

  /** The highest window that has chunks, or 0. */
  async lastChunkWindow(): Promise<number> {
    for await (const key of this.db.keys({ gte: Buffer.from("c"), lt: Buffer.from("d"), reverse: true, limit: 1 })) {
      return readU64(key, 1);
    }
    return 0;
  }

  /** The window holding (stream, seq) among closed windows, or undefined. */
  async windowOf(stream: string, seq: number): Promise<number | undefined> {
    const streamBytes = Buffer.from(stream, "utf8");
    if (streamBytes.length === 0 || streamBytes.length > 255) return undefined;
    const gte = keys.streamIndex(streamBytes, 0);
    const lte = keys.streamIndex(streamBytes, seq);
    for await (const value of this.db.values({ gte, lte, reverse: true, limit: 1 })) return readU64(value, 0);
    return undefined;
  }

  /** The next sequence number of `stream` after its last closed window (1 when none). */
  async nextSeq(stream: string): Promise<number> {
    const v = await this.getRaw(keys.nextSeq(stream));
    return v === undefined ? 1 : readU64(v, 0);
  }

  /**
   * The closed runs of `stream` (first seq and window), in order, from the run holding `seq` on.
   */
  async *streamRuns(stream: string, seq: number): AsyncGenerator<{ firstSeq: number; window: number }> {
    const bytes = Buffer.from(stream, "utf8");
    if (bytes.length === 0 || bytes.length > 255) return;
    let start = seq;
    for await (const key of this.db.keys({ gte: keys.streamIndex(bytes, 0), lte: keys.streamIndex(bytes, seq), reverse: true, limit: 1 })) {
      start = readU64(key, key.length - 8);
    }
    const it = this.db.iterator({ gte: keys.streamIndex(bytes, start), lte: keys.streamIndex(bytes, Number.MAX_SAFE_INTEGER) });
    for await (const [key, value] of it) yield { firstSeq: readU64(key, key.length - 8), window: readU64(value, 0) };
  }

  /** Every stream's next sequence number after its last closed window. */
  async closedNextSeqs(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for await (const [key, value] of this.db.iterator({ gte: Buffer.from("n"), lt: Buffer.from("o") })) {
      const len = key[1]!;
      out.set(key.toString("utf8", 2, 2 + len), readU64(value, 0));
    }
    return out;
  }

  /**
   * The chain no longer holds the anchors after `chainLast` (a chain reset, a reorg deeper than
   * the confirmation depth): forgets their receipts and lowers the high-water mark, so the
   * windows are anchored again, and keeps `recovery` as the record of it (one atomic batch).
   */
  async forgetAnchorsAfter(chainLast: number, recovery: AnchorRecovery): Promise<void> {
    const ops: Op[] = [];
    for await (const key of this.db.keys({ gt: keys.anchor(chainLast), lt: Buffer.from("b") })) ops.push({ type: "del", key });
    ops.push({ type: "put", key: keys.meta("anchored"), value: json({ lastAnchored: chainLast }) });
    ops.push({ type: "put", key: keys.meta("recovery"), value: json(recovery) });
    await this.write(ops);
  }

  /** Where retention stands (node/retention/prune.ts keeps it). */
  async retentionState<T>(): Promise<T | undefined> {
    return parse<T>(await this.getRaw(keys.meta("retention")));
  }

  async anchorRecovery(): Promise<AnchorRecovery | undefined> {
    return parse<AnchorRecovery>(await this.getRaw(keys.meta("recovery")));
  }

  async saveAnchorRecovery(recovery: AnchorRecovery): Promise<void> {
    await this.write([{ type: "put", key: keys.meta("recovery"), value: json(recovery) }]);
  }

  /**
   * Records that windows were anchored (one atomic batch, with the new high-water mark), and
   * with `lost` the runs of windows recorded on chain as lost, all of them.
   */
  async markAnchored(receipts: AnchorReceipt[], lost?: readonly LostRun[]): Promise<void> {
    if (receipts.length === 0) return;
    const ops: Op[] = receipts.map((r) => ({ type: "put", key: keys.anchor(r.sequence), value: json(r) }));
    const last = Math.max(...receipts.map((r) => r.sequence));
    ops.push({ type: "put", key: keys.meta("anchored"), value: json({ lastAnchored: last }) });
    if (lost) ops.push({ type: "put", key: keys.meta("lost"), value: json(lost) });
    await this.write(ops);
  }

  /** Runs of windows lost before they were anchored and recorded on chain as lost, in order. */
  async lostRuns(): Promise<LostRun[]> {
    return parse<LostRun[]>(await this.getRaw(keys.meta("lost"))) ?? [];
  }
}

/** The roots of a leaf page's blocks of LEAF_BLOCK leaves (32 bytes each), concatenated; their root is the page's root. */
export function pageBlockRoots(page: Buffer): Buffer {
  const leaves = page.length / 32;
  const blocks = Math.ceil(leaves / LEAF_BLOCK);
  const out = Buffer.allocUnsafe(blocks * 32);
  for (let b = 0; b < blocks; b++) merkleRoot(page.subarray(b * LEAF_BLOCK * 32, Math.min(leaves, (b + 1) * LEAF_BLOCK) * 32)).copy(out, b * 32);
  return out;
}

/** Where part of a stream's run sits: `count` records from `offset` in chunk `part`. */
export interface LocatedSection {
  part: number;
  offset: number;
  count: number;
}

export function encodeLocator(runs: readonly (readonly LocatedSection[])[]): Buffer {
  let size = 0;
  for (const r of runs) size += 4 + 12 * r.length;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const r of runs) {
    out.writeUInt32BE(r.length, o);
    o += 4;
    for (const s of r) {
      out.writeUInt32BE(s.part, o);
      out.writeUInt32BE(s.offset, o + 4);
      out.writeUInt32BE(s.count, o + 8);
      o += 12;
    }
  }
  return out;
}

export function decodeLocator(raw: Buffer): LocatedSection[][] {
  const runs: LocatedSection[][] = [];
  let o = 0;
  while (o < raw.length) {
    const n = raw.readUInt32BE(o);
    o += 4;
    const list: LocatedSection[] = [];
    for (let i = 0; i < n; i++, o += 12) list.push({ part: raw.readUInt32BE(o), offset: raw.readUInt32BE(o + 4), count: raw.readUInt32BE(o + 8) });
    runs.push(list);
  }
  return runs;
}

/** Where record `index` (0-based) of the records starting at `offset` begins (its u16 length). */
export function recordOffset(value: Buffer, offset: number, index: number): number {
  let o = offset;
  for (let i = 0; i < index; i++) o += 2 + value.readUInt16BE(o);
  return o;
}

/** The record `index` (0-based) of `count` records starting at `offset`. */
export function recordAt(value: Buffer, offset: number, index: number): Buffer {
  const o = recordOffset(value, offset, index);
  const len = value.readUInt16BE(o);
  return value.subarray(o + 2, o + 2 + len);
}


