/**
 * One decoder for every Tracemesh contract's reverts: the custom error's name and arguments,
 * read through the contracts' own ABIs (the typechain factories), and a sentence that says in
 * plain words what was wrong. Standard `Error(string)` and `Panic(uint256)` are decoded too.
 */
import { lotUnitOf } from "../../lib/registry.ts";
import { revertDataOf } from "../../lib/revert.ts";
import { AbiCoder, type ErrorFragment, type Interface, type Result, dataSlice, isHexString } from "ethers";
import { MAX_BPS, MAX_VOTING_PERIOD, MIN_QUORUM_BPS, MIN_VOTING_PERIOD } from "../../lib/consortium.ts";
import {
  AccessGrants__factory,
  Certificates__factory,
  Consortium__factory,
  DataAnchors__factory,
  Provenance__factory,
} from "../../lib/contracts/types/index.js";
import {
  type Namer,
  certStateName,
  formatDuration,
  formatTime,
  itemStatusName,
  orgStatusName,
  plainNamer,
  proposalStatusName,
  roleName,
  scopeKindName,
  shortHex,
} from "./describe.ts";

export const CONTRACTS = ["Consortium", "Provenance", "Certificates", "AccessGrants", "DataAnchors"] as const;
export type ContractName = (typeof CONTRACTS)[number];

const FACTORIES = {
  Consortium: Consortium__factory,
  Provenance: Provenance__factory,
  Certificates: Certificates__factory,
  AccessGrants: AccessGrants__factory,
  DataAnchors: DataAnchors__factory,
} as const;

export const INTERFACES = Object.fromEntries(CONTRACTS.map((c) => [c, FACTORIES[c].createInterface()])) as Record<
  ContractName,
  Interface
>;

interface AbiError {
  type: string;
  name?: string;
  inputs?: readonly { type: string; internalType?: string }[];
}

/**
 * The compiler's internal type of each error argument ("enum IConsortium.Role"), by signature:
 * the ABI says uint8, this says which enum, so arguments can be shown in words.
 */
const INTERNAL_TYPES = new Map<string, string[]>();
for (const c of CONTRACTS) {
  for (const item of FACTORIES[c].abi as readonly AbiError[]) {
    if (item.type !== "error" || !item.name) continue;
    const inputs = item.inputs ?? [];
    INTERNAL_TYPES.set(
      `${item.name}(${inputs.map((i) => i.type).join(",")})`,
      inputs.map((i) => i.internalType ?? ""),
    );
  }
}

/** A contract's refusal, decoded. */
export interface DecodedRevert {
  /** The contract whose ABI declares the error (the called one when several do). */
  contract?: ContractName;
  /** "MissingRole"; "Error" for require(..., "text"); "Panic"; "unknown" for undecodable data. */
  name: string;
  /** "MissingRole(uint32,uint8)" */
  signature: string;
  /** Arguments by name, JSON-friendly (small integers as numbers, large ones as strings). */
  args: Record<string, unknown>;
  /** "MissingRole(orgId=3, role=4 Regulator)" */
  display: string;
  /** What was wrong, in plain words. */
  message: string;
  data: string;
}

type Explain = (a: Result, n: Namer) => string;

const num = (v: unknown) => Number(v);
const role = (v: unknown) => `the ${roleName(v as bigint)} role`;
const item = (key: unknown) => `item ${shortHex(String(key))}`;
/** A lot's unit as Provenance keeps it (bytes8, UN/ECE code; empty: a count). */
const unitName = (unit: unknown) => lotUnitOf(String(unit)) || "pieces (a count)";
const ms = (v: unknown) => formatTime(Number(v) / 1000);

/**
 * Plain words per error, by name; "Contract.Name" where one name means different things in two
 * contracts. A test checks that every error in every Tracemesh contract's ABI has an entry.
 */
