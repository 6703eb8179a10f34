/**
 * GS1 EPCIS 2.0 REST bindings: capture (POST /capture, jobs at /capture/{captureID}) and queries
 * (/events with the GS1 query parameters, /events/{eventID}, /epcs/{epc}/events,
 * /bizSteps/{bizStep}/events), plus the readings bound to an event with their proofs.
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
import type { Context } from "koa";
import type { AccessDecision } from "../../lib/access.ts";
import type { CaptureJobAnswer, CaptureJobsAnswer } from "../../lib/api/capture.ts";
import type { EventReadingsAnswer } from "../../lib/api/readings.ts";
import { EPCIS_CONTEXT_URLS } from "../../lib/epcis/contexts.ts";
import { publishedEvent } from "../../lib/epcis/published.ts";
import { type ErrorCode, TracemeshError } from "../../lib/errors.ts";
import { ReadingBindingError, readingBindingsOf } from "../../lib/epcis/readings.ts";
import type { CaptureJob } from "../../node/events/capture.ts";
import type { EventQuery, StoredEvent } from "../../node/events/store.ts";
import type { EventsService } from "../services.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { HttpProblem, badRequest, forbidden, notFound, requireService } from "../errors.ts";
import { bearer, json, problem } from "../openapi.ts";

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

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
  MATCH_anyEPCClass: "anyEpcClass",
  EQ_bizLocation: "bizLocation",
  EQ_readPoint: "readPoint",
  EQ_eventID: "eventID",
};

function one(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  if (Array.isArray(v)) throw badRequest(`query parameter \`${name}\` is given ${v.length} times; give it once`);
  return v;
}

/** The GS1 query of a request (pipe-delimited lists), plus the fixed terms of the route. */
function parseQuery(ctx: Context, fixed: EventQuery = {}): { query: EventQuery; perPage: number; nextPageToken?: string } {
  const q: Record<string, unknown> = { ...fixed };
  for (const [param, field] of Object.entries(LIST_PARAMS)) {
    const raw = ctx.query[param];
    if (raw === undefined) continue;
    const values = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => v.split("|")).map((v) => v.trim());
    if (values.some((v) => v === "")) throw badRequest(`query parameter \`${param}\` has an empty value (lists are separated by "|")`);
    q[field] = [...((q[field] as string[] | undefined) ?? []), ...values];
  }
  for (const [param, field] of [["GE_eventTime", "geEventTime"], ["LT_eventTime", "ltEventTime"]] as const) {
    const v = one(ctx, param);
    if (v !== undefined) q[field] = v;
  }
  const exists = one(ctx, "EXISTS_errorDeclaration");
  if (exists !== undefined) {
    if (!["", "true", "false"].includes(exists)) throw badRequest(`EXISTS_errorDeclaration must be true or false (got "${exists}")`);
    if (exists !== "false") q["errorDeclaration"] = true;
  }
  const pp = one(ctx, "perPage");
  const perPage = pp === undefined ? 30 : Number(pp);
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > 1000) throw badRequest(`perPage must be an integer from 1 to 1000 (got "${pp}")`);
  const token = one(ctx, "nextPageToken");
  return { query: q as EventQuery, perPage, ...(token !== undefined ? { nextPageToken: token } : {}) };
}

/** An event as published: with its eventID, and its document's inline context terms when it needs them. */
function eventOut(e: StoredEvent): Record<string, unknown> {
  const out = { ...publishedEvent(e) };
  const inline = (Array.isArray(e.context) ? e.context : [e.context]).filter((c) => isObject(c) || (typeof c === "string" && !EPCIS_CONTEXT_URLS.includes(c)));
  if (inline.length > 0 && out["@context"] === undefined) return { "@context": inline, ...out };
  return out;
}

export function queryDocument(events: readonly StoredEvent[], queryName = "SimpleEventQuery"): Record<string, unknown> {
  return {
    "@context": [EPCIS_CONTEXT_URLS[0]],
    type: "EPCISQueryDocument",
    schemaVersion: "2.0",
    creationDate: new Date().toISOString(),
    epcisBody: { queryResults: { queryName, resultsBody: { eventList: events.map(eventOut) } } },
  };
}

