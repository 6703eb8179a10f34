/**
 * The data-window Merkle tree: the one definition used by the node's ingest pipeline, the peer
 * verifier, the gateway and the explorer, and mirrored on chain by `contracts/libraries/Sha256Merkle.sol`
 * (DataAnchors). Change both or neither; `test/contracts/merkle-equivalence.test.ts` holds them equal.
 *
 * Definition (identical to the Merkle Tree Hash of RFC 6962 / RFC 9162, Certificate Transparency):
 *   leaf hash  = SHA-256(0x00 || leafBytes)
 *   inner node = SHA-256(0x01 || left || right)
 * The prefixes separate the domains, so leaf bytes can never hash to an inner node (the classic
 * 64-byte-leaf second preimage) short of a SHA-256 collision.
 *
 * Pairs are positional, not sorted: leaves keep their order, and a proof carries the leaf's index
 * and the tree's leaf count (which DataAnchors stores with each root). Why:
 *  - a contiguous run of leaves (e.g. all readings of one stream in a window, when the window is
 *    ordered by stream and sequence) can be proven as a range, which also proves nothing was left
 *    out in between; sorted pairs can prove membership only, never order or completeness;
 *  - a proof binds a reading to its position, and a hash can only verify at the one position it
 *    occupies: no inner node passes as a leaf at any index, even when the verifier is handed a
 *    hash rather than leaf bytes;
 *  - the tree is the RFC 6962 one, with published test vectors and well-studied proofs.
 *
 * The root does not commit to the leaf count (as in RFC 6962, where the signed tree head carries
 * the size): a verifier must take leafCount from the anchor on chain, never from the prover.
 *
 * Odd levels: the last node of a level with an odd count is promoted unpaired to the next level
 * (never duplicated: duplicating it lets two different leaf lists share a root, CVE-2012-2459).
 * Building bottom-up this way yields exactly RFC 6962's tree (left subtree = largest power of
 * two). A single leaf's root is its leaf hash. An empty tree is refused: a window has readings.
 *
 * Proof siblings are listed bottom-up, skipping levels where the node was promoted; the verifier
 * knows those levels from (index, leafCount). A multi-proof (any set of leaves, or a range) lists,
 * level by level and left to right, the nodes the verifier cannot compute from the given leaves.
 *
 * Confidentiality note for callers: proof siblings at the bottom level are leaf hashes of the
 * neighbouring readings. A reading's canonical bytes are low-entropy (known stream, near-known
 * time, a value), so an unsalted leaf hash can be brute-forced back to the reading it commits to.
 * Leaf bytes handed to partners' proofs must therefore include a per-reading secret salt.
 *
 * Speed: in Node, `sha256Into` (lib/platform/node.ts) writes the one-shot `crypto.hash`'s latin1
 * string output straight into the next level's buffer, avoiding a Buffer allocation per hash (about twice as fast as `createHash` with a
 * Buffer digest). Each level lives in one Buffer laid out as 65-byte blocks `0x01 || left || right`,
 * so a pair is hashed in place with no copying.
 */
import { sha256Concat, sha256Into } from "#platform";

export const HASH_BYTES = 32;
export const LEAF_PREFIX = 0x00;
export const NODE_PREFIX = 0x01;
/** Leaf counts are uint32 on chain (DataAnchors); proofs for larger trees are refused here too. */
export const MAX_LEAF_COUNT = 0xffff_ffff;

/** A proof that one leaf hash sits at `index` in a tree of `leafCount` leaves. */
export interface MerkleProof {
  readonly index: number;
  readonly leafCount: number;
  /** Sibling hashes, bottom-up, one per level where the node has a sibling. */
  readonly siblings: readonly Uint8Array[];
}

/** A proof that leaf hashes sit at the given (strictly increasing) indices. */
export interface MerkleMultiProof {
  readonly indices: readonly number[];
  readonly leafCount: number;
  /** The nodes the verifier cannot compute, level by level, left to right. */
  readonly siblings: readonly Uint8Array[];
}

