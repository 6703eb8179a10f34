/**
 * Partners ask an item's maker for more than its public passport, and the maker answers with a
 * grant. The request goes to the maker's own member gateway (the one that serves the item's QR
 * code and passport), which keeps it (node/passport/access-requests.ts):
 *
 * - POST /access-requests: a signed-in member other than this node's organisation asks for one
 *   item this organisation made, scope item or item with genealogy, a purpose and a duration.
 *   Anonymous callers: 401. A request while the same one is pending: 409 (no duplicates, replays
 *   make nothing new). More than the store's limit of pending requests from one organisation (100
 *   by default): 429, so a member cannot fill the owner's disk. An item another organisation made:
 *   passed on over the peer network to the maker's node (services.accessRelay,
 *   node/p2p/access-requests.ts) when the caller is this node's own organisation, and answered
 *   with the maker's answer (201, 409, 429, or its refusal; 503 when no node of the maker took
 *   it); for anyone else, or without the peer network, 403 (ask its maker). The maker's node takes
 *   such a request through `accessRequestIntake`, with the same checks and store step.
 * - GET /access-requests: this node's organisation sees the requests made to it; any other member
 *   sees only its own. `?maker={org}` of another organisation: this node's organisation's own
 *   requests to that maker, asked of the maker's node over the peer network (503 when none answers).
 * - POST /access-requests/{id}/approve grants it on chain through the node's grants path (like
 *   POST /grants) and marks it approved; /decline marks it declined. This node's organisation
 *   only (another member: 403); a request decided already: 409.
 * What regulators read stays the consortium's rule on chain; a request widens nothing by itself.
 */
import { randomBytes } from "node:crypto";
import { ScopeKind } from "../../lib/registry.ts";
import { GrantRefused, purposeCode } from "../../lib/access-grants.ts";
import type { OrganisationRef } from "../../lib/api/common.ts";
import type { AccessRequestAnswer, AccessRequestBody, AccessRequestOutcome } from "../../lib/api/grants.ts";
import type { Context } from "koa";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { HttpProblem, badRequest, forbidden, notFound, requireService } from "../errors.ts";
import { requireFreshIndex } from "../index-freshness.ts";
import { bearer, json, jsonBody, problem } from "../openapi.ts";
import { makerOf } from "./passport.ts";
import { parseSubject } from "./trace.ts";

const PURPOSE_MAX = 200;
const SCOPES = { item: ScopeKind.Item, "item-genealogy": ScopeKind.ItemWithGenealogy } as const;
const FIELDS = new Set(["subject", "scope", "purpose", "days"]);

/** A POST /access-requests body, checked field by field. */
function checkBody(body: unknown): AccessRequestBody {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("the body must be a JSON object (see AccessRequestBody in /openapi.json)");
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) throw badRequest(`unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `\`${k}\``).join(", ")}`);
  if (typeof b.scope !== "string" || !Object.hasOwn(SCOPES, b.scope)) throw badRequest("`scope` must be item or item-genealogy");
  if (typeof b.purpose !== "string" || b.purpose.trim() === "" || b.purpose.length > PURPOSE_MAX) throw badRequest(`\`purpose\` must be a non-empty string of at most ${PURPOSE_MAX} characters`);
  if (typeof b.days !== "number" || !Number.isInteger(b.days) || b.days < 1 || b.days > 365) throw badRequest("`days` must be a whole number of days from 1 to 365");
  if (typeof b.subject !== "string" || b.subject.length > 2000) throw badRequest("`subject` must be the item's identifier (GS1 Digital Link or EPC URI)");
  return { subject: b.subject, scope: b.scope as AccessRequestBody["scope"], purpose: b.purpose.trim(), days: b.days };
}

/** The item a request names and its maker on chain (404 when the chain never saw it). */
async function subjectAndMaker({ services, options }: RouteContext, identifier: string) {
  const subject = parseSubject(identifier);
  if (subject.identifier === undefined || subject.kind !== "item") throw badRequest("`subject` must name one item by its identifier (GS1 Digital Link or EPC URI)");
  const index = await requireFreshIndex(services, requireService(services.index, "chain index"), options.maxIndexLagBlocks);
  const maker = await makerOf(index.queries, subject.key);
  if (maker === 0) throw notFound(`no item ${subject.identifier} on chain`);
  return { subject: subject as typeof subject & { identifier: string }, maker };
}

