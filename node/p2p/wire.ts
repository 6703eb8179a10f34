/**
 * The compact binary answers of `/tracemesh/fetch/2.0.0` (protocol.ts): what a readings answer
 * costs on the wire, about 30 bytes a reading instead of about 225 in JSON.
 *
 * Every 2.0.0 answer frame starts with one tag byte:
 *   0x00  JSON: any answer other than readings, and refusals (`{ error, detail }`)
 *   0x01  readings, binary:
 *           u8 flags (bit 0: more) | varint grant JSON length | grant JSON (0: none) | varint items
 *           per item: u8 kind
 *             kind 1 (a consecutive part of one stream's run, with one range proof of its leaves):
 *               node (20 bytes) | varint window | varint leafCount | varint start | varint count
 *               | varint firstSeq | u8 has tx | (32 bytes tx) | varint siblings | siblings x 32 bytes
 *               | count x record
 *             kind 2 (one reading with its own proof, rare: readings bound to an event):
 *               varint length | the item as JSON
 * A record (the stream is the one asked for; seqs are firstSeq, firstSeq + 1, ...):
 *   u8 head: bits 0-1 quality, bits 2-3 time source, bits 4-6 value kind, bit 7 an extra byte follows
 *   (u8 extra: bit 0 statusCode follows, bit 1 metric and unit follow; any other bit is refused)
 *   (varint statusCode) (varint length | metric, varint length | unit: 0 = none)
 *   16 bytes salt | zigzag varint sourceTime - previous sourceTime | zigzag varint receivedTime -
 *   previous receivedTime (the first record of an item from 0) | value
 * Value kinds: 0 null, 1 false, 2 true, 3 binary64 (8 bytes, big-endian), 4 string (varint length |
 * UTF-8), 5 integer (zigzag varint, |v| < 2^52). Metric and unit are the previous record's unless
 * given; the first record of an item must give them.
 *
 * Leaf hashes are not sent: the receiver recomputes every leaf from the reading and its salt and
 * checks the range proof against the anchored root (lib/verify-reading.ts), so nothing a peer
 * leaves out or alters can pass. Decoding is strict and bounded by the frame: a malformed frame
 * is a WireError, which the client treats as a lie.
 */
import { getAddress } from "ethers";
import type { Quality, Reading } from "../../lib/reading.ts";
import { PROOF_VERSION, type ReadingRangeProof, hexInto } from "../../lib/verify-reading.ts";
import type { FetchResponse, GrantRef, ReadingItem, RunItem } from "./protocol.ts";

export const TAG_JSON = 0x00;
export const TAG_READINGS = 0x01;
const KIND_RUN = 1;
const KIND_ONE = 2;
const SALT = 16;
/** A record is at least head, salt and two one-byte time deltas. */
const MIN_RECORD = 1 + SALT + 2;
/** Siblings of one range proof: at most two per tree level of a 2^32-leaf tree. */
const MAX_SIBLINGS = 64;

const QUALITIES: readonly Quality[] = ["good", "uncertain", "bad"];
const TIME_SOURCES = [undefined, "server", "receive"] as const;
const enum Kind {
  Null = 0,
  False = 1,
  True = 2,
  F64 = 3,
  String = 4,
  Int = 5,
}
const MAX_INT = 2 ** 52;

/** A frame that is not a well-formed 2.0.0 answer. */
export class WireError extends Error {
  override name = "WireError";
}

// ---------------------------------------------------------------------------------- writing

