/**
 * The compact readings answers of `/tracemesh/fetch/2.0.0` (node/p2p/wire.ts): every kind of
 * reading comes back with the canonical bytes it was committed with (so its leaf hash is the
 * node's), and malformed frames are refused with what is wrong. (Lying peers over real hosts:
 * protocol.test.ts; bytes on the stream: window-pages.test.ts.)
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { encodeReading } from "../../../lib/canonical-reading.ts";
import type { Reading } from "../../../lib/reading.ts";
import type { RunItem } from "../../../node/p2p/protocol.ts";
import { WireError, decodeAnswer, decodeRun, encodeAnswer, encodeRun } from "../../../node/p2p/wire.ts";

const STREAM = "line-2/torque";
const NODE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const hex = (b: Uint8Array) => "0x" + Buffer.from(b).toString("hex");
const base = { stream: STREAM, metric: "torque", unit: "N.m", quality: "good" as const };

const readings: Reading[] = [
  { ...base, value: 12.5, sourceTime: 1_765_000_000_000, receivedTime: 1_765_000_000_040 },
  { ...base, value: -3, sourceTime: 1_765_000_000_100, receivedTime: 1_765_000_000_090, timeSource: "server" },
  { ...base, value: 2 ** 60, sourceTime: 1_765_000_000_050, receivedTime: 1_765_000_000_200 },
  { ...base, value: Number.NaN, sourceTime: 1_765_000_000_300, receivedTime: 1_765_000_000_300, statusCode: 0x40920000, quality: "uncertain" },
  { ...base, value: Number.NEGATIVE_INFINITY, sourceTime: 1_765_000_000_300, receivedTime: 1_765_000_000_301, timeSource: "receive" },
  { ...base, metric: "doorOpen", unit: undefined, value: true, sourceTime: 1_765_000_000_400, receivedTime: 1_765_000_000_402 },
  { ...base, metric: "doorOpen", unit: undefined, value: false, sourceTime: 1_765_000_000_500, receivedTime: 1_765_000_000_502 },
  { ...base, metric: "label", unit: undefined, value: "Prüfung 検査 ✓", sourceTime: 1_765_000_000_600, receivedTime: 1_765_000_000_602 },
  { ...base, value: null, quality: "bad", statusCode: 0x80000000, sourceTime: 1_765_000_000_700, receivedTime: 1_765_000_000_702 },
  { ...base, value: 0, sourceTime: 0, receivedTime: 1_765_000_000_800 },
];
const salts = readings.map(() => randomBytes(16));
const run: RunItem = {
  kind: "run",
  readings,
  proof: { version: 1, node: NODE, window: 42, seqs: readings.map((_, k) => 1000 + k), salts: salts.map(hex), start: 3, end: 13, leafCount: 20, siblings: [hex(randomBytes(32)), hex(randomBytes(32))] },
  tx: hex(randomBytes(32)),
};
const grant = { id: "0x" + "01".repeat(32), scopeKey: "0x" + "02".repeat(32), kind: 1 };

describe("the 2.0.0 readings wire", () => {
  it("gives back every kind of reading with its committed canonical bytes, the proof and the answer's fields", () => {
    const frame = encodeAnswer({ type: "readings", items: [run], more: true, grant } as never);
    const back = decodeAnswer(frame, STREAM) as { type: string; items: RunItem[]; more: boolean; grant: unknown };
    expect(back).toMatchObject({ type: "readings", more: true, grant });
    const item = back.items[0]!;
    expect(item.tx).toBe(run.tx);
    expect(item.proof).toEqual({ ...run.proof });
    item.readings.forEach((r, k) => expect(hex(encodeReading(r, 1000 + k, salts[k]!))).toBe(hex(encodeReading(readings[k]!, 1000 + k, salts[k]!))));
    expect(item.readings[7]).toEqual(readings[7]);
    expect(item.readings[3]).toMatchObject({ statusCode: 0x40920000, quality: "uncertain" });
    expect(frame.length / readings.length).toBeLessThan(80); // names, strings and statuses vary here: a plain run costs about 30
  });

  it("keeps a decoded run as the bytes it came in, which decode to the same run (the received store's value)", () => {
    const frame = encodeAnswer({ type: "readings", items: [run, run], more: false } as never);
    const back = decodeAnswer(frame, STREAM) as { items: RunItem[] };
    const single = encodeRun(run);
    expect(single.length * 2 + 4).toBe(frame.length); // header | items count | two runs
    for (const item of back.items) {
      expect(hex(encodeRun(item))).toBe(hex(single));
      expect(decodeRun(encodeRun(item), STREAM)).toEqual(item);
    }
    // A sender's redundant encoding (the window, 42, as a two-byte varint) is kept as it came, and decodes the same.
    expect(single[21]).toBe(42); // kind | node (20 bytes) | window
    const verbose = Buffer.concat([single.subarray(0, 21), Buffer.of(42 | 0x80, 0), single.subarray(22)]);
    const item = (decodeAnswer(Buffer.concat([Buffer.of(1, 0, 0, 1), verbose]), STREAM) as { items: RunItem[] }).items[0]!;
    expect(item).toEqual(back.items[0]);
    expect(encodeRun(item)).toEqual(verbose);
    expect(decodeRun(verbose, STREAM)).toEqual(item);
  });

  it("sends refusals and other answers as tagged JSON", () => {
    const refusal = { error: "not-granted", detail: "no grant" };
    expect(encodeAnswer(refusal as never)[0]).toBe(0);
    expect(decodeAnswer(encodeAnswer(refusal as never), STREAM)).toEqual(refusal);
  });

  it("refuses malformed frames, naming what is wrong", () => {
    const frame = encodeAnswer({ type: "readings", items: [run], more: false } as never);
    const bad = (f: Uint8Array) => {
      try {
        decodeAnswer(f, STREAM);
      } catch (e) {
        expect(e).toBeInstanceOf(WireError);
        return (e as Error).message;
      }
      throw new Error("decoded a malformed frame");
    };
    expect(bad(frame.subarray(0, frame.length - 1))).toMatch(/the frame ends inside item 0, reading 9/);
    expect(bad(Buffer.concat([frame, Buffer.of(1)]))).toMatch(/1 bytes follow the last item/);
    expect(bad(Buffer.of())).toMatch(/the frame ends inside the tag/);
    expect(bad(Buffer.of(1, 2, 0, 0))).toMatch(/unknown flags 2/);
    expect(bad(Buffer.of(0, 0xff))).toMatch(/not valid UTF-8/);
    expect(bad(Buffer.of(1, 0, 0, 1, 9))).toMatch(/item 0 is of unknown kind 9/);
    expect(bad(Buffer.of(1, 0, 0, 1, 1, ...Buffer.alloc(20), 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 1))).toMatch(/readings cannot fit/);
    expect(bad(Buffer.of(1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))).toMatch(/longer than 8 bytes/);
    // The first reading must name its metric and unit: clear the head's extra bit of a run's first record.
    const plain = encodeAnswer({ type: "readings", items: [{ ...run, readings: [{ ...readings[0]! }], proof: { ...run.proof, seqs: [1], salts: [run.proof.salts[0]!], end: 4 } }], more: false } as never);
    const at = 4 + 1 + 20 + 5 + 33 + 1 + 64; // answer header | kind | node | window, leaf count, start, count, seq | tx | siblings
    expect(plain[at]! & 0x80).toBe(0x80);
    const stripped = Buffer.concat([plain.subarray(0, at), Buffer.of(plain[at]! & 0x7f), plain.subarray(at + 1 + 1 + 7 + 4)]);
    expect(bad(stripped)).toMatch(/the first reading of an item must name its metric and unit/);
  });
});