/** A proof that leaf hashes are exactly the leaves `start` (inclusive) to `end` (exclusive). */
export interface MerkleRangeProof {
  readonly start: number;
  readonly end: number;
  readonly leafCount: number;
  readonly siblings: readonly Uint8Array[];
}

// A level's layout: block b (65 bytes) = 0x01 || node(2b) || node(2b+1).
const BLOCK = 1 + 2 * HASH_BYTES;
const offsetOf = (pos: number): number => BLOCK * Math.floor(pos / 2) + 1 + (pos % 2) * HASH_BYTES;

function allocLevel(nodes: number): Buffer {
  const blocks = Math.ceil(nodes / 2);
  const level = Buffer.allocUnsafe(blocks * BLOCK);
  for (let b = 0; b < blocks; b++) level[b * BLOCK] = NODE_PREFIX;
  return level;
}

// Leaf hashing copies 0x00 || bytes into one reusable buffer (JS runs this synchronously, so
// sharing it is safe); large leaves are streamed instead of copied.
const SCRATCH_LIMIT = 4096;
const leafScratch = Buffer.alloc(SCRATCH_LIMIT + 1);
const LEAF_PREFIX_BYTES = Buffer.from([LEAF_PREFIX]);

/** SHA-256(0x00 || data) written into `out` at `offset` (32 bytes): a leaf hash without allocating. */
export function leafHashInto(data: Uint8Array, out: Buffer, offset: number): void {
  if (data.length > SCRATCH_LIMIT) {
    out.set(sha256Concat([LEAF_PREFIX_BYTES, data]), offset);
    return;
  }
  leafScratch.set(data, 1);
  sha256Into(leafScratch.subarray(0, data.length + 1), out, offset);
}

/** SHA-256(0x00 || data): the hash of one leaf (e.g. one reading's canonical bytes). */
export function leafHash(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HASH_BYTES);
  leafHashInto(data, out, 0);
  return out;
}

/** Leaf hashes of many leaves, concatenated (32 bytes each) in one Buffer. */
export function leafHashes(leaves: readonly Uint8Array[]): Buffer {
  const out = Buffer.allocUnsafe(leaves.length * HASH_BYTES);
  for (let i = 0; i < leaves.length; i++) leafHashInto(leaves[i]!, out, i * HASH_BYTES);
  return out;
}

/** SHA-256(0x01 || left || right): an inner node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) throw new RangeError("node children must be 32 bytes");
  const block = Buffer.allocUnsafe(BLOCK);
  block[0] = NODE_PREFIX;
  block.set(left, 1);
  block.set(right, 1 + HASH_BYTES);
  const out = Buffer.allocUnsafe(HASH_BYTES);
  sha256Into(block, out, 0);
  return out;
}

function checkLeafCount(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError("a Merkle tree needs at least one leaf");
  if (n > MAX_LEAF_COUNT) throw new RangeError(`a Merkle tree holds at most ${MAX_LEAF_COUNT} leaves`);
}

/**
 * Leaf hashes into a level-0 buffer. Accepts an array of 32-byte hashes or one Buffer of
 * concatenated hashes (as `leafHashes` returns, or as read back from storage).
 */
function levelFromHashes(hashes: readonly Uint8Array[] | Uint8Array): { level: Buffer; count: number } {
  if (Array.isArray(hashes)) {
    const list = hashes as readonly Uint8Array[];
    checkLeafCount(list.length);
    const level = allocLevel(list.length);
    for (let i = 0; i < list.length; i++) {
      const h = list[i]!;
      if (h.length !== HASH_BYTES) throw new RangeError(`leaf hash ${i} is ${h.length} bytes, not 32`);
      level.set(h, offsetOf(i));
    }
    return { level, count: list.length };
  }
  const flat = hashes as Uint8Array;
  if (flat.length % HASH_BYTES !== 0) throw new RangeError("concatenated leaf hashes must be a multiple of 32 bytes");
  const count = flat.length / HASH_BYTES;
  checkLeafCount(count);
  const level = allocLevel(count);
  const source = Buffer.from(flat.buffer, flat.byteOffset, flat.byteLength); // a view, not a copy
  for (let i = 0; i < count; i++) source.copy(level, offsetOf(i), i * HASH_BYTES, (i + 1) * HASH_BYTES);
  return { level, count };
}

