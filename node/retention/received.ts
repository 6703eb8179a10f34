/**
 * Retention of the readings this node received from the partners' streams it follows (issue 18):
 * the `retention.followed` rules (node/retention/policy.ts) applied to the received store
 * (node/p2p/received-store.ts) online, the expired readings moved to archive files first.
 *
 * What is pruned: a stored part of a run, or a reading stored alone, once the newest source time
 * in it (or its receipt time, if earlier: readings dated in the future do not stay longer) is
 * older than its rule's keepDays (rules match the owner organisation and the stream;
 * no match: kept forever). Per (owner, stream, node) the entries are walked in seq order and the
 * walk stops at the first one that is not expired yet, so a run costs what it prunes.
 *
 * The archive, beside the node's own (`<archiveDir>/received/segment-000001/`):
 *   manifest.json          format "tracemesh-received-archive", version, segment, the proofs file
 *                          and per (owner, stream) its file and count
 *   proofs.ndjson.gz       one line per received proof: its number in the segment, owner, stream,
 *                          node, window, peer, receivedAt, tx, grant, and `range` (the run's range
 *                          proof) or `one` (a lone reading's proof), exactly as received
 *   streams/<owner>/<stream, URI-encoded>.ndjson.gz
 *                          one line per reading: owner, node, proof (its number), then the fields of
 *                          an own archive line (archive.ts readingLine: seq, window, leaf, metric,
 *                          valueType, value, ..., salt)
 * Gzip'd NDJSON like the own archive, so the same data tools open it. Each reading proves against
 * its owner's anchor on chain with its proof line (auditReceivedArchive; lib/verify-reading.ts).
 *
 * How: the segment is written, synced and renamed into place, then one atomic batch deletes the
 * archived entries and records the segment (received store metadata "retention"); a segment the
 * store does not record is removed at the next run (its readings are still in the store). The
 * follow only adds newer entries, so it does not contend with the old ones pruned here.
 */
import path from "node:path";
import type { Reading } from "../../lib/reading.ts";
import { type AnchorView, type ReadingProof, type ReadingRangeProof, type VerifyFailureReason, cachedAnchorView, verifyReading, verifyReadingRange } from "../../lib/verify-reading.ts";
import type { HeldEntry, ReceivedStore } from "../p2p/received-store.ts";
import type { GrantRef } from "../p2p/protocol.ts";
import {
  type ArchivedReadingLine,
  ArchiveError,
  NdjsonWriter,
  cleanArchive,
  dirBytes,
  inside,
  lines,
  readingLine,
  readingOfLine,
  segmentName,
  segments,
  syncDir,
} from "./archive.ts";
import { type FollowedRetentionRule, keepMsOfFollowed } from "./policy.ts";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";

export const RECEIVED_ARCHIVE_FORMAT = "tracemesh-received-archive";
export const RECEIVED_ARCHIVE_VERSION = 1;

export interface ReceivedArchiveManifest {
  format: typeof RECEIVED_ARCHIVE_FORMAT;
  version: typeof RECEIVED_ARCHIVE_VERSION;
  segment: number;
  createdAt: string;
  proofsFile: string;
  streams: { owner: number; stream: string; file: string; readings: number }[];
}

/** One received proof as archived. */
export interface ReceivedProofLine {
  proof: number;
  owner: number;
  stream: string;
  node: string;
  window: number;
  peer: string;
  receivedAt: number;
  tx?: string;
  grant?: GrantRef;
  range?: ReadingRangeProof;
  one?: ReadingProof;
}

export type ReceivedReadingLine = { owner: number; node: string; proof: number } & ArchivedReadingLine;

/** Where received retention stands (received store metadata "retention"). */
export interface ReceivedRetentionState {
  lastSegment: number;
  prunedReadings: number;
}

/** The received store's metadata key `name` (its layout: "m" then the name). */
const metaKey = (name: string) => Buffer.concat([Buffer.from("m", "latin1"), Buffer.from(name, "latin1")]);
/** The first key past every entry of an (owner, stream, node) group: group | seq u64. */
const groupEnd = (group: Buffer) => Buffer.concat([group, Buffer.alloc(8, 0xff)]);
const streamFile = (owner: number, stream: string) => `streams/${owner}/${encodeURIComponent(stream)}.ndjson.gz`;
const pendingName = (segment: number) => `.pending-${segmentName(segment)}`;

