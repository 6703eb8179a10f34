/** lib/retry: the one back-off policy as each loop configures it, and the waits. */
import { describe, expect, it } from "vitest";
import { Backoff, sleep, withTimeout } from "../../lib/retry.ts";

describe("the retry policy", () => {
  it("as the chain loops use it: doubling from minMs, capped, each delay up to half shorter", () => {
    const randoms = [0, 0.999, 0.5, 0.25, 0];
    let i = 0;
    const b = new Backoff({ initialDelayMs: 500, maxDelayMs: 3000, jitter: 0.5 }, () => randoms[i++]!);
    expect(Array.from({ length: 5 }, () => b.next())).toEqual([500, 500, 1500, 2625, 3000]);
    const real = new Backoff({ initialDelayMs: 500, maxDelayMs: 30_000, jitter: 0.5 });
    for (let n = 0; n < 40; n++) {
      const base = Math.min(30_000, 500 * 2 ** n);
      const d = real.next();
      expect(d).toBeGreaterThanOrEqual(base / 2);
      expect(d).toBeLessThanOrEqual(base);
    }
  });

  it("as the indexer uses it: no jitter, from twice the poll interval", () => {
    const b = new Backoff({ initialDelayMs: 2000, maxDelayMs: 30_000, jitter: 0 });
    expect(Array.from({ length: 6 }, () => b.next())).toEqual([2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });
});

describe("waits", () => {
  it("sleep without a signal waits the full time; an aborted signal returns at once", async () => {
    const t0 = Date.now();
    expect(await sleep(30)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    expect(await sleep(10_000, AbortSignal.abort())).toBe(false);
  });

  it("withTimeout gives up on a promise that never settles, and passes a rejection on", async () => {
    const t0 = Date.now();
    await withTimeout(new Promise(() => {}), 30);
    expect(Date.now() - t0).toBeLessThan(1000);
    await expect(withTimeout(Promise.reject(new Error("refused")), 10_000)).rejects.toThrow("refused");
  });
});
