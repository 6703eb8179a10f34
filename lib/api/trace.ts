/**
 * Traceability answers (gateway/routes/trace.ts), read from the chain index: an item or batch,
 * its history, genealogy and certificates, a data anchor, and the consortium directory. Times are
 * ISO 8601; an organisation is null where the chain names none (id 0).
 */
import type { CertificateStatusName } from "../credentials.ts";
import type { ScopeKind } from "../registry.ts";
import type { PassportField } from "../passport-fields.ts";
import type { OrganisationRef } from "./common.ts";

/** GET /items/{id} for an individually identified item. */
export interface ItemAnswer {
  kind: "item";
  key: string;
  /** The canonical Digital Link, when the path named the item by an identifier (not by key). */
  identifier?: string;
  digitalLink?: string;
  /** Provenance item status: active, in-transit, consumed, assembled. */
  status: string;
  owner: OrganisationRef | null;
  custodian: OrganisationRef | null;
  consignee?: OrganisationRef | null;
  batchKey?: string;
  parent?: string;
  recalled: boolean;
  disposition: string;
  createdAt: string;
  createdBlock: number;
  lastRecord: number;
}

/** GET /items/{id} for a batch (LGTIN). */
export interface BatchAnswer {
  kind: "batch";
  key: string;
  identifier?: string;
  digitalLink?: string;
  owner: OrganisationRef | null;
  recalled: boolean;
  itemCount: number;
  disposition: string;
  createdAt: string;
}

export type ItemOrBatchAnswer = ItemAnswer | BatchAnswer;

/** Why the caller sees an entry's document: its own, by a grant, or only the on-chain fact. */
export type DocumentAccess = "own" | "granted" | "public-fact";

/** One on-chain record of an item's history, with the EPCIS document when the caller may read it. */
export interface HistoryEntryAnswer {
  recordId: number;
  /** Provenance.RecordKind name. */
  kind: string;
  org: OrganisationRef | null;
  /** The bytes32 the record carries (lib/epcis/record-hash.ts). */
  eventHash: string;
  eventId: string | null;
  block: number;
  tx: string;
  time: string;
  /** The record this one corrects. */
  corrects?: number;
  document: Record<string, unknown> | null;
  /** The gateway recomputed the document's record hash and found it equal to the chain's. */
  verified?: boolean;
  access: DocumentAccess;
  /** The grant that let the caller read the document; `path` runs from the granted product down to this item (genealogy). */
  grant?: { scopeKey: string; kind: ScopeKind; path?: string[] };
  /** The consortium rule that let the caller read it (regulators), e.g. "regulator-recall-events". */
  rule?: string;
  /** Why a document the caller may read is not shown (e.g. "owner's node unreachable: ..."). */
  unavailable?: string;
}

/** GET /items/{id}/history. */
export interface HistoryAnswer {
  item: ItemAnswer | { kind: "batch"; key: string; identifier?: string };
  entries: HistoryEntryAnswer[];
  /** Whether this gateway's node keeps EPCIS documents at all. */
  documents: "available" | "unavailable";
  /** Pass as `after` for the next page. */
  nextAfter?: number;
}

export interface GenealogyNodeAnswer {
  key: string;
  /** The root's identifier as named; another part's only where the caller may read a document naming it. */
  digitalLink?: string;
  status: string;
  owner: OrganisationRef | null;
  recalled: boolean;
  batchKey?: string;
  /** The batch's identifier (GTIN with lot: a heat), where the caller may read a document naming it. */
  batchDigitalLink?: string;
  depth: number;
}

export interface GenealogyEdge {
  from: string;
  to: string;
  kind: "transformation" | "assembly";
  recordId: number;
}

/** GET /items/{id}/genealogy; for a batch, only its recall scope. */
export interface GenealogyAnswer {
  root: string;
  direction?: "backward" | "forward" | "both";
  nodes: GenealogyNodeAnswer[];
  edges: GenealogyEdge[];
  /** Everything forward of the recalled items in the graph. */
  recallScope: string[];
  /** The node limit cut the walk short. */
  truncated: boolean;
}

/** One status change of a certificate, as the chain index keeps it. */
export interface IndexedCertificateChange {
  action: "issued" | "suspended" | "reinstated" | "revoked" | "superseded";
  block: number;
  tx: string;
  time: string;
  /** Certificates.RevocationReason number. */
  reason?: number;
  reasonHash?: string;
  supersededBy?: string;
}

/** GET /items/{id}/certificates: the certificates of the item and of its batch, from the chain index. */
export interface ItemCertificateAnswer {
  id: string;
  credentialHash: string;
  subject: string;
  issuer: OrganisationRef | null;
  scope: string;
  validFrom: string;
  validUntil: string | null;
  state: CertificateStatusName;
  /** Certificates.RevocationReason number, when suspended or revoked. */
  reason?: number;
  supersededBy?: string;
  supersedes?: string;
  accreditedAtIssuance: boolean;
  accreditedNow: boolean;
  issuedAt: string;
  history: IndexedCertificateChange[];
}

