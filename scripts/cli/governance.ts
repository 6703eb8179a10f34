/**
 * Consortium commands: status, organisations, proposals, propose, vote, execute, object.
 */
import { type Log, getAddress, isHexString } from "ethers";
import {
  Ballot,
  MAX_BPS,
  MAX_EXECUTION_DELAY,
  MAX_VOTING_PERIOD,
  MIN_TRANSACTION_GAS,
  MIN_QUORUM_BPS,
  MIN_VOTING_PERIOD,
  type NodeIdentityInit,
  OrgStatus,
  ProposalKind,
  ProposalStatus,
  Role,
  ZERO_ADDRESS,
  proposalData,
  roleMask,
} from "../../lib/consortium.ts";
import type { Handler, Invocation } from "./handler.ts";
import {
  describeProposal,
  formatDuration,
  formatTime,
  isoTime,
  orgStatusName,
  proposalKindName,
  proposalStatusName,
  relativeTime,
  roleNames,
  rolesText,
} from "./describe.ts";
import { Refusal, UsageError } from "./output.ts";
import * as parse from "./parse.ts";
import type { OrgInfo, Sent, Session } from "./session.ts";

// ------------------------------------------------------------------ views

interface ProposalView {
  id: number;
  kind: string;
  status: string;
  proposer: { id: number; name: string | null };
  deadline: number;
  deadlineTime: string | null;
  description: string;
  args: Record<string, unknown>;
  tally?: { yes: number; no: number; required: number };
  yourBallot?: "yes" | "no" | "none";
}

async function readProposal(s: Session, id: number, myOrg: number | undefined): Promise<ProposalView> {
  const { consortium } = s.contracts;
  const [kind, status, proposer, deadline, data] = await s.view("Consortium", () => consortium.proposal(id));
  const open = Number(status) === ProposalStatus.Open;
  const [tally, ballot] = await Promise.all([
    open ? consortium.tally(id) : undefined,
    myOrg ? consortium.ballotOf(id, myOrg) : undefined,
  ]);
  const described = describeProposal(Number(kind), data, s);
  return {
    id,
    kind: proposalKindName(kind),
    status: proposalStatusName(status),
    proposer: { id: Number(proposer), name: s.orgName(Number(proposer)) },
    deadline: Number(deadline),
    deadlineTime: isoTime(deadline),
    description: described.text,
    args: described.args,
    ...(tally ? { tally: { yes: Number(tally[0]), no: Number(tally[1]), required: Number(tally[2]) } } : {}),
    ...(ballot !== undefined ? { yourBallot: (["none", "yes", "no"] as const)[Number(ballot)] ?? "none" } : {}),
  };
}

/** Proposals newest first; only open ones unless `all`. */
async function listProposals(s: Session, all: boolean, myOrg: number | undefined): Promise<ProposalView[]> {
  const { consortium } = s.contracts;
  const count = Number(await consortium.proposalCount());
  const ids = Array.from({ length: count }, (_, i) => count - i);
  const headers = await Promise.all(ids.map(async (id) => ({ id, status: Number((await consortium.proposal(id))[1]) })));
  const wanted = headers.filter((h) => all || h.status === ProposalStatus.Open).map((h) => h.id);
  return Promise.all(wanted.map((id) => readProposal(s, id, myOrg)));
}

function proposalLines(p: ProposalView, now: number): string[] {
  const lines = [`  #${p.id}  ${p.description}  [${p.status}]`];
  const parts = [`proposed by ${p.proposer.name ?? "organisation"} (#${p.proposer.id})`];
  if (p.tally) parts.push(`${p.tally.yes} yes, ${p.tally.no} no, ${p.tally.required} needed`);
  const closes = p.status === "open" ? "closes" : p.status === "expired" ? "closed" : "deadline was";
  parts.push(`${closes} ${formatTime(p.deadline)}${p.status === "open" ? ` (${relativeTime(p.deadline, now)})` : ""}`);
  if (p.yourBallot)
    parts.push(p.yourBallot === "none" ? "your organisation has not voted" : `your organisation voted ${p.yourBallot}`);
  lines.push(`        ${parts.join("; ")}`);
  return lines;
}

interface MemberView {
  id: number;
  name: string;
  status: string;
  roles: string[];
  accounts: string[];
  nodes: number[];
}

