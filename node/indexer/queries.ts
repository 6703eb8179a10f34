/**
 * Questions answered from the index alone (never the chain), each at a cost that grows with its
 * answer: point reads, prefix scans over one item's keys, and graph walks that read one edge
 * list per node they reach.
 *
 * Time-dependent answers (certificate status, expired grants, expired proposals) use the time of
 * the last indexed block unless a `now` is given: the index answers as of the chain it has seen.
 */
import { type AccessChecker, type GenealogyLink, type GenealogySource, type ShipmentSource, type ShippedItem, grantIdOf } from "../../lib/access.ts";
import { OrgStatus, ProposalKind, ProposalStatus, proposalSubject, requiredVotes, roleName, rolesOf } from "../../lib/consortium.ts";
import { CertificateState, CertificateStatus, ItemStatus, RecordKind, ScopeKind } from "../../lib/registry.ts";
import type {
  AccreditationDoc,
  AnchorDoc,
  BatchDoc,
  CertificateDoc,
  EdgeDoc,
  GovernanceDoc,
  GrantDoc,
  ItemDoc,
  LotHoldingDoc,
  LotTransitDoc,
  NodeDoc,
  OrgDoc,
  ProposalDoc,
  RecordDoc,
  ShipmentDoc,
} from "./documents.ts";
import { type IndexStore, K, pad, prefixRange } from "./store.ts";

export interface ItemView {
  key: string;
  status: ItemStatus;
  statusName: string;
  /** Owner and custodian resolved through assembly, as Provenance.itemState does. */
  ownerOrg: number;
  custodianOrg: number;
  consigneeOrg: number;
  transfersOwnership: boolean;
  /** The item or its batch was recalled. */
  recalled: boolean;
  parent: string | null;
  batch: string | null;
  disposition: string;
  createdAt: number;
  createdBlock: number;
  lastRecord: number;
}

export interface HistoryEntry extends RecordDoc {
  /** The key this entry was found under: the item, or its batch for batch-wide records. */
  via: string;
}

export interface GenealogyNode extends ItemView {
  /** Steps from the root (backward and forward both count up). */
  depth: number;
}

export interface GenealogyGraph {
  root: string;
  nodes: GenealogyNode[];
  edges: EdgeDoc[];
  /** Everything forward of the recalled items in the graph (the items a recall reaches). */
  recallScope: string[];
  /** The node limit cut the walk short. */
  truncated: boolean;
}

export type Direction = "backward" | "forward" | "both";

/** A recalled item or batch that reaches what was asked about, and the record that recalled it. */
export interface RecallCause {
  key: string;
  kind: "item" | "batch";
  /** Absent only for an index written before recall records were kept. */
  record?: RecordDoc;
}

/** A certificate as the chain index keeps it, with its status and the issuer's accreditation now. */
export interface IndexedCertificate extends CertificateDoc {
  status: CertificateStatus;
  statusName: string;
  accreditedAtIssuance: boolean;
  accreditedNow: boolean;
}

export interface MemberView extends OrgDoc {
  roleNames: string[];
  statusName: string;
  nodeIdentities: NodeDoc[];
}

export interface ProposalView extends ProposalDoc {
  statusName: "open" | "executed" | "rejected" | "expired";
  kindName: string;
  /** Ballots of organisations active now, as Consortium.tally counts them. */
  yes: number;
  no: number;
  required: number;
}

const lower = (s: string) => s.toLowerCase();
const statusName = (s: ItemStatus) => (ItemStatus[s] ?? `status-${s}`).replace(/^./, (c) => c.toLowerCase());

export interface QueryOptions {
  /** Unix s for time-dependent answers; default: the last indexed block's time. */
  now?: () => number | Promise<number>;
}

export class IndexQueries implements GenealogySource, ShipmentSource {
  constructor(
    readonly store: IndexStore,
    private readonly options: QueryOptions = {},
  ) {}

  /** The time the answers are given for: `options.now` or the last indexed block's timestamp. */
  async now(): Promise<number> {
    if (this.options.now) return this.options.now();
    return (await this.store.checkpoint())?.time ?? 0;
  }

