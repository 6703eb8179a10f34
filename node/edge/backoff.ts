/**
 * Reconnect timing shared by every adapter: exponential, capped, and jittered so that a plant
 * full of adapters does not hammer a device (or broker) in lock-step after it comes back.
 */

export interface ReconnectOptions {
  /** Delay before the first retry, ms. */
  initialDelayMs: number;
  /** Cap on any single delay, ms. */
  maxDelayMs: number;
  /** Fraction (0..1) by which each delay is randomly shortened. */
  jitter: number;
}

export const DEFAULT_RECONNECT: ReconnectOptions = { initialDelayMs: 500, maxDelayMs: 30_000, jitter: 0.2 };

export class Backoff {
  private failures = 0;
  private readonly opts: ReconnectOptions;

  constructor(
    opts: Partial<ReconnectOptions> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.opts = { ...DEFAULT_RECONNECT, ...opts };
  }

  /** Retries scheduled since the last success. */
  get attempts(): number {
    return this.failures;
  }

  /**
   * The delay before the next attempt: initial * 2^n, capped, then shortened by up to
   * `jitter` of itself. Shortening (rather than lengthening) keeps the cap a hard bound.
   */
  next(): number {
    const exp = Math.min(this.failures, 52);
    this.failures++;
    const base = Math.min(this.opts.maxDelayMs, this.opts.initialDelayMs * 2 ** exp);
    return Math.round(base * (1 - this.opts.jitter * this.random()));
  }

  reset(): void {
    this.failures = 0;
  }
}

/**
 * Wait `ms`, or less if `signal` aborts. Resolves true when the full time passed, false when
 * aborted; never rejects, so callers can write `if (!(await sleep(ms, signal))) return;`.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Wait for `p`, but no longer than `ms` (the timer is cleared either way). */
export async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
