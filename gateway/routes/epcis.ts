/**
 * GS1 EPCIS 2.0 REST bindings: capture (POST /capture, jobs at /capture/{captureID}) and queries
 * (/events with the GS1 query parameters, /events/{eventID}, /epcs/{epc}/events,
 * /bizSteps/{bizStep}/events), plus the readings bound to an event with their proofs. The
 * identifier lists (GET /epcs, /bizSteps, ...) and GET /search are routes/identifiers.ts.
 *
 * Capture is accepted and recorded by the node (node/events: acceptance, jobs, announcement); this
 * route only maps its answers and error codes (lib/errors.ts) to HTTP. The gateway reaches the node through
 * gateway/services.ts and imports node/ types only (test/layering.test.ts).
 *
 * Only the node's own organisation captures. A caller sees its own events, and another
 * organisation's events only when lib/access.ts lets it read that organisation's data about every
 * item the event names (node/events/visibility.ts). Results are EPCISQueryDocuments; a further
 * page is announced in a `Link: <...>; rel="next"` header carrying `nextPageToken`.
 */
import { createHash } from "node:crypto";
import type { Context, Next } from "koa";
import type { AccessDecision } from "../../lib/access.ts";
import type { CaptureJobAnswer, CaptureJobsAnswer } from "../../lib/api/capture.ts";
import type { EventReadingsAnswer } from "../../lib/api/readings.ts";
import { EPCIS_CONTEXT_URLS } from "../../lib/epcis/contexts.ts";
import { queryDocument } from "../../lib/epcis/published.ts";
import { EVENT_TERM_PARAMETERS, PAGE_TOKEN_LIFETIME_MS, eventTerms, isEventTermParameter } from "../../lib/epcis/query-terms.ts";
import { canonicalTimestamp } from "../../lib/epcis/event-hash.ts";
import { hasMasterData } from "../../lib/epcis/master-data.ts";
import { canonicalEpcValue } from "../../lib/epcis/subjects.ts";
import { masterDataToCapture } from "./master-data.ts";
import { EpcisXmlError, XML_MEDIA_TYPES, epcisXmlOf, parseEpcisXml } from "../../lib/epcis/xml.ts";
import { type ErrorCode, TracemeshError } from "../../lib/errors.ts";
import { ReadingBindingError, readingBindingsOf } from "../../lib/epcis/readings.ts";
import type { CaptureJob } from "../../node/events/capture.ts";
import type { EventQuery, StoredEvent } from "../../node/events/store.ts";
import type { EventsService } from "../services.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { readRaw } from "../body.ts";
import { HttpProblem, badRequest, forbidden, notFound, requireService, toProblem } from "../errors.ts";
import { bearer, json, problem } from "../openapi.ts";

export { queryDocument };


/** Query parameters an event query accepts, and how each maps onto EventQuery. */
const LIST_PARAMS: Record<string, keyof EventQuery> = {
  eventType: "eventType",
  EQ_bizStep: "bizStep",
  EQ_disposition: "disposition",
  MATCH_epc: "epc",
  MATCH_anyEPC: "anyEpc",
  MATCH_parentID: "parentID",
  MATCH_inputEPC: "inputEPC",
  MATCH_outputEPC: "outputEPC",
  MATCH_epcClass: "epcClass",
  MATCH_inputEPCClass: "inputEpcClass",
  MATCH_outputEPCClass: "outputEpcClass",
  MATCH_anyEPCClass: "anyEpcClass",
  EQ_bizLocation: "bizLocation",
  EQ_readPoint: "readPoint",
  EQ_eventID: "eventID",
};

/** A query parameter that cannot be used (GS1's QueryParameterException on EPCIS routes). */
export const queryProblem = (detail: string) => new HttpProblem(400, detail, { type: "invalid-query" });

export function one(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  if (Array.isArray(v)) throw queryProblem(`query parameter \`${name}\` is given ${v.length} times; give it once`);
  return v;
}

/** Parameters answered from the store's indexes or shaping the answer (the rest are event terms, lib/epcis/query-terms.ts). */
const STORE_PARAMETERS = new Set([
  ...Object.keys(LIST_PARAMS),
  "GE_eventTime", "LT_eventTime", "EXISTS_errorDeclaration",
  "perPage", "nextPageToken", "orderBy", "orderDirection", "eventCountLimit", "maxEventCount",
]);

const SUBSCRIPTION_ONLY = "a subscription parameter (POST /queries/{queryName}/subscriptions), not a parameter of an event query";
/**
 * GS1 query parameters this repository deliberately does not answer on event queries, with the
 * reason (README "EPCIS conformance"); each answers QueryParameterException naming it.
 */
export const UNSUPPORTED_QUERY_PARAMETERS: Readonly<Record<string, string>> = Object.fromEntries(
  ["reportIfEmpty", "initialRecordTime", "second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek", "stream"].map((p) => [p, SUBSCRIPTION_ONLY]),
);

/** The order an answer is sorted in; eventTime ascending is the store's own, kept across pages. */
type Order = { by: "eventTime" | "recordTime"; descending: boolean };
/** Events a re-ordered or maxEventCount query may match at most (they are sorted in memory). */
const SORTED_ANSWER_LIMIT = 1000;

interface ParsedQuery {
  query: EventQuery;
  perPage: number;
  nextPageToken?: string;
  eventCountLimit?: number;
  maxEventCount?: number;
  order: Order;
}

function positiveInteger(ctx: Context, name: string, min: number): number | undefined {
  const raw = one(ctx, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min) throw queryProblem(`${name} must be ${min === 1 ? "a positive" : "a non-negative"} integer (got "${raw}")`);
  return n;
}

