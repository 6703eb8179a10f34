/**
 * Checks the chain index against the contracts' own views, and one index against another.
 */
import { expect } from "vitest";
import type { TracemeshContracts } from "../../lib/deployment.ts";
import { Ballot } from "../../lib/consortium.ts";
import type { IndexQueries, IndexStore } from "../../node/indexer/index.ts";
import { proposalStatusOf } from "../../node/indexer/queries.ts";
import type { StoryKeys } from "./story.ts";

const n = (v: bigint | number) => Number(v);

/** Every fact of `keys` read through the index equals what the contracts answer (at `blockTag`). */
export async function expectIndexEqualsChain(q: IndexQueries, c: TracemeshContracts, keys: StoryKeys): Promise<void> {
  const recordCount = n(await c.provenance.recordCount());
  for (let id = 1; id <= recordCount; id++) {
    const r = await c.provenance.record(id);
    const doc = await q.record(id);
    expect(doc, `record ${id}`).toBeDefined();
    expect({ eventHash: doc!.eventHash, org: doc!.org, kind: doc!.kind, time: doc!.time, corrects: doc!.corrects }).toEqual({
      eventHash: r.eventHash,
      org: n(r.orgId),
      kind: n(r.kind),
      time: n(r.timestamp),
      corrects: n(r.corrects),
    });
    expect((await q.recordOfEventBy(r.eventHash, n(r.orgId)))?.id).toBe(id);
  }
  expect(await q.record(recordCount + 1)).toBeUndefined();
  for (const h of keys.eventHashes) expect((await q.recordOfEvent(h))?.id ?? 0, `event ${h}`).toBe(n(await c.provenance.recordOfEvent(h)));

  for (const key of keys.items) {
    const s = await c.provenance.itemState(key);
    const v = await q.item(key);
    expect(v, `item ${key}`).toBeDefined();
    expect({
      status: v!.status,
      owner: v!.ownerOrg,
      custodian: v!.custodianOrg,
      consignee: v!.consigneeOrg,
      transfersOwnership: v!.transfersOwnership,
      recalled: v!.recalled,
      parent: v!.parent ?? "0x" + "00".repeat(32),
      batch: v!.batch ?? "0x" + "00".repeat(32),
      disposition: v!.disposition,
      createdAt: v!.createdAt,
      lastRecord: v!.lastRecord,
    }, `item ${key}`).toEqual({
      status: n(s.status),
      owner: n(s.ownerOrg),
      custodian: n(s.custodianOrg),
      consignee: n(s.consigneeOrg),
      transfersOwnership: s.transfersOwnership,
      recalled: s.recalled,
      parent: s.parent,
      batch: s.batch,
      disposition: s.disposition,
      createdAt: n(s.createdAt),
      lastRecord: n(s.lastRecord),
    });
  }
  for (const key of keys.batches) {
    const s = await c.provenance.batchState(key);
    const b = await q.batch(key);
    expect(b, `batch ${key}`).toBeDefined();
    expect({ owner: b!.owner, recalled: b!.recalled, createdAt: b!.createdAt, itemCount: b!.itemCount, disposition: b!.disposition }).toEqual({
      owner: n(s.ownerOrg),
      recalled: s.recalled,
      createdAt: n(s.createdAt),
      itemCount: n(s.itemCount),
      disposition: s.disposition,
    });
  }

  for (const id of keys.certificates) {
    const chain = await c.certificates.certificate(id);
    const [status, atIssuance, now] = await c.certificates.status(id);
    const v = await q.certificate(id);
    expect(v, `certificate ${id}`).toBeDefined();
    expect({
      issuer: v!.issuer, state: v!.state, reason: v!.reason, issuedAt: v!.issuedAt, validFrom: v!.validFrom, validUntil: v!.validUntil,
      suspendedAt: v!.suspendedAt, revokedAt: v!.revokedAt, subject: v!.subject, scope: v!.scope, reasonHash: v!.reasonHash,
      supersededBy: v!.supersededBy, supersedes: v!.supersedes, status: v!.status, accreditedAtIssuance: v!.accreditedAtIssuance, accreditedNow: v!.accreditedNow,
    }, `certificate ${id}`).toEqual({
      issuer: n(chain.issuer), state: n(chain.state), reason: n(chain.reason), issuedAt: n(chain.issuedAt), validFrom: n(chain.validFrom),
      validUntil: n(chain.validUntil), suspendedAt: n(chain.suspendedAt), revokedAt: n(chain.revokedAt), subject: chain.subject, scope: chain.scope,
      reasonHash: chain.reasonHash, supersededBy: chain.supersededBy, supersedes: chain.supersedes, status: n(status), accreditedAtIssuance: atIssuance, accreditedNow: now,
    });
  }
  const subjects = new Set((await Promise.all(keys.certificates.map((id) => q.certificate(id)))).map((x) => x!.subject));
  for (const subject of subjects) {
    const count = n(await c.certificates.certificateCountOf(subject));
    const ids = await c.certificates.certificatesOf(subject, 0, count);
    expect((await q.certificatesOf(subject)).map((x) => x.id)).toEqual([...ids]);
  }
  for (const { certifier, scope } of keys.accredited) {
    const count = n(await c.certificates.accreditationPeriodCount(certifier, scope));
    const periods = await q.accreditations(certifier, scope);
    expect(periods.length).toBe(count);
    for (let i = 0; i < count; i++) {
      const p = await c.certificates.accreditationPeriod(certifier, scope, i);
      expect({ from: periods[i]!.from, expiresAt: periods[i]!.expiresAt, withdrawnAt: periods[i]!.withdrawnAt, accreditedBy: periods[i]!.accreditedBy, withdrawnBy: periods[i]!.withdrawnBy }).toEqual({
        from: n(p.from), expiresAt: n(p.expiresAt), withdrawnAt: n(p.withdrawnAt), accreditedBy: n(p.accreditedBy), withdrawnBy: n(p.withdrawnBy),
      });
    }
    expect(await q.isAccredited(certifier, scope)).toBe(await c.certificates.isAccredited(certifier, scope));
  }

  for (const id of keys.grants) {
    const g = await c.accessGrants.grant(id);
    const v = await q.grant(id);
    expect(v, `grant ${id}`).toBeDefined();
    expect({ owner: v!.owner, grantee: v!.grantee, kind: v!.kind, revoked: v!.revoked, version: v!.version, grantedAt: v!.grantedAt, expiresAt: v!.expiresAt, from: v!.from, to: v!.to, revokedAt: v!.revokedAt, scopeKey: v!.scopeKey, purpose: v!.purpose }).toEqual({
      owner: n(g.owner), grantee: n(g.grantee), kind: n(g.kind), revoked: g.revoked, version: n(g.version), grantedAt: n(g.grantedAt), expiresAt: n(g.expiresAt),
      from: n(g.from), to: n(g.to), revokedAt: n(g.revokedAt), scopeKey: g.scopeKey, purpose: g.purpose,
    });
    expect((await q.grantsGiven(v!.owner)).map((x) => x.id)).toContain(id);
    expect((await q.grantsReceived(v!.grantee)).map((x) => x.id)).toContain(id);
  }

  for (const { node, sequence } of keys.anchors) {
    const a = await c.dataAnchors.getAnchor(node, sequence);
    const v = await q.anchor(node, sequence);
    expect(v, `anchor ${node}/${sequence}`).toBeDefined();
    expect({ root: v!.root, fromTimeMs: v!.fromTimeMs, toTimeMs: v!.toTimeMs, anchoredAt: v!.anchoredAt, leafCount: v!.leafCount, orgId: v!.orgId }).toEqual({
      root: a.root, fromTimeMs: n(a.fromTimeMs), toTimeMs: n(a.toTimeMs), anchoredAt: n(a.anchoredAt), leafCount: n(a.leafCount), orgId: n(a.orgId),
    });
  }

  const orgCount = n(await c.consortium.orgCount());
  const members = await q.members();
  expect(members.length).toBe(orgCount);
  for (const m of members) {
    const [name, status, roles] = await c.consortium.org(m.id);
    expect({ name: m.name, status: m.status, roles: m.roles, accounts: m.accounts, nodes: m.nodes }).toEqual({
      name, status: n(status), roles: roles.toString(), accounts: [...(await c.consortium.accountsOf(m.id))], nodes: (await c.consortium.nodesOf(m.id)).map(n),
    });
    for (const account of m.accounts) expect((await q.account(account))?.orgId).toBe(n(await c.consortium.orgOf(account)));
  }
  const gov = await q.governance();
  expect(gov).toEqual({ quorumBps: n(await c.consortium.quorumBps()), votingPeriod: n(await c.consortium.votingPeriod()) });
  const proposalCount = n(await c.consortium.proposalCount());
  for (let id = 1; id <= proposalCount; id++) {
    const [kind, status, proposer, deadline, data] = await c.consortium.proposal(id);
    const [yes, no, required] = await c.consortium.tally(id);
    const v = await q.proposal(id);
    expect(v, `proposal ${id}`).toBeDefined();
    expect({ kind: v!.kind, status: proposalStatusOf(v!), proposer: v!.proposer, deadline: v!.deadline, data: v!.data, yes: v!.yes, no: v!.no, required: v!.required }).toEqual({
      kind: n(kind), status: n(status), proposer: n(proposer), deadline: n(deadline), data, yes: n(yes), no: n(no), required: n(required),
    });
    for (const vote of v!.votes) expect(n(await c.consortium.ballotOf(id, vote.org))).toBe(vote.support ? Ballot.Yes : Ballot.No);
  }
}

/** Two indexes hold the same entries (bookkeeping aside). */
export async function expectSameIndex(a: IndexStore, b: IndexStore): Promise<void> {
  const [x, y] = await Promise.all([a.dump(), b.dump()]);
  const diff = [...new Set([...x.keys(), ...y.keys()])].filter((k) => x.get(k) !== y.get(k)).slice(0, 10);
  expect(diff.map((k) => [k, x.get(k), y.get(k)])).toEqual([]);
  expect(x.size).toBe(y.size);
}
