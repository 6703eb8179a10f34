/**
 * ChainAccessChecker.watch() against a chain that goes away: a member node's chain can die while
 * the node runs. The watcher must report the outage, keep no request in flight once stopped, and
 * leave no unhandled rejection behind (ethers' filter subscriptions did: their teardown sends
 * eth_uninstallFilter unawaited, which rejected with ECONNRESET/ECONNREFUSED once anvil stopped).
 */
import { setTimeout as wait } from "node:timers/promises";
import { JsonRpcProvider, Wallet } from "ethers";
import { afterEach, describe, expect, it } from "vitest";
import { ChainAccessChecker } from "../../lib/access.ts";
import { startAnvil } from "../../scripts/local-chain/local-chain.ts";

/** A provider that counts the requests it is asked to send. */
class CountingProvider extends JsonRpcProvider {
  sent = 0;
  override send(method: string, params: unknown[] | Record<string, unknown>): Promise<unknown> {
    this.sent++;
    return super.send(method, params);
  }
}

const unhandled: unknown[] = [];
const recordUnhandled = (reason: unknown) => unhandled.push(reason);

afterEach(() => {
  process.off("unhandledRejection", recordUnhandled);
  unhandled.length = 0;
});

describe("watching grant and membership events", () => {
  it("stops cleanly, with nothing in flight and no unhandled rejection, after its chain went away", async () => {
    process.on("unhandledRejection", recordUnhandled);
    const chain = await startAnvil();
    const provider = new CountingProvider(chain.url, chain.chainId, { staticNetwork: true, batchMaxCount: 1 });
    provider.pollingInterval = 20;
    const outages: unknown[] = [];
    try {
      const addresses = { accessGrants: Wallet.createRandom().address, consortium: Wallet.createRandom().address };
      const checker = new ChainAccessChecker(addresses, provider, { pollMs: 20, onError: (e) => outages.push(e) });
      const unwatch = await checker.watch();
      await wait(200); // the watch is established and polling
      await chain.stop();
      await wait(500); // the watcher meets the dead chain
      await unwatch();
      const sentAtStop = provider.sent;
      await wait(300); // many poll intervals: a loop still running, or a late teardown, would send
      expect(unhandled).toEqual([]);
      expect(provider.sent).toBe(sentAtStop);
      expect(outages.length).toBeGreaterThan(0);
    } finally {
      provider.destroy();
      await chain.stop();
    }
  });
});
