/**
 * The signed-in organisation's AccessGrants: GET /grants lists those it gave and those it holds;
 * POST /grants grants a partner read access and DELETE /grants/{id} revokes a grant, both carried
 * out by this member node with its own organisation's account (the `grants` service slot), so the
 * explorer never holds a key. Only the organisation that runs this node may write through it
 * (another member: 403, anonymous or a bad token: 401); a caller lists only grants it is party to.
 */
import type { Context } from "koa";
import { GrantRefused, SCOPE_WORDS, purposeCode, scopeKeyOf, scopeKindOf } from "../../lib/access-grants.ts";
import type { GrantAnswer, GrantsAnswer, GrantWriteAnswer, ScopeWord } from "../../lib/api/grants.ts";
import { ScopeKind } from "../../lib/registry.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { HttpProblem, badRequest, forbidden, requireService } from "../errors.ts";
import { requireFreshIndex } from "../index-freshness.ts";
import { bearer, json, jsonBody, problem } from "../openapi.ts";

/** One field of the body as a non-empty string of at most `max` characters. */
function text(body: Record<string, unknown>, name: string, max: number): string {
  const v = body[name];
  if (typeof v !== "string" || v.trim() === "" || v.length > max) throw badRequest(`\`${name}\` must be a non-empty string of at most ${max} characters`);
  return v.trim();
}

/** An ISO 8601 time field as milliseconds. */
function isoMs(body: Record<string, unknown>, name: string): number {
  const v = text(body, name, 40);
  const ms = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(v) || Number.isNaN(ms)) throw badRequest(`\`${name}\` must be an ISO 8601 time such as 2027-01-31T00:00:00Z, got ${JSON.stringify(v)}`);
  return ms;
}

/** What the chain would refuse, as 409 with the rule's name (`check`), so a page can say it in its own words. */
async function refusing<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    if (e instanceof GrantRefused) throw new HttpProblem(409, e.message, { type: "refused", extra: { check: e.check, ...e.details } });
    throw e;
  }
}

const FIELDS = new Set(["grantee", "scope", "subject", "purpose", "expiresAt", "from", "to"]);

export function register(router: GatewayRouter, { services, auth, readJson, options }: RouteContext): void {
  const ownerOnly = async (ctx: Context, next: () => Promise<unknown>) => {
    const caller = ctx.state.caller!;
    if (caller.orgId !== services.organisation.id) {
      throw forbidden(`this gateway grants and revokes for ${services.organisation.name} only; ${caller.orgName} must use its own member's gateway`);
    }
    await next();
  };

  router.get("/grants", auth.requireOrg(), async (ctx) => {
    const index = await requireFreshIndex(services, requireService(services.index, "chain index"), options.maxIndexLagBlocks);
    const org = ctx.state.caller!.orgId;
    const now = (await services.provider.getBlock("latest"))?.timestamp ?? Math.floor(Date.now() / 1000);
    const names = new Map<number, string>();
    const ref = async (id: number) => {
      if (!names.has(id)) names.set(id, (await index.queries.member(id))?.name ?? `organisation ${id}`);
      return { id, name: names.get(id)! };
    };
    const view = async (g: Awaited<ReturnType<typeof index.queries.grantsGiven>>[number]): Promise<GrantAnswer> => ({
      id: g.id,
      owner: await ref(g.owner),
      grantee: await ref(g.grantee),
      scope: SCOPE_WORDS[g.kind as ScopeKind] as ScopeWord,
      scopeKey: g.scopeKey,
      purpose: g.purpose,
      ...(g.kind === ScopeKind.AnchorWindowRange ? { from: new Date(g.from).toISOString(), to: new Date(g.to).toISOString() } : {}),
      version: g.version,
      grantedAt: new Date(g.grantedAt * 1000).toISOString(),
      expiresAt: new Date(g.expiresAt * 1000).toISOString(),
      ...(g.revoked ? { revokedAt: new Date(g.revokedAt * 1000).toISOString() } : {}),
      state: g.revoked ? "revoked" : now >= g.expiresAt ? "expired" : "live",
    });
    const newestFirst = (a: GrantAnswer, b: GrantAnswer) => b.grantedAt.localeCompare(a.grantedAt);
    const [given, received] = await Promise.all([index.queries.grantsGiven(org), index.queries.grantsReceived(org)]);
    ctx.body = {
      given: (await Promise.all(given.map(view))).sort(newestFirst),
      received: (await Promise.all(received.map(view))).sort(newestFirst),
    } satisfies GrantsAnswer;
  });

  router.post("/grants", auth.requireOrg(), ownerOnly, async (ctx) => {
    const grants = requireService(services.grants, "grants");
    const body = await readJson(ctx);
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("the body must be a JSON object (see GrantBody in /openapi.json)");
    const b = body as Record<string, unknown>;
    const unknown = Object.keys(b).filter((k) => !FIELDS.has(k));
    if (unknown.length > 0) throw badRequest(`unknown field${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `\`${k}\``).join(", ")}`);
    if (typeof b.grantee !== "number" || !Number.isInteger(b.grantee) || b.grantee < 1 || b.grantee >= 2 ** 32) throw badRequest("`grantee` must be an organisation id (a positive integer)");
    const kind = scopeKindOf(text(b, "scope", 20));
    if (kind === undefined) throw badRequest(`\`scope\` must be one of ${Object.values(SCOPE_WORDS).join(", ")}`);
    const ranged = kind === ScopeKind.AnchorWindowRange;
    if (!ranged && (b.from !== undefined || b.to !== undefined)) throw badRequest("only window-range grants take `from` and `to`");
    const scopeKey = scopeKeyOf(kind, text(b, "subject", 2000));
    const request = {
      grantee: b.grantee,
      kind,
      scopeKey,
      purpose: purposeCode(text(b, "purpose", 200)),
      fromMs: ranged ? isoMs(b, "from") : 0,
      toMs: ranged ? isoMs(b, "to") : 0,
      expiresAt: Math.floor(isoMs(b, "expiresAt") / 1000),
    };
    const done = await refusing(() => grants.grant(request));
    ctx.status = 201;
    ctx.body = { ...done, scopeKey } satisfies GrantWriteAnswer;
  });

  router.delete("/grants/:id", auth.requireOrg(), ownerOnly, async (ctx) => {
    const grants = requireService(services.grants, "grants");
    const id = ctx.params.id!;
    if (!/^0x[0-9a-fA-F]{64}$/.test(id)) throw badRequest(`a grant id is 0x and 64 hex digits, got ${JSON.stringify(id)}`);
    ctx.body = (await refusing(() => grants.revoke(id))) satisfies GrantWriteAnswer;
  });
}

