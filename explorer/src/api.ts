/**
 * The gateway's HTTP API, the explorer's only data source. Paths are absolute on the origin that
 * served the page. Errors are the gateway's problem+json, thrown as ApiError. The answers' shapes
 * are the gateway's own (lib/api/); pages import them from there.
 */
import type { IssuedToken } from "../../lib/api/auth.ts";
import { canonicalIdentifier } from "../../lib/identifiers/canonical.ts";
import type { OrganisationRef, Problem } from "../../lib/api/common.ts";
import type { HealthAnswer } from "../../lib/api/health.ts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem>,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.name = "ApiError";
  }
}

/** The signed-in session: the token POST /auth/token issued. */
export type Session = IssuedToken;

const SESSION_KEY = "tracemesh.session";

export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    if (raw === null) return undefined;
    const s = JSON.parse(raw) as Session;
    if (typeof s.token !== "string" || Date.parse(s.expiresAt) <= Date.now()) return undefined;
    return s;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session | undefined): void {
  try {
    if (session === undefined) sessionStorage.removeItem(SESSION_KEY);
    else sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  } catch {
    // storage disabled: the session lasts until the page is left
  }
  current = session;
}

let current: Session | undefined = loadSession();
export const session = (): Session | undefined => current;

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  body?: unknown;
  /** Raw text body (e.g. a compact JWT) sent as-is with this content type. */
  text?: { body: string; contentType: string };
  signal?: AbortSignal;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (current !== undefined) headers.authorization = `Bearer ${current.token}`;
  let body: string | undefined;
  if (options.text !== undefined) {
    headers["content-type"] = options.text.contentType;
    body = options.text.body;
  } else if (options.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  const res = await fetch(path, { method: options.method ?? (body === undefined ? "GET" : "POST"), headers, body, signal: options.signal });
  const type = res.headers.get("content-type") ?? "";
  const payload: unknown = type.includes("json") ? await res.json().catch(() => undefined) : await res.text();
  if (!res.ok) {
    if (res.status === 401 && current !== undefined) saveSession(undefined);
    const problem: Partial<Problem> = typeof payload === "object" && payload !== null ? (payload as Partial<Problem>) : { title: res.statusText, detail: String(payload ?? "") };
    throw new ApiError(res.status, problem);
  }
  return payload as T;
}

export const enc = encodeURIComponent;

let health: Promise<HealthAnswer> | undefined;
/** This gateway's /health, asked once per page load: whose gateway it is and which services it offers. */
export function gatewayHealth(): Promise<HealthAnswer> {
  health ??= api<HealthAnswer>("/health").catch((e: unknown) => {
    health = undefined; // ask again next time
    throw e;
  });
  return health;
}

/**
 * The names EPCIS master data gives locations (GET /vocabularies/BusinessLocation), keyed by the
 * spellings asked for, so pages can speak of "Assembly plant, hall 1" instead of an SGLN. Only
 * what the signed-in organisation may read comes back; {} when signed out, or on any failure
 * (names are a courtesy, never needed to show a page).
 */
export async function locationNames(ids: readonly string[]): Promise<Record<string, string>> {
  if (current === undefined) return {};
  const asked = new Map<string, string>();
  for (const id of new Set(ids)) {
    try {
      asked.set(id, canonicalIdentifier(id));
    } catch {
      // Not a GS1 identifier: no master data can name it.
    }
  }
  if (asked.size === 0) return {};
  try {
    const answer = await api<{ names?: Record<string, string> }>(`/vocabularies/BusinessLocation?EQ_name=${enc([...new Set(asked.values())].slice(0, 100).join("|"))}`);
    return Object.fromEntries([...asked].flatMap(([id, c]) => (answer.names?.[c] !== undefined ? [[id, answer.names[c]]] : [])));
  } catch {
    return {};
  }
}

export const orgName = (o: OrganisationRef | null | undefined): string => (o === null || o === undefined ? "?" : o.name);
