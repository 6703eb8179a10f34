/**
 * The canonical bytes of a plant-floor reading: what its Merkle leaf commits to
 * (leaf hash = SHA-256(0x00 || canonical bytes), lib/merkle.ts). The node encodes each reading once
 * at ingest; anyone holding the reading, its stream sequence number and its salt re-encodes it
 * here and gets the same bytes, so node, gateway, explorer and partners share this one definition.
 *
 * Format, version 2. Big-endian; every field has a fixed position or a length prefix, so the
 * encoding is injective and there is exactly one encoding per normalised reading (`decodeReading`
 * refuses anything `encodeReading` would not produce).
 *
 *   size  field
 *   1     tag 0x52 ("R": a reading; other record kinds get other tags)
 *   1     format version 0x01
 *   16    salt: per-reading secret from the node (see below)
 *   1+n   stream id: length n (1..255), UTF-8
 *   8     seq: the reading's sequence number in its stream, uint64 (1, 2, 3, ...)
 *   1+n   metric: length n (1..255), UTF-8
 *   1+n   unit: length n (0..255; 0 = no unit), UTF-8 (UCUM code)
 *   8     sourceTime: Unix milliseconds, uint64 (the device's time, as the protocol delivered it)
 *   8     receivedTime: Unix milliseconds, uint64: the node's clock when it took the reading into
 *         its window. The pipeline chooses it inside that window's [fromTimeMs, toTimeMs), so the
 *         window check holds by construction whatever the device's clock or the delivery lag;
 *         receivedTime - sourceTime is the reading's lateness (negative: the device clock runs ahead).
 *   1     quality: 0 good, 1 uncertain, 2 bad
 *   1     flags: bit 0 statusCode present; bits 1-2 time source: 0 the device's own clock,
 *         1 a server or payload timestamp, 2 the node's receive time (Reading.timeSource); bit 3
 *         historical (Reading.historical: delivered late by design, from the device's store and
 *         forward); the other bits are 0. A live reading timed by its device with no status code
 *         has flags 0, so readings without the flag keep the bytes they had before it existed.
 *   (4)   statusCode, uint32, only when present
 *   1     value kind: 0 null, 1 false, 2 true, 3 number, 4 string
 *   (8)   number: IEEE 754 binary64
 *   (2+n) string: length n (0..65535), UTF-8
 *
 * Normalisation (applied by `encodeReading`, so a verifier re-encoding the reading it was handed
 * gets the node's bytes):
 *  - stream, metric and unit are taken byte-exact (no Unicode normalisation); they must be
 *    well-formed Unicode without control characters; an empty unit means no unit;
 *  - sourceTime and receivedTime are rounded down to a whole millisecond and must lie in [0, 2^53);
 *  - a number value -0 becomes 0 and every NaN becomes the one quiet NaN 0x7ff8000000000000;
 *    infinities are kept;
 *  - a reading of quality "bad" carries no value (lib/reading.ts): its value is encoded as null;
 *  - statusCode, when present, is a uint32 (OPC UA StatusCode).
 *
 * The salt: a reading's canonical bytes are low-entropy (known stream, near-known time, a value
 * from a narrow range), and a Merkle proof hands out the leaf hashes of neighbouring readings; an
 * unsalted leaf hash could be brute-forced back to the reading. Each reading therefore carries 16
 * bytes only the node can derive (node/ingest/salt.ts); the node reveals a reading's salt only
 * with that reading, so its proof reveals nothing about its neighbours.
 */
import { leafHash, leafHashInto } from "./merkle.ts";
import type { Quality, Reading } from "./reading.ts";
import { TracemeshError } from "./errors.ts";

export const READING_TAG = 0x52;
export const CANONICAL_READING_VERSION = 2;
export const SALT_BYTES = 16;
export const MAX_NAME_BYTES = 255;
export const MAX_STRING_VALUE_BYTES = 65_535;
/** Largest canonical encoding of a reading (all names and a string value at their limits). */
export const MAX_CANONICAL_BYTES = 2 + SALT_BYTES + 3 * (1 + MAX_NAME_BYTES) + 8 + 8 + 8 + 1 + 1 + 4 + 1 + 2 + MAX_STRING_VALUE_BYTES;
/** Sequence numbers and times must be exact JavaScript integers. */
export const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const QUALITY_CODE: Record<Quality, number> = { good: 0, uncertain: 1, bad: 2 };
const QUALITIES: readonly Quality[] = ["good", "uncertain", "bad"];
type TimeSource = NonNullable<Reading["timeSource"]>;
const TIME_SOURCE_CODE: Record<TimeSource, number> = { server: 1, receive: 2 };
/** Flags bit 3: the reading is historical (Reading.historical). */
const HISTORICAL_FLAG = 0b1000;
const TIME_SOURCES: readonly (TimeSource | "device")[] = ["device", "server", "receive"];

