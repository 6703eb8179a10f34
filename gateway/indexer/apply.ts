/**
 * How each Tracemesh contract event changes the index: decoding (the typed bindings' ABIs) and
 * one handler per event. Handlers only read and write through a BlockWriter, so a block's
 * changes are committed (or undone) as a whole by the indexer.
 *
 * Events this version does not know (a later contract version's) are counted and skipped, and
 * record kinds beyond the known ones are kept with their number, so an upgrade never stops the
 * index.
 */
import { type EventFragment, type Interface, type Result, getAddress } from "ethers";
import {
  AccessGrants__factory,
  Certificates__factory,
  Consortium__factory,
  DataAnchors__factory,
  IdentifierNamespaces__factory,
  Provenance__factory,
} from "../../lib/contracts/types/index.js";
import type { ContractAddresses } from "../../lib/deployment.ts";
import type { ProposalKind } from "../../lib/consortium.ts";
import { OrgStatus } from "../../lib/consortium.ts";
import type { ScopeKind } from "../../lib/registry.ts";
import { CertificateState, ItemStatus, RecordKind } from "../../lib/registry.ts";
import { type BlockWriter, K } from "./store.ts";

// ---------------------------------------------------------------- documents

export interface ItemDoc {
  key: string;
  status: ItemStatus;
  /** The item's own owner and custodian; while assembled, the topmost ancestor's apply (queries resolve them). */
  owner: number;
  custodian: number;
  consignee: number;
  transfersOwnership: boolean;
  /** Recalled on its own (a batch recall is on the batch). */
  recalled: boolean;
  parent: string | null;
  /** The record that assembled it into `parent`. */
  parentRecord: number | null;
  batch: string | null;
  disposition: string;
  createdAt: number;
  createdBlock: number;
  createdRecord: number;
  lastRecord: number;
  /** Ship record of the pending shipment. */
  shipment: number | null;
}

export interface BatchDoc {
  key: string;
  owner: number;
  recalled: boolean;
  recallRecord: number | null;
  createdAt: number;
  createdRecord: number;
  itemCount: number;
  disposition: string;
}

export interface RecordDoc {
  id: number;
  kind: number;
  /** The RecordKind name in lower case, or `kind-<n>` for a kind this version does not know. */
  kindName: string;
  org: number;
  eventHash: string;
  corrects: number;
  block: number;
  tx: string;
  logIndex: number;
  time: number;
  /** Item and batch keys the record touched, in event order. */
  keys: string[];
}

export interface EdgeDoc {
  from: string;
  to: string;
  kind: "transformation" | "assembly";
  recordId: number;
}

export interface ShipmentDoc {
  item: string;
  from: number;
  to: number;
  transfersOwnership: boolean;
  shipRecord: number;
  state: "in-transit" | "received" | "cancelled";
  endRecord: number | null;
}

export interface CertificateEvent {
  action: "issued" | "suspended" | "reinstated" | "revoked" | "superseded";
  block: number;
  tx: string;
  time: number;
  reason?: number;
  reasonHash?: string;
  supersededBy?: string;
}

export interface CertificateDoc {
  id: string;
  issuer: number;
  state: CertificateState;
  reason: number;
  issuedAt: number;
  validFrom: number;
  validUntil: number;
  suspendedAt: number;
  revokedAt: number;
  subject: string;
  scope: string;
  reasonHash: string;
  supersededBy: string;
  supersedes: string;
  history: CertificateEvent[];
}

export interface AccreditationDoc {
  certifier: number;
  scope: string;
  index: number;
  from: number;
  expiresAt: number;
  withdrawnAt: number;
  accreditedBy: number;
  withdrawnBy: number;
}

export interface GrantDoc {
  id: string;
  owner: number;
  grantee: number;
  kind: ScopeKind;
  revoked: boolean;
  version: number;
  grantedAt: number;
  expiresAt: number;
  from: number;
  to: number;
  revokedAt: number;
  scopeKey: string;
  purpose: string;
  block: number;
  tx: string;
}

export interface AnchorDoc {
  node: string;
  orgId: number;
  sequence: number;
  root: string;
  prevRoot: string;
  fromTimeMs: number;
  toTimeMs: number;
  leafCount: number;
  anchoredAt: number;
  block: number;
  tx: string;
}