/** GET /anchors/{node}/{sequence}: one anchored data window. */
export interface AnchorAnswer {
  node: string;
  org: OrganisationRef | null;
  sequence: number;
  root: string;
  leafCount: number;
  from: string;
  to: string;
  fromTimeMs: number;
  toTimeMs: number;
  previousRoot: string;
  anchoredAt: string;
  tx: string;
  block: number;
}

export interface MemberAnswer {
  id: number;
  name: string;
  roles: string[];
  status: string;
  accounts: string[];
  nodes: { id: number; peerId: string; enodeId?: string; validator: string }[];
}

export interface ProposalAnswer {
  id: number;
  kind: string;
  proposer: OrganisationRef;
  /** ABI-encoded proposal data (lib/consortium.ts). */
  data: string;
  yes: number;
  no: number;
  required: number;
  deadline: string;
  status: "open" | "executed" | "rejected" | "expired";
  votes: { org: OrganisationRef; support: boolean }[];
  createdAt: string;
  tx: string;
}

/** GET /consortium: members, governance parameters and recent proposals. */
export interface ConsortiumAnswer {
  /** Quorum (basis points of active members) and voting period (seconds), once indexed. */
  governance?: { quorumBps: number; votingPeriod: number };
  members: MemberAnswer[];
  proposals: ProposalAnswer[];
  indexedBlock: number;
}

// ---------------------------------------------------------------- recall at a glance

/** A recalled item or batch that reaches the item asked about (GET /items/{id}/recall). */
export interface RecallCauseAnswer {
  key: string;
  kind: "item" | "batch";
  /** Its GS1 Digital Link, only where the caller may read a document that names it. */
  identifier?: string;
  /** Who recalled it and when (absent only when the index holds no record of the recall). */
  by?: OrganisationRef | null;
  at?: string;
  recordId?: number;
}

/** One item a recall reaches. */
export interface RecallReachAnswer {
  key: string;
  identifier?: string;
  /** ItemStatus code (active, inTransit, consumed, assembled): the explorer translates it. */
  status: string;
  owner: OrganisationRef | null;
  /** The caller owns it or holds it in custody. */
  held: boolean;
}

/**
 * GET /items/{id}/recall: whether and why an item or batch is recalled, as codes (the explorer
 * words them): `recalled` (it or its batch was recalled itself), `in-scope` (something it was made
 * from was), `clear`.
 */
export interface RecallAnswer {
  key: string;
  state: "recalled" | "in-scope" | "clear";
  causes: RecallCauseAnswer[];
  /**
   * Every item the causes' recalls reach (for a batch not recalled: everything downstream of it):
   * how many, how many of them the caller holds, and the first `limit` of them.
   */
  reach: { count: number; held: number; truncated: boolean; items: RecallReachAnswer[] };
}

// ---------------------------------------------------------------- public passport

/** A certificate as the public passport shows it: status facts every verifier may check on chain. */
export interface PassportCertificateAnswer {
  id: string;
  state: CertificateStatusName;
  /** The scope's bytes32 (keccak of its name, e.g. "EN10204-3.1"). */
  scope: string;
  issuer: OrganisationRef | null;
  validFrom: string;
  validUntil: string | null;
  /** Of the item itself or of its batch. */
  of: "item" | "batch";
}

/**
 * GET /passport/{id}: what anyone who scans an item's QR code may see, without signing in: its
 * identity (the identifier the visitor already holds), status, maker, recall state and the status
 * of its certificates. No document, no component, no supplier, no identifier the visitor did not
 * bring.
 */
export interface PassportAnswer {
  kind: "item" | "batch";
  key: string;
  identifier?: string;
  /** ItemStatus code for an item; absent for a batch. */
  status?: string;
  /** The organisation that registered it (whose label it carries); not who holds it now. */
  maker: OrganisationRef | null;
  /** Whether a recall reaches it and what kind of subject each recall was; not who recalled it (that would name a supplier). */
  recall: { state: RecallAnswer["state"]; causes: { kind: "item" | "batch" }[] };
  certificates: PassportCertificateAnswer[];
  /** The extra fields its maker chose to show (lib/passport-fields.ts), answered by the maker's own node only. */
  fields?: Partial<Record<PassportField, string>>;
}

/** GET and PUT /passport/{id}/fields (the maker only): the fields chosen and what each would say (null: nothing held). */
export interface PassportFieldsAnswer {
  identifier: string;
  chosen: PassportField[];
  values: Record<PassportField, string | null>;
  updatedAt?: string;
}

/** GET /consortium/members (no sign-in): the member directory; role and status codes for the page to word. */
export interface PublicMemberAnswer {
  id: number;
  name: string;
  roles: string[];
  status: string;
}