async function members(s: Session): Promise<MemberView[]> {
  const { consortium } = s.contracts;
  const orgs = await s.orgs();
  return Promise.all(
    orgs.map(async (o) => {
      const [accounts, nodes] = await Promise.all([consortium.accountsOf(o.id), consortium.nodesOf(o.id)]);
      return {
        id: o.id,
        name: o.name,
        status: orgStatusName(o.status),
        roles: roleNames(o.roles),
        accounts: [...accounts],
        nodes: nodes.map(Number),
      };
    }),
  );
}

function memberLine(m: MemberView): string {
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
  return `  #${String(m.id).padEnd(3)} ${m.name.padEnd(34)} ${m.status.padEnd(10)} ${(m.roles.join(", ") || "no roles").padEnd(28)} ${plural(m.accounts.length, "account")}, ${plural(m.nodes.length, "node")}`;
}

export const status: Handler = () => async (s) => {
  await s.loadNames();
  const { consortium } = s.contracts;
  const [block, quorumBps, votingPeriod, activeOrgs, required, caller, memberList] = await Promise.all([
    s.provider.getBlock("latest"),
    consortium.quorumBps(),
    consortium.votingPeriod(),
    consortium.activeOrgCount(),
    consortium.requiredVotes(),
    s.caller(),
    members(s),
  ]);
  const now = block?.timestamp ?? Math.floor(Date.now() / 1000);
  const myOrg = caller?.org && !caller.retired ? caller.org.id : undefined;
  const open = await listProposals(s, false, myOrg);

  const callerJson = caller
    ? {
        address: caller.address,
        orgId: caller.orgId || null,
        organisation: caller.org?.name ?? null,
        status: caller.org ? orgStatusName(caller.org.status) : null,
        retired: caller.retired,
        roles: caller.org ? roleNames(caller.org.roles) : [],
        canSign: Boolean(caller.org && !caller.retired && caller.org.status === OrgStatus.Active),
      }
    : null;
  let you: string;
  if (!caller) you = "no key given (--key-file FILE or TRACEMESH_KEY): read-only";
  else if (!caller.org) you = `${caller.address} belongs to no organisation of this consortium`;
  else if (caller.retired) you = `${caller.address} was retired from ${s.org(caller.orgId)} and signs for nobody`;
  else
    you = `${caller.address} signs for ${s.org(caller.orgId)}, ${orgStatusName(caller.org.status)}, roles: ${rolesText(caller.org.roles)}`;

  const c = s.deployment.contracts;
  const text = [
    `Chain ${s.chainId} at ${s.rpcUrl}, block ${block?.number ?? "?"} (${formatTime(now)})`,
    `Contracts (${s.deploymentFile})`,
    `  Consortium    ${c.consortium}`,
    `  Provenance    ${c.provenance}`,
    `  Certificates  ${c.certificates}`,
    `  AccessGrants  ${c.accessGrants}`,
    `  DataAnchors   ${c.dataAnchors}`,
    ...(c.identifierNamespaces ? [`  IdentifierNamespaces ${c.identifierNamespaces}`] : []),
    `Governance: quorum ${(Number(quorumBps) / 100).toFixed(2)}% of ${activeOrgs} active organisations = ${required} approvals; voting period ${formatDuration(votingPeriod)}`,
    `You: ${you}`,
    `Members (${memberList.length})`,
    ...memberList.map(memberLine),
    open.length ? `Open proposals (${open.length})` : "Open proposals: none",
    ...open.flatMap((p) => proposalLines(p, now)),
  ].join("\n");
  return {
    text,
    json: {
      chainId: s.chainId,
      rpc: s.rpcUrl,
      block: { number: block?.number ?? null, timestamp: now, time: isoTime(now) },
      deployment: s.deploymentFile,
      contracts: c,
      governance: {
        quorumBps: Number(quorumBps),
        votingPeriodSeconds: Number(votingPeriod),
        activeOrganisations: Number(activeOrgs),
        requiredVotes: Number(required),
      },
      caller: callerJson,
      members: memberList,
      openProposals: open,
    },
  };
};

export const orgList: Handler = () => async (s) => {
  await s.loadNames();
  const list = await members(s);
  return { text: [`Organisations (${list.length})`, ...list.map(memberLine)].join("\n"), json: { organisations: list } };
};

