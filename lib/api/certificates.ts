/**
 * Certificate answers (gateway/routes/certificates.ts), read from the chain itself: a certificate
 * with its status changes, and the verification of an uploaded credential (lib/credentials.ts).
 */
import type { OnChainCertificate, Verification } from "../credentials.ts";

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

/** GET /certificates/{id}: the on-chain certificate plus its status changes. */
export interface CertificateAnswer extends OnChainCertificate {
  credentialHash: string;
  history: CertificateChange[];
}

/** POST /certificates/verify: every check by name, and the verdict. */
export type VerificationAnswer = Verification;
