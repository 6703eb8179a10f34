/**
 * Restoring a node's lost windows from the copies partners hold (issue 18; `npm run node --
 * repair --from-partners`, after repair.ts salvaged the store). Partners that followed the
 * node's streams keep verified copies in their received store and hand them back over
 * node/p2p/return-fetch.ts, to the node's own organisation only.
 *
 * Nothing a partner sends is trusted: the chain holds each window's root and leaf count, so
 * every returned reading is checked with its (range) proof against the node's own anchored root,
 * which also fixes its place among the window's leaves. A peer whose answer does not verify
 * (an altered value, a run with a reading left out or added, readings of another node or window,
 * the same leaves given twice) is reported and banned (`onLie`), and nothing more is taken from
 * it; what it sent that verified stays, being exact.
 *
 * What is restored: a window is written back only whole, when every one of its leaves is known
 * (from readings of the node's own that survived and match the window's stored leaves, and from
 * partners), in one atomic batch: its chunk, record, leaves, locator and stream index. A crash
 * leaves it either as it was (reported lost) or whole. A window with leaves still missing is not
 * written at all (its record would claim readings the store does not hold; a proof or audit of
 * it would fail) and is reported with the leaf ranges missing and the streams that partners had
 * none of; what did verify of it is kept apart (`keepDir`, `<dataDir>/refetch-kept/`), so running
 * the command again when other partners are reachable completes it, even from partners never
 * reachable at the same time. Windows not anchored cannot be checked, so nothing is taken for them.
 *
 * Which streams are asked for: a window's own record names its streams; a window whose record is
 * lost may hold any stream the store knows of (its stream index and the other windows' records),
 * so each of those is asked for.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { encodeReading } from "../../lib/canonical-reading.ts";
import { leafHash, merkleRoot } from "../../lib/merkle.ts";
import { type AnchorRecord, type AnchorView, type VerifyFailureReason, type VerifyResult, verifyReading, verifyReadingRange } from "../../lib/verify-reading.ts";
import type { ReadingItem, Refusal } from "../p2p/protocol.ts";
import type { ReturnAnswer, ReturnRequest } from "../p2p/return-fetch.ts";
import { type IngestStore, LEAF_PAGE, type LocatedSection, type Op, type StreamRun, type WindowRecord, ZERO_ROOT, encodeChunk, encodeLocator, keys, pageBlockRoots, parseChunk, sectionRecords } from "./store.ts";

/** A partner that may hold copies of the node's readings. */
export interface Partner {
  peer: string;
  org: number;
  ask(request: ReturnRequest): Promise<ReturnAnswer | Refusal>;
}

export interface RefetchOptions {
  /** The node's anchoring account. */
  node: string;
  anchors: AnchorView;
  partners: Partner[];
  /** A partner's answer failed verification: report and ban it. */
  onLie(peer: string, reason: string): Promise<void>;
  /**
   * Where verified readings of windows not yet complete are kept between runs (one file per
   * window), so partners reachable at different times together complete a window.
   */
  keepDir?: string;
  log(line: string): void;
}

/** A window still lost after the refetch. */
export interface StillLost {
  window: number;
  /** Leaves known (own and returned) of the window's `leafCount`. */
  known: number;
  leafCount: number;
  /** Leaf index ranges [from, to) still missing. */
  missing: [number, number][];
  /** Streams asked for that no partner returned any reading of in this window. */
  streamsNotReturned: string[];
  reason: string;
}

export interface RefetchReport {
  restored: { window: number; readings: number; fromPartners: number }[];
  lost: StillLost[];
  /** Peers whose answers failed verification (reported and banned). */
  lied: { peer: string; reason: string }[];
  /** Peers that refused or could not be asked, with why. */
  refused: { peer: string; reason: string }[];
}

/** One leaf of a window being restored: its canonical bytes, where they came from. */
interface Slot {
  bytes: Buffer;
  stream: string;
  seq: number;
  from: string;
}

interface Pending {
  window: number;
  anchor: AnchorRecord;
  slots: (Slot | undefined)[];
  streams: Set<string>;
  returned: Set<string>;
}

/** Failures that show the answer was altered or forged (the others: the chain not showing the window). */
const LIES: readonly VerifyFailureReason[] = ["reading-altered", "proof-invalid", "wrong-node"];

class Lie extends Error {}
/** A complete set of leaves that is not the anchored window (not its root, not one run per stream): only kept readings can cause it, each returned one verified. */
class RootMismatch extends Error {}

