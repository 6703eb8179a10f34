/**
 * Deploys the whole Tracemesh module through Ignition on a Hardhat network connection and answers
 * the deployment record the nodes, gateway and tools read (lib/deployment.ts). One place for the
 * demo, the member tool's tests and anything else that deploys the full set to a running chain.
 */
import type { NetworkConnection } from "hardhat/types/network";
import type { FounderInit } from "../lib/consortium.ts";
import { NamespacePolicy } from "../lib/namespaces.ts";
import type { Deployment } from "../lib/deployment.ts";
import TracemeshModule from "./modules/Tracemesh.ts";

export interface DeployOptions {
  /** Ignition's journal id: a deployment with the same id resumes instead of starting again. */
  deploymentId: string;
  founders: FounderInit[];
  quorumBps: number;
  votingPeriod: number;
  /** The founders' identifier prefixes (lib/namespaces.ts prefixGrant); none by default. */
  prefixes?: { prefix: string; orgId: number }[];
  /** What happens to identifiers under no registered prefix; refused (Enforced) by default. */
  namespacePolicy?: NamespacePolicy;
}

export async function deployTracemesh(conn: NetworkConnection, o: DeployOptions): Promise<Deployment> {
  const startBlock = await conn.ethers.provider.getBlockNumber();
  const deployed = await conn.ignition.deploy(TracemeshModule, {
    deploymentId: o.deploymentId,
    displayUi: false,
    config: { requiredConfirmations: 1 },
    parameters: {
      Tracemesh: {
        founders: o.founders as never,
        quorumBps: o.quorumBps,
        votingPeriod: o.votingPeriod,
        prefixes: (o.prefixes ?? []) as never,
        namespacePolicy: o.namespacePolicy ?? NamespacePolicy.Enforced,
      },
    },
  });
  return {
    chainId: Number((await conn.ethers.provider.getNetwork()).chainId),
    deploymentBlock: startBlock + 1,
    contracts: {
      consortium: await deployed.consortium.getAddress(),
      provenance: await deployed.provenance.getAddress(),
      certificates: await deployed.certificates.getAddress(),
      accessGrants: await deployed.accessGrants.getAddress(),
      dataAnchors: await deployed.dataAnchors.getAddress(),
      identifierNamespaces: await deployed.identifierNamespaces.getAddress(),
    },
  };
}
