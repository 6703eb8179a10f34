/**
 * Retention of readings (node/retention) on a real LevelDB store in a temp dir and a real
 * DataAnchors on an in-process chain: pruning while readings keep arriving, nothing newer than the
 * policy and nothing an event binds lost, archived readings proved against their anchors from the
 * archive files, a tampered archive refused, an interrupted run's segment removed.
 */
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import type { ReadingBinding } from "../../../lib/epcis/readings.ts";
import type { Reading } from "../../../lib/reading.ts";
import { type AnchorView, contractAnchorView, verifyReading } from "../../../lib/verify-reading.ts";
import { ProofService } from "../../../node/ingest/proofs.ts";
import { auditArchive, proveFromArchive, segmentName } from "../../../node/retention/archive.ts";
import { type RetentionRule } from "../../../node/retention/policy.ts";
import { Retention } from "../../../node/retention/prune.ts";
import { anchoringNode, useInProcessAnchors } from "../../helpers/anchor-chains.ts";

const DAY = 86_400_000;
const SPINDLE = "spindle-1/load"; // kept 1 day
const PRESS = "press-1/force"; // kept 1 day, one window bound to an event
const FURNACE = "furnace-1/temperature"; // no policy: kept forever

const reading = (stream: string, value: number | string | null, sourceTime = Date.now()): Reading => ({
  stream,
  metric: stream.split("/")[1]!,
  unit: "%",
  value,
  sourceTime,
  quality: value === null ? "bad" : "good",
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("retention: pruning to the archive under ingestion", () => {
  const env = useInProcessAnchors();
  let view: AnchorView;
  beforeAll(() => {
    view = contractAnchorView(env.anchors);
  });

  async function node(signerKey: "machining" | "steel" | "foundry", rules: RetentionRule[], windowsPerSegment = 4) {
    const dir = env.tempDir("tracemesh-retention-");
    const signer = env.fx.orgs[signerKey].signer;
    const anchoring = await anchoringNode(env, signer, path.join(dir, "db"), Buffer.alloc(32, 7));
    const { store, pipeline, anchorer, proofs } = anchoring;
    const clock = { now: Date.now() };
    const bindings: ReadingBinding[] = [];
    const archiveDir = path.join(dir, "archive");
    const retention = new Retention(store, proofs, { rules, archiveDir, intervalMs: 3_600_000, windowsPerSegment }, {
      node: signer.address,
      bindings: async function* () {
        yield* bindings;
      },
      now: () => clock.now,
      log: () => {},
    });
    const stop = async () => {
      await retention.stop();
      await anchoring.stop();
    };
    return { dir, archiveDir, store, pipeline, anchorer, proofs, retention, clock, bindings, stop, address: signer.address };
  }

  it("archives expired runs while readings arrive, keeps event-bound and newer ones, and proves archived readings against their anchors", async () => {
    const n = await node("machining", [{ stream: "spindle-*", keepMs: DAY }, { stream: PRESS, keepMs: DAY }]);
    try {
      // 10 old windows, 30 readings per stream each; window 3's press readings are bound to an event.
      const PER = 30;
      const bound: { from: number; to: number } = { from: 0, to: 0 };
      for (let w = 1; w <= 10; w++) {
        const t = Date.now();
        const batch: Reading[] = [];
        for (let i = 0; i < PER; i++) batch.push(reading(SPINDLE, w * 1000 + i, t), reading(PRESS, i % 3 === 0 ? `ok-${i}` : w + i / 10, t), reading(FURNACE, i === 5 ? null : 800 + i, t));
        if (w === 3) Object.assign(bound, { from: t, to: t + 1 });
        await n.pipeline.write(batch);
        await n.pipeline.closeWindow();
        await sleep(3);
      }
      n.bindings.push({ stream: PRESS, from: bound.from, to: bound.to, source: "event" });
      await n.anchorer.anchoredUpTo(10);
      await sleep(20);
      // The policy's cutoff falls after the old windows and before everything that arrives now.
      n.clock.now = Date.now() - 10 + DAY;

      let arriving = true;
      let written = 0;
      const ingest = (async () => {
        while (arriving) {
          const t = Date.now();
          await n.pipeline.write([reading(SPINDLE, written, t), reading(PRESS, written, t), reading(FURNACE, written, t)]);
          written++;
          if (written % 10 === 0) await n.pipeline.closeWindow();
          await sleep(1);
        }
      })();
      // Proofs asked while windows are rewritten: a kept reading always proves, an archived one is absent, none fails.
      const proving = (async () => {
        let asked = 0;
        while (arriving) {
          const seq = 1 + (asked++ % (10 * PER));
          const kept = await n.proofs.proveReading(FURNACE, seq);
          expect(kept?.seq).toBe(seq);
          const spindle = await n.proofs.proveReading(SPINDLE, seq);
          if (spindle !== undefined) expect(await verifyReading(spindle.reading, spindle.proof, view)).toEqual({ ok: true });
        }
        return asked;
      })();
      const result = await n.retention.runOnce();
      arriving = false;
      await ingest;
      expect(await proving).toBeGreaterThan(0);
      await n.pipeline.closeWindow();
      const last = n.pipeline.lastClosed;
      await n.anchorer.anchoredUpTo(last);

      // Spindle in all 10 windows and press in 9 (window 3 is bound): archived, in segments of 4 windows.
      expect(result.readings).toBe(10 * PER + 9 * PER);
      expect(result.segments).toBe(3);
      expect(written).toBeGreaterThan(0);
      expect(n.retention.status()).toMatchObject({ prunedReadings: 19 * PER, keptBoundRuns: 1, lastSegment: 3 });

      const checkArchived = async (stream: string, seq: number) => {
        expect(await n.proofs.proveReading(stream, seq)).toBeUndefined();
        const a = await proveFromArchive(n.archiveDir, stream, seq);
        expect(a, `${stream} #${seq} in the archive`).toBeDefined();
        expect(await verifyReading(a!.reading, a!.proof, view)).toEqual({ ok: true });
        return a!;
      };
      const checkStored = async (stream: string, seq: number) => {
        const p = await n.proofs.proveReading(stream, seq);
        expect(p, `${stream} #${seq} in the store`).toBeDefined();
        expect(await verifyReading(p!.reading, p!.proof, view)).toEqual({ ok: true });
        return p!;
      };
      // Every old spindle reading is archived, typed values and all.
      for (let seq = 1; seq <= 10 * PER; seq += 7) expect((await checkArchived(SPINDLE, seq)).reading.value).toBe(Math.floor((seq - 1) / PER + 1) * 1000 + ((seq - 1) % PER));
      const stringValue = await checkArchived(PRESS, 1); // window 1, i = 0: a string value
      expect(stringValue.reading.value).toBe("ok-0");
      expect(stringValue.anchor?.txHash).toMatch(/^0x[0-9a-f]{64}$/);
      // The event-bound press run (window 3) and the furnace (no policy) stay in the store.
      for (let seq = 2 * PER + 1; seq <= 3 * PER; seq++) await checkStored(PRESS, seq);
      for (let seq = 1; seq <= 10 * PER; seq += 11) await checkStored(FURNACE, seq);
      expect((await checkStored(FURNACE, 6)).reading.value).toBeNull();
      // Nothing that arrived during the run was touched: every new reading is in the store.
      for (const stream of [SPINDLE, PRESS, FURNACE]) {
        const first = stream === PRESS ? 10 * PER + 1 : 10 * PER + 1;
        for (let seq = first; seq < first + written; seq++) await checkStored(stream, seq);
      }

      // The store audit verifies what it keeps and counts what moved; the archive audit the rest.
      const audit = await n.proofs.audit(view);
      expect(audit.failures).toEqual([]);
      expect(audit.archived).toBe(19 * PER);
      expect(audit.readings).toBe(10 * PER + PER + 3 * written);
      const archiveAudit = await auditArchive(n.archiveDir, view, { node: n.address });
      expect(archiveAudit).toMatchObject({ segments: 3, readings: 19 * PER, verified: 19 * PER, failures: [] });

      // A second run finds nothing more to do.
      expect(await n.retention.runOnce()).toEqual({ segments: 0, readings: 0 });

      // A tampered copy of the archive: one value changed, one window's leaf page changed.
      const copy = path.join(n.dir, "tampered");
      cpSync(n.archiveDir, copy, { recursive: true });
      const seg1 = path.join(copy, segmentName(1));
      const spindleFile = path.join(seg1, "streams", `${encodeURIComponent(SPINDLE)}.ndjson.gz`);
      const lines = gunzipSync(readFileSync(spindleFile)).toString("utf8").split("\n");
      const changed = JSON.parse(lines[4]!) as { seq: number; value: number };
      lines[4] = JSON.stringify({ ...changed, value: changed.value + 1 });
      writeFileSync(spindleFile, gzipSync(lines.join("\n")));
      const altered = await proveFromArchive(copy, SPINDLE, changed.seq);
      expect(await verifyReading(altered!.reading, altered!.proof, view)).toMatchObject({ ok: false, reason: "reading-altered" });
      const windowsFile = path.join(seg1, "windows.ndjson.gz");
      const wl = gunzipSync(readFileSync(windowsFile)).toString("utf8").split("\n");
      const w2 = JSON.parse(wl[1]!) as { pages: Record<string, string> };
      const page = w2.pages["0"]!;
      w2.pages["0"] = page.slice(0, 64 * 40) + (page[64 * 40] === "0" ? "1" : "0") + page.slice(64 * 40 + 1);
      wl[1] = JSON.stringify(w2);
      writeFileSync(windowsFile, gzipSync(wl.join("\n")));
      const tampered = await auditArchive(copy, view, { node: n.address });
      expect(tampered.verified).toBeLessThan(19 * PER);
      expect(tampered.failures.map((f) => f.reason)).toContain("reading-altered");
      expect(tampered.failures.find((f) => f.reason === "reading-altered")).toMatchObject({ stream: SPINDLE, seq: changed.seq, segment: 1 });
      expect(tampered.failures.some((f) => f.reason === "proof-invalid" && f.detail.includes("window 2"))).toBe(true);
      // A manifest naming a file outside its segment is refused, not followed.
      const manifestFile = path.join(copy, segmentName(2), "manifest.json");
      const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as { streams: { file: string }[] };
      manifest.streams[0]!.file = "../../../../../../etc/hostname";
      writeFileSync(manifestFile, JSON.stringify(manifest));
      expect((await auditArchive(copy, view)).failures.find((f) => f.segment === 2)).toMatchObject({ reason: "archive-malformed", detail: expect.stringMatching(/outside its segment/) });
      // Segments of another node are refused, not verified against this node's name.
      expect((await auditArchive(n.archiveDir, view, { node: env.fx.orgs.steel.signer.address })).failures[0]).toMatchObject({ reason: "archive-malformed" });
    } finally {
      await n.stop();
    }
  });

  it("a proof that raced the rewrite of its window is built again, not answered as a damaged store", async () => {
    const n = await node("foundry", [{ stream: SPINDLE, keepMs: DAY }]);
    try {
      await n.pipeline.write([...Array.from({ length: 20 }, (_, i) => reading(SPINDLE, i)), ...Array.from({ length: 20 }, (_, i) => reading(FURNACE, i))]);
      await n.pipeline.closeWindow();
      await n.anchorer.anchoredUpTo(1);
      // A store whose first chunk read waits until retention has rewritten the window under it.
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let reached!: () => void;
      const waiting = new Promise<void>((r) => (reached = r));
      let first = true;
      const slow = new Proxy(n.store, {
        get(target, prop, receiver) {
          if (prop === "chunk")
            return async (window: number, part: number) => {
              if (first) {
                first = false;
                reached();
                await gate;
              }
              return target.chunk(window, part);
            };
          const v = Reflect.get(target, prop, receiver) as unknown;
          return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      const proofs = new ProofService(slow, n.address, { chunks: 0 });
      const retention = new Retention(n.store, proofs, { ...n.retention.config }, { node: n.address, bindings: async function* () {}, now: () => Date.now() + 2 * DAY, log: () => {} });
      const racing = proofs.proveReading(FURNACE, 7);
      await waiting; // the proof holds the window's old locator
      expect(await retention.runOnce()).toEqual({ segments: 1, readings: 20 });
      release();
      const proven = await racing;
      expect(proven?.reading.value).toBe(6);
      expect(await verifyReading(proven!.reading, proven!.proof, view)).toEqual({ ok: true });
    } finally {
      await n.stop();
    }
  });

  it("drops the leaf pages of windows it archives whole, still proves them from the archive, and removes a segment no store recorded", async () => {
    const n = await node("steel", [{ stream: "*", keepMs: DAY }], 100);
    try {
      for (let w = 1; w <= 3; w++) {
        await n.pipeline.write(Array.from({ length: 1500 }, (_, i) => reading(SPINDLE, i)));
        await n.pipeline.closeWindow();
        await sleep(3);
      }
      await n.anchorer.anchoredUpTo(3);
      expect(await n.store.leafPage(2, 1)).toBeDefined();
      expect(await n.store.blockRoots(2, 1)).toBeDefined();
      // A segment left by a run that died before its store batch: removed, its readings re-archived.
      const stale = path.join(n.archiveDir, segmentName(1));
      mkdirSync(stale, { recursive: true });
      writeFileSync(path.join(stale, "manifest.json"), "{}");
      n.clock.now = Date.now() + DAY;
      expect(await n.retention.runOnce()).toEqual({ segments: 1, readings: 4500 });
      expect(readdirSync(n.archiveDir).sort()).toEqual(["NODE", segmentName(1)]);
      expect(await n.store.leafPage(2, 0)).toBeUndefined();
      expect(await n.store.leafPage(2, 1)).toBeUndefined();
      // Their block roots too: about a byte a reading that nothing reads once the page is gone.
      expect(await n.store.blockRoots(2, 0)).toBeUndefined();
      expect(await n.store.blockRoots(2, 1)).toBeUndefined();
      const chunks = [];
      for await (const c of n.store.chunks(2)) chunks.push(c);
      expect(chunks).toEqual([]);
      expect(await n.store.window(2)).toMatchObject({ sequence: 2, runs: [{ stream: SPINDLE, archived: 1 }] });
      // Leaf 1200 of window 2 sits in its second page: its path needs the page and the page roots.
      const a = await proveFromArchive(n.archiveDir, SPINDLE, 1500 + 1201);
      expect(a!.proof.index).toBe(1200);
      expect(await verifyReading(a!.reading, a!.proof, view)).toEqual({ ok: true });
      expect(await auditArchive(n.archiveDir, view)).toMatchObject({ readings: 4500, verified: 4500, failures: [] });
      expect((await n.proofs.audit(view)).failures).toEqual([]);
      // Another node's retention refuses this node's archive folder instead of numbering segments over it.
      const other = new Retention(n.store, n.proofs, { ...n.retention.config }, { node: env.fx.orgs.machining.signer.address, bindings: async function* () {}, log: () => {} });
      await expect(other.runOnce()).rejects.toThrow(/holds the readings of node 0x[0-9a-f]{40}, not of 0x[0-9a-f]{40}: give each node its own retention.archiveDir/);
    } finally {
      await n.stop();
    }
  });
});
