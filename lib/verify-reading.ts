/**
 * Verifies plant-floor readings against the chain: the one check used by the node (audits, and
 * before storing readings fetched from peers), the gateway and the explorer.
 *
 * A reading comes with a proof from the node that stored it (node/ingest/proofs.ts): the node's
 * anchoring account and window sequence, the reading's stream sequence number and salt (so its
 * canonical bytes can be rebuilt, lib/canonical-reading.ts), the leaf hash the node committed,
 * and the Merkle path to the window's root. The verifier trusts none of it: the root, leaf count
 * and time range come from the anchor on chain, through a small `AnchorView` each caller supplies
 * (the gateway from its indexer, the explorer over JSON-RPC, tests from a contract).
 *
 * Result: `{ ok: true }` or `{ ok: false, reason }`, checked in this order:
 *   "wrong-node"           `expectedNode` is set and the proof's account anchors for another node
 *                          identity (DataAnchors keeps one chain per node registered in Consortium)
 *   "window-not-anchored"  the chain holds no anchor for (node, window)
 *   "reading-altered"      the proof is sound (the committed leaf hash leads to the anchored root)
 *                          but the reading handed over does not hash to that leaf: it was changed
 *   "proof-invalid"        the proof does not lead to the anchored root (or is malformed)
 *   "outside-window"       the reading's receivedTime (the node's clock when it took the reading
 *                          into the window, lib/canonical-reading.ts) is outside the window's time
 *                          range. An honest node never commits such a reading: it chooses
 *                          receivedTime inside the window, so the device's clock and delivery lag
 *                          play no part (the lag is stated by `readingLagMs`, not judged here)
 *   "anchored-late"        the window was anchored more than `anchorToleranceMs` after its end, so
 *                          the chain does not vouch that the data existed when the window claims
 * An error from the AnchorView itself (chain unreachable) is thrown, never turned into a verdict.
 */
import { type Reading } from "./reading.ts";
import { ReadingError, SALT_BYTES, encodeReading, readingLeafHashInto } from "./canonical-reading.ts";
export { readingLagMs } from "./canonical-reading.ts";
import { HASH_BYTES, leafHash, rootFromProof, rootFromRangeProof } from "./merkle.ts";

export const PROOF_VERSION = 1;

/**
 * How far a reading's source time is expected to lie from its receive time: the node reports
 * a stream whose readings lie further as late or ahead, and searches by source time widen their
 * window ranges by it. Not part of verification (receive times lie in their window).
 */
export const DEFAULT_CLOCK_TOLERANCE_MS = 2_000;

/** Default allowance between a window's end and its anchoring block (DataAnchors' own skew limit). */
export const DEFAULT_ANCHOR_TOLERANCE_MS = 300_000;

/** An anchor as DataAnchors stores it (`getAnchor`); integers may be bigint or number. */
export interface AnchorRecord {
  root: string | Uint8Array;
  fromTimeMs: bigint | number;
  toTimeMs: bigint | number;
  /** Block timestamp, Unix seconds. */
  anchoredAt: bigint | number;
  leafCount: bigint | number;
}

/** Where the verifier reads anchors; undefined when (node, sequence) is not anchored. */
export interface AnchorView {
  getAnchor(node: string, sequence: bigint): Promise<AnchorRecord | undefined>;
  /** The node identity (Consortium node id) an anchoring account anchors for, 0 when none. */
  nodeOf?(account: string): Promise<number>;
}

/** The proof of one reading (JSON-ready: hex strings). */
export interface ReadingProof {
  version: typeof PROOF_VERSION;
  /** The anchoring node's signing account. */
  node: string;
  /** The window's anchor sequence number. */
  window: number;
  /** The reading's sequence number in its stream. */
  seq: number;
  /** 0x + 32 hex digits. */
  salt: string;
  /** The leaf hash the node committed for this reading: 0x + 64 hex digits. */
  leafHash: string;
  index: number;
  leafCount: number;
  /** Sibling hashes, bottom-up (lib/merkle.ts). */
  siblings: string[];
}

/** The proof of consecutive leaves [start, end) of a window (e.g. one stream's run). */
export interface ReadingRangeProof {
  version: typeof PROOF_VERSION;
  node: string;
  window: number;
  /** Per reading, in leaf order. */
  seqs: number[];
  salts: string[];
  /**
   * The leaf hashes the node committed. Optional (the compact wire of node/p2p leaves them out:
   * the verifier recomputes them); without them an altered reading fails as "proof-invalid"
   * instead of "reading-altered", since nothing tells an altered reading from a forged proof.
   */
  leafHashes?: string[];
  start: number;
  end: number;
  leafCount: number;
  siblings: string[];
}