const enum ValueKind {
  Null = 0,
  False = 1,
  True = 2,
  Number = 3,
  String = 4,
}

/** A reading the node refuses, with the field at fault. */
export class ReadingError extends TracemeshError {
  constructor(
    readonly field: string,
    message: string,
    /** Position of the reading in the batch handed to `write`, when known. */
    readonly index?: number,
  ) {
    super("invalid-reading", message);
  }

  /** The same error, placed at `index` of a batch. */
  at(index: number): ReadingError {
    return new ReadingError(this.field, `reading ${index}: ${this.message}`, index);
  }
}

// C0 and C1 control characters (and DEL): never part of an identifier or unit.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

// Stream, metric and unit strings repeat across millions of readings: their validated UTF-8
// encodings are cached. The cache is cleared when full, so memory stays bounded.
const NAME_CACHE_LIMIT = 8192;
const nameCache = new Map<string, Buffer>();

function nameBytes(field: string, value: unknown, optional: boolean): Buffer {
  if (typeof value !== "string") {
    if (optional && value === undefined) return EMPTY;
    throw new ReadingError(field, `${field} must be a string (got ${describe(value)})`);
  }
  const cached = nameCache.get(value);
  if (cached !== undefined) return cached;
  if (value.length === 0) {
    if (optional) return EMPTY;
    throw new ReadingError(field, `${field} must not be empty`);
  }
  if (!isWellFormed(value)) throw new ReadingError(field, `${field} is not well-formed Unicode`);
  if (CONTROL.test(value)) throw new ReadingError(field, `${field} ${JSON.stringify(value)} contains a control character`);
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length > MAX_NAME_BYTES) {
    throw new ReadingError(field, `${field} is ${bytes.length} bytes of UTF-8, more than ${MAX_NAME_BYTES}`);
  }
  if (nameCache.size >= NAME_CACHE_LIMIT) nameCache.clear();
  nameCache.set(value, bytes);
  return bytes;
}

const EMPTY = Buffer.alloc(0);

/** String.prototype.isWellFormed (ES2024; Node 20+): no lone surrogates, so UTF-8 is exact. */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v);
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  return typeof v;
}

function checkSeq(seq: number): void {
  if (!Number.isInteger(seq) || seq < 1 || seq > MAX_SAFE) throw new ReadingError("seq", `seq must be an integer in [1, 2^53) (got ${seq})`);
}

function checkTime(field: "sourceTime" | "receivedTime", t: unknown): number {
  if (typeof t !== "number" || !Number.isFinite(t)) throw new ReadingError(field, `${field} must be a finite number of Unix ms (got ${describe(t)})`);
  const time = Math.floor(t);
  if (time < 0 || time > MAX_SAFE) throw new ReadingError(field, `${field} ${t} is outside [0, 2^53)`);
  return time;
}

/**
 * Normalises `input` and writes its canonical bytes into `out` at `offset` (the caller makes
 * room: at most MAX_CANONICAL_BYTES). Returns the end offset. Throws ReadingError for a reading
 * that cannot be normalised; `out` may then hold partial bytes. `receivedTime` is the node's
 * (the ingest pipeline passes the time it assigns; `input.receivedTime` is ignored here).
 */