  // ---------------------------------------------------------------- items

  async item(key: string): Promise<ItemView | undefined> {
    const doc = await this.store.get<ItemDoc>(K.item(lower(key)));
    return doc ? (await this.views([doc]))[0] : undefined;
  }

  async batch(key: string): Promise<BatchDoc | undefined> {
    return this.store.get<BatchDoc>(K.batch(lower(key)));
  }

  /** Item keys of a batch, in key order; at most `limit`. */
  async batchItems(batchKey: string, limit = -1): Promise<string[]> {
    const prefix = `bi:${lower(batchKey)}:`;
    return (await this.store.keys(prefix, { limit })).map((k) => k.slice(prefix.length));
  }

  /**
   * The views of many items at once: the ancestors that carry owner and custodian (assembled
   * items travel with their topmost parent) read level by level and the batches once each, in a
   * few multi-gets, then every view built synchronously. A genealogy of a thousand parts costs a
   * handful of reads, not a promise chain per part.
   */
  private async views(docs: readonly (ItemDoc | undefined)[]): Promise<(ItemView | undefined)[]> {
    const known = new Map<string, ItemDoc | undefined>();
    for (const d of docs) if (d) known.set(lower(d.key), d);
    const topOf = (doc: ItemDoc): { top: ItemDoc; missing?: string } => {
      let top = doc;
      for (let guard = 0; top.status === ItemStatus.Assembled && top.parent && guard < 10_000; guard++) {
        const parentKey = lower(top.parent);
        if (!known.has(parentKey)) return { top, missing: parentKey };
        const parent = known.get(parentKey);
        if (!parent) break;
        top = parent;
      }
      return { top };
    };
    for (let round = 0; round < 10_000; round++) {
      const missing = new Set<string>();
      for (const d of docs) {
        const m = d ? topOf(d).missing : undefined;
        if (m !== undefined) missing.add(m);
      }
      if (missing.size === 0) break;
      const keys = [...missing];
      const read = await this.store.getMany<ItemDoc>(keys.map(K.item));
      keys.forEach((k, n) => known.set(k, read[n]));
    }
    const batchKeys = [...new Set(docs.flatMap((d) => (d?.batch ? [d.batch] : [])))];
    const batchDocs = await this.store.getMany<BatchDoc>(batchKeys.map(K.batch));
    const batchRecalled = new Map(batchKeys.map((b, n) => [b, batchDocs[n]?.recalled ?? false]));
    return docs.map((doc) => {
      if (!doc) return undefined;
      const { top } = topOf(doc);
      return {
        key: doc.key,
        status: doc.status,
        statusName: statusName(doc.status),
        ownerOrg: top.owner,
        custodianOrg: top.custodian,
        consigneeOrg: doc.consignee,
        transfersOwnership: doc.transfersOwnership,
        recalled: doc.recalled || (doc.batch ? batchRecalled.get(doc.batch)! : false),
        parent: doc.parent,
        batch: doc.batch,
        disposition: doc.disposition,
        createdAt: doc.createdAt,
        createdBlock: doc.createdBlock,
        lastRecord: doc.lastRecord,
      };
    });
  }

  async record(id: number): Promise<RecordDoc | undefined> {
    return this.store.get<RecordDoc>(K.record(id));
  }

  /** The first record carrying a CBV 2.0 event hash, by whoever (Provenance.recordOfEvent). */
  async recordOfEvent(eventHash: string): Promise<RecordDoc | undefined> {
    const id = await this.store.get<number>(K.eventHash(lower(eventHash)));
    return id === undefined ? undefined : this.record(id);
  }

  /** The record of an event hash made by organisation `org` (Provenance.recordOfEventBy). */
  async recordOfEventBy(eventHash: string, org: number): Promise<RecordDoc | undefined> {
    const id = await this.store.get<number>(K.eventHashBy(lower(eventHash), org));
    return id === undefined ? undefined : this.record(id);
  }

