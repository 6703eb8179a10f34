/**
 * The demo's chain: anvil with its state persisted in the demo directory, and the Tracemesh
 * contracts deployed once through the same Ignition module used for real networks.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { JsonRpcProvider } from "ethers";
import hre from "hardhat";
import { deployTracemesh } from "../../ignition/deploy.ts";
import { type RunningAnvil, startAnvil } from "../local-chain/anvil.ts";
import type { FounderInit } from "../../lib/consortium.ts";
import { type Deployment, readDeployment } from "../../lib/deployment.ts";
import { demoPrefixGrants } from "./consortium.ts";

export const DEMO_CHAIN_ID = 31337;

/**
 * Ignition keeps its journal under ignition/deployments/<id>; one id per demo directory, so a demo
 * started elsewhere (a test's temporary directory) never resumes another demo's deployment.
 */
export const deploymentIdOf = (demoDir: string) => `tracemesh-demo-${createHash("sha256").update(path.resolve(demoDir)).digest("hex").slice(0, 12)}`;

/**
 * A provider for the demo's own transactions (the scenario sends them from each organisation's
 * account). No response cache: ethers shares identical requests made within 250 ms, and anvil
 * mines at once, so the second of two back-to-back transactions from one account would be given
 * the first one's nonce and refused ("nonce too low").
 */
export const demoTxProvider = (rpcUrl: string) => new JsonRpcProvider(rpcUrl, DEMO_CHAIN_ID, { staticNetwork: true, cacheTimeout: -1 });

export async function startDemoChain(demoDir: string, port: number): Promise<RunningAnvil> {
  mkdirSync(path.join(demoDir, "chain"), { recursive: true });
  const stateFile = path.join(demoDir, "chain", "state.json");
  try {
    return await startAnvil(
      // Dump state every few seconds so even a hard kill loses little.
      ["--chain-id", String(DEMO_CHAIN_ID), "--accounts", "20", "--hardfork", "cancun", "--state", stateFile, "--state-interval", "3", "--silent"],
      // Its own process group: a Ctrl-C in the terminal must not stop the chain before the members
      // have anchored their last windows; the demo stops it last.
      { port, timeoutMs: 30_000, ownProcessGroup: true },
    );
  } catch (e) {
    throw new Error(`the chain did not start on 127.0.0.1:${port} (is the port in use?): ${(e as Error).message}`);
  }
}

/**
 * The deployment record, deploying first unless the persisted chain already holds it.
 * `founders` is only called when a deployment is needed.
 */
export async function ensureDeployed(
  demoDir: string,
  rpcUrl: string,
  deploymentFile: string,
  founders: () => FounderInit[],
  log: (m: string) => void,
): Promise<{ deployment: Deployment; fresh: boolean }> {
  const provider = new JsonRpcProvider(rpcUrl, DEMO_CHAIN_ID, { staticNetwork: true });
  try {
    if (existsSync(deploymentFile)) {
      const known = readDeployment(deploymentFile);
      if ((await provider.getCode(known.contracts.consortium)) !== "0x") return { deployment: known, fresh: false };
      throw new Error(
        `${deploymentFile} names contracts the chain does not hold (was the chain state lost?). Run \`npm start -- --reset\` to start from scratch.`,
      );
    }
    log("deploying Consortium, IdentifierNamespaces, Provenance, Certificates, AccessGrants and DataAnchors (Ignition)");
    const conn = await hre.network.create({ network: "localhost", override: { url: rpcUrl } });
    try {
      const deployment = await deployTracemesh(conn, {
        deploymentId: deploymentIdOf(demoDir),
        founders: founders(),
        quorumBps: 5001,
        votingPeriod: 24 * 3600,
        prefixes: demoPrefixGrants(),
      });
      writeFileSync(deploymentFile, JSON.stringify(deployment, null, 2) + "\n");
      return { deployment, fresh: true };
    } finally {
      await conn.close();
    }
  } finally {
    provider.destroy();
  }
}
