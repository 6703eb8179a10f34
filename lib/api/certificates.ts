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
}

/** POST /certificates/verify: every check by name, and the verdict (of a selective disclosure: with what it disclosed). */
export type VerificationAnswer = Verification | SelectiveVerification;
