/**
 * Partners ask an item's maker for more than its public passport, and the maker answers with a
 * grant. The request goes to the maker's own member gateway (the one that serves the item's QR
 * code and passport), which keeps it (node/passport/access-requests.ts):
 *
 * - POST /access-requests: a signed-in member other than this node's organisation asks for one
 *   item this organisation made, scope item or item with genealogy, a purpose and a duration.
 *   Anonymous callers: 401. A request while the same one is pending: 409 (no duplicates, replays
 *   make nothing new). An item another organisation made: 403 (ask its maker). More than the
 *   store's limit of pending requests from one organisation (100 by default): 429, so a member
 *   cannot fill the owner's disk.
 * - GET /access-requests: this node's organisation sees the requests made to it; any other member
 *   sees only its own.
 * - POST /access-requests/{id}/approve grants it on chain through the node's grants path (like
 *   POST /grants) and marks it approved; /decline marks it declined. This node's organisation
 *   only (another member: 403); a request decided already: 409.
 * What regulators read stays the consortium's rule on chain; a request widens nothing by itself.
 */
import { randomBytes } from "node:crypto";
import { ScopeKind } from "../../lib/registry.ts";
import { GrantRefused, purposeCode } from "../../lib/access-grants.ts";
import type { AccessRequestAnswer } from "../../lib/api/grants.ts";
import type { Context } from "koa";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { HttpProblem, badRequest, forbidden, notFound, requireService } from "../errors.ts";
import { requireFreshIndex } from "../index-freshness.ts";
import { bearer, json, problem } from "../openapi.ts";
import { makerOf } from "./passport.ts";
import { parseSubject } from "./trace.ts";

const PURPOSE_MAX = 200;
const SCOPES = { item: ScopeKind.Item, "item-genealogy": ScopeKind.ItemWithGenealogy } as const;
const FIELDS = new Set(["subject", "scope", "purpose", "days"]);

export function register(router: GatewayRouter, { services, auth, readJson, options }: RouteContext): void {
  const me = services.organisation;
  const store = () => requireService(services.accessRequests, "access requests");
  const ownerOnly = (ctx: Context) => {
    const caller = ctx.state.caller!;
    if (caller.orgId !== me.id) throw forbidden(`only ${me.name} answers requests made to it; ${caller.orgName} cannot`);
  };
  // Decisions on one request run one at a time: a double click or a replay approves once.
  const deciding = new Set<string>();

  router.post("/access-requests", auth.requireOrg(), async (ctx) => {
    const requests = store();
    const caller = ctx.state.caller!;
    if (caller.orgId === me.id) throw badRequest("an organisation does not ask itself for access to its own items");
    const body = await readJson(ctx);
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("the body must be a JSON object (see AccessRequestBody in /openapi.json)");
    const b = body as Record<string, unknown>;
    const unknown = Object.keys(b).filter((k) => !FIELDS.has(k));
    if (unknown.length > 0) throw badRequest(`unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `\`${k}\``).join(", ")}`);
    if (typeof b.scope !== "string" || !Object.hasOwn(SCOPES, b.scope)) throw badRequest("`scope` must be item or item-genealogy");
    if (typeof b.purpose !== "string" || b.purpose.trim() === "" || b.purpose.length > PURPOSE_MAX) throw badRequest(`\`purpose\` must be a non-empty string of at most ${PURPOSE_MAX} characters`);
    if (typeof b.days !== "number" || !Number.isInteger(b.days) || b.days < 1 || b.days > 365) throw badRequest("`days` must be a whole number of days from 1 to 365");
    if (typeof b.subject !== "string" || b.subject.length > 2000) throw badRequest("`subject` must be the item's identifier (GS1 Digital Link or EPC URI)");
    const subject = parseSubject(b.subject);
    if (subject.identifier === undefined || subject.kind !== "item") throw badRequest("`subject` must name one item by its identifier (GS1 Digital Link or EPC URI)");
    const index = await requireFreshIndex(services, requireService(services.index, "chain index"), options.maxIndexLagBlocks);
    const maker = await makerOf(index.queries, subject.key);
    if (maker === 0) throw notFound(`no item ${subject.identifier} on chain`);
    if (maker !== me.id) throw forbidden(`${subject.identifier} was made by another organisation; ask its maker's gateway`);
    const scope = b.scope as keyof typeof SCOPES;
    const purpose = b.purpose.trim();
    const request: AccessRequestAnswer = {
      // Random: an id names neither the requester nor the item.
      id: randomBytes(16).toString("hex"),
      requester: { id: caller.orgId, name: caller.orgName },
      owner: me,
      subject: subject.identifier,
      subjectKey: subject.key,
      scope,
      purpose,
      days: b.days,
      state: "pending",
      createdAt: new Date(options.clock()).toISOString(),
    };
    const submitted = await requests.submit(request);
    if ("duplicate" in submitted)
      throw new HttpProblem(409, `${caller.orgName} already asked for ${scope} access to ${subject.identifier}; the request ${submitted.duplicate.id} is pending`, { type: "conflict", extra: { id: submitted.duplicate.id } });
    if ("waiting" in submitted)
      throw new HttpProblem(429, `${caller.orgName} has ${submitted.waiting} request${submitted.waiting === 1 ? "" : "s"} waiting for ${me.name}'s answer, the most it keeps from one organisation; ask again once some are answered`, { type: "rate-limited", extra: { pending: submitted.waiting } });
    ctx.status = 201;
    ctx.body = request;
  });

  router.get("/access-requests", auth.requireOrg(), async (ctx) => {
    const caller = ctx.state.caller!;
    const all = await store().list();
    ctx.set("Cache-Control", "no-store");
    ctx.body = caller.orgId === me.id ? all : all.filter((r) => r.requester.id === caller.orgId);
  });

  const decide = (verb: "approve" | "decline") =>
    router.post(`/access-requests/:id/${verb}`, auth.requireOrg(), async (ctx) => {
      ownerOnly(ctx);
      const requests = store();
      const id = ctx.params.id!;
      if (!/^[0-9a-f]{32}$/.test(id)) throw badRequest(`an access request id is 32 hex digits, got ${JSON.stringify(id)}`);
      if (deciding.has(id)) throw new HttpProblem(409, `request ${id} is being decided`, { type: "refused" });
      deciding.add(id);
      try {
        const request = await requests.get(id);
        if (request === undefined) throw notFound(`no access request ${id}`);
        if (request.state !== "pending") throw new HttpProblem(409, `request ${id} was ${request.state} already`, { type: "refused", extra: { state: request.state } });
        const decidedAt = new Date(options.clock()).toISOString();
        let decided: AccessRequestAnswer;
        if (verb === "decline") decided = { ...request, state: "declined", decidedAt };
        else {
          const grants = requireService(services.grants, "grants");
          const expiresAt = Math.floor(options.clock() / 1000) + request.days * 86_400;
          let done;
          try {
            done = await grants.grant({ grantee: request.requester.id, kind: SCOPES[request.scope], scopeKey: request.subjectKey, purpose: purposeCode(request.purpose), fromMs: 0, toMs: 0, expiresAt });
          } catch (e) {
            if (e instanceof GrantRefused) throw new HttpProblem(409, e.message, { type: "refused", extra: { check: e.check, ...e.details } });
            throw e;
          }
          decided = { ...request, state: "approved", decidedAt, grant: { id: done.id, tx: done.tx, block: done.block, expiresAt: new Date(expiresAt * 1000).toISOString() } };
        }
        await requests.put(decided);
        ctx.body = decided;
      } finally {
        deciding.delete(id);
      }
    });
  decide("approve");
  decide("decline");
}

