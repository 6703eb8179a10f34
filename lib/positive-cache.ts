/**
 * The one cache of chain answers (membership, admission, access grants): bounded in entries,
 * short-lived, and keeping only positive answers. A refusal is always the chain's answer of the
 * moment, so an organisation admitted or a grant issued a moment ago is honoured at once, and a
 * flood of unknown callers cannot fill the cache. A failed chain call is not an answer either:
 * the next question asks again. Entries are promises, so concurrent questions share one call.
 */
import { LRUCache } from "lru-cache";

export interface PositiveCacheOptions<V> {
  /** How long a positive answer is reused, ms; 0 turns caching off. */
  ttlMs: number;
  /** Most answers kept; the least recently used go first. */
  maxEntries: number;
  /** Whether an answer may be kept (a "yes"); anything else is asked again next time. */
  isPositive: (value: V) => boolean;
  /** Milliseconds clock; tests inject one to expire answers without waiting. */
  now?: () => number;
}

export class PositiveCache<V> {
  private readonly lru: LRUCache<string, Promise<V>> | undefined;
  private readonly isPositive: (value: V) => boolean;

  constructor(options: PositiveCacheOptions<V>) {
    this.isPositive = options.isPositive;
    if (options.ttlMs > 0) {
      const now = options.now ?? Date.now;
      this.lru = new LRUCache<string, Promise<V>>({
        max: options.maxEntries,
        // lru-cache calls an entry stale once its age exceeds `ttl`; ours expire when the age
        // reaches ttlMs ("ttlMs later, ask again"). Counting in half-milliseconds makes the two
        // agree on a millisecond clock; the +1 keeps a clock reading 0 from meaning "no start".
        ttl: 2 * options.ttlMs - 1,
        perf: { now: () => 2 * now() + 1 },
        // Read the clock on every lookup (no coarse timer), so an injected clock is exact.
        ttlResolution: 0,
      });
    }
  }

  /** The cached answer for `key`, or `load()`'s (kept only once it resolves to a positive answer). */
  get(key: string, load: () => Promise<V>): Promise<V> {
    const lru = this.lru;
    const hit = lru?.get(key);
    if (hit) return hit;
    const value = load();
    if (!lru) return value;
    lru.set(key, value);
    const forget = () => {
      if (lru.peek(key) === value) lru.delete(key);
    };
    value.then((v) => {
      if (!this.isPositive(v)) forget();
    }, forget);
    return value;
  }

  /** Forgets every answer (after an event that may have changed them). */
  clear(): void {
    this.lru?.clear();
  }

  /** Answers held now, in flight included. */
  get size(): number {
    return this.lru?.size ?? 0;
  }
}
