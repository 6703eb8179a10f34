/**
 * A consortium on a throwaway anvil, for tests whose nodes run in separate processes: deploys
 * Consortium, AccessGrants and DataAnchors behind their proxies with the generated factories and
 * writes the deployment record (lib/deployment.ts) every process reads.
 */
import { writeFileSync } from "node:fs";
import { JsonRpcProvider, type JsonRpcSigner } from "ethers";
import {
  AccessGrants__factory,
  Consortium__factory,
  DataAnchors__factory,
  TracemeshProxy__factory,
} from "../../../lib/contracts/types/index.js";
import { type FounderInit, ProposalKind, Role, proposalData, roleMask } from "../../../lib/consortium.ts";
import { type Deployment, type TracemeshContracts, connectContracts } from "../../../lib/deployment.ts";
import { type RunningAnvil, startAnvil } from "../../../lib/anvil.ts";
import { nodeFor } from "./helpers.ts";

/** A JSON-RPC provider that notices new blocks quickly (anvil mines each transaction at once). */
export function fastProvider(url: string): JsonRpcProvider {
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, polling: true, pollingInterval: 50, cacheTimeout: -1 });
  provider.pollingInterval = 50;
  return provider;
}

export interface AnvilConsortium {
  anvil: RunningAnvil;
  provider: JsonRpcProvider;
  deployment: Deployment;
  /** Organisation ids and their signing account (unlocked on anvil). */
  orgs: Record<"steel" | "oem" | "regulator", { id: number; signer: JsonRpcSigner }>;
  contracts: TracemeshContracts;
  /** Passes a proposal: proposed by `proposer`, approved by the other active organisations. */
  pass(kind: ProposalKind, data: string, voters: JsonRpcSigner[]): Promise<void>;
  stop(): Promise<void>;
}

async function behindProxy(deployer: JsonRpcSigner, impl: string, initCall: string): Promise<string> {
  const proxy = await new TracemeshProxy__factory(deployer).deploy(impl, initCall);
  await proxy.waitForDeployment();
  return proxy.getAddress();
}

/** Starts anvil and deploys a three-organisation consortium; `peers` are the nodes' peer ids. */
export async function startAnvilConsortium(peers: { steel: string[]; oem: string[] }, deploymentFile: string): Promise<AnvilConsortium> {
  const anvil = await startAnvil(["--hardfork", "cancun"]);
  try {
    const provider = fastProvider(anvil.url);
    const [deployer, steel, oem, regulator] = await Promise.all([0, 1, 2, 3].map((i) => provider.getSigner(i)));
    const founders: FounderInit[] = [
      { name: "Northern Steel Mill", roles: roleMask(Role.Supplier), accounts: [steel!.address], nodes: peers.steel.map(nodeFor) },
      { name: "Atlas Motors", roles: roleMask(Role.Manufacturer), accounts: [oem!.address], nodes: peers.oem.map(nodeFor) },
      { name: "Market Surveillance Authority", roles: roleMask(Role.Regulator), accounts: [regulator!.address], nodes: [] },
    ];
    const cImpl = await (await new Consortium__factory(deployer).deploy()).waitForDeployment();
    const consortium = await behindProxy(deployer!, await cImpl.getAddress(), cImpl.interface.encodeFunctionData("initialize", [founders, 5001, 3600]));
    const gImpl = await (await new AccessGrants__factory(deployer).deploy()).waitForDeployment();
    const accessGrants = await behindProxy(deployer!, await gImpl.getAddress(), gImpl.interface.encodeFunctionData("initialize", [consortium]));
    const aImpl = await (await new DataAnchors__factory(deployer).deploy()).waitForDeployment();
    const dataAnchors = await behindProxy(deployer!, await aImpl.getAddress(), aImpl.interface.encodeFunctionData("initialize", [consortium]));
    const zero = "0x0000000000000000000000000000000000000000";
    const deployment: Deployment = {
      chainId: Number((await provider.getNetwork()).chainId),
      deploymentBlock: 0,
      contracts: { consortium, accessGrants, dataAnchors, provenance: zero, certificates: zero },
    };
    writeFileSync(deploymentFile, JSON.stringify(deployment));
    const contracts = connectContracts(deployment.contracts, provider);
    return {
      anvil,
      provider,
      deployment,
      contracts,
      orgs: { steel: { id: 1, signer: steel! }, oem: { id: 2, signer: oem! }, regulator: { id: 3, signer: regulator! } },
      async pass(kind, data, voters) {
        const [proposer, ...others] = voters;
        const c = contracts.consortium;
        await (await c.connect(proposer!).propose(kind, data)).wait();
        const id = await c.proposalCount();
        for (const v of others) await (await c.connect(v).vote(id, true)).wait();
      },
      stop: () => anvil.stop(),
    };
  } catch (e) {
    await anvil.stop();
    throw e;
  }
}

export { ProposalKind, proposalData };