/**
 * An entry's age: the newest source time among its readings, but never later than when it was
 * received, so a partner's readings dated in the future cannot keep themselves (and every later
 * entry of their stream, which the walk stops at) in the store past their rule.
 */
const ageFrom = (e: HeldEntry) => Math.min(e.origin.receivedAt, e.item.kind === "run" ? Math.max(...e.item.readings.map((r) => r.sourceTime)) : e.item.reading.sourceTime);

/** Writes one segment of received readings; `commit()` makes it final. */
class ReceivedSegmentWriter {
  private readonly pending: string;
  private readonly proofs: NdjsonWriter;
  private readonly streams = new Map<string, { writer: NdjsonWriter; owner: number; stream: string; readings: number }>();
  private proofCount = 0;
  readings = 0;

  constructor(
    private readonly dir: string,
    readonly segment: number,
  ) {
    this.pending = path.join(dir, pendingName(segment));
    rmSync(this.pending, { recursive: true, force: true });
    mkdirSync(this.pending, { recursive: true });
    this.proofs = new NdjsonWriter(path.join(this.pending, "proofs.ndjson.gz"));
  }

  async add(e: HeldEntry): Promise<void> {
    const id = ++this.proofCount;
    const { item, origin } = e;
    const node = item.proof.node;
    const window = item.proof.window;
    const line: ReceivedProofLine = {
      proof: id,
      owner: e.owner,
      stream: e.stream,
      node,
      window,
      peer: origin.peer,
      receivedAt: origin.receivedAt,
      ...(origin.tx ? { tx: origin.tx } : {}),
      ...(origin.grant ? { grant: origin.grant } : {}),
      ...(item.kind === "run" ? { range: item.proof } : { one: item.proof }),
    };
    await this.proofs.write(line);
    const key = `${e.owner} ${e.stream}`;
    let s = this.streams.get(key);
    if (s === undefined) this.streams.set(key, (s = { writer: new NdjsonWriter(path.join(this.pending, streamFile(e.owner, e.stream))), owner: e.owner, stream: e.stream, readings: 0 }));
    const readings =
      item.kind === "run"
        ? item.readings.map((reading, k) => ({ reading, seq: item.proof.seqs[k]!, leaf: item.proof.start + k, salt: item.proof.salts[k]! }))
        : [{ reading: item.reading, seq: item.proof.seq, leaf: item.proof.index, salt: item.proof.salt }];
    for (const r of readings) {
      const out: ReceivedReadingLine = { owner: e.owner, node, proof: id, ...readingLine(r.reading, r.seq, window, r.leaf, Buffer.from(r.salt.slice(2), "hex")) };
      await s.writer.write(out);
      s.readings++;
      this.readings++;
    }
  }

  async commit(): Promise<number> {
    await this.proofs.end();
    for (const s of this.streams.values()) await s.writer.end();
    const manifest: ReceivedArchiveManifest = {
      format: RECEIVED_ARCHIVE_FORMAT,
      version: RECEIVED_ARCHIVE_VERSION,
      segment: this.segment,
      createdAt: new Date().toISOString(),
      proofsFile: "proofs.ndjson.gz",
      streams: [...this.streams.values()].map((s) => ({ owner: s.owner, stream: s.stream, file: streamFile(s.owner, s.stream), readings: s.readings })),
    };
    const file = path.join(this.pending, "manifest.json");
    writeFileSync(file, JSON.stringify(manifest, null, 2) + "\n");
    const fd = openSync(file, "r");
    fsyncSync(fd);
    closeSync(fd);
    for (const owner of new Set(manifest.streams.map((s) => s.owner))) syncDir(path.join(this.pending, "streams", String(owner)));
    if (existsSync(path.join(this.pending, "streams"))) syncDir(path.join(this.pending, "streams"));
    syncDir(this.pending);
    const final = path.join(this.dir, segmentName(this.segment));
    rmSync(final, { recursive: true, force: true });
    renameSync(this.pending, final);
    syncDir(this.dir);
    return dirBytes(final);
  }

  abort(): void {
    this.proofs.destroy();
    for (const s of this.streams.values()) s.writer.destroy();
    rmSync(this.pending, { recursive: true, force: true });
  }
}

export interface ReceivedRetentionOptions {
  log?: (message: string) => void;
  /** Readings per segment (default 1,000,000). */
  maxReadingsPerSegment?: number;
}