/** The GS1 query of a request (pipe-delimited lists), plus the fixed terms of the route. */
function parseQuery(ctx: Context, fixed: EventQuery = {}): ParsedQuery {
  for (const name of Object.keys(ctx.query)) {
    const why = UNSUPPORTED_QUERY_PARAMETERS[name];
    if (why !== undefined) throw queryProblem(`query parameter \`${name}\` is not supported here: ${why}`);
    if (!STORE_PARAMETERS.has(name) && !isEventTermParameter(name)) throw queryProblem(`unknown query parameter \`${name}\` (GS1 EPCIS 2.0 query parameters only)`);
  }
  const q: Record<string, unknown> = { ...fixed };
  for (const [param, field] of Object.entries(LIST_PARAMS)) {
    const raw = ctx.query[param];
    if (raw === undefined) continue;
    const values = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => v.split("|")).map((v) => v.trim());
    if (values.some((v) => v === "")) throw queryProblem(`query parameter \`${param}\` has an empty value (lists are separated by "|")`);
    q[field] = [...((q[field] as string[] | undefined) ?? []), ...values];
  }
  for (const [param, field] of [["GE_eventTime", "geEventTime"], ["LT_eventTime", "ltEventTime"]] as const) {
    const v = one(ctx, param);
    if (v !== undefined) q[field] = v;
  }
  const exists = one(ctx, "EXISTS_errorDeclaration");
  if (exists !== undefined) {
    if (!["", "true", "false"].includes(exists)) throw queryProblem(`EXISTS_errorDeclaration must be true or false (got "${exists}")`);
    if (exists !== "false") q["errorDeclaration"] = true;
  }
  const pp = one(ctx, "perPage");
  let perPage = pp === undefined ? 30 : Number(pp);
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > 1000) throw queryProblem(`perPage must be an integer from 1 to 1000 (got "${pp}")`);
  const orderBy = one(ctx, "orderBy") ?? "eventTime";
  if (orderBy !== "eventTime" && orderBy !== "recordTime")
    throw queryProblem(`orderBy "${orderBy}" is not supported: order by eventTime or recordTime (ordering by an extension field is not offered)`);
  const direction = one(ctx, "orderDirection") ?? "ASC";
  if (direction !== "ASC" && direction !== "DESC") throw queryProblem(`orderDirection must be ASC or DESC (got "${direction}")`);
  const eventCountLimit = positiveInteger(ctx, "eventCountLimit", 1);
  const maxEventCount = positiveInteger(ctx, "maxEventCount", 0);
  if (eventCountLimit !== undefined && maxEventCount !== undefined) throw queryProblem("eventCountLimit and maxEventCount cannot be used together (GS1 EPCIS 2.0, 8.2.7.1)");
  if (eventCountLimit !== undefined) perPage = Math.min(perPage, eventCountLimit);
  const token = one(ctx, "nextPageToken");
  return {
    query: q as EventQuery,
    perPage,
    order: { by: orderBy, descending: direction === "DESC" },
    ...(token !== undefined ? { nextPageToken: token } : {}),
    ...(eventCountLimit !== undefined ? { eventCountLimit } : {}),
    ...(maxEventCount !== undefined ? { maxEventCount } : {}),
  };
}


/** The document a capture request carries: JSON-LD as is, EPCIS XML (2.0 or 1.2) read into JSON-LD. */
async function captureBody(ctx: Context, context: RouteContext): Promise<unknown> {
  if (!ctx.is([...XML_MEDIA_TYPES])) {
    if (!ctx.is(["application/json", "application/ld+json", "application/*+json"]))
      throw new HttpProblem(415, `expected an EPCIS document as JSON-LD (application/ld+json) or XML (application/xml), got ${ctx.get("content-type") || "none"}`, { type: "unsupported-media-type" });
    return context.readJson(ctx, "large");
  }
  try {
    return parseEpcisXml(await readRaw(ctx, context.options.bodyLimits.large));
  } catch (e) {
    if (e instanceof EpcisXmlError) throw badRequest(e.message, { errors: e.errors });
    throw e;
  }
}

/** Answers a query document in the representation the caller asked for (Accept): JSON-LD, or EPCIS XML. */
export function sendQueryDocument(ctx: Context, doc: Record<string, unknown>): void {
  const type = ctx.accepts("application/ld+json", "application/json", ...XML_MEDIA_TYPES);
  if (type === "application/xml" || type === "text/xml") {
    ctx.type = type;
    ctx.body = epcisXmlOf(doc);
    return;
  }
  ctx.type = "application/ld+json";
  ctx.body = doc;
}

/** The one event a single-event capture carries (a bare event object, or a document of exactly one event). */
function isSingleEvent(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("POST /events takes one EPCIS event (a JSON object)");
  const b = body as Record<string, unknown>;
  if (b["type"] === "EPCISDocument") {
    const list = (b["epcisBody"] as { eventList?: unknown[] } | undefined)?.eventList;
    if (!Array.isArray(list) || list.length !== 1) throw badRequest(`POST /events takes one event; this document has ${Array.isArray(list) ? list.length : "no"} events (use POST /capture)`);
    return { "@context": b["@context"], ...(list[0] as Record<string, unknown>) };
  }
  return b;
}

export function nextLink(ctx: Context, token: string): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(ctx.query)) if (k !== "nextPageToken") for (const x of Array.isArray(v) ? v : [v ?? ""]) params.append(k, x);
  params.set("nextPageToken", token);
  return `<${ctx.path}?${params.toString()}>; rel="next"`;
}

function jobView(job: CaptureJob): CaptureJobAnswer {
  const { documentDigest: _digest, owner: _owner, ...view } = job;
  return view;
}

/** The code (lib/errors.ts) of an error the node answered with, else undefined. */
const codeOf = (e: unknown): ErrorCode | undefined => (e instanceof TracemeshError ? e.code : undefined);

/**
 * The HTTP problem for a capture the node refused (node/events/accept.ts), as this route has
 * always answered it; undefined for other errors.
 */
function captureProblem(e: unknown): HttpProblem | undefined {
  const details = (e as { details?: { errors?: readonly unknown[]; limit?: number } }).details ?? {};
  const message = (e as Error).message;
  switch (codeOf(e)) {
    case "capture-forbidden":
      return forbidden(message);
    case "capture-limit-exceeded":
      return new HttpProblem(413, message, { type: "capture-limit-exceeded", extra: { limit: details.limit } });
    case "invalid-epcis":
    case "invalid-event-hash":
    case "invalid-reading-binding":
      return badRequest(message, details.errors ? { errors: details.errors } : undefined);
    default:
      return undefined;
  }
}

/** What this node speaks, announced on every EPCIS response (GS1 EPCIS 2.0 REST binding headers). */
export const GS1_HEADERS: Readonly<Record<string, string>> = {
  "GS1-EPCIS-Version": "2.0.0",
  "GS1-EPCIS-Min": "1.2.0",
  "GS1-EPCIS-Max": "2.0.0",
  "GS1-CBV-Version": "2.0.0",
  "GS1-CBV-Min": "2.0.0",
  "GS1-CBV-Max": "2.0.0",
  "GS1-Extensions": "tm=https://tracemesh.dev/ns/epcis/",
};
/** EPCIS versions a request may ask for (1.2 documents are read by the XML binding), and CBV versions. */
const REQUESTABLE: Record<string, RegExp> = { "GS1-EPCIS-Version": /^(1\.2|2\.0)(\.\d+)?$/, "GS1-CBV-Version": /^2\.0(\.\d+)?$/ };

