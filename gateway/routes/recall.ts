/**
 * Recall at a glance: GET /items/{id}/recall says whether an item or batch is recalled, because
 * of which recalled items or batches (by whom, when), and everything those recalls reach, with how
 * many of them the caller holds. Answers are codes and data; the explorer words them.
 *
 * What a caller learns: the recall facts are on-chain facts every member can read already (the
 * chain is public to members through /chain/rpc), so any active member gets them. Identifiers
 * (GTIN with serial or lot) live off chain: one is named only where the caller may read a document
 * that names it (visible-identifiers.ts). `held` tells the caller about its own holdings only.
 * Anonymous callers and non-members get 401/403, as on every /items route.
 */
import type { RecallAnswer, RecallCauseAnswer, RecallReachAnswer } from "../../lib/api/trace.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { badRequest, notFound, requireService } from "../errors.ts";
import { bearer, json, problem } from "../openapi.ts";
import { visibleIdentifiers } from "../visible-identifiers.ts";
import { parseSubject } from "./trace.ts";

/** Most items a reach is walked to, and most listed in one answer. */
const MAX_REACH = 10_000;
const DEFAULT_LIST = 200;

export function register(router: GatewayRouter, { services, auth }: RouteContext): void {
  // The index-freshness guard of trace.ts covers every /items path, this one included.
  router.get("/items/:id/recall", auth.requireOrg(), async (ctx) => {
    const index = requireService(services.index, "chain index");
    const q = index.queries;
    const subject = parseSubject(String(ctx.params.id));
    const raw = ctx.query.limit;
    if (raw !== undefined && (typeof raw !== "string" || !/^\d{1,4}$/.test(raw) || Number(raw) > 1000)) {
      throw badRequest(`query parameter \`limit\` must be one integer from 0 to 1000, got ${JSON.stringify(raw)}`);
    }
    const limit = raw === undefined ? DEFAULT_LIST : Number(raw);
    const item = subject.kind === "batch" ? undefined : await q.item(subject.key);
    const batch = item ? undefined : await q.batch(subject.key);
    if (!item && !batch) throw notFound(`no item or batch ${subject.identifier ?? subject.key} on chain (as of indexed block ${index.progress().indexedBlock})`);
    const caller = ctx.state.caller!.orgId;
    const identifierOf = visibleIdentifiers(services, q, caller);
    const orgs = new Map<number, Promise<{ id: number; name: string } | null>>();
    const org = (id: number) => {
      if (id === 0) return Promise.resolve(null);
      if (!orgs.has(id)) orgs.set(id, q.member(id).then((m) => ({ id, name: m?.name ?? `organisation ${id}` })));
      return orgs.get(id)!;
    };

    const found = await q.recallCauses(subject.key);
    // The recall documents of other organisations that this node's own organisation may read but
    // does not hold yet come from their owners' nodes (bounded in time), as on the history route:
    // they name the recalled heat or item. Only for the node's own organisation.
    const store = services.events?.store;
    if (store && services.remote && caller === services.organisation.id) {
      const missing = [];
      for (const c of found) if (c.record && c.record.org !== caller && (await store.get(c.record.eventHash)).length === 0) missing.push({ owner: c.record.org, recordHash: c.record.eventHash });
      if (missing.length > 0) await services.remote.fetchDocuments(missing);
    }
    const causes: RecallCauseAnswer[] = [];
    for (const c of found) {
      const identifier = c.key === subject.key && subject.identifier !== undefined ? subject.identifier : await identifierOf(c.key);
      causes.push({
        key: c.key,
        kind: c.kind,
        ...(identifier !== undefined ? { identifier } : {}),
        ...(c.record ? { by: await org(c.record.org), at: new Date(c.record.time * 1000).toISOString(), recordId: c.record.id } : {}),
      });
    }

    // Everything the causes' recalls reach, each item once; for a batch, everything downstream of
    // it whether recalled or not (what its recall reaches or would reach).
    const reach = new Set<string>();
    let truncated = false;
    const starts = batch && found.length === 0 ? [subject.key] : found.map((c) => c.key);
    for (const start of starts) {
      const scope = await q.recallScope(start, MAX_REACH);
      truncated ||= scope.truncated;
      for (const k of scope.keys) reach.add(k);
    }
    let held = 0;
    const items: RecallReachAnswer[] = [];
    for (const k of reach) {
      const v = await q.item(k);
      if (!v) continue;
      const mine = v.ownerOrg === caller || v.custodianOrg === caller;
      if (mine) held++;
      if (items.length < limit) {
        const identifier = k === subject.key && subject.identifier !== undefined ? subject.identifier : await identifierOf(k);
        items.push({ key: k, ...(identifier !== undefined ? { identifier } : {}), status: v.statusName, owner: await org(v.ownerOrg), held: mine });
      }
    }
    ctx.body = {
      key: subject.key,
      state: await q.recallState(subject.key, found),
      causes,
      reach: { count: reach.size, held, truncated: truncated || reach.size > items.length, items },
    } satisfies RecallAnswer;
  });
}

export const paths: OpenApiPaths = {
  "/items/{id}/recall": {
    get: {
      summary: "Whether an item or batch is recalled, because of which recalls (by whom, when), and every item those recalls reach",
      tags: ["traceability"],
      security: bearer,
      parameters: [
        { name: "id", in: "path", required: true, description: "URL-encoded GS1 Digital Link, EPC URI (urn:epc:id:...) or 0x item key", schema: { type: "string" } },
        { name: "limit", in: "query", description: "most reached items listed (default 200; all are counted)", schema: { type: "integer", minimum: 0, maximum: 1000 } },
      ],
      responses: {
        "200": json("The recall view", {
          type: "object",
          required: ["key", "state", "causes", "reach"],
          properties: {
            key: { type: "string" },
            state: { enum: ["recalled", "in-scope", "clear"] },
            causes: {
              type: "array",
              items: {
                type: "object",
                required: ["key", "kind"],
                properties: {
                  key: { type: "string" },
                  kind: { enum: ["item", "batch"] },
                  identifier: { type: "string", description: "only where the caller may read a document naming it" },
                  by: { $ref: "#/components/schemas/Organisation" },
                  at: { type: "string", format: "date-time" },
                  recordId: { type: "integer" },
                },
              },
            },
            reach: {
              type: "object",
              required: ["count", "held", "truncated", "items"],
              properties: {
                count: { type: "integer" },
                held: { type: "integer", description: "reached items the caller owns or holds in custody" },
                truncated: { type: "boolean" },
                items: { type: "array", items: { type: "object", properties: { key: { type: "string" }, identifier: { type: "string" }, status: { type: "string" }, held: { type: "boolean" } } } },
              },
            },
          },
        }),
        "400": problem("Malformed id or query parameter"),
        "401": problem("No token, or an expired or invalid one"),
        "403": problem("The caller's organisation is not an active member"),
        "404": problem("The chain never saw this item"),
        "503": problem("This node runs no chain index, or its index stopped or trails the chain (Retry-After)"),
      },
    },
  },
};
