/**
 * `npm start`: the local demo consortium on 127.0.0.1.
 *
 * Starts a local EVM chain (anvil) whose state persists in the demo directory, deploys the
 * Tracemesh contracts through the same Ignition module used for real networks (only once: a
 * restart continues the same consortium), and keeps running until Ctrl-C.
 *
 *   npm start                 start or continue the demo
 *   npm start -- --reset      forget the demo's chain and start from scratch
 *
 * Environment: TRACEMESH_DEMO_DIR (default .demo), TRACEMESH_CHAIN_PORT (default 8545).
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { JsonRpcProvider } from "ethers";
import hre from "hardhat";
import TracemeshModule from "../ignition/modules/Tracemesh.ts";
import { type RunningAnvil, startAnvil } from "../lib/anvil.ts";
import { rolesOf, Role } from "../lib/consortium.ts";
import { type Deployment, connectContracts, readDeployment } from "../lib/deployment.ts";
import { demoWallet } from "./demo/accounts.ts";
import { DEMO_ORGS, demoFounders } from "./demo/consortium.ts";

const root = path.resolve(import.meta.dirname, "..");
const demoDir = path.resolve(root, process.env.TRACEMESH_DEMO_DIR ?? ".demo");
const chainPort = Number(process.env.TRACEMESH_CHAIN_PORT ?? 8545);
const rpcUrl = `http://127.0.0.1:${chainPort}`;
const deploymentFile = path.join(demoDir, "deployment.json");
const DEPLOYMENT_ID = "tracemesh-demo";

const step = (msg: string) => console.log(`[demo] ${msg}`);

function resetDemo() {
  step(`reset: removing ${path.relative(root, demoDir)} and the demo's Ignition journal`);
  rmSync(demoDir, { recursive: true, force: true });
  rmSync(path.join(root, "ignition", "deployments", DEPLOYMENT_ID), { recursive: true, force: true });
}

async function startChain(): Promise<RunningAnvil> {
  mkdirSync(path.join(demoDir, "chain"), { recursive: true });
  const stateFile = path.join(demoDir, "chain", "state.json");
  step(`starting the chain on ${rpcUrl} (state: ${path.relative(root, stateFile)})`);
  try {
    return await startAnvil(
      // Dump state every few seconds so even a hard kill loses little.
      ["--chain-id", "31337", "--hardfork", "cancun", "--state", stateFile, "--state-interval", "3", "--silent"],
      { port: chainPort, timeoutMs: 30_000 },
    );
  } catch (e) {
    throw new Error(`the chain did not start on ${rpcUrl} (is port ${chainPort} in use?): ${(e as Error).message}`);
  }
}

/** Deploys the contracts unless the persisted chain already holds them. */
async function ensureDeployed(): Promise<Deployment> {
  const provider = new JsonRpcProvider(rpcUrl, 31337, { staticNetwork: true });
  try {
    if (existsSync(deploymentFile)) {
      const known = readDeployment(deploymentFile);
      if ((await provider.getCode(known.contracts.consortium)) !== "0x") {
        step("contracts already deployed: continuing the same consortium");
        return known;
      }
      throw new Error(
        `${path.relative(root, deploymentFile)} names contracts the chain does not hold (was the chain state lost?). ` +
          "Run `npm start -- --reset` to start from scratch.",
      );
    }
    step("deploying Consortium, Provenance, Certificates, AccessGrants and DataAnchors (Ignition)");
    const startBlock = await provider.getBlockNumber();
    const conn = await hre.network.create({ network: "localhost", override: { url: rpcUrl } });
    const deployed = await conn.ignition.deploy(TracemeshModule, {
      deploymentId: DEPLOYMENT_ID,
      displayUi: false,
      config: { requiredConfirmations: 1 },
      parameters: { Tracemesh: { founders: demoFounders() as never, quorumBps: 5001, votingPeriod: 24 * 3600 } },
    });
    const contracts = {
      consortium: await deployed.consortium.getAddress(),
      provenance: await deployed.provenance.getAddress(),
      certificates: await deployed.certificates.getAddress(),
      accessGrants: await deployed.accessGrants.getAddress(),
      dataAnchors: await deployed.dataAnchors.getAddress(),
    };
    await conn.close();
    const deployment: Deployment = {
      chainId: Number((await provider.getNetwork()).chainId),
      deploymentBlock: startBlock + 1,
      contracts,
    };
    writeFileSync(deploymentFile, JSON.stringify(deployment, null, 2) + "\n");
    return deployment;
  } finally {
    provider.destroy();
  }
}

async function describeConsortium(deployment: Deployment) {
  const provider = new JsonRpcProvider(rpcUrl, 31337, { staticNetwork: true });
  const { consortium } = connectContracts(deployment.contracts, provider);
  const count = Number(await consortium.orgCount());
  step(`consortium at ${deployment.contracts.consortium}: ${count} organisations`);
  for (let id = 1; id <= count; id++) {
    const [name, status, roles] = await consortium.org(id);
    const demo = DEMO_ORGS.find((o) => o.name === name);
    const account = demo ? demoWallet(demo.accountIndex) : undefined;
    const roleNames = rolesOf(roles).map((r) => Role[r]).join(", ");
    console.log(`  #${id} ${name} [${roleNames}]${Number(status) === 1 ? "" : " (not active)"}`);
    if (account) console.log(`      demo sign-in: ${account.address} (LOCAL DEMO key ${account.privateKey})`);
  }
  provider.destroy();
}

async function main() {
  if (process.argv.includes("--reset")) resetDemo();
  const chain = await startChain();
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    step(`${signal}: stopping (the chain saves its state)`);
    void chain.stop();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  void chain.exited.then(() => {
    step("chain stopped");
    process.exit(stopping ? 0 : 1);
  });
  try {
    const deployment = await ensureDeployed();
    await describeConsortium(deployment);
    step(`ready. Chain RPC: ${rpcUrl}. Press Ctrl-C to stop; \`npm start\` again continues.`);
  } catch (e) {
    console.error(`[demo] ${(e as Error).message}`);
    stop("SIGTERM");
  }
}

await main();