export interface OrgDoc {
  id: number;
  name: string;
  status: OrgStatus;
  /** Role bit mask as a decimal string (uint256 on chain). */
  roles: string;
  /** Current signing accounts, in the contract's order. */
  accounts: string[];
  /** Registered node ids, in the contract's order. */
  nodes: number[];
  admittedBlock: number;
}

export interface AccountDoc {
  orgId: number;
  retired: boolean;
}

export interface NodeDoc {
  id: number;
  orgId: number;
  registered: boolean;
  peerId: string;
  enodeId: string;
  enodeHost: string;
  enodePort: number;
  validator: string;
}

export interface ProposalDoc {
  id: number;
  kind: ProposalKind;
  proposer: number;
  data: string;
  deadline: number;
  status: "open" | "executed" | "rejected";
  votes: { org: number; support: boolean }[];
  createdAt: number;
  block: number;
  tx: string;
}

export interface GovernanceDoc {
  quorumBps: number;
  votingPeriod: number;
}

// ---------------------------------------------------------------- decoding

export type ContractName = keyof ContractAddresses;

export interface RawLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  logIndex: string;
}

/** Where an event happened. */
export interface EventContext {
  block: number;
  time: number;
  tx: string;
  logIndex: number;
}

const INTERFACES: Record<ContractName, Interface> = {
  consortium: Consortium__factory.createInterface(),
  provenance: Provenance__factory.createInterface(),
  certificates: Certificates__factory.createInterface(),
  accessGrants: AccessGrants__factory.createInterface(),
  dataAnchors: DataAnchors__factory.createInterface(),
  identifierNamespaces: IdentifierNamespaces__factory.createInterface(),
};

/** A decoded event: its name and arguments. */
export interface DecodedEvent {
  name: string;
  args: Result;
}

/**
 * Decodes the logs of the five contracts; unknown addresses or topics answer undefined. Topic
 * hashes are computed once here (ethers' parseLog would hash every event signature per log).
 */
export class EventDecoder {
  private readonly byAddress = new Map<string, ContractName>();
  private readonly byTopic = new Map<string, EventFragment>();

  constructor(addresses: ContractAddresses) {
    for (const [name, address] of Object.entries(addresses) as [ContractName, string][]) {
      this.byAddress.set(getAddress(address).toLowerCase(), name);
    }
    for (const [name, iface] of Object.entries(INTERFACES) as [ContractName, Interface][]) {
      iface.forEachEvent((fragment) => this.byTopic.set(`${name}:${fragment.topicHash}`, fragment));
    }
  }

  get addresses(): string[] {
    return [...this.byAddress.keys()];
  }

  decode(log: RawLog): { contract: ContractName; event: DecodedEvent } | undefined {
    const contract = this.byAddress.get(log.address.toLowerCase());
    if (!contract) return undefined;
    const fragment = this.byTopic.get(`${contract}:${log.topics[0]}`);
    if (!fragment) return undefined;
    try {
      return { contract, event: { name: fragment.name, args: INTERFACES[contract].decodeEventLog(fragment, log.data, log.topics) } };
    } catch {
      // A topic we know with data we cannot decode: a later contract version's event.
      return undefined;
    }
  }
}

// ---------------------------------------------------------------- applying

const ZERO32 = "0x" + "00".repeat(32);
const n = (v: unknown): number => Number(v as bigint);
const hex = (v: unknown): string => (v as string).toLowerCase();

export const recordKindName = (kind: number): string => {
  const name = RecordKind[kind] as string | undefined;
  return name && kind !== RecordKind.None ? name.replace(/^./, (c) => c.toLowerCase()) : `kind-${kind}`;
};

/**
 * Applies decoded events of one block in log order. The current record of a transaction (the
 * `Recorded` event that Provenance emits before a record's per-item events) is kept here.
 */
export class BlockApplier {
  private record: RecordDoc | undefined;
  /** Events applied in this block; unknown ones skipped. */
  applied = 0;
  skipped = 0;

  constructor(private readonly w: BlockWriter) {}

