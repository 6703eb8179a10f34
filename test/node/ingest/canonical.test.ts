/**
 * Canonical reading bytes (lib/canonical-reading.ts) and per-reading salts (node/ingest/salt.ts):
 * golden vectors written out field by field, normalisation, strict decoding, and properties.
 */
import { createCipheriv, createHash, createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ReadingError,
  decodeReading,
  encodeReading,
  peekReceivedTime,
  peekStreamSeq,
  readingLeafHash,
} from "../../../lib/canonical-reading.ts";
import type { Reading } from "../../../lib/reading.ts";
import { SALT_LABEL, SaltDeriver } from "../../../node/ingest/salt.ts";

const hex = (...parts: string[]) => Buffer.from(parts.join("").replace(/\s+/g, ""), "hex");
const utf8 = (s: string) => Buffer.from(s, "utf8").toString("hex");
const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};
const SALT = hex("000102030405060708090a0b0c0d0e0f");

describe("canonical reading bytes, version 2", () => {
  it("golden vector: a good number reading with a unit", () => {
    const reading: Reading = { stream: "furnace-1/temperature", metric: "temperature", unit: "Cel", value: 1234.5, sourceTime: 1700000000123, receivedTime: 1700000004123, quality: "good" };
    const expected = hex(
      "52 02", // tag "R", version 2
      "000102030405060708090a0b0c0d0e0f", // salt
      "15", utf8("furnace-1/temperature"), // stream, 21 bytes
      "000000000000002a", // seq 42
      "0b", utf8("temperature"), // metric
      "03", utf8("Cel"), // unit
      "0000018bcfe5687b", // sourceTime 1700000000123
      "0000018bcfe5781b", // receivedTime 1700000004123: four seconds later
      "00", // good
      "00", // no status code
      "03 40934a0000000000", // number 1234.5
    );
    const bytes = encodeReading(reading, 42, SALT);
    expect(bytes.toString("hex")).toBe(expected.toString("hex"));
    expect(readingLeafHash(reading, 42, SALT).toString("hex")).toBe("54971577856f4c8bdc4bc24309db0edcad3d2ab0ad4f1e991a3c6d9743d7e3b5");
    expect(readingLeafHash(reading, 42, SALT)).toEqual(sha256(Buffer.of(0), expected));
  });

  it("golden vector: a bad reading keeps its status code and carries no value", () => {
    const reading: Reading = { stream: "press-7/force", metric: "force", value: 3.5, sourceTime: 0, receivedTime: 0, quality: "bad", statusCode: 0x8000_0000 };
    const expected = hex(
      "52 02",
      "ffffffffffffffffffffffffffffffff",
      "0d", utf8("press-7/force"),
      "0000000000000001",
      "05", utf8("force"),
      "00", // no unit
      "0000000000000000",
      "0000000000000000",
      "02", // bad
      "01 80000000", // status code present
      "00", // null: a bad reading has no value
    );
    expect(encodeReading(reading, 1, Buffer.alloc(16, 0xff)).toString("hex")).toBe(expected.toString("hex"));
    expect(readingLeafHash(reading, 1, Buffer.alloc(16, 0xff)).toString("hex")).toBe("60c6e37d94e82b871a81865f4f67443ea669e33088d591d08e288d23dfc1bea6");
  });

  it("golden vector: a string value, an empty unit, a fractional time and the largest seq", () => {
    const reading: Reading = { stream: "line-2/state", metric: "state", unit: "", value: "run ✓", sourceTime: 1700000000999.9, receivedTime: 1699999999000.5, quality: "uncertain" };
    const expected = hex(
      "52 02",
      "000102030405060708090a0b0c0d0e0f",
      "0c", utf8("line-2/state"),
      "001fffffffffffff", // 2^53 - 1
      "05", utf8("state"),
      "00", // "" is no unit
      "0000018bcfe56be7", // 1700000000999: rounded down to the millisecond
      "0000018bcfe56418", // 1699999999000, before the source time: a device clock ahead
      "01", // uncertain
      "00",
      "04 0007", utf8("run ✓"), // string, 7 bytes of UTF-8
    );
    expect(encodeReading(reading, 2 ** 53 - 1, SALT).toString("hex")).toBe(expected.toString("hex"));
    expect(readingLeafHash(reading, 2 ** 53 - 1, SALT).toString("hex")).toBe("f9f7861167e8adba8fc4242d3cde11a112f92919d94891b107902cdab2616213");
  });

  it("normalises booleans, null, -0, every NaN and infinities to one encoding each", () => {
    const base = { stream: "s", metric: "m", sourceTime: 1, receivedTime: 2, quality: "good" as const };
    const tail = (value: Reading["value"]) => encodeReading({ ...base, value }, 1, SALT).subarray(2 + 16 + 2 + 8 + 2 + 1 + 8 + 8 + 1 + 1).toString("hex");
    expect(tail(null)).toBe("00");
    expect(tail(false)).toBe("01");
    expect(tail(true)).toBe("02");
    expect(tail(-0)).toBe(tail(0));
    expect(tail(0)).toBe("030000000000000000");
    expect(tail(NaN)).toBe("037ff8000000000000");
    const otherNaN = new Float64Array(new Uint32Array([1, 0x7ff00000]).buffer)[0]!; // a signalling NaN
    expect(Number.isNaN(otherNaN)).toBe(true);
    expect(tail(otherNaN)).toBe("037ff8000000000000");
    expect(tail(Infinity)).toBe("037ff0000000000000");
    expect(tail(-Infinity)).toBe("03fff0000000000000");
  });

  it("decodes what it encodes, and re-encoding the decoded reading gives the same bytes", () => {
    const readings: Reading[] = [
      { stream: "furnace-1/temperature", metric: "temperature", unit: "Cel", value: 1234.5, sourceTime: 1700000000123, receivedTime: 1700000000200, quality: "good", statusCode: 0 },
      { stream: "a", metric: "b", value: null, sourceTime: 5, receivedTime: 5, quality: "bad" },
      { stream: "ü/ß", metric: "模式", value: "", sourceTime: 2 ** 53 - 1, receivedTime: 0, quality: "uncertain" },
      { stream: "x", metric: "y", value: true, sourceTime: 0, receivedTime: 2 ** 53 - 1, quality: "good", unit: "%" },
    ];
    for (const r of readings) {
      const bytes = encodeReading(r, 7, SALT);
      const d = decodeReading(bytes);
      expect(d.seq).toBe(7);
      expect(d.salt).toEqual(SALT);
      expect(d.reading).toEqual(r);
      expect(encodeReading(d.reading, d.seq, d.salt)).toEqual(bytes);
      expect(peekStreamSeq(bytes)).toEqual({ stream: r.stream, seq: 7 });
      expect(peekReceivedTime(bytes)).toBe(r.receivedTime);
    }
  });

  it("refuses readings it cannot normalise, naming the field", () => {
    const ok: Reading = { stream: "s", metric: "m", value: 1, sourceTime: 1, receivedTime: 1, quality: "good" };
    const bad: [Partial<Record<keyof Reading, unknown>>, string][] = [
      [{ stream: "" }, "stream"],
      [{ stream: 5 }, "stream"],
      [{ stream: "a\nb" }, "stream"],
      [{ stream: "x".repeat(256) }, "stream"],
      [{ stream: "\ud800" }, "stream"], // lone surrogate
      [{ metric: undefined }, "metric"],
      [{ unit: 3 }, "unit"],
      [{ unit: "a\u0085" }, "unit"], // C1 control
      [{ sourceTime: -1 }, "sourceTime"],
      [{ sourceTime: NaN }, "sourceTime"],
      [{ sourceTime: 2 ** 53 }, "sourceTime"],
      [{ sourceTime: "1" }, "sourceTime"],
      [{ receivedTime: undefined }, "receivedTime"], // only the node's stored readings are encoded
      [{ receivedTime: -1 }, "receivedTime"],
      [{ receivedTime: 2 ** 53 }, "receivedTime"],
      [{ quality: "ok" }, "quality"],
      [{ quality: "constructor" }, "quality"],
      [{ statusCode: -1 }, "statusCode"],
      [{ statusCode: 2 ** 32 }, "statusCode"],
      [{ value: {} }, "value"],
      [{ value: 1n }, "value"],
      [{ value: "\udc00" }, "value"],
      [{ value: "x".repeat(65_536) }, "value"],
    ];
    for (const [change, field] of bad) {
      let error: unknown;
      try {
        encodeReading({ ...ok, ...change } as Reading, 1, SALT);
      } catch (e) {
        error = e;
      }
      expect(error, `${Object.keys(change).join()} = ${String(Object.values(change)[0]).slice(0, 20)}`).toBeInstanceOf(ReadingError);
      expect((error as ReadingError).field, `${Object.keys(change).join()} = ${String(Object.values(change)[0]).slice(0, 20)}`).toBe(field);
    }
    expect(() => encodeReading(ok, 0, SALT)).toThrow(ReadingError);
    expect(() => encodeReading(ok, 1.5, SALT)).toThrow(ReadingError);
    expect(() => encodeReading(ok, 1, Buffer.alloc(15))).toThrow(ReadingError);
    expect(encodeReading({ ...ok, value: "x".repeat(65_535) }, 1, SALT).length).toBeGreaterThan(65_535);
  });

  it("decoding is strict: anything the encoder would not produce is refused", () => {
    const bytes = encodeReading({ stream: "s", metric: "m", value: 1, sourceTime: 1, receivedTime: 1, quality: "good" }, 1, SALT);
    const mutate = (f: (b: Buffer) => Buffer) => f(Buffer.from(bytes));
    const valueAt = bytes.length - 9;
    const cases: Buffer[] = [
      mutate((b) => ((b[0] = 0x53), b)), // tag
      mutate((b) => ((b[1] = 1), b)), // version 1 (without a receive time)
      mutate((b) => ((b[1] = 3), b)), // version
      bytes.subarray(0, bytes.length - 1), // truncated
      Buffer.concat([bytes, Buffer.of(0)]), // trailing byte
      mutate((b) => ((b[18] = 0), b)), // empty stream
      mutate((b) => (b.fill(0, 21, 29), b)), // seq 0
      mutate((b) => (b.writeUInt32BE(0x8000_0000, valueAt + 1), b.writeUInt32BE(0, valueAt + 5), b)), // -0
      mutate((b) => (b.writeUInt32BE(0x7ff8_0000, valueAt + 1), b.writeUInt32BE(1, valueAt + 5), b)), // other NaN
      mutate((b) => ((b[valueAt] = 9), b)), // value kind
      mutate((b) => ((b[valueAt - 2] = 3), b)), // quality
      mutate((b) => ((b[valueAt - 1] = 0b1_0000), b)), // an undefined flag bit
      mutate((b) => ((b[valueAt - 1] = 0b110), b)), // time source code 3
      mutate((b) => ((b[19] = 0xff), b)), // invalid UTF-8 in the stream
    ];
    for (const c of cases) expect(() => decodeReading(c)).toThrow(ReadingError);
    // A bad reading with a value cannot be produced by the encoder either.
    const badWithValue = mutate((b) => ((b[valueAt - 2] = 2), b));
    expect(() => decodeReading(badWithValue)).toThrow(/bad reading carries no value/);
  });

  it("decodes names that change from one record to the next, each checked as when first seen", () => {
    // The decoder keeps the last name of each field: same-length names that differ must not pass for it.
    const names = ["line-1/a", "line-2/a", "line-1/a", "line-1/b"];
    for (const [k, stream] of names.entries()) {
      const r: Reading = { stream, metric: k % 2 ? "kPa" : "bar", unit: k === 3 ? undefined : "u" + k, value: k, sourceTime: 1, receivedTime: 1, quality: "good" };
      if (r.unit === undefined) delete r.unit;
      expect(decodeReading(encodeReading(r, k + 1, SALT)).reading).toEqual(r);
    }
    const good = encodeReading({ stream: "ab", metric: "m", value: 1, sourceTime: 1, receivedTime: 1, quality: "good" }, 1, SALT);
    decodeReading(good);
    const control = Buffer.from(good);
    control[20] = 0x07; // "a\u0007": same length as the name just decoded
    expect(() => decodeReading(control)).toThrow(/stream contains a control character/);
    const invalid = Buffer.from(good);
    invalid[20] = 0xc3; // a lone UTF-8 lead byte
    expect(() => decodeReading(invalid)).toThrow(/stream is not valid UTF-8/);
    expect(decodeReading(good).reading.stream).toBe("ab");
  });

  it("commits to where the time came from: device, server or receive time differ and round-trip", () => {
    const base = { stream: "s", metric: "m", value: 1, sourceTime: 1, receivedTime: 1, quality: "good" as const };
    const device = encodeReading(base, 1, SALT);
    const server = encodeReading({ ...base, timeSource: "server" }, 1, SALT);
    const received = encodeReading({ ...base, timeSource: "receive", statusCode: 7 }, 1, SALT);
    expect(server.equals(device)).toBe(false);
    expect(server[server.length - 10]).toBe(0b010);
    expect(received[received.length - 14]).toBe(0b101);
    expect(decodeReading(device).reading.timeSource).toBeUndefined();
    expect(decodeReading(server).reading.timeSource).toBe("server");
    expect(decodeReading(received).reading).toMatchObject({ timeSource: "receive", statusCode: 7 });
    expect(() => encodeReading({ ...base, timeSource: "gps" as never }, 1, SALT)).toThrow(/timeSource/);
  });

  it("commits to a historical (store-and-forward) reading: flag bit 3, round-trips, and leaves live readings' bytes as they were", () => {
    const base = { stream: "s", metric: "m", value: 1, sourceTime: 1, receivedTime: 1, quality: "good" as const };
    const live = encodeReading(base, 1, SALT);
    const historical = encodeReading({ ...base, timeSource: "server", historical: true }, 1, SALT);
    expect(encodeReading({ ...base, historical: false }, 1, SALT).equals(live)).toBe(true);
    expect(live[live.length - 10]).toBe(0);
    expect(historical[historical.length - 10]).toBe(0b1010);
    expect(decodeReading(historical).reading).toMatchObject({ historical: true, timeSource: "server" });
    expect(decodeReading(live).reading.historical).toBeUndefined();
    expect(() => encodeReading({ ...base, historical: "yes" as never }, 1, SALT)).toThrow(/historical/);
  });

  it("property: encode is injective and decode inverts it", () => {
    // eslint-disable-next-line no-control-regex
    const name = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !/[\u0000-\u001f\u007f-\u009f]/.test(s) && (s as unknown as { isWellFormed(): boolean }).isWellFormed());
    const reading = fc.record({
      stream: name,
      metric: name,
      unit: fc.option(name, { nil: undefined }),
      value: fc.oneof(fc.constant(null), fc.boolean(), fc.double(), fc.string({ maxLength: 20 }).filter((s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed())),
      sourceTime: fc.integer({ min: 0, max: 2 ** 53 - 1 }),
      receivedTime: fc.integer({ min: 0, max: 2 ** 53 - 1 }),
      quality: fc.constantFrom("good" as const, "uncertain" as const, "bad" as const),
      statusCode: fc.option(fc.integer({ min: 0, max: 0xffff_ffff }), { nil: undefined }),
    });
    const seq = fc.integer({ min: 1, max: 2 ** 53 - 1 });
    const salt = fc.uint8Array({ minLength: 16, maxLength: 16 });
    fc.assert(
      fc.property(reading, seq, salt, reading, seq, (r, s, sa, r2, s2) => {
        const clean = (x: typeof r): Reading => JSON.parse(JSON.stringify(x)) as Reading;
        const a = clean(r);
        const b = clean(r2);
        // JSON cannot carry -0/NaN/Infinity, so compare through the decoder instead.
        if (typeof r.value === "number") a.value = r.value;
        if (typeof r2.value === "number") b.value = r2.value;
        const ea = encodeReading(a, s, sa);
        const d = decodeReading(ea);
        expect(encodeReading(d.reading, d.seq, d.salt)).toEqual(ea);
        const eb = encodeReading(b, s2, sa);
        if (ea.equals(eb)) expect(decodeReading(eb)).toEqual(d);
      }),
      { numRuns: 300 },
    );
  });
});