/** Restores what partners return of `windows` (lost, per repair.ts) into `store`; see the header. */
export async function refetchWindows(store: IngestStore, windows: readonly number[], o: RefetchOptions): Promise<RefetchReport> {
  const report: RefetchReport = { restored: [], lost: [], lied: [], refused: [] };
  const known = await knownStreams(store);
  const pending = new Map<number, Pending>();
  // Kept readings of a window no longer lost (restored, then the run ended before its file went) are stale.
  if (o.keepDir !== undefined && existsSync(o.keepDir)) {
    for (const f of readdirSync(o.keepDir)) if (!windows.some((w) => f === path.basename(keptFile(o.keepDir!, w)))) rmSync(path.join(o.keepDir, f), { force: true });
  }
  for (const w of [...new Set(windows)].sort((a, b) => a - b)) {
    const anchor = await o.anchors.getAnchor(o.node, BigInt(w));
    const leafCount = Number(anchor?.leafCount ?? 0);
    if (anchor === undefined) {
      report.lost.push({ window: w, known: 0, leafCount: 0, missing: [], streamsNotReturned: [], reason: "not anchored: nothing a partner returns can be checked" });
      continue;
    }
    const own = await ownSlots(store, w, anchor);
    const kept = o.keepDir === undefined ? 0 : keptSlots(o.keepDir, w, own.slots);
    pending.set(w, { window: w, anchor, slots: own.slots, streams: own.streams ?? new Set(known), returned: new Set() });
    o.log(`window ${w}: ${own.slots.filter((x) => x?.from === "own").length} of ${leafCount} readings survived${kept > 0 ? `, ${kept} kept from an earlier refetch` : ""}; asking partners for the rest`);
  }
  const incomplete = () => [...pending.values()].filter((p) => p.slots.some((s) => s === undefined));

  for (const partner of o.partners) {
    const todo = incomplete();
    if (todo.length === 0) break;
    try {
      for (const stream of [...new Set(todo.flatMap((p) => [...p.streams]))].sort()) {
        for (const [from, to] of ranges(todo.filter((p) => p.streams.has(stream)).map((p) => p.window))) {
          await askRange(partner, stream, from, to, pending, o);
        }
      }
    } catch (e) {
      if (e instanceof Lie) {
        report.lied.push({ peer: partner.peer, reason: e.message });
        o.log(`BANNED ${partner.peer} (organisation ${partner.org}): ${e.message}`);
        await o.onLie(partner.peer, e.message);
      } else {
        report.refused.push({ peer: partner.peer, reason: (e as Error).message });
        o.log(`${partner.peer} (organisation ${partner.org}): ${(e as Error).message}`);
      }
    }
  }

  for (const p of pending.values()) {
    const missing = missingRanges(p.slots);
    if (missing.length > 0) {
      const knownLeaves = p.slots.filter(Boolean).length;
      const streamsNotReturned = [...p.streams].filter((s) => !p.returned.has(s) && !p.slots.some((x) => x?.stream === s)).sort();
      report.lost.push({ window: p.window, known: knownLeaves, leafCount: p.slots.length, missing, streamsNotReturned, reason: `${p.slots.length - knownLeaves} of its ${p.slots.length} readings are held by no partner reached` });
      if (o.keepDir !== undefined) keepSlots(o.keepDir, p);
      continue;
    }
    const slots = p.slots as Slot[];
    try {
      await writeWindow(store, p, await prevRoot(o, p.window));
    } catch (e) {
      if (!(e instanceof RootMismatch)) throw e;
      // Only kept readings can get here (their file changed since): they are dropped and asked
      // again next time; what verified in this run is kept in their place.
      p.slots = p.slots.map((x) => (x?.from === "kept" ? undefined : x));
      if (o.keepDir !== undefined) {
        rmSync(keptFile(o.keepDir, p.window), { force: true });
        keepSlots(o.keepDir, p);
      }
      const known = p.slots.filter(Boolean).length;
      report.lost.push({ window: p.window, known, leafCount: slots.length, missing: missingRanges(p.slots), streamsNotReturned: [], reason: `${(e as Error).message}: the readings kept from an earlier run are dropped` });
      continue;
    }
    if (o.keepDir !== undefined) rmSync(keptFile(o.keepDir, p.window), { force: true });
    const fromPartners = slots.filter((s) => s.from !== "own").length; // returned now or kept from a run before
    report.restored.push({ window: p.window, readings: slots.length, fromPartners });
    o.log(`window ${p.window} restored: ${slots.length} readings (${fromPartners} returned by partners), verified against its anchored root`);
  }
  report.lost.sort((a, b) => a.window - b.window);
  return report;
}

