/**
 * The owner's log of every read of its documents and readings by a partner (gateway or peer
 * network): who read what, under which grant or rule, for which purpose, when.
 *
 * Tamper-evident: entries form a hash chain (each entry's SHA-256 covers its fields and the hash
 * of the entry before it), and the head (last sequence number and hash) is kept apart. `verify()`
 * recomputes the chain from the first entry: an entry altered, removed or inserted on disk breaks
 * it, and a truncated tail no longer matches a head the owner noted (or published) earlier.
 *
 * LevelDB in its own directory (e.g. <dataDir>/access-log), opened by one process; appends are
 * serialised in that process, so sequence numbers have no gaps (appends arriving together share
 * one synced write: a busy gateway does not wait for one disk sync per read).
 */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { Level } from "level";
import type { AccessLogCheck, AccessLogEntry, AccessLogHead, AccessRead } from "../../lib/api/access-log.ts";

export type { AccessLogCheck, AccessLogEntry, AccessLogHead, AccessRead, AccessSubject } from "../../lib/api/access-log.ts";

const GENESIS = "0".repeat(64);
const HEAD = "head";
const entryKey = (seq: number) => `e:${seq.toString().padStart(12, "0")}`;

/** The hash of an entry: its fields in a fixed order, so the same entry always hashes the same. */
export function entryHash(e: Omit<AccessLogEntry, "hash">): string {
  const fields = [e.seq, e.time, e.reader, e.owner, e.channel, e.subject, e.allowedBy, e.grant ?? null, e.purpose, e.prev];
  return createHash("sha256").update(JSON.stringify(fields, sortedKeys)).digest("hex");
}

/** JSON.stringify replacer that writes object keys in sorted order. */
function sortedKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
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

  /** Reads waiting for the next group write, in the order they were appended. */
  private queued: { read: AccessRead; done: (e: AccessLogEntry) => void; failed: (e: unknown) => void }[] = [];

  /**
   * Appends one read, durably, after every earlier append. Appends that arrive while a write is
   * in flight go together in the next one (one batch, one sync): each still gets its own entry
   * and sequence number, chained in arrival order, and resolves only once it is on disk.
   */
  append(read: AccessRead): Promise<AccessLogEntry> {
    return new Promise<AccessLogEntry>((done, failed) => {
      this.queued.push({ read, done, failed });
      if (this.queued.length > 1) return; // a group write is already scheduled for this one
      this.tail = this.tail.then(() => this.writeQueued()).catch(() => undefined);
    });
  }

  /** Writes every queued read as one batch (synced), chaining each entry to the one before. */
  private async writeQueued(): Promise<void> {
    const group = this.queued;
    this.queued = [];
    try {
      let head = this.written ?? (await this.head());
      const entries: AccessLogEntry[] = [];
      for (const { read } of group) {
        const body = { ...read, seq: head.seq + 1, time: new Date(this.clock()).toISOString(), prev: head.hash };
        const entry: AccessLogEntry = { ...body, hash: entryHash(body) };
        entries.push(entry);
        head = { seq: entry.seq, hash: entry.hash };
      }
      await this.db.batch<string, unknown>(
        [...entries.map((entry) => ({ type: "put" as const, key: entryKey(entry.seq), value: entry })), { type: "put", key: HEAD, value: head }],
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
   * given; only reads of one event's document or bound readings when `event` (its record hash) is.
   */
  async entries(options: { after?: number; limit?: number; reader?: number; event?: string } = {}): Promise<AccessLogEntry[]> {
    const limit = options.limit ?? 100;
    const event = options.event?.toLowerCase();
    const out: AccessLogEntry[] = [];
    for await (const value of this.db.values({ gt: entryKey(options.after ?? 0), lt: "e:\xff" })) {
      const e = value as AccessLogEntry;
      if (options.reader !== undefined && e.reader !== options.reader) continue;
      if (event !== undefined && (e.subject.kind === "stream" || e.subject.eventHash.toLowerCase() !== event)) continue;
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
      const e = value as AccessLogEntry;
      seq++;
      if (key !== entryKey(seq) || e.seq !== seq) return { ok: false, seq, problem: `entry ${seq} is missing (found ${key})` };
      if (e.prev !== prev) return { ok: false, seq, problem: `entry ${seq} does not follow entry ${seq - 1}` };
      const { hash, ...body } = e;
      if (entryHash(body) !== hash) return { ok: false, seq, problem: `entry ${seq} was altered` };
      prev = hash;
    }
    if (seq !== head.seq || prev !== head.hash) return { ok: false, seq, problem: `the log ends at entry ${seq}, but its head says ${head.seq}` };
    return { ok: true, head, entries: seq };
  }
}