  async apply(contract: ContractName, e: DecodedEvent, ctx: EventContext): Promise<void> {
    const handler = (this.handlers as Record<string, ((a: Result, ctx: EventContext) => Promise<void>) | undefined>)[`${contract}.${e.name}`];
    if (!handler) {
      this.skipped++;
      return;
    }
    await handler.call(this, e.args, ctx);
    this.applied++;
  }

  // ------------------------------------------------------------ helpers

  private async item(key: string): Promise<ItemDoc> {
    const it = await this.w.get<ItemDoc>(K.item(key));
    if (!it) throw new Error(`index is inconsistent: event for unknown item ${key}`);
    return it;
  }

  private currentRecord(recordId: number, ctx: EventContext): RecordDoc {
    const r = this.record;
    if (!r || r.id !== recordId || r.tx !== ctx.tx) {
      throw new Error(`index is inconsistent: event of record ${recordId} in ${ctx.tx} without its Recorded event`);
    }
    return r;
  }

  /** Adds `key` to the record's keys and the record to the key's history. */
  private async touch(r: RecordDoc, key: string): Promise<void> {
    if (!r.keys.includes(key)) r.keys.push(key);
    this.w.putNew(K.itemRecord(key, r.id), r.kind);
    this.w.putNew(K.record(r.id), r);
  }

  private async setLast(key: string, it: ItemDoc, recordId: number): Promise<void> {
    it.lastRecord = recordId;
    await this.w.put(K.item(key), it);
  }

  private async edge(from: string, to: string, kind: EdgeDoc["kind"], recordId: number): Promise<void> {
    const doc: EdgeDoc = { from, to, kind, recordId };
    for (const key of [K.forward(from), K.backward(to)]) {
      const list = (await this.w.get<EdgeDoc[]>(key)) ?? [];
      list.push(doc);
      await this.w.put(key, list);
    }
  }

  private async cert(id: string): Promise<CertificateDoc> {
    const c = await this.w.get<CertificateDoc>(K.certificate(id));
    if (!c) throw new Error(`index is inconsistent: event for unknown certificate ${id}`);
    return c;
  }

  private async org(id: number): Promise<OrgDoc> {
    const o = await this.w.get<OrgDoc>(K.org(id));
    if (!o) throw new Error(`index is inconsistent: event for unknown organisation ${id}`);
    return o;
  }

  // ------------------------------------------------------------ handlers

