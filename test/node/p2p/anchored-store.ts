/**
 * Test data for the fetch protocol: readings of a few streams in one window, its Merkle tree
 * (lib/merkle.ts) really anchored in DataAnchors by the serving organisation's account, served
 * from memory with their proofs. Canonical bytes here are salted JSON; the node's ingest
 * pipeline defines the production encoding.
 */
import { randomBytes } from "node:crypto";
import type { DataAnchors } from "../../../lib/contracts/types/index.js";
import { MerkleTree } from "../../../lib/merkle.ts";
import type { Reading } from "../../../lib/reading.ts";
import type { ProvenReading, ReadingCodec, ReadingStore, WindowSummary } from "../../../node/p2p/protocol.ts";

export const jsonCodec: ReadingCodec = {
  identify(bytes) {
    const r = JSON.parse(Buffer.from(bytes).toString("utf8")) as Reading;
    if (typeof r.stream !== "string" || typeof r.sourceTime !== "number") throw new Error("not a reading");
    return { stream: r.stream, sourceTime: r.sourceTime };
  },
};

const encode = (r: Reading): Buffer => Buffer.from(JSON.stringify({ ...r, salt: randomBytes(16).toString("hex") }));

export class AnchoredMemoryStore implements ReadingStore {
  private held: { reading: Reading; proven: ProvenReading }[] = [];
  private summaries: { stream: string; summary: WindowSummary }[] = [];

  /** Anchors `readings` (one window, any streams) as the next window of `dataAnchors`' signer. */
  async anchorWindow(dataAnchors: DataAnchors, readings: Reading[]): Promise<void> {
    const node = await (dataAnchors.runner as unknown as { getAddress(): Promise<string> }).getAddress();
    const bytes = readings.map(encode);
    const tree = MerkleTree.fromLeaves(bytes);
    const last = await dataAnchors.lastSequence(node);
    const sequence = Number(last) + 1;
    const prevRoot = last === 0n ? "0x" + "00".repeat(32) : (await dataAnchors.getAnchor(node, last)).root;
    const times = readings.map((r) => r.sourceTime);
    const fromTimeMs = Math.min(...times);
    const toTimeMs = Math.max(...times) + 1;
    const root = "0x" + tree.root.toString("hex");
    await (await dataAnchors.anchor(sequence, root, prevRoot, fromTimeMs, toTimeMs, readings.length)).wait();
    const anchor = { node, sequence };
    readings.forEach((reading, i) => this.held.push({ reading, proven: { bytes: bytes[i]!, anchor, proof: tree.proof(i) } }));
    for (const stream of new Set(readings.map((r) => r.stream))) {
      const count = readings.filter((r) => r.stream === stream).length;
      this.summaries.push({ stream, summary: { anchor, fromTimeMs, toTimeMs, count } });
    }
  }

  async readings(stream: string, fromMs: number, toMs: number, limit: number): Promise<ProvenReading[]> {
    return this.held
      .filter(({ reading: r }) => r.stream === stream && r.sourceTime >= fromMs && r.sourceTime < toMs)
      .sort((a, b) => a.reading.sourceTime - b.reading.sourceTime)
      .slice(0, limit)
      .map((h) => h.proven);
  }

  async windows(stream: string): Promise<WindowSummary[]> {
    return this.summaries.filter((s) => s.stream === stream).map((s) => s.summary);
  }
}

/** A store that serves what `inner` holds with one value altered: what a dishonest node does. */
export class TamperingStore implements ReadingStore {
  constructor(private readonly inner: ReadingStore) {}

  async readings(stream: string, fromMs: number, toMs: number, limit: number): Promise<ProvenReading[]> {
    const found = await this.inner.readings(stream, fromMs, toMs, limit);
    return found.map((r, i) => {
      if (i !== Math.floor(found.length / 2)) return r;
      const reading = JSON.parse(Buffer.from(r.bytes).toString("utf8")) as Reading & { value: number };
      return { ...r, bytes: Buffer.from(JSON.stringify({ ...reading, value: reading.value - 25 })) };
    });
  }

  windows(stream: string): Promise<WindowSummary[]> {
    return this.inner.windows(stream);
  }
}

/** Plausible furnace readings: `count` per stream, one every 100 ms from `start`. */
export function furnaceReadings(start: number, count: number): Reading[] {
  const out: Reading[] = [];
  for (let i = 0; i < count; i++) {
    out.push({ stream: "furnace-1/temperature", metric: "temperature", value: 1480 + i, unit: "Cel", sourceTime: start + i * 100, quality: "good" });
    out.push({ stream: "furnace-1/door", metric: "doorOpen", value: i % 4 === 0, sourceTime: start + i * 100 + 50, quality: "good" });
  }
  return out;
}