/** Prunes the received store by the `followed` rules into `dir` (see the header). */
export class ReceivedRetention {
  private state: ReceivedRetentionState = { lastSegment: 0, prunedReadings: 0 };
  private readonly log: (m: string) => void;

  constructor(
    private readonly store: Pick<ReceivedStore, "entries" | "getMeta" | "db">,
    private readonly rules: readonly FollowedRetentionRule[],
    readonly dir: string,
    private readonly options: ReceivedRetentionOptions = {},
  ) {
    this.log = options.log ?? (() => {});
  }

  status(): ReceivedRetentionState & { dir: string } {
    return { ...this.state, dir: this.dir };
  }

  /** Loads where retention stands (before the first run, for the status). */
  async load(): Promise<void> {
    this.state = (await this.store.getMeta<ReceivedRetentionState>("retention")) ?? this.state;
  }

  /** One pass over the received store; answers what it archived. `stopping` ends it after the segment in progress. */
  async runOnce(now: number, stopping: () => boolean = () => false): Promise<{ segments: number; readings: number }> {
    await this.load();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const removed = cleanArchive(this.dir, this.state.lastSegment);
    if (removed.length > 0) this.log(`removed ${removed.join(", ")} from ${this.dir}: written by a run that did not finish (their readings are still in the store)`);
    const done = { segments: 0, readings: 0 };
    if (!this.rules.some((r) => r.keepMs !== undefined)) return done;
    const max = this.options.maxReadingsPerSegment ?? 1_000_000;
    let seg: { writer: ReceivedSegmentWriter; keys: Buffer[] } | undefined;
    const commit = async () => {
      const s = seg!;
      seg = undefined;
      let bytes: number;
      try {
        bytes = await s.writer.commit();
      } catch (e) {
        s.writer.abort();
        throw e;
      }
      const state: ReceivedRetentionState = { lastSegment: s.writer.segment, prunedReadings: this.state.prunedReadings + s.writer.readings };
      await this.store.db.batch([...s.keys.map((key) => ({ type: "del" as const, key })), { type: "put" as const, key: metaKey("retention"), value: Buffer.from(JSON.stringify(state)) }], { sync: true });
      this.state = state;
      done.segments++;
      done.readings += s.writer.readings;
      this.log(`archived ${s.writer.readings} received readings to received/${segmentName(s.writer.segment)} (${bytes} bytes); ${state.prunedReadings} received readings archived in all`);
    };
    try {
      for (const kind of ["run", "one"] as const) {
        let after: Buffer | undefined;
        while (!stopping()) {
          let next: Buffer | undefined;
          for await (const e of this.store.entries(kind, after)) {
            const keepMs = keepMsOfFollowed(this.rules, e.owner, e.stream);
            if (keepMs === undefined || ageFrom(e) >= now - keepMs) {
              next = groupEnd(e.group); // the rest of this node's stream is newer (seq order)
              break;
            }
            seg ??= { writer: new ReceivedSegmentWriter(this.dir, this.state.lastSegment + 1), keys: [] };
            await seg.writer.add(e);
            seg.keys.push(e.key);
            if (seg.writer.readings >= max) {
              next = e.key;
              break;
            }
          }
          if (seg !== undefined && (next === undefined || seg.writer.readings >= max)) await commit();
          if (next === undefined) break;
          after = next;
        }
      }
      if (seg !== undefined) await commit();
    } catch (e) {
      seg?.writer.abort();
      throw e;
    }
    return done;
  }
}

export interface ReceivedArchiveFailure {
  segment: number;
  file: string;
  line: number;
  owner?: number;
  stream?: string;
  seq?: number;
  reason: VerifyFailureReason | "archive-malformed";
  detail: string;
}

export interface ReceivedArchiveReport {
  segments: number;
  readings: number;
  verified: number;
  failures: ReceivedArchiveFailure[];
}

function readManifest(dir: string): ReceivedArchiveManifest {
  const file = path.join(dir, "manifest.json");
  let m: ReceivedArchiveManifest;
  try {
    m = JSON.parse(readFileSync(file, "utf8")) as ReceivedArchiveManifest;
  } catch (e) {
    throw new ArchiveError(`${file}: cannot read the manifest (${(e as Error).message})`);
  }
  if (m.format !== RECEIVED_ARCHIVE_FORMAT || m.version !== RECEIVED_ARCHIVE_VERSION) throw new ArchiveError(`${file}: not a ${RECEIVED_ARCHIVE_FORMAT} version ${RECEIVED_ARCHIVE_VERSION} manifest`);
  if (!Array.isArray(m.streams)) throw new ArchiveError(`${file}: the manifest lists no streams`);
  return m;
}