  /**
   * The records that touched an item (and batch-wide records of its batch: a batch recall), in
   * record order. `after` and `limit` page through long histories.
   */
  async history(key: string, options: { after?: number; limit?: number } = {}): Promise<HistoryEntry[]> {
    const k = lower(key);
    const limit = options.limit ?? 1000;
    const doc = await this.store.get<ItemDoc>(K.item(k));
    const sources = [k, ...(doc?.batch ? [doc.batch] : [])];
    const ids: { id: number; via: string }[] = [];
    for (const via of sources) {
      const gt = K.itemRecord(via, options.after ?? 0);
      const keys = await this.store.db.keys({ gt, lt: `ir:${via}:\xff`, limit }).all();
      for (const key of keys) ids.push({ id: Number(key.slice(key.lastIndexOf(":") + 1)), via });
    }
    ids.sort((a, b) => a.id - b.id);
    const unique = ids.filter((x, i) => i === 0 || ids[i - 1]!.id !== x.id).slice(0, limit);
    const records = await this.store.getMany<RecordDoc>(unique.map((x) => K.record(x.id)));
    return records.flatMap((r, i) => (r ? [{ ...r, via: unique[i]!.via }] : []));
  }

  /** Shipments of an item, oldest first. */
  async shipments(key: string): Promise<ShipmentDoc[]> {
    return (await this.store.entries<ShipmentDoc>(`sh:${lower(key)}:`)).map(([, v]) => v);
  }

  /** What the ship record of `eventHash` made by `owner` shipped, to whom, and how it stands (the consignee's right, lib/access.ts). */
  async shippedByRecord(eventHash: string, owner: number): Promise<ShippedItem[]> {
    const r = await this.recordOfEventBy(eventHash, owner);
    if (!r || r.kind !== RecordKind.Ship) return [];
    const out: ShippedItem[] = [];
    for (const key of r.keys) for (const s of await this.shipments(key)) if (s.shipRecord === r.id) out.push({ item: s.item, to: s.to, state: s.state });
    return out;
  }

  /**
   * An organisation's shipments in one direction (`in`: shipped to it, `out`: shipped by it), one
   * entry per ship record with its items, newest first; at most `limit` ship records.
   */
  async shipmentsOf(org: number, direction: "in" | "out", limit = 50): Promise<{ shipRecord: number; items: ShipmentDoc[] }[]> {
    const out: { shipRecord: number; items: ShipmentDoc[] }[] = [];
    const prefix = `so:${pad(org, 10)}:${direction}:`;
    // Reverse key order is newest record first; a record's items come together.
    for await (const [k, v] of this.store.db.iterator({ ...prefixRange(prefix), reverse: true })) {
      const shipRecord = Number(k.slice(prefix.length, prefix.length + 12));
      if (out.at(-1)?.shipRecord !== shipRecord) {
        if (out.length === limit) break;
        out.push({ shipRecord, items: [] });
      }
      const doc = await this.store.get<ShipmentDoc>(JSON.parse(v) as string);
      if (doc) out.at(-1)!.items.push(doc);
    }
    for (const s of out) s.items.reverse();
    return out;
  }

  // ---------------------------------------------------------------- lots by quantity

  /** Quantity of a lot an organisation holds ("0" when none), as Provenance.lotBalanceOf. */
  async lotBalance(batchKey: string, org: number): Promise<string> {
    return (await this.store.get<LotHoldingDoc>(K.lotHolding(org, lower(batchKey))))?.quantity ?? "0";
  }

  /** An organisation's lots held by quantity (quantity on hand per lot), in lot key order; at most `limit`. */
  async lotHoldings(org: number, limit = -1): Promise<LotHoldingDoc[]> {
    return (await this.store.entries<LotHoldingDoc>(`lh:${pad(org, 10)}:`, limit)).map(([, v]) => v);
  }