/** Pages through what `partner` holds of `stream` in windows [from, to], placing what verifies. */
async function askRange(partner: Partner, stream: string, from: number, to: number, pending: Map<number, Pending>, o: RefetchOptions): Promise<void> {
  let afterSeq = 0;
  // Leaves this partner gave, per window: giving one twice pads the answer.
  const given = new Map<number, Set<number>>();
  for (;;) {
    const answer = await partner.ask({ v: 1, type: "return", node: o.node, stream, fromWindow: from, toWindow: to, ...(afterSeq > 0 ? { afterSeq } : {}) });
    if ("error" in answer) {
      // Not holding the stream is no refusal of the partner as a whole.
      if (answer.error === "not-found") return;
      throw new Error(`refused: ${answer.error}: ${answer.detail}`);
    }
    let lastSeq = afterSeq;
    for (const item of answer.items) {
      lastSeq = await place(item, partner.peer, stream, from, to, afterSeq, pending, given, o);
      afterSeq = Math.max(afterSeq, lastSeq);
    }
    if (!answer.more) return;
    if (answer.items.length === 0) throw new Lie(`says more readings of ${stream} follow but sends none`);
  }
}

/** Checks one returned item against the chain and places its readings; returns its last seq. Throws Lie. */
async function place(
  item: ReadingItem,
  peer: string,
  stream: string,
  from: number,
  to: number,
  afterSeq: number,
  pending: Map<number, Pending>,
  given: Map<number, Set<number>>,
  o: RefetchOptions,
): Promise<number> {
  const proof = item?.proof;
  if (typeof proof?.node !== "string" || proof.node.toLowerCase() !== o.node.toLowerCase()) throw new Lie(`returned readings of node ${String(proof?.node)} when asked for ${o.node}'s`);
  if (!Number.isSafeInteger(proof.window) || proof.window < from || proof.window > to) throw new Lie(`returned readings of window ${proof.window}, outside the windows ${from}..${to} asked for`);
  const readings = item.kind === "run" ? item.readings : [item.reading];
  const seqs = item.kind === "run" ? item.proof.seqs : [item.proof.seq];
  const salts = item.kind === "run" ? item.proof.salts : [item.proof.salt];
  const start = item.kind === "run" ? item.proof.start : item.proof.index;
  if (readings.some((r) => r?.stream !== stream)) throw new Lie(`returned readings of another stream when asked for ${stream}`);
  if (!Array.isArray(seqs) || seqs.some((s) => !(s > afterSeq))) throw new Lie(`returned readings of ${stream} at or before seq ${afterSeq}, which it already gave`);
  const verdict: VerifyResult = item.kind === "run" ? await verifyReadingRange(item.readings, item.proof, o.anchors, NO_TIME_LIMIT) : await verifyReading(item.reading, item.proof, o.anchors, NO_TIME_LIMIT);
  // A time check failing after the leaves verified still leaves the readings exact (own readings, own windows).
  if (!verdict.ok && LIES.includes(verdict.reason)) throw new Lie(`${stream} window ${proof.window}: ${verdict.reason}: ${verdict.detail}`);
  const p = pending.get(proof.window);
  if (!verdict.ok || p === undefined) return Math.max(...seqs); // not anchored here, or not lost: nothing to place
  const mine = given.get(proof.window) ?? new Set<number>();
  given.set(proof.window, mine);
  readings.forEach((reading, k) => {
    const index = start + k;
    if (mine.has(index)) throw new Lie(`${stream} window ${proof.window}: leaf ${index} returned twice`);
    mine.add(index);
    // What verifies now replaces what an earlier run kept (a kept file is checked only as a whole).
    if (p.slots[index] !== undefined && p.slots[index].from !== "kept") return;
    p.slots[index] = { bytes: encodeReading(reading, seqs[k]!, Buffer.from(salts[k]!.slice(2), "hex")), stream, seq: seqs[k]!, from: peer };
  });
  p.returned.add(stream);
  return Math.max(...seqs);
}

const keptFile = (dir: string, w: number) => path.join(dir, `window-${w}.json`);

/** A kept leaf: its index, canonical bytes (hex), stream and seq. */
type KeptLeaf = [number, string, string, number];

/**
 * Fills `slots` from the readings an earlier run verified for window `w` and kept; returns how
 * many. A kept file is not trusted either: the window is written only when all its leaves give
 * the anchored root (writeWindow), which a changed file cannot.
 */
