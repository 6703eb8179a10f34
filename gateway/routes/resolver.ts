/**
 * GS1 Digital Link resolver: /01/{gtin}[/22/{cpv}][/10/{lot}][/21/{serial}] and the other GS1
 * primary keys answer machines with an RFC 9264 linkset (the item's API and explorer page) and
 * browsers with a 303 to the explorer; an invalid URI gets 400 saying what is wrong (check digit,
 * AI, order, data attribute), by the DL 1.4 grammar with no leniency (lib/identifiers/digital-link.ts).
 * Compressed Digital Links (/{compressed}) resolve like their uncompressed form, with an
 * owl:sameAs link to it. Link types are GS1's (https://ref.gs1.org/voc/), each also under its
 * older IRI (https://gs1.org/voc/) so that older clients find it; the resolver describes itself
 * at /.well-known/gs1resolver; every answer may be read cross-origin (CORS), as scanner web apps
 * on other origins need. GET /resolve?id= turns whatever a person typed or scanned into identifiers.
 */
import type { Context, Middleware } from "koa";
import { isHexString } from "ethers";
import { canonicalIdentifier, keyOfCanonical } from "../../lib/identifiers/canonical.ts";
import { CANONICAL_HOST, LENIENT_DIGITAL_LINK, type ParsedDigitalLink, isCompressedDigitalLink, parseDigitalLink, toDigitalLink } from "../../lib/identifiers/digital-link.ts";
import { parseEpcUri } from "../../lib/identifiers/epc-uri.ts";
import { type Gs1Identifier, IdentifierError, finestGranularity, identifierType, isBatchType, isItemType } from "../../lib/identifiers/gs1-keys.ts";
import type { ResolveAnswer, ResolvedIdentifier } from "../../lib/api/resolver.ts";
import { CertificateState } from "../../lib/registry.ts";
import { type GatewayRouter, type OpenApiPaths, type RouteContext, originOf } from "../context.ts";
import { HttpProblem, badRequest } from "../errors.ts";
import { json, problem } from "../openapi.ts";

/** GS1 primary keys the resolver answers, with the name of their path parameter. */
export const PRIMARY_KEYS: Readonly<Record<string, string>> = {
  "01": "gtin",
  "00": "sscc",
  "8004": "giai",
  "8003": "grai",
  "414": "gln",
  "417": "partyGln",
  "8006": "itip",
  "8010": "cpid",
  "8017": "gsrnp",
  "8018": "gsrn",
  "253": "gdti",
  "255": "gcn",
  "401": "ginc",
  "402": "gsin",
};

export const LINKSET_TYPE = "application/linkset+json";
/** GS1's link type vocabulary, and the IRI it had before (kept as an equivalent relation type). */
export const GS1_VOC = "https://ref.gs1.org/voc/";
export const GS1_VOC_OLD = "https://gs1.org/voc/";
const TM = "https://tracemesh.dev/rel/";
const OWL_SAME_AS = "http://www.w3.org/2002/07/owl#sameAs";
/** Languages the explorer speaks (explorer/src/i18n.ts). */
export const EXPLORER_LANGUAGES = ["en", "zh"];

export function describeIdentifier(id: Gs1Identifier): ResolvedIdentifier {
  const finest = finestGranularity(id);
  const type = identifierType(finest);
  const digitalLink = canonicalIdentifier(finest);
  return {
    type,
    digitalLink,
    ...(isItemType(type) ? { itemKey: keyOfCanonical(digitalLink) } : {}),
    ...(isBatchType(type) ? { batchKey: keyOfCanonical(digitalLink) } : {}),
  };
}

type Link = { href: string; title: string; type: string; hreflang?: string[] };

/**
 * The linkset (RFC 9264 JSON) of an identifier: GS1 link types to this gateway's API and explorer,
 * each GS1 one under its current and its older IRI; `sameAs` (a compressed link's uncompressed
 * form) is added as owl:sameAs.
 */
