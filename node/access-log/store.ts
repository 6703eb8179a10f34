/**
 * The owner's log of every read of its documents and readings by a partner (gateway or peer
 * network): one entry per answer served, naming who read, whose data, on which channel, when, and
 * every document, set of readings or stream range the answer handed out with what allowed each.
 *
 * Tamper-evident: entries form a hash chain (each entry's SHA-256 covers its fields and the hash
 * of the entry before it), and the head (last sequence number and hash) is kept apart. `verify()`
 * recomputes the chain from the first entry: an entry altered (a read inside it included),
 * removed or inserted on disk breaks it, and a truncated tail no longer matches a head the owner
 * noted (or published) earlier.
 *
 * Two entry formats live in one chain: format 1 (one read per entry, hashed as a fixed list of its
 * fields through JSON with sorted keys), written before answers were logged whole, and format 2
 * (`v: 2`, one answer per entry), hashed over its canonical text: its fields written in one fixed
 * order by `canonicalEntry`, what allowed its reads written once per distinct reason (`why`, see
 * StoredEntry), the very bytes stored on disk (one serialisation per entry; a prepared
 * answer's reads are written and taken into the hash once, by `prepareEntry`, however often the
 * answer is served).
 *
 * LevelDB in its own directory (e.g. <dataDir>/access-log), opened by one process; appends are
 * serialised in that process, so sequence numbers have no gaps (appends arriving together share
 * one synced write: a busy gateway does not wait for one disk sync per answer).
 */