/**
 * Hashes `level` (of `count` nodes) up one level into `into` (which may be `level` itself: node j
 * of the next level lands in block floor(j/2), which is already consumed). Returns the new count.
 */
function reduceLevel(level: Buffer, count: number, into: Buffer): number {
  const pairs = Math.floor(count / 2);
  for (let j = 0; j < pairs; j++) sha256Into(level.subarray(j * BLOCK, (j + 1) * BLOCK), into, offsetOf(j));
  if (count % 2 === 1) {
    // Promote the unpaired last node.
    const from = offsetOf(count - 1);
    level.copy(into, offsetOf(pairs), from, from + HASH_BYTES);
    return pairs + 1;
  }
  return pairs;
}

/**
 * The root over leaf hashes, without keeping the tree (less memory than `MerkleTree`, for when
 * no proofs are needed).
 */
export function merkleRoot(hashes: readonly Uint8Array[] | Uint8Array): Buffer {
  const { level, count: leaves } = levelFromHashes(hashes);
  for (let count = leaves; count > 1; ) count = reduceLevel(level, count, level);
  return Buffer.from(level.subarray(1, 1 + HASH_BYTES));
}

/** A data-window Merkle tree with all its levels, for proofs. */
export class MerkleTree {
  readonly leafCount: number;
  readonly root: Buffer;
  /** levels[0] holds the leaf hashes, the last level the root; each in the 65-byte block layout. */
  private readonly levels: Buffer[];

  private constructor(level0: Buffer, count: number) {
    this.leafCount = count;
    this.levels = [level0];
    let level = level0;
    while (count > 1) {
      const next = allocLevel(Math.ceil(count / 2));
      count = reduceLevel(level, count, next);
      this.levels.push(next);
      level = next;
    }
    this.root = Buffer.from(level.subarray(1, 1 + HASH_BYTES));
  }

  /** A tree over leaf hashes: an array of 32-byte hashes or one Buffer of them concatenated. */
  static fromLeafHashes(hashes: readonly Uint8Array[] | Uint8Array): MerkleTree {
    const { level, count } = levelFromHashes(hashes);
    return new MerkleTree(level, count);
  }

  /** A tree over raw leaves (each hashed as SHA-256(0x00 || bytes)). */
  static fromLeaves(leaves: readonly Uint8Array[]): MerkleTree {
    checkLeafCount(leaves.length);
    const level = allocLevel(leaves.length);
    for (let i = 0; i < leaves.length; i++) leafHashInto(leaves[i]!, level, offsetOf(i));
    return new MerkleTree(level, leaves.length);
  }

  /** Height in hashing levels (0 for a single leaf). */
  get depth(): number {
    return this.levels.length - 1;
  }

  /** The leaf hash at `index`. */
  leaf(index: number): Buffer {
    this.checkIndex(index);
    return this.node(0, index);
  }

  /** The inclusion proof of leaf `index`. */
  proof(index: number): MerkleProof {
    this.checkIndex(index);
    const siblings: Buffer[] = [];
    let pos = index;
    let last = this.leafCount - 1;
    for (let level = 0; last > 0; level++) {
      if (pos % 2 === 1) siblings.push(this.node(level, pos - 1));
      else if (pos !== last) siblings.push(this.node(level, pos + 1));
      pos = Math.floor(pos / 2);
      last = Math.floor(last / 2);
    }
    return { index, leafCount: this.leafCount, siblings };
  }