export function encodeReadingInto(input: Reading, seq: number, salt: Uint8Array, receivedTime: number, out: Buffer, offset: number): number {
  if (input === null || typeof input !== "object") throw new ReadingError("reading", `a reading must be an object (got ${describe(input)})`);
  const stream = nameBytes("stream", input.stream, false);
  const metric = nameBytes("metric", input.metric, false);
  const unit = nameBytes("unit", input.unit, true);
  checkSeq(seq);
  if (salt.length !== SALT_BYTES) throw new ReadingError("salt", `salt must be ${SALT_BYTES} bytes (got ${salt.length})`);

  const time = checkTime("sourceTime", input.sourceTime);
  const received = checkTime("receivedTime", receivedTime);

  const quality = QUALITY_CODE[input.quality];
  if (quality === undefined || !Object.hasOwn(QUALITY_CODE, input.quality)) {
    throw new ReadingError("quality", `quality must be "good", "uncertain" or "bad" (got ${describe(input.quality)})`);
  }
  const status = input.statusCode;
  if (status !== undefined && (!Number.isInteger(status) || status < 0 || status > 0xffff_ffff)) {
    throw new ReadingError("statusCode", `statusCode must be a uint32 (got ${describe(status)})`);
  }

  const timeSource = input.timeSource === undefined ? 0 : TIME_SOURCE_CODE[input.timeSource];
  if (timeSource === undefined || (input.timeSource !== undefined && !Object.hasOwn(TIME_SOURCE_CODE, input.timeSource))) {
    throw new ReadingError("timeSource", `timeSource must be "server" or "receive" when given (got ${describe(input.timeSource)})`);
  }

  if (input.historical !== undefined && typeof input.historical !== "boolean") {
    throw new ReadingError("historical", `historical must be a boolean when given (got ${describe(input.historical)})`);
  }
  const historical = input.historical === true ? HISTORICAL_FLAG : 0;

  let o = offset;
  out[o++] = READING_TAG;
  out[o++] = CANONICAL_READING_VERSION;
  out.set(salt, o);
  o += SALT_BYTES;
  out[o++] = stream.length;
  out.set(stream, o);
  o += stream.length;
  o = writeUint64(out, o, seq);
  out[o++] = metric.length;
  out.set(metric, o);
  o += metric.length;
  out[o++] = unit.length;
  out.set(unit, o);
  o += unit.length;
  o = writeUint64(out, o, time);
  o = writeUint64(out, o, received);
  out[o++] = quality;
  out[o++] = (status === undefined ? 0 : 1) | (timeSource << 1) | historical;
  if (status !== undefined) {
    out.writeUInt32BE(status, o);
    o += 4;
  }

  const value = quality === QUALITY_CODE.bad ? null : input.value;
  if (value === null) {
    out[o++] = ValueKind.Null;
  } else if (value === false) {
    out[o++] = ValueKind.False;
  } else if (value === true) {
    out[o++] = ValueKind.True;
  } else if (typeof value === "number") {
    out[o++] = ValueKind.Number;
    if (Number.isNaN(value)) {
      out.writeUInt32BE(0x7ff8_0000, o);
      out.writeUInt32BE(0, o + 4);
    } else {
      out.writeDoubleBE(value === 0 ? 0 : value, o);
    }
    o += 8;
  } else if (typeof value === "string") {
    if (!isWellFormed(value)) throw new ReadingError("value", "a string value must be well-formed Unicode");
    // UTF-8 takes at most 3 bytes per UTF-16 code unit: check the bound before writing.
    if (value.length * 3 > MAX_STRING_VALUE_BYTES && Buffer.byteLength(value, "utf8") > MAX_STRING_VALUE_BYTES) {
      throw new ReadingError("value", `a string value may hold at most ${MAX_STRING_VALUE_BYTES} bytes of UTF-8`);
    }
    out[o++] = ValueKind.String;
    const n = out.write(value, o + 2, "utf8");
    out.writeUInt16BE(n, o);
    o += 2 + n;
  } else {
    throw new ReadingError("value", `value must be a number, boolean, string or null (got ${describe(value)})`);
  }
  return o;
}

function writeUint64(out: Buffer, o: number, v: number): number {
  out.writeUInt32BE(Math.floor(v / 0x1_0000_0000), o);
  out.writeUInt32BE(v >>> 0, o + 4);
  return o + 8;
}

function readUint64(b: Uint8Array, view: DataView, o: number, field: string): number {
  if (o + 8 > b.length) throw new ReadingError(field, `truncated before ${field}`);
  const hi = view.getUint32(o);
  const lo = view.getUint32(o + 4);
  if (hi > 0x1f_ffff) throw new ReadingError(field, `${field} exceeds 2^53`);
  return hi * 0x1_0000_0000 + lo;
}

// Scratch space for one-off encodings; JS runs encodeReading synchronously, so sharing is safe.
let scratch = Buffer.allocUnsafe(4096);