  /** Lot quantities in transit to (`in`) or from (`out`) an organisation; at most `limit`. */
  async lotsInTransit(org: number, direction: "in" | "out", limit = -1): Promise<LotTransitDoc[]> {
    return (await this.store.entries<LotTransitDoc>(`lt:${pad(org, 10)}:${direction}:`, limit)).map(([, v]) => v);
  }

  // ---------------------------------------------------------------- genealogy

  /** Edges into (`backward`: inputs and children) or out of (`forward`: outputs and parents) an item. */
  async edges(key: string, direction: "backward" | "forward"): Promise<EdgeDoc[]> {
    return (await this.edgesOf([lower(key)], direction))[0]!;
  }

  /** The edge lists of a whole frontier in one read. */
  private async edgesOf(keys: string[], direction: "backward" | "forward"): Promise<EdgeDoc[][]> {
    const lists = await this.store.getMany<EdgeDoc[]>(keys.map(direction === "forward" ? K.forward : K.backward));
    return lists.map((l) => l ?? []);
  }

  /**
   * The genealogy graph around `key`: backward (where it came from), forward (where it went) or
   * both, up to `depth` steps (default: any) and `maxNodes` nodes (default 10,000).
   */
  async genealogy(key: string, options: { direction?: Direction; depth?: number; maxNodes?: number } = {}): Promise<GenealogyGraph> {
    const root = lower(key);
    const direction = options.direction ?? "both";
    const maxNodes = options.maxNodes ?? 10_000;
    const depth = options.depth ?? Number.POSITIVE_INFINITY;
    const depthOf = new Map<string, number>([[root, 0]]);
    const edges = new Map<string, EdgeDoc>();
    let truncated = false;
    const walk = async (dir: "backward" | "forward") => {
      let frontier = [root];
      for (let d = 1; d <= depth && frontier.length > 0 && !truncated; d++) {
        const lists = await this.edgesOf(frontier, dir);
        const next: string[] = [];
        for (const list of lists) {
          for (const e of list) {
            const other = dir === "forward" ? e.to : e.from;
            if (!depthOf.has(other)) {
              if (depthOf.size >= maxNodes) {
                truncated = true;
                break;
              }
              depthOf.set(other, d);
              next.push(other);
            }
            edges.set(`${e.from}:${e.to}:${e.recordId}`, e);
          }
          if (truncated) break;
        }
        frontier = next;
      }
    };
    if (direction !== "forward") await walk("backward");
    if (direction !== "backward") await walk("forward");
    const keys = [...depthOf.keys()];
    const docs = await this.store.getMany<ItemDoc>(keys.map(K.item));
    const views = await this.views(docs);
    const nodes: GenealogyNode[] = [];
    views.forEach((v, i) => {
      if (v) nodes.push({ ...v, depth: depthOf.get(keys[i]!)! });
    });
    const recalled = nodes.filter((n) => n.recalled).map((n) => n.key);
    const scope = recalled.length > 0 ? await this.forwardClosure(recalled, maxNodes) : { keys: [], truncated: false };
    return { root, nodes, edges: [...edges.values()], recallScope: scope.keys, truncated: truncated || scope.truncated };
  }

  /** `starts` and every item forward of them (outputs and parents, transitively). */
  private async forwardClosure(starts: string[], maxNodes: number): Promise<{ keys: string[]; truncated: boolean }> {
    const seen = new Set(starts);
    let frontier = [...starts];
    while (frontier.length > 0) {
      const lists = await this.edgesOf(frontier, "forward");
      const next: string[] = [];
      for (const e of lists.flat()) {
        if (seen.has(e.to)) continue;
        if (seen.size >= maxNodes) return { keys: [...seen], truncated: true };
        seen.add(e.to);
        next.push(e.to);
      }
      frontier = next;
    }
    return { keys: [...seen], truncated: false };
  }

  /**
   * The recall scope of an item or a batch: the item (or every item of the batch) and everything
   * forward of it: what must be traced when it is recalled.
   */
  async recallScope(key: string, maxNodes = 100_000): Promise<{ keys: string[]; truncated: boolean }> {
    const k = lower(key);
    const starts = (await this.store.get(K.batch(k))) ? await this.batchItems(k, maxNodes) : (await this.store.get(K.item(k))) ? [k] : [];
    return starts.length === 0 ? { keys: [], truncated: false } : this.forwardClosure(starts, maxNodes);
  }