function keptSlots(dir: string, w: number, slots: (Slot | undefined)[]): number {
  let kept: KeptLeaf[];
  try {
    kept = JSON.parse(readFileSync(keptFile(dir, w), "utf8")) as KeptLeaf[];
  } catch {
    return 0;
  }
  let n = 0;
  for (const [i, hex, stream, seq] of Array.isArray(kept) ? kept : []) {
    if (!Number.isInteger(i) || i < 0 || i >= slots.length || slots[i] !== undefined || typeof hex !== "string" || typeof stream !== "string" || !Number.isSafeInteger(seq)) continue;
    slots[i] = { bytes: Buffer.from(hex, "hex"), stream, seq, from: "kept" };
    n++;
  }
  return n;
}

/** Keeps what is known of an incomplete window for the next run (written whole: a temporary file renamed). */
function keepSlots(dir: string, p: Pending): void {
  const leaves: KeptLeaf[] = [];
  p.slots.forEach((s, i) => {
    if (s !== undefined && s.from !== "own") leaves.push([i, s.bytes.toString("hex"), s.stream, s.seq]);
  });
  if (leaves.length === 0) return;
  mkdirSync(dir, { recursive: true });
  const file = keptFile(dir, p.window);
  writeFileSync(`${file}.tmp`, JSON.stringify(leaves));
  renameSync(`${file}.tmp`, file);
}

/** Windows lost long after the fact are still the node's own: time checks are not what is asked. */
const NO_TIME_LIMIT = { anchorToleranceMs: Number.MAX_SAFE_INTEGER };

/**
 * The leaves of window `w` that the store still holds: readings whose hash is the leaf at their
 * place, when the window's record and leaves survived and give its anchored root. Also the
 * window's streams, when its record names them.
 */
async function ownSlots(store: IngestStore, w: number, anchor: AnchorRecord): Promise<{ slots: (Slot | undefined)[]; streams?: Set<string> }> {
  const slots: (Slot | undefined)[] = new Array(Number(anchor.leafCount)).fill(undefined);
  let record: WindowRecord | undefined;
  let leaves: Buffer | undefined;
  try {
    record = await store.window(w);
    leaves = await store.leaves(w);
  } catch {
    // Damaged: nothing of the window's own is taken.
  }
  if (record === undefined) return { slots };
  const streams = new Set(record.runs.map((r) => r.stream));
  const root = typeof anchor.root === "string" ? anchor.root.toLowerCase() : "0x" + Buffer.from(anchor.root).toString("hex");
  if (leaves === undefined || leaves.length !== slots.length * 32 || "0x" + merkleRoot(leaves).toString("hex") !== root) return { slots, streams };
  try {
    for await (const { value } of store.chunks(w)) {
      for (const section of parseChunk(value).sections) {
        const run = record.runs.find((r) => r.stream === section.stream);
        if (run === undefined) continue;
        sectionRecords(value, section).forEach((bytes, k) => {
          const seq = section.firstSeq + k;
          const index = run.leafStart + seq - run.firstSeq;
          if (index >= run.leafStart && index < run.leafStart + run.count && leafHash(bytes).equals(leaves.subarray(index * 32, index * 32 + 32))) {
            slots[index] = { bytes: Buffer.from(bytes), stream: run.stream, seq, from: "own" };
          }
        });
      }
    }
  } catch {
    // What was placed before the damaged chunk matched its leaves; the rest comes from partners.
  }
  return { slots, streams };
}

/** Every stream the store knows of (its streams' next sequence numbers and its window records). */
async function knownStreams(store: IngestStore): Promise<string[]> {
  const out = new Set((await store.closedNextSeqs()).keys());
  const head = await store.head();
  for (let w = 1; w <= head.lastClosed; w++) {
    const record = await store.window(w).catch(() => undefined);
    for (const r of record?.runs ?? []) out.add(r.stream);
  }
  return [...out];
}

async function prevRoot(o: RefetchOptions, w: number): Promise<string> {
  if (w === 1) return ZERO_ROOT;
  const before = await o.anchors.getAnchor(o.node, BigInt(w - 1));
  if (before === undefined) return ZERO_ROOT;
  return typeof before.root === "string" ? before.root.toLowerCase() : "0x" + Buffer.from(before.root).toString("hex");
}

/** Contiguous runs of window numbers as [from, to] pairs. */
function ranges(windows: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const w of [...windows].sort((a, b) => a - b)) {
    const last = out.at(-1);
    if (last && w === last[1] + 1) last[1] = w;
    else out.push([w, w]);
  }
  return out;
}

