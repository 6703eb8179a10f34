/**
 * A transaction sent while the chain is down fails with a rejection its sender handles, and
 * leaves nothing else behind: ethers' NonceManager started a nonce lookup it never awaited when
 * populating the transaction failed, and that rejection ended member processes.
 */
import { createServer } from "node:net";
import { JsonRpcProvider, Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { AccountNonceManager } from "../../../node/chain/client.ts";

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("AccountNonceManager", () => {
  it("fails a send to an unreachable chain with one handled rejection, none unhandled", async () => {
    const provider = new JsonRpcProvider(`http://127.0.0.1:${await closedPort()}`, 31337, { staticNetwork: true, batchMaxCount: 1 });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const manager = new AccountNonceManager(Wallet.createRandom().connect(provider));
      await expect(manager.sendTransaction({ to: Wallet.createRandom().address, value: 1n })).rejects.toThrow();
      // Give a stray rejection time to surface (Node reports it after the microtask queue drains).
      await new Promise((r) => setTimeout(r, 500));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      provider.destroy();
    }
  });
});