  /**
   * The items an item went into (assembly parents, transformation outputs), transitively: what
   * lib/access.ts `mayReadItem` needs as `containedIn`.
   */
  async containedIn(key: string, maxNodes = 10_000): Promise<string[]> {
    const k = lower(key);
    const { keys } = await this.forwardClosure([k], maxNodes + 1);
    return keys.filter((x) => x !== k);
  }

  /**
   * The links out of each of `keys` with the block and organisation of the record that made
   * them: what lib/access.ts needs to apply a genealogy grant "as the grantor knew it".
   */
  async linksUp(keys: readonly string[]): Promise<GenealogyLink[][]> {
    const lists = await this.edgesOf(keys.map(lower), "forward");
    const ids = [...new Set(lists.flat().map((e) => e.recordId))];
    const records = await this.store.getMany<RecordDoc>(ids.map(K.record));
    const byId = new Map(records.flatMap((r) => (r ? [[r.id, r] as const] : [])));
    return lists.map((list) =>
      list.flatMap((e) => {
        const r = byId.get(e.recordId);
        return r ? [{ from: e.from, to: e.to, block: r.block, recordedBy: r.org }] : [];
      }),
    );
  }

  /** Block of the latest issue of the grant `owner` -> `grantee` on `scopeKey`, if indexed. */
  async grantIssuedBlock(owner: number, grantee: number, scopeKey: string): Promise<number | undefined> {
    return (await this.grantOn(owner, grantee, scopeKey))?.block;
  }

  /**
   * Whether an item (or batch) is in a recall scope: it or its batch was recalled, or so was an
   * item it came from (inputs and children, transitively), or that item's batch.
   */
  async inRecallScope(key: string, maxNodes = 10_000): Promise<boolean> {
    const k = lower(key);
    const batch = await this.store.get<BatchDoc>(K.batch(k));
    if (batch) return batch.recalled;
    let found = false;
    await this.walkBackward(k, maxNodes, async (d) => {
      found = d.recalled || (d.batch !== null && (await this.store.get<BatchDoc>(K.batch(d.batch)))?.recalled === true);
      return found;
    });
    return found;
  }

  /**
   * Visits an item and what it was made from (inputs and children, transitively), a frontier at
   * a time, at most `maxNodes` items; `visit` answering true ends the walk.
   */
  private async walkBackward(key: string, maxNodes: number, visit: (item: ItemDoc) => Promise<boolean | void>): Promise<void> {
    const seen = new Set([key]);
    let frontier = [key];
    while (frontier.length > 0) {
      for (const d of await this.store.getMany<ItemDoc>(frontier.map(K.item))) if (d && (await visit(d))) return;
      const next: string[] = [];
      for (const e of (await this.edgesOf(frontier, "backward")).flat()) {
        if (seen.has(e.from) || seen.size >= maxNodes) continue;
        seen.add(e.from);
        next.push(e.from);
      }
      frontier = next;
    }
  }

  /**
   * The recalls that reach an item (or batch): each recalled item or batch among it and what it
   * was made from (inputs and children, transitively), with the record that recalled it. Empty
   * when nothing it came from was recalled.
   */
  async recallCauses(key: string, maxNodes = 10_000): Promise<RecallCause[]> {
    const k = lower(key);
    const causes = new Map<string, RecallCause>();
    const batchCause = async (batchKey: string) => {
      if (causes.has(batchKey)) return;
      const b = await this.store.get<BatchDoc>(K.batch(batchKey));
      if (b?.recalled) causes.set(batchKey, { key: batchKey, kind: "batch", record: b.recallRecord === null ? undefined : await this.record(b.recallRecord) });
    };
    if (await this.store.get<BatchDoc>(K.batch(k))) {
      await batchCause(k);
      return [...causes.values()];
    }
    await this.walkBackward(k, maxNodes, async (d) => {
      if (d.recalled && !causes.has(d.key)) {
        // The item's own recall record: the last Recall among its records.
        const recall = (await this.history(d.key, { limit: 10_000 })).filter((r) => r.kind === RecordKind.Recall && r.via === d.key).at(-1);
        causes.set(d.key, { key: d.key, kind: "item", record: recall });
      }
      if (d.batch) await batchCause(d.batch);
    });
    return [...causes.values()];
  }

