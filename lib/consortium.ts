/**
 * The consortium's vocabulary for TypeScript: roles, organisation status and governance
 * proposals, with the ABI encoding of each proposal's arguments. Mirrors
 * contracts/base/ConsortiumState.sol, contracts/ConsortiumActions.sol and
 * contracts/interfaces/IConsortium.sol; tests check the two agree.
 */
import { AbiCoder, dataSlice } from "ethers";

export enum Role {
  Supplier = 0,
  Manufacturer = 1,
  Logistics = 2,
  Certifier = 3,
  Regulator = 4,
  Auditor = 5,
}

export enum OrgStatus {
  None = 0,
  Active = 1,
  Suspended = 2,
  Removed = 3,
}

export enum ProposalKind {
  Admit = 0,
  Suspend = 1,
  Reinstate = 2,
  Remove = 3,
  GrantRole = 4,
  RevokeRole = 5,
  AddAccount = 6,
  RemoveAccount = 7,
  AddNode = 8,
  RemoveNode = 9,
  SetGovernance = 10,
  Upgrade = 11,
  SetExecutionDelay = 12,
  SetGoverned = 13,
  Call = 14,
  SetTransactionGasLimit = 15,
}

/** Kinds that wait out Consortium.executionDelay once passed, then anyone may execute them. */
export const DELAYED_KINDS: readonly ProposalKind[] = [ProposalKind.Upgrade, ProposalKind.Call, ProposalKind.SetExecutionDelay];

export enum ProposalStatus {
  None = 0,
  Open = 1,
  Executed = 2,
  Rejected = 3,
  Expired = 4,
  /** Passed; executable by anyone from Consortium.proposalSchedule's `executableAt` on. */
  Queued = 5,
}

/** A member node's identities: libp2p peer id, and for Besu its enode and validator address. */
export interface NodeIdentityInit {
  peerId: string;
  enodeId: string;
  enodeHost: string;
  enodePort: number;
  validator: string;
}

export interface FounderInit {
  name: string;
  roles: bigint;
  accounts: string[];
  nodes: NodeIdentityInit[];
}

export const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";

/** The bit mask the contracts store for a set of roles. */
export function roleMask(...roles: Role[]): bigint {
  return roles.reduce((mask, r) => mask | (1n << BigInt(r)), 0n);
}

export function rolesOf(mask: bigint): Role[] {
  return Object.values(Role)
    .filter((r): r is Role => typeof r === "number")
    .filter((r) => (mask & (1n << BigInt(r))) !== 0n);
}

/** A role's name as the API, the CLI and deployment files write it ("supplier", "manufacturer", ...). */
export function roleName(role: Role): string {
  return (Role[role] ?? `role-${role}`).toLowerCase();
}

/** The names a person may write for a role: each role's own name, and the demo's "oem" and "lab". */
const ROLE_BY_NAME: Readonly<Record<string, Role>> = {
  supplier: Role.Supplier,
  manufacturer: Role.Manufacturer,
  oem: Role.Manufacturer,
  logistics: Role.Logistics,
  certifier: Role.Certifier,
  lab: Role.Certifier,
  regulator: Role.Regulator,
  auditor: Role.Auditor,
};

/** Every name `roleByName` accepts, in a stable order for messages. */
export const ROLE_NAMES: readonly string[] = Object.keys(ROLE_BY_NAME);

/** The role `name` stands for (any case, spaces around ignored), undefined for none. */
export function roleByName(name: string): Role | undefined {
  const key = name.trim().toLowerCase();
  // Own keys only: "constructor" or "toString" name no role.
  return Object.hasOwn(ROLE_BY_NAME, key) ? ROLE_BY_NAME[key] : undefined;
}

const NODE_TUPLE = "tuple(string peerId, string enodeId, string enodeHost, uint16 enodePort, address validator)";
const abi = AbiCoder.defaultAbiCoder();