export const orgShow: Handler = (inv) => async (s) => {
  await s.loadNames();
  const o = await s.resolveOrg(inv.positionals[0]);
  const { consortium } = s.contracts;
  const [accounts, nodeIds] = await Promise.all([consortium.accountsOf(o.id), consortium.nodesOf(o.id)]);
  const nodes = await Promise.all(
    nodeIds.map(async (id) => {
      const n = await consortium.node(id);
      return {
        id: Number(id),
        peerId: n.peerId,
        enodeId: n.enodeId || null,
        enodeHost: n.enodeHost || null,
        enodePort: Number(n.enodePort) || null,
        validator: n.validator === ZERO_ADDRESS ? null : n.validator,
      };
    }),
  );
  const text = [
    `#${o.id} ${o.name}`,
    `  status    ${orgStatusName(o.status)}`,
    `  roles     ${rolesText(o.roles)}`,
    `  accounts  ${accounts.length ? accounts.join("\n            ") : "none"}`,
    `  nodes     ${
      nodes.length
        ? nodes
            .map(
              (n) =>
                `#${n.id} ${n.peerId}${n.enodeId ? ` enode ${n.enodeId.slice(0, 16)}… ${n.enodeHost ?? ""}:${n.enodePort ?? ""}` : ""}${n.validator ? ` validator ${n.validator}` : ""}`,
            )
            .join("\n            ")
        : "none"
    }`,
  ].join("\n");
  return {
    text,
    json: { id: o.id, name: o.name, status: orgStatusName(o.status), roles: roleNames(o.roles), accounts: [...accounts], nodes },
  };
};

export const proposals: Handler = (inv) => async (s) => {
  const all = inv.values.all === true;
  await s.loadNames();
  const caller = await s.caller();
  const myOrg = caller?.org && !caller.retired ? caller.org.id : undefined;
  const [list, now] = await Promise.all([listProposals(s, all, myOrg), s.now()]);
  const title = all ? `Proposals (${list.length})` : list.length ? `Open proposals (${list.length})` : "Open proposals: none";
  return { text: [title, ...list.flatMap((p) => proposalLines(p, now))].join("\n"), json: { proposals: list } };
};

// ------------------------------------------------------------------ propose

function consortiumEvents(s: Session, logs: readonly Log[]) {
  const address = getAddress(s.deployment.contracts.consortium);
  return logs
    .filter((l) => getAddress(l.address) === address)
    .map((l) => s.contracts.consortium.interface.parseLog(l))
    .filter((e) => e !== null);
}

/** What happened to a proposal in a transaction: created, executed at once, rejected, still open. */
async function outcome(s: Session, sent: Sent, proposalIdHint?: bigint) {
  const events = consortiumEvents(s, sent.receipt.logs);
  const created = events.find((e) => e.name === "ProposalCreated");
  const id = created ? (created.args.proposalId as bigint) : proposalIdHint!;
  const executed = events.some((e) => e.name === "ProposalExecuted");
  const rejected = events.some((e) => e.name === "ProposalRejected");
  const queued = events.find((e) => e.name === "ProposalQueued");
  const [yes, no, required] = await s.contracts.consortium.tally(id);
  const state = executed ? "executed" : rejected ? "rejected" : queued ? "queued" : "open";
  const executableAt = queued ? Number(queued.args.executableAt as bigint) : undefined;
  return { id, state, executableAt, tally: { yes: Number(yes), no: Number(no), required: Number(required) } };
}

function requireStatus(s: Session, o: OrgInfo, wanted: OrgStatus[], what: string): void {
  if (!wanted.includes(o.status)) {
    throw new Refusal(`${s.org(o.id)} is ${orgStatusName(o.status)}, so it cannot be ${what}`, {
      orgId: o.id,
      status: orgStatusName(o.status),
      check: "WrongOrgStatus",
    });
  }
}

async function requireFreeAccount(s: Session, account: string): Promise<void> {
  const [owner, retired] = await s.contracts.consortium.accountRecord(account);
  if (Number(owner) !== 0) {
    throw new Refusal(
      `account ${account} already ${retired ? "belonged" : "belongs"} to ${s.org(Number(owner))}; an account never moves to another organisation, even once retired`,
      { account, orgId: Number(owner), check: "AccountTaken" },
    );
  }
}

/** A node identity from the options, in the one spelling Consortium registers (checked syntax only). */
function nodeFrom(inv: Invocation): NodeIdentityInit {
  const peerId = parse.str(inv.values, "peer-id");
  if (!peerId) throw new UsageError(`${inv.command} needs --peer-id`, inv.command);
  let enodeId = parse.str(inv.values, "enode") ?? "";
  if (enodeId) {
    // Registered as Besu sends it: 128 lowercase hex digits, no 0x.
    enodeId = enodeId.replace(/^0x/i, "").toLowerCase();
    if (!/^[0-9a-f]{128}$/.test(enodeId))
      throw new UsageError("--enode must be the node's public key: 128 hex digits", inv.command);
  }
  const portText = parse.str(inv.values, "enode-port");
  const enodePort = portText !== undefined ? parse.uint("--enode-port", portText, 65_535) : enodeId ? 30303 : 0;
  const validatorText = parse.str(inv.values, "validator");
  const validator = validatorText ? parse.address("--validator", validatorText) : ZERO_ADDRESS;
  return { peerId, enodeId, enodeHost: parse.str(inv.values, "enode-host") ?? "", enodePort, validator };
}

async function requireFreeNode(s: Session, node: NodeIdentityInit): Promise<void> {
  const { consortium } = s.contracts;
  if (node.enodeId && Number(await consortium.nodeOfEnode(node.enodeId)) !== 0) {
    throw new Refusal(`the enode id ${node.enodeId.slice(0, 16)}… is already registered`, { check: "EnodeTaken" });
  }
  const owner = Number(await consortium.orgOfPeer(node.peerId));
  if (owner !== 0)
    throw new Refusal(`the peer id ${node.peerId} is already registered to ${s.org(owner)}`, { check: "PeerIdTaken" });
}

/** `propose <kind> ...` as parsed from the command line, before any look-up. */
type ParsedProposal =
  | { sub: "admit"; name: string; roles: Role[]; accounts: string[]; node?: NodeIdentityInit }
  | { sub: "suspend" | "reinstate" | "remove"; org: string }
  | { sub: "grant-role" | "revoke-role"; org: string; role: Role }
  | { sub: "add-account" | "remove-account"; org: string; account: string }
  | { sub: "add-node"; org: string; node: NodeIdentityInit }
  | { sub: "remove-node"; nodeId: number }
  | { sub: "set-governance"; quorumBps?: number; period?: number }
  | { sub: "set-execution-delay"; delay: number }
  | { sub: "set-governed"; targets: string[]; governed: boolean }
  | { sub: "call"; target: string; data: string }
  | { sub: "set-transaction-gas-limit"; gas: number };

function parseProposal(inv: Invocation): ParsedProposal {
  const sub = inv.command.split(" ")[1]!;
  const [a, b] = inv.positionals as [string, string | undefined];
  switch (sub) {
    case "admit": {
      const name = parse.required(inv.values, "name", inv.command).trim();
      if (!name) throw new UsageError("--name is empty", inv.command);
      const roles = parse.roles(inv.values.role as string[] | undefined);
      const accounts = parse.addresses("--account", inv.values.account as string[] | undefined);
      const dup = accounts.find((x, i) => accounts.indexOf(x) !== i);
      if (dup) throw new UsageError(`account ${dup} is listed twice`, inv.command);
      return { sub, name, roles, accounts, node: parse.str(inv.values, "peer-id") ? nodeFrom(inv) : undefined };
    }
    case "suspend":
    case "reinstate":
    case "remove":
      return { sub, org: a };
    case "grant-role":
    case "revoke-role":
      return { sub, org: a, role: parse.role(b) };
    case "add-account":
    case "remove-account":
      return { sub, org: a, account: parse.address("<address>", b) };
    case "add-node":
      return { sub, org: a, node: nodeFrom(inv) };
    case "remove-node":
      return { sub, nodeId: parse.uint("<nodeId>", a.replace(/^#/, ""), 0xffff_ffff) };
    case "set-governance": {
      const q = parse.str(inv.values, "quorum");
      const p = parse.str(inv.values, "voting-period");
      if (q === undefined && p === undefined) throw new UsageError("give --quorum and/or --voting-period", inv.command);
      return {
        sub,
        quorumBps: q !== undefined ? parse.quorum(q) : undefined,
        period: p !== undefined ? parse.duration("--voting-period", p) : undefined,
      };
    }
    case "set-execution-delay":
      return { sub, delay: a === "0" ? 0 : parse.duration("<DURATION>", a) };
    case "set-governed":
      return { sub, targets: parse.addresses("<address>", [a]), governed: !inv.values.remove };
    case "call": {
      if (!b || !isHexString(b) || b.length < 10) {
        throw new UsageError(`<calldata> must be 0x-hex with at least a 4-byte selector, got "${b ?? ""}"`, inv.command);
      }
      return { sub, target: parse.address("<address>", a), data: b };
    }
    case "set-transaction-gas-limit":
      return { sub, gas: a === "none" ? 0 : parse.uint("<GAS>", a) };
  }
  throw new UsageError(`unknown proposal kind ${sub}`, "propose");
}

/**
 * The proposal kind and its encoded arguments, after the checks Consortium would make at
 * propose time (target exists and is in the right state, role held or not, account free, ...).
 */
async function buildProposal(s: Session, p: ParsedProposal): Promise<{ kind: ProposalKind; data: string }> {
  const { consortium } = s.contracts;
  switch (p.sub) {
    case "admit": {
      for (const acc of p.accounts) await requireFreeAccount(s, acc);
      if (p.node) await requireFreeNode(s, p.node);
      return {
        kind: ProposalKind.Admit,
        data: proposalData.admit(p.name, roleMask(...p.roles), p.accounts, p.node ? [p.node] : []),
      };
    }
    case "suspend": {
      const o = await s.resolveOrg(p.org);
      requireStatus(s, o, [OrgStatus.Active], "suspended (only an active organisation can be)");
      if (Number(await consortium.activeOrgCount()) === 1) {
        throw new Refusal(`${s.org(o.id)} is the last active organisation; without it nobody could govern`, {
          check: "LastActiveOrg",
        });
      }
      return { kind: ProposalKind.Suspend, data: proposalData.suspend(o.id) };
    }
    case "reinstate": {
      const o = await s.resolveOrg(p.org);
      requireStatus(s, o, [OrgStatus.Suspended], "reinstated (only a suspended organisation can be)");
      return { kind: ProposalKind.Reinstate, data: proposalData.reinstate(o.id) };
    }
    case "remove": {
      const o = await s.resolveOrg(p.org);
      requireStatus(s, o, [OrgStatus.Active, OrgStatus.Suspended], "removed again");
      return { kind: ProposalKind.Remove, data: proposalData.remove(o.id) };
    }
    case "grant-role":
    case "revoke-role": {
      const o = await s.resolveOrg(p.org);
      requireStatus(s, o, [OrgStatus.Active, OrgStatus.Suspended], "given or denied roles");
      const held = (o.roles & (1n << BigInt(p.role))) !== 0n;
      if (p.sub === "grant-role" && held) {
        throw new Refusal(`${s.org(o.id)} already holds the ${Role[p.role]} role`, {
          orgId: o.id,
          role: Role[p.role],
          check: "RoleAlreadyHeld",
        });
      }
      if (p.sub === "revoke-role" && !held) {
        throw new Refusal(`${s.org(o.id)} does not hold the ${Role[p.role]} role (it holds: ${rolesText(o.roles)})`, {
          orgId: o.id,
          role: Role[p.role],
          check: "RoleNotHeld",
        });
      }
      return p.sub === "grant-role"
        ? { kind: ProposalKind.GrantRole, data: proposalData.grantRole(o.id, p.role) }
        : { kind: ProposalKind.RevokeRole, data: proposalData.revokeRole(o.id, p.role) };
    }
    case "add-account": {
      const o = await s.resolveOrg(p.org);
      requireStatus(s, o, [OrgStatus.Active, OrgStatus.Suspended], "given accounts");
      await requireFreeAccount(s, p.account);
      return { kind: ProposalKind.AddAccount, data: proposalData.addAccount(o.id, p.account) };
    }
    case "remove-account": {
      const o = await s.resolveOrg(p.org);
      requireStatus(s, o, [OrgStatus.Active, OrgStatus.Suspended], "changed");
      const current = (await consortium.accountsOf(o.id)).map((x) => getAddress(x));
      if (!current.includes(p.account)) {
        throw new Refusal(`account ${p.account} is not a current signing account of ${s.org(o.id)}`, {
          check: "AccountNotInOrg",
        });
      }
      if (current.length === 1) {
        throw new Refusal(`account ${p.account} is the last signing account of ${s.org(o.id)}; add another one first`, {
          check: "LastAccount",
        });
      }
      return { kind: ProposalKind.RemoveAccount, data: proposalData.removeAccount(o.id, p.account) };
    }
    case "add-node": {
      const o = await s.resolveOrg(p.org);
      requireStatus(s, o, [OrgStatus.Active, OrgStatus.Suspended], "given nodes");
      await requireFreeNode(s, p.node);
      return { kind: ProposalKind.AddNode, data: proposalData.addNode(o.id, p.node) };
    }
    case "remove-node": {
      const n = await s.view("Consortium", () => consortium.node(p.nodeId));
      if (!n.registered) throw new Refusal(`node #${p.nodeId} (${n.peerId}) was removed already`, { check: "UnknownNode" });
      return { kind: ProposalKind.RemoveNode, data: proposalData.removeNode(p.nodeId) };
    }
    case "set-governance": {
      const quorumBps = p.quorumBps ?? Number(await consortium.quorumBps());
      const period = p.period ?? Number(await consortium.votingPeriod());
      if (quorumBps < MIN_QUORUM_BPS || quorumBps > MAX_BPS) {
        throw new Refusal(
          `a quorum of ${quorumBps} basis points is outside ${MIN_QUORUM_BPS}..${MAX_BPS}: at least a strict majority, at most unanimity`,
          {
            check: "InvalidQuorum",
          },
        );
      }
      if (period < MIN_VOTING_PERIOD || period > MAX_VOTING_PERIOD) {
        throw new Refusal(`a voting period of ${formatDuration(period)} is outside 5 minutes to 90 days`, {
          check: "InvalidVotingPeriod",
        });
      }
      return { kind: ProposalKind.SetGovernance, data: proposalData.setGovernance(quorumBps, period) };
    }
    case "set-execution-delay":
      if (p.delay > MAX_EXECUTION_DELAY) {
        throw new Refusal(`an execution delay of ${formatDuration(p.delay)} is longer than 30 days`, { check: "InvalidExecutionDelay" });
      }
      return { kind: ProposalKind.SetExecutionDelay, data: proposalData.setExecutionDelay(p.delay) };
    case "set-governed":
      return { kind: ProposalKind.SetGoverned, data: proposalData.setGoverned(p.targets, p.governed) };
    case "call":
      if (!(await consortium.isGoverned(p.target))) {
        throw new Refusal(`${p.target} is not on the consortium's list of governed proxies (propose set-governed first)`, {
          check: "NotGovernedHere",
        });
      }
      return { kind: ProposalKind.Call, data: proposalData.call(p.target, p.data) };
    case "set-transaction-gas-limit":
      if (p.gas !== 0 && p.gas < MIN_TRANSACTION_GAS) {
        throw new Refusal(`a bound of ${p.gas} gas is below ${MIN_TRANSACTION_GAS}: members could no longer vote it back up`, {
          check: "InvalidTransactionGasLimit",
        });
      }
      return { kind: ProposalKind.SetTransactionGasLimit, data: proposalData.setTransactionGasLimit(p.gas) };
  }
}

