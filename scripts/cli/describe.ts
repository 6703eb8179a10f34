/**
 * Words for what the contracts store as numbers: roles, statuses, proposal kinds and their
 * arguments, times and durations.
 */
import { AbiCoder } from "ethers";
import { OrgStatus, ProposalKind, ProposalStatus, Role, rolesOf } from "../../lib/consortium.ts";
import { CertificateState, CertificateStatus, ItemStatus, RevocationReason, ScopeKind } from "../../lib/registry.ts";

/** Names organisations in messages: "Delta Machining Works (#3)", or "organisation #3" when unknown. */
export interface Namer {
  org(id: number): string;
}

export const plainNamer: Namer = { org: (id) => `organisation #${id}` };

function enumName(e: Record<number, string>, value: number | bigint): string {
  return e[Number(value)] ?? `#${value}`;
}

export const roleName = (r: number | bigint): string => enumName(Role, r);

export function rolesText(mask: bigint): string {
  const roles = rolesOf(mask);
  return roles.length === 0 ? "no roles" : roles.map((r) => Role[r]).join(", ");
}

export function roleNames(mask: bigint): string[] {
  return rolesOf(mask).map((r) => Role[r]);
}

/** lower case: "active", "suspended", "removed" */
export const orgStatusName = (s: number | bigint): string => enumName(OrgStatus, s).toLowerCase();
export const proposalStatusName = (s: number | bigint): string => enumName(ProposalStatus, s).toLowerCase();
export const certStatusName = (s: number | bigint): string => enumName(CertificateStatus, s);
export const certStateName = (s: number | bigint): string => enumName(CertificateState, s).toLowerCase();
export const itemStatusName = (s: number | bigint): string => enumName(ItemStatus, s);
export const scopeKindName = (s: number | bigint): string => enumName(ScopeKind, s);

/** "IssuedInError" -> "issued-in-error", the spelling the command line takes. */
export function kebab(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, "$1-$2").toLowerCase();
}

export const reasonName = (r: number | bigint): string => kebab(enumName(RevocationReason, r));

/** "2026-03-31 12:00:00 UTC" */
export function formatTime(seconds: number | bigint): string {
  const s = Number(seconds);
  if (!Number.isFinite(s) || s <= 0) return "never";
  const d = new Date(s * 1000);
  if (Number.isNaN(d.getTime())) return `${s} (Unix seconds)`;
  return d
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d{3}Z$/, " UTC");
}

export function isoTime(seconds: number | bigint): string | null {
  const s = Number(seconds);
  if (!Number.isFinite(s) || s <= 0) return null;
  const d = new Date(s * 1000);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** The two largest adjacent units: "2d 3h", "45m", "1m 30s", "0s". */
export function formatDuration(seconds: number | bigint): string {
  let s = Math.round(Math.abs(Number(seconds)));
  const parts: string[] = [];
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    } else if (parts.length > 0) {
      break;
    }
    if (parts.length === 2) break;
  }
  return parts.length === 0 ? "0s" : parts.join(" ");
}

