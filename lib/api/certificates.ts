/**
 * Certificate answers (gateway/routes/certificates.ts): a certificate's status from the chain
 * itself with its status changes from the chain index, and the verification of an uploaded credential (lib/credentials.ts).
 */
import type { OnChainCertificate, Verification } from "../credentials.ts";
import type { SelectiveVerification } from "../credentials/selective-disclosure.ts";

/** One status change of a certificate, from the Certificates contract's events. */
export interface CertificateChange {
  event: "issued" | "suspended" | "reinstated" | "revoked" | "superseded";
  block: number;
  tx: string;
  time: string;
  /** Revocation reason name (lib/credentials.ts reasonName). */
  reason?: string;
  supersededBy?: string;
}

/**
 * GET /certificates/{id}: the certificate and its status now, read from the chain, plus its status
 * changes from the node's chain index (null on a node without one), as of `historyAsOfBlock`.
 */
export interface CertificateAnswer extends OnChainCertificate {
  credentialHash: string;
  history: CertificateChange[] | null;
  historyAsOfBlock: number | null;
  /** Whether a recall reaches the certificate's subject (a valid certificate of a recalled heat); null on a node without a chain index. */
  subjectRecall: "recalled" | "in-scope" | "clear" | null;
  /** The revocation or suspension statement behind `reasonHash`; null when none was recorded. */
  statement: StatementAnswer | null;
}

/** POST /certificates/verify: every check by name, and the verdict (of a selective disclosure: with what it disclosed). */
export type VerificationAnswer = Verification | SelectiveVerification;

/** One certificate in a list (GET /certificates): its public status, no subject identifier. */
export interface CertificateListEntry {
  id: string;
  issuer: { id: number; name: string | null };
  /** The subject's on-chain key (item or batch); its identifier is on the certificate's page where the viewer may read it. */
  subject: string;
  scope: string;
  /** The scope's name where the consortium names it (lib/certificate-scopes.ts). */
  scopeName: string | null;
  state: "valid" | "not-yet-valid" | "expired" | "suspended" | "revoked" | "superseded";
  issuedAt: string;
}

/** GET /certificates: a page of certificates in issuance order, and the id to continue after. */
export interface CertificateListAnswer {
  certificates: CertificateListEntry[];
  nextAfter: string | null;
  asOfBlock: number;
}

/**
 * A statement is kept off chain by its issuer's node; the chain holds its keccak-256. `verified`:
 * the text hashes to the recorded hash. `mismatch`: the text held does not, so it is not shown.
 * `not-held`: this node does not hold the text (ask the issuer).
 */
/**
 * `from: "issuer-node"`: fetched from the issuer's node over the peer network (absent: this node's
 * own). `reason`: why the issuer's node did not deliver it.
 */
export type StatementAnswer = { status: "verified"; text: string; from?: "issuer-node" } | { status: "mismatch" } | { status: "not-held"; reason?: string };
