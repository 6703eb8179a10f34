/**
 * The documents the chain index keeps (one JSON value per LevelDB key, see store.ts `K`): items,
 * batches, records, genealogy edges, shipments, certificates, grants, anchors, organisations,
 * nodes and proposals. The handlers (handlers/) write them; queries.ts reads them.
 */
import type { OrgStatus, ProposalKind } from "../../lib/consortium.ts";
import type { CertificateState, ItemStatus, ScopeKind } from "../../lib/registry.ts";

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
  /** Unit of the lot's quantities, once a quantity was registered (Provenance.lotUnit). */
  unit?: string;
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

/** Quantity of a lot an organisation holds (Provenance.lotBalanceOf); quantities as decimal strings. */
export interface LotHoldingDoc {
  batch: string;
  org: number;
  quantity: string;
  /** UN/ECE Rec 20 unit code, "" for a count. */
  unit: string;
  lastRecord: number;
}

/** Quantity of a lot shipped by `from` to `to` and not yet received (Provenance.lotInTransit). */
export interface LotTransitDoc {
  batch: string;
  from: number;
  to: number;
  quantity: string;
  unit: string;
  lastRecord: number;
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