  /** A proof for several leaves at once; indices in any order, duplicates ignored. */
  multiProof(indices: Iterable<number>): MerkleMultiProof {
    const sorted = [...new Set(indices)].sort((a, b) => a - b);
    if (sorted.length === 0) throw new RangeError("a multi-proof needs at least one index");
    for (const i of sorted) this.checkIndex(i);
    return { indices: sorted, leafCount: this.leafCount, siblings: this.multiSiblings(sorted) };
  }

  /** A proof that leaves `start` (inclusive) to `end` (exclusive) are exactly these. */
  rangeProof(start: number, end: number): MerkleRangeProof {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start || end > this.leafCount) {
      throw new RangeError(`range [${start}, ${end}) is not a non-empty range of ${this.leafCount} leaves`);
    }
    // The multi-proof of the range's indices, without listing them: per level, the left
    // neighbour of an odd first node, then the right neighbour of an even last node that has one.
    const siblings: Buffer[] = [];
    let lo = start;
    let hi = end - 1;
    let last = this.leafCount - 1;
    for (let level = 0; last > 0; level++) {
      if (lo % 2 === 1) siblings.push(this.node(level, lo - 1));
      if (hi % 2 === 0 && hi !== last) siblings.push(this.node(level, hi + 1));
      lo = Math.floor(lo / 2);
      hi = Math.floor(hi / 2);
      last = Math.floor(last / 2);
    }
    return { start, end, leafCount: this.leafCount, siblings };
  }

  private multiSiblings(sorted: number[]): Buffer[] {
    const siblings: Buffer[] = [];
    let known = sorted;
    let last = this.leafCount - 1;
    for (let level = 0; last > 0; level++) {
      const next: number[] = [];
      for (let i = 0; i < known.length; ) {
        const pos = known[i]!;
        if (pos % 2 === 1) {
          // A known left sibling would have been paired with it already.
          siblings.push(this.node(level, pos - 1));
          i++;
        } else if (pos === last) {
          i++;
        } else if (known[i + 1] === pos + 1) {
          i += 2;
        } else {
          siblings.push(this.node(level, pos + 1));
          i++;
        }
        next.push(Math.floor(pos / 2));
      }
      known = next;
      last = Math.floor(last / 2);
    }
    return siblings;
  }

  private node(level: number, pos: number): Buffer {
    const offset = offsetOf(pos);
    return Buffer.from(this.levels[level]!.subarray(offset, offset + HASH_BYTES));
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.leafCount) {
      throw new RangeError(`leaf index ${index} is outside a tree of ${this.leafCount} leaves`);
    }
  }
}

const isHash = (h: unknown): h is Uint8Array => h instanceof Uint8Array && h.length === HASH_BYTES;
const isLeafCount = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= MAX_LEAF_COUNT;

/**
 * The root that `proof` leads to from `leaf`, or undefined when the proof is malformed (index
 * outside the tree, wrong number of siblings, a sibling not 32 bytes). Never throws.
 */
export function rootFromProof(leaf: Uint8Array, proof: MerkleProof): Buffer | undefined {
  const { index, leafCount, siblings } = proof;
  if (!isHash(leaf) || !isLeafCount(leafCount) || !Number.isInteger(index) || index < 0 || index >= leafCount) return undefined;
  if (!Array.isArray(siblings)) return undefined;
  const block = Buffer.allocUnsafe(BLOCK);
  block[0] = NODE_PREFIX;
  const current = Buffer.from(leaf);
  let k = 0;
  let pos = index;
  let last = leafCount - 1;
  while (last > 0) {
    if (pos % 2 === 1 || pos !== last) {
      const sibling: unknown = siblings[k++];
      if (!isHash(sibling)) return undefined;
      if (pos % 2 === 1) {
        block.set(sibling, 1);
        block.set(current, 1 + HASH_BYTES);
      } else {
        block.set(current, 1);
        block.set(sibling, 1 + HASH_BYTES);
      }
      sha256Into(block, current, 0);
    }
    pos = Math.floor(pos / 2);
    last = Math.floor(last / 2);
  }
  return k === siblings.length ? current : undefined;
}