function outcomeText(o: { id: bigint; state: string; executableAt?: number; tally: { yes: number; no: number; required: number } }): string {
  if (o.state === "executed") return `proposal #${o.id} passed and took effect`;
  if (o.state === "queued")
    return `proposal #${o.id} passed; anyone may execute it from ${formatTime(o.executableAt!)} on (tm execute ${o.id}); until then members may object (tm object ${o.id})`;
  if (o.state === "rejected") return `proposal #${o.id} is rejected: it can no longer reach the quorum`;
  return `proposal #${o.id} is open: ${o.tally.yes} yes, ${o.tally.no} no, ${o.tally.required} needed`;
}

export const propose: Handler = (inv) => {
  const parsed = parseProposal(inv);
  return (s) => proposeParsed(s, inv, parsed);
};

async function proposeParsed(s: Session, inv: Invocation, parsed: ParsedProposal) {
  const me = await s.requireActive(inv.command, "propose changes to the consortium");
  const { kind, data } = await buildProposal(s, parsed);
  const described = describeProposal(kind, data, s);
  const sent = await s.send(inv.command, "Consortium", `propose: ${described.text}`, (c) => c.consortium.propose(kind, data));
  const o = await outcome(s, sent);
  const [, , , deadline] = await s.contracts.consortium.proposal(o.id);
  const now = await s.now();
  const text = [
    `Proposal #${o.id}: ${described.text}`,
    `  proposed by ${s.org(me.org.id)}, which voted yes`,
    `  ${outcomeText(o)}${o.state === "open" ? `; voting closes ${formatTime(deadline)} (${relativeTime(deadline, now)})` : ""}`,
    `  transaction ${sent.hash} (block ${sent.blockNumber})`,
  ].join("\n");
  return {
    text,
    json: {
      proposalId: Number(o.id),
      kind: proposalKindName(kind),
      description: described.text,
      args: described.args,
      status: o.state,
      tally: o.tally,
      deadline: Number(deadline),
      deadlineTime: isoTime(deadline),
      tx: sent.hash,
      block: sent.blockNumber,
    },
  };
}