  private readonly handlers = {
    // ---------------------------------------------------------- Provenance
    "provenance.Recorded": async (a: Result, ctx: EventContext) => {
      const kind = n(a.kind);
      const r: RecordDoc = {
        id: n(a.recordId),
        kind,
        kindName: recordKindName(kind),
        org: n(a.orgId),
        eventHash: hex(a.eventHash),
        corrects: n(a.corrects),
        block: ctx.block,
        tx: ctx.tx,
        logIndex: ctx.logIndex,
        time: ctx.time,
        keys: [],
      };
      this.record = r;
      this.w.putNew(K.record(r.id), r);
      this.w.putNew(K.eventHash(r.eventHash), r.id);
      if (r.corrects !== 0) {
        // A correction belongs to the history of everything the corrected record touched.
        const corrected = await this.w.get<RecordDoc>(K.record(r.corrects));
        for (const key of corrected?.keys ?? []) await this.touch(r, key);
      }
    },
    "provenance.BatchCreated": async (a: Result, ctx: EventContext) => {
      const r = this.currentRecord(n(a.recordId), ctx);
      const key = hex(a.batchKey);
      const b: BatchDoc = {
        key,
        owner: n(a.ownerOrg),
        recalled: false,
        recallRecord: null,
        createdAt: ctx.time,
        createdRecord: r.id,
        itemCount: 0,
        disposition: hex(a.disposition),
      };
      this.w.putNew(K.batch(key), b);
      await this.touch(r, key);
    },
    "provenance.ItemCreated": async (a: Result, ctx: EventContext) => {
      const r = this.currentRecord(n(a.recordId), ctx);
      const key = hex(a.key);
      const batch = hex(a.batchKey) === ZERO32 ? null : hex(a.batchKey);
      const it: ItemDoc = {
        key,
        status: ItemStatus.Active,
        owner: r.org,
        custodian: r.org,
        consignee: 0,
        transfersOwnership: false,
        recalled: false,
        parent: null,
        parentRecord: null,
        batch,
        disposition: hex(a.disposition),
        createdAt: ctx.time,
        createdBlock: ctx.block,
        createdRecord: r.id,
        lastRecord: r.id,
        shipment: null,
      };
      this.w.putNew(K.item(key), it);
      if (batch) {
        const b = await this.w.get<BatchDoc>(K.batch(batch));
        if (b) {
          b.itemCount++;
          await this.w.put(K.batch(batch), b);
        }
        this.w.putNew(K.batchItem(batch, key), r.id);
      }
      await this.touch(r, key);
    },
    "provenance.ItemConsumed": async (a: Result, ctx: EventContext) => {
      const r = this.currentRecord(n(a.recordId), ctx);
      const key = hex(a.key);
      const it = await this.item(key);
      it.status = ItemStatus.Consumed;
      await this.setLast(key, it, r.id);
      await this.touch(r, key);
    },
    "provenance.Transformed": async (a: Result, ctx: EventContext) => {
      const r = this.currentRecord(n(a.recordId), ctx);
      const inputs = (a.inputs as string[]).map(hex);
      const outputs = (a.outputs as string[]).map(hex);
      for (const i of inputs) for (const o of outputs) await this.edge(i, o, "transformation", r.id);
    },
    "provenance.Shipped": async (a: Result, ctx: EventContext) => {
      const r = this.currentRecord(n(a.recordId), ctx);
      const key = hex(a.key);
      const it = await this.item(key);
      it.status = ItemStatus.InTransit;
      it.consignee = n(a.toOrg);
      it.transfersOwnership = a.transfersOwnership as boolean;
      it.shipment = r.id;
      const s: ShipmentDoc = {
        item: key,
        from: n(a.fromOrg),
        to: n(a.toOrg),
        transfersOwnership: a.transfersOwnership as boolean,
        shipRecord: r.id,
        state: "in-transit",
        endRecord: null,
      };
      this.w.putNew(K.shipment(key, r.id), s);
      await this.setLast(key, it, r.id);
      await this.touch(r, key);
    },
    "provenance.ShipmentCancelled": async (a: Result, ctx: EventContext) => {
      const r = this.currentRecord(n(a.recordId), ctx);
      const key = hex(a.key);
      const it = await this.item(key);
      await this.closeShipment(it, "cancelled", r.id);
      it.status = ItemStatus.Active;
      it.consignee = 0;
      it.transfersOwnership = false;
      await this.setLast(key, it, r.id);
      await this.touch(r, key);
    },
    "provenance.Received": async (a: Result, ctx: EventContext) => {
      const r = this.currentRecord(n(a.recordId), ctx);
      const key = hex(a.key);
      const it = await this.item(key);
      await this.closeShipment(it, "received", r.id);
      it.owner = n(a.ownerOrg);
      it.custodian = n(a.toOrg);
      it.status = ItemStatus.Active;
      it.consignee = 0;
      it.transfersOwnership = false;
      await this.setLast(key, it, r.id);
      await this.touch(r, key);
    },
    "provenance.Assembled": async (a: Result, ctx: EventContext) => {
      const r = this.currentRecord(n(a.recordId), ctx);
      const child = hex(a.child);
      const parent = hex(a.parent);
      const it = await this.item(child);
      it.status = ItemStatus.Assembled;
      it.parent = parent;
      it.parentRecord = r.id;
      await this.setLast(child, it, r.id);
      await this.setLast(parent, await this.item(parent), r.id);
      await this.edge(child, parent, "assembly", r.id);
      await this.touch(r, parent);
      await this.touch(r, child);
    },
    "provenance.Disassembled": async (a: Result, ctx: EventContext) => {
      const r = this.currentRecord(n(a.recordId), ctx);
      const child = hex(a.child);
      const parent = hex(a.parent);
      const it = await this.item(child);
      const p = await this.item(parent);
      // The edge goes, as on chain; the history keeps both records.
      if (it.parentRecord !== null) {
        const record = it.parentRecord;
        const other = (e: EdgeDoc) => !(e.kind === "assembly" && e.from === child && e.to === parent && e.recordId === record);
        for (const key of [K.forward(child), K.backward(parent)]) {
          const list = ((await this.w.get<EdgeDoc[]>(key)) ?? []).filter(other);
          if (list.length > 0) await this.w.put(key, list);
          else await this.w.del(key);
        }
      }
      it.status = ItemStatus.Active;
      it.owner = p.owner;
      it.custodian = r.org;
      it.parent = null;
      it.parentRecord = null;
      await this.setLast(child, it, r.id);
      await this.setLast(parent, p, r.id);
      await this.touch(r, parent);
      await this.touch(r, child);
    },
    "provenance.Inspected": async (a: Result, ctx: EventContext) => {
      const r = this.currentRecord(n(a.recordId), ctx);
      const key = hex(a.key);
      await this.setLast(key, await this.item(key), r.id);
      await this.touch(r, key);
    },
    "provenance.DispositionChanged": async (a: Result, ctx: EventContext) => {
      const r = this.currentRecord(n(a.recordId), ctx);
      const key = hex(a.key);
      const it = await this.item(key);
      it.disposition = hex(a.disposition);
      await this.setLast(key, it, r.id);
      await this.touch(r, key);
    },
    "provenance.Recalled": async (a: Result, ctx: EventContext) => {
      const r = this.currentRecord(n(a.recordId), ctx);
      const key = hex(a.key);
      const it = await this.item(key);
      it.recalled = true;
      await this.setLast(key, it, r.id);
      await this.touch(r, key);
    },
    "provenance.BatchRecalled": async (a: Result, ctx: EventContext) => {
      const r = this.currentRecord(n(a.recordId), ctx);
      const key = hex(a.batchKey);
      const b = await this.w.get<BatchDoc>(K.batch(key));
      if (!b) throw new Error(`index is inconsistent: recall of unknown batch ${key}`);
      b.recalled = true;
      b.recallRecord = r.id;
      await this.w.put(K.batch(key), b);
      await this.touch(r, key);
    },

    // An observation (a later Provenance's `observe`) names keys without changing them; the keys
    // need not be registered items, so only the history lists the record.
    "provenance.Observed": async (a: Result, ctx: EventContext) => {
      await this.touch(this.currentRecord(n(a.recordId), ctx), hex(a.key));
    },

    // ---------------------------------------------------------- Certificates
    "certificates.AccreditationGranted": async (a: Result) => {
      const certifier = n(a.certifier);
      const scope = hex(a.scope);
      const index = n(a.periodIndex);
      const key = K.accreditation(certifier, scope, index);
      const existing = await this.w.get<AccreditationDoc>(key);
      const doc: AccreditationDoc = existing
        ? { ...existing, expiresAt: n(a.expiresAt) }
        : { certifier, scope, index, from: n(a.from), expiresAt: n(a.expiresAt), withdrawnAt: 0, accreditedBy: n(a.regulator), withdrawnBy: 0 };
      await this.w.put(key, doc);
    },
    "certificates.AccreditationWithdrawn": async (a: Result) => {
      const key = K.accreditation(n(a.certifier), hex(a.scope), n(a.periodIndex));
      const doc = await this.w.get<AccreditationDoc>(key);
      if (!doc) throw new Error(`index is inconsistent: withdrawal of an unknown accreditation period ${key}`);
      doc.withdrawnAt = n(a.at);
      doc.withdrawnBy = n(a.regulator);
      await this.w.put(key, doc);
    },
    "certificates.CertificateIssued": async (a: Result, ctx: EventContext) => {
      const id = hex(a.id);
      const doc: CertificateDoc = {
        id,
        issuer: n(a.issuer),
        state: CertificateState.Active,
        reason: 0,
        issuedAt: ctx.time,
        validFrom: n(a.validFrom),
        validUntil: n(a.validUntil),
        suspendedAt: 0,
        revokedAt: 0,
        subject: hex(a.subject),
        scope: hex(a.scope),
        reasonHash: ZERO32,
        supersededBy: ZERO32,
        supersedes: ZERO32,
        history: [{ action: "issued", block: ctx.block, tx: ctx.tx, time: ctx.time }],
      };
      await this.w.put(K.certificate(id), doc);
      await this.w.put(K.certificateOfSubject(doc.subject, ctx.block, ctx.logIndex), id);
    },
    "certificates.CertificateSuspended": async (a: Result, ctx: EventContext) => {
      const c = await this.cert(hex(a.id));
      c.state = CertificateState.Suspended;
      c.reason = n(a.reason);
      c.reasonHash = hex(a.reasonHash);
      c.suspendedAt = ctx.time;
      c.history.push({ action: "suspended", block: ctx.block, tx: ctx.tx, time: ctx.time, reason: c.reason, reasonHash: c.reasonHash });
      await this.w.put(K.certificate(c.id), c);
    },
    "certificates.CertificateReinstated": async (a: Result, ctx: EventContext) => {
      const c = await this.cert(hex(a.id));
      c.state = CertificateState.Active;
      c.reason = 0;
      c.reasonHash = ZERO32;
      c.history.push({ action: "reinstated", block: ctx.block, tx: ctx.tx, time: ctx.time });
      await this.w.put(K.certificate(c.id), c);
    },
    "certificates.CertificateRevoked": async (a: Result, ctx: EventContext) => {
      const c = await this.cert(hex(a.id));
      c.state = CertificateState.Revoked;
      c.reason = n(a.reason);
      c.reasonHash = hex(a.reasonHash);
      c.revokedAt = ctx.time;
      c.history.push({ action: "revoked", block: ctx.block, tx: ctx.tx, time: ctx.time, reason: c.reason, reasonHash: c.reasonHash });
      await this.w.put(K.certificate(c.id), c);
    },
    "certificates.CertificateSuperseded": async (a: Result, ctx: EventContext) => {
      const c = await this.cert(hex(a.id));
      const newId = hex(a.newId);
      c.state = CertificateState.Superseded;
      c.supersededBy = newId;
      c.history.push({ action: "superseded", block: ctx.block, tx: ctx.tx, time: ctx.time, supersededBy: newId });
      await this.w.put(K.certificate(c.id), c);
      const replacement = await this.cert(newId);
      replacement.supersedes = c.id;
      await this.w.put(K.certificate(newId), replacement);
    },

    // ---------------------------------------------------------- AccessGrants
    "accessGrants.AccessGranted": async (a: Result, ctx: EventContext) => {
      const id = hex(a.id);
      const doc: GrantDoc = {
        id,
        owner: n(a.owner),
        grantee: n(a.grantee),
        kind: n(a.kind),
        revoked: false,
        version: n(a.version),
        grantedAt: ctx.time,
        expiresAt: n(a.expiresAt),
        from: n(a.from),
        to: n(a.to),
        revokedAt: 0,
        scopeKey: hex(a.scopeKey),
        purpose: hex(a.purpose),
        block: ctx.block,
        tx: ctx.tx,
      };
      await this.w.put(K.grant(id), doc);
      await this.w.put(K.grantByOwner(doc.owner, id), 1);
      await this.w.put(K.grantToGrantee(doc.grantee, id), 1);
    },
    "accessGrants.AccessRevoked": async (a: Result, ctx: EventContext) => {
      const id = hex(a.id);
      const g = await this.w.get<GrantDoc>(K.grant(id));
      if (!g) throw new Error(`index is inconsistent: revocation of unknown grant ${id}`);
      g.revoked = true;
      g.revokedAt = ctx.time;
      await this.w.put(K.grant(id), g);
    },

    // ---------------------------------------------------------- DataAnchors
    "dataAnchors.WindowAnchored": async (a: Result, ctx: EventContext) => {
      const node = hex(a.node);
      const doc: AnchorDoc = {
        node,
        orgId: n(a.orgId),
        sequence: n(a.sequence),
        root: hex(a.root),
        prevRoot: hex(a.prevRoot),
        fromTimeMs: n(a.fromTimeMs),
        toTimeMs: n(a.toTimeMs),
        leafCount: n(a.leafCount),
        anchoredAt: n(a.anchoredAt),
        block: ctx.block,
        tx: ctx.tx,
      };
      await this.w.put(K.anchor(node, doc.sequence), doc);
    },

    // ---------------------------------------------------------- Consortium
    "consortium.GovernanceChanged": async (a: Result) => {
      const doc: GovernanceDoc = { quorumBps: n(a.quorumBps), votingPeriod: n(a.votingPeriod) };
      await this.w.put(K.governance, doc);
    },
    "consortium.OrgAdmitted": async (a: Result, ctx: EventContext) => {
      const id = n(a.orgId);
      const doc: OrgDoc = { id, name: a.name as string, status: OrgStatus.Active, roles: (a.roles as bigint).toString(), accounts: [], nodes: [], admittedBlock: ctx.block };
      await this.w.put(K.org(id), doc);
    },
    "consortium.OrgStatusChanged": async (a: Result) => {
      const o = await this.org(n(a.orgId));
      o.status = n(a.status);
      await this.w.put(K.org(o.id), o);
    },
    "consortium.RoleGranted": async (a: Result) => {
      const o = await this.org(n(a.orgId));
      o.roles = (BigInt(o.roles) | (1n << BigInt(a.role as bigint))).toString();
      await this.w.put(K.org(o.id), o);
    },
    "consortium.RoleRevoked": async (a: Result) => {
      const o = await this.org(n(a.orgId));
      o.roles = (BigInt(o.roles) & ~(1n << BigInt(a.role as bigint))).toString();
      await this.w.put(K.org(o.id), o);
    },
    "consortium.AccountAdded": async (a: Result) => {
      const o = await this.org(n(a.orgId));
      const account = getAddress(a.account as string);
      o.accounts.push(account);
      await this.w.put(K.org(o.id), o);
      await this.w.put(K.account(account.toLowerCase()), { orgId: o.id, retired: false } satisfies AccountDoc);
    },
    "consortium.AccountRemoved": async (a: Result) => {
      const o = await this.org(n(a.orgId));
      const account = getAddress(a.account as string);
      swapRemove(o.accounts, account);
      await this.w.put(K.org(o.id), o);
      await this.w.put(K.account(account.toLowerCase()), { orgId: o.id, retired: true } satisfies AccountDoc);
    },
    "consortium.NodeAdded": async (a: Result) => {
      const o = await this.org(n(a.orgId));
      const id = n(a.nodeId);
      o.nodes.push(id);
      await this.w.put(K.org(o.id), o);
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
      await this.w.put(K.node(id), doc);
    },
    "consortium.NodeRemoved": async (a: Result) => {
      const o = await this.org(n(a.orgId));
      const id = n(a.nodeId);
      swapRemove(o.nodes, id);
      await this.w.put(K.org(o.id), o);
      const doc = await this.w.get<NodeDoc>(K.node(id));
      if (doc) await this.w.put(K.node(id), { ...doc, registered: false });
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
      await this.w.put(K.proposal(id), doc);
      await this.w.put(K.openProposal(id), 1);
    },
    "consortium.VoteCast": async (a: Result) => {
      const id = n(a.proposalId);
      const p = await this.w.get<ProposalDoc>(K.proposal(id));
      if (!p) throw new Error(`index is inconsistent: vote on unknown proposal ${id}`);
      p.votes.push({ org: n(a.orgId), support: a.support as boolean });
      await this.w.put(K.proposal(id), p);
    },
    "consortium.ProposalExecuted": async (a: Result) => this.settle(n(a.proposalId), "executed"),
    "consortium.ProposalRejected": async (a: Result) => this.settle(n(a.proposalId), "rejected"),
  };

  private async settle(id: number, status: "executed" | "rejected"): Promise<void> {
    const p = await this.w.get<ProposalDoc>(K.proposal(id));
    if (!p) throw new Error(`index is inconsistent: settlement of unknown proposal ${id}`);
    p.status = status;
    await this.w.put(K.proposal(id), p);
    await this.w.del(K.openProposal(id));
  }

  private async closeShipment(it: ItemDoc, state: ShipmentDoc["state"], recordId: number): Promise<void> {
    if (it.shipment === null) return;
    const key = K.shipment(it.key, it.shipment);
    const s = await this.w.get<ShipmentDoc>(key);
    if (s) await this.w.put(key, { ...s, state, endRecord: recordId });
    it.shipment = null;
  }
}

/** Removes `value` as Solidity's swap-and-pop does, so the order matches the contract's arrays. */
function swapRemove<T>(list: T[], value: T): void {
  const i = list.indexOf(value);
  if (i < 0) return;
  list[i] = list[list.length - 1]!;
  list.pop();
}
