/**
 * A throwaway local chain for tests and benchmarks: anvil on a loopback port (optionally with
 * persisted state, so it can be stopped and started again), and a deployment of the Tracemesh
 * contracts behind their proxies through the typed factories (no Hardhat runtime needed, so child
 * processes and benchmarks use it too). Not for the demo (`npm start`) or real networks, which
 * deploy through Ignition.
 */
import { type BaseContract, HDNodeWallet, JsonRpcProvider, NonceManager, Wallet } from "ethers";
import { type FounderInit, type NodeIdentityInit, Role, roleMask } from "../../lib/consortium.ts";
import {
  AccessGrants__factory,
  Certificates__factory,
  Consortium__factory,
  DataAnchors__factory,
  IdentifierNamespaces__factory,
  Provenance__factory,
  TracemeshProxy__factory,
} from "../../lib/contracts/types/index.js";
import type { Deployment } from "../../lib/deployment.ts";
import { NamespacePolicy, prefixGrant, schemeArgs } from "../../lib/namespaces.ts";
import { startAnvil as startAnvilProcess } from "./anvil.ts";
import { ChainClient } from "../../node/chain/client.ts";

export interface LocalChain {
  url: string;
  port: number;
  chainId: number;
  /** Anvil's process id (tests stop it with SIGSTOP to play a hung chain). */
  pid: number;
  /** Stops anvil (SIGTERM: it writes its state file first, when it has one). */
  stop(): Promise<void>;
}

export interface AnvilOptions {
  port?: number;
  /** Load state from, and dump it to, this file. */
  stateFile?: string;
  chainId?: number;
}

/** Starts anvil (anvil.ts) with the contracts' EVM version and waits until it answers. */
export async function startAnvil(options: AnvilOptions = {}): Promise<LocalChain> {
  const chainId = options.chainId ?? 31337;
  const args = ["--chain-id", String(chainId), "--hardfork", "cancun", "--silent"];
  if (options.stateFile) args.push("--state", options.stateFile);
  const anvil = await startAnvilProcess(args, { port: options.port, timeoutMs: 30_000 });
  return { url: anvil.url, port: anvil.port, chainId, pid: anvil.pid, stop: anvil.stop };
}

/** Anvil's well-known development key at `index` (public; worthless outside a local chain). */
export function devKey(index: number): string {
  return HDNodeWallet.fromPhrase("test test test test test test test test test test test junk", undefined, `m/44'/60'/0'/0/${index}`).privateKey;
}

export interface LocalOrg {
  name: string;
  accounts: string[];
  roles?: Role[];
  /** Node identities registered at founding (libp2p peer ids of its member nodes). */
  nodes?: NodeIdentityInit[];
  /** Identifier prefixes registered to it at founding (GS1 Company Prefixes). */
  prefixes?: string[];
}

/**
 * A node identity with only a libp2p peer id (local chains run no Besu). Anchoring needs one: each
 * organisation anchors one chain of windows per registered node (DataAnchors).
 */
export function peerOnlyNode(peerId: string): NodeIdentityInit {
  return { peerId, enodeId: "", enodeHost: "", enodePort: 0, validator: "0x0000000000000000000000000000000000000000" };
}

export interface DeployLocalOptions {
  /** What happens to identifiers under no registered prefix; refused (Enforced) by default. */
  namespacePolicy?: NamespacePolicy;
}

/**
 * Deploys Consortium (with `orgs` as founders, organisation ids in this order from 1) and the
 * member-facing contracts behind their proxies, as the Ignition module does, and returns the
 * deployment record.
 */
export async function deployLocal(url: string, deployerKey: string, orgs: LocalOrg[], options: DeployLocalOptions = {}): Promise<Deployment> {
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, batchMaxCount: 1 });
  provider.pollingInterval = 100;
  try {
    const chainId = Number((await provider.getNetwork()).chainId);
    const deployer = new NonceManager(new Wallet(deployerKey, provider));
    const deploymentBlock = (await provider.getBlockNumber()) + 1;
    // Polls the receipt (ChainClient.confirmed) rather than ethers' waitForDeployment(): anvil
    // mines on arrival and then stays still, and a block-driven wait that subscribes just after
    // that block never returns.
    const client = new ChainClient(provider, { pollMs: 100 });
    const deployed = async <T extends BaseContract>(c: Promise<T>) => {
      const contract = await c;
      const receipt = await client.confirmed(contract.deploymentTransaction()!.hash);
      if (receipt.status !== 1) throw new Error(`deployment transaction ${receipt.hash} reverted`);
      return contract.getAddress();
    };
    const founders: FounderInit[] = orgs.map((o) => ({
      name: o.name,
      roles: roleMask(...(o.roles ?? [Role.Supplier])),
      accounts: o.accounts,
      nodes: o.nodes ?? [],
    }));
    const consortiumImpl = await deployed(new Consortium__factory(deployer).deploy());
    const init = Consortium__factory.createInterface().encodeFunctionData("initialize", [founders, 5001, 24 * 3600]);
    const consortium = await deployed(new TracemeshProxy__factory(deployer).deploy(consortiumImpl, init));
    const bound = async (factory: { deploy(): Promise<BaseContract>; interface: { encodeFunctionData(name: "initialize", args: never): string } }, ...initArgs: unknown[]) => {
      const impl = await deployed(factory.deploy());
      return deployed(new TracemeshProxy__factory(deployer).deploy(impl, factory.interface.encodeFunctionData("initialize", [consortium, ...initArgs] as never)));
    };
    const grants = orgs.flatMap((o, i) => (o.prefixes ?? []).map((p) => prefixGrant(p, i + 1)));
    const policy = options.namespacePolicy ?? NamespacePolicy.Enforced;
    const identifierNamespaces = await bound(new IdentifierNamespaces__factory(deployer), schemeArgs(), grants, policy);
    return {
      chainId,
      deploymentBlock,
      contracts: {
        consortium,
        identifierNamespaces,
        provenance: await bound(new Provenance__factory(deployer), identifierNamespaces),
        certificates: await bound(new Certificates__factory(deployer)),
        accessGrants: await bound(new AccessGrants__factory(deployer)),
        dataAnchors: await bound(new DataAnchors__factory(deployer)),
      },
    };
  } finally {
    provider.destroy();
  }
}
