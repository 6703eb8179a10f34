/**
 * The gateway's HTTP API, the explorer's only data source. Paths are absolute on the origin that
 * served the page. Errors are the gateway's problem+json, thrown as ApiError.
 */
import type { CertificateView } from "../../lib/credentials.ts";
import type { ContractAddresses } from "../../lib/deployment.ts";

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.name = "ApiError";
  }
}

export interface OrganisationRef {
  id: number;
  name: string;
}

export interface Session {
  token: string;
  expiresAt: string;
  organisation: OrganisationRef & { roles?: string[] };
  account: string;
}

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
  method?: "GET" | "POST";
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
    const problem: Problem = typeof payload === "object" && payload !== null ? (payload as Problem) : { title: res.statusText, detail: String(payload ?? "") };
    throw new ApiError(res.status, problem);
  }
  return payload as T;
}

export const enc = encodeURIComponent;

// ------------------------------------------------------------------------------ response shapes

export type { ContractAddresses };

export interface Health {
  ok: boolean;
  chainId: number;
  organisation: OrganisationRef;
  contracts?: ContractAddresses;
  deployment?: { contracts?: ContractAddresses };
  indexedBlock?: number;
}

export interface Resolved {
  input: string;
  type: string;
  digitalLink?: string;
  epc?: string;
  itemKey?: string;
  batchKey?: string;
  certificateId?: string;
}

export type { CertificateStatusName, CertificateView, Verification } from "../../lib/credentials.ts";

/** GET /certificates/{id}: the on-chain view plus its status changes. */
export interface CertificateAnswer extends CertificateView {
  credentialHash?: string;
  history?: { event: string; block: number; tx: string; time: string; reason?: string; supersededBy?: string }[];
  subjectDigitalLink?: string;
}

export interface ItemView {
  kind?: "item" | "batch";
  key: string;
  parent?: string;
  itemCount?: number;
  identifier?: string;
  digitalLink?: string;
  status: string | number;
  owner?: OrganisationRef;
  custodian?: OrganisationRef | string | null;
  batchKey?: string;
  recalled?: boolean;
  createdAt?: string;
}

export interface HistoryEntry {
  recordId?: string | number | null;
  /** The @context the event was captured with, when the gateway sends it. */
  context?: unknown;
  /** The gateway's own check; shown for comparison only, never as the badge. */
  verified?: boolean;
  kind: string;
  org?: OrganisationRef;
  eventHash?: string;
  eventId?: string | null;
  block?: number;
  tx?: string;
  time?: string;
  corrects?: string | number | null;
  document?: Record<string, unknown> | null;
  access?: "own" | "granted" | "public-fact";
  /** The grant that shared it; `path` runs from the granted product down to this item. */
  grant?: { scopeKey: string; kind: number; path?: string[] };
  /** The consortium rule that shared it (regulators). */
  rule?: string;
}

/** One entry of the owner's access log (GET /access-log). */
export interface AccessLogEntry {
  seq: number;
  time: string;
  reader: number;
  owner: number;
  channel: "gateway" | "p2p";
  subject: { kind: "document" | "readings" | "stream"; eventHash?: string; eventID?: string; streams?: string[]; stream?: string };
  allowedBy: string;
  grant?: { id?: string; scopeKey: string; kind: string; path?: string[] };
  purpose: string | null;
  hash: string;
}

export interface AccessLogView {
  head: { seq: number; hash: string };
  entries: AccessLogEntry[];
  nextAfter?: number;
}

export interface AccessLogHeadView {
  head: { seq: number; hash: string };
  check: { ok: true; entries: number } | { ok: false; seq: number; problem: string };
}

export interface History {
  item: ItemView;
  entries: HistoryEntry[];
}

export interface GenealogyNode {
  key: string;
  depth?: number;
  digitalLink?: string;
  status?: string | number;
  owner?: OrganisationRef;
  recalled?: boolean;
}

export interface Genealogy {
  root: string;
  truncated?: boolean;
  nodes: GenealogyNode[];
  edges: { from: string; to: string; kind: string; recordId?: string | number }[];
  recallScope: string[];
}

export interface Member {
  id: number;
  name: string;
  roles: string[];
  status: string;
  accounts?: string[];
  nodes?: unknown[];
}

export interface Proposal {
  id: number | string;
  kind: string;
  proposer?: OrganisationRef | number | string;
  description?: string;
  yes: number;
  no: number;
  required: number;
  deadline: string | number;
  status: string;
  votes: { org: OrganisationRef | number | string; support: boolean }[];
}

export interface ConsortiumView {
  members: Member[];
  proposals: Proposal[];
}

export const orgName = (o: OrganisationRef | number | string | null | undefined): string =>
  o === null || o === undefined ? "?" : typeof o === "object" ? o.name : String(o);
