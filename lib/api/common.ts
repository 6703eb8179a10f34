/**
 * The gateway's HTTP API as data, shared by the gateway (which builds every answer against these
 * types), the explorer and lib/gateway-client.ts (which read them). Types only, no runtime code:
 * the explorer imports them in the browser. This file: what every route group uses.
 */

/** An organisation as answers name it: its consortium id and registered name. */
export interface OrganisationRef {
  id: number;
  name: string;
}

/**
 * An error answer (RFC 9457 application/problem+json), as gateway/errors.ts writes it; some
 * carry more members (e.g. `errors`, `limit`). A client that may meet another server's error
 * (a proxy) holds a `Partial<Problem>`.
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: unknown;
  [member: string]: unknown;
}