/** "in 23h 59m" or "2d 1h ago", relative to the chain's clock. */
export function relativeTime(seconds: number | bigint, now: number): string {
  const delta = Number(seconds) - now;
  return delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

export const shortHex = (hex: string): string => (hex.length > 18 ? `${hex.slice(0, 10)}…${hex.slice(-6)}` : hex);

const NODE = "tuple(string peerId, string enodeId, string enodeHost, uint16 enodePort, address validator)";
const abi = AbiCoder.defaultAbiCoder();

/** The argument types of each proposal kind, as Consortium.propose decodes them. */
const PROPOSAL_TYPES: Record<ProposalKind, string[]> = {
  [ProposalKind.Admit]: ["string", "uint256", "address[]", `${NODE}[]`],
  [ProposalKind.Suspend]: ["uint32"],
  [ProposalKind.Reinstate]: ["uint32"],
  [ProposalKind.Remove]: ["uint32"],
  [ProposalKind.GrantRole]: ["uint32", "uint8"],
  [ProposalKind.RevokeRole]: ["uint32", "uint8"],
  [ProposalKind.AddAccount]: ["uint32", "address"],
  [ProposalKind.RemoveAccount]: ["uint32", "address"],
  [ProposalKind.AddNode]: ["uint32", NODE],
  [ProposalKind.RemoveNode]: ["uint32"],
  [ProposalKind.SetGovernance]: ["uint16", "uint64"],
  [ProposalKind.Upgrade]: ["address", "address", "bytes"],
  [ProposalKind.SetExecutionDelay]: ["uint64"],
  [ProposalKind.SetGoverned]: ["address[]", "bool"],
  [ProposalKind.Call]: ["address", "bytes"],
  [ProposalKind.SetTransactionGasLimit]: ["uint64"],
};

/** The command-line name of a proposal kind: "grant-role". */
export const proposalKindName = (k: number | bigint): string => kebab(enumName(ProposalKind, k));

export interface NodeInitText {
  peerId: string;
  enodeId: string;
  enodeHost: string;
  enodePort: number;
  validator: string;
}

/** One sentence for a proposal and its arguments as plain values (for --json). */
export function describeProposal(kind: number, data: string, names: Namer): { text: string; args: Record<string, unknown> } {
  const types = PROPOSAL_TYPES[kind as ProposalKind];
  if (!types) return { text: `unknown proposal kind ${kind}`, args: { data } };
  let v: unknown[];
  try {
    v = [...abi.decode(types, data)];
  } catch {
    return { text: `${proposalKindName(kind)} (undecodable arguments)`, args: { data } };
  }
  const org = (i: number) => names.org(Number(v[i]));
  const node = (n: unknown): NodeInitText => {
    const [peerId, enodeId, enodeHost, enodePort, validator] = n as [string, string, string, bigint, string];
    return { peerId, enodeId, enodeHost, enodePort: Number(enodePort), validator };
  };
  switch (kind as ProposalKind) {
    case ProposalKind.Admit: {
      const [name, roles, accounts, nodes] = v as [string, bigint, string[], unknown[]];
      const n = nodes.map(node);
      return {
        text: `admit "${name}" as ${rolesText(roles)} with account${accounts.length === 1 ? "" : "s"} ${accounts.join(", ")}${
          n.length ? ` and node${n.length === 1 ? "" : "s"} ${n.map((x) => x.peerId).join(", ")}` : ""
        }`,
        args: { name, roles: roleNames(roles), accounts: [...accounts], nodes: n },
      };
    }
    case ProposalKind.Suspend:
    case ProposalKind.Reinstate:
    case ProposalKind.Remove:
      return { text: `${proposalKindName(kind)} ${org(0)}`, args: { orgId: Number(v[0]) } };
    case ProposalKind.GrantRole:
      return {
        text: `give ${org(0)} the ${roleName(v[1] as bigint)} role`,
        args: { orgId: Number(v[0]), role: roleName(v[1] as bigint) },
      };
    case ProposalKind.RevokeRole:
      return {
        text: `take the ${roleName(v[1] as bigint)} role from ${org(0)}`,
        args: { orgId: Number(v[0]), role: roleName(v[1] as bigint) },
      };
    case ProposalKind.AddAccount:
      return { text: `add account ${v[1]} to ${org(0)}`, args: { orgId: Number(v[0]), account: v[1] } };
    case ProposalKind.RemoveAccount:
      return { text: `retire account ${v[1]} of ${org(0)}`, args: { orgId: Number(v[0]), account: v[1] } };
    case ProposalKind.AddNode: {
      const n = node(v[1]);
      const extra = [
        n.enodeId && `enode ${shortHex(n.enodeId)}`,
        n.validator !== "0x0000000000000000000000000000000000000000" && `validator ${n.validator}`,
      ]
        .filter(Boolean)
        .join(", ");
      return { text: `add node ${n.peerId}${extra ? ` (${extra})` : ""} to ${org(0)}`, args: { orgId: Number(v[0]), node: n } };
    }
    case ProposalKind.RemoveNode:
      return { text: `remove node #${v[0]}`, args: { nodeId: Number(v[0]) } };
    case ProposalKind.SetGovernance:
      return {
        text: `set the quorum to ${(Number(v[0]) / 100).toFixed(2)}% and the voting period to ${formatDuration(v[1] as bigint)}`,
        args: { quorumBps: Number(v[0]), votingPeriodSeconds: Number(v[1]) },
      };
    case ProposalKind.Upgrade:
      return { text: `upgrade ${v[0]} to implementation ${v[1]}`, args: { target: v[0], implementation: v[1], initCall: v[2] } };
    case ProposalKind.SetExecutionDelay:
      return {
        text: `wait ${formatDuration(v[0] as bigint)} between passing and executing upgrades and calls`,
        args: { executionDelaySeconds: Number(v[0]) },
      };
    case ProposalKind.SetGoverned: {
      const targets = [...(v[0] as string[])];
      return {
        text: `${v[1] ? "let" : "stop letting"} governance upgrade and call ${targets.join(", ")}`,
        args: { targets, governed: v[1] },
      };
    }
    case ProposalKind.Call:
      return { text: `call ${v[0]} with ${shortHex(v[1] as string)}`, args: { target: v[0], data: v[1] } };
    case ProposalKind.SetTransactionGasLimit:
      return {
        text: v[0] === 0n ? "remove the per-transaction gas bound" : `bound every transaction to ${(v[0] as bigint).toLocaleString("en-US")} gas`,
        args: { maxTransactionGas: Number(v[0]) },
      };
  }
}