/**
 * The canonical bytes of `reading` (with the `receivedTime` its node gave it) as stream record
 * `seq` with `salt`. Throws ReadingError, also for a reading without a receivedTime.
 */
export function encodeReading(reading: Reading, seq: number, salt: Uint8Array): Buffer {
  return Buffer.from(encodeToScratch(reading, seq, salt));
}

/** The canonical bytes in the shared scratch space (valid until the next encoding). */
function encodeToScratch(reading: Reading, seq: number, salt: Uint8Array): Buffer {
  if (typeof reading?.value === "string" && reading.value.length * 3 + 1024 > scratch.length) {
    scratch = Buffer.allocUnsafe(MAX_CANONICAL_BYTES);
  }
  return scratch.subarray(0, encodeReadingInto(reading, seq, salt, reading?.receivedTime as number, scratch, 0));
}

/** SHA-256(0x00 || canonical bytes): the reading's Merkle leaf hash. Throws ReadingError. */
export function readingLeafHash(reading: Reading, seq: number, salt: Uint8Array): Buffer {
  return leafHash(encodeReading(reading, seq, salt));
}

/**
 * The reading's leaf hash written into `out` at `offset` (32 bytes), its canonical bytes never
 * copied out of the scratch space: a verifier's per-reading path. Throws ReadingError.
 */
export function readingLeafHashInto(reading: Reading, seq: number, salt: Uint8Array, out: Buffer, offset: number): void {
  leafHashInto(encodeToScratch(reading, seq, salt), out, offset);
}

export interface DecodedReading {
  reading: Reading;
  seq: number;
  salt: Buffer;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

const truncated = (field: string) => new ReadingError(field, `truncated before ${field}`);

/**
 * The last name each field decoded: a window's records repeat their stream, metric and unit, so
 * a repeat is a byte comparison instead of a UTF-8 decode and control-character check (decoding
 * runs once per reading served to partners). JS decodes synchronously, so sharing them is safe.
 */
class LastName {
  bytes: Buffer = EMPTY;
  text = "";
}
const lastStream = new LastName();
const lastMetric = new LastName();
const lastUnit = new LastName();

/** The name of `field` whose length byte is at `o`; undefined for an empty optional name. */
function nameAt(b: Uint8Array, o: number, field: string, optional: boolean, last: LastName): string | undefined {
  if (o >= b.length) throw truncated(field);
  const n = b[o]!;
  if (n === 0) {
    if (optional) return undefined;
    throw new ReadingError(field, `${field} is empty`);
  }
  const from = o + 1;
  if (from + n > b.length) throw truncated(field);
  const known = last.bytes;
  if (known.length === n) {
    let k = 0;
    while (k < n && b[from + k] === known[k]) k++;
    if (k === n) return last.text;
  }
  const s = text(b.subarray(from, from + n), field);
  if (CONTROL.test(s)) throw new ReadingError(field, `${field} contains a control character`);
  last.bytes = Buffer.from(b.subarray(from, from + n));
  last.text = s;
  return s;
}

/**
 * The reading in canonical bytes. Strict: throws ReadingError for anything `encodeReading` would
 * not produce (unknown tag or version, truncation, trailing bytes, invalid UTF-8, non-canonical
 * numbers), so decode and encode are inverse.
 */
export function decodeReading(bytes: Uint8Array): DecodedReading {
  const b = bytes;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 2 + SALT_BYTES) throw truncated("salt");
  if (b[0] !== READING_TAG) throw new ReadingError("tag", `not a reading record (tag 0x${(b[0] ?? 0).toString(16)})`);
  if (b[1] !== CANONICAL_READING_VERSION) throw new ReadingError("version", `unknown canonical reading version ${b[1]}`);
  let o = 2;
  const salt = Buffer.from(b.subarray(o, o + SALT_BYTES));
  o += SALT_BYTES;