  /**
   * Whether a recall reaches an item or batch, given its causes (recallCauses): `recalled` when it
   * or its batch was recalled itself, `in-scope` when only something it was made from was.
   */
  async recallState(key: string, causes?: RecallCause[]): Promise<"recalled" | "in-scope" | "clear"> {
    const k = lower(key);
    const found = causes ?? (await this.recallCauses(k));
    if (found.length === 0) return "clear";
    const batch = (await this.store.get<ItemDoc>(K.item(k)))?.batch ?? null;
    return found.some((c) => c.key === k || c.key === batch) ? "recalled" : "in-scope";
  }

  // ---------------------------------------------------------------- certificates

  async certificate(id: string): Promise<IndexedCertificate | undefined> {
    const doc = await this.store.get<CertificateDoc>(K.certificate(lower(id)));
    return doc ? this.certificateView(doc, await this.now()) : undefined;
  }

  /** Certificates of an item or batch, in issuance order. */
  async certificatesOf(subject: string): Promise<IndexedCertificate[]> {
    return this.certificatesById(await this.certificateIdsOf(subject));
  }

  /** Ids of the certificates of an item or batch, in issuance order. */
  async certificateIdsOf(subject: string): Promise<string[]> {
    return (await this.store.entries<string>(`cs:${lower(subject)}:`)).map(([, v]) => v);
  }

  /** Ids of the certificates an organisation issued, in issuance order. */
  async certificateIdsBy(issuer: number): Promise<string[]> {
    return (await this.store.entries<string>(`ci:${pad(issuer, 10)}:`)).map(([, v]) => v);
  }

  /** The certificates `ids` name (unknown ids left out), in the given order. */
  async certificatesById(ids: readonly string[]): Promise<IndexedCertificate[]> {
    const docs = await this.store.getMany<CertificateDoc>(ids.map(K.certificate));
    const now = await this.now();
    const out: IndexedCertificate[] = [];
    for (const d of docs) if (d) out.push(await this.certificateView(d, now));
    return out;
  }

  private async certificateView(c: CertificateDoc, now: number): Promise<IndexedCertificate> {
    let status: CertificateStatus;
    if (c.state === CertificateState.Revoked) status = CertificateStatus.Revoked;
    else if (c.state === CertificateState.Superseded) status = CertificateStatus.Superseded;
    else if (c.state === CertificateState.Suspended) status = CertificateStatus.Suspended;
    else if (now < c.validFrom) status = CertificateStatus.NotYetValid;
    else if (c.validUntil !== 0 && now >= c.validUntil) status = CertificateStatus.Expired;
    else status = CertificateStatus.Valid;
    return {
      ...c,
      status,
      statusName: CertificateStatus[status].replace(/^./, (ch) => ch.toLowerCase()),
      accreditedAtIssuance: await this.wasAccredited(c.issuer, c.scope, c.issuedAt),
      accreditedNow: await this.isAccredited(c.issuer, c.scope, now),
    };
  }

  /** Accreditation periods of a certifier for a scope, oldest first. */
  async accreditations(certifier: number, scope: string): Promise<AccreditationDoc[]> {
    return (await this.store.entries<AccreditationDoc>(`ac:${pad(certifier, 10)}:${lower(scope)}:`)).map(([, v]) => v);
  }

  /** Certificates.wasAccredited: the accreditation record at `time` (membership aside). */
  async wasAccredited(certifier: number, scope: string, time: number): Promise<boolean> {
    const periods = await this.accreditations(certifier, scope);
    let p: AccreditationDoc | undefined;
    for (const x of periods) if (x.from <= time) p = x;
    return p !== undefined && (p.expiresAt === 0 || time < p.expiresAt) && (p.withdrawnBy === 0 || time <= p.withdrawnAt);
  }