import { type Hash, createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { Level } from "level";
import type { AccessAnswerReads, AccessGrantRef, AccessLogCheck, AccessLogEntry, AccessLogHead, AccessRead, AccessSubject } from "../../lib/api/access-log.ts";

export type { AccessAnswerReads, AccessLogCheck, AccessLogEntry, AccessLogHead, AccessRead, AccessSubject } from "../../lib/api/access-log.ts";

const GENESIS = "0".repeat(64);
const HEAD = "head";
const entryKey = (seq: number) => `e:${seq.toString().padStart(12, "0")}`;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** An entry of format 1 as it lies on disk: one read, its fields at the top level. */
export interface AccessLogEntryV1 {
  seq: number;
  time: string;
  reader: number;
  owner: number;
  channel: "gateway" | "p2p";
  subject: AccessSubject;
  allowedBy: string;
  grant?: AccessGrantRef;
  purpose: string | null;
  prev: string;
  hash: string;
}

/** The hash of a format-1 entry: its fields in a fixed order, objects inside with sorted keys. */
export function entryHashV1(e: Omit<AccessLogEntryV1, "hash">): string {
  const fields = [e.seq, e.time, e.reader, e.owner, e.channel, e.subject, e.allowedBy, e.grant ?? null, e.purpose, e.prev];
  return sha256(JSON.stringify(fields, sortedKeys));
}

/** JSON.stringify replacer that writes object keys in sorted order (format 1 only). */
function sortedKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const q = JSON.stringify;
/** `,"name":value` when the value is there. */
const opt = (name: string, value: unknown) => (value === undefined ? "" : `,"${name}":${q(value)}`);

function subjectText(s: AccessSubject): string {
  switch (s.kind) {
    case "document":
      return `{"kind":"document","eventHash":${q(s.eventHash)}${opt("eventID", s.eventID)}}`;
    case "readings":
      return `{"kind":"readings","eventHash":${q(s.eventHash)}${opt("eventID", s.eventID)},"streams":${q(s.streams)}}`;
    case "stream":
      return `{"kind":"stream","stream":${q(s.stream)},"fromMs":${q(s.fromMs)},"toMs":${q(s.toMs)}}`;
    default:
      // Whatever lies on disk is hashed as it is: an unknown kind still has to match its hash.
      return q(s, sortedKeys);
  }
}

function grantText(g: AccessGrantRef): string {
  return `{${g.id === undefined ? "" : `"id":${q(g.id)},`}"scopeKey":${q(g.scopeKey)},"kind":${q(g.kind)}${opt("path", g.path)}}`;
}

/** What allowed a read: the part many reads of one answer share. */
type Why = Pick<AccessRead, "allowedBy" | "grant" | "purpose">;

function whyText(w: Why): string {
  return `{"allowedBy":${q(w.allowedBy)}${w.grant === undefined ? "" : `,"grant":${grantText(w.grant)}`},"purpose":${q(w.purpose)}}`;
}

/**
 * A format-2 entry as stored and hashed: what allowed its reads written once each in `why` (in
 * the order first used), each read naming its subject and its reason by index. An answer's 20
 * documents under one grant store that grant once, not 20 times.
 */
export interface StoredEntry {
  v: 2;
  reader: number;
  owner: number;
  channel: "gateway" | "p2p";
  why: Why[];
  reads: { subject: AccessSubject; why: number }[];
  seq: number;
  time: string;
  prev: string;
  hash: string;
}

/** One answer's reads, written once in canonical form, ready to be appended (again and again). */
export interface PreparedEntry extends AccessAnswerReads {
  /** The canonical text of the entry's leading fields, up to and including its reads. */
  readonly text: string;
  /** SHA-256 with `text` already taken in: each append copies it and adds only seq, time and prev. */
  readonly hashed: Hash;
}

/** The canonical text of a stored entry's leading fields, up to and including its reads. */
function leadText(e: Pick<StoredEntry, "reader" | "owner" | "channel" | "why" | "reads">): string {
  return (
    `{"v":2,"reader":${q(e.reader)},"owner":${q(e.owner)},"channel":${q(e.channel)},"why":[${e.why.map(whyText).join(",")}],` +
    `"reads":[${e.reads.map((r) => `{"subject":${subjectText(r.subject)},"why":${q(r.why)}}`).join(",")}]`
  );
}

/** An answer's reads in their stored form: each distinct reason once, in the order first used. */
function compacted(a: AccessAnswerReads): Pick<StoredEntry, "reader" | "owner" | "channel" | "why" | "reads"> {
  const why: Why[] = [];
  const index = new Map<string, number>();
  const reads = a.reads.map((r) => {
    const w: Why = { allowedBy: r.allowedBy, ...(r.grant !== undefined ? { grant: r.grant } : {}), purpose: r.purpose };
    const key = whyText(w);
    let i = index.get(key);
    if (i === undefined) {
      i = why.push(w) - 1;
      index.set(key, i);
    }
    return { subject: r.subject, why: i };
  });
  return { reader: a.reader, owner: a.owner, channel: a.channel, why, reads };
}

/** Writes an answer's reads in canonical form once; `append` then only adds seq, time and prev. */
export function prepareEntry(a: AccessAnswerReads): PreparedEntry {
  if (a.reads.length === 0) throw new RangeError("an access-log entry names at least one read");
  const text = leadText(compacted(a));
  return { reader: a.reader, owner: a.owner, channel: a.channel, reads: a.reads, text, hashed: createHash("sha256").update(text) };
}

/** The canonical text of a format-2 entry's fields after its reads (hash not included). */
const tailText = (seq: number, time: string, prev: string) => `,"seq":${seq},"time":${q(time)},"prev":${q(prev)}`;

/** The canonical text of a format-2 entry (its fields in the one fixed order, in stored form): what its hash covers. */
export function canonicalEntry(e: Omit<AccessLogEntry, "v" | "hash">): string {
  return `${prepareEntry(e).text}${tailText(e.seq, e.time, e.prev)}}`;
}

/** The hash of a format-2 entry: SHA-256 of its canonical text. */
export function entryHash(e: Omit<AccessLogEntry, "v" | "hash">): string {
  return sha256(canonicalEntry(e));
}

/** A format-2 entry as it lies on disk (the canonical text with its hash). */
export function storedText(e: Omit<AccessLogEntry, "v">): string {
  return `${canonicalEntry(e).slice(0, -1)},"hash":"${e.hash}"}`;
}

/** An entry as stored (either format) in the one shape answers show: each read with what allowed it. */
function shown(value: unknown): AccessLogEntry {
  const e = value as Partial<StoredEntry> & Partial<AccessLogEntryV1>;
  if (e.v === 2) {
    const s = value as StoredEntry;
    const reads = s.reads.map((r): AccessRead => ({ subject: r.subject, ...s.why[r.why]! }));
    return { v: 2, seq: s.seq, time: s.time, reader: s.reader, owner: s.owner, channel: s.channel, reads, prev: s.prev, hash: s.hash };
  }
  const v1 = e as AccessLogEntryV1;
  const read: AccessRead = { subject: v1.subject, allowedBy: v1.allowedBy, ...(v1.grant !== undefined ? { grant: v1.grant } : {}), purpose: v1.purpose };
  return { v: 1, seq: v1.seq, time: v1.time, reader: v1.reader, owner: v1.owner, channel: v1.channel, reads: [read], prev: v1.prev, hash: v1.hash };
}

/** Whether the stored entry's hash is the one its fields give, in its own format's canonical form. */
function hashHolds(value: unknown): boolean {
  const e = value as { v?: unknown; hash?: unknown };
  if (e.v === undefined) {
    const { hash, ...body } = value as AccessLogEntryV1;
    return entryHashV1(body) === hash;
  }
  if (e.v !== 2) return false;
  const s = value as StoredEntry;
  try {
    // Every read names a reason that is there, every reason is used: nothing to hide a read behind.
    if (!Array.isArray(s.reads) || s.reads.length === 0 || !Array.isArray(s.why)) return false;
    const used = new Set(s.reads.map((r) => r.why));
    if (used.size !== s.why.length || ![...used].every((i) => Number.isInteger(i) && i >= 0 && i < s.why.length)) return false;
    return sha256(`${leadText(s)}${tailText(s.seq, s.time, s.prev)}}`) === s.hash;
  } catch {
    return false; // a read without a subject, say: not what was written
  }
}

export class AccessLog {
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly db: Level<string, unknown>,
    private readonly clock: () => number,
  ) {}

  static async open(dir: string, options: { clock?: () => number } = {}): Promise<AccessLog> {
    mkdirSync(dir, { recursive: true });
    const db = new Level<string, unknown>(dir, { keyEncoding: "utf8", valueEncoding: "json" });
    await db.open();
    return new AccessLog(db, options.clock ?? Date.now);
  }

  async close(): Promise<void> {
    await this.tail.catch(() => undefined);
    await this.db.close();
  }

  /** The last entry's sequence number and hash (seq 0 and the zero hash while empty). */
  async head(): Promise<AccessLogHead> {
    return ((await this.db.get(HEAD)) as AccessLogHead | undefined) ?? { seq: 0, hash: GENESIS };
  }

  /**
   * The head as the last write left it (read once from disk): appends are serialised in this
   * process and LevelDB lets one process open the log, so no one else moves it. Dropped after a
   * failed write, so the next one starts from what is on disk.
   */
  private written: AccessLogHead | undefined;

  /** Answers waiting for the next group write, in the order they were appended. */
  private queued: { entry: PreparedEntry; done: (e: AccessLogEntry) => void; failed: (e: unknown) => void }[] = [];

  /**
   * Appends one answer's reads as one entry, durably, after every earlier append. Appends that
   * arrive while a write is in flight go together in the next one (one batch, one sync): each
   * still gets its own entry and sequence number, chained in arrival order, and resolves only
   * once it is on disk. A prepared entry (`prepareEntry`) is not serialised again.
   */
  append(answer: AccessAnswerReads | PreparedEntry): Promise<AccessLogEntry> {
    let entry: PreparedEntry;
    try {
      entry = "hashed" in answer ? answer : prepareEntry(answer);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<AccessLogEntry>((done, failed) => {
      this.queued.push({ entry, done, failed });
      if (this.queued.length > 1) return; // a group write is already scheduled for this one
      this.tail = this.tail.then(() => this.writeQueued()).catch(() => undefined);
    });
  }

  /** Writes every queued answer as one batch (synced), chaining each entry to the one before. */
  private async writeQueued(): Promise<void> {
    const group = this.queued;
    this.queued = [];
    try {
      let head = this.written ?? (await this.head());
      const entries: AccessLogEntry[] = [];
      const texts: string[] = [];
      // One clock reading per group: the answers in it were served at the same moment.
      const time = new Date(this.clock()).toISOString();
      for (const { entry } of group) {
        const seq = head.seq + 1;
        const tail = tailText(seq, time, head.hash);
        // The SHA-256 of the canonical text, its reads' part hashed once per prepared entry.
        const hash = entry.hashed.copy().update(`${tail}}`).digest("hex");
        texts.push(`${entry.text}${tail},"hash":"${hash}"}`);
        entries.push({ v: 2, reader: entry.reader, owner: entry.owner, channel: entry.channel, reads: entry.reads, seq, time, prev: head.hash, hash });
        head = { seq, hash };
      }
      // Stored as the canonical text itself (read back as JSON): nothing is serialised twice.
      await this.db.batch<string, unknown>(
        [...entries.map((e, i) => ({ type: "put" as const, key: entryKey(e.seq), value: texts[i]!, valueEncoding: "utf8" })), { type: "put", key: HEAD, value: head }],
        { sync: true },
      );
      this.written = head;
      group.forEach((g, i) => g.done(entries[i]!));
    } catch (e) {
      this.written = undefined;
      for (const g of group) g.failed(e);
    }
  }

  /**
   * Entries after `after` (a sequence number), oldest first, at most `limit`; only `reader`'s when
   * given; only entries with a read of one event's document or bound readings when `event` (its
   * record hash) is.
   */
  async entries(options: { after?: number; limit?: number; reader?: number; event?: string } = {}): Promise<AccessLogEntry[]> {
    const limit = options.limit ?? 100;
    const event = options.event?.toLowerCase();
    const out: AccessLogEntry[] = [];
    for await (const value of this.db.values({ gt: entryKey(options.after ?? 0), lt: "e:\xff" })) {
      const e = shown(value);
      if (options.reader !== undefined && e.reader !== options.reader) continue;
      if (event !== undefined && !e.reads.some((r) => r.subject.kind !== "stream" && r.subject.eventHash.toLowerCase() === event)) continue;
      out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Recomputes the whole chain against the stored head; says where it breaks. */
  async verify(): Promise<AccessLogCheck> {
    const head = await this.head();
    let prev = GENESIS;
    let seq = 0;
    for await (const [key, value] of this.db.iterator({ gt: "e:", lt: "e:\xff" })) {
      const e = value as { seq?: unknown; prev?: unknown; hash: string };
      seq++;
      if (key !== entryKey(seq) || e.seq !== seq) return { ok: false, seq, problem: `entry ${seq} is missing (found ${key})` };
      if (e.prev !== prev) return { ok: false, seq, problem: `entry ${seq} does not follow entry ${seq - 1}` };
      if (!hashHolds(value)) return { ok: false, seq, problem: `entry ${seq} was altered` };
      prev = e.hash;
    }
    if (seq !== head.seq || prev !== head.hash) return { ok: false, seq, problem: `the log ends at entry ${seq}, but its head says ${head.seq}` };
    return { ok: true, head, entries: seq };
  }
}
