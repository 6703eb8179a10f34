/**
 * EPCIS master data: names and addresses of locations (GLN / SGLN), descriptions of products
 * (GTIN) and parties (PGLN), captured in an EPCISMasterDataDocument or an EPCISDocument's header
 * (POST /capture, gateway/routes/epcis.ts calls `masterDataToCapture`), served by
 * GET /vocabularies/{vocabulary}.
 *
 * Who may define: only the organisation holding the prefix an identifier lies under
 * (IdentifierNamespaces on chain, lib/namespaces.ts), so no member renames a competitor's site or
 * product. Who may read: the owner, and a member that may read at least one event naming the
 * identifier (the access rule of every route); anyone else learns nothing, not even that an
 * element exists.
 */
import type { Context } from "koa";
import { IdentifierNamespaces__factory } from "../../lib/contracts/types/index.ts";
import { type VocabularyName, VOCABULARY_TYPES, masterDataOf, nameOf, vocabularyListJson, MasterDataError } from "../../lib/epcis/master-data.ts";
import { canonicalIdentifier } from "../../lib/identifiers/canonical.ts";
import { IdentifierError } from "../../lib/identifiers/gs1-keys.ts";
import { holderOfIdentifier } from "../../lib/namespaces.ts";
import type { EventQuery, StoredVocabularyElement } from "../../node/events/store.ts";
import type { EventsService } from "../services.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { badRequest, forbidden, notFound, requireService } from "../errors.ts";
import { bearer, json, problem } from "../openapi.ts";

function events(context: RouteContext): EventsService {
  return requireService(context.services.events, "EPCIS events");
}

const namespacesOf = new WeakMap<RouteContext, Promise<{ holderOfPrefix(prefix: string): Promise<bigint> }>>();
/** IdentifierNamespaces, found through Provenance (which always names it). */
function namespaces(context: RouteContext) {
  let n = namespacesOf.get(context);
  if (n === undefined) {
    const provenance = context.services.contracts.provenance;
    n = provenance.namespaces().then((address) => IdentifierNamespaces__factory.connect(address, provenance.runner));
    namespacesOf.set(context, n);
  }
  return n;
}

/**
 * The master data a document carries, checked and owned by `orgId`: refused whole (403) when any
 * element names an identifier under a prefix `orgId` does not hold, 400 when malformed.
 */
export async function masterDataToCapture(context: RouteContext, doc: unknown, orgId: number): Promise<StoredVocabularyElement[]> {
  let elements;
  try {
    elements = masterDataOf(doc);
  } catch (e) {
    if (e instanceof MasterDataError) throw badRequest(e.message);
    throw e;
  }
  const ns = await namespaces(context);
  const updatedAt = new Date(context.options.clock()).toISOString();
  const out: StoredVocabularyElement[] = [];
  for (const e of elements) {
    const holder = await holderOfIdentifier(ns, e.id);
    if (holder !== orgId)
      throw forbidden(
        `master data for ${e.id} may only be defined by the holder of its prefix (${holder === 0 ? "no organisation holds it" : `organisation ${holder}`}); nothing was recorded`,
      );
    out.push({ ...e, owner: orgId, updatedAt });
  }
  return out;
}

/**
 * Whether `org` may see an element: its owner, or a reader of an event naming it (a location as
 * bizLocation or readPoint, a product class by its items or quantities). Parties: the owner only.
 */
async function mayRead(ev: EventsService, element: StoredVocabularyElement, org: number): Promise<boolean> {
  if (element.owner === org) return true;
  const queries: EventQuery[] =
    element.vocabulary === "BusinessLocation" || element.vocabulary === "ReadPoint"
      ? [{ bizLocation: [element.id] }, { readPoint: [element.id] }]
      : element.vocabulary === "EPCClass"
        ? [{ anyEpcOfClass: [element.id] }]
        : [];
  for (const query of queries) {
    let token: string | undefined;
    do {
      const page = await ev.store.query(query, { perPage: 1, ...(token !== undefined ? { nextPageToken: token } : {}), filter: async (e) => (await ev.visibility.mayRead(e, org)).allowed });
      if (page.events.length > 0) return true;
      token = page.nextPageToken;
    } while (token !== undefined);
  }
  return false;
}

