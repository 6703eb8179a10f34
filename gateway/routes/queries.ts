/**
 * GS1 EPCIS 2.0 named queries and query subscriptions: /queries, /queries/{queryName},
 * /queries/{queryName}/events (paged like GET /events, or a WebSocket subscription with
 * `Upgrade: websocket`), /queries/{queryName}/subscriptions (webhooks) and each subscription's
 * delivery log. The built-in `RecallAlerts` query streams recall alerts to the holders of recalled
 * items (node/subscriptions/service.ts).
 *
 * Everything here belongs to the caller's organisation: another organisation's queries and
 * subscriptions answer 404, exactly as ones that do not exist. Results are evaluated by the one
 * query evaluation of epcis.ts (`evaluateQuery`), as the subscribing organisation, so a subscriber
 * only ever receives events it may read, and every delivery is in the owners' access logs.
 */
import type { Context } from "koa";
import type { WebSocket } from "ws";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import type { SubscriptionService } from "../services.ts";
import { badRequest, notFound, requireService } from "../errors.ts";
import { bearer, json, jsonBody, problem } from "../openapi.ts";
import { acceptWebSocket, wantsWebSocket } from "../websocket.ts";
import { checkQuery, evaluateQuery, gs1, nextLink, queryDocument, sendQueryDocument } from "./epcis.ts";

const service = (context: RouteContext): SubscriptionService => requireService(context.services.subscriptions, "EPCIS named queries and subscriptions");

/** Request parameters of GET /queries/{queryName}/events besides the query's own: paging, and a WebSocket's terms. */
const PAGING = ["perPage", "nextPageToken"];
const SUBSCRIPTION_TERMS = ["stream", "reportIfEmpty", "initialRecordTime", "second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek"];

const ALLOW: Record<string, string> = {
  "/queries": "OPTIONS, GET, POST",
  "/queries/:queryName": "OPTIONS, GET, DELETE",
  "/queries/:queryName/events": "OPTIONS, GET",
  "/queries/:queryName/subscriptions": "OPTIONS, GET, POST",
  "/queries/:queryName/subscriptions/:subscriptionID": "OPTIONS, GET, DELETE",
};

const single = (ctx: Context, name: string): string | undefined => {
  const v = ctx.query[name];
  if (Array.isArray(v)) throw badRequest(`query parameter \`${name}\` is given ${v.length} times; give it once`);
  return v;
};