export type VerifyFailureReason = "reading-altered" | "proof-invalid" | "wrong-node" | "window-not-anchored" | "anchored-late" | "outside-window";

export type VerifyResult = { ok: true } | { ok: false; reason: VerifyFailureReason; detail: string; /** position in a range */ index?: number };

export interface VerifyOptions {
  anchorToleranceMs?: number;
  /**
   * The node identity (Consortium node id) the readings must come from, e.g. that of the peer
   * that served them; needs an AnchorView with `nodeOf`.
   */
  expectedNode?: number;
}

/** 0x-prefixed hex of exactly `bytes` bytes, or undefined (Buffer.from stops at the first non-hex digit). */
function bytesOf(h: unknown, bytes: number): Buffer | undefined {
  if (typeof h !== "string" || h.length !== 2 + 2 * bytes || h[0] !== "0" || (h[1] !== "x" && h[1] !== "X")) return undefined;
  const b = Buffer.from(h.slice(2), "hex");
  return b.length === bytes ? b : undefined;
}
const hashOf = (h: unknown) => bytesOf(h, 32);

// Hex digit values by char code (-1: not a hex digit).
const HEX_DIGITS = new Int8Array(128).fill(-1);
for (let d = 0; d < 16; d++) {
  HEX_DIGITS["0123456789abcdef".charCodeAt(d)] = d;
  HEX_DIGITS["0123456789ABCDEF".charCodeAt(d)] = d;
}

/**
 * Writes 0x-prefixed hex of exactly `bytes` bytes into `out` at `offset`; false (out then partly
 * written) for anything else. No allocation: the range verifier reads a salt per reading.
 */
export function hexInto(h: unknown, out: Uint8Array, offset = 0, bytes = out.length - offset): boolean {
  if (typeof h !== "string" || h.length !== 2 + 2 * bytes || offset + bytes > out.length || h.charCodeAt(0) !== 0x30 || (h.charCodeAt(1) | 0x20) !== 0x78) return false;
  for (let i = 0; i < bytes; i++) {
    const hi = HEX_DIGITS[h.charCodeAt(2 + 2 * i)] ?? -1;
    const lo = HEX_DIGITS[h.charCodeAt(3 + 2 * i)] ?? -1;
    if ((hi | lo) < 0) return false;
    out[offset + i] = (hi << 4) | lo;
  }
  return true;
}
const saltOf = (h: unknown) => bytesOf(h, 16);
const rootBytes = (r: string | Uint8Array): Buffer | undefined => (typeof r === "string" ? hashOf(r) : r.length === HASH_BYTES ? Buffer.from(r) : undefined);
const isIndex = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 0;

const fail = (reason: VerifyFailureReason, detail: string, index?: number): VerifyResult =>
  index === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, index };

/** The leaf hash of a reading as given, or undefined when it cannot be encoded (an altered reading). */
function leafOf(reading: Reading, seq: unknown, salt: Buffer): Buffer | ReadingError {
  try {
    if (!isIndex(seq)) throw new ReadingError("seq", "the proof's seq is not a sequence number");
    return leafHash(encodeReading(reading, seq, salt));
  } catch (e) {
    if (e instanceof ReadingError) return e;
    throw e;
  }
}

async function anchorOf(chain: AnchorView, node: unknown, window: unknown): Promise<AnchorRecord | undefined | "malformed"> {
  if (typeof node !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(node) || !isIndex(window) || window < 1) return "malformed";
  return chain.getAnchor(node, BigInt(window));
}

/**
 * The anchor of the proof's (node, window), checked first against `options.expectedNode`, with its
 * root and leaf count; or the verdict that ends the verification (no proof, no anchor, no root).
 */
async function checkedAnchor(
  chain: AnchorView,
  proof: { node: unknown; window: unknown } | null,
  options: VerifyOptions,
): Promise<{ anchor: AnchorRecord; root: Buffer; leafCount: number } | VerifyResult> {
  if (proof === null || typeof proof !== "object") return fail("proof-invalid", "no proof");
  const anchor = await anchorOf(chain, proof.node, proof.window);
  if (anchor === "malformed") return fail("proof-invalid", "the proof does not name a node account and window sequence");
  if (options.expectedNode !== undefined) {
    if (chain.nodeOf === undefined) throw new Error("verifying against an expected node needs an AnchorView with nodeOf");
    const nodeId = await chain.nodeOf(proof.node as string);
    if (nodeId !== options.expectedNode) return fail("wrong-node", `account ${String(proof.node)} anchors for node ${nodeId}, not node ${options.expectedNode}`);
  }
  if (anchor === undefined) return fail("window-not-anchored", `node ${String(proof.node)} has no anchor for window ${String(proof.window)}`);
  const root = rootBytes(anchor.root);
  if (root === undefined) return fail("window-not-anchored", "the anchor has no root");
  return { anchor, root, leafCount: Number(anchor.leafCount) };
}
const isVerdict = (x: object): x is VerifyResult => "ok" in x;