function nextLink(ctx: Context, token: string): string {
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

function events(context: RouteContext): EventsService {
  return requireService(context.services.events, "EPCIS events");
}

/** Logs, in the owner's access log, each document handed to a partner. */
async function logDocuments(context: RouteContext, reader: number, served: readonly { event: StoredEvent; decision: AccessDecision }[]): Promise<void> {
  const log = context.services.accessLog;
  if (!log) return;
  for (const { event, decision } of served) {
    const eventID = typeof event.eventID === "string" ? event.eventID : undefined;
    await log.record({ reader, owner: event.owner, channel: "gateway", subject: { kind: "document", eventHash: event.recordHash, ...(eventID ? { eventID } : {}) } }, decision);
  }
}

async function runQuery(ctx: Context, context: RouteContext, fixed: EventQuery = {}): Promise<void> {
  const ev = events(context);
  const org = ctx.state.caller!.orgId;
  const { query, perPage, nextPageToken } = parseQuery(ctx, fixed);
  try {
    const decisions = new Map<StoredEvent, AccessDecision>();
    const page = await ev.store.query(query, {
      perPage,
      ...(nextPageToken !== undefined ? { nextPageToken } : {}),
      audience: `org:${org}`,
      filter: async (e) => {
        const d = await ev.visibility.mayRead(e, org);
        decisions.set(e, d);
        return d.allowed;
      },
    });
    await logDocuments(context, org, page.events.map((event) => ({ event, decision: decisions.get(event) ?? { allowed: false } })));
    if (page.nextPageToken !== undefined) ctx.set("Link", nextLink(ctx, page.nextPageToken));
    ctx.type = "application/ld+json";
    ctx.body = queryDocument(page.events);
  } catch (e) {
    const code = codeOf(e);
    if (code === "invalid-query" || code === "invalid-page-token") throw badRequest((e as Error).message);
    throw e;
  }
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
  const auth = context.auth.requireOrg();

  router.post("/capture", auth, async (ctx) => {
    const ev = events(context);
    const caller = ctx.state.caller!;
    // The node checks the owner again (accept); refusing here spares reading a stranger's body.
    if (caller.orgId !== ev.organisation)
      throw forbidden(`this node captures events for ${context.services.organisation.name} only; ${caller.orgName} captures at its own node`);
    const behaviour = ctx.get("GS1-Capture-Error-Behaviour");
    if (behaviour !== "" && behaviour !== "rollback")
      throw badRequest(`GS1-Capture-Error-Behaviour "${behaviour}" is not supported: a document is recorded whole or not at all (rollback)`);
    const doc = await context.readJson(ctx, "large");
    let submitted;
    try {
      submitted = await ev.accept(doc, caller.orgId);
    } catch (e) {
      throw captureProblem(e) ?? e;
    }
    ctx.status = 202;
    ctx.set("Location", `/capture/${submitted.job.captureID}`);
    ctx.body = { ...jobView(submitted.job), replay: submitted.replay } satisfies CaptureJobAnswer;
  });

  router.get("/capture", auth, async (ctx) => {
    const ev = events(context);
    const pp = one(ctx, "perPage");
    const perPage = pp === undefined ? 30 : Number(pp);
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 1000) throw badRequest(`perPage must be an integer from 1 to 1000 (got "${pp}")`);
    const token = one(ctx, "nextPageToken");
    let after: string | undefined;
    if (token !== undefined) {
      after = Buffer.from(token, "base64url").toString("utf8");
      if (!/^[0-9a-z]{9}[0-9a-f]{12}$/.test(after)) throw badRequest("nextPageToken is malformed");
    }
    const page = await ev.capture.jobs(ctx.state.caller!.orgId, { perPage, ...(after !== undefined ? { after } : {}) });
    if (page.next !== undefined) ctx.set("Link", nextLink(ctx, Buffer.from(page.next).toString("base64url")));
    ctx.body = { captureJobs: page.jobs.map(jobView) } satisfies CaptureJobsAnswer;
  });

  router.get("/capture/:captureID", auth, async (ctx) => {
    const ev = events(context);
    const job = await ev.capture.job(ctx.params["captureID"]!);
    if (job === undefined || job.owner !== ctx.state.caller!.orgId) throw notFound(`no capture job ${ctx.params["captureID"]} of ${ctx.state.caller!.orgName}`);
    ctx.body = jobView(job);
  });

  router.get("/events", auth, (ctx) => runQuery(ctx, context));

  router.get("/events/:eventID", auth, async (ctx) => {
    const found = await visibleById(ctx, context, ctx.params["eventID"]!);
    await logDocuments(context, ctx.state.caller!.orgId, found);
    ctx.type = "application/ld+json";
    ctx.body = queryDocument(found.map((f) => f.event));
  });

  router.get("/epcs/:epc/events", auth, (ctx) => runQuery(ctx, context, { anyEpc: [ctx.params["epc"]!] }));

  router.get("/bizSteps/:bizStep/events", auth, (ctx) => runQuery(ctx, context, { bizStep: [ctx.params["bizStep"]!] }));

  router.get("/events/:eventID/readings", auth, async (ctx) => {
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
    ctx.body = { eventID: e.eventID ?? e.hashId, hashId: e.hashId, recordHash: e.recordHash, owner: e.owner, chain: e.chain ?? null, streams } satisfies EventReadingsAnswer;
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
  pipeList("MATCH_anyEPCClass", "classes in any quantity list"),
  pipeList("EQ_bizLocation", "business locations (SGLN or Digital Link)"),
  pipeList("EQ_readPoint", "read points"),
  pipeList("EQ_eventID", "declared eventIDs or CBV 2.0 hash IDs"),
  { name: "EXISTS_errorDeclaration", in: "query", required: false, schema: { type: "boolean" } },
  { name: "perPage", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 1000, default: 30 } },
  { name: "nextPageToken", in: "query", required: false, schema: { type: "string" }, description: "from the previous page's Link header" },
];

const QUERY_DOCUMENT = {
  description: "an EPCISQueryDocument; a Link header with rel=next when more events follow",
  content: { "application/ld+json": { schema: { type: "object", description: "EPCISQueryDocument (GS1 EPCIS 2.0)" } } },
};

const denied = { "401": problem("no valid token"), "403": problem("the caller's organisation is not active") };
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

export const paths: OpenApiPaths = {
  "/capture": {
    post: {
      tags: ["EPCIS"],
      summary: "Capture an EPCIS 2.0 document (recorded whole on chain, or refused whole)",
      security: bearer,
      parameters: [{ name: "GS1-Capture-Error-Behaviour", in: "header", required: false, schema: { type: "string", enum: ["rollback"] } }],
      requestBody: { required: true, content: { "application/ld+json": { schema: { type: "object" } }, "application/json": { schema: { type: "object" } } } },
      responses: {
        "202": { description: "accepted as a capture job; Location: /capture/{captureID}", content: { "application/json": { schema: CAPTURE_JOB } } },
        "400": problem("not valid EPCIS 2.0 (the problem lists `errors` with JSON Pointers), or malformed JSON"),
        ...denied,
        "413": problem("the document is larger than the body limit, or has more events than one capture records"),
        "415": problem("not a JSON body"),
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
      responses: { "200": json("{ captureJobs: [...] }", { type: "object", properties: { captureJobs: { type: "array", items: CAPTURE_JOB } } }), ...denied },
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
      responses: { "200": QUERY_DOCUMENT, "400": problem("unknown parameter, bad value or page token"), ...denied },
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
        "200": json("{ eventID, hashId, recordHash, owner, chain, streams: [{ stream, node, from, to, readings: [{ reading, proof, anchor }] }] }"),
        ...denied,
        "404": problem("no such event the caller may read"),
        "403": problem("the caller's organisation is not active, or the event's owner (another organisation) refused its readings to this node"),
        "409": problem("the event was captured by another organisation, whose node holds its readings (asked for by another organisation than this node's, or no peer network)"),
        "413": problem("the event names too many readings"),
        "503": problem("the event was captured by another organisation, whose node did not deliver its readings in time"),
      },
    },
  },
  "/epcs/{epc}/events": {
    get: {
      tags: ["EPCIS"],
      summary: "Events naming an EPC in any role (MATCH_anyEPC), further filtered by the query parameters",
      security: bearer,
      parameters: [pathParam("epc", "EPC URI, pattern or Digital Link, URL-encoded"), ...QUERY_PARAMETERS],
      responses: { "200": QUERY_DOCUMENT, "400": problem("unknown parameter, bad value or page token"), ...denied },
    },
  },
  "/bizSteps/{bizStep}/events": {
    get: {
      tags: ["EPCIS"],
      summary: "Events of one business step, further filtered by the query parameters",
      security: bearer,
      parameters: [pathParam("bizStep", "bare CBV term or URI"), ...QUERY_PARAMETERS],
      responses: { "200": QUERY_DOCUMENT, "400": problem("unknown parameter, bad value or page token"), ...denied },
    },
  },
};
