/**
 * Per-reading salts (see lib/canonical-reading.ts for why readings are salted).
 *
 * salt(stream, seq) = AES-256-CTR keystream block number `seq` under the stream's key, i.e.
 * AES-256(K_stream, uint128(seq)), with K_stream = HMAC-SHA256(nodeSecret, "tracemesh/reading-salt/v1" || 0x00 || stream).
 *
 * AES is a pseudorandom permutation, so distinct (stream, seq) pairs get unrelated, unpredictable
 * salts for anyone without the node secret, and the node can re-derive any salt. CTR mode yields
 * the salts of a run of sequence numbers in one cipher call, so salting costs next to nothing on
 * the ingest path (one HMAC per new stream, one cipher call per SALT_BLOCK readings of a stream).
 */
import { createCipheriv, createHmac } from "node:crypto";
import { SALT_BYTES } from "../../lib/canonical-reading.ts";

export const SALT_LABEL = "tracemesh/reading-salt/v1";
export const NODE_SECRET_BYTES = 32;
/** Salts derived per cipher call and cached per stream. */
const SALT_BLOCK = 32;

function counterBlock(seq: number): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(Math.floor(seq / 0x1_0000_0000), 8);
  iv.writeUInt32BE(seq >>> 0, 12);
  return iv;
}

/** The salts of one stream, derived in blocks of consecutive sequence numbers. */
export class StreamSalts {
  private base = -1;
  private block: Buffer = Buffer.alloc(0);

  constructor(private readonly key: Buffer) {}

  /** The salt of `seq`, as a view valid until the next call. */
  get(seq: number): Buffer {
    let i = seq - this.base;
    if (this.base < 0 || i < 0 || i >= SALT_BLOCK) {
      this.block = this.derive(seq, SALT_BLOCK);
      this.base = seq;
      i = 0;
    }
    return this.block.subarray(i * SALT_BYTES, (i + 1) * SALT_BYTES);
  }

  /** Salts of `count` consecutive sequence numbers from `seq`, concatenated. */
  derive(seq: number, count: number): Buffer {
    const cipher = createCipheriv("aes-256-ctr", this.key, counterBlock(seq));
    return cipher.update(Buffer.alloc(count * SALT_BYTES));
  }
}

/** Derives salts from the node secret, caching one key and one salt block per stream. */
export class SaltDeriver {
  private readonly streams = new Map<string, StreamSalts>();

  constructor(private readonly secret: Uint8Array) {
    if (secret.length < 16) throw new RangeError("the node secret must hold at least 16 bytes");
  }

  forStream(stream: string): StreamSalts {
    let s = this.streams.get(stream);
    if (s === undefined) {
      const key = createHmac("sha256", this.secret).update(SALT_LABEL).update(Buffer.of(0)).update(stream, "utf8").digest();
      s = new StreamSalts(key);
      // Bounded: a node with very many streams re-derives keys instead of growing without limit.
      if (this.streams.size >= 16_384) this.streams.clear();
      this.streams.set(stream, s);
    }
    return s;
  }

  /** The salt of (stream, seq), as a fresh Buffer. */
  salt(stream: string, seq: number): Buffer {
    return Buffer.from(this.forStream(stream).derive(seq, 1));
  }
}
