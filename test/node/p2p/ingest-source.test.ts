/**
 * Where an answer of the serving node's reading source (node/p2p/ingest-source.ts) starts, over a
 * stream spread across several anchored windows: a time range starts at the first window that
 * may hold it, a page after `afterSeq` at the next seq (without searching the whole history
 * again), and a cursor before the range does not pull in readings outside it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Reading } from "../../../lib/reading.ts";
import { IngestPipeline } from "../../../node/ingest/pipeline.ts";
import { ProofService } from "../../../node/ingest/proofs.ts";
import { IngestStore } from "../../../node/ingest/store.ts";
import { IngestReadingSource } from "../../../node/p2p/ingest-source.ts";

const NODE = "0x" + "ab".repeat(20);
const STREAM = "oven-2/temperature";
const WINDOWS = 6;
const PER_WINDOW = 10;
const WINDOW_MS = 1000;
const t0 = 1_765_000_000_000;

let dir: string;
let store: IngestStore;
let source: IngestReadingSource;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "tm-ingest-source-"));
  store = await IngestStore.open(dir);
  let now = t0;
  const pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 3), { windowMs: WINDOW_MS, now: () => now });
  for (let w = 0; w < WINDOWS; w++) {
    now = t0 + w * WINDOW_MS;
    const readings = Array.from({ length: PER_WINDOW }, (_, k): Reading => ({ stream: STREAM, metric: "temperature", unit: "Cel", value: w * 100 + k, sourceTime: now + k, quality: "good" }));
    await pipeline.write(readings);
    await pipeline.closeWindow();
  }
  await pipeline.stop();
  const head = await store.head();
  expect(head.lastClosed).toBe(WINDOWS);
  await store.markAnchored(Array.from({ length: WINDOWS }, (_, i) => ({ sequence: i + 1, txHash: "0x" + "11".repeat(32), anchoredAt: Math.ceil(t0 / 1000) + 10 })));
  // Each window closes as its readings arrive (1 ms long): their source times lie up to 9 ms after it.
  source = new IngestReadingSource(store, new ProofService(store, NODE), { clockToleranceMs: 100 });
});

afterAll(async () => {
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The seqs of an answer, in order. */
async function seqsOf(from: number, to: number, afterSeq: number, limit = 1000): Promise<{ seqs: number[]; more: boolean }> {
  const { items, more } = await source.readings({ stream: STREAM, from, to, afterSeq, limit });
  return { seqs: items.flatMap((item) => (item.kind === "run" ? item.proof.seqs : [item.proof.seq])), more };
}
const seqRange = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, k) => first + k);
/** Source time of seq `s` (1-based): window floor((s - 1) / PER_WINDOW), position (s - 1) % PER_WINDOW. */
const timeOf = (s: number) => {
  const w = Math.floor((s - 1) / PER_WINDOW);
  return t0 + w * WINDOW_MS + ((s - 1) % PER_WINDOW);
};

describe("the reading source over several windows", () => {
  it("starts a time range at the first window that may hold it, and holds nothing outside it", async () => {
    const all = await seqsOf(0, Number.MAX_SAFE_INTEGER, 0);
    expect(all.seqs).toEqual(seqRange(1, WINDOWS * PER_WINDOW));
    all.seqs.forEach((s) => expect(timeOf(s)).toBeGreaterThanOrEqual(t0));
    // The range [time of seq 34, time of seq 47): windows 4 and 5 hold it.
    expect((await seqsOf(timeOf(34), timeOf(47), 0)).seqs).toEqual(seqRange(34, 46));
  });

  it("starts a page after the cursor when the cursor is inside the range, and at the range when it is before", async () => {
    const from = timeOf(34);
    const to = timeOf(57);
    // Pages of 5 from the start: each picks up right after the last.
    const paged: number[] = [];
    for (let afterSeq = 0; ; ) {
      const page = await seqsOf(from, to, afterSeq, 5);
      paged.push(...page.seqs);
      if (!page.more || page.seqs.length === 0) break;
      afterSeq = page.seqs.at(-1)!;
    }
    expect(paged).toEqual(seqRange(34, 56));
    // A cursor before the range (in window 2) does not bring in windows 2 and 3.
    expect((await seqsOf(from, to, 15)).seqs).toEqual(seqRange(34, 56));
    // A cursor inside the range starts just after it, found with one lookup (no search of the
    // history: a follow's every page is such a page); one at the end leaves nothing.
    const lookups = vi.spyOn(store, "windowOf");
    expect((await seqsOf(from, to, 40)).seqs).toEqual(seqRange(41, 56));
    expect(lookups).toHaveBeenCalledTimes(1);
    lookups.mockClear();
    await seqsOf(from, to, 0);
    expect(lookups.mock.calls.length).toBeGreaterThan(1);
    lookups.mockRestore();
    expect((await seqsOf(from, to, WINDOWS * PER_WINDOW)).seqs).toEqual([]);
    // A range after every window holds nothing.
    expect((await seqsOf(timeOf(WINDOWS * PER_WINDOW) + WINDOW_MS, Number.MAX_SAFE_INTEGER, 0)).seqs).toEqual([]);
  });
});