/** An anchor's window as numbers, and whether it was anchored too late to vouch for it. */
function timeRange(anchor: AnchorRecord, options: VerifyOptions): { from: number; to: number; anchoredMs: number; tolerance: number; late: boolean } {
  const tolerance = options.anchorToleranceMs ?? DEFAULT_ANCHOR_TOLERANCE_MS;
  const to = Number(anchor.toTimeMs);
  const anchoredMs = Number(anchor.anchoredAt) * 1000;
  return { from: Number(anchor.fromTimeMs), to, anchoredMs, tolerance, late: anchoredMs > to + tolerance };
}

/** The time checks shared by single readings and ranges. */
function timeCheck(receivedTime: number, anchor: AnchorRecord, options: VerifyOptions, index?: number): VerifyResult {
  const { from, to, anchoredMs, tolerance, late } = timeRange(anchor, options);
  const t = Math.floor(receivedTime);
  if (!(t >= from && t < to)) {
    return fail("outside-window", `received time ${t} is outside the window [${from}, ${to})`, index);
  }
  if (late) {
    return fail("anchored-late", `anchored at ${anchoredMs}, ${anchoredMs - to} ms after the window ended (tolerance ${tolerance} ms)`, index);
  }
  return { ok: true };
}

/** Verifies one reading against its proof and the chain. */
export async function verifyReading(reading: Reading, proof: ReadingProof, chain: AnchorView, options: VerifyOptions = {}): Promise<VerifyResult> {
  const anchored = await checkedAnchor(chain, proof, options);
  if (isVerdict(anchored)) return anchored;
  const { anchor, root, leafCount } = anchored;

  const salt = saltOf(proof.salt);
  const claimed = hashOf(proof.leafHash);
  const siblings = Array.isArray(proof.siblings) ? proof.siblings.map(hashOf) : [];
  if (salt === undefined || claimed === undefined || siblings.some((s) => s === undefined) || !isIndex(proof.index)) {
    return fail("proof-invalid", "the proof is malformed (salt, leaf hash, index or siblings)");
  }
  if (proof.leafCount !== leafCount) return fail("proof-invalid", `the proof is for ${proof.leafCount} leaves, the anchor holds ${leafCount}`);
  const path = { index: proof.index, leafCount, siblings: siblings as Buffer[] };

  const leaf = leafOf(reading, proof.seq, salt);
  const provesLeaf = (h: Buffer) => rootFromProof(h, path)?.equals(root) === true;
  if (leaf instanceof ReadingError || !provesLeaf(leaf)) {
    if (provesLeaf(claimed)) {
      const why = leaf instanceof ReadingError ? `the reading cannot be encoded (${leaf.message})` : "the reading does not hash to the committed leaf";
      return fail("reading-altered", `${why}: window ${proof.window}, leaf ${proof.index}`);
    }
    return fail("proof-invalid", `the proof does not lead to the root anchored for window ${proof.window}`);
  }
  // The leaf verified, so the reading has a receivedTime (encodeReading requires one).
  return timeCheck(reading.receivedTime!, anchor, options);
}

/**
 * Verifies consecutive readings of one window (e.g. a stream's run: proving a range also proves
 * nothing was left out in between). `readings[i]` is leaf `proof.start + i`.
 */
