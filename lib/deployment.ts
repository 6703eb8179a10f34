/**
 * Where a Tracemesh consortium lives on a chain, and typed handles to its contracts.
 * Written by whoever deploys (the demo, `npm run deploy`), read by nodes, gateway and scripts.
 */
import { readFileSync } from "node:fs";
import type { ContractRunner } from "ethers";
import {
  AccessGrants__factory,
  Certificates__factory,
  Consortium__factory,
  DataAnchors__factory,
  Provenance__factory,
} from "./contracts/types/index.js";

export interface ContractAddresses {
  consortium: string;
  provenance: string;
  certificates: string;
  accessGrants: string;
  dataAnchors: string;
  /**
   * Who may create identifiers under which prefix. Absent from records written before it existed;
   * Provenance.namespaces() always answers it.
   */
  identifierNamespaces?: string;
}

export interface Deployment {
  chainId: number;
  /** Block the contracts were deployed in: indexers start there. */
  deploymentBlock: number;
  contracts: ContractAddresses;
}

export function readDeployment(file: string): Deployment {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`cannot read the deployment record ${file}: ${(e as Error).message}`);
  }
  const d = parsed as Partial<Deployment>;
  const names: (keyof ContractAddresses)[] = ["consortium", "provenance", "certificates", "accessGrants", "dataAnchors"];
  const missing = names.filter((n) => typeof d.contracts?.[n] !== "string");
  if (typeof d.chainId !== "number" || missing.length > 0) {
    throw new Error(`deployment record ${file} is incomplete: missing ${missing.join(", ") || "chainId"}`);
  }
  return d as Deployment;
}

/** Typed contract handles bound to a signer or provider. */
export function connectContracts(addresses: ContractAddresses, runner: ContractRunner) {
  return {
    consortium: Consortium__factory.connect(addresses.consortium, runner),
    provenance: Provenance__factory.connect(addresses.provenance, runner),
    certificates: Certificates__factory.connect(addresses.certificates, runner),
    accessGrants: AccessGrants__factory.connect(addresses.accessGrants, runner),
    dataAnchors: DataAnchors__factory.connect(addresses.dataAnchors, runner),
  };
}

export type TracemeshContracts = ReturnType<typeof connectContracts>;