/** Keeps a request of `requester` for an item this organisation made, through the store's one step (duplicates, limit). */
async function keep({ services, options }: RouteContext, requester: OrganisationRef, subject: { identifier: string; key: string }, body: AccessRequestBody): Promise<AccessRequestOutcome> {
  const me = services.organisation;
  const requests = requireService(services.accessRequests, "access requests");
  const request: AccessRequestAnswer = {
    // Random: an id names neither the requester nor the item.
    id: randomBytes(16).toString("hex"),
    requester,
    owner: me,
    subject: subject.identifier,
    subjectKey: subject.key,
    scope: body.scope,
    purpose: body.purpose,
    days: body.days,
    state: "pending",
    createdAt: new Date(options.clock()).toISOString(),
  };
  const submitted = await requests.submit(request);
  if ("duplicate" in submitted)
    return { status: 409, detail: `${requester.name} already asked for ${body.scope} access to ${subject.identifier}; the request ${submitted.duplicate.id} is pending`, extra: { id: submitted.duplicate.id } };
  if ("waiting" in submitted)
    return { status: 429, detail: `${requester.name} has ${submitted.waiting} request${submitted.waiting === 1 ? "" : "s"} waiting for ${me.name}'s answer, the most it keeps from one organisation; ask again once some are answered`, extra: { pending: submitted.waiting } };
  return { status: 201, request };
}

/** Answers an outcome as POST /access-requests does (201 with the request, or the refusal as a problem). */
function answer(ctx: Context, outcome: AccessRequestOutcome, prefix: string): void {
  if (outcome.status !== 201) {
    const type = outcome.status === 409 ? "conflict" : outcome.status === 429 ? "rate-limited" : undefined;
    throw new HttpProblem(outcome.status, `${prefix}${outcome.detail}`, { ...(type ? { type } : {}), ...(outcome.extra ? { extra: outcome.extra } : {}) });
  }
  ctx.status = 201;
  ctx.body = outcome.request;
}

/**
 * Takes a request passed on over the peer network (node/p2p/access-requests.ts) from `requester`,
 * the organisation its peer id is registered to: the same checks and the same store step as a
 * request made on this gateway, each refusal answered as the status and words POST would give.
 */
export function accessRequestIntake(context: RouteContext): {
  take(requester: number, body: unknown): Promise<AccessRequestOutcome>;
  mine(requester: number): Promise<AccessRequestAnswer[]>;
} {
  const me = context.services.organisation;
  const mine = async (requester: number) => (await requireService(context.services.accessRequests, "access requests").list()).filter((r) => r.requester.id === requester);
  const take = async (requester: number, raw: unknown): Promise<AccessRequestOutcome> => {
    try {
      if (requester === me.id) throw badRequest("an organisation does not ask itself for access to its own items");
      const body = checkBody(raw);
      const { subject, maker } = await subjectAndMaker(context, body.subject);
      if (maker !== me.id) throw forbidden(`${subject.identifier} was made by another organisation, not by ${me.name}`);
      const [name] = await context.services.contracts.consortium.org(requester);
      return await keep(context, { id: requester, name }, subject, body);
    } catch (e) {
      if (e instanceof HttpProblem && [400, 403, 404, 409, 429, 503].includes(e.status)) return { status: e.status as 400, detail: e.message };
      throw e;
    }
  };
  return { take, mine };
}

