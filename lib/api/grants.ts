/**
 * The gateway's /grants answers: the signed-in organisation's AccessGrants, given and received,
 * and what a grant or revocation carried out by its member node produced.
 */
import type { OrganisationRef } from "./common.ts";

/** The scope words of lib/access-grants.ts SCOPE_WORDS. */
export type ScopeWord = "item" | "item-genealogy" | "batch" | "stream" | "window-range";

/** POST /grants. */
export interface GrantBody {
  /** Organisation id of the partner. */
  grantee: number;
  scope: ScopeWord;
  /** Item or batch identifier (EPC URI, Digital Link), stream id, or a 32-byte hex scope key. */
  subject: string;
  /** Purpose in words (hashed into the on-chain purpose code) or a 32-byte hex code. */
  purpose: string;
  /** ISO 8601 time the grant lapses. */
  expiresAt: string;
  /** window-range only: ISO 8601 times of the readings covered, [from, to). */
  from?: string;
  to?: string;
}

export interface GrantAnswer {
  id: string;
  owner: OrganisationRef;
  grantee: OrganisationRef;
  scope: ScopeWord;
  scopeKey: string;
  purpose: string;
  from?: string;
  to?: string;
  version: number;
  grantedAt: string;
  expiresAt: string;
  revokedAt?: string;
  state: "live" | "expired" | "revoked";
}

/** GET /grants. */
export interface GrantsAnswer {
  /** Given by the caller's organisation (as data owner). */
  given: GrantAnswer[];
  /** Given to the caller's organisation. */
  received: GrantAnswer[];
}

/** POST /grants (201), DELETE /grants/{id} (200): the transaction the member node sent. */
export interface GrantWriteAnswer {
  id: string;
  version: number;
  scopeKey?: string;
  tx: string;
  block: number;
}