  const stream = nameAt(b, o, "stream", false, lastStream)!;
  o += 1 + b[o]!;
  const seq = readUint64(b, view, o, "seq");
  o += 8;
  if (seq < 1) throw new ReadingError("seq", "seq must be at least 1");
  const metric = nameAt(b, o, "metric", false, lastMetric)!;
  o += 1 + b[o]!;
  const unit = nameAt(b, o, "unit", true, lastUnit);
  o += 1 + b[o]!;
  const sourceTime = readUint64(b, view, o, "sourceTime");
  o += 8;
  const receivedTime = readUint64(b, view, o, "receivedTime");
  o += 8;
  if (o + 2 > b.length) throw truncated("quality");
  const quality = QUALITIES[b[o++]!];
  if (quality === undefined) throw new ReadingError("quality", `unknown quality code ${b[o - 1]}`);
  const flags = b[o++]!;
  const timeSource = TIME_SOURCES[(flags >> 1) & 0b11];
  if ((flags & ~(0b111 | HISTORICAL_FLAG)) !== 0 || timeSource === undefined) throw new ReadingError("flags", `bad flags byte ${flags}`);
  let statusCode: number | undefined;
  if ((flags & 1) === 1) {
    if (o + 4 > b.length) throw truncated("statusCode");
    statusCode = view.getUint32(o);
    o += 4;
  }
  if (o + 1 > b.length) throw truncated("value");
  const kind = b[o++]!;
  let value: Reading["value"];
  switch (kind) {
    case ValueKind.Null:
      value = null;
      break;
    case ValueKind.False:
      value = false;
      break;
    case ValueKind.True:
      value = true;
      break;
    case ValueKind.Number: {
      if (o + 8 > b.length) throw truncated("value");
      const hi = view.getUint32(o);
      const lo = view.getUint32(o + 4);
      value = view.getFloat64(o);
      if (Number.isNaN(value) ? hi !== 0x7ff8_0000 || lo !== 0 : hi === 0x8000_0000 && lo === 0) {
        throw new ReadingError("value", "non-canonical number (negative zero or a NaN other than 0x7ff8000000000000)");
      }
      o += 8;
      break;
    }
    case ValueKind.String: {
      if (o + 2 > b.length) throw truncated("value");
      const n = view.getUint16(o);
      o += 2;
      if (o + n > b.length) throw truncated("value");
      value = text(b.subarray(o, o + n), "value");
      o += n;
      break;
    }
    default:
      throw new ReadingError("value", `unknown value kind ${kind}`);
  }
  if (quality === "bad" && value !== null) throw new ReadingError("value", "a bad reading carries no value");
  if (o !== b.length) throw new ReadingError("reading", `${b.length - o} trailing bytes`);

  const reading: Reading = { stream, metric, value, sourceTime, receivedTime, quality };
  if (unit !== undefined) reading.unit = unit;
  if (statusCode !== undefined) reading.statusCode = statusCode;
  if (timeSource !== "device") reading.timeSource = timeSource;
  if ((flags & HISTORICAL_FLAG) !== 0) reading.historical = true;
  return { reading, seq, salt };
}

function text(bytes: Uint8Array, field: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ReadingError(field, `${field} is not valid UTF-8`);
  }
}

/** The stream id and seq of canonical bytes without decoding the rest (for storage scans). */
export function peekStreamSeq(bytes: Uint8Array): { stream: string; seq: number } {
  if (bytes[0] !== READING_TAG || bytes[1] !== CANONICAL_READING_VERSION) throw new ReadingError("tag", `not a version ${CANONICAL_READING_VERSION} reading record`);
  const o = 2 + SALT_BYTES;
  const n = bytes[o] ?? 0;
  const stream = text(bytes.subarray(o + 1, o + 1 + n), "stream");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { stream, seq: readUint64(bytes, view, o + 1 + n, "seq") };
}

/**
 * How late a reading reached its node: receivedTime - sourceTime, ms (negative when the device's
 * clock runs ahead of the node's); undefined for a reading without a receivedTime.
 */
export function readingLagMs(reading: Pick<Reading, "sourceTime" | "receivedTime">): number | undefined {
  return reading.receivedTime === undefined ? undefined : Math.floor(reading.receivedTime) - Math.floor(reading.sourceTime);
}

/** The receivedTime of canonical bytes without decoding the rest (for recovering an open window). */
export function peekReceivedTime(bytes: Uint8Array): number {
  if (bytes[0] !== READING_TAG || bytes[1] !== CANONICAL_READING_VERSION) throw new ReadingError("tag", `not a version ${CANONICAL_READING_VERSION} reading record`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 2 + SALT_BYTES;
  o += 1 + (bytes[o] ?? 0) + 8; // stream, seq
  o += 1 + (bytes[o] ?? 0); // metric
  o += 1 + (bytes[o] ?? 0) + 8; // unit, sourceTime
  return readUint64(bytes, view, o, "receivedTime");
}
