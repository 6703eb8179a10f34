/**
 * The chains the anchoring tests run against, each set up once for the describe block that calls
 * it, with a list of cleanups run (last added first) after each test: an in-process Hardhat chain
 * with the consortium and a DataAnchors bound to it, or a real anvil with the whole deployment and
 * a provider that neither batches nor caches (evm_snapshot / evm_revert must be seen at once).
 */
import { JsonRpcProvider } from "ethers";
import { network } from "hardhat";
import { afterAll, afterEach, beforeAll } from "vitest";
import type { DataAnchors } from "../../lib/contracts/types/index.js";
import { type ConsortiumFixture, type Conn, deployBound, deployConsortium } from "./fixture.ts";
import { type TestChain, startTestChain } from "./gateway.ts";

/** What a test undoes after itself (nodes stopped, directories removed). */
export type Cleanups = (() => Promise<void>)[];

function cleanUpAfterEach(cleanups: Cleanups): void {
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
}

export interface InProcessAnchors {
  conn: Conn;
  fx: ConsortiumFixture;
  anchors: DataAnchors;
  cleanups: Cleanups;
}

/** An in-process chain with the consortium and a DataAnchors bound to it; the fields are set before the first test. */
export function useInProcessAnchors(): InProcessAnchors {
  const env = { cleanups: [] as Cleanups } as InProcessAnchors;
  beforeAll(async () => {
    env.conn = await network.create();
    env.fx = await deployConsortium(env.conn);
    env.anchors = await deployBound<DataAnchors>(env.conn, "DataAnchors", await env.fx.consortium.getAddress());
  });
  afterAll(async () => env.conn?.close());
  cleanUpAfterEach(env.cleanups);
  return env;
}

export interface AnvilAnchors {
  chain: TestChain;
  provider: JsonRpcProvider;
  cleanups: Cleanups;
}

/** A real anvil with the whole deployment (startTestChain) and an uncached provider to it; the fields are set before the first test. */
export function useAnvilAnchors(): AnvilAnchors {
  const env = { cleanups: [] as Cleanups } as AnvilAnchors;
  beforeAll(async () => {
    env.chain = await startTestChain();
    env.provider = new JsonRpcProvider(env.chain.chain.url, env.chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
  }, 60_000);
  afterAll(async () => {
    env.provider?.destroy();
    await env.chain?.stop();
  });
  cleanUpAfterEach(env.cleanups);
  return env;
}