class Writer {
  private buf = Buffer.allocUnsafe(64 * 1024);
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number): void {
    this.room(1);
    this.buf[this.length++] = v;
  }
  /** Unsigned LEB128 of a safe integer. */
  varint(v: number): void {
    this.room(8);
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.length++] = v;
  }
  zigzag(v: number): void {
    this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  /** 0x-prefixed hex of exactly `n` bytes (salts, hashes): parsed here, no string slicing. */
  hex(h: string, n: number): void {
    this.room(n);
    if (!hexInto(h, this.buf, this.length, n)) throw new WireError(`${h} is not ${n} bytes of hex`);
    this.length += n;
  }
  text(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.varint(b.length);
    this.bytes(b);
  }
  f64(v: number): void {
    this.room(8);
    this.buf.writeDoubleBE(v, this.length);
    this.length += 8;
  }
  done(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

/** The 2.0.0 frame of an answer: readings in binary, anything else as tagged JSON. */
export function encodeAnswer(response: FetchResponse): Buffer {
  if (typeof response !== "object" || response === null || !("type" in response) || response.type !== "readings") {
    return Buffer.concat([Buffer.of(TAG_JSON), Buffer.from(JSON.stringify(response), "utf8")]);
  }
  const w = new Writer();
  w.u8(TAG_READINGS);
  w.u8(response.more ? 1 : 0);
  if (response.grant) w.text(JSON.stringify(response.grant));
  else w.varint(0);
  w.varint(response.items.length);
  for (const item of response.items) {
    if (item.kind === "run") writeRun(w, item);
    else {
      w.u8(KIND_ONE);
      w.text(JSON.stringify(item));
    }
  }
  return w.done();
}

/**
 * One run item alone, in the wire's form (the received store keeps each page of a run so). An
 * item `decodeAnswer` made is answered with the bytes it was decoded from, not encoded again
 * (decoding is deterministic, so they decode to the same item; items are not changed after
 * decoding).
 */
export function encodeRun(item: RunItem): Buffer {
  const kept = decodedFrom.get(item);
  if (kept !== undefined) return Buffer.from(kept.buffer, kept.byteOffset, kept.byteLength);
  const w = new Writer();
  writeRun(w, item);
  return w.done();
}

/** A run item written by `encodeRun`, its readings of `stream`. Throws WireError. */
export function decodeRun(bytes: Uint8Array, stream: string): RunItem {
  const r = new Reader(bytes);
  if (r.u8("the kind") !== KIND_RUN) throw new WireError("not a run item");
  const item = readRun(r, stream, 0);
  if (r.left !== 0) throw new WireError(`${r.left} bytes follow the run`);
  return item;
}

function writeRun(w: Writer, item: RunItem): void {
  const { proof, readings } = item;
  const n = readings.length;
  const stream = readings[0]?.stream;
  proof.seqs.forEach((seq, k) => {
    if (seq !== proof.seqs[0]! + k) throw new WireError(`run of ${stream}: seq ${seq} at ${k} is not consecutive`);
  });
  w.u8(KIND_RUN);
  w.hex(proof.node, 20);
  w.varint(proof.window);
  w.varint(proof.leafCount);
  w.varint(proof.start);
  w.varint(n);
  w.varint(proof.seqs[0] ?? 0);
  if (item.tx) {
    w.u8(1);
    w.hex(item.tx, 32);
  } else w.u8(0);
  w.varint(proof.siblings.length);
  for (const s of proof.siblings) w.hex(s, 32);
  let metric: string | undefined;
  let unit: string | undefined;
  let source = 0;
  let received = 0;
  for (let k = 0; k < n; k++) {
    const r = readings[k]!;
    if (r.stream !== stream) throw new WireError(`a run mixes streams ${stream} and ${r.stream}`);
    const names = k === 0 || r.metric !== metric || r.unit !== unit;
    const status = r.statusCode !== undefined;
    const v = r.quality === "bad" ? null : r.value;
    const kind =
      v === null ? Kind.Null : v === false ? Kind.False : v === true ? Kind.True : typeof v === "string" ? Kind.String : Number.isInteger(v) && Math.abs(v) < MAX_INT ? Kind.Int : Kind.F64;
    const timeSource = r.timeSource === undefined ? 0 : r.timeSource === "server" ? 1 : 2;
    const extra = names || status;
    w.u8(QUALITIES.indexOf(r.quality) | (timeSource << 2) | (kind << 4) | (extra ? 0x80 : 0));
    if (extra) w.u8((status ? 1 : 0) | (names ? 2 : 0));
    if (status) w.varint(r.statusCode!);
    if (names) {
      w.text(r.metric);
      w.text(r.unit ?? "");
      metric = r.metric;
      unit = r.unit;
    }
    w.hex(proof.salts[k]!, SALT);
    if (!Number.isSafeInteger(r.sourceTime) || !Number.isSafeInteger(r.receivedTime)) throw new WireError(`reading ${k} of ${stream} lacks whole-ms source and received times`);
    w.zigzag(r.sourceTime - source);
    w.zigzag(r.receivedTime! - received);
    source = r.sourceTime;
    received = r.receivedTime!;
    if (kind === Kind.F64) w.f64(v as number);
    else if (kind === Kind.Int) w.zigzag(v as number);
    else if (kind === Kind.String) w.text(v as string);
  }
}

// ---------------------------------------------------------------------------------- reading

const utf8 = new TextDecoder("utf-8", { fatal: true });
const HEX_ASCII = Buffer.from("0123456789abcdef", "latin1");
/** "0x" and the hex digits of at most 32 bytes; JS decodes synchronously, so sharing it is safe. */
const hexChars = Buffer.from("0x" + "00".repeat(32), "latin1");

/** Each run item decoded from a frame, with the bytes it was decoded from (its kind byte on). */
const decodedFrom = new WeakMap<RunItem, Uint8Array>();

class Reader {
  o = 0;
  /** Where in the frame the reader is, for error messages only: built when one is thrown. */
  item = -1;
  record = -1;
  private readonly buf: Buffer;
  constructor(private readonly b: Uint8Array) {
    this.buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength); // a view, for hex
  }

  get left(): number {
    return this.b.length - this.o;
  }
  /** `what` named within the current item and reading ("item 0, reading 9's salt"). */
  where(what = ""): string {
    if (this.item < 0) return what;
    const at = this.record < 0 ? `item ${this.item}` : `item ${this.item}, reading ${this.record}`;
    return what === "" ? at : `${at}'s ${what}`;
  }
  private need(n: number, what: string): void {
    if (this.o + n > this.b.length) throw new WireError(`the frame ends inside ${this.where(what)}`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.b[this.o++]!;
  }
  varint(what: string): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (i >= 8) throw new WireError(`${this.where(what)} is a varint longer than 8 bytes`);
      const byte = this.u8(what);
      v += (byte & 0x7f) * scale;
      if (byte < 0x80) break;
      scale *= 0x80;
    }
    if (!Number.isSafeInteger(v)) throw new WireError(`${this.where(what)} exceeds 2^53`);
    return v;
  }
  zigzag(what: string): number {
    const z = this.varint(what);
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return out;
  }
  /** 0x-prefixed hex of the next `n` bytes, made as one flat string (a salt per reading). */
  hex(n: number, what: string): string {
    this.need(n, what);
    let c = 2;
    for (let i = this.o; i < this.o + n; i++) {
      hexChars[c++] = HEX_ASCII[this.b[i]! >> 4]!;
      hexChars[c++] = HEX_ASCII[this.b[i]! & 15]!;
    }
    this.o += n;
    return hexChars.toString("latin1", 0, c);
  }
  text(what: string, max = Infinity): string {
    const n = this.varint(what);
    if (n > max) throw new WireError(`${this.where(what)} is ${n} bytes, more than ${max}`);
    try {
      return utf8.decode(this.bytes(n, what));
    } catch (e) {
      if (e instanceof WireError) throw e;
      throw new WireError(`${this.where(what)} is not valid UTF-8`);
    }
  }
  f64(what: string): number {
    this.need(8, what);
    const v = this.buf.readDoubleBE(this.o);
    this.o += 8;
    return v;
  }
}