/**
 * The one table of GS1 `epcisException` problem types EPCIS routes answer with: by Tracemesh code
 * first (lib/errors.ts), else by status. Statuses without an EPCIS exception (409, 503) keep
 * Tracemesh's type. The Tracemesh type stays in the problem as `tracemeshType`.
 */
const EPCIS_EXCEPTION_BY_CODE: Partial<Record<ErrorCode, string>> = {
  "capture-limit-exceeded": "CaptureLimitExceededException",
  "too-many-readings": "QueryTooLargeException",
  "query-too-large": "QueryTooLargeException",
  "invalid-query": "QueryParameterException",
  "invalid-page-token": "QueryParameterException",
};
const EPCIS_EXCEPTION_BY_STATUS: Record<number, string> = {
  400: "ValidationException",
  401: "SecurityException",
  403: "SecurityException",
  404: "NoSuchResourceException",
  406: "NotAcceptableException",
  413: "CaptureLimitExceededException",
  414: "URITooLongException",
  415: "UnsupportedMediaTypeException",
  500: "ImplementationException",
};

/** A problem answered on an EPCIS route: GS1's exception as its type. */
class EpcisProblem extends HttpProblem {
  constructor(
    problem: HttpProblem,
    readonly exception: string,
  ) {
    super(problem.status, problem.detail, { type: problem.code, title: problem.title, headers: problem.headers, extra: problem.extra });
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), type: `epcisException:${this.exception}`, tracemeshType: this.type };
  }
}

/**
 * Sets the GS1 headers (406 for a requested EPCIS or CBV version this node does not speak) and
 * answers problems with GS1's exception types. Unexpected errors pass on untouched, to be logged.
 */
export async function gs1(ctx: Context, next: Next): Promise<void> {
  ctx.set(GS1_HEADERS);
  try {
    for (const [header, ok] of Object.entries(REQUESTABLE)) {
      const asked = ctx.get(header);
      if (asked !== "" && !ok.test(asked))
        throw new HttpProblem(406, `${header} ${asked} is not supported: this node speaks EPCIS ${GS1_HEADERS["GS1-EPCIS-Min"]} to ${GS1_HEADERS["GS1-EPCIS-Max"]}, CBV ${GS1_HEADERS["GS1-CBV-Version"]}`, { type: "not-acceptable" });
    }
    await next();
  } catch (err) {
    const { problem, internal } = toProblem(err);
    const exception = EPCIS_EXCEPTION_BY_CODE[problem.code] ?? EPCIS_EXCEPTION_BY_STATUS[problem.status];
    if (internal || exception === undefined) throw err;
    throw new EpcisProblem(problem, exception);
  }
}

/** Methods of each EPCIS path, answered by OPTIONS (discovery). */
const ALLOW: Record<string, string> = {
  "/capture": "OPTIONS, GET, POST",
  "/capture/:captureID": "OPTIONS, GET",
  "/events": "OPTIONS, GET, POST",
  "/events/:eventID": "OPTIONS, GET",
  "/epcs/:epc/events": "OPTIONS, GET",
  "/bizSteps/:bizStep/events": "OPTIONS, GET",
  "/eventTypes": "OPTIONS, GET",
  ...Object.fromEntries(["eventTypes/:eventType", "epcs/:epc", "bizSteps/:bizStep", "bizLocations/:bizLocation", "readPoints/:readPoint", "dispositions/:disposition"].map((p) => [`/${p}`, "OPTIONS, GET"])),
  ...Object.fromEntries(["eventTypes/:eventType", "bizLocations/:bizLocation", "readPoints/:readPoint", "dispositions/:disposition"].map((p) => [`/${p}/events`, "OPTIONS, GET"])),
};

/** The top-level resources whose members have an `events` sub-resource, and the query term each fixes. */
const TOP_LEVEL: { resource: string; param: string; field: keyof EventQuery }[] = [
  { resource: "eventTypes", param: "eventType", field: "eventType" },
  { resource: "epcs", param: "epc", field: "anyEpc" },
  { resource: "bizSteps", param: "bizStep", field: "bizStep" },
  { resource: "bizLocations", param: "bizLocation", field: "bizLocation" },
  { resource: "readPoints", param: "readPoint", field: "readPoint" },
  { resource: "dispositions", param: "disposition", field: "disposition" },
];
const EVENT_TYPES = ["ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"];

export function events(context: RouteContext): EventsService {
  return requireService(context.services.events, "EPCIS events");
}

/** Logs, in the owner's access log, the documents one answer hands to a partner: one entry naming them all. */
async function logDocuments(context: RouteContext, reader: number, served: readonly { event: StoredEvent; decision: AccessDecision }[]): Promise<void> {
  const log = context.services.accessLog;
  if (!log) return;
  await log.recordAll(
    reader,
    "gateway",
    served.map(({ event, decision }) => {
      const eventID = typeof event.eventID === "string" ? event.eventID : undefined;
      return { owner: event.owner, subject: { kind: "document", eventHash: event.recordHash, ...(eventID ? { eventID } : {}) }, decision };
    }),
  );
}

/**
 * Evaluates GS1 query parameters as organisation `org` sees them: one page of the events it may
 * read, each logged in its owner's access log. GET /events and friends answer with it; named
 * queries and subscriptions (queries.ts) too. `only` narrows the candidates to these events.
 */
