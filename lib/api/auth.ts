/** Sign-in answers (gateway/routes/auth.ts): EIP-4361 challenge, bearer token, the caller's session. */
import type { OrganisationRef } from "./common.ts";

/** GET /auth/challenge?address=0x..: the message to sign. */
export interface AuthChallenge {
  message: string;
  nonce: string;
  /** ISO 8601. */
  expiresAt: string;
}

/** POST /auth/token: the signed challenge. */
export interface TokenRequest {
  message: string;
  signature: string;
}

/** The organisation a token signs for, with its role names (supplier, manufacturer, ...). */
export type SignedInOrganisation = OrganisationRef & { roles: string[] };

/** POST /auth/token: a short-lived bearer token. */
export interface IssuedToken {
  token: string;
  /** ISO 8601. */
  expiresAt: string;
  organisation: SignedInOrganisation;
  account: string;
}

/** GET /auth/session: who the bearer token speaks for. */
export interface SessionAnswer {
  account: string;
  organisation: SignedInOrganisation;
}
