/**
 * The owner's access log (node/access-log): who read this organisation's documents and readings,
 * under which grant or rule, for which purpose, when; and the log's head with a check of its hash
 * chain. Only the organisation that runs this node reads it: another member gets 403, an
 * anonymous caller 401.
 */
import type { Context } from "koa";
import type { AccessLogAnswer, AccessLogHeadAnswer } from "../../lib/api/access-log.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { badRequest, forbidden, requireService } from "../errors.ts";
import { bearer, json, problem } from "../openapi.ts";

function intParam(ctx: Context, name: string, min: number, max: number): number | undefined {
  const v = ctx.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw badRequest(`query parameter \`${name}\` must be one integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

export function register(router: GatewayRouter, { services, auth }: RouteContext): void {
  const ownerOnly = async (ctx: Context, next: () => Promise<unknown>) => {
    const caller = ctx.state.caller!;
    if (caller.orgId !== services.organisation.id) throw forbidden(`the access log of ${services.organisation.name} is theirs alone; ${caller.orgName} cannot read it`);
    await next();
  };

  router.get("/access-log", auth.requireOrg(), ownerOnly, async (ctx) => {
    const log = requireService(services.accessLog, "access log").log;
    const limit = intParam(ctx, "limit", 1, 1000) ?? 100;
    const after = intParam(ctx, "after", 0, Number.MAX_SAFE_INTEGER) ?? 0;
    const reader = intParam(ctx, "reader", 1, 2 ** 32 - 1);
    const event = ctx.query["event"];
    if (event !== undefined && (typeof event !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(event)))
      throw badRequest(`query parameter \`event\` must be one event record hash (0x and 64 hex digits), got ${JSON.stringify(event)}`);
    const entries = await log.entries({ after, limit, ...(reader !== undefined ? { reader } : {}), ...(event !== undefined ? { event } : {}) });
    ctx.body = { head: await log.head(), entries, ...(entries.length === limit ? { nextAfter: entries.at(-1)!.seq } : {}) } satisfies AccessLogAnswer;
  });

  router.get("/access-log/head", auth.requireOrg(), ownerOnly, async (ctx) => {
    const log = requireService(services.accessLog, "access log").log;
    ctx.body = { head: await log.head(), check: await log.verify() } satisfies AccessLogHeadAnswer;
  });
}

const denied = {
  "401": problem("No token, or an expired or invalid one"),
  "403": problem("The caller is not the organisation that runs this node"),
  "503": problem("This node keeps no access log"),
};

/** What an answer handed out. */
const SUBJECT_SCHEMA = {
  oneOf: [
    { type: "object", required: ["kind", "eventHash"], properties: { kind: { const: "document" }, eventHash: { type: "string" }, eventID: { type: "string" } } },
    {
      type: "object",
      required: ["kind", "eventHash", "streams"],
      properties: { kind: { const: "readings" }, eventHash: { type: "string" }, eventID: { type: "string" }, streams: { type: "array", items: { type: "string" } } },
    },
    { type: "object", required: ["kind", "stream", "fromMs", "toMs"], properties: { kind: { const: "stream" }, stream: { type: "string" }, fromMs: { type: "integer" }, toMs: { type: "integer" } } },
  ],
};

/** One access-log entry (lib/api/access-log.ts AccessLogEntry). */
export const ENTRY_SCHEMA = {
  type: "object",
  required: ["v", "seq", "time", "reader", "owner", "channel", "reads", "prev", "hash"],
  properties: {
    v: { enum: [1, 2], description: "entry format: 2, one entry per answer; 1, written before it, one read per entry (shown here with its one read in `reads`)" },
    seq: { type: "integer" },
    time: { type: "string", format: "date-time" },
    reader: { type: "integer" },
    owner: { type: "integer" },
    channel: { enum: ["gateway", "p2p"] },
    reads: {
      type: "array",
      minItems: 1,
      description: "everything the answer handed out, in the order served, each with what allowed it",
      items: {
        type: "object",
        required: ["subject", "allowedBy", "purpose"],
        properties: {
          subject: SUBJECT_SCHEMA,
          allowedBy: { type: "string", description: "grant kind and scope key, or the consortium rule" },
          grant: { type: "object", required: ["scopeKey", "kind"], properties: { id: { type: "string" }, scopeKey: { type: "string" }, kind: { type: "string" }, path: { type: "array", items: { type: "string" } } } },
          purpose: { type: ["string", "null"], description: "the grant's purpose code, or the rule's purpose; null when the chain could not say" },
        },
      },
    },
    prev: { type: "string" },
    hash: { type: "string", description: "SHA-256 over the entry and `prev` in the canonical form of its format (node/access-log/store.ts)" },
  },
};

export const paths: OpenApiPaths = {
  "/access-log": {
    get: {
      summary: "Reads of this organisation's documents and readings by partners, one entry per answer: reader, time, and each document or reading served with its grant or rule and purpose (owner only)",
      tags: ["access"],
      security: bearer,
      parameters: [
        { name: "after", in: "query", description: "sequence number to continue after (from `nextAfter`)", schema: { type: "integer", minimum: 0 } },
        { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 } },
        { name: "reader", in: "query", description: "only this organisation's reads", schema: { type: "integer", minimum: 1 } },
        { name: "event", in: "query", description: "only entries with a read of this event's document or bound readings (its record hash)", schema: { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" } },
      ],
      responses: {
        "200": json("The entries, oldest first, with the log's head", {
          type: "object",
          required: ["head", "entries"],
          properties: {
            head: { type: "object", properties: { seq: { type: "integer" }, hash: { type: "string" } } },
            entries: {
              type: "array",
              description: "One entry per answer served: one reader, owner, channel and time, and every document, set of readings or stream range the answer handed out",
              items: ENTRY_SCHEMA,
            },
            nextAfter: { type: "integer" },
          },
        }),
        "400": problem("Malformed or unknown query parameter"),
        ...denied,
      },
    },
  },
  "/access-log/head": {
    get: {
      summary: "The access log's head and a check of its whole hash chain (owner only)",
      tags: ["access"],
      security: bearer,
      responses: { "200": json("{ head: { seq, hash }, check: { ok, ... } }"), ...denied },
    },
  },
};
