/** lib/positive-cache: bounded, short-lived, and only a "yes" is kept. */
import { describe, expect, it } from "vitest";
import { PositiveCache } from "../../lib/positive-cache.ts";

/** A loader that counts its calls and answers from `answer`. */
function counted<V>(answer: (key: string) => V) {
  const calls: string[] = [];
  return { calls, load: (key: string) => () => (calls.push(key), Promise.resolve(answer(key))) };
}

describe("PositiveCache", () => {
  it("reuses a positive answer until its TTL passes, by the injected clock", async () => {
    let now = 1_000;
    const cache = new PositiveCache<boolean>({ ttlMs: 100, maxEntries: 10, isPositive: (v) => v, now: () => now });
    const { calls, load } = counted(() => true);
    expect(await cache.get("a", load("a"))).toBe(true);
    now += 99;
    expect(await cache.get("a", load("a"))).toBe(true);
    expect(calls).toEqual(["a"]);
    now += 1;
    await cache.get("a", load("a"));
    expect(calls).toEqual(["a", "a"]);
  });

  it("never keeps a refusal or a failure: the next question asks again", async () => {
    const cache = new PositiveCache<number>({ ttlMs: 60_000, maxEntries: 10, isPositive: (org) => org !== 0 });
    const { calls, load } = counted(() => 0);
    expect(await cache.get("stranger", load("stranger"))).toBe(0);
    expect(await cache.get("stranger", load("stranger"))).toBe(0);
    expect(calls).toEqual(["stranger", "stranger"]);
    expect(cache.size).toBe(0);

    let fail = true;
    const flaky = () => (fail ? Promise.reject(new Error("chain down")) : Promise.resolve(7));
    await expect(cache.get("member", flaky)).rejects.toThrow("chain down");
    expect(cache.size).toBe(0);
    fail = false;
    expect(await cache.get("member", flaky)).toBe(7);
    expect(cache.size).toBe(1);
  });

  it("holds at most maxEntries answers, dropping the least recently used", async () => {
    const cache = new PositiveCache<boolean>({ ttlMs: 60_000, maxEntries: 3, isPositive: (v) => v });
    const { calls, load } = counted(() => true);
    for (const k of ["a", "b", "c"]) await cache.get(k, load(k));
    await cache.get("a", load("a")); // a is now the most recently used
    await cache.get("d", load("d")); // evicts b
    expect(cache.size).toBe(3);
    calls.length = 0;
    await cache.get("a", load("a"));
    await cache.get("b", load("b"));
    expect(calls).toEqual(["b"]);
    for (let i = 0; i < 1000; i++) await cache.get(`k${i}`, load(`k${i}`));
    expect(cache.size).toBe(3);
  });

  it("shares one chain call between concurrent questions, and a TTL of 0 caches nothing", async () => {
    const cache = new PositiveCache<boolean>({ ttlMs: 60_000, maxEntries: 10, isPositive: (v) => v });
    const { calls, load } = counted(() => true);
    await Promise.all([cache.get("a", load("a")), cache.get("a", load("a"))]);
    expect(calls).toEqual(["a"]);
    cache.clear();
    await cache.get("a", load("a"));
    expect(calls).toEqual(["a", "a"]);

    const off = new PositiveCache<boolean>({ ttlMs: 0, maxEntries: 10, isPositive: (v) => v });
    const second = counted(() => true);
    await off.get("a", second.load("a"));
    await off.get("a", second.load("a"));
    expect(second.calls).toEqual(["a", "a"]);
    expect(off.size).toBe(0);
  });
});