describe("per-reading salts", () => {
  const secret = Buffer.from("tracemesh test node secret, 32b!");

  /** An independent derivation: HMAC for the stream key, AES-256 of the 128-bit seq (ECB). */
  const reference = (stream: string, seq: number) => {
    const key = createHmac("sha256", secret).update(SALT_LABEL).update(Buffer.of(0)).update(stream, "utf8").digest();
    const block = Buffer.alloc(16);
    block.writeUInt32BE(Math.floor(seq / 2 ** 32), 8);
    block.writeUInt32BE(seq >>> 0, 12);
    const c = createCipheriv("aes-256-ecb", key, null).setAutoPadding(false);
    return Buffer.concat([c.update(block), c.final()]);
  };

  it("golden vectors, equal to AES-256(HMAC-SHA256(secret, label || 0 || stream), seq)", () => {
    const d = new SaltDeriver(secret);
    expect(d.salt("furnace-1/temperature", 1).toString("hex")).toBe("cc9a52175982f131cedf9217a16b949a");
    expect(d.salt("furnace-1/temperature", 2).toString("hex")).toBe("44e4cf32d0b60176d3b52d04555568e8");
    expect(d.salt("press-7/force", 1).toString("hex")).toBe("90631c1ec5dd84ba5ca400a723d356d4");
    for (const [stream, seq] of [["furnace-1/temperature", 1], ["press-7/force", 1], ["s", 2 ** 40 + 7], ["s", 2 ** 53 - 1]] as const) {
      expect(d.salt(stream, seq)).toEqual(reference(stream, seq));
    }
  });

  it("the cached block path gives the same salts as one-off derivation, in any order", () => {
    const d = new SaltDeriver(secret);
    const s = d.forStream("spindle-3/load");
    const seqs = [1, 2, 3, 31, 32, 33, 100, 5, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 64];
    for (const seq of seqs) expect(Buffer.from(s.get(seq))).toEqual(reference("spindle-3/load", seq));
    const all = new Set(Array.from({ length: 500 }, (_, i) => s.get(i + 1).toString("hex")));
    expect(all.size).toBe(500);
  });

  it("another node secret gives unrelated salts", () => {
    const a = new SaltDeriver(secret).salt("s", 1);
    const b = new SaltDeriver(Buffer.from("another node secret of 32 bytes!")).salt("s", 1);
    expect(a).not.toEqual(b);
    expect(() => new SaltDeriver(Buffer.alloc(8))).toThrow(RangeError);
  });
});