// ------------------------------------------------------------------ vote, execute

async function requireOpen(s: Session, id: bigint) {
  const [kind, status, , deadline, data] = await s.view("Consortium", () => s.contracts.consortium.proposal(id));
  const described = describeProposal(Number(kind), data, s);
  if (Number(status) !== ProposalStatus.Open) {
    const when = Number(status) === ProposalStatus.Expired ? ` (voting closed ${formatTime(deadline)})` : "";
    throw new Refusal(`proposal #${id} (${described.text}) is ${proposalStatusName(status)}${when}, no longer open for votes`, {
      proposalId: Number(id),
      status: proposalStatusName(status),
      check: "ProposalNotOpen",
    });
  }
  return { described, deadline };
}

export const vote: Handler = (inv) => {
  const id = parse.proposalId(inv.positionals[0]);
  const support = parse.yesNo(inv.positionals[1]);
  return async (s) => {
    const me = await s.requireActive(inv.command, "vote");
    const { described } = await requireOpen(s, id);
    const [subject] = await s.contracts.consortium.proposalSchedule(id);
    if (Number(subject) === me.org.id) {
      throw new Refusal(`proposal #${id} (${described.text}) acts against ${s.org(me.org.id)}, which does not vote on it`, {
        proposalId: Number(id),
        orgId: me.org.id,
        check: "SubjectMayNotVote",
      });
    }
    const ballot = Number(await s.contracts.consortium.ballotOf(id, me.org.id));
    if (ballot !== Ballot.None) {
      throw new Refusal(
        `${s.org(me.org.id)} has already voted ${ballot === Ballot.Yes ? "yes" : "no"} on proposal #${id}; one vote per organisation`,
        {
          proposalId: Number(id),
          orgId: me.org.id,
          check: "AlreadyVoted",
        },
      );
    }
    const sent = await s.send(inv.command, "Consortium", `vote ${support ? "yes" : "no"} on #${id} (${described.text})`, (c) =>
      c.consortium.vote(id, support),
    );
    const o = await outcome(s, sent, id);
    return {
      text: [
        `${s.org(me.org.id)} voted ${support ? "yes" : "no"} on proposal #${id}: ${described.text}`,
        `  ${outcomeText(o)}`,
        `  transaction ${sent.hash} (block ${sent.blockNumber})`,
      ].join("\n"),
      json: {
        proposalId: Number(id),
        vote: support ? "yes" : "no",
        description: described.text,
        status: o.state,
        tally: o.tally,
        tx: sent.hash,
        block: sent.blockNumber,
      },
    };
  };
};