export async function evaluateQuery(
  context: RouteContext,
  org: number,
  params: Context["query"],
  options: { fixed?: EventQuery; only?: readonly StoredEvent[]; perPage?: number; nextPageToken?: string } = {},
): Promise<{ events: StoredEvent[]; nextPageToken?: string; nextPageTokenExpires?: string; eventCountLimit?: number }> {
  const ev = events(context);
  const parsed = parseQuery({ query: params } as Context, options.fixed);
  if (options.perPage !== undefined) parsed.perPage = options.perPage;
  if (options.nextPageToken !== undefined) parsed.nextPageToken = options.nextPageToken;
  const { query, perPage, eventCountLimit } = parsed;
  let only: Set<string> | undefined;
  if (options.only) {
    // The events' own time span bounds the walk: the store is not scanned beyond them.
    only = new Set(options.only.map((e) => e.sid));
    const ms = (t: number | string) => (typeof t === "number" ? t : Date.parse(t));
    const times = options.only.map((e) => ms(String(e.event["eventTime"])));
    const from = Math.min(...times);
    const to = Math.max(...times) + 1;
    query.geEventTime = query.geEventTime === undefined ? from : Math.max(from, ms(query.geEventTime));
    query.ltEventTime = query.ltEventTime === undefined ? to : Math.min(to, ms(query.ltEventTime));
  }
  try {
    const terms = eventTerms(await withDescendants(ev, params), (name) => !STORE_PARAMETERS.has(name) && isEventTermParameter(name));
    const decisions = new Map<StoredEvent, AccessDecision>();
    const options = {
      // A page token is bound to the caller and to the terms tested here as well as the store's query.
      audience: `org:${org}${terms.key === "" ? "" : `|${terms.key}`}`,
      filter: async (e: StoredEvent) => {
        if (only && !only.has(e.sid)) return false;
        if (!terms.matches(e)) return false;
        const d = await ev.visibility.mayRead(e, org);
        decisions.set(e, d);
        return d.allowed;
      },
    };
    const inStoreOrder = parsed.order.by === "eventTime" && !parsed.order.descending && parsed.maxEventCount === undefined;
    const page = inStoreOrder
      ? await ev.store.query(query, { ...options, perPage, ...(parsed.nextPageToken !== undefined ? { nextPageToken: parsed.nextPageToken } : {}) })
      : await sortedPage(ev, query, options, parsed);
    await logDocuments(context, org, page.events.map((event) => ({ event, decision: decisions.get(event) ?? { allowed: false } })));
    return {
      events: page.events,
      ...(page.nextPageToken !== undefined ? { nextPageToken: page.nextPageToken } : {}),
      ...(page.nextPageTokenExpires !== undefined ? { nextPageTokenExpires: page.nextPageTokenExpires } : {}),
      ...(eventCountLimit !== undefined ? { eventCountLimit } : {}),
    };
  } catch (e) {
    const code = codeOf(e);
    if (code === "invalid-query" || code === "invalid-page-token") throw queryProblem((e as Error).message);
    throw e;
  }
}

/** Throws the problem a query of these parameters would be refused with (named queries check theirs when created). */
export function checkQuery(params: Context["query"]): void {
  try {
    parseQuery({ query: params } as Context);
    eventTerms(params, (name) => !STORE_PARAMETERS.has(name) && isEventTermParameter(name));
  } catch (e) {
    if (codeOf(e) === "invalid-query") throw queryProblem((e as Error).message);
    throw e;
  }
}

/** Answers an event query of the request's parameters (and the route's fixed terms). */
export async function runQuery(ctx: Context, context: RouteContext, fixed: EventQuery = {}, params: Context["query"] = ctx.query): Promise<void> {
  const page = await evaluateQuery(context, ctx.state.caller!.orgId, params, { fixed });
  // eventCountLimit: at most that many events in all, so no further page.
  if (page.nextPageToken !== undefined && page.eventCountLimit === undefined) {
    ctx.set("Link", nextLink(ctx, page.nextPageToken));
    if (page.nextPageTokenExpires !== undefined) ctx.set("GS1-Next-Page-Token-Expires", page.nextPageTokenExpires);
  }
  sendQueryDocument(ctx, queryDocument(page.events));
}

/** Descendants a WD_ parameter may reach at most (a hierarchy is master data, bounded like a page). */
const MAX_DESCENDANTS = 1000;

/**
 * The query with WD_readPoint / WD_bizLocation widened to each location's descendants, as the
 * master data's `children` name them (transitively). Only used for matching: the events found
 * are still filtered by what the caller may read.
 */
async function withDescendants(ev: EventsService, query: Context["query"]): Promise<Context["query"]> {
  const out = { ...query };
  for (const [param, vocabulary] of [["WD_readPoint", "ReadPoint"], ["WD_bizLocation", "BusinessLocation"]] as const) {
    const raw = out[param];
    if (typeof raw !== "string" || raw.trim() === "") continue;
    const seen = new Set(raw.split("|").map((v) => canonicalEpcValue(v.trim())));
    for (let frontier = [...seen]; frontier.length > 0 && seen.size < MAX_DESCENDANTS; ) {
      const children = (await ev.store.masterData(vocabulary, { ids: frontier })).flatMap((e) => e.children).filter((c) => !seen.has(c));
      for (const c of children) seen.add(c);
      frontier = children;
    }
    out[param] = [...seen].join("|");
  }
  return out;
}

/**
 * One page of a query answered in another order than the store keeps (recordTime, or descending),
 * or under maxEventCount: every visible match is gathered (at most SORTED_ANSWER_LIMIT), sorted,
 * and paged by position. The page token carries the position and a digest of the query and caller.
 */
async function sortedPage(
  ev: EventsService,
  query: EventQuery,
  options: { audience: string; filter: (e: StoredEvent) => Promise<boolean> },
  parsed: ParsedQuery,
): Promise<{ events: StoredEvent[]; nextPageToken?: string; nextPageTokenExpires?: string }> {
  const bound = createHash("sha256").update(JSON.stringify({ query, audience: options.audience, order: parsed.order, perPage: parsed.perPage, max: parsed.maxEventCount ?? null })).digest("base64url").slice(0, 16);
  let offset = 0;
  if (parsed.nextPageToken !== undefined) {
    const m = /^s\.([0-9]+)\.([0-9]+)\.([A-Za-z0-9_-]{16})$/.exec(parsed.nextPageToken);
    if (!m || m[3] !== bound) throw queryProblem("nextPageToken belongs to a different query (the parameters, perPage and caller must stay the same)");
    if (Date.now() >= Number(m[2])) throw queryProblem(`nextPageToken expired at ${new Date(Number(m[2])).toISOString()}; run the query again`);
    offset = Number(m[1]);
  }
  const all: StoredEvent[] = [];
  let token: string | undefined;
  do {
    const page = await ev.store.query(query, { ...options, perPage: 1000, ...(token !== undefined ? { nextPageToken: token } : {}) });
    all.push(...page.events);
    token = page.nextPageToken;
    if (parsed.maxEventCount !== undefined && all.length > parsed.maxEventCount)
      throw new HttpProblem(413, `the query matches more than maxEventCount=${parsed.maxEventCount} events`, { type: "query-too-large" });
    if (all.length > SORTED_ANSWER_LIMIT)
      throw new HttpProblem(413, `the query matches more than ${SORTED_ANSWER_LIMIT} events, too many to order by ${parsed.order.by} ${parsed.order.descending ? "DESC" : "ASC"}; narrow it, or use the default order (eventTime ASC), which pages without limit`, { type: "query-too-large" });
  } while (token !== undefined);
  const key = (e: StoredEvent) => Date.parse(parsed.order.by === "recordTime" ? e.storedAt : (canonicalTimestamp(String(e.event["eventTime"])) ?? ""));
  all.sort((a, b) => (key(a) - key(b) || (a.sid < b.sid ? -1 : 1)) * (parsed.order.descending ? -1 : 1));
  const events = all.slice(offset, offset + parsed.perPage);
  if (offset + parsed.perPage >= all.length) return { events };
  const expires = Date.now() + PAGE_TOKEN_LIFETIME_MS;
  return { events, nextPageToken: `s.${offset + parsed.perPage}.${expires}.${bound}`, nextPageTokenExpires: new Date(expires).toISOString() };
}

