/** Exponential back-off with jitter, and a sleep that a stop signal cuts short. */

export interface BackoffOptions {
  /** First delay, ms (default 500). */
  minMs?: number;
  /** Largest delay, ms (default 30,000). */
  maxMs?: number;
}

/** The delay before retry `attempt` (0-based): min * 2^attempt, capped, times a random 0.5..1. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const min = options.minMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const base = Math.min(max, min * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.5 + Math.random() / 2));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