/**
 * Verifies every reading of the received archive in `dir` against its owner's anchor on chain,
 * with the proof it was received with; names each that fails and why.
 */
export async function auditReceivedArchive(dir: string, view: AnchorView, options: { maxFailures?: number } = {}): Promise<ReceivedArchiveReport> {
  const chain = cachedAnchorView(view);
  const maxFailures = options.maxFailures ?? 1000;
  const report: ReceivedArchiveReport = { segments: 0, readings: 0, verified: 0, failures: [] };
  const fail = (f: ReceivedArchiveFailure) => {
    if (report.failures.length < maxFailures) report.failures.push(f);
  };
  for (const { segment, dir: segDir } of segments(dir)) {
    report.segments++;
    let m: ReceivedArchiveManifest;
    const proofs = new Map<number, ReceivedProofLine>();
    try {
      m = readManifest(segDir);
      for await (const { value } of lines<ReceivedProofLine>(inside(segDir, m.proofsFile))) proofs.set(value.proof, value);
    } catch (e) {
      if (!(e instanceof ArchiveError)) throw e;
      fail({ segment, file: segDir, line: 0, reason: "archive-malformed", detail: e.message });
      continue;
    }
    for (const s of m.streams) {
      let file = segDir;
      // The lines of one proof are consecutive: verified together when the next proof starts.
      let group: { proof: number; items: { line: number; value: ReceivedReadingLine; reading: Reading }[] } | undefined;
      const verifyGroup = async () => {
        const g = group;
        group = undefined;
        if (g === undefined) return;
        const first = g.items[0]!;
        const where = { segment, file, line: first.line, owner: first.value.owner, stream: first.value.stream, seq: first.value.seq };
        const p = proofs.get(g.proof);
        const malformed = (detail: string) => fail({ ...where, reason: "archive-malformed", detail });
        if (p === undefined) return malformed(`proof ${g.proof} is not in the segment's proofs file`);
        if (p.owner !== s.owner || p.stream !== s.stream) return malformed(`proof ${g.proof} is of ${p.owner}/${p.stream}, not of this file's stream`);
        let result;
        if (p.range) {
          const matches = g.items.length === p.range.seqs.length && g.items.every((it, k) => it.value.seq === p.range!.seqs[k] && it.value.salt === p.range!.salts[k]);
          if (!matches) return malformed(`the lines of proof ${g.proof} are not the readings it proves (seqs or salts differ)`);
          result = await verifyReadingRange(g.items.map((it) => it.reading), p.range, chain);
        } else if (p.one) {
          if (g.items.length !== 1 || first.value.seq !== p.one.seq || first.value.salt !== p.one.salt) return malformed(`the lines of proof ${g.proof} are not the reading it proves`);
          result = await verifyReading(first.reading, p.one, chain);
        } else {
          return malformed(`proof ${g.proof} holds neither a range nor a reading's proof`);
        }
        if (result.ok) report.verified += g.items.length;
        else {
          const at = g.items[result.index ?? 0] ?? first;
          fail({ ...where, line: at.line, seq: at.value.seq, reason: result.reason, detail: result.detail });
        }
      };
      try {
        file = inside(segDir, s.file);
        for await (const { line, value } of lines<ReceivedReadingLine>(file)) {
          report.readings++;
          if (group !== undefined && group.proof !== value.proof) await verifyGroup();
          let reading: Reading;
          try {
            reading = readingOfLine(value);
          } catch (e) {
            fail({ segment, file, line, owner: value.owner, stream: value.stream, seq: value.seq, reason: "archive-malformed", detail: (e as Error).message });
            continue;
          }
          group ??= { proof: value.proof, items: [] };
          group.items.push({ line, value, reading });
        }
        await verifyGroup();
      } catch (e) {
        if (!(e instanceof ArchiveError)) throw e;
        fail({ segment, file, line: 0, reason: "archive-malformed", detail: e.message });
      }
    }
  }
  return report;
}
