/**
 * Answers of the traceability routes, kept as the bytes they were sent as (UTF-8 JSON, encoded
 * once: a hit writes the buffer as is, with no serialising or encoding), per query and caller's
 * organisation, and served again only while nothing they were built from has moved: the indexed
 * block, the chain head the index has seen, the access checker's generation (its cache cleared on
 * grant and membership events) and the event store's generation (documents stored or marked).
 * A revocation arrives in a block, so the first request after the index or the access watch sees
 * that block is built afresh; no answer is reused across a stamp.
 *
 * A cached answer carries what it logged (its access-log entry naming the partner's documents,
 * prepared once): it is appended again on every answer served, so the owner's log counts each
 * serve as before.
 *
 * Each answer also carries its entity tag (a digest of its bytes, computed once when encoded), so
 * a client holding the same bytes can ask with If-None-Match and get 304 without the body; and its
 * compressed forms (gzip, brotli: compression.ts), each made on the first request asking for it
 * and counted in the cache's byte bound, so a hit compresses nothing.
 */
import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import { type Coding, codedBytes, codedCount, codedTag } from "./compression.ts";

export interface Built<R> {
  /** The answer as sent (JSON). */
  json: string;
  /** What serving it must do again each time (log the reads). */
  replay: R[];
  /** False when the answer must not be reused (it depends on something the stamp does not cover). */
  keep: boolean;
}

/** One form of an answer on the wire: its bytes and their strong entity tag (quoted, as sent in ETag). */
export interface Form {
  bytes: Buffer;
  etag: string;
}

/** An answer as served: its bytes, their entity tag, its compressed forms made so far, and what serving it must do again. */
export interface Served<R> extends Form {
  coded: Partial<Record<Coding, Form>>;
  replay: R[];
}

interface Entry<R> {
  stamp: string;
  built: Promise<Served<R> & { keep: boolean }>;
  /** Bytes of JSON and of the compressed forms made; 1 while the answer is being built. */
  size: number;
  /** The answer, once built and kept. */
  served?: Served<R>;
}

export class AnswerCache<R> {
  private readonly lru: LRUCache<string, Entry<R>>;

  /** `maxBytes`: bytes of answers kept at most (an answer larger than a tenth of it is not kept). */
  constructor(maxBytes: number) {
    if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError(`answer cache size must be a positive number of bytes, got ${maxBytes}`);
    this.lru = new LRUCache<string, Entry<R>>({
      maxSize: maxBytes,
      maxEntrySize: Math.max(1, Math.floor(maxBytes / 10)),
      sizeCalculation: (e) => e.size,
    });
  }

  /**
   * The answer to `key` as of `stamp`: the one kept for exactly this stamp, or `build()`'s (shared
   * by concurrent requests for the same key and stamp). A failed build is not kept.
   */
  async answer(key: string, stamp: string, build: () => Promise<Built<R>>): Promise<{ served: Served<R>; hit: boolean }> {
    const held = this.lru.get(key);
    if (held !== undefined && held.stamp === stamp) return { served: await held.built, hit: true };
    const built = build().then(encoded);
    const entry: Entry<R> = { stamp, built, size: 1 };
    this.lru.set(key, entry);
    try {
      const b = await built;
      if (this.lru.get(key) === entry) {
        if (b.keep) this.lru.set(key, { stamp, built, size: Math.max(1, b.bytes.length), served: b });
        else this.lru.delete(key);
      }
      return { served: b, hit: false };
    } catch (e) {
      if (this.lru.get(key) === entry) this.lru.delete(key);
      throw e;
    }
  }

  /**
   * `served` (the answer kept for `key`, or one not kept) in `coding`: made once, then kept with
   * the answer, its bytes added to the answer's size in the cache's bound.
   */
  form(key: string, served: Served<R>, coding: Coding): Form {
    const held = served.coded[coding];
    if (held) return held;
    const made = codedForm(served, coding);
    const entry = this.lru.peek(key);
    // Counted only if this is the answer kept (not one built for a stamp since, nor one not kept).
    if (entry !== undefined && entry.served === served) this.lru.set(key, { ...entry, size: entry.size + made.bytes.length });
    return made;
  }

  get size(): number {
    return this.lru.size;
  }

  /** Bytes the cache counts against its bound. */
  get calculatedSize(): number {
    return this.lru.calculatedSize;
  }
}

/** `served` in `coding`, made now and kept on it (an answer not in a cache keeps it for its own life only). */
export function codedForm(served: Served<unknown>, coding: Coding): Form {
  const held = served.coded[coding];
  if (held) return held;
  codedCount.value++;
  const made = { bytes: codedBytes(served.bytes, coding), etag: codedTag(served.etag, coding) };
  served.coded[coding] = made;
  return made;
}

/** A built answer as it is served and kept: its JSON encoded once, its entity tag computed once. */
export function encoded<R>(b: Built<R>): Served<R> & { keep: boolean } {
  const bytes = Buffer.from(b.json, "utf8");
  return { bytes, etag: entityTag(bytes), coded: {}, replay: b.replay, keep: b.keep };
}

/** A strong entity tag of these bytes: equal bytes, equal tag (SHA-256, base64url, quoted). */
export function entityTag(bytes: Buffer): string {
  return `"${createHash("sha256").update(bytes).digest("base64url")}"`;
}

/**
 * Whether an If-None-Match header names `etag` (RFC 9110 13.1.2: weak comparison, `*` matches any
 * current answer). Absent or empty: false.
 */
export function noneMatchHits(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  const bare = etag.replace(/^W\//, "");
  return header.split(",").some((t) => {
    const tag = t.trim();
    return tag === "*" || tag.replace(/^W\//, "") === bare;
  });
}

/** Which form's tag (identity, gzip or br) of the answer tagged `etag` an If-None-Match header names, if any. */
export function heldForm(ifNoneMatch: string | undefined, etag: string): string | undefined {
  if (!ifNoneMatch) return undefined;
  return [etag, codedTag(etag, "gzip"), codedTag(etag, "br")].find((t) => noneMatchHits(ifNoneMatch, t));
}

/**
 * Parts of answers (one history entry, one organisation's name) kept for one stamp only: the
 * first use under another stamp drops them all, so a part never outlives what it was built from,
 * exactly like a kept answer. Bounded in bytes (`sizeOf` per part) like the answer cache.
 */
export class StampedParts<V> {
  private stamp: string | undefined;
  private readonly lru: LRUCache<string, { value: V }>;

  constructor(maxBytes: number, sizeOf: (v: V) => number) {
    if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError(`answer part cache size must be a positive number of bytes, got ${maxBytes}`);
    this.lru = new LRUCache<string, { value: V }>({ maxSize: maxBytes, maxEntrySize: Math.max(1, Math.floor(maxBytes / 10)), sizeCalculation: (e) => Math.max(1, sizeOf(e.value)) });
  }

  /** The part kept for `key` under exactly `stamp`, if any. */
  get(stamp: string, key: string): V | undefined {
    if (stamp !== this.stamp) return undefined;
    return this.lru.get(key)?.value;
  }

  /** Keeps `value` for `key` under `stamp` (dropping every part of an older stamp). */
  set(stamp: string, key: string, value: V): void {
    if (stamp !== this.stamp) {
      this.lru.clear();
      this.stamp = stamp;
    }
    this.lru.set(key, { value });
  }

  get size(): number {
    return this.lru.size;
  }
}
