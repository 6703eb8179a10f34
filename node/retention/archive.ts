/**
 * Archive files of pruned readings (issue 18): what a member node moves out of its store, in a
 * form any data tool opens, with what is needed to prove each reading against its anchor.
 *
 * Layout, one folder per segment (a batch of windows pruned together):
 *
 *   <archiveDir>/segment-000042/
 *     manifest.json                        what the segment holds (node, windows, per stream: file,
 *                                          count, first and last seq)
 *     windows.ndjson.gz                    one line per window: root, prevRoot, time range, leaf
 *                                          count, the anchor transaction, the roots of its leaf pages
 *                                          and the leaf hashes of every page holding an archived reading
 *     streams/<stream, URI-encoded>.ndjson.gz
 *                                          one line per reading: stream, seq, window, leaf (its index in
 *                                          the window's tree), metric, valueType, value, unit,
 *                                          sourceTime, receivedTime (Unix ms), quality, statusCode,
 *                                          timeSource, salt
 *
 * NDJSON (one JSON object per line) compressed with gzip: every line is a flat record that
 * pandas (`read_json(lines=True)`), DuckDB (`read_json_auto`), Spark or `zcat | jq` read as is,
 * and unlike CSV it keeps the value's type (the number 1 and the string "1" hash differently, so a
 * proof needs to know which); `valueType` says it explicitly, and numbers JSON cannot write (NaN,
 * Infinity) are given as those strings. gzip is everywhere and streams.
 *
 * Proof: a reading's canonical bytes are rebuilt from its fields, seq and salt
 * (lib/canonical-reading.ts); its Merkle path comes from its leaf page (a subtree of LEAF_PAGE
 * leaves) and the window's page roots, exactly as the node builds it (node/ingest/proofs.ts); the
 * root, leaf count and time range it must reach come from DataAnchors on chain, never from the
 * archive. A changed value, salt, leaf hash or page root fails there (lib/verify-reading.ts).
 *
 * Segments are written to `.pending-<segment>` and renamed once every file is synced; the node's
 * store records the segment in the same atomic batch that deletes its readings
 * (node/retention/prune.ts), and a segment the store does not record is removed at the next start.
 */