export function register(router: GatewayRouter, context: RouteContext): void {
  const auth = [gs1, context.auth.requireOrg()] as const;
  const org = (ctx: Context) => ctx.state.caller!.orgId as number;
  // Subscriptions evaluate their queries exactly as GET /events does, as the subscriber.
  context.services.subscriptions?.useEvaluator({
    check: (params) => checkQuery(params),
    run: (owner, params, options = {}) => evaluateQuery(context, owner, params, options),
    isActive: (owner) => context.services.contracts.consortium.isActiveOrg(owner),
  });

  for (const [path, allow] of Object.entries(ALLOW))
    router.options(path, ...auth, (ctx) => {
      ctx.set("Allow", allow);
      ctx.status = 204;
    });

  const namedQuery = async (ctx: Context) => {
    const q = await service(context).query(org(ctx), ctx.params["queryName"]!);
    if (!q) throw notFound(`no named query ${ctx.params["queryName"]} of ${ctx.state.caller!.orgName}`);
    return q;
  };

  router.post("/queries", ...auth, async (ctx) => {
    const q = await service(context).createQuery(org(ctx), await context.readJson(ctx));
    ctx.status = 201;
    ctx.set("Location", `/queries/${encodeURIComponent(q.name)}`);
    ctx.body = { name: q.name, query: q.query };
  });

  router.get("/queries", ...auth, async (ctx) => {
    ctx.body = (await service(context).queries(org(ctx))).map((q) => ({ name: q.name, query: q.query }));
  });

  router.get("/queries/:queryName", ...auth, async (ctx) => {
    const q = await namedQuery(ctx);
    ctx.body = { name: q.name, query: q.query };
  });

  router.delete("/queries/:queryName", ...auth, async (ctx) => {
    if (!(await service(context).deleteQuery(org(ctx), ctx.params["queryName"]!))) throw notFound(`no named query ${ctx.params["queryName"]} of ${ctx.state.caller!.orgName}`);
    ctx.status = 204;
  });

  router.get("/queries/:queryName/events", ...auth, async (ctx) => {
    const q = await namedQuery(ctx);
    if (wantsWebSocket(ctx)) {
      // A WebSocket subscription: the handshake's query string holds its terms (GS1).
      const terms = Object.fromEntries(SUBSCRIPTION_TERMS.flatMap((t) => (single(ctx, t) === undefined ? [] : [[t, single(ctx, t)]])));
      const schedule = Object.fromEntries(["second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek"].filter((f) => terms[f] !== undefined).map((f) => [f, terms[f]]));
      const request = { stream: terms["stream"], reportIfEmpty: terms["reportIfEmpty"], initialRecordTime: terms["initialRecordTime"], ...(Object.keys(schedule).length > 0 ? { schedule } : {}) };
      // Checked before the handshake, so a bad subscription is a 400, not a closed socket.
      // Results found before the handshake completes (an initialRecordTime's catch-up) wait for it.
      const pending: string[] = [];
      const conn: { socket?: WebSocket } = {};
      const send = async (text: string) => {
        if (!conn.socket) {
          pending.push(text);
          return true;
        }
        if (conn.socket.readyState !== conn.socket.OPEN) return false;
        conn.socket.send(text);
        return true;
      };
      const end = await service(context).openSession(org(ctx), q.name, request, send);
      const socket = (conn.socket = await acceptWebSocket(ctx));
      for (const text of pending.splice(0)) socket.send(text);
      socket.on("close", () => end());
      socket.on("message", () => socket.close(1003, "this subscription only sends"));
      return;
    }
    const extra = Object.keys(ctx.query).filter((p) => !PAGING.includes(p));
    if (extra.length > 0) throw badRequest(`GET /queries/{queryName}/events takes perPage and nextPageToken only (the query is ${q.name}'s); got ${extra.join(", ")}${extra.some((p) => SUBSCRIPTION_TERMS.includes(p)) ? " (subscription terms need Upgrade: websocket)" : ""}`);
    if (q.name === service(context).recallQuery) {
      // Alerts are pushed as recalls happen; as a query it has no events of its own.
      sendQueryDocument(ctx, queryDocument([], q.name));
      return;
    }
    const paging = Object.fromEntries(PAGING.flatMap((p) => (ctx.query[p] === undefined ? [] : [[p, ctx.query[p]]])));
    const page = await evaluateQuery(context, org(ctx), { ...q.query, ...paging });
    if (page.nextPageToken !== undefined && page.eventCountLimit === undefined) ctx.set("Link", nextLink(ctx, page.nextPageToken));
    sendQueryDocument(ctx, queryDocument(page.events, q.name));
  });

  router.post("/queries/:queryName/subscriptions", ...auth, async (ctx) => {
    const s = service(context);
    const body = (await context.readJson(ctx)) as Record<string, unknown> | null;
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw badRequest("a subscription is a JSON object { dest, signatureToken?, stream | schedule, reportIfEmpty?, initialRecordTime? }");
    const sub = await s.subscribe(org(ctx), ctx.params["queryName"]!, body);
    ctx.status = 201;
    ctx.set("Location", `/queries/${encodeURIComponent(sub.queryName)}/subscriptions/${sub.subscriptionID}`);
    ctx.body = s.view(sub);
  });

  router.get("/queries/:queryName/subscriptions", ...auth, async (ctx) => {
    const s = service(context);
    ctx.body = (await s.subscriptions(org(ctx), ctx.params["queryName"]!)).map(s.view);
  });

  router.get("/queries/:queryName/subscriptions/:subscriptionID", ...auth, async (ctx) => {
    const s = service(context);
    const { queryName, subscriptionID } = ctx.params as { queryName: string; subscriptionID: string };
    const sub = await s.subscription(org(ctx), queryName, subscriptionID);
    if (!sub) throw notFound(`no subscription ${subscriptionID} to ${queryName} of ${ctx.state.caller!.orgName}`);
    ctx.body = { ...s.view(sub), deliveries: await s.deliveries(org(ctx), queryName, subscriptionID, 100) };
  });

  router.delete("/queries/:queryName/subscriptions/:subscriptionID", ...auth, async (ctx) => {
    const { queryName, subscriptionID } = ctx.params as { queryName: string; subscriptionID: string };
    if (!(await service(context).unsubscribe(org(ctx), queryName, subscriptionID))) throw notFound(`no subscription ${subscriptionID} to ${queryName} of ${ctx.state.caller!.orgName}`);
    ctx.status = 204;
  });
}

// ------------------------------------------------------------------------------ OpenAPI

const denied = { "401": problem("no valid token"), "403": problem("the caller's organisation is not active") };
const name = { name: "queryName", in: "path", required: true, schema: { type: "string" }, description: "a named query of the caller's organisation, or RecallAlerts" };
const subId = { name: "subscriptionID", in: "path", required: true, schema: { type: "string" } };
const SCHEDULE = {
  type: "object",
  description: "cron-like, UTC: each field a list of numbers and ranges (\"5\", \"0,30\", \"[1-5]\"); second defaults to 0",
  properties: Object.fromEntries(["second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek"].map((f) => [f, { type: "string" }])),
};
const SUBSCRIPTION = {
  type: "object",
  required: ["subscriptionID", "queryName", "dest", "createdAt"],
  properties: {
    subscriptionID: { type: "string" },
    queryName: { type: "string" },
    dest: { type: "string", format: "uri" },
    signed: { type: "boolean", description: "deliveries carry GS1-Signature: sha256=<hex HMAC-SHA256(signatureToken, body)> (the token is never answered)" },
    stream: { type: "boolean" },
    schedule: SCHEDULE,
    reportIfEmpty: { type: "boolean" },
    initialRecordTime: { type: "string", format: "date-time" },
    minRecordTime: { type: "string", format: "date-time" },
    createdAt: { type: "string", format: "date-time" },
    lastNotifiedAt: { type: "string", format: "date-time" },
    paused: { type: "object", properties: { at: { type: "string", format: "date-time" }, reason: { type: "string" } }, description: "deliveries kept failing: why, and how to resume" },
  },
};
const QUERY = { type: "object", required: ["name", "query"], properties: { name: { type: "string" }, query: { type: "object", description: "EPCIS query parameters (lists as arrays or \"|\"-separated)" } } };
const options = (path: string) => ({ tags: ["EPCIS"], summary: `Discovery: the methods of ${path}`, security: bearer, responses: { "204": { description: "Allow and the GS1 headers" }, ...denied } });

