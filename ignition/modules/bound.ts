/**
 * The member-facing contracts, each behind its own TracemeshProxy and initialised with the
 * Consortium's address. Shared by the two deployment modules so the wiring exists once.
 *
 * IdentifierNamespaces comes first: Provenance is bound to it too. Its module parameters:
 *   prefixes         PrefixGrant[] { prefix (bytes), orgId }: the founders' identifier prefixes
 *                    (lib/namespaces.ts prefixGrant), default none
 *   namespacePolicy  IdentifierNamespaces.Policy for identifiers under no registered prefix,
 *                    default 0 (Enforced: refused)
 */
import type { IgnitionModuleBuilder } from "@nomicfoundation/ignition-core";
import type { ContractFuture } from "@nomicfoundation/ignition-core";
import { NamespacePolicy, schemeArgs } from "../../lib/namespaces.ts";

/** The contracts that act for members; each is initialised with the Consortium's address. */
export const BOUND_CONTRACTS = ["IdentifierNamespaces", "Provenance", "Certificates", "AccessGrants", "DataAnchors"] as const;

export function deployBoundContracts(m: IgnitionModuleBuilder, consortium: ContractFuture<string>) {
  const bound = (name: (typeof BOUND_CONTRACTS)[number], initArgs: unknown[] = []) => {
    const impl = m.contract(name, [], { id: `${name}Impl` });
    const proxy = m.contract("TracemeshProxy", [impl, m.encodeFunctionCall(impl, "initialize", [consortium, ...(initArgs as never[])])], {
      id: `${name}Proxy`,
    });
    return m.contractAt(name, proxy, { id: name });
  };
  const identifierNamespaces = bound("IdentifierNamespaces", [
    schemeArgs(),
    m.getParameter("prefixes", []),
    m.getParameter("namespacePolicy", NamespacePolicy.Enforced),
  ]);
  return {
    identifierNamespaces,
    provenance: bound("Provenance", [identifierNamespaces]),
    certificates: bound("Certificates"),
    accessGrants: bound("AccessGrants"),
    dataAnchors: bound("DataAnchors"),
  };
}
