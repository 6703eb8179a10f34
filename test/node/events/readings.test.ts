/**
 * The readings an event binds (node/events/readings.ts) on a real store without a chain: a reading
 * belongs to an event by its source time, so store-and-forward readings (Reading.historical)
 * delivered long after the event's range are found, and readings received in the range but
 * measured outside it are not.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { bindsSourceTime } from "../../../lib/epcis/readings.ts";
import type { Reading } from "../../../lib/reading.ts";
import { boundReadings } from "../../../node/events/readings.ts";
import { IngestPipeline } from "../../../node/ingest/pipeline.ts";
import { ProofService } from "../../../node/ingest/proofs.ts";
import { IngestStore } from "../../../node/ingest/store.ts";

const NODE = "0x" + "cd".repeat(20);
const STREAM = "press-1/force";
const HOUR = 3_600_000;
const dirs: string[] = [];
const stores: IngestStore[] = [];

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const reading = (value: number, sourceTime: number, historical = false): Reading => ({
  stream: STREAM,
  metric: "force",
  unit: "N",
  value,
  sourceTime,
  quality: "good",
  ...(historical ? { historical: true } : {}),
});

describe("readings bound to an event", () => {
  it("binds by source time: a historical reading delivered hours later is found, a reading measured outside the range is not", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tracemesh-bound-"));
    dirs.push(dir);
    const store = await IngestStore.open(dir);
    stores.push(store);
    const start = 1_700_000_000_000;
    let clock = start;
    const pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 3), { windowMs: 1_000, now: () => clock });
    // On time, inside the event's range [start, start + 10 s).
    await pipeline.write([reading(1, start + 100)]);
    await pipeline.closeWindow();
    // Received inside the range, measured an hour before it: not the event's.
    clock = start + 5_000;
    await pipeline.write([reading(2, start - HOUR, true)]);
    await pipeline.closeWindow();
    // The edge node's store and forward, two hours later: measured inside the range.
    clock = start + 2 * HOUR;
    await pipeline.write([reading(3, start + 4_000, true), reading(4, start + 20_000, true)]);
    await pipeline.closeWindow();
    await pipeline.stop();

    const proofs = new ProofService(store, NODE);
    const binding = { stream: STREAM, from: start, to: start + 10_000, source: "event" as const };
    const [bound] = await boundReadings(proofs, [binding]);
    expect(bound!.readings.map((r) => [r.reading.value, r.reading.historical ?? false])).toEqual([
      [1, false],
      [3, true],
    ]);
    expect(bound!.readings.map((r) => r.anchor.sequence)).toEqual([1, 3]);
  });

  it("one rule for serving and for retention: from inclusive, to exclusive", () => {
    const b = { from: 1_000, to: 2_000 };
    expect([999, 1_000, 1_999, 2_000].map((t) => bindsSourceTime(b, t))).toEqual([false, true, true, false]);
  });
});