import { type WriteStream, closeSync, createReadStream, createWriteStream, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import path from "node:path";
import { createInterface } from "node:readline";
import { type Gzip, type ZlibOptions, createGunzip, createGzip } from "node:zlib";
import { MerkleTree, siblingsToHex } from "../../lib/merkle.ts";
import type { Quality, Reading } from "../../lib/reading.ts";
import { type AnchorView, PROOF_VERSION, type ReadingProof, type VerifyFailureReason, type VerifyOptions, cachedAnchorView, verifyReading } from "../../lib/verify-reading.ts";
import { LEAF_PAGE } from "../ingest/store.ts";

export const ARCHIVE_FORMAT = "tracemesh-reading-archive";
export const ARCHIVE_VERSION = 1;
const HASH_HEX = 64;

export interface ArchiveManifest {
  format: typeof ARCHIVE_FORMAT;
  version: typeof ARCHIVE_VERSION;
  /** The anchoring account whose DataAnchors chain holds the windows. */
  node: string;
  segment: number;
  createdAt: string;
  windows: { from: number; to: number; count: number };
  windowsFile: string;
  streams: { stream: string; file: string; readings: number; firstSeq: number; lastSeq: number }[];
}

/** One archived window: what a proof needs besides the reading and the chain. */
export interface ArchivedWindow {
  window: number;
  root: string;
  prevRoot: string;
  fromTimeMs: number;
  toTimeMs: number;
  leafCount: number;
  anchor?: { txHash?: string; blockNumber?: number; anchoredAt: number };
  /** 0x hex of each leaf page's root, in page order. */
  pageRoots: string[];
  /** Page number -> its leaf hashes, concatenated, hex without 0x. */
  pages: Record<string, string>;
}

/** One archived reading, flat for data tools. */
export interface ArchivedReadingLine {
  stream: string;
  seq: number;
  window: number;
  leaf: number;
  metric: string;
  valueType: "number" | "string" | "boolean" | "null";
  value: number | string | boolean | null;
  unit?: string;
  sourceTime: number;
  receivedTime: number;
  quality: Quality;
  statusCode?: number;
  timeSource?: "server" | "receive";
  salt: string;
}

export const segmentName = (segment: number) => `segment-${String(segment).padStart(6, "0")}`;
const pendingName = (segment: number) => `.pending-${segmentName(segment)}`;
const streamFile = (stream: string) => `streams/${encodeURIComponent(stream)}.ndjson.gz`;

/** A reading as an archive line (the value's type kept). */
export function readingLine(r: Reading, seq: number, window: number, leaf: number, salt: Buffer): ArchivedReadingLine {
  const v = r.value;
  const valueType = v === null ? "null" : typeof v === "number" ? "number" : typeof v === "boolean" ? "boolean" : "string";
  return {
    stream: r.stream,
    seq,
    window,
    leaf,
    metric: r.metric,
    valueType,
    value: typeof v === "number" && !Number.isFinite(v) ? String(v) : v,
    ...(r.unit ? { unit: r.unit } : {}),
    sourceTime: r.sourceTime,
    receivedTime: r.receivedTime!,
    quality: r.quality,
    ...(r.statusCode !== undefined ? { statusCode: r.statusCode } : {}),
    ...(r.timeSource ? { timeSource: r.timeSource } : {}),
    salt: "0x" + salt.toString("hex"),
  };
}

/** The reading an archive line describes; throws naming the field that cannot be one. */
export function readingOfLine(l: ArchivedReadingLine): Reading {
  let value: Reading["value"];
  switch (l.valueType) {
    case "null":
      value = null;
      break;
    case "boolean":
      if (typeof l.value !== "boolean") throw new Error("value is not a boolean as valueType says");
      value = l.value;
      break;
    case "string":
      if (typeof l.value !== "string") throw new Error("value is not a string as valueType says");
      value = l.value;
      break;
    case "number":
      value = typeof l.value === "number" ? l.value : l.value === "NaN" || l.value === "Infinity" || l.value === "-Infinity" ? Number(l.value) : NaN;
      if (typeof l.value !== "number" && Number.isNaN(value) && l.value !== "NaN") throw new Error("value is not a number as valueType says");
      break;
    default:
      throw new Error(`valueType ${JSON.stringify(l.valueType)} is none of number, string, boolean, null`);
  }
  return {
    stream: l.stream,
    metric: l.metric,
    value,
    ...(l.unit !== undefined ? { unit: l.unit } : {}),
    sourceTime: l.sourceTime,
    receivedTime: l.receivedTime,
    quality: l.quality,
    ...(l.statusCode !== undefined ? { statusCode: l.statusCode } : {}),
    ...(l.timeSource !== undefined ? { timeSource: l.timeSource } : {}),
  };
}

/**
 * gzip level of archive files: salts and leaf hashes (most of a line) do not compress at any
 * level, so level 1 gives nearly level 6's size (the default) at a fraction of its CPU, which
 * retention needs to keep up with ingestion (scripts/bench/retention.ts).
 */
const GZIP_LEVEL = 1;

/** A gzip'd NDJSON file being written, with back-pressure. */
export class NdjsonWriter {
  private readonly gzip: Gzip;
  private readonly out: WriteStream;
  private readonly done: Promise<unknown>;
  lines = 0;

  constructor(file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    // A deep buffer: the lines of a run are written to one file at a time, and a shallow one (16 KB)
    // made reading and decoding wait for each batch's compression instead of overlapping with it.
    this.gzip = createGzip({ level: GZIP_LEVEL, writableHighWaterMark: 1 << 20 } as ZlibOptions); // zlib streams take stream options; its typings leave them out
    // flush: the file is synced before it closes, so a renamed segment is on disk.
    this.out = createWriteStream(file, { flush: true });
    this.gzip.pipe(this.out);
    this.done = once(this.out, "close");
  }

  /** Lines are handed to gzip in batches: one write per line costs more than the compression. */
  private buffer: string[] = [];

  async write(value: unknown): Promise<void> {
    this.lines++;
    this.buffer.push(JSON.stringify(value));
    if (this.buffer.length >= 512) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const text = this.buffer.join("\n") + "\n";
    this.buffer = [];
    if (!this.gzip.write(text)) await once(this.gzip, "drain");
  }

  async end(): Promise<void> {
    await this.flush();
    this.gzip.end();
    await this.done;
  }

  destroy(): void {
    this.gzip.destroy();
    this.out.destroy();
  }
}

export function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes one segment: windows and readings as they are pruned, then `commit()` makes it final. */
export class SegmentWriter {
  private readonly pending: string;
  private readonly windows: NdjsonWriter;
  private readonly streams = new Map<string, { writer: NdjsonWriter; readings: number; firstSeq: number; lastSeq: number }>();
  private from = Infinity;
  private to = 0;
  private count = 0;
  readings = 0;

  constructor(
    private readonly archiveDir: string,
    readonly segment: number,
    private readonly node: string,
  ) {
    this.pending = path.join(archiveDir, pendingName(segment));
    rmSync(this.pending, { recursive: true, force: true });
    mkdirSync(this.pending, { recursive: true });
    this.windows = new NdjsonWriter(path.join(this.pending, "windows.ndjson.gz"));
  }

  async addWindow(w: ArchivedWindow): Promise<void> {
    this.from = Math.min(this.from, w.window);
    this.to = Math.max(this.to, w.window);
    this.count++;
    await this.windows.write(w);
  }

  async addReading(line: ArchivedReadingLine): Promise<void> {
    let s = this.streams.get(line.stream);
    if (s === undefined) {
      s = { writer: new NdjsonWriter(path.join(this.pending, streamFile(line.stream))), readings: 0, firstSeq: line.seq, lastSeq: line.seq };
      this.streams.set(line.stream, s);
    }
    s.readings++;
    s.lastSeq = line.seq;
    this.readings++;
    await s.writer.write(line);
  }

  /** Closes and syncs every file, then renames the segment into place; answers its bytes. */
  async commit(): Promise<{ dir: string; bytes: number }> {
    await this.windows.end();
    for (const s of this.streams.values()) await s.writer.end();
    const manifest: ArchiveManifest = {
      format: ARCHIVE_FORMAT,
      version: ARCHIVE_VERSION,
      node: this.node,
      segment: this.segment,
      createdAt: new Date().toISOString(),
      windows: { from: this.from, to: this.to, count: this.count },
      windowsFile: "windows.ndjson.gz",
      streams: [...this.streams].map(([stream, s]) => ({ stream, file: streamFile(stream), readings: s.readings, firstSeq: s.firstSeq, lastSeq: s.lastSeq })),
    };
    const manifestFile = path.join(this.pending, "manifest.json");
    writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + "\n");
    const fd = openSync(manifestFile, "r");
    fsyncSync(fd);
    closeSync(fd);
    if (existsSync(path.join(this.pending, "streams"))) syncDir(path.join(this.pending, "streams"));
    syncDir(this.pending);
    const final = path.join(this.archiveDir, segmentName(this.segment));
    rmSync(final, { recursive: true, force: true });
    renameSync(this.pending, final);
    syncDir(this.archiveDir);
    return { dir: final, bytes: dirBytes(final) };
  }

  /** Drops the unfinished segment. */
  abort(): void {
    this.windows.destroy();
    for (const s of this.streams.values()) s.writer.destroy();
    rmSync(this.pending, { recursive: true, force: true });
  }
}

