/**
 * How the index follows Consortium: organisations, roles, accounts, node identities and proposals.
 */
import { type Result, getAddress } from "ethers";
import { OrgStatus } from "../../../lib/consortium.ts";
import type { BlockApplier, Handlers } from "../apply.ts";
import type { EventContext } from "../decode.ts";
import type { OrgDoc, AccountDoc, NodeDoc, ProposalDoc, GovernanceDoc } from "../documents.ts";
import { K } from "../store.ts";
import { n, swapRemove } from "./values.ts";

export function consortiumHandlers(applier: BlockApplier): Handlers {
  return {
    "consortium.GovernanceChanged": async (a: Result) => {
      const doc: GovernanceDoc = { quorumBps: n(a.quorumBps), votingPeriod: n(a.votingPeriod) };
      await applier.w.put(K.governance, doc);
    },
    "consortium.OrgAdmitted": async (a: Result, ctx: EventContext) => {
      const id = n(a.orgId);
      const doc: OrgDoc = { id, name: a.name as string, status: OrgStatus.Active, roles: (a.roles as bigint).toString(), accounts: [], nodes: [], admittedBlock: ctx.block };
      await applier.w.put(K.org(id), doc);
    },
    "consortium.OrgStatusChanged": async (a: Result) => {
      const o = await applier.org(n(a.orgId));
      o.status = n(a.status);
      await applier.w.put(K.org(o.id), o);
    },
    "consortium.RoleGranted": async (a: Result) => {
      const o = await applier.org(n(a.orgId));
      o.roles = (BigInt(o.roles) | (1n << BigInt(a.role as bigint))).toString();
      await applier.w.put(K.org(o.id), o);
    },
    "consortium.RoleRevoked": async (a: Result) => {
      const o = await applier.org(n(a.orgId));
      o.roles = (BigInt(o.roles) & ~(1n << BigInt(a.role as bigint))).toString();
      await applier.w.put(K.org(o.id), o);
    },
    "consortium.AccountAdded": async (a: Result) => {
      const o = await applier.org(n(a.orgId));
      const account = getAddress(a.account as string);
      o.accounts.push(account);
      await applier.w.put(K.org(o.id), o);
      await applier.w.put(K.account(account.toLowerCase()), { orgId: o.id, retired: false } satisfies AccountDoc);
    },
    "consortium.AccountRemoved": async (a: Result) => {
      const o = await applier.org(n(a.orgId));
      const account = getAddress(a.account as string);
      swapRemove(o.accounts, account);
      await applier.w.put(K.org(o.id), o);
      await applier.w.put(K.account(account.toLowerCase()), { orgId: o.id, retired: true } satisfies AccountDoc);
    },
    "consortium.NodeAdded": async (a: Result) => {
      const o = await applier.org(n(a.orgId));
      const id = n(a.nodeId);
      o.nodes.push(id);
      await applier.w.put(K.org(o.id), o);
      const doc: NodeDoc = {
        id,
        orgId: o.id,
        registered: true,
        peerId: a.peerId as string,
        enodeId: a.enodeId as string,
        enodeHost: a.enodeHost as string,
        enodePort: n(a.enodePort),
        validator: getAddress(a.validator as string),
      };
      await applier.w.put(K.node(id), doc);
    },
    "consortium.NodeRemoved": async (a: Result) => {
      const o = await applier.org(n(a.orgId));
      const id = n(a.nodeId);
      swapRemove(o.nodes, id);
      await applier.w.put(K.org(o.id), o);
      const doc = await applier.w.get<NodeDoc>(K.node(id));
      if (doc) await applier.w.put(K.node(id), { ...doc, registered: false });
    },
    "consortium.ProposalCreated": async (a: Result, ctx: EventContext) => {
      const id = n(a.proposalId);
      const doc: ProposalDoc = {
        id,
        kind: n(a.kind),
        proposer: n(a.proposer),
        data: a.data as string,
        deadline: n(a.deadline),
        status: "open",
        votes: [],
        createdAt: ctx.time,
        block: ctx.block,
        tx: ctx.tx,
      };
      await applier.w.put(K.proposal(id), doc);
      await applier.w.put(K.openProposal(id), 1);
    },
    "consortium.VoteCast": async (a: Result) => {
      const id = n(a.proposalId);
      const p = await applier.w.get<ProposalDoc>(K.proposal(id));
      if (!p) throw new Error(`index is inconsistent: vote on unknown proposal ${id}`);
      p.votes.push({ org: n(a.orgId), support: a.support as boolean });
      await applier.w.put(K.proposal(id), p);
    },
    "consortium.ProposalExecuted": async (a: Result) => settle(applier, n(a.proposalId), "executed"),
    "consortium.ProposalRejected": async (a: Result) => settle(applier, n(a.proposalId), "rejected"),
  };
}

async function settle(applier: BlockApplier, id: number, status: "executed" | "rejected"): Promise<void> {
  const p = await applier.w.get<ProposalDoc>(K.proposal(id));
  if (!p) throw new Error(`index is inconsistent: settlement of unknown proposal ${id}`);
  p.status = status;
  await applier.w.put(K.proposal(id), p);
  await applier.w.del(K.openProposal(id));
}
