/**
 * Identifier lists and number search: GET /epcs, /bizSteps, /bizLocations, /readPoints and
 * /dispositions (GS1 EPCIS 2.0 top-level resources: the identifiers named by events the caller may
 * read, paged), and GET /search (a Tracemesh extension: the items and lots a plain serial or lot
 * number names, for a person who typed "P0001" rather than a GS1 identifier).
 *
 * Both answer under the access rule of every EPCIS route (gateway/routes/epcis.ts): a value only
 * events the caller may not read name is never listed, so a list never reveals another
 * organisation's identifiers. Each member's `events` sub-resource is epcis.ts's.
 */
import type { Context } from "koa";
import type { NumberSearchAnswer } from "../../lib/api/resolver.ts";
import { cbvTerm } from "../../lib/epcis/cbv.ts";
import { EPCIS_CONTEXT_URLS } from "../../lib/epcis/contexts.ts";
import { parseIdentifier } from "../../lib/identifiers/canonical.ts";
import { CSET82 } from "../../lib/identifiers/gs1-keys.ts";
import type { EventQuery, IndexedKind } from "../../node/events/store.ts";
import type { EventsService } from "../services.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { bearer, json, problem } from "../openapi.ts";
import { denied, discovery, events, gs1, nextLink, one, queryProblem } from "./epcis.ts";
import { describeIdentifier } from "./resolver.ts";

/** The identifier lists: the resource, its member's name, and the store index it lists. */
const LISTS: readonly { resource: string; param: string; kind: IndexedKind }[] = [
  { resource: "epcs", param: "epc", kind: "epc" },
  { resource: "bizSteps", param: "bizStep", kind: "bizStep" },
  { resource: "bizLocations", param: "bizLocation", kind: "bizLocation" },
  { resource: "readPoints", param: "readPoint", kind: "readPoint" },
  { resource: "dispositions", param: "disposition", kind: "disposition" },
];

/** Vocabularies of the kinds whose standard values are written as bare CBV terms (as the JSON binding does). */
const KIND_VOCABULARY: Partial<Record<IndexedKind, "bizStep" | "disposition">> = { bizStep: "bizStep", disposition: "disposition" };
const KIND_QUERY: Record<IndexedKind, keyof EventQuery> = { epc: "anyEpc", bizStep: "bizStep", disposition: "disposition", bizLocation: "bizLocation", readPoint: "readPoint" };

/**
 * GET /epcs, /bizSteps, /bizLocations, /readPoints, /dispositions: the identifiers of this kind
 * named by at least one event the caller may read (the same access rule as every route: an
 * identifier only unreadable events name is never listed), in code point order, paged by the last
 * identifier listed.
 */
async function listIdentifiers(ctx: Context, context: RouteContext, kind: IndexedKind): Promise<void> {
  const ev = events(context);
  const org = ctx.state.caller!.orgId;
  for (const name of Object.keys(ctx.query))
    if (name !== "perPage" && name !== "nextPageToken") throw queryProblem(`unknown query parameter \`${name}\` (this list takes perPage and nextPageToken)`);
  const pp = one(ctx, "perPage");
  const perPage = pp === undefined ? 30 : Number(pp);
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > 1000) throw queryProblem(`perPage must be an integer from 1 to 1000 (got "${pp}")`);
  const token = one(ctx, "nextPageToken");
  let after = token === undefined ? undefined : Buffer.from(token, "base64url").toString("utf8");
  if (token !== undefined && (after === "" || Buffer.from(after!, "utf8").toString("base64url") !== token)) throw queryProblem("nextPageToken is malformed");
  const visible = (value: string) => readableBy(ev, org, { [KIND_QUERY[kind]]: [value] });
  const members: string[] = [];
  let more = true;
  while (members.length < perPage && more) {
    const batch = await ev.store.indexValues(kind, { limit: perPage, ...(after !== undefined ? { after } : {}) });
    more = batch.length === perPage;
    for (const value of batch) {
      after = value;
      if (await visible(value)) members.push(value);
      if (members.length === perPage) break;
    }
  }
  if (members.length === perPage && after !== undefined) ctx.set("Link", nextLink(ctx, Buffer.from(after, "utf8").toString("base64url")));
  const vocabulary = KIND_VOCABULARY[kind];
  ctx.body = { "@context": EPCIS_CONTEXT_URLS[0], type: "Collection", member: members.map((m) => (vocabulary ? (cbvTerm(vocabulary, m) ?? m) : m)) };
}

