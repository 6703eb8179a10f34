/**
 * The demo's transaction provider (scripts/demo/chain.ts): an organisation's transactions sent
 * back to back each get the account's current nonce. The scenario's set-up sends several grants
 * in a row from one account; with ethers' default 250 ms response cache (a plain JsonRpcProvider)
 * the second was refused ("nonce too low") and the rest of the set-up skipped. That provider fails
 * this test whenever a transfer is mined within the cache's 250 ms, as anvil's usually are.
 */
import { type JsonRpcProvider, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_CHAIN_ID, demoTxProvider } from "../../scripts/demo/chain.ts";
import { type LocalChain, devKey, startAnvil } from "../../scripts/local-chain/local-chain.ts";

describe("the demo's transaction provider", () => {
  let chain: LocalChain;
  beforeAll(async () => {
    chain = await startAnvil({ chainId: DEMO_CHAIN_ID });
  });
  afterAll(async () => {
    await chain?.stop();
  });

  /** Three transfers from one account, each sent once the one before is mined (as the scenario's grants are). */
  const backToBack = async (provider: JsonRpcProvider, keyIndex: number) => {
    const wallet = new Wallet(devKey(keyIndex), provider);
    try {
      for (let i = 0; i < 3; i++) await (await wallet.sendTransaction({ to: wallet.address, value: 1 })).wait();
    } finally {
      provider.destroy();
    }
  };

  it("sends an account's transactions back to back", async () => {
    await expect(backToBack(demoTxProvider(chain.url), 7)).resolves.toBeUndefined();
  });

});