export const execute: Handler = (inv) => {
  const id = parse.proposalId(inv.positionals[0]);
  return async (s) => {
    const { consortium } = s.contracts;
    const [kind, status, , , data] = await s.view("Consortium", () => consortium.proposal(id));
    if (Number(status) === ProposalStatus.Queued) return executeQueued(s, inv, id, describeProposal(Number(kind), data, s).text);
    await s.requireActive(inv.command, "settle proposals");
    const { described } = await requireOpen(s, id);
    const [[yes, no, required], [subject], active] = await Promise.all([
      consortium.tally(id),
      consortium.proposalSchedule(id),
      consortium.activeOrgCount(),
    ]);
    const voters = active - (subject !== 0n && (await consortium.isActiveOrg(subject)) ? 1n : 0n);
    if (yes < required && no + required <= voters) {
      throw new Refusal(
        `proposal #${id} (${described.text}) has ${yes} of the ${required} approvals it needs and could still pass: it is decided by votes (tm vote ${id} yes|no)`,
        { proposalId: Number(id), yes: Number(yes), no: Number(no), required: Number(required), check: "QuorumNotReached" },
      );
    }
    const sent = await s.send(inv.command, "Consortium", `settle #${id} (${described.text})`, (c) => c.consortium.execute(id));
    const o = await outcome(s, sent, id);
    return {
      text: [
        `Proposal #${id}: ${described.text}`,
        `  ${outcomeText(o)}`,
        `  transaction ${sent.hash} (block ${sent.blockNumber})`,
      ].join("\n"),
      json: {
        proposalId: Number(id),
        description: described.text,
        status: o.state,
        tally: o.tally,
        tx: sent.hash,
        block: sent.blockNumber,
      },
    };
  };
};

