/**
 * Cold single-reading proofs (node/ingest/proofs.ts over node/ingest/store.ts): a group commit is
 * stored in chunks of at most CHUNK_BYTES of records, so a proof reads a small chunk rather than
 * a whole commit; once its window is loaded a proof reads its leaf page, block roots and anchor
 * receipt on the calling thread (a trip to LevelDB's thread pool costs several times such a read)
 * and its chunk on LevelDB's threads, skipping the stream index for a run of a loaded window; and
 * every proof still verifies against the window's root.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { Reading } from "../../../lib/reading.ts";
import { type AnchorView, verifyReading } from "../../../lib/verify-reading.ts";
import { IngestPipeline } from "../../../node/ingest/pipeline.ts";
import { ProofService } from "../../../node/ingest/proofs.ts";
import { repairDataDir } from "../../../node/ingest/repair.ts";
import { loseWindows } from "./support/disk-fault.ts";
import { CHUNK_BYTES, IngestStore, LEAF_PAGE, type WindowRecord, keys, pageBlockRoots, parseChunk } from "../../../node/ingest/store.ts";

const NODE = "0x" + "ce".repeat(20);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const newDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "tm-cold-proofs-"));
  dirs.push(d);
  return d;
};

const STREAMS = ["press-1/force", "press-2/force", "oven/temperature"];
const reading = (stream: string, value: number | string, sourceTime: number): Reading => ({ stream, metric: "m", value, sourceTime, quality: "good" });

/** The chain as the node anchors it: each closed window's root, time range and leaf count. */
async function chainOf(store: IngestStore): Promise<AnchorView> {
  const windows = new Map<bigint, WindowRecord>();
  for (let w = 1; w <= (await store.head()).lastClosed; w++) windows.set(BigInt(w), (await store.window(w))!);
  return {
    getAnchor: async (node, seq) => {
      const w = node.toLowerCase() === NODE ? windows.get(seq) : undefined;
      return w && { root: w.root, fromTimeMs: w.fromTimeMs, toTimeMs: w.toTimeMs, anchoredAt: Math.ceil(w.toTimeMs / 1000), leafCount: w.leafCount };
    },
  };
}

async function expectProven(proofs: ProofService, chain: AnchorView, stream: string, seq: number) {
  const proven = await proofs.proveReading(stream, seq);
  expect(proven, `${stream} #${seq}`).toBeDefined();
  expect(proven!.seq).toBe(seq);
  expect(proven!.reading.stream).toBe(stream);
  expect(await verifyReading(proven!.reading, proven!.proof, chain), `${stream} #${seq}`).toEqual({ ok: true });
  return proven!;
}