const json = (text: string, what: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    throw new WireError(`${what} is not JSON`);
  }
};

/**
 * The answer a 2.0.0 frame holds; readings (of `stream`, the stream asked for) decoded into items
 * with their range proofs. Throws WireError for anything malformed.
 */
export function decodeAnswer(frame: Uint8Array, stream: string): unknown {
  const r = new Reader(frame);
  const tag = r.u8("the tag");
  if (tag === TAG_JSON) {
    let text: string;
    try {
      text = utf8.decode(frame.subarray(1));
    } catch {
      throw new WireError("the JSON answer is not valid UTF-8");
    }
    return json(text, "the answer");
  }
  if (tag !== TAG_READINGS) throw new WireError(`unknown answer tag ${tag}`);
  const flags = r.u8("the flags");
  if ((flags & ~1) !== 0) throw new WireError(`unknown flags ${flags}`);
  const grantLength = r.varint("the grant");
  const grant = grantLength === 0 ? undefined : (json(utf8.decode(r.bytes(grantLength, "the grant")), "the grant") as GrantRef);
  const count = r.varint("the item count");
  if (count > r.left) throw new WireError(`${count} items cannot fit in ${r.left} bytes`);
  const items: ReadingItem[] = [];
  for (let i = 0; i < count; i++) {
    const at = r.o;
    const kind = r.u8("an item kind");
    if (kind === KIND_RUN) {
      const item = readRun(r, stream, i);
      decodedFrom.set(item, frame.subarray(at, r.o));
      items.push(item);
    }
    else if (kind === KIND_ONE) items.push(json(r.text(`item ${i}`), `item ${i}`) as ReadingItem);
    else throw new WireError(`item ${i} is of unknown kind ${kind}`);
  }
  if (r.left !== 0) throw new WireError(`${r.left} bytes follow the last item`);
  return { type: "readings", items, more: (flags & 1) === 1, ...(grant !== undefined ? { grant } : {}) };
}