export function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += statSync(path.join(e.parentPath, e.name)).size;
  }
  return total;
}

/**
 * Claims `archiveDir` for `node` (a file NODE naming it), refusing one another node claimed: two
 * nodes numbering segments in one folder would overwrite each other's.
 */
export function claimArchive(archiveDir: string, node: string): void {
  // The owner's process data, salts included (they protect neighbouring readings): owner-only, like the store.
  mkdirSync(archiveDir, { recursive: true, mode: 0o700 });
  const file = path.join(archiveDir, "NODE");
  const want = node.toLowerCase();
  if (!existsSync(file)) {
    writeFileSync(file, want + "\n", { flag: "wx" });
    return;
  }
  const held = readFileSync(file, "utf8").trim().toLowerCase();
  if (held !== want) throw new Error(`the archive folder ${archiveDir} holds the readings of node ${held}, not of ${want}: give each node its own retention.archiveDir`);
}

/**
 * Removes what an interrupted run left: pending segments, and segments after `lastCommitted`
 * (written, but the store never recorded them: their readings are still in the store).
 */
export function cleanArchive(archiveDir: string, lastCommitted: number): string[] {
  if (!existsSync(archiveDir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(archiveDir)) {
    const m = /^(\.pending-)?segment-(\d+)$/.exec(name);
    if (m && (m[1] !== undefined || Number(m[2]) > lastCommitted)) {
      rmSync(path.join(archiveDir, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}

/** Bytes of the archive's committed segments. */
export function archiveBytes(archiveDir: string): number {
  let total = 0;
  for (const s of segments(archiveDir)) total += dirBytes(s.dir);
  return total;
}

/** Committed segment folders, in order. */
export function segments(archiveDir: string): { segment: number; dir: string }[] {
  if (!existsSync(archiveDir)) return [];
  return readdirSync(archiveDir)
    .map((name) => ({ name, m: /^segment-(\d+)$/.exec(name) }))
    .filter((x) => x.m !== null)
    .map((x) => ({ segment: Number(x.m![1]), dir: path.join(archiveDir, x.name) }))
    .sort((a, b) => a.segment - b.segment);
}

/** A problem with the archive's files themselves (unreadable, malformed, pointing outside). */
export class ArchiveError extends Error {}

function readManifest(dir: string): ArchiveManifest {
  const file = path.join(dir, "manifest.json");
  let m: ArchiveManifest;
  try {
    m = JSON.parse(readFileSync(file, "utf8")) as ArchiveManifest;
  } catch (e) {
    throw new ArchiveError(`${file}: cannot read the manifest (${(e as Error).message})`);
  }
  if (m.format !== ARCHIVE_FORMAT || m.version !== ARCHIVE_VERSION) throw new ArchiveError(`${file}: not a ${ARCHIVE_FORMAT} version ${ARCHIVE_VERSION} manifest`);
  if (!Array.isArray(m.streams)) throw new ArchiveError(`${file}: the manifest lists no streams`);
  return m;
}

/** A file the manifest names, refused when it points outside its segment. */
export function inside(dir: string, name: unknown): string {
  if (typeof name !== "string") throw new ArchiveError(`${dir}: the manifest names a file that is not a string`);
  const file = path.resolve(dir, name);
  if (!file.startsWith(path.resolve(dir) + path.sep)) throw new ArchiveError(`${dir}: the manifest names ${JSON.stringify(name)}, outside its segment`);
  return file;
}

/** The JSON objects of a gzip'd NDJSON file, with their line numbers. */
export async function* lines<T>(file: string): AsyncGenerator<{ line: number; value: T }> {
  const input = createReadStream(file).pipe(createGunzip());
  const rl = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of rl) {
      n++;
      if (text === "") continue;
      let value: T;
      try {
        value = JSON.parse(text) as T;
      } catch {
        throw new ArchiveError(`${file} line ${n}: not JSON`);
      }
      yield { line: n, value };
    }
  } catch (e) {
    if (e instanceof ArchiveError) throw e;
    throw new ArchiveError(`${file}: cannot read it (${(e as Error).message})`);
  } finally {
    rl.close();
    input.destroy();
  }
}

/** A segment's windows by number, with their page trees built on demand. */
class SegmentWindows {
  private readonly pageTrees = new Map<string, MerkleTree>();
  private readonly tops = new Map<number, MerkleTree>();
  private constructor(readonly byWindow: Map<number, ArchivedWindow>) {}

  static async load(file: string): Promise<SegmentWindows> {
    const map = new Map<number, ArchivedWindow>();
    for await (const { value } of lines<ArchivedWindow>(file)) map.set(value.window, value);
    return new SegmentWindows(map);
  }

  /** The proof of leaf `index` of `window` from the archived page and page roots (node/ingest/proofs.ts path()). */
  proof(node: string, window: number, index: number, seq: number, salt: string): ReadingProof | string {
    const w = this.byWindow.get(window);
    if (w === undefined) return `window ${window} is not in the segment's windows file`;
    if (!Number.isInteger(index) || index < 0 || index >= w.leafCount) return `leaf ${index} is not in window ${window} of ${w.leafCount} leaves`;
    const p = Math.floor(index / LEAF_PAGE);
    const hex = w.pages?.[String(p)];
    if (typeof hex !== "string" || hex.length % HASH_HEX !== 0 || !/^[0-9a-f]*$/.test(hex)) return `window ${window} has no well-formed leaf page ${p}`;
    if (!Array.isArray(w.pageRoots) || !w.pageRoots.every((r) => typeof r === "string" && /^0x[0-9a-f]{64}$/.test(r))) return `window ${window} has malformed page roots`;
    const key = `${window}:${p}`;
    let page = this.pageTrees.get(key);
    if (page === undefined) this.pageTrees.set(key, (page = MerkleTree.fromLeafHashes(Buffer.from(hex, "hex"))));
    let top = this.tops.get(window);
    if (top === undefined) this.tops.set(window, (top = MerkleTree.fromLeafHashes(Buffer.concat(w.pageRoots.map((r) => Buffer.from(r.slice(2), "hex"))))));
    const i = index % LEAF_PAGE;
    if (i >= page.leafCount || p >= top.leafCount) return `leaf ${index} is not in window ${window}'s archived page ${p}`;
    return {
      version: PROOF_VERSION,
      node,
      window,
      seq,
      salt,
      leafHash: "0x" + page.leaf(i).toString("hex"),
      index,
      leafCount: w.leafCount,
      siblings: siblingsToHex([...page.proof(i).siblings, ...top.proof(p).siblings]),
    };
  }
}

export interface ArchivedProof {
  stream: string;
  seq: number;
  reading: Reading;
  proof: ReadingProof;
  anchor?: ArchivedWindow["anchor"];
  /** Where it was found. */
  archive: { segment: number; file: string; line: number };
}

/**
 * The reading (stream, seq) from the archive with the proof its files give; undefined when no
 * segment holds it. Not verified here: verify it against the chain (lib/verify-reading.ts).
 */
export async function proveFromArchive(archiveDir: string, stream: string, seq: number): Promise<ArchivedProof | undefined> {
  for (const { segment, dir } of segments(archiveDir).reverse()) {
    const m = readManifest(dir);
    const entry = m.streams.find((s) => s.stream === stream && s.firstSeq <= seq && seq <= s.lastSeq);
    if (entry === undefined) continue;
    const file = inside(dir, entry.file);
    for await (const { line, value } of lines<ArchivedReadingLine>(file)) {
      if (value.seq !== seq || value.stream !== stream) continue;
      const windows = await SegmentWindows.load(inside(dir, m.windowsFile));
      const proof = windows.proof(m.node, value.window, value.leaf, seq, value.salt);
      if (typeof proof === "string") throw new ArchiveError(`${file} line ${line}: ${proof}`);
      const anchor = windows.byWindow.get(value.window)?.anchor;
      return { stream, seq, reading: readingOfLine(value), proof, ...(anchor ? { anchor } : {}), archive: { segment, file, line } };
    }
  }
  return undefined;
}

export interface ArchiveAuditFailure {
  segment: number;
  file: string;
  line: number;
  stream?: string;
  seq?: number;
  reason: VerifyFailureReason | "archive-malformed";
  detail: string;
}

export interface ArchiveAuditReport {
  segments: number;
  readings: number;
  verified: number;
  failures: ArchiveAuditFailure[];
}

/** Verifies every archived reading against the chain, naming each that fails and why. */
export async function auditArchive(archiveDir: string, view: AnchorView, options: { verify?: VerifyOptions; maxFailures?: number; node?: string } = {}): Promise<ArchiveAuditReport> {
  const chain = cachedAnchorView(view);
  const maxFailures = options.maxFailures ?? 1000;
  const report: ArchiveAuditReport = { segments: 0, readings: 0, verified: 0, failures: [] };
  const fail = (f: ArchiveAuditFailure) => {
    if (report.failures.length < maxFailures) report.failures.push(f);
  };
  for (const { segment, dir } of segments(archiveDir)) {
    report.segments++;
    let m: ArchiveManifest;
    let windows: SegmentWindows;
    try {
      m = readManifest(dir);
      if (options.node !== undefined && m.node.toLowerCase() !== options.node.toLowerCase()) throw new ArchiveError(`${dir}: the segment holds node ${m.node}'s readings, not ${options.node}'s`);
      windows = await SegmentWindows.load(inside(dir, m.windowsFile));
    } catch (e) {
      if (!(e instanceof ArchiveError)) throw e;
      fail({ segment, file: dir, line: 0, reason: "archive-malformed", detail: e.message });
      continue;
    }
    for (const s of m.streams) {
      let file = dir;
      try {
        file = inside(dir, s.file);
        let count = 0;
        for await (const { line, value } of lines<ArchivedReadingLine>(file)) {
          count++;
          report.readings++;
          const where = { segment, file, line, stream: value.stream, seq: value.seq };
          if (value.stream !== s.stream) {
            fail({ ...where, reason: "archive-malformed", detail: `a reading of ${JSON.stringify(value.stream)} in the file of ${JSON.stringify(s.stream)}` });
            continue;
          }
          const proof = windows.proof(m.node, value.window, value.leaf, value.seq, value.salt);
          if (typeof proof === "string") {
            fail({ ...where, reason: "archive-malformed", detail: proof });
            continue;
          }
          let reading: Reading;
          try {
            reading = readingOfLine(value);
          } catch (e) {
            fail({ ...where, reason: "reading-altered", detail: (e as Error).message });
            continue;
          }
          const result = await verifyReading(reading, proof, chain, options.verify);
          if (result.ok) report.verified++;
          else fail({ ...where, reason: result.reason, detail: result.detail });
        }
        if (count !== s.readings) fail({ segment, file, line: 0, stream: s.stream, reason: "archive-malformed", detail: `the manifest lists ${s.readings} readings, the file holds ${count}` });
      } catch (e) {
        if (!(e instanceof ArchiveError)) throw e;
        fail({ segment, file, line: 0, stream: s.stream, reason: "archive-malformed", detail: e.message });
      }
    }
  }
  return report;
}