/** The events an eventID (or CBV hash ID) names that the caller may see, with why; 404 when none. */
async function visibleById(ctx: Context, context: RouteContext, id: string): Promise<{ event: StoredEvent; decision: AccessDecision }[]> {
  const ev = events(context);
  const org = ctx.state.caller!.orgId;
  const found = await ev.store.get(id);
  const visible: { event: StoredEvent; decision: AccessDecision }[] = [];
  for (const event of found) {
    const decision = await ev.visibility.mayRead(event, org);
    if (decision.allowed) visible.push({ event, decision });
  }
  // Not found and not visible look the same: existence is not revealed to outsiders.
  if (visible.length === 0) throw notFound(`no event ${id} that ${ctx.state.caller!.orgName} may read`);
  return visible;
}

export function register(router: GatewayRouter, context: RouteContext): void {
  const requireOrg = context.auth.requireOrg();
  // Every EPCIS route announces the GS1 headers, also on refusals.
  const auth = [gs1, requireOrg] as const;

  for (const [path, allow] of Object.entries(ALLOW))
    router.options(path, ...auth, (ctx) => {
      ctx.set("Allow", allow);
      if (path === "/capture" || path === "/events") {
        ctx.set("GS1-EPCIS-Capture-Limit", String(events(context).maxCaptureEvents));
        ctx.set("GS1-EPCIS-Capture-File-Size-Limit", String(context.options.bodyLimits.large));
        ctx.set("GS1-Capture-Error-Behaviour", "rollback");
      }
      ctx.status = 204;
    });

  /** Accepts a document for capture as the caller, mapping the node's refusals to problems. */
  const accept = async (ctx: Context, doc: unknown) => {
    const ev = events(context);
    const caller = ctx.state.caller!;
    try {
      return await ev.accept(doc, caller.orgId);
    } catch (e) {
      throw captureProblem(e) ?? e;
    }
  };
  /** Refuses a stranger before its body is read (the node checks the owner again when accepting). */
  const ownOrganisationOnly = (ctx: Context) => {
    const caller = ctx.state.caller!;
    if (caller.orgId !== events(context).organisation)
      throw forbidden(`this node captures events for ${context.services.organisation.name} only; ${caller.orgName} captures at its own node`);
  };

  router.post("/capture", ...auth, async (ctx) => {
    ownOrganisationOnly(ctx);
    ctx.set("GS1-EPCIS-Capture-Limit", String(events(context).maxCaptureEvents));
    const behaviour = ctx.get("GS1-Capture-Error-Behaviour");
    if (behaviour !== "" && behaviour !== "rollback")
      throw badRequest(`GS1-Capture-Error-Behaviour "${behaviour}" is not supported: a document is recorded whole or not at all (rollback)`);
    const body = await captureBody(ctx, context);
    // Master data (routes/master-data.ts): checked whole before anything is recorded, kept once the events are accepted.
    const masterData = hasMasterData(body) ? await masterDataToCapture(context, body, ctx.state.caller!.orgId) : [];
    if ((body as { type?: unknown }).type === "EPCISMasterDataDocument") {
      await events(context).store.putMasterData(masterData);
      ctx.status = 201;
      ctx.body = { vocabularyElements: masterData.length };
      return;
    }
    const submitted = await accept(ctx, body);
    if (masterData.length > 0) await events(context).store.putMasterData(masterData);
    ctx.status = 202;
    ctx.set("Location", `/capture/${submitted.job.captureID}`);
    ctx.body = { ...jobView(submitted.job), replay: submitted.replay } satisfies CaptureJobAnswer;
  });

  router.get("/capture", ...auth, async (ctx) => {
    const ev = events(context);
    const pp = one(ctx, "perPage");
    const perPage = pp === undefined ? 30 : Number(pp);
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 1000) throw queryProblem(`perPage must be an integer from 1 to 1000 (got "${pp}")`);
    const token = one(ctx, "nextPageToken");
    let after: string | undefined;
    if (token !== undefined) {
      after = Buffer.from(token, "base64url").toString("utf8");
      if (!/^[0-9a-z]{9}[0-9a-f]{12}$/.test(after)) throw queryProblem("nextPageToken is malformed");
    }
    const page = await ev.capture.jobs(ctx.state.caller!.orgId, { perPage, ...(after !== undefined ? { after } : {}) });
    if (page.next !== undefined) ctx.set("Link", nextLink(ctx, Buffer.from(page.next).toString("base64url")));
    ctx.body = page.jobs.map(jobView) satisfies CaptureJobsAnswer;
  });

  router.get("/capture/:captureID", ...auth, async (ctx) => {
    const ev = events(context);
    const job = await ev.capture.job(ctx.params["captureID"]!);
    if (job === undefined || job.owner !== ctx.state.caller!.orgId) throw notFound(`no capture job ${ctx.params["captureID"]} of ${ctx.state.caller!.orgName}`);
    ctx.body = jobView(job);
  });

  router.get("/events", ...auth, (ctx) => runQuery(ctx, context));

  // Single-event capture (synchronous in the standard): the event is recorded as a one-event
  // document and answered once its job has finished, 201 with the event's Location.
  router.post("/events", ...auth, async (ctx) => {
    ownOrganisationOnly(ctx);
    const body = await captureBody(ctx, context);
    const event = isSingleEvent(body);
    const doc = {
      "@context": event["@context"] ?? [EPCIS_CONTEXT_URLS[0]],
      type: "EPCISDocument",
      schemaVersion: "2.0",
      creationDate: new Date(context.options.clock()).toISOString(),
      epcisBody: { eventList: [Object.fromEntries(Object.entries(event).filter(([k]) => k !== "@context"))] },
    };
    const { job } = await accept(ctx, doc);
    const done = job.running ? await events(context).capture.finished(job.captureID) : job;
    const result = done.results?.[0];
    if (!done.success || result === undefined)
      throw new HttpProblem(409, `the event was not recorded: ${done.errors.map((e) => e.message).join("; ") || done.state}`, { type: "capture-refused", extra: { captureID: done.captureID } });
    const id = result.eventID ?? result.hashId;
    ctx.status = 201;
    ctx.set("Location", `/events/${encodeURIComponent(id)}`);
    ctx.body = { eventID: id, hashId: result.hashId, recordHash: result.recordHash, how: result.how, captureID: done.captureID };
  });

  router.get("/events/:eventID", ...auth, async (ctx) => {
    const found = await visibleById(ctx, context, ctx.params["eventID"]!);
    await logDocuments(context, ctx.state.caller!.orgId, found);
    sendQueryDocument(ctx, queryDocument(found.map((f) => f.event)));
  });

  // Top-level resources (HATEOAS): /eventTypes lists the types; each member has an `events` sub-resource
  // (the identifier lists GET /epcs, /bizSteps, ... are routes/identifiers.ts).
  router.get("/eventTypes", ...auth, (ctx) => {
    ctx.body = { "@context": EPCIS_CONTEXT_URLS[0], type: "Collection", member: EVENT_TYPES };
  });
  for (const { resource, param, field } of TOP_LEVEL) {
    router.get(`/${resource}/:${param}`, ...auth, (ctx) => {
      if (resource === "eventTypes" && !EVENT_TYPES.includes(ctx.params[param]!)) throw notFound(`no event type ${ctx.params[param]} (${EVENT_TYPES.join(", ")})`);
      ctx.body = { "@context": EPCIS_CONTEXT_URLS[0], type: "Collection", member: ["events"] };
    });
    router.get(`/${resource}/:${param}/events`, ...auth, (ctx) => runQuery(ctx, context, { [field]: [ctx.params[param]!] }));
  }

  router.get("/events/:eventID/readings", ...auth, async (ctx) => {
    const ev = events(context);
    const found = await visibleById(ctx, context, ctx.params["eventID"]!);
    const own = found.filter(({ event }) => event.origin.kind === "own" && event.owner === ev.organisation);
    if (own.length === 0) {
      // Another organisation's event: its readings come from the owner's node, verified there
      // reading by reading (node/p2p/remote.ts), for this node's own organisation only.
      const { event: e } = found[0]!;
      const remote = ctx.state.caller!.orgId === ev.organisation ? context.services.remote : undefined;
      if (!remote)
        throw new HttpProblem(409, `event ${ctx.params["eventID"]} was captured by organisation ${e.owner}; its readings are held by that organisation's node`, { type: "elsewhere" });
      let answer;
      try {
        answer = await remote.boundReadings(e);
      } catch (err) {
        if (err instanceof ReadingBindingError) throw badRequest(`the event's reading binding is malformed: ${err.message}`);
        throw err;
      }
      if ("unavailable" in answer)
        throw new HttpProblem(answer.refused ? 403 : 503, `the readings of event ${ctx.params["eventID"]}: ${answer.unavailable}`, { type: answer.refused ? "not-granted" : "unavailable" });
      ctx.body = { eventID: e.eventID ?? e.hashId, hashId: e.hashId, recordHash: e.recordHash, owner: e.owner, chain: e.chain ?? null, streams: answer.streams } satisfies EventReadingsAnswer;
      return;
    }
    const { event: e, decision } = own[0]!;
    let bindings;
    try {
      bindings = readingBindingsOf(e.event, e.context);
    } catch (err) {
      if (err instanceof ReadingBindingError) throw badRequest(`the event's reading binding is malformed: ${err.message}`);
      throw err;
    }
    const proofs = bindings.length > 0 ? requireService(context.services.proofs, "reading proofs") : undefined;
    let streams;
    try {
      streams = proofs ? await ev.boundReadings(proofs, bindings) : [];
    } catch (err) {
      if (codeOf(err) === "too-many-readings") throw new HttpProblem(413, (err as Error).message, { type: "too-many-readings" });
      throw err;
    }
    // Anchor facts straight from the chain (the verifier reads them there itself; these are for display).
    const anchors = new Map<string, Promise<{ root: string; leafCount: number } | undefined>>();
    const anchorOf = (node: string, sequence: number) => {
      const key = `${node}:${sequence}`;
      if (!anchors.has(key))
        anchors.set(
          key,
          context.services.contracts.dataAnchors.getAnchor(node, sequence).then(
            (a) => ({ root: a.root, leafCount: Number(a.leafCount) }),
            () => undefined,
          ),
        );
      return anchors.get(key)!;
    };
    for (const s of streams) for (const r of s.readings) Object.assign(r.anchor, (await anchorOf(r.anchor.node, r.anchor.sequence)) ?? {});
    await context.services.accessLog?.record(
      { reader: ctx.state.caller!.orgId, owner: e.owner, channel: "gateway", subject: { kind: "readings", eventHash: e.recordHash, ...(e.eventID ? { eventID: e.eventID } : {}), streams: streams.map((s) => s.stream) } },
      decision,
    );
    // The owner sees who read this step's data, when this node keeps an access log.
    const accessLog = ctx.state.caller!.orgId === e.owner ? context.services.accessLog?.log : undefined;
    const readers = accessLog ? await accessLog.entries({ event: e.recordHash, limit: 1000 }) : undefined;
    ctx.body = {
      eventID: e.eventID ?? e.hashId,
      hashId: e.hashId,
      recordHash: e.recordHash,
      owner: e.owner,
      chain: e.chain ?? null,
      streams,
      ...(readers ? { readers } : {}),
    } satisfies EventReadingsAnswer;
  });
}