/** Whether `org` may read at least one event matching `q` (a value named only by unreadable events must not leak). */
async function readableBy(ev: EventsService, org: number, q: EventQuery): Promise<boolean> {
  let pageToken: string | undefined;
  do {
    const page = await ev.store.query(q, { perPage: 1, ...(pageToken !== undefined ? { nextPageToken: pageToken } : {}), filter: async (e) => (await ev.visibility.mayRead(e, org)).allowed });
    if (page.events.length > 0) return true;
    pageToken = page.nextPageToken;
  } while (pageToken !== undefined);
  return false;
}

/** Identifiers one serial or lot number may name that GET /search looks at: bounds the work of one request. */
const NUMBER_SEARCH_LIMIT = 1000;

/**
 * GET /search?q=P0001: the items and lots whose serial (AI 21) or lot (AI 10) number is exactly q,
 * among identifiers named by events the caller may read (the rule of GET /epcs).
 */
async function searchNumber(ctx: Context, context: RouteContext): Promise<void> {
  const ev = events(context);
  const org = ctx.state.caller!.orgId;
  const q = one(ctx, "q");
  // A GS1 serial or lot number: 1 to 20 characters of GS1 character set 82.
  if (q === undefined || q.length < 1 || q.length > 20 || !CSET82.test(q)) throw queryProblem("q must be a serial or lot number: 1 to 20 letters, digits or GS1 punctuation");
  const matches: NumberSearchAnswer["matches"] = [];
  for (const value of await ev.store.identifiersNumbered(q, NUMBER_SEARCH_LIMIT)) {
    if (!(await readableBy(ev, org, { anyEpc: [value] })) && !(await readableBy(ev, org, { anyEpcClass: [value] }))) continue;
    const id = parseIdentifier(value);
    const serial = id.qualifiers.some((e) => e.ai === "21" && e.value === q);
    matches.push({ epc: value, numberedBy: serial ? "serial" : "lot", ...describeIdentifier(id) });
  }
  ctx.body = { query: q, matches } satisfies NumberSearchAnswer;
}

export function register(router: GatewayRouter, context: RouteContext): void {
  const requireOrg = context.auth.requireOrg();
  // Every EPCIS route announces the GS1 headers, also on refusals.
  const auth = [gs1, requireOrg] as const;
  for (const { resource, kind } of LISTS) {
    router.options(`/${resource}`, ...auth, (ctx) => {
      ctx.set("Allow", "OPTIONS, GET");
      ctx.status = 204;
    });
    router.get(`/${resource}`, ...auth, (ctx) => listIdentifiers(ctx, context, kind));
  }
  router.get("/search", requireOrg, (ctx) => searchNumber(ctx, context));
}

// ------------------------------------------------------------------------------ OpenAPI

const listPaths: OpenApiPaths = Object.fromEntries(
  LISTS.map(({ resource, param }) => [
    `/${resource}`,
    {
      get: {
        tags: ["EPCIS"],
        summary: `The ${param} identifiers named by events the caller may read (a Collection, paged)`,
        security: bearer,
        parameters: [
          { name: "perPage", in: "query", required: false, schema: { type: "integer", minimum: 1, maximum: 1000, default: 30 } },
          { name: "nextPageToken", in: "query", required: false, schema: { type: "string" }, description: "from the previous page's Link header" },
        ],
        responses: { "200": json(`{ type: Collection, member: [${param}, ...] }; a Link header with rel=next when more may follow`), "400": problem("unknown parameter, bad perPage or page token"), ...denied },
      },
      options: discovery(`/${resource}`),
    },
  ]),
);

const searchPaths: OpenApiPaths = {
  "/search": {
    get: {
      tags: ["digital link"],
      summary: "Items and lots whose serial (AI 21) or lot (AI 10) number is q, among those named by events the caller may read",
      security: bearer,
      parameters: [{ name: "q", in: "query", required: true, schema: { type: "string", minLength: 1, maxLength: 20 }, description: "a plain serial or lot number, e.g. P0001 or a heat number H0001" }],
      responses: {
        "200": json("{ query, matches: [{ epc, numberedBy: serial | lot, type, digitalLink, itemKey | batchKey }] }"),
        "400": problem("q missing, or not a serial or lot number"),
        ...denied,
      },
    },
  },
};

export const paths: OpenApiPaths = { ...listPaths, ...searchPaths };