function missingRanges(slots: readonly (Slot | undefined)[]): [number, number][] {
  const out: [number, number][] = [];
  slots.forEach((s, i) => {
    if (s !== undefined) return;
    const last = out.at(-1);
    if (last && last[1] === i) last[1] = i + 1;
    else out.push([i, i + 1]);
  });
  return out;
}

/**
 * Writes a complete window back in one atomic batch: the damaged chunks, leaf pages and block
 * roots go, one chunk with a section per run, the record, leaves, locator and stream index come.
 * The root is computed from the leaves and must be the anchored one.
 */
async function writeWindow(store: IngestStore, p: Pending, prev: string): Promise<void> {
  const slots = p.slots as Slot[];
  const w = p.window;
  const leaves = Buffer.concat(slots.map((s) => leafHash(s.bytes)));
  const runs: StreamRun[] = [];
  const runSlots: Slot[][] = [];
  slots.forEach((s, i) => {
    const run = runs.at(-1);
    if (run && run.stream === s.stream && s.seq === run.firstSeq + run.count) {
      run.count++;
      runSlots.at(-1)!.push(s);
    } else {
      if (runs.some((r) => r.stream === s.stream)) throw new RootMismatch(`window ${w}: stream ${s.stream} is not one consecutive run of leaves`);
      runs.push({ stream: s.stream, firstSeq: s.seq, count: 1, leafStart: i });
      runSlots.push([s]);
    }
  });
  const pages = Math.ceil(slots.length / LEAF_PAGE);
  const pageRoots = Buffer.allocUnsafe(pages * 32);
  const ops: Op[] = [];
  for (const [gte, lt] of [
    [keys.chunk(w, 0), keys.chunk(w + 1, 0)],
    [keys.leafPage(w, 0), keys.leafPage(w + 1, 0)],
    [keys.blockRoots(w, 0), keys.blockRoots(w + 1, 0)],
  ] as const) {
    for await (const key of store.db.keys({ gte, lt })) ops.push({ type: "del", key });
  }
  for (let pg = 0; pg < pages; pg++) {
    const page = leaves.subarray(pg * LEAF_PAGE * 32, Math.min(slots.length, (pg + 1) * LEAF_PAGE) * 32);
    const blocks = pageBlockRoots(page);
    merkleRoot(blocks).copy(pageRoots, pg * 32);
    ops.push({ type: "put", key: keys.leafPage(w, pg), value: Buffer.from(page) }, { type: "put", key: keys.blockRoots(w, pg), value: blocks });
  }
  const root = "0x" + merkleRoot(pageRoots).toString("hex");
  const anchored = typeof p.anchor.root === "string" ? p.anchor.root.toLowerCase() : "0x" + Buffer.from(p.anchor.root).toString("hex");
  if (root !== anchored) throw new RootMismatch(`window ${w}: the restored leaves give root ${root}, not the anchored ${anchored}`);
  const { value, offsets } = encodeChunk(
    Number(p.anchor.toTimeMs),
    runs.map((run, i) => ({
      stream: Buffer.from(run.stream, "utf8"),
      firstSeq: run.firstSeq,
      count: run.count,
      bytes: runSlots[i]!.reduce((n, s) => n + 2 + s.bytes.length, 0),
      records: (put) => runSlots[i]!.forEach((s) => put(s.bytes, 0, s.bytes.length)),
    })),
  );
  const locator: LocatedSection[][] = runs.map((run, i) => [{ part: 0, offset: offsets[i]!, count: run.count }]);
  const record: WindowRecord = {
    sequence: w,
    fromTimeMs: Number(p.anchor.fromTimeMs),
    toTimeMs: Number(p.anchor.toTimeMs),
    leafCount: slots.length,
    root,
    prevRoot: prev,
    parts: 1,
    closedAt: Number(p.anchor.toTimeMs),
    runs,
  };
  ops.push({ type: "put", key: keys.chunk(w, 0), value });
  for (const run of runs) {
    ops.push({ type: "put", key: keys.streamIndex(run.stream, run.firstSeq), value: u64(w) });
    // The stream's next sequence number after its closed windows never goes back.
    if ((await store.nextSeq(run.stream)) < run.firstSeq + run.count) ops.push({ type: "put", key: keys.nextSeq(run.stream), value: u64(run.firstSeq + run.count) });
  }
  ops.push(
    { type: "put", key: keys.pageRoots(w), value: pageRoots },
    { type: "put", key: keys.locator(w), value: encodeLocator(locator) },
    // Last in the batch, though the batch lands whole: the record is what presents the window as held.
    { type: "put", key: keys.window(w), value: Buffer.from(JSON.stringify(record), "utf8") },
  );
  await store.write(ops);
}

const u64 = (v: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
};
