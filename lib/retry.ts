/**
 * The one retry timing of the project: exponential back-off (cockatiel's), capped, and jittered by
 * shortening each delay, plus the one abortable sleep. Every retry loop (chain anchoring, event
 * recording, edge reconnects and sink writes, the chain indexer) configures this policy instead
 * of computing delays itself:
 * - doubling from `initialDelayMs` up to `maxDelayMs`;
 * - each delay shortened by a random fraction of up to `jitter`, so a plant full of adapters (or
 *   a consortium of nodes) does not retry in lock-step; shortening rather than lengthening keeps
 *   the cap a hard bound.
 * Which errors are retried, and when a loop gives up, stay with each loop: they are its business.
 */
import { setTimeout as wait } from "node:timers/promises";
import { ExponentialBackoff, type GeneratorFn, type IBackoff, type IBackoffFactory, noJitterGenerator } from "cockatiel";

export interface BackoffPolicy {
  /** Delay before the first retry, ms. */
  initialDelayMs: number;
  /** Cap on any single delay, ms. */
  maxDelayMs: number;
  /** Fraction (0..1) by which each delay is randomly shortened. */
  jitter: number;
}

/** Edge adapters' reconnects (and the default here): start at 0.5 s, at most 30 s, up to 20% shorter. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialDelayMs: 500, maxDelayMs: 30_000, jitter: 0.2 };

/** cockatiel's capped doubling, each delay shortened by up to `jitter` of itself. */
const shortenedBy =
  (jitter: number, random: () => number): GeneratorFn<number> =>
  (attempt, options) => {
    const [delay, next] = noJitterGenerator(attempt, options);
    return [Math.round(delay * (1 - jitter * random())), next];
  };

/** The delays of one run of retries: `next()` after each failure, `reset()` after a success. */
export class Backoff {
  private readonly factory: IBackoffFactory<unknown>;
  private current: IBackoff<unknown> | undefined;
  private failures = 0;

  constructor(policy: Partial<BackoffPolicy> = {}, random: () => number = Math.random) {
    const p = { ...DEFAULT_BACKOFF, ...policy };
    this.factory = new ExponentialBackoff({ initialDelay: p.initialDelayMs, maxDelay: p.maxDelayMs, generator: shortenedBy(p.jitter, random) });
  }

  /** Retries scheduled since the last success. */
  get attempts(): number {
    return this.failures;
  }

  /** The delay before the next attempt. */
  next(): number {
    this.current = (this.current ?? this.factory).next(undefined);
    this.failures++;
    return this.current.duration;
  }

  reset(): void {
    this.current = undefined;
    this.failures = 0;
  }
}

/**
 * Wait `ms`, or less if `signal` aborts. Resolves true when the full time passed, false when
 * aborted; never rejects, so callers can write `if (!(await sleep(ms, signal))) return;`.
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await wait(ms, undefined, signal ? { signal } : {});
    return true;
  } catch (e) {
    if (signal?.aborted) return false;
    throw e;
  }
}

/** Wait for `p`, but no longer than `ms` (the timer is cleared either way). */
export async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  const timer = new AbortController();
  try {
    await Promise.race([p, sleep(ms, timer.signal)]);
  } finally {
    timer.abort();
  }
}