describe("cold single-reading proofs", () => {
  it("stores a large group commit as chunks of at most CHUNK_BYTES of records, rebuilds an open window from them, and proves every reading", async () => {
    const dir = newDir();
    let store = await IngestStore.open(dir);
    let pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 5), { windowMs: 3_600_000, closeOnStop: false });
    const t0 = Date.now() - 10_000;
    // One commit of 1,500 readings (about 60 KB), with one reading larger than a chunk in the middle.
    const first = Array.from({ length: 1500 }, (_, i) => reading(STREAMS[i % 3]!, i === 700 ? "x".repeat(CHUNK_BYTES + 100) : i, t0 + i));
    await pipeline.write(first);
    await pipeline.stop();
    await store.close();
    // The open window is rebuilt from its chunks at open, and goes on.
    store = await IngestStore.open(dir);
    pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 5), { windowMs: 3_600_000 });
    await pipeline.write(Array.from({ length: 600 }, (_, i) => reading(STREAMS[i % 3]!, i, t0 + 2000 + i)));
    await pipeline.stop();

    const record = (await store.window(1))!;
    expect(record.leafCount).toBe(2100);
    const chunks: Buffer[] = [];
    for await (const { value } of store.chunks(1)) chunks.push(value);
    expect(chunks.length).toBeGreaterThan(4);
    expect(record.parts).toBe(chunks.length);
    const next = new Map<string, number>();
    for (const value of chunks) {
      const { sections } = parseChunk(value);
      const bytes = sections.reduce((n, s) => n + s.bytes, 0);
      // A chunk holds at most CHUNK_BYTES of records, unless it is one record larger than that.
      if (bytes > CHUNK_BYTES) expect(sections.map((s) => s.count)).toEqual([1]);
      // Each stream's sections follow on from each other across chunks.
      for (const s of sections) {
        expect(s.firstSeq).toBe(next.get(s.stream) ?? 1);
        next.set(s.stream, s.firstSeq + s.count);
      }
    }
    expect([...next.values()]).toEqual([701, 701, 701]);

    const chain = await chainOf(store);
    const proofs = new ProofService(store, NODE);
    for (const stream of STREAMS) for (let seq = 1; seq <= 700; seq++) await expectProven(proofs, chain, stream, seq);
    expect((await expectProven(proofs, chain, STREAMS[1]!, 234)).reading.value).toBe("x".repeat(CHUNK_BYTES + 100));
    expect(await proofs.proveReading(STREAMS[0]!, 701)).toBeUndefined();
    await store.close();
  });

  it("reads three small values on this thread and at most its chunk on LevelDB's threads once a proof's window is loaded, and finds runs of loaded windows without the stream index", async () => {
    const dir = newDir();
    const store = await IngestStore.open(dir);
    const pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 6), { windowMs: 3_600_000, maxWindowReadings: 300 });
    const t0 = Date.now() - 10_000;
    for (let i = 0; i < 1200; i += 100) await pipeline.write(Array.from({ length: 100 }, (_, k) => reading(STREAMS[(i + k) % 3]!, i + k, t0 + i + k)));
    await pipeline.stop();
    expect((await store.head()).lastClosed).toBe(4);
    await store.markAnchored([{ sequence: 2, txHash: "0x" + "11".repeat(32), blockNumber: 7, anchoredAt: 1 }]);
    const chain = await chainOf(store);

    const proofs = new ProofService(store, NODE);
    const windowOf = vi.spyOn(store, "windowOf");
    const seek = vi.spyOn(store.db, "iterator");
    const get = vi.spyOn(store.db, "get");
    const getMany = vi.spyOn(store.db, "getMany");
    const getSync = vi.spyOn(store.db, "getSync");
    // Window 2 holds seqs 101..200 of each stream: its first proof loads it.
    const a = await expectProven(proofs, chain, STREAMS[0]!, 150);
    expect(a.proof.window).toBe(2);
    expect(a.anchor).toEqual({ sequence: 2, txHash: "0x" + "11".repeat(32), blockNumber: 7, anchoredAt: 1 });
    expect(windowOf).toHaveBeenCalledTimes(1);
    for (const spy of [windowOf, seek, get, getMany, getSync]) spy.mockClear();
    // Its other runs' readings, first and last of each: no stream index seek; block roots, leaf
    // page and anchor receipt read on this thread, the chunk (unless a proof before read it) on
    // LevelDB's thread pool.
    for (const stream of STREAMS) {
      for (const seq of [101, 200]) {
        const p = await expectProven(proofs, chain, stream, seq);
        expect(p.proof.window).toBe(2);
      }
    }
    expect(windowOf).not.toHaveBeenCalled();
    expect(seek).not.toHaveBeenCalled();
    expect(getMany).not.toHaveBeenCalled();
    expect(getSync).toHaveBeenCalledTimes(3 * 6);
    expect(get.mock.calls.length).toBeGreaterThan(0);
    expect(get.mock.calls.length).toBeLessThanOrEqual(6);
    // Readings just outside the loaded window's runs come from the stream index, in their own windows.
    expect((await expectProven(proofs, chain, STREAMS[2]!, 100)).proof.window).toBe(1);
    expect((await expectProven(proofs, chain, STREAMS[2]!, 201)).proof.window).toBe(3);
    expect(windowOf).toHaveBeenCalledTimes(2);
    // Not held: past the last closed window, and no such stream.
    expect(await proofs.proveReading(STREAMS[1]!, 401)).toBeUndefined();
    expect(await proofs.proveReading("no/such", 150)).toBeUndefined();
    // Not sequence numbers: nothing is held (not a leaf index between two readings).
    for (const seq of [150.5, 0, -3, Number.NaN, 2 ** 60]) expect(await proofs.proveReading(STREAMS[0]!, seq), String(seq)).toBeUndefined();
    // A forgotten window (retention rewrote it) is looked up in the store again.
    proofs.forget(2);
    windowOf.mockClear();
    expect((await expectProven(proofs, chain, STREAMS[1]!, 120)).proof.window).toBe(2);
    expect(windowOf).toHaveBeenCalledTimes(1);
    await store.close();
  });

  it("refuses a proof from block roots that do not match their leaves, and repair writes the block index again", async () => {
    const dataDir = newDir();
    const dir = path.join(dataDir, "db");
    let store = await IngestStore.open(dir);
    const pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 8), { windowMs: 3_600_000 });
    const t0 = Date.now() - 10_000;
    await pipeline.write(Array.from({ length: 3 * LEAF_PAGE }, (_, i) => reading(STREAMS[i % 3]!, i, t0 + i))); // window 1: three leaf pages
    await pipeline.stop();
    const chain = await chainOf(store);
    // Each stream's run fills one page: the run on page 0, and the one on page 1.
    const { runs } = (await store.window(1))!;
    const onPage = (p: number) => runs.find((r) => r.leafStart === p * LEAF_PAGE)!.stream;
    const good = (await store.blockRoots(1, 0))!;
    const altered = Buffer.from(good);
    altered[40]! ^= 1; // the second block's root: seq 40 of the run on page 0 is leaf 39, in that block
    await store.db.put(keys.blockRoots(1, 0), altered);
    await store.db.del(keys.blockRoots(1, 1)); // lost: the proof builds the whole page instead
    let proofs = new ProofService(store, NODE);
    await expect(proofs.proveReading(onPage(0), 40)).rejects.toThrow(/window 1 leaf page 0: its block roots do not match its leaves and the window's page root: the reading store is damaged \(run the node's repair\)/);
    await expectProven(proofs, chain, onPage(1), 500);
    await store.close();

    const report = await repairDataDir(dataDir);
    expect(report.windows.blockRootsRestored).toBe(2);
    expect(report.windows.damaged).toEqual([]);
    // Written again, and kept across a restart.
    store = await IngestStore.open(dir);
    for (let p = 0; p < 3; p++) expect(await store.blockRoots(1, p)).toEqual(pageBlockRoots((await store.leafPage(1, p))!));
    proofs = new ProofService(store, NODE);
    await expectProven(proofs, chain, STREAMS[0]!, 40);
    await expectProven(proofs, chain, onPage(1), 500);
    await store.close();
    expect((await repairDataDir(dataDir)).windows.blockRootsRestored).toBe(0);
  });

  it("says a reading its store lost is unavailable and how its operator gets it back, rather than failing internally", async () => {
    const dir = newDir();
    let store = await IngestStore.open(dir);
    const pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 9), { windowMs: 3_600_000 });
    const t0 = Date.now() - 10_000;
    await pipeline.write(Array.from({ length: 30 }, (_, i) => reading(STREAMS[i % 3]!, i, t0 + i)));
    await pipeline.closeWindow();
    await pipeline.write(Array.from({ length: 30 }, (_, i) => reading(STREAMS[i % 3]!, i, t0 + 100 + i)));
    await pipeline.stop();
    await store.close();
    // Window 1's readings lost (a disk fault, after repair); window 2 whole.
    await loseWindows(dir, [], [1]);
    store = await IngestStore.open(dir);
    try {
      const proofs = new ProofService(store, NODE);
      const lost = { code: "unavailable", message: expect.stringMatching(/window 1 .*the node's reading store lost it .*npm run node -- repair --config FILE --from-partners/) };
      await expect(proofs.proveReading(STREAMS[0]!, 3)).rejects.toMatchObject(lost);
      await expect(proofs.proveRun(STREAMS[0]!, 1)).rejects.toMatchObject(lost);
      expect(await proofs.proveReading(STREAMS[0]!, 13)).toMatchObject({ seq: 13, proof: { window: 2 } });
    } finally {
      await store.close();
    }
  });
});
