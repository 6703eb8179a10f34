/**
 * What this node received from partners, kept apart from its own data (a LevelDB of its own,
 * `<dataDir>/received`): every reading with its proof, where it came from (peer id and the owner
 * organisation) and under which grant; plus the follow cursors, the last chain block the catch-up
 * looked at, reports of peers caught sending altered data, and windows of partners' data that
 * do not verify for an honest reason (skipped by the follow, with the reason).
 *
 * Keys (one-byte prefix, integers big-endian):
 *   q | owner u32 | len u8 | stream | node (20 bytes) | seq u64   a received part of a run, by its
 *                                                                 first seq: u8 version 1 | varint
 *                                                                 count | varint length | origin JSON
 *                                                                 | the run with its range proof as it
 *                                                                 travels (wire.ts encodeRun)
 *   r | owner u32 | len u8 | stream | node (20 bytes) | seq u64   a reading received alone with its
 *                                                                 own proof (JSON); stores written
 *                                                                 before parts were kept whole also
 *                                                                 hold runs' readings here, and
 *   g | node (20 bytes) | window u64 | len u8 | stream            their run's range proof (JSON)
 *   c | len u8 | peer id | len u8 | stream                        follow cursor: last seq received
 *   b | len u8 | peer id | at u64                                 a misbehaviour report (JSON)
 *   u | owner u32 | len u8 | stream | node (20 bytes) | window u64 a window that could not be verified (JSON)
 *   o | grantee u32 | at u64 | hash                               outbox: an own event announced to a partner
 *   e | len u8 | peer id                                          events cursor: last outbox time read from the peer
 *   m | name                                                      metadata (JSON): "block"
 * A part of a run is one value (writing each reading apart cost a sixth of a transfer's time); a
 * reading sent alone carries its own proof. Everything of one answer is written in one atomic
 * batch, so an answer is stored whole or not.
 */
import { mkdirSync } from "node:fs";
import { Level } from "level";
import type { Reading } from "../../lib/reading.ts";
import type { ReadingProof, ReadingRangeProof } from "../../lib/verify-reading.ts";
import type { UnverifiableItem, VerifiedReadings } from "./fetch-client.ts";
import type { EventSummary, GrantRef, ReadingItem, RunItem } from "./protocol.ts";
import { decodeRun, encodeRun } from "./wire.ts";

/** Where a received item came from. */
export interface Origin {
  peer: string;
  ownerOrg: number;
  grant?: GrantRef;
  /** The anchoring transaction named by the sender (checked: the anchor itself is on chain). */
  tx?: string;
  receivedAt: number;
}

export interface ReceivedReading {
  reading: Reading;
  node: string;
  window: number;
  seq: number;
  /** Its own proof, or (sent in a run) undefined: see `runProof`. */
  proof?: ReadingProof;
  origin: Origin;
}

/** A window of a partner's stream that was skipped because it does not verify (no one is blamed). */
export interface UnverifiableWindow extends UnverifiableItem {
  owner: number;
  stream: string;
  peer: string;
  at: number;
}

/** A stored part of a run, or a reading stored alone with its proof, as retention walks them. */
export interface HeldEntry {
  key: Buffer;
  /** The key prefix of its (owner, stream, node): every entry of one node's stream, by seq. */
  group: Buffer;
  owner: number;
  stream: string;
  origin: Origin;
  item: ReadingItem;
}

export interface MisbehaviourReport {
  peer: string;
  reason: string;
  /** True when the data was shown to be altered (the peer is banned). */
  altered: boolean;
  at: number;
}

const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};
const u64 = (v: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
};
const str = (s: string) => {
  const b = Buffer.from(s, "utf8");
  if (b.length > 255) throw new RangeError(`"${s.slice(0, 40)}..." is longer than 255 bytes`);
  return Buffer.concat([Buffer.of(b.length), b]);
};
const addr = (a: string) => Buffer.from(a.slice(2).toLowerCase(), "hex");
const json = (v: unknown) => Buffer.from(JSON.stringify(v), "utf8");
const P = (c: string) => Buffer.from(c, "latin1");

