/**
 * The page's own view of the chain: ethers over the gateway's read-only JSON-RPC pass-through
 * (/chain/rpc), with the contract addresses the gateway publishes in /health. Everything the
 * explorer marks as verified is checked here, not taken from the gateway's answers.
 */
import { JsonRpcProvider } from "ethers";
import { AccessGrants__factory } from "../../lib/contracts/types/factories/AccessGrants__factory.ts";
import { Certificates__factory } from "../../lib/contracts/types/factories/Certificates__factory.ts";
import { Consortium__factory } from "../../lib/contracts/types/factories/Consortium__factory.ts";
import { DataAnchors__factory } from "../../lib/contracts/types/factories/DataAnchors__factory.ts";
import { Provenance__factory } from "../../lib/contracts/types/factories/Provenance__factory.ts";
import type { TracemeshContracts } from "../../lib/deployment.ts";
import type { HealthAnswer } from "../../lib/api/health.ts";
import type { ContractAddresses } from "../../lib/deployment.ts";
import { api } from "./api.ts";

export interface Chain extends TracemeshContracts {
  chainId: number;
  addresses: ContractAddresses;
  provider: JsonRpcProvider;
  /** The handles as lib/ functions take them (certificateOnChain, verifyCredential). */
  contracts: TracemeshContracts;
}

let chain: Promise<Chain> | undefined;

export function getChain(): Promise<Chain> {
  chain ??= connect().catch((e: unknown) => {
    chain = undefined; // try again on the next call
    throw e;
  });
  return chain;
}

async function connect(): Promise<Chain> {
  const health = await api<HealthAnswer>("/health").catch((e: unknown) => {
    // /health answers 503 with its body when the node cannot reach its chain.
    throw e;
  });
  const addresses: ContractAddresses | undefined = health.contracts;
  if (addresses === undefined) throw new Error("the gateway did not publish the contract addresses in /health");
  const provider = new JsonRpcProvider(`${location.origin}/chain/rpc`, health.chainId, { staticNetwork: true, batchMaxCount: 1 });
  // The page only reads; no polling through a read-only pass-through.
  provider.pollingInterval = 60_000;
  // Same shape as lib/deployment.ts connectContracts (which also reads deployment files, Node only).
  const contracts: TracemeshContracts = {
    consortium: Consortium__factory.connect(addresses.consortium, provider),
    provenance: Provenance__factory.connect(addresses.provenance, provider),
    certificates: Certificates__factory.connect(addresses.certificates, provider),
    accessGrants: AccessGrants__factory.connect(addresses.accessGrants, provider),
    dataAnchors: DataAnchors__factory.connect(addresses.dataAnchors, provider),
  };
  return { chainId: health.chainId, addresses, provider, contracts, ...contracts };
}