/** True when `proof` shows `leaf` (a leaf hash) at `proof.index` in the tree with `root`. */
export function verifyProof(proof: MerkleProof, root: Uint8Array, leaf: Uint8Array): boolean {
  const computed = rootFromProof(leaf, proof);
  return computed !== undefined && isHash(root) && computed.equals(root);
}

/**
 * The root that a multi-proof leads to from `leaves` (leaf hashes in the order of `indices`,
 * which must be strictly increasing), or undefined when malformed. Never throws.
 */
export function rootFromMultiProof(leaves: readonly Uint8Array[], proof: MerkleMultiProof): Buffer | undefined {
  const { indices, leafCount, siblings } = proof;
  if (!isLeafCount(leafCount) || !Array.isArray(indices) || !Array.isArray(siblings) || !Array.isArray(leaves)) return undefined;
  let n = indices.length;
  if (n === 0 || leaves.length !== n) return undefined;
  const positions = new Float64Array(n);
  const hashes = Buffer.allocUnsafe(n * HASH_BYTES);
  for (let i = 0; i < n; i++) {
    const index: unknown = indices[i];
    const leaf: unknown = leaves[i];
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= leafCount) return undefined;
    if (i > 0 && index <= positions[i - 1]!) return undefined;
    if (!isHash(leaf)) return undefined;
    positions[i] = index;
    hashes.set(leaf, i * HASH_BYTES);
  }
  const block = Buffer.allocUnsafe(BLOCK);
  block[0] = NODE_PREFIX;
  const at = (i: number) => hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
  let k = 0;
  let last = leafCount - 1;
  while (last > 0) {
    // Each step consumes one or two known nodes and writes their parent at `m`, never ahead of `i`.
    let m = 0;
    for (let i = 0; i < n; m++) {
      const pos = positions[i]!;
      if (pos % 2 === 0 && pos === last) {
        hashes.copy(hashes, m * HASH_BYTES, i * HASH_BYTES, (i + 1) * HASH_BYTES);
        i++;
      } else {
        if (pos % 2 === 1) {
          const sibling: unknown = siblings[k++];
          if (!isHash(sibling)) return undefined;
          block.set(sibling, 1);
          block.set(at(i), 1 + HASH_BYTES);
          i++;
        } else if (i + 1 < n && positions[i + 1] === pos + 1) {
          block.set(at(i), 1);
          block.set(at(i + 1), 1 + HASH_BYTES);
          i += 2;
        } else {
          const sibling: unknown = siblings[k++];
          if (!isHash(sibling)) return undefined;
          block.set(at(i), 1);
          block.set(sibling, 1 + HASH_BYTES);
          i++;
        }
        sha256Into(block, hashes, m * HASH_BYTES);
      }
      positions[m] = Math.floor(pos / 2);
    }
    n = m;
    last = Math.floor(last / 2);
  }
  return k === siblings.length ? Buffer.from(at(0)) : undefined;
}

/** True when `leaves` (leaf hashes, in index order) sit at `proof.indices` in the tree with `root`. */
export function verifyMultiProof(proof: MerkleMultiProof, root: Uint8Array, leaves: readonly Uint8Array[]): boolean {
  const computed = rootFromMultiProof(leaves, proof);
  return computed !== undefined && isHash(root) && computed.equals(root);
}

/**
 * Writes leaf `k` of a range (its 32-byte hash) into `out` at `offset`; false when it has none
 * (e.g. the reading it stands for cannot be encoded).
 */
export type RangeLeafWriter = (k: number, out: Buffer, offset: number) => boolean;

