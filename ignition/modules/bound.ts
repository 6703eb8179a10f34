/**
 * The member-facing contracts, each behind its own TracemeshProxy and initialised with the
 * Consortium's address. Shared by the two deployment modules so the wiring exists once.
 */
import type { IgnitionModuleBuilder } from "@nomicfoundation/ignition-core";
import type { ContractFuture } from "@nomicfoundation/ignition-core";

/** The contracts that act for members; each is initialised with the Consortium's address. */
export const BOUND_CONTRACTS = ["Provenance", "Certificates", "AccessGrants", "DataAnchors"] as const;

export function deployBoundContracts(m: IgnitionModuleBuilder, consortium: ContractFuture<string>) {
  const bound = (name: (typeof BOUND_CONTRACTS)[number]) => {
    const impl = m.contract(name, [], { id: `${name}Impl` });
    const proxy = m.contract("TracemeshProxy", [impl, m.encodeFunctionCall(impl, "initialize", [consortium])], {
      id: `${name}Proxy`,
    });
    return m.contractAt(name, proxy, { id: name });
  };
  return {
    provenance: bound("Provenance"),
    certificates: bound("Certificates"),
    accessGrants: bound("AccessGrants"),
    dataAnchors: bound("DataAnchors"),
  };
}