export const MESSAGES: Record<string, Explain> = {
  // ---- membership, shared by every contract (ConsortiumBound) and Consortium itself
  NotActiveMember: (a) =>
    `account ${a.account} does not sign for an active member organisation (it belongs to none, was retired, or its organisation is suspended or removed)`,
  MissingRole: (a, n) => `${n.org(num(a.orgId))} does not hold ${role(a.role)} needed for this`,
  UpgradeNotByConsortium: (a) =>
    `only the Consortium contract may upgrade this contract (through a passed Upgrade proposal), not ${a.caller}`,
  ZeroConsortium: () => "the Consortium address is zero",
  NotConsortium: (a) => `only the Consortium contract may change this setting (through a passed Call proposal), not ${a.caller}`,

  // ---- OpenZeppelin proxies and initialisers
  AddressEmptyCode: (a) => `${a.target} holds no contract code`,
  ERC1967InvalidImplementation: (a) => `${a.implementation} is not a valid implementation (no contract code)`,
  ERC1967NonPayable: () => "this call does not accept ether",
  FailedCall: () => "an inner call failed without a reason",
  InvalidInitialization: () => "the contract is already initialised",
  NotInitializing: () => "this may only be called while the contract is being initialised",
  UUPSUnauthorizedCallContext: () => "upgrades must go through the proxy, not the implementation",
  UUPSUnsupportedProxiableUUID: (a) => `the new implementation reports an unexpected proxiable slot ${a.slot}`,

  // ---- Consortium
  NoFounders: () => "a consortium needs at least one founding organisation",
  InvalidQuorum: (a) =>
    `a quorum of ${a.quorumBps} basis points is outside ${MIN_QUORUM_BPS}..${MAX_BPS} (a strict majority up to unanimity)`,
  InvalidVotingPeriod: (a) =>
    `a voting period of ${formatDuration(a.votingPeriod as bigint)} is outside ${formatDuration(MIN_VOTING_PERIOD)} to ${formatDuration(MAX_VOTING_PERIOD)}`,
  EmptyName: () => "the organisation's name is empty",
  InvalidRoles: (a) => `the role set ${a.roles} is empty or names roles that do not exist`,
  NoAccounts: () => "an organisation needs at least one signing account",
  ZeroAddress: () => "the zero address cannot be a signing account",
  AccountTaken: (a, n) =>
    num(a.orgId) === 0
      ? `account ${a.account} is listed twice`
      : `account ${a.account} already belongs to ${n.org(num(a.orgId))}; an account never moves to another organisation, even once retired`,
  UnknownOrg: (a) => `there is no organisation #${a.orgId}`,
  WrongOrgStatus: (a, n) => `${n.org(num(a.orgId))} is ${orgStatusName(a.status as bigint)}, so this change does not apply to it`,
  LastActiveOrg: (a, n) => `${n.org(num(a.orgId))} is the last active organisation; without it nobody could govern`,
  LastValidators: (a, n) => `${n.org(num(a.orgId))} runs the last active validators; the chain would halt without them`,
  RoleAlreadyHeld: (a, n) => `${n.org(num(a.orgId))} already holds ${role(a.role)}`,
  RoleNotHeld: (a, n) => `${n.org(num(a.orgId))} does not hold ${role(a.role)}`,
  UnknownRole: (a) => `there is no role #${a.role}`,
  AccountNotInOrg: (a, n) => `account ${a.account} is not a current signing account of ${n.org(num(a.orgId))}`,
  LastAccount: (a, n) => `this is the last signing account of ${n.org(num(a.orgId))}; add another one before retiring it`,
  EmptyPeerId: () => "the node's libp2p peer id is empty",
  PeerIdTaken: (a) => `the peer id ${a.peerId} is already registered`,
  InvalidEnodeId: (a) => `the enode id "${shortHex(String(a.enodeId))}" is not 128 lowercase hex digits without 0x`,
  EnodeTaken: (a) => `the enode id ${shortHex(String(a.enodeId))} is already registered`,
  ValidatorTaken: (a) => `the validator address ${a.validator} is already registered`,
  UnknownNode: (a) => `there is no registered node #${a.nodeId}`,
  UnknownProposal: (a) => `there is no proposal #${a.proposalId}`,
  ProposalNotOpen: (a) => `proposal #${a.proposalId} is ${proposalStatusName(a.status as bigint)}, no longer open for votes`,
  AlreadyVoted: (a, n) => `${n.org(num(a.orgId))} has already voted on proposal #${a.proposalId}`,
  QuorumNotReached: (a) => `proposal #${a.proposalId} has ${a.yes} of the ${a.required} approvals it needs, and could still pass`,
  NotAContract: (a) => `${a.target} holds no contract code`,
  NotGovernedHere: (a) => `${a.target} is not a contract this Consortium governs`,
  NotUUPSImplementation: (a) => `${a.implementation} is not a UUPS implementation`,
  UpgradeNotByGovernance: (a) => `only a passed Upgrade proposal may upgrade the Consortium, not ${a.caller}`,
  InvalidExecutionDelay: (a) => `an execution delay of ${a.executionDelay} seconds is longer than 30 days`,
  InvalidTransactionGasLimit: (a) =>
    `a transaction gas bound of ${a.maxTransactionGas} is below 5000000: members could no longer vote it back up`,
  SubjectMayNotVote: (a, n) => `proposal #${a.proposalId} acts against ${n.org(num(a.orgId))}, which does not vote on it`,
  NotObjectable: (a) =>
    `proposal #${a.proposalId} (${proposalStatusName(a.status as bigint)}) cannot be objected to: objections come only while a passed proposal waits out its execution delay`,
  AlreadyOpposed: (a, n) => `${n.org(num(a.orgId))} already opposes proposal #${a.proposalId} (it voted no or objected)`,
  ExecutionDelayNotOver: (a) => `proposal #${a.proposalId} passed; it may execute from ${formatTime(a.executableAt as bigint)} on`,
  UpgradeThroughCall: (a) => `a Call may not upgrade ${a.target}: propose an Upgrade, which checks the implementation`,

  // ---- Provenance
  ZeroEventHash: () => "the EPCIS event hash is zero",
  DuplicateEventHash: (a) => `the event ${shortHex(String(a.eventHash))} is already recorded (record #${a.recordId})`,
  ZeroKey: () => "an item or batch key is zero",
  EmptyKeyList: () => "the list of items is empty",
  ZeroDisposition: () => "the disposition is zero",
  ItemExists: (a) => `${item(a.key)} is already commissioned`,
  UnknownItem: (a) => `${item(a.key)} was never commissioned`,
  InvalidStatus: (a) => `${item(a.key)} is ${itemStatusName(a.status as bigint)}, which does not allow this`,
  NotCustodian: (a, n) => `${n.org(num(a.orgId))} does not hold ${item(a.key)}; ${n.org(num(a.custodianOrg))} does`,
  NotOwner: (a, n) => `${n.org(num(a.orgId))} does not own ${item(a.key)}; ${n.org(num(a.ownerOrg))} does`,
  NotConsignee: (a, n) => `${item(a.key)} is shipped to ${n.org(num(a.consigneeOrg))}, not to ${n.org(num(a.orgId))}`,
  InvalidConsignee: (a, n) => `${n.org(num(a.orgId))} cannot receive this shipment (not active, or the sender itself)`,
  NoWriteRights: (a, n) => `${n.org(num(a.orgId))} holds no role that may record provenance (auditors only read)`,
  NotCustodianOrCertifier: (a, n) => `${n.org(num(a.orgId))} neither holds ${item(a.key)} nor is a certifier`,
  NotOwnerOrRegulator: (a, n) => `${n.org(num(a.orgId))} neither owns ${shortHex(String(a.key))} nor is a regulator`,
  AlreadyRecalled: (a) => `${shortHex(String(a.key))} is already recalled`,
  UnknownBatch: (a) => `batch ${shortHex(String(a.batchKey))} is unknown`,
  NotBatchOwner: (a, n) =>
    `${n.org(num(a.orgId))} does not own batch ${shortHex(String(a.batchKey))}; ${n.org(num(a.ownerOrg))} does`,
  BatchIsRecalled: (a) => `batch ${shortHex(String(a.batchKey))} is recalled`,
  UnknownRecord: (a) => `there is no record #${a.recordId}`,
  NotRecordAuthor: (a, n) => `record #${a.recordId} was written by ${n.org(num(a.authorOrg))}, not ${n.org(num(a.orgId))}`,
  AssemblyCycle: (a) => `${item(a.key)} cannot be a part of itself`,
  NotChildOf: (a) => `${item(a.child)} is not assembled into ${shortHex(String(a.parent))}`,
  OwnerMismatch: (a, n) =>
    `${item(a.child)} belongs to ${n.org(num(a.ownerOrg))}, the product to ${n.org(num(a.parentOwnerOrg))}: only the product owner's parts go in`,
  ZeroNamespaces: () => "the identifier namespace registry is zero",
  KeyNotProven: (a, n) => `${n.org(num(a.orgId))} did not prove ${item(a.key)} under its identifier prefix in this transaction`,
  NamespaceOfOtherOrg: (a, n) => `${item(a.key)} lies under a prefix of ${n.org(num(a.holderOrg))}, not of ${n.org(num(a.orgId))}`,
  UnregisteredNamespace: (a) => `${item(a.key)} lies under no registered identifier prefix (refused by the consortium's policy)`,
  NotPartyTo: (a, n) => `${n.org(num(a.orgId))} is no party to ${item(a.key)} (neither owner, custodian, consignee nor prefix holder)`,
  ObservationNamesNothing: (a, n) => `an event naming no item proves no entitlement: ${n.org(num(a.orgId))} cannot record it`,
  ZeroQuantity: (a) => `a quantity of lot ${shortHex(String(a.batchKey))} must be above zero`,
  UnitMismatch: (a) => `lot ${shortHex(String(a.batchKey))} is counted in ${unitName(a.lotUnit)}, not in ${unitName(a.unit)}`,
  InsufficientQuantity: (a, n) =>
    `${n.org(num(a.orgId))} has ${a.available} of lot ${shortHex(String(a.batchKey))} to move, not ${a.quantity}`,

  // ---- Certificates
  ZeroScope: () => "the certificate scope is zero",
  ZeroCertificateId: () => "the certificate id is zero",
  ZeroSubject: () => "the certificate subject is zero",
  SelfAccreditation: (a, n) => `${n.org(num(a.orgId))} cannot accredit itself`,
  OrgNotActive: (a, n) => `${n.org(num(a.orgId))} is not an active member`,
  NotACertifier: (a, n) => `${n.org(num(a.orgId))} does not hold the Certifier role`,
  ExpiryNotInFuture: (a) =>
    `the expiry ${formatTime(a.expiresAt as bigint)} is not after the chain's time ${formatTime(a.nowTs as bigint)}`,
  NotAccredited: (a, n) => `${n.org(num(a.certifier))} is not accredited for scope ${shortHex(String(a.scope))} now`,
  CertificateExists: (a) => `certificate ${shortHex(String(a.id))} is already recorded`,
  UnknownCertificate: (a) => `certificate ${shortHex(String(a.id))} was never issued`,
  NotIssuer: (a, n) =>
    `certificate ${shortHex(String(a.id))} was issued by ${n.org(num(a.issuer))}; only its issuer may change it, not ${n.org(num(a.caller))}`,
  InvalidValidityWindow: (a) =>
    `the validity ends (${formatTime(a.validUntil as bigint)}) before or when it starts (${formatTime(a.validFrom as bigint)})`,
  ValidityAlreadyEnded: (a) =>
    `the validity ended already (${formatTime(a.validUntil as bigint)}; chain time ${formatTime(a.nowTs as bigint)})`,
  InvalidTransition: (a) =>
    `certificate ${shortHex(String(a.id))} is ${certStateName(a.state as bigint)}, which does not allow this change`,

  // ---- AccessGrants
  ZeroScopeKey: () => "the scope key is zero",
  ZeroPurpose: () => "the purpose is zero",
  SelfGrant: (a, n) => `${n.org(num(a.orgId))} cannot grant access to itself`,
  GranteeNotActive: (a, n) => `${n.org(num(a.grantee))} is not an active member`,
  "AccessGrants.InvalidTimeRange": (a) =>
    scopeKindName(a.kind as bigint) === "AnchorWindowRange"
      ? `a window-range grant needs --from before --to (got ${a.from} and ${a.to})`
      : `only window-range grants take --from and --to (got ${a.from} and ${a.to})`,
  UnknownGrant: (a) => `there is no grant ${shortHex(String(a.id))}`,
  NotGrantOwner: (a, n) =>
    `grant ${shortHex(String(a.id))} belongs to ${n.org(num(a.owner))}; ${n.org(num(a.caller))} cannot revoke it`,
  GrantAlreadyRevoked: (a) => `grant ${shortHex(String(a.id))} is already revoked`,
  InvalidRegulatorRule: (a) => `regulator rule ${a.rule} sets bits no scope defines (recall events 1, inspection events 2, disposition events 4, recall scopes 8)`,

  // ---- DataAnchors
  AlreadyAnchored: (a) => `node ${a.node} already anchored window ${a.sequence} (root ${shortHex(String(a.anchoredRoot))})`,
  UnexpectedSequence: (a) => `node ${a.node} must anchor window ${a.expected} next, not ${a.sequence}`,
  PreviousRootMismatch: (a) =>
    `window ${a.sequence} of node ${a.node} does not chain to the previous root ${shortHex(String(a.expected))}`,
  ZeroRoot: (a) => `window ${a.sequence} of node ${a.node} has a zero root`,
  NoLeaves: (a) => `window ${a.sequence} of node ${a.node} has no readings`,
  "DataAnchors.InvalidTimeRange": (a) => `the window ends (${ms(a.toTimeMs)}) before or when it starts (${ms(a.fromTimeMs)})`,
  WindowOverlapsPrevious: (a) =>
    `window ${a.sequence} of node ${a.node} starts before the previous window ended (${ms(a.previousToTimeMs)})`,
  WindowEndsInFuture: (a) => `the window ends at ${ms(a.toTimeMs)}, later than the chain allows (${ms(a.latestAllowedMs)})`,
  EmptyBatch: () => "the batch of windows is empty",
  AnchorNotFound: (a) => `node ${a.node} has no window ${a.sequence}`,
  NoAnchoringNode: (a, n) =>
    num(a.nodeCount) === 0
      ? `${n.org(num(a.orgId))} has no registered node identity, so ${a.account} cannot anchor`
      : `${n.org(num(a.orgId))} has ${a.nodeCount} node identities: bind ${a.account} to one first (bindNode)`,
  NotOwnNode: (a, n) => `node ${a.nodeId} is not a registered node of ${n.org(num(a.orgId))}`,
  AlreadyBound: (a) => `${a.account} anchors for node ${a.boundNodeId} already`,
};