// ------------------------------------------------------------------------------ OpenAPI

const str = (description: string) => ({ type: "string", description });
const pipeList = (name: string, description: string) => ({ name, in: "query", required: false, style: "pipeDelimited", explode: false, description, schema: { type: "array", items: { type: "string" } } });

const QUERY_PARAMETERS = [
  pipeList("eventType", "ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent, AssociationEvent"),
  { name: "GE_eventTime", in: "query", required: false, schema: { type: "string", format: "date-time" } },
  { name: "LT_eventTime", in: "query", required: false, schema: { type: "string", format: "date-time" } },
  pipeList("EQ_bizStep", "bare CBV term (shipping) or URI"),
  pipeList("EQ_disposition", "bare CBV term (in_transit) or URI"),
  pipeList("MATCH_epc", "EPCs or EPC patterns in epcList / childEPCs (EPC URI or Digital Link)"),
  pipeList("MATCH_anyEPC", "EPCs or patterns in any role: epcList, childEPCs, parentID, inputEPCList, outputEPCList"),
  pipeList("MATCH_parentID", "parent EPCs or patterns"),
  pipeList("MATCH_inputEPC", "transformation inputs"),
  pipeList("MATCH_outputEPC", "transformation outputs"),
  pipeList("MATCH_epcClass", "classes in quantityList / childQuantityList"),
  pipeList("MATCH_inputEPCClass", "classes in inputQuantityList"),
  pipeList("MATCH_outputEPCClass", "classes in outputQuantityList"),
  pipeList("MATCH_anyEPCClass", "classes in any quantity list"),
  pipeList("EQ_bizLocation", "business locations (SGLN or Digital Link)"),
  pipeList("EQ_readPoint", "read points"),
  pipeList("EQ_eventID", "declared eventIDs, CBV 2.0 hash IDs or CBV 2.1 hash IDs (aliases)"),
  { name: "EXISTS_errorDeclaration", in: "query", required: false, schema: { type: "boolean" } },
  ...EVENT_TERM_PARAMETERS.map((name) => ({ name, in: "query", required: false, schema: { type: "string" }, description: "tested on each candidate event (lib/epcis/query-terms.ts); recordTime is when this node recorded the event" })),
  { name: "orderBy", in: "query", required: false, schema: { type: "string", enum: ["eventTime", "recordTime"], default: "eventTime" }, description: "an order other than eventTime ASC is sorted in memory: at most 1000 matches (else QueryTooLargeException)" },
  { name: "orderDirection", in: "query", required: false, schema: { type: "string", enum: ["ASC", "DESC"], default: "ASC" } },
  { name: "eventCountLimit", in: "query", required: false, schema: { type: "integer", minimum: 1 }, description: "at most this many events in all (no further page)" },
  { name: "maxEventCount", in: "query", required: false, schema: { type: "integer", minimum: 0 }, description: "QueryTooLargeException (413) when more events match" },
  { name: "perPage", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 1000, default: 30 } },
  { name: "nextPageToken", in: "query", required: false, schema: { type: "string" }, description: "from the previous page's Link header" },
];