export async function verifyReadingRange(
  readings: readonly Reading[],
  proof: ReadingRangeProof,
  chain: AnchorView,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const anchored = await checkedAnchor(chain, proof, options);
  if (isVerdict(anchored)) return anchored;
  const { anchor, root, leafCount } = anchored;

  const n = readings.length;
  const { start, end } = proof;
  if (!isIndex(start) || !isIndex(end) || end - start !== n || n === 0 || end > leafCount || proof.leafCount !== leafCount) {
    return fail("proof-invalid", `the range [${start}, ${end}) does not match ${n} readings in a window of ${leafCount} leaves`);
  }
  const arrays = [proof.seqs, proof.salts, ...(proof.leafHashes === undefined ? [] : [proof.leafHashes])];
  if (!arrays.every((a) => Array.isArray(a) && a.length === n) || !Array.isArray(proof.siblings)) {
    return fail("proof-invalid", "the range proof is malformed (seqs, salts, leaf hashes, siblings)");
  }
  const claimed = proof.leafHashes?.map(hashOf) ?? [];
  const siblings = proof.siblings.map(hashOf);
  if ([...claimed, ...siblings].some((x) => x === undefined)) return fail("proof-invalid", "the range proof holds malformed hashes");
  const range = { start, end, leafCount, siblings: siblings as Buffer[] };

  // Every leaf recomputed from its reading, seq and salt, straight into the proof's first level.
  const salt = Buffer.allocUnsafe(SALT_BYTES);
  let malformedSalt = false;
  const computed = rootFromRangeProof(range, (k, out, offset) => {
    if (!hexInto(proof.salts[k], salt)) {
      malformedSalt = true;
      return false;
    }
    const seq = proof.seqs[k];
    if (!isIndex(seq)) return false;
    try {
      readingLeafHashInto(readings[k]!, seq, salt, out, offset);
      return true;
    } catch (e) {
      if (e instanceof ReadingError) return false;
      throw e;
    }
  });
  if (malformedSalt) return fail("proof-invalid", "the range proof holds malformed hashes");
  if (computed === undefined || !computed.equals(root)) {
    const claimedRoot = claimed.length === n ? rootFromRangeProof(range, (k, out, offset) => (out.set(claimed[k]!, offset), true)) : undefined;
    if (claimedRoot?.equals(root) === true) {
      const k = readings.findIndex((r, j) => {
        const salt = saltOf(proof.salts[j]);
        const leaf = salt === undefined ? undefined : leafOf(r, proof.seqs[j], salt);
        return !(leaf instanceof Buffer) || !leaf.equals(claimed[j]!);
      });
      return fail("reading-altered", `reading ${k} (leaf ${start + k}) does not hash to the committed leaf`, k);
    }
    return fail("proof-invalid", `the range proof does not lead to the root anchored for window ${proof.window}`);
  }
  const window = timeRange(anchor, options);
  for (let k = 0; k < n; k++) {
    const t = Math.floor(readings[k]!.receivedTime!);
    if (!(t >= window.from && t < window.to) || window.late) return timeCheck(t, anchor, options, k);
  }
  return { ok: true };
}

/** The contract surface an AnchorView needs (a typechain DataAnchors fits). */
export interface AnchorContract {
  getAnchor(node: string, sequence: bigint): Promise<AnchorRecord>;
  nodeOf?(account: string): Promise<bigint>;
}

/**
 * An AnchorView over a DataAnchors contract: AnchorNotFound (a revert) becomes undefined; any
 * other failure (unreachable chain) is thrown.
 */
export function contractAnchorView(contract: AnchorContract): AnchorView {
  return {
    async getAnchor(node, sequence) {
      try {
        const a = await contract.getAnchor(node, sequence);
        return { root: a.root, fromTimeMs: a.fromTimeMs, toTimeMs: a.toTimeMs, anchoredAt: a.anchoredAt, leafCount: a.leafCount };
      } catch (e) {
        if (isAnchorNotFound(e)) return undefined;
        throw e;
      }
    },
    ...(contract.nodeOf ? { nodeOf: async (account: string) => Number(await contract.nodeOf!(account)) } : {}),
  };
}

function isAnchorNotFound(e: unknown): boolean {
  const seen = new Set<unknown>();
  const stack = [e];
  while (stack.length > 0) {
    const x = stack.pop();
    if (x === null || typeof x !== "object" || seen.has(x)) continue;
    seen.add(x);
    const rec = x as Record<string, unknown>;
    const revert = rec.revert as { name?: string } | undefined;
    if (revert?.name === "AnchorNotFound") return true;
    if (typeof rec.data === "string" && rec.data.startsWith(ANCHOR_NOT_FOUND_SELECTOR)) return true;
    for (const k of ["error", "info", "cause", "data"]) stack.push(rec[k]);
  }
  return false;
}

/** The selector of DataAnchors' AnchorNotFound(address,uint64) (tests check it against the ABI). */
export const ANCHOR_NOT_FOUND_SELECTOR = "0xaf1ab1c1";

/** Memoises anchors (they never change once on chain); misses are not cached. */
export function cachedAnchorView(view: AnchorView): AnchorView {
  const cache = new Map<string, AnchorRecord>();
  return {
    async getAnchor(node, sequence) {
      const key = `${node.toLowerCase()}:${sequence}`;
      const hit = cache.get(key);
      if (hit !== undefined) return hit;
      const a = await view.getAnchor(node, sequence);
      if (a !== undefined) {
        if (cache.size >= 100_000) cache.clear();
        cache.set(key, a);
      }
      return a;
    },
    ...(view.nodeOf ? { nodeOf: (account: string) => view.nodeOf!(account) } : {}),
  };
}