const grantSchema = {
  type: "object",
  required: ["id", "owner", "grantee", "scope", "scopeKey", "purpose", "version", "grantedAt", "expiresAt", "state"],
  properties: {
    id: { type: "string" },
    owner: { type: "object" },
    grantee: { type: "object" },
    scope: { enum: Object.values(SCOPE_WORDS) },
    scopeKey: { type: "string" },
    purpose: { type: "string", description: "the purpose code (keccak256 of the purpose's words)" },
    from: { type: "string", format: "date-time" },
    to: { type: "string", format: "date-time" },
    version: { type: "integer" },
    grantedAt: { type: "string", format: "date-time" },
    expiresAt: { type: "string", format: "date-time" },
    revokedAt: { type: "string", format: "date-time" },
    state: { enum: ["live", "expired", "revoked"] },
  },
};
const written = json("The transaction the member node sent, mined", {
  type: "object",
  required: ["id", "version", "tx", "block"],
  properties: { id: { type: "string" }, version: { type: "integer" }, scopeKey: { type: "string" }, tx: { type: "string" }, block: { type: "integer" } },
});
const writeDenied = {
  "401": problem("No token, or an expired or invalid one"),
  "403": problem("The caller is not the organisation that runs this node"),
  "409": problem("The chain would refuse it; `check` names the rule: SelfGrant, GranteeNotActive, InvalidTimeRange, ExpiryNotInFuture, UnknownGrant, NotGrantOwner, GrantAlreadyRevoked"),
  "503": problem("This node does not write grants"),
};

export const paths: OpenApiPaths = {
  "/grants": {
    get: {
      summary: "AccessGrants the caller's organisation gave and holds, newest first",
      tags: ["access"],
      security: bearer,
      responses: {
        "200": json("{ given, received }", { type: "object", required: ["given", "received"], properties: { given: { type: "array", items: grantSchema }, received: { type: "array", items: grantSchema } } }),
        "401": problem("No token, or an expired or invalid one"),
        "503": problem("No chain index, or it is behind"),
      },
    },
    post: {
      summary: "Grants a partner read access to this organisation's data on one scope until an expiry (this node's organisation only)",
      tags: ["access"],
      security: bearer,
      requestBody: jsonBody({
        type: "object",
        required: ["grantee", "scope", "subject", "purpose", "expiresAt"],
        additionalProperties: false,
        properties: {
          grantee: { type: "integer", minimum: 1, description: "the partner's organisation id" },
          scope: { enum: Object.values(SCOPE_WORDS) },
          subject: { type: "string", description: "item or batch identifier (EPC URI, Digital Link), stream id, or a 32-byte hex scope key" },
          purpose: { type: "string", description: "purpose in words, or a 32-byte hex purpose code" },
          expiresAt: { type: "string", format: "date-time" },
          from: { type: "string", format: "date-time", description: "window-range only" },
          to: { type: "string", format: "date-time", description: "window-range only" },
        },
      }),
      responses: { "201": written, "400": problem("Malformed body or identifier"), ...writeDenied },
    },
  },
  "/grants/{id}": {
    delete: {
      summary: "Revokes a grant this organisation gave (this node's organisation only)",
      tags: ["access"],
      security: bearer,
      parameters: [{ name: "id", in: "path", required: true, schema: { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" } }],
      responses: { "200": written, "400": problem("Malformed grant id"), ...writeDenied },
    },
  },
};