const QUERY_DOCUMENT = {
  description:
    "an EPCISQueryDocument (JSON-LD, or EPCIS 2.0 XML when Accept asks for it); a Link header with rel=next when more events follow. Parameters with flexible names (EQ_bizTransaction_<type>, EQ_source_<type>, EQ_destination_<type>, EQ_/GT_/GE_/LT_/LE_/EXISTS_[INNER_][ILMD_|SENSORELEMENT_|SENSORMETADATA_|SENSORREPORT_]<fieldname>) are answered too (lib/epcis/query-terms.ts)",
  headers: {
    Link: { schema: { type: "string" }, description: '<...nextPageToken=...>; rel="next" when more events follow' },
    "GS1-Next-Page-Token-Expires": { schema: { type: "string", format: "date-time" }, description: "when the next page's token stops being accepted (one hour)" },
  },
  content: {
    "application/ld+json": { schema: { type: "object", description: "EPCISQueryDocument (GS1 EPCIS 2.0)" } },
    "application/xml": { schema: { type: "string", description: "EPCISQueryDocument (GS1 EPCIS 2.0 XML)" } },
  },
};

export const denied = { "401": problem("no valid token"), "403": problem("the caller's organisation is not active") };
const pathParam = (name: string, description: string) => ({ name, in: "path", required: true, schema: { type: "string" }, description });

const CAPTURE_JOB = {
  type: "object",
  required: ["captureID", "createdAt", "running", "success", "errors"],
  properties: {
    captureID: { type: "string" },
    createdAt: { type: "string", format: "date-time" },
    finishedAt: { type: "string", format: "date-time" },
    state: { type: "string", enum: ["pending", "running", "succeeded", "failed"] },
    running: { type: "boolean" },
    success: { type: "boolean" },
    captureErrorBehaviour: { type: "string", enum: ["rollback"] },
    eventCount: { type: "integer" },
    results: {
      type: "array",
      items: {
        type: "object",
        properties: {
          index: { type: "integer" },
          eventID: str("as declared"),
          hashId: str("CBV 2.0 event hash ID"),
          recordHash: str("bytes32 on chain"),
          how: { type: "string", enum: ["state-change", "observation", "correction", "already-recorded", "duplicate"] },
          call: str("the Provenance function"),
          kind: str("Provenance.RecordKind"),
          recordId: str("on-chain record id"),
          tx: str("transaction hash"),
          block: { type: "integer" },
          note: str("why it was observed, or what it duplicates"),
        },
      },
    },
    errors: { type: "array", items: { type: "object", properties: { index: { type: "integer" }, eventID: { type: "string" }, message: { type: "string" } } } },
  },
};

const gs1Headers = Object.fromEntries(Object.keys(GS1_HEADERS).map((h) => [h, { schema: { type: "string" }, description: `${GS1_HEADERS[h]} (on every EPCIS answer)` }]));

export const discovery = (path: string) => ({
  tags: ["EPCIS"],
  summary: `Discovery: the methods of ${path}, the EPCIS and CBV versions, extensions${path === "/capture" || path === "/events" ? " and capture limits" : ""}`,
  security: bearer,
  parameters: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => pathParam(m[1]!, "as for GET")),
  responses: {
    "204": {
      description: "Allow and the GS1 headers",
      headers: {
        Allow: { schema: { type: "string" } },
        ...gs1Headers,
        ...(path === "/capture" || path === "/events" ? { "GS1-EPCIS-Capture-Limit": { schema: { type: "integer" } }, "GS1-EPCIS-Capture-File-Size-Limit": { schema: { type: "integer" } } } : {}),
      },
    },
    ...denied,
  },
});

const versionHeaders = [
  { name: "GS1-EPCIS-Version", in: "header", required: false, schema: { type: "string" }, description: "1.2 or 2.0; other versions answer 406" },
  { name: "GS1-CBV-Version", in: "header", required: false, schema: { type: "string" }, description: "2.0; other versions answer 406" },
];