function vocabularyOf(ctx: Context): VocabularyName {
  const v = ctx.params["vocabulary"]!;
  const name = (Object.keys(VOCABULARY_TYPES) as VocabularyName[]).find((n) => n === v || VOCABULARY_TYPES[n] === v);
  if (name === undefined) throw notFound(`no vocabulary ${v} (${Object.keys(VOCABULARY_TYPES).join(", ")})`);
  return name;
}

export function register(router: GatewayRouter, context: RouteContext): void {
  const requireOrg = context.auth.requireOrg();

  router.get("/vocabularies", requireOrg, (ctx) => {
    ctx.body = { type: "Collection", member: Object.keys(VOCABULARY_TYPES) };
  });

  router.get("/vocabularies/:vocabulary", requireOrg, async (ctx) => {
    const ev = events(context);
    const vocabulary = vocabularyOf(ctx);
    const org = ctx.state.caller!.orgId;
    const raw = ctx.query["EQ_name"];
    if (Array.isArray(raw)) throw badRequest("EQ_name is given several times; separate identifiers with |");
    let ids: string[] | undefined;
    if (raw !== undefined) {
      const list = raw.split("|").map((s) => s.trim());
      if (list.length > 100 || list.some((s) => s === "")) throw badRequest("EQ_name takes 1 to 100 identifiers separated by |");
      try {
        ids = list.map((s) => canonicalIdentifier(s));
      } catch (e) {
        if (e instanceof IdentifierError) throw badRequest(`EQ_name: ${e.message}`);
        throw e;
      }
    }
    const after = typeof ctx.query["after"] === "string" ? ctx.query["after"] : undefined;
    const found = await ev.store.masterData(vocabulary, { ...(ids ? { ids } : {}), ...(after ? { after } : {}), limit: 100 });
    const visible: StoredVocabularyElement[] = [];
    for (const e of found) if (await mayRead(ev, e, org)) visible.push(e);
    ctx.type = "application/ld+json";
    ctx.body = {
      "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
      type: "EPCISMasterDataDocument",
      schemaVersion: "2.0",
      creationDate: new Date(context.options.clock()).toISOString(),
      epcisBody: { vocabularyList: vocabularyListJson(visible) },
      // Tracemesh: the name of each element, for callers that only want to speak in names.
      names: Object.fromEntries(visible.flatMap((e) => (nameOf(e) !== undefined ? [[e.id, nameOf(e)]] : []))),
    };
  });
}

const list = { name: "EQ_name", in: "query", required: false, schema: { type: "string" }, description: "identifiers (any GS1 spelling) separated by |, at most 100" };

export const paths: OpenApiPaths = {
  "/vocabularies": {
    get: { tags: ["EPCIS"], summary: "The master data vocabularies kept (a Collection)", security: bearer, responses: { "200": json("{ type: Collection, member: [BusinessLocation, ReadPoint, EPCClass, Party] }"), "401": problem("no valid token") } },
  },
  "/vocabularies/{vocabulary}": {
    get: {
      tags: ["EPCIS"],
      summary: "Master data of a vocabulary the caller may read: its owner's, or of identifiers named by events the caller may read",
      security: bearer,
      parameters: [
        { name: "vocabulary", in: "path", required: true, schema: { type: "string", enum: Object.keys(VOCABULARY_TYPES) } },
        list,
        { name: "after", in: "query", required: false, schema: { type: "string" }, description: "the last identifier of the previous page (100 elements per page)" },
      ],
      responses: {
        "200": json("EPCISMasterDataDocument: epcisBody.vocabularyList, and `names` (identifier -> CBV name attribute)"),
        "400": problem("a malformed identifier"),
        "401": problem("no valid token"),
        "404": problem("no such vocabulary"),
      },
    },
  },
};