/**
 * The root that a range proof leads to from the range's leaf hashes, which `writeLeaf` writes
 * straight into the first level (no array of leaves, no copies): the verifier's hot path for a
 * stream's run. Undefined when the proof is malformed (range outside the tree, wrong number of
 * siblings, a sibling not 32 bytes) or `writeLeaf` returns false. Never throws for a bad proof.
 *
 * Same result as `rootFromMultiProof` over the range's indices. A level is laid out in 65-byte
 * blocks `0x01 || left || right` beginning at the even position at or left of the range, so the
 * left sibling of an odd first node and the right sibling of an even last node fill their blocks
 * and every pair is hashed in place; each parent lands in a block already consumed.
 */
export function rootFromRangeProof(proof: MerkleRangeProof, writeLeaf: RangeLeafWriter): Buffer | undefined {
  const { start, end, leafCount, siblings } = proof;
  if (!isLeafCount(leafCount) || !Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start || end > leafCount || !Array.isArray(siblings)) {
    return undefined;
  }
  const shift0 = start % 2;
  const level = allocLevel(end - start + shift0 + 1);
  for (let k = 0; k < end - start; k++) if (!writeLeaf(k, level, offsetOf(k + shift0))) return undefined;
  let lo = start;
  let hi = end - 1;
  let last = leafCount - 1;
  let k = 0;
  const sibling = (pos: number): boolean => {
    const s: unknown = siblings[k++];
    if (!isHash(s)) return false;
    level.set(s, offsetOf(pos));
    return true;
  };
  while (last > 0) {
    const base = lo - (lo % 2);
    // Nodes lo..hi sit at positions lo - base .. hi - base of this level's layout.
    if (lo % 2 === 1 && !sibling(0)) return undefined;
    const promoted = hi % 2 === 0 && hi === last;
    if (hi % 2 === 0 && !promoted && !sibling(hi - base + 1)) return undefined;
    const blocks = (hi - base + 1 + (promoted ? 0 : 1)) >> 1; // pairs to hash
    const nextLo = Math.floor(lo / 2);
    const shift = nextLo % 2; // parent of block b sits at position b + shift of the next layout
    for (let b = 0; b < blocks; b++) sha256Into(level.subarray(b * BLOCK, (b + 1) * BLOCK), level, offsetOf(b + shift));
    if (promoted) {
      const from = offsetOf(hi - base);
      level.copy(level, offsetOf(blocks + shift), from, from + HASH_BYTES);
    }
    lo = nextLo;
    hi = Math.floor(hi / 2);
    last = Math.floor(last / 2);
  }
  return k === siblings.length ? Buffer.from(level.subarray(offsetOf(lo % 2), offsetOf(lo % 2) + HASH_BYTES)) : undefined;
}

/** True when `leaves` (leaf hashes) are exactly leaves `proof.start` to `proof.end - 1` of `root`. */
export function verifyRangeProof(proof: MerkleRangeProof, root: Uint8Array, leaves: readonly Uint8Array[]): boolean {
  if (!Array.isArray(leaves) || leaves.length !== proof.end - proof.start || !isHash(root)) return false;
  const computed = rootFromRangeProof(proof, (k, out, offset) => {
    const leaf: unknown = leaves[k];
    if (!isHash(leaf)) return false;
    out.set(leaf, offset);
    return true;
  });
  return computed !== undefined && computed.equals(root);
}

/** Proof siblings as 0x-prefixed hex, for JSON (HTTP, p2p messages) and contract calls. */
export function siblingsToHex(siblings: readonly Uint8Array[]): string[] {
  return siblings.map((s) => "0x" + Buffer.from(s.buffer, s.byteOffset, s.byteLength).toString("hex"));
}

/** Proof siblings from 0x-prefixed hex; throws on anything that is not a 32-byte hash. */
export function siblingsFromHex(hex: readonly string[]): Buffer[] {
  return hex.map((h, i) => {
    if (typeof h !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(h)) throw new RangeError(`sibling ${i} is not a 32-byte hex hash`);
    return Buffer.from(h.slice(2), "hex");
  });
}