export function linksetOf(resolved: ResolvedIdentifier, origin: string, explorerPath: string, sameAs?: string) {
  const id = encodeURIComponent(resolved.digitalLink);
  const api = (path: string, title: string): Link[] => [{ href: `${origin}${path}`, title, type: "application/json" }];
  const gs1: Record<string, Link[]> = {
    defaultLink: [{ href: `${origin}${explorerPath}#/item/${id}`, title: "Item page in the Tracemesh explorer", type: "text/html", hreflang: EXPLORER_LANGUAGES }],
    traceability: api(`/items/${id}/history`, "Item history (custody, transformations, inspections)"),
    epcis: api(`/epcs/${id}/events`, "EPCIS 2.0 events of this identifier"),
    certificationInfo: api(`/items/${id}/certificates`, "Certificates issued for this item"),
  };
  const context: Record<string, unknown> = { anchor: resolved.digitalLink };
  for (const [type, links] of Object.entries(gs1)) {
    context[GS1_VOC + type] = links;
    context[GS1_VOC_OLD + type] = links;
  }
  context[`${TM}item`] = api(`/items/${id}`, "On-chain item record");
  context[`${TM}genealogy`] = api(`/items/${id}/genealogy?direction=both`, "Genealogy (inputs and outputs)");
  if (sameAs !== undefined) context[OWL_SAME_AS] = [{ href: sameAs, title: "The uncompressed Digital Link", type: LINKSET_TYPE }];
  return { linkset: [context] };
}

/** The relation type a `linkType` query value names: gs1:x, or either GS1 IRI of it, or any IRI. */
function relationOf(linkType: string): string {
  if (linkType.startsWith("gs1:")) return GS1_VOC + linkType.slice(4);
  for (const old of [GS1_VOC_OLD, "http://gs1.org/voc/"]) if (linkType.startsWith(old)) return GS1_VOC + linkType.slice(old.length);
  return linkType;
}

/** CORS: anyone's scanner page may read the resolver's answers, and the links in its headers. */
function allowCrossOrigin(ctx: Context): void {
  ctx.set("Access-Control-Allow-Origin", "*");
  ctx.set("Access-Control-Expose-Headers", "Link, Location, Content-Type");
}

function identifierProblem(e: unknown): never {
  if (e instanceof IdentifierError) throw badRequest(`invalid GS1 Digital Link: ${e.message}`, { input: e.input });
  throw e;
}

/** Resolves the request's Digital Link; compressed links only when `compressed` (their route). */
async function resolvePath(ctx: Context, options: RouteContext["options"], compressed = false): Promise<void> {
  allowCrossOrigin(ctx);
  const uri = CANONICAL_HOST + ctx.path + (ctx.querystring ? `?${ctx.querystring}` : "");
  let resolved: ResolvedIdentifier;
  let parsed: ParsedDigitalLink;
  try {
    parsed = parseDigitalLink(uri, { decompress: compressed });
    resolved = describeIdentifier(parsed.identifier);
  } catch (e) {
    identifierProblem(e);
  }
  const linkType = parsed.attributes.linkType;
  const origin = originOf(ctx, options);
  const sameAs = parsed.decompressed ? uncompressedOf(parsed, origin) : undefined;
  const linkset = linksetOf(resolved, origin, options.explorerPath, sameAs);
  ctx.vary("Accept");
  ctx.set("Link", [`<${origin}${ctx.path}?linkType=all>; rel="linkset"; type="${LINKSET_TYPE}"`, ...(sameAs ? [`<${sameAs}>; rel="${OWL_SAME_AS}"`] : [])].join(", "));
  if (linkType !== undefined && linkType !== "all" && linkType !== "linkset") {
    // GS1 resolver convention: ?linkType=gs1:pip (or the full URI) redirects to that link; a
    // link type the item does not have falls back to the default behaviour.
    const target = linkset.linkset[0]![relationOf(linkType)] as { href: string }[] | undefined;
    if (target) {
      ctx.status = 303;
      ctx.redirect(target[0]!.href);
      return;
    }
  }
  const all = linkType === "all" || linkType === "linkset";
  const accepted = all ? LINKSET_TYPE : ctx.accepts(LINKSET_TYPE, "application/json", "text/html");
  if (accepted === false) throw new HttpProblem(406, `this resolver answers ${LINKSET_TYPE}, application/json or text/html`);
  if (accepted === "text/html") {
    ctx.status = 303;
    ctx.redirect((linkset.linkset[0]![`${GS1_VOC}defaultLink`] as { href: string }[])[0]!.href);
    return;
  }
  ctx.type = accepted === "application/json" ? "application/json" : LINKSET_TYPE;
  ctx.body = linkset;
}

/** The uncompressed form of a decompressed link on this resolver, query string kept. */
function uncompressedOf(parsed: ParsedDigitalLink, origin: string): string {
  const query = new URLSearchParams(Object.entries(parsed.attributes)).toString();
  return toDigitalLink(parsed.identifier, origin) + (query ? `?${query}` : "");
}

