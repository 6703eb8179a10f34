/**
 * Retention of received readings (node/retention/received.ts): a partner's readings, anchored on
 * a real DataAnchors and received with their proofs into a real received store, are pruned by
 * the `followed` rules while the follow keeps writing; the archive opens as gzip'd NDJSON and
 * every archived reading proves against its owner's anchor; a tampered line is named.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import type { Reading } from "../../../lib/reading.ts";
import { type AnchorView, contractAnchorView } from "../../../lib/verify-reading.ts";
import type { ReadingItem } from "../../../node/p2p/protocol.ts";
import { ReceivedStore } from "../../../node/p2p/received-store.ts";
import { segmentName } from "../../../node/retention/archive.ts";
import { Retention } from "../../../node/retention/prune.ts";
import { type ReceivedArchiveManifest, type ReceivedReadingLine, ReceivedRetention, auditReceivedArchive } from "../../../node/retention/received.ts";
import { anchoringNode, useInProcessAnchors } from "../../helpers/anchor-chains.ts";

const DAY = 86_400_000;
const SPINDLE = "spindle-1/load"; // followed, kept 1 day
const FURNACE = "furnace-1/temperature"; // followed, no rule: kept forever
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const reading = (stream: string, value: number, sourceTime: number): Reading => ({ stream, metric: "v", unit: "%", value, sourceTime, quality: "good" });

describe("retention of readings received from followed streams", () => {
  const env = useInProcessAnchors();
  let view: AnchorView;
  const tmp = () => env.tempDir("tracemesh-received-retention-");
  beforeAll(() => {
    view = contractAnchorView(env.anchors);
  });

  /** The partner: a node of `steel` whose windows are anchored, with proofs of its runs. */
  async function partner() {
    const { store, pipeline, anchorer, proofs, stop } = await anchoringNode(env, env.fx.orgs.steel.signer, path.join(tmp(), "db"), Buffer.alloc(32, 9));
    /** Closes one window of `per` readings per stream, anchors it, answers its items as the follow receives them. */
    const window = async (per: number): Promise<Map<string, ReadingItem[]>> => {
      const t = Date.now();
      const batch: Reading[] = [];
      for (let i = 0; i < per; i++) batch.push(reading(SPINDLE, i, t), reading(FURNACE, 800 + i, t));
      await pipeline.write(batch);
      const w = await pipeline.closeWindow();
      await anchorer.anchoredUpTo(pipeline.lastClosed);
      await sleep(3);
      const items = new Map<string, ReadingItem[]>();
      for (const stream of [SPINDLE, FURNACE]) {
        const run = (await proofs.proveRun(stream, pipeline.lastClosed))!;
        items.set(stream, [{ kind: "run", readings: run.readings, proof: run.proof }]);
      }
      // One spindle reading also arrives alone, with its own proof (a fetch by seq).
      const one = (await proofs.proveReading(SPINDLE, (items.get(SPINDLE)![0] as { proof: { seqs: number[] } }).proof.seqs[0]!))!;
      items.get(SPINDLE)!.push({ kind: "one", reading: one.reading, proof: one.proof });
      void w;
      return items;
    };
    return { store, window, stop };
  }

  it("archives expired received readings while the follow writes, keeps the rest, and each archived reading proves against its owner's anchor", async () => {
    const owner = env.fx.orgs.steel.id;
    const p = await partner();
    const dir = tmp();
    const received = await ReceivedStore.open(path.join(dir, "received"));
    const put = async (stream: string, items: ReadingItem[]) =>
      received.putReadings({ peer: "12D3KooWPartner", ownerOrg: owner, stream, items, more: false, lastSeq: 0, count: items.length, unverifiable: [] }, { cursor: false });
    try {
      // Three old windows, then the policy's cutoff, then new windows written while retention runs.
      for (let w = 0; w < 3; w++) for (const [stream, items] of await p.window(40)) await put(stream, items);
      await sleep(20);
      const cutoff = Date.now();
      await sleep(20);
      const newWindows = [await p.window(5)]; // received while retention runs, below
      const spindleBefore = await received.count(owner, SPINDLE);
      const furnaceBefore = await received.count(owner, FURNACE);
      expect(spindleBefore).toBe(3 * 41);

      const archiveDir = path.join(dir, "archive");
      const logs: string[] = [];
      const retention = new Retention(p.store, { forget: () => {} }, {
        rules: [],
        followed: [{ organisation: owner, stream: "spindle-*", keepMs: DAY }, { organisation: owner + 100, stream: "*", keepMs: DAY }],
        archiveDir,
        intervalMs: 3_600_000,
        windowsPerSegment: 10,
      }, { node: "0x" + "11".repeat(20), bindings: async function* () {}, now: () => cutoff + DAY, log: (m) => logs.push(m), maxReadingsPerSegment: 50, received });
      const following = (async () => {
        for (const [stream, items] of newWindows[0]!) await put(stream, items);
        newWindows.push(await p.window(5));
        for (const [stream, items] of newWindows[1]!) await put(stream, items);
      })();
      const result = await retention.runOnce();
      await following;

      // What stays: the new spindle readings, every furnace reading (no rule matches).
      expect(result.readings).toBe(3 * 41);
      expect(await received.count(owner, SPINDLE)).toBe(2 * 6);
      expect(await received.count(owner, FURNACE)).toBe(furnaceBefore + 2 * 5);
      expect((await received.readings(owner, SPINDLE)).every((r) => r.reading.sourceTime > cutoff)).toBe(true);
      expect(retention.status().received).toMatchObject({ prunedReadings: 3 * 41, lastSegment: 3, dir: path.join(archiveDir, "received") });
      expect(logs.join("\n")).toMatch(/archived \d+ received readings to received\/segment-000001/);

      // The archive opens as gzip'd NDJSON: one flat line per reading, with the proof it needs.
      const seg1 = path.join(archiveDir, "received", segmentName(1));
      const manifest = JSON.parse(readFileSync(path.join(seg1, "manifest.json"), "utf8")) as ReceivedArchiveManifest;
      expect(manifest).toMatchObject({ format: "tracemesh-received-archive", version: 1, segment: 1, streams: [{ owner, stream: SPINDLE }] });
      const file = path.join(seg1, manifest.streams[0]!.file);
      const lines = gunzipSync(readFileSync(file)).toString("utf8").trim().split("\n").map((l) => JSON.parse(l) as ReceivedReadingLine);
      expect(lines[0]).toMatchObject({ owner, stream: SPINDLE, valueType: "number", proof: 1 });
      expect(readdirSync(path.join(archiveDir, "received")).filter((n) => n.startsWith("segment-"))).toHaveLength(3);

      const audit = await auditReceivedArchive(path.join(archiveDir, "received"), view);
      expect(audit).toEqual({ segments: 3, readings: 3 * 41, verified: 3 * 41, failures: [] });

      // A changed value fails its run (named by file and the run's first line: a received range
      // proof carries no leaf hashes to tell which reading changed); the other runs still verify.
      const tampered = lines.map((l, i) => (i === 2 ? { ...l, value: 999_999 } : l));
      writeFileSync(file, gzipSync(tampered.map((l) => JSON.stringify(l)).join("\n") + "\n"));
      const after = await auditReceivedArchive(path.join(archiveDir, "received"), view);
      expect(after.failures).toEqual([expect.objectContaining({ segment: 1, file, line: lines.findIndex((l) => l.proof === lines[2]!.proof) + 1, owner, stream: SPINDLE, reason: expect.stringMatching(/reading-altered|proof-invalid/) })]);
      expect(after.verified).toBe(3 * 41 - lines.filter((l) => l.proof === lines[2]!.proof).length);

      // A second run finds nothing more to archive.
      expect((await retention.runOnce()).readings).toBe(0);
    } finally {
      await received.close();
      await p.stop();
    }
  }, 120_000);
});

