/**
 * The chains the anchoring tests run against, each set up once for the describe block that calls
 * it, with a list of cleanups run (last added first) after each test: an in-process Hardhat chain
 * with the consortium and a DataAnchors bound to it, or a real anvil with the whole deployment and
 * a provider that neither batches nor caches (evm_snapshot / evm_revert must be seen at once).
 * And a node that anchors on the in-process chain, for tests that need anchored windows.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { JsonRpcProvider } from "ethers";
import { network } from "hardhat";
import { afterAll, afterEach, beforeAll } from "vitest";
import type { DataAnchors } from "../../lib/contracts/types/index.js";
import { Anchorer, type AnchorerOptions } from "../../node/chain/anchorer.ts";
import { AnchorChain, ChainClient, type ChainClientOptions } from "../../node/chain/client.ts";
import { IngestPipeline, type PipelineOptions } from "../../node/ingest/pipeline.ts";
import { ProofService } from "../../node/ingest/proofs.ts";
import { IngestStore } from "../../node/ingest/store.ts";
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
  /** A fresh temporary folder, removed after the test. */
  tempDir(prefix: string): string;
}

/** An in-process chain with the consortium and a DataAnchors bound to it; the fields are set before the first test. */
export function useInProcessAnchors(): InProcessAnchors {
  const cleanups: Cleanups = [];
  const tempDir = (prefix: string) => {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  };
  const env = { cleanups, tempDir } as InProcessAnchors;
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

export interface AnchoringNodeOptions {
  /** Bind the store to the signer first, as the daemon does (default true). */
  bindNode?: boolean;
  /** Start the anchorer (default true). */
  start?: boolean;
  pipeline?: PipelineOptions;
  client?: ChainClientOptions;
  anchorer?: AnchorerOptions;
}

/**
 * A node of `signer` on `env`'s DataAnchors: its reading store in `dir`, its pipeline (hour
 * windows, closed by the test), its anchorer (started unless asked not to; retried quickly) and
 * proofs of what it holds. `stop()` stops it; the test's folder is its own.
 */
export async function anchoringNode(env: InProcessAnchors, signer: HardhatEthersSigner, dir: string, secret: Buffer, o: AnchoringNodeOptions = {}) {
  const store = await IngestStore.open(dir);
  if (o.bindNode ?? true) await store.bindNode(signer.address);
  const pipeline = await IngestPipeline.open(store, secret, { windowMs: 3_600_000, ...o.pipeline });
  const client = new ChainClient(env.conn.ethers.provider, { pollMs: 20, confirmations: 1, ...o.client });
  const chain = await AnchorChain.create(client, await env.anchors.getAddress(), signer);
  const anchorer = new Anchorer(store, pipeline, chain, { retry: { minMs: 20, maxMs: 100 }, ...o.anchorer });
  pipeline.on("window", () => anchorer.notify());
  if (o.start ?? true) await anchorer.start();
  const proofs = new ProofService(store, signer.address);
  const stop = async () => {
    await anchorer.stop();
    await pipeline.stop();
    await store.close();
  };
  return { store, pipeline, anchorer, proofs, stop };
}