export function register(router: GatewayRouter, context: RouteContext): void {
  const { services, auth, options, readJson } = context;
  const me = services.organisation;
  const store = () => requireService(services.accessRequests, "access requests");
  const ownerOnly = (ctx: Context) => {
    const caller = ctx.state.caller!;
    if (caller.orgId !== me.id) throw forbidden(`only ${me.name} answers requests made to it; ${caller.orgName} cannot`);
  };
  // Decisions on one request run one at a time: a double click or a replay approves once.
  const deciding = new Set<string>();

  router.post("/access-requests", auth.requireOrg(), async (ctx) => {
    const caller = ctx.state.caller!;
    const body = checkBody(await readJson(ctx));
    const { subject, maker } = await subjectAndMaker(context, body.subject);
    if (maker !== me.id) {
      // Another organisation's item: this organisation's own requests are passed on to the maker's node.
      const relay = services.accessRelay;
      if (caller.orgId !== me.id || relay === undefined)
        throw forbidden(`${subject.identifier} was made by another organisation; ask on its maker's gateway${relay ? `, or on ${caller.orgName}'s own gateway, which passes requests on` : ""}`);
      let outcome: AccessRequestOutcome;
      try {
        outcome = await relay.submit(maker, body);
      } catch (e) {
        throw new HttpProblem(503, `the request could not be passed on to its maker's node: ${(e as Error).message}`);
      }
      return answer(ctx, outcome, `the maker's node: `);
    }
    if (caller.orgId === me.id) throw badRequest("an organisation does not ask itself for access to its own items");
    answer(ctx, await keep(context, { id: caller.orgId, name: caller.orgName }, subject, body), "");
  });

  router.get("/access-requests", auth.requireOrg(), async (ctx) => {
    const caller = ctx.state.caller!;
    ctx.set("Cache-Control", "no-store");
    const maker = ctx.query.maker;
    if (maker !== undefined) {
      // This organisation's own requests to another maker, as the maker's node keeps them.
      if (typeof maker !== "string" || !/^[1-9][0-9]{0,9}$/.test(maker)) throw badRequest("`maker` must be one organisation id (a positive whole number)");
      if (Number(maker) !== me.id) {
        const relay = services.accessRelay;
        if (caller.orgId !== me.id || relay === undefined) throw forbidden(`only ${me.name}'s own requests to other makers are asked of their nodes here`);
        try {
          ctx.body = await relay.mine(Number(maker));
        } catch (e) {
          throw new HttpProblem(503, `the maker's node did not answer: ${(e as Error).message}`);
        }
        return;
      }
    }
    const all = await store().list();
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
      summary: "A partner asks this organisation for access to an item it made (kept by this node until its owner approves or declines); this organisation's own request for another maker's item is passed on to the maker's node",
      tags: ["access"],
      security: bearer,
      requestBody: jsonBody({
        type: "object",
        required: ["subject", "scope", "purpose", "days"],
        additionalProperties: false,
        properties: {
          subject: { type: "string", description: "the item's GS1 Digital Link or EPC URI" },
          scope: { enum: ["item", "item-genealogy"] },
          purpose: { type: "string", maxLength: PURPOSE_MAX },
          days: { type: "integer", minimum: 1, maximum: 365 },
        },
      }),
      responses: {
        "201": json("The request, pending", requestSchema),
        "400": problem("Malformed body or identifier, or a request to oneself"),
        "401": problem("No token, or an expired or invalid one"),
        "403": problem("Another organisation made the item and the caller is not this node's organisation (only its own requests are passed on), or the maker's node refused it"),
        "404": problem("The chain never saw the item"),
        "409": problem("The same request is pending already"),
        "429": problem("Too many requests from the caller's organisation are waiting for an answer"),
        "503": problem("This node keeps no access requests, or its chain index trails the chain, or no node of the item's maker took the request passed on"),
      },
    },
    get: {
      summary: "Access requests: to this organisation (for it), or the caller's own (for any other member), newest first; with `maker` another organisation, this organisation's own requests to it, asked of its node",
      tags: ["access"],
      security: bearer,
      parameters: [{ name: "maker", in: "query", required: false, schema: { type: "integer", minimum: 1 }, description: "another organisation's id: this organisation's requests to it, as its node keeps them (this node's organisation only)" }],
      responses: {
        "200": json("The requests", { type: "array", items: requestSchema }),
        "400": problem("`maker` is not an organisation id"),
        "401": problem("No token, or an expired or invalid one"),
        "403": problem("`maker` names another organisation and the caller is not this node's organisation, or this node passes no requests on"),
        "503": problem("This node keeps no access requests, or no node of `maker` answered"),
      },
    },
  },
  "/access-requests/{id}/approve": decision("Approves a request made to this organisation: grants it on chain with this node's account (this node's organisation only)"),
  "/access-requests/{id}/decline": decision("Declines a request made to this organisation (this node's organisation only)"),
};