export const paths: OpenApiPaths = {
  "/queries": {
    options: options("/queries"),
    get: { tags: ["EPCIS"], summary: "The caller's named queries, and the built-in RecallAlerts", security: bearer, responses: { "200": json("named queries", { type: "array", items: QUERY }), ...denied } },
    post: {
      tags: ["EPCIS"],
      summary: "Creates a named query of the caller's organisation (GS1 QueryDefinition)",
      security: bearer,
      requestBody: { required: true, content: { "application/json": { schema: QUERY } } },
      responses: { "201": json("the query; Location: /queries/{queryName}", QUERY), "400": problem("bad name, taken name or a query parameter that cannot be used"), ...denied },
    },
  },
  "/queries/{queryName}": {
    options: { ...options("/queries/{queryName}"), parameters: [name] },
    get: { tags: ["EPCIS"], summary: "A named query", security: bearer, parameters: [name], responses: { "200": json("the query", QUERY), ...denied, "404": problem("no such query of the caller's organisation") } },
    delete: {
      tags: ["EPCIS"],
      summary: "Deletes a named query and every subscription to it",
      security: bearer,
      parameters: [name],
      responses: { "204": { description: "deleted" }, "400": problem("RecallAlerts cannot be deleted"), ...denied, "404": problem("no such query of the caller's organisation") },
    },
  },
  "/queries/{queryName}/events": {
    options: { ...options("/queries/{queryName}/events"), parameters: [name] },
    get: {
      tags: ["EPCIS"],
      summary: "The named query's events the caller may read (paged as GET /events); with Upgrade: websocket, a WebSocket subscription (stream=true, or schedule fields; reportIfEmpty, initialRecordTime)",
      security: bearer,
      parameters: [
        name,
        { name: "perPage", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 1000 } },
        { name: "nextPageToken", in: "query", required: false, schema: { type: "string" } },
        ...["stream", "reportIfEmpty", "initialRecordTime", "second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek"].map((p) => ({ name: p, in: "query", required: false, schema: { type: "string" }, description: "WebSocket subscriptions only" })),
      ],
      responses: {
        "101": { description: "WebSocket open: each result (or recall alert) arrives as one EPCISQueryDocument text message" },
        "200": json("an EPCISQueryDocument; a Link header with rel=next when more events follow"),
        "400": problem("other parameters than paging, or bad subscription terms"),
        ...denied,
        "404": problem("no such query of the caller's organisation"),
      },
    },
  },
  "/queries/{queryName}/subscriptions": {
    options: { ...options("/queries/{queryName}/subscriptions"), parameters: [name] },
    get: { tags: ["EPCIS"], summary: "The caller's webhook subscriptions to the query", security: bearer, parameters: [name], responses: { "200": json("subscriptions", { type: "array", items: SUBSCRIPTION }), ...denied, "404": problem("no such query") } },
    post: {
      tags: ["EPCIS"],
      summary: "Subscribes a webhook: results are POSTed to dest (an origin this node's operator allows), signed with signatureToken, retried with back-off; a subscription whose deliveries keep failing is paused with the reason",
      security: bearer,
      parameters: [name],
      requestBody: jsonBody({
        type: "object",
        required: ["dest"],
        properties: { dest: { type: "string", format: "uri" }, signatureToken: { type: "string", minLength: 16 }, stream: { type: "boolean" }, schedule: SCHEDULE, reportIfEmpty: { type: "boolean" }, initialRecordTime: { type: "string", format: "date-time" } },
      }),
      responses: { "201": json("the subscription; Location: its URL", SUBSCRIPTION), "400": problem("a destination not allowed, neither stream nor schedule (or both), bad schedule"), ...denied, "404": problem("no such query") },
    },
  },
  "/queries/{queryName}/subscriptions/{subscriptionID}": {
    options: { ...options("/queries/{queryName}/subscriptions/{subscriptionID}"), parameters: [name, subId] },
    get: {
      tags: ["EPCIS"],
      summary: "A subscription with its delivery log (newest first: time, trigger, attempt, status, error)",
      security: bearer,
      parameters: [name, subId],
      responses: { "200": json("the subscription and `deliveries`", SUBSCRIPTION), ...denied, "404": problem("no such subscription of the caller's organisation") },
    },
    delete: { tags: ["EPCIS"], summary: "Unsubscribes", security: bearer, parameters: [name, subId], responses: { "204": { description: "unsubscribed" }, ...denied, "404": problem("no such subscription of the caller's organisation") } },
  },
};
