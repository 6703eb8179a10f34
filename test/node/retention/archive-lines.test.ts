/**
 * Archive lines (node/retention/archive.ts) keep a reading's value type through JSON, so the
 * reading read back encodes to the same canonical bytes (and leaf) as the one stored; a line whose
 * value contradicts its valueType is refused.
 */
import { describe, expect, it } from "vitest";
import { encodeReading } from "../../../lib/canonical-reading.ts";
import type { Reading } from "../../../lib/reading.ts";
import { type ArchivedReadingLine, readingLine, readingOfLine } from "../../../node/retention/archive.ts";

const salt = Buffer.alloc(16, 9);
const base: Reading = { stream: "press-1/force", metric: "force", unit: "kN", value: 0, sourceTime: 1_765_000_000_123, receivedTime: 1_765_000_000_456, quality: "good" };

describe("archive lines", () => {
  it("round-trip every kind of value through JSON to the same canonical bytes", () => {
    const values: Reading["value"][] = [1, 1.5, "1", "", true, false, Infinity, -Infinity, NaN, null];
    for (const value of values) {
      const r: Reading = { ...base, value, ...(value === null ? { quality: "bad" as const } : {}), statusCode: 0x80000000, timeSource: "server" };
      const line = JSON.parse(JSON.stringify(readingLine(r, 42, 3, 17, salt))) as ArchivedReadingLine;
      expect(line).toMatchObject({ seq: 42, window: 3, leaf: 17, salt: "0x" + salt.toString("hex") });
      expect(encodeReading(readingOfLine(line), 42, salt).equals(encodeReading(r, 42, salt)), String(value)).toBe(true);
    }
    expect((JSON.parse(JSON.stringify(readingLine({ ...base, value: "1" }, 1, 1, 0, salt))) as ArchivedReadingLine).valueType).toBe("string");
  });

  it("refuses a value that is not what valueType says", () => {
    const line = readingLine({ ...base, value: 5 }, 1, 1, 0, salt);
    expect(() => readingOfLine({ ...line, value: "5" })).toThrow(/not a number as valueType says/);
    expect(() => readingOfLine({ ...line, valueType: "string" })).toThrow(/not a string/);
    expect(() => readingOfLine({ ...line, valueType: "boolean" })).toThrow(/not a boolean/);
    expect(() => readingOfLine({ ...line, valueType: "date" as "number" })).toThrow(/valueType "date" is none of/);
  });
});