describe("retention of received readings against a partner dating its readings in the future", () => {
  it("ages an entry by its receipt time when its source times lie ahead, so it cannot keep itself or later entries past the rule", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tracemesh-received-future-"));
    const received = await ReceivedStore.open(path.join(dir, "received"));
    try {
      const node = "0x" + "22".repeat(20);
      const receivedAt = Date.now();
      const run = (first: number, sourceTime: number): ReadingItem => ({
        kind: "run",
        readings: [0, 1].map((k) => ({ ...reading(SPINDLE, k, sourceTime), receivedTime: sourceTime })),
        proof: { version: 1, node, window: first, seqs: [first, first + 1], salts: ["0x" + "01".repeat(16), "0x" + "02".repeat(16)], start: 0, end: 2, leafCount: 2, siblings: [] },
      });
      // The first entry claims a source time ten years ahead; the next is ordinary.
      await received.putReadings({ peer: "p", ownerOrg: 7, stream: SPINDLE, items: [run(1, receivedAt + 3650 * DAY), run(3, receivedAt)], more: false, lastSeq: 4, count: 4, unverifiable: [] }, { now: receivedAt });
      const retention = new ReceivedRetention(received, [{ organisation: 7, stream: "*", keepMs: DAY }], path.join(dir, "archive"));
      expect(await retention.runOnce(receivedAt + DAY / 2)).toEqual({ segments: 0, readings: 0 });
      expect(await retention.runOnce(receivedAt + 2 * DAY)).toEqual({ segments: 1, readings: 4 });
      expect(await received.count(7, SPINDLE)).toBe(0);
    } finally {
      await received.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