const basePaths: OpenApiPaths = {
  "/capture": {
    post: {
      tags: ["EPCIS"],
      summary: "Capture an EPCIS 2.0 document (recorded whole on chain, or refused whole)",
      security: bearer,
      parameters: [{ name: "GS1-Capture-Error-Behaviour", in: "header", required: false, schema: { type: "string", enum: ["rollback"] } }],
      requestBody: {
        required: true,
        content: {
          "application/ld+json": { schema: { type: "object" } },
          "application/json": { schema: { type: "object" } },
          "application/xml": { schema: { type: "string", description: "EPCIS 2.0 or 1.2 XML document (lib/epcis/xml.ts)" } },
          "text/xml": { schema: { type: "string" } },
        },
      },
      responses: {
        "201": json("an EPCISMasterDataDocument, recorded: { vocabularyElements } (GET /vocabularies/{vocabulary})"),
        "202": { description: "accepted as a capture job; Location: /capture/{captureID}. Master data in the document's epcisHeader is kept with it", content: { "application/json": { schema: CAPTURE_JOB } } },
        "400": problem("not valid EPCIS 2.0 (the problem lists `errors` with JSON Pointers, or element paths for XML), or malformed JSON or XML"),
        ...denied,
        "403": problem("the caller's organisation is not this node's, or master data names an identifier under a prefix it does not hold"),
        "413": problem("the document is larger than the body limit, or has more events than one capture records"),
        "415": problem("neither a JSON nor an XML body"),
      },
    },
    get: {
      tags: ["EPCIS"],
      summary: "The caller's capture jobs, newest first",
      security: bearer,
      parameters: [
        { name: "perPage", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 1000 } },
        { name: "nextPageToken", in: "query", required: false, schema: { type: "string" } },
      ],
      responses: { "200": json("the capture jobs, a list (as GS1's OpenAPI document shapes it)", { type: "array", items: CAPTURE_JOB }), ...denied },
    },
  },
  "/capture/{captureID}": {
    get: {
      tags: ["EPCIS"],
      summary: "A capture job: state and per-event results (eventID, record id, transaction, how recorded) or errors",
      security: bearer,
      parameters: [pathParam("captureID", "from the Location of POST /capture")],
      responses: { "200": json("the capture job", CAPTURE_JOB), ...denied, "404": problem("no such job of the caller's organisation") },
    },
  },
  "/events": {
    get: {
      tags: ["EPCIS"],
      summary: "Events matching the GS1 query parameters that the caller may read",
      security: bearer,
      parameters: QUERY_PARAMETERS,
      // Parameters with flexible names (EQ_<fieldname> ...) cannot be declared: the route checks each one itself.
      "x-open-query": true,
      responses: { "200": QUERY_DOCUMENT, "400": problem("unknown parameter, bad value or page token"), ...denied },
    },
    post: {
      tags: ["EPCIS"],
      summary: "Capture one event (synchronous): recorded as a one-event document, answered when its job has finished",
      security: bearer,
      parameters: versionHeaders,
      requestBody: {
        required: true,
        content: {
          "application/json": { schema: { type: "object", description: "one EPCIS event (with its @context), or an EPCISDocument of one event" } },
          "application/ld+json": { schema: { type: "object" } },
          "application/xml": { schema: { type: "string", description: "an EPCIS XML document of one event" } },
          "text/xml": { schema: { type: "string" } },
        },
      },
      responses: {
        "201": json("{ eventID, hashId, recordHash, how, captureID }; Location: /events/{eventID}"),
        "400": problem("not one valid EPCIS event"),
        ...denied,
        "406": problem("a GS1-EPCIS-Version or GS1-CBV-Version this node does not speak"),
        "409": problem("the node or the chain refused to record the event (the capture job names why)"),
        "415": problem("neither a JSON nor an XML body"),
      },
    },
  },
  "/events/{eventID}": {
    get: {
      tags: ["EPCIS"],
      summary: "One event (by eventID or CBV 2.0 hash ID, URL-encoded) and its error declarations",
      security: bearer,
      parameters: [pathParam("eventID", "declared eventID or CBV 2.0 hash ID")],
      responses: { "200": QUERY_DOCUMENT, ...denied, "404": problem("no such event the caller may read") },
    },
  },
  "/events/{eventID}/readings": {
    get: {
      tags: ["EPCIS", "Data integrity"],
      summary: "The plant-floor readings the event names (lib/epcis/readings.ts), each with its Merkle proof and anchor",
      security: bearer,
      parameters: [pathParam("eventID", "declared eventID or CBV 2.0 hash ID")],
      responses: {
        "200": json("{ eventID, hashId, recordHash, owner, chain, readers (the owner's access log entries for this event, to the owner only), streams: [{ stream, node, from, to, readings: [{ reading, proof, anchor }] }] }"),
        ...denied,
        "404": problem("no such event the caller may read"),
        "403": problem("the caller's organisation is not active, or the event's owner (another organisation) refused its readings to this node"),
        "409": problem("the event was captured by another organisation, whose node holds its readings (asked for by another organisation than this node's, or no peer network)"),
        "413": problem("the event names too many readings"),
        "503": problem("the event was captured by another organisation, whose node did not deliver its readings in time"),
      },
    },
  },
  "/eventTypes": {
    get: {
      tags: ["EPCIS"],
      summary: "The EPCIS event types (a Collection)",
      security: bearer,
      responses: { "200": json("{ type: Collection, member: [ObjectEvent, ...] }"), ...denied },
    },
  },
  ...Object.fromEntries(
    TOP_LEVEL.flatMap(({ resource, param, field }) => [
      [
        `/${resource}/{${param}}`,
        {
          get: {
            tags: ["EPCIS"],
            summary: `Sub-resources of one ${param} (a Collection: events)`,
            security: bearer,
            parameters: [pathParam(param, "URL-encoded")],
            responses: { "200": json("{ type: Collection, member: [events] }"), ...denied, ...(resource === "eventTypes" ? { "404": problem("not an EPCIS event type") } : {}) },
          },
        },
      ],
      [
        `/${resource}/{${param}}/events`,
        {
          get: {
            tags: ["EPCIS"],
            summary: `Events with this ${param} (as ${String(field)} in the query), further filtered by the query parameters`,
            security: bearer,
            parameters: [pathParam(param, "URL-encoded; bare CBV term or URI for vocabularies"), ...QUERY_PARAMETERS],
            "x-open-query": true,
            responses: { "200": QUERY_DOCUMENT, "400": problem("unknown parameter, bad value or page token"), ...denied },
          },
        },
      ],
    ]),
  ),
};

export const paths: OpenApiPaths = Object.fromEntries(
  Object.entries(basePaths).map(([path, item]) => {
    const koaPath = path.replace(/\{([^}]+)\}/g, ":$1");
    return [path, Object.hasOwn(ALLOW, koaPath) ? { ...item, options: discovery(path) } : item];
  }),
);