const keyOf = {
  reading: (owner: number, stream: string, node: string, seq: number) => Buffer.concat([P("r"), u32(owner), str(stream), addr(node), u64(seq)]),
  stream: (owner: number, stream: string) => Buffer.concat([P("r"), u32(owner), str(stream)]),
  part: (owner: number, stream: string, node: string, firstSeq: number) => Buffer.concat([P("q"), u32(owner), str(stream), addr(node), u64(firstSeq)]),
  parts: (owner: number, stream: string) => Buffer.concat([P("q"), u32(owner), str(stream)]),
  run: (node: string, window: number, stream: string) => Buffer.concat([P("g"), addr(node), u64(window), str(stream)]),
  cursor: (peer: string, stream: string) => Buffer.concat([P("c"), str(peer), str(stream)]),
  report: (peer: string, at: number) => Buffer.concat([P("b"), str(peer), u64(at)]),
  outbox: (grantee: number, at: number, hash: string) => Buffer.concat([P("o"), u32(grantee), u64(at), Buffer.from(hash, "utf8")]),
  eventsCursor: (peer: string) => Buffer.concat([P("e"), str(peer)]),
  unverifiable: (owner: number, stream: string, node: string, window: number) => Buffer.concat([P("u"), u32(owner), str(stream), addr(node), u64(window)]),
  unverifiableOf: (owner: number, stream: string) => Buffer.concat([P("u"), u32(owner), str(stream)]),
  meta: (name: string) => Buffer.concat([P("m"), Buffer.from(name, "latin1")]),
};

const PART_VERSION = 1;