/** The resolver's description (GS1-Conformant Resolver standard, /.well-known/gs1resolver). */
export function resolverDescription(origin: string) {
  return {
    name: "Tracemesh GS1 Digital Link resolver",
    resolverRoot: origin,
    supportedPrimaryKeys: Object.keys(PRIMARY_KEYS),
    supportedLinkType: [
      { namespace: GS1_VOC, prefix: "gs1:", equivalentNamespace: GS1_VOC_OLD },
      { namespace: TM, prefix: "tm:" },
    ],
    linkTypeDefaultCanBeLinkset: true,
    validatesDLURIs: true,
    supportsCompressedDLURIs: true,
    supportedLanguages: EXPLORER_LANGUAGES,
    supportedContextValuesEnumerated: [],
  };
}

/** Turns typed or scanned text into a GS1 identifier; undefined when it is not one. */
function identifierOfText(input: string): { id: Gs1Identifier; epc?: string } | undefined {
  if (input.startsWith("urn:epc:")) return { id: parseEpcUri(input).identifier, epc: input };
  // What a person typed is read with the older forms allowed; the resolver paths are strict.
  if (/^https?:\/\//i.test(input)) return { id: parseDigitalLink(input, { ...LENIENT_DIGITAL_LINK, decompress: true }).identifier };
  if (/^\/?\d{2,4}\//.test(input)) return { id: parseDigitalLink(`${CANONICAL_HOST}/${input.replace(/^\//, "")}`, LENIENT_DIGITAL_LINK).identifier };
  // GS1 element string in human-readable form: (01)09506000134352(10)LOT(21)SERIAL, any order.
  if (/^(\(\d{2,4}\)[^()]+)+$/.test(input)) {
    const elements = [...input.matchAll(/\((\d{2,4})\)([^()]+)/g)].map((m) => ({ ai: m[1]!, value: m[2]! }));
    const primary = elements.find((e) => e.ai in PRIMARY_KEYS);
    if (!primary) throw new IdentifierError(`"${input}" has no GS1 primary key (e.g. (01) GTIN, (00) SSCC)`, input);
    const order = ["22", "10", "21", "235", "8011", "254", "7040", "8019"];
    const rest = elements.filter((e) => e !== primary).sort((a, b) => order.indexOf(a.ai) - order.indexOf(b.ai));
    const path = [primary, ...rest].map((e) => `/${e.ai}/${encodeURIComponent(e.value)}`).join("");
    return { id: parseDigitalLink(CANONICAL_HOST + path, LENIENT_DIGITAL_LINK).identifier };
  }
  // A GTIN, optionally with "lot X" and/or "serial Y".
  const m = /^(\d{8}|\d{12,14})(?:\s+(?:lot|batch)\s*[:=]?\s*(\S+))?(?:\s+(?:serial|ser|sn)\s*[:=]?\s*(\S+))?$/i.exec(input);
  if (m) {
    let path = `/01/${m[1]!}`;
    if (m[2]) path += `/10/${encodeURIComponent(m[2])}`;
    if (m[3]) path += `/21/${encodeURIComponent(m[3])}`;
    return { id: parseDigitalLink(CANONICAL_HOST + path, LENIENT_DIGITAL_LINK).identifier };
  }
  return undefined;
}

/**
 * Compressed Digital Links: one path segment of base64url at the root, which no route pattern can
 * tell from other paths, so they are resolved after the router found no route (see RouteModule).
 */
export function fallback({ options }: RouteContext): Middleware {
  return async (ctx, next) => {
    const segment = /^\/([A-Za-z0-9_-]{6,})$/.exec(ctx.path)?.[1];
    if (segment === undefined || (ctx.method !== "GET" && ctx.method !== "HEAD") || !isCompressedDigitalLink(CANONICAL_HOST + ctx.path)) return next();
    await resolvePath(ctx, options, true);
  };
}

export function register(router: GatewayRouter, { services, options }: RouteContext): void {
  for (const [ai, name] of Object.entries(PRIMARY_KEYS)) {
    router.get(`/${ai}/:${name}`, (ctx) => resolvePath(ctx, options));
    router.get(`/${ai}/:${name}/*qualifiers`, (ctx) => resolvePath(ctx, options));
  }

  router.get("/.well-known/gs1resolver", (ctx) => {
    allowCrossOrigin(ctx);
    ctx.body = resolverDescription(originOf(ctx, options));
  });

  router.get("/resolve", async (ctx) => {
    const raw = ctx.query.id;
    if (typeof raw !== "string" || raw.trim() === "") throw badRequest("the query parameter `id` (an identifier, Digital Link, EPC URI or certificate id) is required");
    const input = raw.trim();
    if (isHexString(input, 32)) {
      const cert = await services.contracts.certificates.certificate(input);
      ctx.body = (
        Number(cert.state) !== CertificateState.None
          ? { input, type: "certificate", certificateId: input.toLowerCase() }
          : { input, type: "key", itemKey: input.toLowerCase() }
      ) satisfies ResolveAnswer;
      return;
    }
    let found: ReturnType<typeof identifierOfText>;
    try {
      found = identifierOfText(input);
    } catch (e) {
      if (e instanceof IdentifierError) throw badRequest(`"${input}" looks like a GS1 identifier but is not valid: ${e.message}`, { input });
      throw e;
    }
    if (!found) {
      throw badRequest(
        `"${input}" is not recognised: expected a GS1 Digital Link (https://.../01/...), an EPC URI (urn:epc:...), a GS1 element string ((01)...(21)...), a GTIN with "lot"/"serial", or a 0x certificate id or key`,
        { input },
      );
    }
    ctx.body = { input, ...describeIdentifier(found.id), ...(found.epc ? { epc: found.epc } : {}) } satisfies ResolveAnswer;
  });
}

const resolverResponses = {
  "200": {
    description: "The identifier's links (RFC 9264 linkset)",
    content: { [LINKSET_TYPE]: { schema: { $ref: "#/components/schemas/Linkset" } }, "application/json": { schema: { $ref: "#/components/schemas/Linkset" } } },
  },
  "303": { description: "Browsers (Accept: text/html), or ?linkType=...: redirect to the explorer page or the chosen link" },
  "400": problem("Not a valid GS1 Digital Link: bad check digit, unknown or misplaced AI, qualifiers out of order"),
  "406": problem("None of the offered media types is acceptable"),
};

function resolverPaths(): OpenApiPaths {
  const paths: OpenApiPaths = {};
  for (const [ai, name] of Object.entries(PRIMARY_KEYS)) {
    const key = { name, in: "path", required: true, schema: { type: "string" }, description: `GS1 AI (${ai}) value` };
    const linkType = { name: "linkType", in: "query", required: false, schema: { type: "string" }, description: "GS1 link type to redirect to (e.g. gs1:traceability; one the item lacks falls back to the default), or `all` for the linkset" };
    const base = {
      tags: ["digital link"],
      "x-open-query": true, // Digital Link data attributes (e.g. ?17=261231) may follow
      responses: resolverResponses,
    };
    paths[`/${ai}/{${name}}`] = { get: { ...base, summary: `Resolve a GS1 Digital Link with primary key ${ai}`, parameters: [key, linkType] } };
    paths[`/${ai}/{${name}}/{qualifiers}`] = {
      get: {
        ...base,
        summary: `Resolve a GS1 Digital Link with primary key ${ai} and key qualifiers`,
        parameters: [
          key,
          { name: "qualifiers", in: "path", required: true, schema: { type: "string" }, description: "Key qualifiers as AI/value path segments in Digital Link order, e.g. 10/LOT1/21/SER1 (slashes not encoded)" },
          linkType,
        ],
      },
    };
  }
  return paths;
}

export const paths: OpenApiPaths = {
  ...resolverPaths(),
  "/.well-known/gs1resolver": {
    get: {
      summary: "This resolver's description (GS1-Conformant Resolver standard)",
      tags: ["digital link"],
      responses: {
        "200": json("Resolver description", {
          type: "object",
          required: ["name", "resolverRoot", "supportedPrimaryKeys", "supportedLinkType", "linkTypeDefaultCanBeLinkset"],
          properties: {
            name: { type: "string" },
            resolverRoot: { type: "string" },
            supportedPrimaryKeys: { type: "array", items: { type: "string" } },
            supportedLinkType: { type: "array", items: { type: "object" } },
            linkTypeDefaultCanBeLinkset: { type: "boolean" },
            validatesDLURIs: { type: "boolean" },
            supportsCompressedDLURIs: { type: "boolean" },
            supportedLanguages: { type: "array", items: { type: "string" } },
            supportedContextValuesEnumerated: { type: "array", items: { type: "string" } },
          },
        }),
      },
    },
  },
  "/resolve": {
    get: {
      summary: "Recognise an identifier typed or scanned by a person",
      tags: ["digital link"],
      parameters: [{ name: "id", in: "query", required: true, schema: { type: "string" }, description: "Digital Link, EPC URI, GS1 element string, GTIN with lot/serial, or 0x certificate id/key" }],
      responses: {
        "200": json("What the input designates", {
          type: "object",
          required: ["input", "type"],
          properties: {
            input: { type: "string" },
            type: { type: "string", description: "sgtin, lgtin, sscc, ... (lib/identifiers/gs1-keys.ts), certificate, or key" },
            digitalLink: { type: "string" },
            epc: { type: "string" },
            itemKey: { type: "string" },
            batchKey: { type: "string" },
            certificateId: { type: "string" },
          },
        }),
        "400": problem("Not recognised, or a GS1 identifier that is not valid"),
      },
    },
  },
};