function readRun(r: Reader, stream: string, i: number): RunItem {
  const at = `item ${i}`;
  r.item = i;
  r.record = -1;
  const node = getAddress(r.hex(20, "node")); // checksummed, as the serving node names itself
  const window = r.varint("window");
  const leafCount = r.varint("leaf count");
  const start = r.varint("start");
  const n = r.varint("reading count");
  const firstSeq = r.varint("first seq");
  if (n === 0 || n * MIN_RECORD > r.left) throw new WireError(`${at}: ${n} readings cannot fit in the ${r.left} bytes left`);
  if (!Number.isSafeInteger(firstSeq + n)) throw new WireError(`${at}: seqs exceed 2^53`);
  const hasTx = r.u8("tx flag");
  if (hasTx > 1) throw new WireError(`${at}: bad tx flag ${hasTx}`);
  const tx = hasTx === 1 ? r.hex(32, "tx") : undefined;
  const siblingCount = r.varint("sibling count");
  if (siblingCount > MAX_SIBLINGS) throw new WireError(`${at}: ${siblingCount} siblings, more than ${MAX_SIBLINGS}`);
  const siblings = Array.from({ length: siblingCount }, () => r.hex(32, "siblings"));
  const readings: Reading[] = new Array(n);
  const seqs: number[] = new Array(n);
  const salts: string[] = new Array(n);
  let metric = "";
  let unit: string | undefined;
  let source = 0;
  let received = 0;
  for (let k = 0; k < n; k++) {
    r.record = k;
    const head = r.u8("");
    const quality = QUALITIES[head & 3];
    const timeSource = TIME_SOURCES[(head >> 2) & 3];
    const kind = (head >> 4) & 7;
    if (quality === undefined || ((head >> 2) & 3) === 3) throw new WireError(`${r.where()}: bad head byte ${head}`);
    const extra = head & 0x80 ? r.u8("") : 0;
    if ((extra & ~3) !== 0) throw new WireError(`${r.where()}: bad extra byte ${extra}`);
    const statusCode = extra & 1 ? r.varint("status code") : undefined;
    if (extra & 2) {
      metric = r.text("metric", 255);
      const u = r.text("unit", 255);
      unit = u === "" ? undefined : u;
    } else if (k === 0) throw new WireError(`${r.where()}: the first reading of an item must name its metric and unit`);
    salts[k] = r.hex(SALT, "salt");
    source += r.zigzag("source time");
    received += r.zigzag("received time");
    let value: Reading["value"];
    switch (kind) {
      case Kind.Null:
        value = null;
        break;
      case Kind.False:
        value = false;
        break;
      case Kind.True:
        value = true;
        break;
      case Kind.F64:
        value = r.f64("value");
        break;
      case Kind.String:
        value = r.text("value", 65_535);
        break;
      case Kind.Int:
        value = r.zigzag("value");
        break;
      default:
        throw new WireError(`${r.where()}: unknown value kind ${kind}`);
    }
    const reading: Reading = { stream, metric, value, sourceTime: source, receivedTime: received, quality };
    if (unit !== undefined) reading.unit = unit;
    if (timeSource !== undefined) reading.timeSource = timeSource;
    if (statusCode !== undefined) reading.statusCode = statusCode;
    readings[k] = reading;
    seqs[k] = firstSeq + k;
  }
  r.item = -1;
  r.record = -1;
  const proof: ReadingRangeProof = { version: PROOF_VERSION, node, window, seqs, salts, start, end: start + n, leafCount, siblings };
  return { kind: "run", readings, proof, ...(tx !== undefined ? { tx } : {}) };
}
