/**
 * A throwaway local chain for tests and benchmarks: anvil on a loopback port (optionally with
 * persisted state, so it can be stopped and started again), and a deployment of the Tracemesh
 * contracts behind their proxies through the typed factories (no Hardhat runtime needed, so child
 * processes and benchmarks use it too). Not for the demo (`npm start`) or real networks, which
 * deploy through Ignition.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import path from "node:path";
import { type BaseContract, HDNodeWallet, JsonRpcProvider, NonceManager, Wallet } from "ethers";
import { type FounderInit, Role, roleMask } from "../../lib/consortium.ts";
import {
  AccessGrants__factory,
  Certificates__factory,
  Consortium__factory,
  DataAnchors__factory,
  Provenance__factory,
  TracemeshProxy__factory,
} from "../../lib/contracts/types/index.js";
import type { Deployment } from "../../lib/deployment.ts";

const root = path.resolve(import.meta.dirname, "..", "..");

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, "close");
  return port;
}

export interface LocalChain {
  url: string;
  port: number;
  chainId: number;
  process: ChildProcess;
  /** Stops anvil (SIGTERM: it writes its state file first, when it has one). */
  stop(): Promise<void>;
}

export interface AnvilOptions {
  port?: number;
  /** Load state from, and dump it to, this file. */
  stateFile?: string;
  chainId?: number;
}

/** Starts anvil and waits until it answers. */
export async function startAnvil(options: AnvilOptions = {}): Promise<LocalChain> {
  const port = options.port ?? (await freePort());
  const chainId = options.chainId ?? 31337;
  const args = ["--host", "127.0.0.1", "--port", String(port), "--chain-id", String(chainId), "--hardfork", "cancun", "--silent"];
  if (options.stateFile) args.push("--state", options.stateFile);
  const proc = spawn(path.join(root, "node_modules", ".bin", "anvil"), args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`anvil exited at start (code ${proc.exitCode}): ${stderr.trim()}`);
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`anvil did not answer on ${url} within 30 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port,
    chainId,
    process: proc,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = once(proc, "exit");
      proc.kill("SIGTERM");
      await exited;
    },
  };
}

/** Anvil's well-known development key at `index` (public; worthless outside a local chain). */
export function devKey(index: number): string {
  return HDNodeWallet.fromPhrase("test test test test test test test test test test test junk", undefined, `m/44'/60'/0'/0/${index}`).privateKey;
}

export interface LocalOrg {
  name: string;
  accounts: string[];
  roles?: Role[];
}

/**
 * Deploys Consortium (with `orgs` as founders) and the four member-facing contracts behind their
 * proxies, as the Ignition module does, and returns the deployment record.
 */
export async function deployLocal(url: string, deployerKey: string, orgs: LocalOrg[]): Promise<Deployment> {
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, batchMaxCount: 1 });
  provider.pollingInterval = 100;
  try {
    const chainId = Number((await provider.getNetwork()).chainId);
    const deployer = new NonceManager(new Wallet(deployerKey, provider));
    const deploymentBlock = (await provider.getBlockNumber()) + 1;
    const deployed = async <T extends BaseContract>(c: Promise<T>) => {
      const contract = await c;
      await contract.waitForDeployment();
      return contract.getAddress();
    };
    const founders: FounderInit[] = orgs.map((o) => ({
      name: o.name,
      roles: roleMask(...(o.roles ?? [Role.Supplier])),
      accounts: o.accounts,
      nodes: [],
    }));
    const consortiumImpl = await deployed(new Consortium__factory(deployer).deploy());
    const init = Consortium__factory.createInterface().encodeFunctionData("initialize", [founders, 5001, 24 * 3600]);
    const consortium = await deployed(new TracemeshProxy__factory(deployer).deploy(consortiumImpl, init));
    const bound = async (factory: { deploy(): Promise<BaseContract>; interface: { encodeFunctionData(name: "initialize", args: [string]): string } }) => {
      const impl = await deployed(factory.deploy());
      return deployed(new TracemeshProxy__factory(deployer).deploy(impl, factory.interface.encodeFunctionData("initialize", [consortium])));
    };
    return {
      chainId,
      deploymentBlock,
      contracts: {
        consortium,
        provenance: await bound(new Provenance__factory(deployer)),
        certificates: await bound(new Certificates__factory(deployer)),
        accessGrants: await bound(new AccessGrants__factory(deployer)),
        dataAnchors: await bound(new DataAnchors__factory(deployer)),
      },
    };
  } finally {
    provider.destroy();
  }
}
