/**
 * The membership gate's watcher stops cleanly, without a chain: a stand-in Consortium whose
 * provider answers only when the test says so. `stop()` must wait for the poll in flight (a
 * node stopping must not leave a chain request behind it) and no poll may start after it.
 */
import { describe, expect, it } from "vitest";
import type { Consortium } from "../../../lib/contracts/types/index.js";
import { MembershipGate } from "../../../node/p2p/gater.ts";

describe("membership gate: stopping the watcher", () => {
  it("waits for the poll in flight, then asks the chain nothing more", async () => {
    let asked = 0;
    let answerHead: ((head: number) => void) | undefined;
    const provider = {
      getBlockNumber: () => {
        asked++;
        // The first call (watch's start) answers at once; polls wait for the test.
        return asked === 1 ? Promise.resolve(7) : new Promise<number>((resolve) => (answerHead = resolve));
      },
    };
    const consortium = { runner: { provider } } as unknown as Consortium;
    const errors: unknown[] = [];
    const gate = new MembershipGate(consortium, { pollMs: 5, onError: (e) => errors.push(e) });
    const stop = await gate.watch({ getConnections: () => [], hangUp: async () => {} });
    await expect.poll(() => answerHead, { timeout: 5_000, interval: 5 }).toBeDefined();

    let stopped = false;
    const stopping = Promise.resolve(stop()).then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false); // the poll is still waiting on the chain
    expect(asked).toBe(2); // and no second poll was stacked on it

    answerHead!(7); // no new block: the poll ends without further calls
    await stopping;
    await new Promise((r) => setTimeout(r, 50));
    expect(asked).toBe(2);
    expect(errors).toEqual([]);
  });
});