/** ABI-encoded arguments of each proposal kind, exactly as Consortium.propose decodes them. */
export const proposalData = {
  admit: (name: string, roles: bigint, accounts: string[], nodes: NodeIdentityInit[] = []) =>
    abi.encode(["string", "uint256", "address[]", `${NODE_TUPLE}[]`], [name, roles, accounts, nodes]),
  suspend: (orgId: number) => abi.encode(["uint32"], [orgId]),
  reinstate: (orgId: number) => abi.encode(["uint32"], [orgId]),
  remove: (orgId: number) => abi.encode(["uint32"], [orgId]),
  grantRole: (orgId: number, role: Role) => abi.encode(["uint32", "uint8"], [orgId, role]),
  revokeRole: (orgId: number, role: Role) => abi.encode(["uint32", "uint8"], [orgId, role]),
  addAccount: (orgId: number, account: string) => abi.encode(["uint32", "address"], [orgId, account]),
  removeAccount: (orgId: number, account: string) => abi.encode(["uint32", "address"], [orgId, account]),
  addNode: (orgId: number, node: NodeIdentityInit) => abi.encode(["uint32", NODE_TUPLE], [orgId, node]),
  removeNode: (nodeId: number) => abi.encode(["uint32"], [nodeId]),
  setGovernance: (quorumBps: number, votingPeriodSeconds: number) =>
    abi.encode(["uint16", "uint64"], [quorumBps, votingPeriodSeconds]),
  upgrade: (target: string, newImplementation: string, initCall = "0x") =>
    abi.encode(["address", "address", "bytes"], [target, newImplementation, initCall]),
  setExecutionDelay: (seconds: number) => abi.encode(["uint64"], [seconds]),
  setGoverned: (targets: string[], governed: boolean) => abi.encode(["address[]", "bool"], [targets, governed]),
  /** `data` is the calldata for the governed proxy, e.g. iface.encodeFunctionData("setX", [...]). */
  call: (target: string, data: string) => abi.encode(["address", "bytes"], [target, data]),
  /** 0 removes the bound. */
  setTransactionGasLimit: (maxGas: number | bigint) => abi.encode(["uint64"], [maxGas]),
} as const;

/** Governance bounds enforced by Consortium (constants of the same names). */
export const MAX_BPS = 10_000;
export const MIN_QUORUM_BPS = 5_001;
export const MIN_VOTING_PERIOD = 5 * 60;
export const MAX_VOTING_PERIOD = 90 * 24 * 3600;
export const MAX_EXECUTION_DELAY = 30 * 24 * 3600;
export const MIN_TRANSACTION_GAS = 5_000_000;

/**
 * Approvals a proposal needs with `activeOrgs` active organisations: Consortium.requiredVotes.
 * A Suspend, Remove or RevokeRole proposal's subject does not vote: pass `activeOrgs - 1` for it.
 */
export function requiredVotes(activeOrgs: number, quorumBps: number): number {
  return Math.max(1, Math.floor((activeOrgs * quorumBps + MAX_BPS - 1) / MAX_BPS));
}

/**
 * The organisation a Suspend, Remove or RevokeRole proposal acts against, 0 for other kinds. It
 * does not vote on the proposal, and its quorum counts the other active organisations only.
 */
export function proposalSubject(kind: ProposalKind, data: string): number {
  if (kind !== ProposalKind.Suspend && kind !== ProposalKind.Remove && kind !== ProposalKind.RevokeRole) return 0;
  return Number(abi.decode(["uint32"], dataSlice(data, 0, 32))[0]);
}

/** A ballot as Consortium.ballotOf reports it. */
export enum Ballot {
  None = 0,
  Yes = 1,
  No = 2,
}

/** Selectors of the interfaces Besu calls on Consortium (fixed by the client). */
export const BESU_SELECTORS = {
  getValidators: "0xb7ab4db5",
  connectionAllowed: "0x45a59e5b",
  transactionAllowed: "0x936421d5",
} as const;

/** The enode id spelling Consortium registers and Besu sends: 128 lowercase hex digits, no 0x. */
export function isCanonicalEnodeId(enodeId: string): boolean {
  return /^[0-9a-f]{128}$/.test(enodeId);
}