/**
 * Objects, for the caller's organisation, to a queued proposal during its execution delay
 * (Consortium.object): the proposal is cancelled once its opponents (no votes and objections)
 * could have rejected it by voting no. Refused before sending when the chain would refuse it.
 */
export const object: Handler = (inv) => {
  const id = parse.proposalId(inv.positionals[0]);
  return async (s) => {
    const { consortium } = s.contracts;
    const me = await s.requireActive(inv.command, "object to proposals");
    const [kind, status, , , data] = await s.view("Consortium", () => consortium.proposal(id));
    const text = describeProposal(Number(kind), data, s).text;
    const [subject, executableAt] = await consortium.proposalSchedule(id);
    const now = (await consortium.runner!.provider!.getBlock("latest"))!.timestamp;
    if (Number(status) !== ProposalStatus.Queued || now >= Number(executableAt)) {
      const why = Number(status) === ProposalStatus.Queued ? `its delay is over and anyone may execute it (tm execute ${id})` : `it is ${proposalStatusName(status)}, not waiting out its execution delay`;
      throw new Refusal(`proposal #${id} (${text}) cannot be objected to: ${why}`, { proposalId: Number(id), status: proposalStatusName(status), check: "NotObjectable" });
    }
    if (Number(subject) === me.org.id) {
      throw new Refusal(`proposal #${id} (${text}) acts against ${s.org(me.org.id)}, which does not vote on it`, { proposalId: Number(id), orgId: me.org.id, check: "SubjectMayNotVote" });
    }
    const objectors = (await consortium.objectorsOf(id)).map(Number);
    if (Number(await consortium.ballotOf(id, me.org.id)) === Ballot.No || objectors.includes(me.org.id)) {
      throw new Refusal(`${s.org(me.org.id)} already opposes proposal #${id} (it voted no or objected); one objection per organisation`, {
        proposalId: Number(id),
        orgId: me.org.id,
        check: "AlreadyOpposed",
      });
    }
    const sent = await s.send(inv.command, "Consortium", `object to #${id} (${text})`, (c) => c.consortium.object(id));
    const cancelled = consortiumEvents(s, sent.receipt.logs).some((e) => e.name === "ProposalRejected");
    const opposition = await oppositionOf(s, id);
    return {
      text: [
        `${s.org(me.org.id)} objected to proposal #${id}: ${text}`,
        cancelled
          ? `  proposal #${id} is cancelled: ${opposition.opponents} organisations oppose it, enough to have rejected it; it will not execute`
          : `  proposal #${id} is still queued: ${opposition.opponents} of the ${opposition.needed} opponents that cancel it; it may execute from ${formatTime(executableAt)} on`,
        `  transaction ${sent.hash} (block ${sent.blockNumber})`,
      ].join("\n"),
      json: { proposalId: Number(id), description: text, status: cancelled ? "rejected" : "queued", ...opposition, tx: sent.hash, block: sent.blockNumber },
    };
  };
};