  /** Certificates.isAccredited at `now`: a live last period and an active organisation. */
  async isAccredited(certifier: number, scope: string, now?: number): Promise<boolean> {
    const t = now ?? (await this.now());
    const periods = await this.accreditations(certifier, scope);
    const last = periods.at(-1);
    if (!last || last.withdrawnBy !== 0 || (last.expiresAt !== 0 && t >= last.expiresAt)) return false;
    return (await this.member(certifier))?.status === OrgStatus.Active;
  }

  // ---------------------------------------------------------------- grants

  async grant(id: string): Promise<GrantDoc | undefined> {
    return this.store.get<GrantDoc>(K.grant(lower(id)));
  }

  /** Grants an organisation gave (as data owner). */
  async grantsGiven(owner: number): Promise<GrantDoc[]> {
    return this.grantsUnder(`gro:${pad(owner, 10)}:`);
  }

  /** Grants an organisation received. */
  async grantsReceived(grantee: number): Promise<GrantDoc[]> {
    return this.grantsUnder(`grg:${pad(grantee, 10)}:`);
  }

  private async grantsUnder(prefix: string): Promise<GrantDoc[]> {
    const ids = (await this.store.keys(prefix)).map((k) => k.slice(prefix.length));
    return (await this.store.getMany<GrantDoc>(ids.map(K.grant))).filter((g): g is GrantDoc => g !== undefined);
  }

  /** The grant from `owner` to `grantee` on `scopeKey` (AccessGrants.grantIdOf), if ever issued. */
  async grantOn(owner: number, grantee: number, scopeKey: string): Promise<GrantDoc | undefined> {
    return this.grant(grantIdOf(owner, grantee, scopeKey));
  }

  // ---------------------------------------------------------------- consortium

  async member(id: number): Promise<MemberView | undefined> {
    const o = await this.store.get<OrgDoc>(K.org(id));
    return o ? this.memberView(o) : undefined;
  }

  async members(): Promise<MemberView[]> {
    const orgs = await this.store.entries<OrgDoc>("org:");
    return Promise.all(orgs.map(([, o]) => this.memberView(o)));
  }

  private async memberView(o: OrgDoc): Promise<MemberView> {
    const nodes = await this.store.getMany<NodeDoc>(o.nodes.map(K.node));
    return {
      ...o,
      roleNames: rolesOf(BigInt(o.roles)).map(roleName),
      statusName: (OrgStatus[o.status] ?? `status-${o.status}`).toLowerCase(),
      nodeIdentities: nodes.filter((n): n is NodeDoc => n !== undefined),
    };
  }

  /** The organisation an account was bound to, and whether it was retired. */
  async account(address: string): Promise<{ orgId: number; retired: boolean } | undefined> {
    return this.store.get(K.account(lower(address)));
  }

  async node(id: number): Promise<NodeDoc | undefined> {
    return this.store.get<NodeDoc>(K.node(id));
  }

  async governance(): Promise<GovernanceDoc | undefined> {
    return this.store.get<GovernanceDoc>(K.governance);
  }

  async proposal(id: number): Promise<ProposalView | undefined> {
    const p = await this.store.get<ProposalDoc>(K.proposal(id));
    if (!p) return undefined;
    return (await this.proposalViews([p]))[0];
  }

  /** Open proposals (not executed, rejected or expired), oldest first. */
  async openProposals(): Promise<ProposalView[]> {
    const ids = (await this.store.keys("popen:")).map((k) => Number(k.slice(6)));
    const docs = (await this.store.getMany<ProposalDoc>(ids.map(K.proposal))).filter((p): p is ProposalDoc => p !== undefined);
    return (await this.proposalViews(docs)).filter((p) => p.statusName === "open");
  }