/** A part of a run as stored: version, count, origin, then the run as it travels. */
function encodePart(item: RunItem, origin: Origin): Buffer {
  const head = Buffer.allocUnsafe(1 + 2 * 8);
  let o = 0;
  head[o++] = PART_VERSION;
  const varint = (v: number) => {
    while (v >= 0x80) {
      head[o++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    head[o++] = v;
  };
  const originBytes = json(origin);
  varint(item.readings.length);
  varint(originBytes.length);
  return Buffer.concat([head.subarray(0, o), originBytes, encodeRun(item)]);
}

function readVarint(b: Buffer, at: number): [number, number] {
  let v = 0;
  let scale = 1;
  let o = at;
  for (;;) {
    const byte = b[o++];
    if (byte === undefined) throw new Error("a stored part of a run is truncated");
    v += (byte & 0x7f) * scale;
    if (byte < 0x80) return [v, o];
    scale *= 0x80;
  }
}

function partCount(value: Buffer): number {
  if (value[0] !== PART_VERSION) throw new Error(`a stored part of a run has unknown version ${value[0]}`);
  return readVarint(value, 1)[0];
}

function decodePart(value: Buffer, stream: string): { origin: Origin; item: RunItem } {
  partCount(value);
  const [, o1] = readVarint(value, 1);
  const [length, o2] = readVarint(value, o1);
  const origin = JSON.parse(value.toString("utf8", o2, o2 + length)) as Origin;
  return { origin, item: decodeRun(value.subarray(o2 + length), stream) };
}

/** The window of a stored part, read without decoding it (its run: kind byte, node, varint window). */
function partWindow(value: Buffer): number {
  const [, o1] = readVarint(value, 1);
  const [length, o2] = readVarint(value, o1);
  return readVarint(value, o2 + length + 1 + 20)[0];
}

/** The key just past every key starting with `prefix`. */
const after = (prefix: Buffer) => Buffer.concat([prefix, Buffer.alloc(32, 0xff)]);

export class ReceivedStore {
  private constructor(readonly db: Level<Buffer, Buffer>) {}

  static async open(dir: string): Promise<ReceivedStore> {
    mkdirSync(dir, { recursive: true });
    const db = new Level<Buffer, Buffer>(dir, { keyEncoding: "buffer", valueEncoding: "buffer" });
    try {
      await db.open();
    } catch (e) {
      const detail = (e as { cause?: Error }).cause?.message ?? (e as Error).message;
      throw new Error(`cannot open the store of received data ${dir}: ${detail}`, { cause: e });
    }
    return new ReceivedStore(db);
  }

  async close(): Promise<void> {
    if (this.db.status === "open" || this.db.status === "opening") await this.db.close();
  }

  /**
   * Stores one verified answer whole (one atomic, synced batch), with the windows it skipped as
   * unverifiable; with `cursor`, also moves the follow cursor of (peer, stream) to the answer's
   * last seq (past the skipped windows: the follow moves on).
   */
  async putReadings(batch: VerifiedReadings, options: { cursor?: boolean; now?: number } = {}): Promise<void> {
    const ops: { type: "put"; key: Buffer; value: Buffer }[] = [];
    const receivedAt = options.now ?? Date.now();
    for (const item of batch.items) {
      const origin: Origin = { peer: batch.peer, ownerOrg: batch.ownerOrg, ...(batch.grant ? { grant: batch.grant } : {}), ...(item.tx ? { tx: item.tx } : {}), receivedAt };
      const { node, window } = item.proof;
      if (item.kind === "run") {
        ops.push({ type: "put", key: keyOf.part(batch.ownerOrg, batch.stream, node, item.proof.seqs[0]!), value: encodePart(item, origin) });
      } else {
        const entry: ReceivedReading = { reading: item.reading, node, window, seq: item.proof.seq, proof: item.proof, origin };
        ops.push({ type: "put", key: keyOf.reading(batch.ownerOrg, batch.stream, node, item.proof.seq), value: json(entry) });
      }
    }
    for (const u of batch.unverifiable ?? []) {
      const entry: UnverifiableWindow = { ...u, owner: batch.ownerOrg, stream: batch.stream, peer: batch.peer, at: receivedAt };
      ops.push({ type: "put", key: keyOf.unverifiable(batch.ownerOrg, batch.stream, u.node, u.window), value: json(entry) });
    }
    if (options.cursor) ops.push({ type: "put", key: keyOf.cursor(batch.peer, batch.stream), value: json({ lastSeq: batch.lastSeq }) });
    await this.db.batch(ops, { sync: true });
  }

  /** The windows of `owner`'s `stream` skipped because they do not verify, by node then window. */
  async unverifiable(owner: number, stream: string): Promise<UnverifiableWindow[]> {
    const prefix = keyOf.unverifiableOf(owner, stream);
    const out: UnverifiableWindow[] = [];
    for await (const v of this.db.values({ gt: prefix, lt: after(prefix) })) out.push(JSON.parse(v.toString("utf8")) as UnverifiableWindow);
    return out;
  }

  /** Received readings of `owner`'s `stream`, by node then seq; optionally only source times in [from, to). */
  async readings(owner: number, stream: string, range: { from?: number; to?: number; limit?: number } = {}): Promise<ReceivedReading[]> {
    const all: ReceivedReading[] = [];
    const parts = keyOf.parts(owner, stream);
    for await (const value of this.db.values({ gt: parts, lt: after(parts) })) {
      const { origin, item } = decodePart(value, stream);
      item.readings.forEach((reading, k) => all.push({ reading, node: item.proof.node, window: item.proof.window, seq: item.proof.seqs[k]!, origin }));
    }
    const alone = keyOf.stream(owner, stream);
    for await (const value of this.db.values({ gt: alone, lt: after(alone) })) all.push(JSON.parse(value.toString("utf8")) as ReceivedReading);
    const node = (r: ReceivedReading) => r.node.toLowerCase();
    all.sort((a, b) => (node(a) < node(b) ? -1 : node(a) > node(b) ? 1 : a.seq - b.seq));
    const inRange = all.filter((r) => (range.from === undefined || r.reading.sourceTime >= range.from) && (range.to === undefined || r.reading.sourceTime < range.to));
    return range.limit === undefined ? inRange : inRange.slice(0, range.limit);
  }

  /**
   * What is held of `node`'s `stream` (received from `owner`) with seq above `afterSeq` in windows
   * [fromWindow, toWindow], as it was received: parts of runs with their range proofs, readings
   * with their own proofs; by seq, about `limit` readings (whole parts). For handing a node back
   * its own readings (return-fetch.ts); readings kept without a proof of their own (stores older
   * than whole parts) are left out.
   */
  async heldOf(owner: number, stream: string, node: string, q: { fromWindow: number; toWindow: number; afterSeq: number; limit: number }): Promise<{ items: ReadingItem[]; more: boolean }> {
    const found: { seq: number; item: ReadingItem }[] = [];
    // A scan cut short at `limit` readings holds more past its last seq: nothing beyond that is answered now.
    let bound = Infinity;
    const scan = async (gte: Buffer, end: Buffer, itemOf: (v: Buffer) => ReadingItem | undefined, windowOf?: (v: Buffer) => number) => {
      let n = 0;
      for await (const v of this.db.values({ gte, lt: after(end) })) {
        // Parts before the windows asked for are passed over undecoded.
        if (windowOf !== undefined && windowOf(v) < q.fromWindow) continue;
        const item = itemOf(v);
        if (item === undefined || item.proof.window < q.fromWindow) continue;
        if (item.proof.window > q.toWindow) break;
        const seq = item.kind === "run" ? item.proof.seqs[0]! : item.proof.seq;
        if (n >= q.limit) {
          bound = Math.min(bound, seq - 1);
          break;
        }
        found.push({ seq, item });
        n += item.kind === "run" ? item.readings.length : 1;
      }
    };
    await scan(keyOf.part(owner, stream, node, q.afterSeq + 1), Buffer.concat([keyOf.parts(owner, stream), addr(node)]), (v) => decodePart(v, stream).item, partWindow);
    await scan(keyOf.reading(owner, stream, node, q.afterSeq + 1), Buffer.concat([keyOf.stream(owner, stream), addr(node)]), (v) => {
      const r = JSON.parse(v.toString("utf8")) as ReceivedReading;
      return r.proof === undefined ? undefined : { kind: "one", reading: r.reading, proof: r.proof, ...(r.origin.tx ? { tx: r.origin.tx } : {}) };
    });
    found.sort((a, b) => a.seq - b.seq);
    const items = found.filter((f) => f.seq <= bound).map((f) => f.item);
    return { items, more: bound !== Infinity };
  }

  /** How many readings of `owner`'s `stream` are held. */
  async count(owner: number, stream: string): Promise<number> {
    return this.countUnder(keyOf.parts(owner, stream), keyOf.stream(owner, stream));
  }

  /** Every received reading (all owners), for the status summary. */
  async total(): Promise<number> {
    return this.countUnder(P("q"), P("r"));
  }

  /** Readings in the parts under `parts` and alone under `alone` (key prefixes). */
  private async countUnder(parts: Buffer, alone: Buffer): Promise<number> {
    let n = 0;
    for await (const value of this.db.values({ gt: parts, lt: after(parts) })) n += partCount(value);
    for await (const _ of this.db.keys({ gt: alone, lt: after(alone) })) n++;
    return n;
  }

  /**
   * Parts of runs ("run") or readings stored alone with their own proof ("one"), in key order
   * (owner, stream, node, seq), from the first key after `after`: node/retention/received.ts
   * prunes by them. Readings of older stores kept without their own proof are left out.
   */
  async *entries(kind: "run" | "one", after?: Buffer): AsyncGenerator<HeldEntry> {
    const prefix = P(kind === "run" ? "q" : "r");
    for await (const [key, value] of this.db.iterator({ gt: after ?? prefix, lt: Buffer.from([prefix[0]! + 1]) })) {
      const owner = key.readUInt32BE(1);
      const len = key[5]!;
      const stream = key.toString("utf8", 6, 6 + len);
      const group = key.subarray(0, 6 + len + 20);
      if (kind === "run") {
        const { origin, item } = decodePart(value, stream);
        yield { key, group, owner, stream, origin, item };
      } else {
        const r = JSON.parse(value.toString("utf8")) as ReceivedReading;
        if (r.proof) yield { key, group, owner, stream, origin: r.origin, item: { kind: "one", reading: r.reading, proof: r.proof } };
      }
    }
  }

  /** The range proof of a run received whole by a node before parts were kept whole (older stores). */
  async runProof(node: string, window: number, stream: string): Promise<ReadingRangeProof | undefined> {
    const v = await this.db.get(keyOf.run(node, window, stream));
    return v === undefined ? undefined : (JSON.parse(v.toString("utf8")) as ReadingRangeProof);
  }

  /** The last seq of `stream` received from `peer` as a follower (0 when none). */
  async cursor(peer: string, stream: string): Promise<number> {
    const v = await this.db.get(keyOf.cursor(peer, stream));
    return v === undefined ? 0 : (JSON.parse(v.toString("utf8")) as { lastSeq: number }).lastSeq;
  }

  async report(r: MisbehaviourReport): Promise<void> {
    await this.db.put(keyOf.report(r.peer, r.at), json(r), { sync: true });
  }

  async reports(): Promise<MisbehaviourReport[]> {
    const out: MisbehaviourReport[] = [];
    for await (const v of this.db.values({ gte: P("b"), lt: P("c") })) out.push(JSON.parse(v.toString("utf8")) as MisbehaviourReport);
    return out;
  }

  /** Records that own event `hash` was announced to `grantee` at `at` (Unix ms). */
  async addOutbox(grantee: number, hash: string, at: number): Promise<void> {
    await this.db.put(keyOf.outbox(grantee, at, hash), Buffer.alloc(0), { sync: true });
  }

  /** Events announced to `grantee` after `since`, oldest first. */
  async outbox(grantee: number, since: number, limit: number): Promise<EventSummary[]> {
    const out: EventSummary[] = [];
    const gt = keyOf.outbox(grantee, since + 1, "");
    const lt = keyOf.outbox(grantee + 1, 0, "");
    for await (const key of this.db.keys({ gte: gt, lt, limit })) {
      out.push({ at: Number(key.readBigUInt64BE(5)), hash: key.toString("utf8", 13) });
    }
    return out;
  }

  /** The last outbox time read from `peer` (0 when none). */
  async eventsCursor(peer: string): Promise<number> {
    const v = await this.db.get(keyOf.eventsCursor(peer));
    return v === undefined ? 0 : (JSON.parse(v.toString("utf8")) as number);
  }

  async setEventsCursor(peer: string, at: number): Promise<void> {
    await this.db.put(keyOf.eventsCursor(peer), json(at), { sync: true });
  }

  async getMeta<T>(name: string): Promise<T | undefined> {
    const v = await this.db.get(keyOf.meta(name));
    return v === undefined ? undefined : (JSON.parse(v.toString("utf8")) as T);
  }

  async setMeta(name: string, value: unknown): Promise<void> {
    await this.db.put(keyOf.meta(name), json(value), { sync: true });
  }
}
