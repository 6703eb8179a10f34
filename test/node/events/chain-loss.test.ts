/**
 * The node's events service when its chain goes away while it runs (a member's chain node can
 * die too): closing it must finish cleanly, with no request left in flight and no unhandled
 * rejection. openEvents starts the capture worker and the access cache's watch of grant and
 * membership events; the watch once used ethers' filter subscriptions, whose teardown left one
 * unhandled ECONNRESET/ECONNREFUSED rejection per watched event.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as wait } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Wallet } from "ethers";
import { afterEach, describe, expect, it } from "vitest";
import { ChainClient } from "../../../node/chain/client.ts";
import { openEvents } from "../../../node/events/service.ts";
import { startTestChain } from "../../helpers/gateway.ts";

const FIXTURES = fileURLToPath(new URL("../../../../shared/fixtures/epcis/", import.meta.url));

const unhandled: unknown[] = [];
const recordUnhandled = (reason: unknown) => unhandled.push(reason);
afterEach(() => {
  process.off("unhandledRejection", recordUnhandled);
  unhandled.length = 0;
});

describe("events service: losing the chain", () => {
  it("closes cleanly, with no unhandled rejection, after its chain stopped under it", async () => {
    process.on("unhandledRejection", recordUnhandled);
    const chain = await startTestChain();
    const dir = mkdtempSync(path.join(tmpdir(), "tracemesh-events-chain-loss-"));
    const provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1 });
    provider.pollingInterval = 50;
    try {
      const events = await openEvents({
        dataDir: dir,
        deployment: chain.deployment,
        client: new ChainClient(provider, { pollMs: 25 }),
        signer: new Wallet(chain.orgs.steel.accounts[1]!.privateKey, provider),
        validator: { schemaPath: path.join(FIXTURES, "EPCIS-JSON-Schema.json") },
        contexts: path.join(FIXTURES, "epcis-context.jsonld"),
        capture: { retryBaseMs: 50, retryMaxMs: 200 },
      });
      await wait(300); // the access watch is established and polling
      await chain.chain.stop();
      await wait(500); // its polls meet the dead chain
      await events.close();
      await wait(300); // a late teardown request would reject now
      expect(unhandled).toEqual([]);
    } finally {
      provider.destroy();
      await chain.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