export function messageFor(contract: ContractName | undefined, name: string): Explain | undefined {
  return (contract && MESSAGES[`${contract}.${name}`]) || MESSAGES[name];
}

/** selector -> the contracts declaring it, with the fragment. */
const BY_SELECTOR = new Map<string, { contract: ContractName; fragment: ErrorFragment }[]>();
for (const contract of CONTRACTS) {
  INTERFACES[contract].forEachError((fragment) => {
    const list = BY_SELECTOR.get(fragment.selector) ?? [];
    list.push({ contract, fragment });
    BY_SELECTOR.set(fragment.selector, list);
  });
}

const ERROR_STRING = "0x08c379a0";
const PANIC = "0x4e487b71";
const PANICS: Record<number, string> = {
  0x01: "an internal assertion failed",
  0x11: "an arithmetic overflow or underflow",
  0x12: "a division by zero",
  0x21: "a value outside an enum's range",
  0x22: "a corrupt storage byte array",
  0x31: "pop() on an empty array",
  0x32: "an array index out of bounds",
  0x41: "too much memory allocated",
  0x51: "a call to an uninitialised function",
};

function plain(v: unknown): unknown {
  if (typeof v === "bigint")
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

function displayArg(fragment: ErrorFragment, i: number, v: unknown): string {
  const p = fragment.inputs[i]!;
  const internal = INTERNAL_TYPES.get(fragment.format("sighash"))?.[i] ?? "";
  let shown = String(v);
  if (/enum IConsortium\.Role$/.test(internal)) shown += ` ${roleName(v as bigint)}`;
  else if (/enum IConsortium\.OrgStatus$/.test(internal)) shown += ` ${orgStatusName(v as bigint)}`;
  else if (/enum Consortium\.ProposalStatus$/.test(internal)) shown += ` ${proposalStatusName(v as bigint)}`;
  else if (/enum Certificates\.State$/.test(internal)) shown += ` ${certStateName(v as bigint)}`;
  else if (/enum AccessGrants\.ScopeKind$/.test(internal)) shown += ` ${scopeKindName(v as bigint)}`;
  else if (/enum Provenance\.ItemStatus$/.test(internal)) shown += ` ${itemStatusName(v as bigint)}`;
  return `${p.name}=${shown}`;
}

/**
 * Decodes revert data. `contract` is the contract that was called: when several declare the
 * same error, its reading wins.
 */
export function decodeRevert(data: string, contract?: ContractName, names: Namer = plainNamer): DecodedRevert {
  const selector = data.slice(0, 10).toLowerCase();
  if (data === "0x" || !isHexString(data) || data.length < 10) {
    return {
      contract,
      name: "unknown",
      signature: "",
      args: {},
      display: "revert without data",
      message: "the contract refused without saying why (no revert data)",
      data,
    };
  }
  if (selector === ERROR_STRING || selector === PANIC) {
    try {
      const [value] = AbiCoder.defaultAbiCoder().decode([selector === PANIC ? "uint256" : "string"], dataSlice(data, 4));
      if (selector === PANIC) {
        const code = Number(value);
        return {
          contract,
          name: "Panic",
          signature: "Panic(uint256)",
          args: { code },
          display: `Panic(0x${code.toString(16)})`,
          message: `the contract failed with ${PANICS[code] ?? `panic code 0x${code.toString(16)}`}`,
          data,
        };
      }
      return {
        contract,
        name: "Error",
        signature: "Error(string)",
        args: { reason: value },
        display: `Error("${value}")`,
        message: String(value),
        data,
      };
    } catch {
      // fall through to unknown
    }
  }
  const candidates = BY_SELECTOR.get(selector) ?? [];
  const chosen = candidates.find((c) => c.contract === contract) ?? candidates[0];
  if (chosen) {
    try {
      const parsed = INTERFACES[chosen.contract].parseError(data);
      if (parsed) {
        const args: Record<string, unknown> = {};
        chosen.fragment.inputs.forEach((p, i) => {
          args[p.name || `arg${i}`] = plain(parsed.args[i]);
        });
        const explain = messageFor(chosen.contract, parsed.name);
        return {
          contract: chosen.contract,
          name: parsed.name,
          signature: parsed.signature,
          args,
          display: `${parsed.name}(${[...parsed.args].map((v, i) => displayArg(chosen.fragment, i, v)).join(", ")})`,
          message: explain ? explain(parsed.args, names) : `the contract refused with ${parsed.name}`,
          data,
        };
      }
    } catch {
      // malformed arguments: reported as unknown below
    }
  }
  return {
    contract,
    name: "unknown",
    signature: "",
    args: {},
    display: `unrecognised error ${selector}`,
    message: `the contract refused with an error this tool does not know (data ${shortHex(data)})`,
    data,
  };
}

export { revertDataOf };

/** True for a revert (CALL_EXCEPTION) as opposed to a network or signing failure. */
export function isRevert(err: unknown): boolean {
  return (
    revertDataOf(err) !== undefined ||
    (typeof err === "object" && err !== null && (err as { code?: unknown }).code === "CALL_EXCEPTION")
  );
}