/** Active opponents of a proposal (no votes and objections) and how many cancel a queued one. */
async function oppositionOf(s: Session, id: bigint): Promise<{ opponents: number; needed: number }> {
  const { consortium } = s.contracts;
  const [[, no, required], [subject], active, objectors] = await Promise.all([consortium.tally(id), consortium.proposalSchedule(id), consortium.activeOrgCount(), consortium.objectorsOf(id)]);
  const activeObjectors = (await Promise.all(objectors.map((o) => consortium.isActiveOrg(o)))).filter(Boolean).length;
  const voters = Number(active) - (subject !== 0n && (await consortium.isActiveOrg(subject)) ? 1 : 0);
  return { opponents: Number(no) + activeObjectors, needed: voters - Number(required) + 1 };
}

/** A passed Upgrade, Call or SetExecutionDelay, once its delay is over: anyone may execute it. */
async function executeQueued(s: Session, inv: Invocation, id: bigint, text: string) {
  const [, executableAt] = await s.contracts.consortium.proposalSchedule(id);
  const now = (await s.contracts.consortium.runner!.provider!.getBlock("latest"))!.timestamp;
  if (now < Number(executableAt)) {
    throw new Refusal(`proposal #${id} (${text}) passed; it may execute from ${formatTime(executableAt)} on (${relativeTime(executableAt, now)})`, {
      proposalId: Number(id),
      executableAt: Number(executableAt),
      check: "ExecutionDelayNotOver",
    });
  }
  const sent = await s.send(inv.command, "Consortium", `execute #${id} (${text})`, (c) => c.consortium.execute(id));
  return {
    text: [`Proposal #${id}: ${text}`, `  proposal #${id} took effect`, `  transaction ${sent.hash} (block ${sent.blockNumber})`].join("\n"),
    json: { proposalId: Number(id), description: text, status: "executed", tx: sent.hash, block: sent.blockNumber },
  };
}
