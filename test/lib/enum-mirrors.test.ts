/**
 * The TypeScript enums in lib/ mirror Solidity enums by position. Read the compiler's AST of the
 * built contracts and check every mirrored enum lists the same members in the same order, so a
 * contract change cannot silently shift what off-chain code reads.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { OrgStatus, ProposalKind, ProposalStatus, Role } from "../../lib/consortium.ts";
import {
  CertificateState,
  CertificateStatus,
  ItemStatus,
  RecordKind,
  RevocationReason,
  ScopeKind,
} from "../../lib/registry.ts";

const root = path.resolve(import.meta.dirname, "../..");

interface AstNode {
  nodeType?: string;
  name?: string;
  members?: { name: string }[];
  nodes?: AstNode[];
}

/** Members of `enumName` declared in contract `contract` (file contracts/<file>), from the AST. */
function solidityEnum(file: string, contract: string, enumName: string): string[] {
  const artifact = JSON.parse(
    readFileSync(path.join(root, "artifacts/contracts", file, `${contract}.json`), "utf8"),
  ) as { buildInfoId: string };
  const output = JSON.parse(
    readFileSync(path.join(root, "artifacts/build-info", `${artifact.buildInfoId}.output.json`), "utf8"),
  ) as { output: { sources: Record<string, { ast: AstNode }> } };
  const ast = output.output.sources[`project/contracts/${file}`]!.ast;
  const owner = ast.nodes?.find((n) => n.nodeType === "ContractDefinition" && n.name === contract);
  const def = owner?.nodes?.find((n) => n.nodeType === "EnumDefinition" && n.name === enumName);
  if (!def?.members) throw new Error(`enum ${contract}.${enumName} not found in ${file}`);
  return def.members.map((m) => m.name);
}

/** Names of a numeric TypeScript enum in value order. */
function tsEnum(e: Record<string, string | number>): string[] {
  return Object.entries(e)
    .filter(([, v]) => typeof v === "number")
    .sort(([, a], [, b]) => (a as number) - (b as number))
    .map(([k]) => k);
}

describe("TypeScript mirrors of Solidity enums", () => {
  const cases: [string, string, string, string, Record<string, string | number>][] = [
    ["IConsortium.Role", "interfaces/IConsortium.sol", "IConsortium", "Role", Role],
    ["IConsortium.OrgStatus", "interfaces/IConsortium.sol", "IConsortium", "OrgStatus", OrgStatus],
    ["ConsortiumState.ProposalKind", "base/ConsortiumState.sol", "ConsortiumState", "ProposalKind", ProposalKind],
    ["ConsortiumState.ProposalStatus", "base/ConsortiumState.sol", "ConsortiumState", "ProposalStatus", ProposalStatus],
    ["Provenance.ItemStatus", "Provenance.sol", "Provenance", "ItemStatus", ItemStatus],
    ["Provenance.RecordKind", "Provenance.sol", "Provenance", "RecordKind", RecordKind],
    ["Certificates.Status", "Certificates.sol", "Certificates", "Status", CertificateStatus],
    ["Certificates.State", "Certificates.sol", "Certificates", "State", CertificateState],
    ["Certificates.Reason", "Certificates.sol", "Certificates", "Reason", RevocationReason],
    ["AccessGrants.ScopeKind", "AccessGrants.sol", "AccessGrants", "ScopeKind", ScopeKind],
  ];
  it.each(cases)("%s", (_label, file, contract, enumName, mirror) => {
    expect(tsEnum(mirror)).toEqual(solidityEnum(file, contract, enumName));
  });
});
