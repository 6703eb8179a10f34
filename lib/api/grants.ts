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

/** POST /access-requests: a partner asks an item's maker for more than its public passport. */
export interface AccessRequestBody {
  /** The item's identifier (GS1 Digital Link or EPC URI). */
  subject: string;
  scope: "item" | "item-genealogy";
  /** Why, in words (at most 200 characters); it becomes the grant's purpose. */
  purpose: string;
  /** How long the access should last, 1 to 365 days. */
  days: number;
}

/** An access request as the owner's node keeps it (GET /access-requests). */
export interface AccessRequestAnswer {
  id: string;
  requester: OrganisationRef;
  owner: OrganisationRef;
  subject: string;
  subjectKey: string;
  scope: "item" | "item-genealogy";
  purpose: string;
  days: number;
  state: "pending" | "approved" | "declined";
  createdAt: string;
  decidedAt?: string;
  /** The grant that approved it; `block` recorded it (absent in requests approved before it was kept). */
  grant?: { id: string; tx: string; block?: number; expiresAt: string };
}

/**
 * What became of an access request taken by the maker's node, whichever path it came by (its own
 * gateway, or a partner's gateway over the peer network): the kept request (201), or the HTTP
 * status and words of the refusal (409 duplicate, 429 limit, 400/403/404/503 refused).
 */
export type AccessRequestOutcome =
  | { status: 201; request: AccessRequestAnswer }
  | { status: 400 | 403 | 404 | 409 | 429 | 503; detail: string; extra?: Record<string, unknown> };