  /** The latest `limit` proposals, newest first. */
  async recentProposals(limit = 50): Promise<ProposalView[]> {
    const docs = (await this.store.db.values({ gte: "prop:", lt: "prop:\xff", reverse: true, limit }).all()).map((v) => JSON.parse(v) as ProposalDoc);
    return this.proposalViews(docs);
  }

  private async proposalViews(docs: ProposalDoc[]): Promise<ProposalView[]> {
    if (docs.length === 0) return [];
    const [orgs, gov, now] = await Promise.all([this.store.entries<OrgDoc>("org:"), this.governance(), this.now()]);
    const active = new Set(orgs.filter(([, o]) => o.status === OrgStatus.Active).map(([, o]) => o.id));
    const quorumBps = gov?.quorumBps ?? 10_000;
    return docs.map((p) => {
      const counted = p.votes.filter((v) => active.has(v.org));
      // As Consortium.tally: the organisation a sanction acts against is not counted.
      const subject = proposalSubject(p.kind, p.data);
      const required = requiredVotes(active.size - (active.has(subject) ? 1 : 0), quorumBps);
      const expired = p.status === "open" && now > p.deadline;
      return {
        ...p,
        statusName: expired ? "expired" : p.status,
        kindName: ProposalKind[p.kind] ?? `kind-${p.kind}`,
        yes: counted.filter((v) => v.support).length,
        no: counted.filter((v) => !v.support).length,
        required,
      };
    });
  }

  // ---------------------------------------------------------------- anchors

  async anchor(node: string, sequence: number): Promise<AnchorDoc | undefined> {
    return this.store.get<AnchorDoc>(K.anchor(lower(node), sequence));
  }

  /** A node's anchors from `fromSequence` on, at most `limit`. */
  async anchors(node: string, options: { fromSequence?: number; limit?: number } = {}): Promise<AnchorDoc[]> {
    const n = lower(node);
    const out = await this.store.db.values({ gte: K.anchor(n, options.fromSequence ?? 0), lt: `an:${n}:\xff`, limit: options.limit ?? 100 }).all();
    return out.map((v) => JSON.parse(v) as AnchorDoc);
  }
}

/** Consortium.proposal's status for a view (Expired is computed, as on chain). */
export const proposalStatusOf = (p: ProposalView): ProposalStatus =>
  p.statusName === "executed" ? ProposalStatus.Executed : p.statusName === "rejected" ? ProposalStatus.Rejected : p.statusName === "expired" ? ProposalStatus.Expired : ProposalStatus.Open;

/**
 * lib/access.ts's AccessChecker answered from the index: the same questions AccessGrants'
 * `isAllowed`/`isAllowedAt`/`grant` answer, as of the last indexed block (or `now`).
 */
export class IndexAccessChecker implements AccessChecker {
  constructor(private readonly q: IndexQueries) {}

  private async live(grantee: number, owner: number, scopeKey: string): Promise<GrantDoc | undefined> {
    const g = await this.q.grantOn(owner, grantee, scopeKey);
    if (!g || g.revoked || !((await this.q.now()) < g.expiresAt)) return undefined;
    const [a, b] = await Promise.all([this.q.member(grantee), this.q.member(owner)]);
    return a?.status === OrgStatus.Active && b?.status === OrgStatus.Active ? g : undefined;
  }

  async isAllowed(grantee: number, owner: number, scopeKey: string): Promise<boolean> {
    const g = await this.live(grantee, owner, scopeKey);
    return g !== undefined && g.kind !== ScopeKind.AnchorWindowRange;
  }

  async isAllowedAt(grantee: number, owner: number, scopeKey: string, dataTime: number): Promise<boolean> {
    const g = await this.live(grantee, owner, scopeKey);
    if (!g) return false;
    return g.kind !== ScopeKind.AnchorWindowRange || (dataTime >= g.from && dataTime < g.to);
  }

  async grantKind(owner: number, grantee: number, scopeKey: string): Promise<ScopeKind | undefined> {
    return (await this.q.grantOn(owner, grantee, scopeKey))?.kind;
  }
}