const requestSchema = {
  type: "object",
  required: ["id", "requester", "owner", "subject", "subjectKey", "scope", "purpose", "days", "state", "createdAt"],
  properties: {
    id: { type: "string" },
    requester: { $ref: "#/components/schemas/Organisation" },
    owner: { $ref: "#/components/schemas/Organisation" },
    subject: { type: "string" },
    subjectKey: { type: "string" },
    scope: { enum: ["item", "item-genealogy"] },
    purpose: { type: "string" },
    days: { type: "integer" },
    state: { enum: ["pending", "approved", "declined"] },
    createdAt: { type: "string", format: "date-time" },
    decidedAt: { type: "string", format: "date-time" },
    grant: { type: "object", properties: { id: { type: "string" }, tx: { type: "string" }, block: { type: "integer", description: "the block that recorded the grant" }, expiresAt: { type: "string", format: "date-time" } } },
  },
};
const idParameter = { name: "id", in: "path", required: true, schema: { type: "string", pattern: "^[0-9a-f]{32}$" } };
const decision = (summary: string) => ({
  post: {
    summary,
    tags: ["access"],
    security: bearer,
    parameters: [idParameter],
    responses: {
      "200": json("The request, decided", requestSchema),
      "400": problem("Malformed id"),
      "401": problem("No token, or an expired or invalid one"),
      "403": problem("The caller is not the organisation that runs this node"),
      "404": problem("No such request"),
      "409": problem("Decided already, being decided, or the chain would refuse the grant (`check`)"),
      "503": problem("This node keeps no access requests or writes no grants"),
    },
  },
});

export const paths: OpenApiPaths = {
  "/access-requests": {
    post: {
      summary: "A partner asks this organisation for access to an item it made (kept by this node until its owner approves or declines)",
      tags: ["access"],
      security: bearer,
      requestBody: {
        required: true,
        content: {
          "application/json": {
            schema: {
              type: "object",
              required: ["subject", "scope", "purpose", "days"],
              additionalProperties: false,
              properties: {
                subject: { type: "string", description: "the item's GS1 Digital Link or EPC URI" },
                scope: { enum: ["item", "item-genealogy"] },
                purpose: { type: "string", maxLength: PURPOSE_MAX },
                days: { type: "integer", minimum: 1, maximum: 365 },
              },
            },
          },
        },
      },
      responses: {
        "201": json("The request, pending", requestSchema),
        "400": problem("Malformed body or identifier, or a request to oneself"),
        "401": problem("No token, or an expired or invalid one"),
        "403": problem("Another organisation made the item"),
        "404": problem("The chain never saw the item"),
        "409": problem("The same request is pending already"),
        "429": problem("Too many requests from the caller's organisation are waiting for an answer"),
        "503": problem("This node keeps no access requests, or its chain index trails the chain"),
      },
    },
    get: {
      summary: "Access requests: to this organisation (for it), or the caller's own (for any other member), newest first",
      tags: ["access"],
      security: bearer,
      responses: { "200": json("The requests", { type: "array", items: requestSchema }), "401": problem("No token, or an expired or invalid one"), "503": problem("This node keeps no access requests") },
    },
  },
  "/access-requests/{id}/approve": decision("Approves a request made to this organisation: grants it on chain with this node's account (this node's organisation only)"),
  "/access-requests/{id}/decline": decision("Declines a request made to this organisation (this node's organisation only)"),
};
