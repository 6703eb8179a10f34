/**
 * Certificates, public: GET /certificates/{id} answers a certificate's on-chain status (with the
 * issuer's accreditation at issuance and now, revocation reason, supersession and its history of
 * status changes); POST /certificates/verify checks an uploaded credential (lib/credentials.ts)
 * and names each check, a selective disclosure (SD-JWT, lib/credentials/selective-disclosure.ts)
 * included, for the verifier's nonce and domain; POST /certificates/presentations/verify checks a presentation
 * (lib/credentials/presentation.ts) for the verifier's nonce and domain.
 */
import type { Context } from "koa";
import { id as keccakText, isHexString } from "ethers";
import {
  type CertificateAnswer,
  type CertificateChange,
  type CertificateListAnswer,
  type CertificateListEntry,
  type StatementAnswer,
  type VerificationAnswer,
} from "../../lib/api/certificates.ts";
import { scopeName } from "../../lib/certificate-scopes.ts";
import { CHECK_NAMES, certificateOnChain, reasonName, verifyCredential } from "../../lib/credentials.ts";
import { PRESENTATION_CHECK_NAMES, verifyPresentation } from "../../lib/credentials/presentation.ts";
import { SELECTIVE_CHECK_NAMES, VC_SD_JWT_MEDIA_TYPE, sdJwtOfInput, verifySelectiveDisclosure } from "../../lib/credentials/selective-disclosure.ts";
import type { RevocationReason } from "../../lib/registry.ts";
import { readRaw } from "../body.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { HttpProblem, badRequest, forbidden, notFound, requireService } from "../errors.ts";
import { bearer, json, jsonBody, problem } from "../openapi.ts";
import type { GatewayServices } from "../services.ts";
import { parseSubject } from "./trace.ts";

/** Most bytes one revocation statement may hold (a page of text). */
const MAX_STATEMENT_BYTES = 16 * 1024;

/**
 * The certificate's status changes, from the chain index: a public route must not scan the chain
 * from the deployment block per request (five unbounded eth_getLogs did, issue 12). Null on a node
 * without an index; the status itself is always the chain's answer now.
 */
async function historyOf(services: GatewayServices, id: string): Promise<{ history: CertificateChange[] | null; historyAsOfBlock: number | null }> {
  if (services.index === undefined) return { history: null, historyAsOfBlock: null };
  const historyAsOfBlock = services.index.progress().indexedBlock;
  const doc = await services.index.queries.certificate(id);
  const history = (doc?.history ?? []).map((h): CertificateChange => {
    const change: CertificateChange = { event: h.action, block: h.block, tx: h.tx, time: new Date(h.time * 1000).toISOString() };
    if ((h.action === "suspended" || h.action === "revoked") && h.reason !== undefined) change.reason = reasonName(h.reason as RevocationReason);
    if (h.supersededBy !== undefined) change.supersededBy = h.supersededBy;
    return change;
  });
  return { history, historyAsOfBlock };
}

const CREDENTIAL_TEXT_TYPES = ["application/vc+jwt", "application/jwt", VC_SD_JWT_MEDIA_TYPE, "application/sd-jwt", "text/plain"];

async function credentialInput(ctx: Context, readJson: RouteContext["readJson"], limit: number): Promise<unknown> {
  if (ctx.is(CREDENTIAL_TEXT_TYPES)) return (await readRaw(ctx, limit)).toString("utf8");
  if (ctx.is(["application/json", "application/ld+json", "application/*+json"])) return readJson(ctx);
  throw new HttpProblem(415, `send the credential as ${CREDENTIAL_TEXT_TYPES.join(", ")} (the compact JWS) or application/json (an EnvelopedVerifiableCredential or { jwt })`, {
    type: "unsupported-media-type",
  });
}

const LIST_DEFAULT = 50;
const LIST_MAX = 200;

/** One query parameter given at most once, or undefined. */
function single(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v === "") throw badRequest(`query parameter \`${name}\` must be given once and not empty`);
  return v;
}

/**
 * The ids GET /certificates lists, in issuance order: by issuer, by subject (an item or batch),
 * or by item (the item's own and its batch's, as a mill certificate covers a heat). Certificate
 * status is public on chain, so the list is too; it names subjects by key only, never by the
 * serial or lot that only documents off chain hold.
 */
async function listedIds(ctx: Context, services: GatewayServices): Promise<string[]> {
  const q = requireService(services.index, "chain index").queries;
  const issuerRaw = single(ctx, "issuer");
  const subjectRaw = single(ctx, "subject");
  const itemRaw = single(ctx, "item");
  if (issuerRaw === undefined && subjectRaw === undefined && itemRaw === undefined)
    throw badRequest("give at least one of `issuer` (an organisation id), `subject` or `item` (a GS1 Digital Link, EPC URI or 0x key)");
  if (subjectRaw !== undefined && itemRaw !== undefined) throw badRequest("give `subject` or `item`, not both");
  let issuer: number | undefined;
  if (issuerRaw !== undefined) {
    if (!/^[1-9]\d{0,9}$/.test(issuerRaw)) throw badRequest(`query parameter \`issuer\` must be an organisation id (a positive integer), got ${JSON.stringify(issuerRaw)}`);
    issuer = Number(issuerRaw);
  }
  let ids: string[] | undefined;
  if (subjectRaw !== undefined) ids = await q.certificateIdsOf(parseSubject(subjectRaw).key);
  if (itemRaw !== undefined) {
    const key = parseSubject(itemRaw).key;
    const batch = (await q.item(key))?.batch;
    ids = [...(batch ? await q.certificateIdsOf(batch) : []), ...(await q.certificateIdsOf(key))];
  }
  if (issuer === undefined) return ids!;
  const byIssuer = await q.certificateIdsBy(issuer);
  if (ids === undefined) return byIssuer;
  const mine = new Set(byIssuer);
  return ids.filter((id) => mine.has(id));
}

/**
 * The statement behind a recorded hash, checked against the hash: this node's own when its
 * organisation issued the certificate, else fetched from the issuer's node over the peer network
 * (services.remote: verified there too, kept for the next page). A statement is public like the
 * certificate it revokes (everyone relying on it must learn why; the issuer's own gateway shows it
 * to anonymous visitors too); over the peer network it travels to members only. A text that does
 * not hash right is never shown (`mismatch`), whoever sent it.
 */
async function statementOf(services: GatewayServices, id: string, issuer: number, reasonHash: string | null): Promise<StatementAnswer | null> {
  if (reasonHash === null) return null;
  const matches = (text: string) => keccakText(text).toLowerCase() === reasonHash.toLowerCase();
  const own = await services.statements?.get(id);
  if (own !== undefined) return matches(own) ? { status: "verified", text: own } : { status: "mismatch" };
  if (issuer === services.organisation.id || !services.remote) return { status: "not-held" };
  const fetched = await services.remote.statement(issuer, id);
  if ("text" in fetched) return matches(fetched.text) ? { status: "verified", text: fetched.text, from: "issuer-node" } : { status: "mismatch" };
  return fetched.lied ? { status: "mismatch" } : { status: "not-held", reason: fetched.unavailable };
}

export function register(router: GatewayRouter, { services, options, readJson, auth }: RouteContext): void {
  router.get("/certificates", async (ctx) => {
    const index = requireService(services.index, "chain index");
    const limitRaw = single(ctx, "limit");
    if (limitRaw !== undefined && (!/^\d{1,3}$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > LIST_MAX))
      throw badRequest(`query parameter \`limit\` must be an integer from 1 to ${LIST_MAX}, got ${JSON.stringify(limitRaw)}`);
    const limit = limitRaw === undefined ? LIST_DEFAULT : Number(limitRaw);
    const after = single(ctx, "after");
    if (after !== undefined && !isHexString(after, 32)) throw badRequest(`query parameter \`after\` must be a certificate id (0x and 64 hex digits), got ${JSON.stringify(after)}`);
    const asOfBlock = index.progress().indexedBlock;
    const ids = await listedIds(ctx, services);
    let start = 0;
    if (after !== undefined) {
      const at = ids.indexOf(after.toLowerCase());
      if (at < 0) throw badRequest(`\`after\` ${after} is not in this list (continue with the \`nextAfter\` of the previous page)`);
      start = at + 1;
    }
    const pageIds = ids.slice(start, start + limit);
    const q = index.queries;
    const names = new Map<number, Promise<string | null>>();
    const nameOf = (id: number) => {
      if (!names.has(id)) names.set(id, q.member(id).then((m) => m?.name ?? null));
      return names.get(id)!;
    };
    const certificates: CertificateListEntry[] = [];
    for (const c of await q.certificatesById(pageIds)) {
      certificates.push({
        id: c.id,
        issuer: { id: c.issuer, name: await nameOf(c.issuer) },
        subject: c.subject,
        scope: c.scope,
        scopeName: scopeName(c.scope) ?? null,
        state: c.statusName.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`) as CertificateListEntry["state"],
        issuedAt: new Date(c.issuedAt * 1000).toISOString(),
      });
    }
    const nextAfter = start + limit < ids.length ? pageIds[pageIds.length - 1]! : null;
    ctx.body = { certificates, nextAfter, asOfBlock } satisfies CertificateListAnswer;
  });

  router.get("/certificates/:id", async (ctx) => {
    const id = ctx.params.id!;
    if (!isHexString(id, 32)) throw badRequest(`certificate id "${id}" must be 0x and 64 hex digits (the credential hash)`);
    const view = await certificateOnChain(services.contracts, id);
    if (!view) throw notFound(`no certificate ${id.toLowerCase()} was ever issued on this chain`);
    // The tie between the certificate and a recall of its subject, from the chain index.
    const subjectRecall = services.index ? await services.index.queries.recallState(view.subject) : null;
    const statement = await statementOf(services, id, view.issuer.id, view.reasonHash);
    ctx.body = { ...view, credentialHash: view.id, ...(await historyOf(services, id)), subjectRecall, statement } satisfies CertificateAnswer;
  });

  // The issuer keeps its statement on its own node: only this node's organisation, and only for a
  // certificate it issued and revoked or suspended with exactly this text's hash.
  router.put("/certificates/:id/statement", auth.requireOrg(), async (ctx) => {
    const store = requireService(services.statements, "revocation statements");
    const id = ctx.params.id!;
    if (!isHexString(id, 32)) throw badRequest(`certificate id "${id}" must be 0x and 64 hex digits (the credential hash)`);
    const caller = ctx.state.caller!.orgId;
    if (caller !== services.organisation.id) throw forbidden(`this node keeps the statements of ${services.organisation.name} only; send yours to your own node`);
    const view = await certificateOnChain(services.contracts, id);
    if (!view) throw notFound(`no certificate ${id.toLowerCase()} was ever issued on this chain`);
    if (view.issuer.id !== caller) throw forbidden(`certificate ${id.toLowerCase()} was issued by organisation ${view.issuer.id}, not by you`);
    if (view.reasonHash === null) throw new HttpProblem(409, `certificate ${id.toLowerCase()} has no statement hash on chain (revoke or suspend it with the statement's keccak-256 first)`, { type: "conflict" });
    if (!ctx.is(["text/plain"])) throw new HttpProblem(415, "send the statement as text/plain (UTF-8)", { type: "unsupported-media-type" });
    const text = (await readRaw(ctx, MAX_STATEMENT_BYTES)).toString("utf8");
    const hash = keccakText(text);
    if (hash.toLowerCase() !== view.reasonHash.toLowerCase())
      throw badRequest(`the text's keccak-256 is ${hash}, but the chain records ${view.reasonHash} for certificate ${id.toLowerCase()}: not its statement`);
    await store.put(id, text);
    ctx.body = { status: "verified", text } satisfies StatementAnswer;
  });

  router.post("/certificates/verify", async (ctx) => {
    const input = await credentialInput(ctx, readJson, options.bodyLimits.small);
    if (sdJwtOfInput(input) !== undefined) {
      // A selective disclosure is bound to its verifier: the challenge and domain come with it
      // (JSON body fields, or query parameters beside a text body).
      const given = typeof input === "object" && input !== null ? (input as { nonce?: unknown; domain?: unknown }) : ctx.query;
      const { nonce, domain } = given;
      if (typeof nonce !== "string" || nonce === "" || typeof domain !== "string" || domain === "")
        throw badRequest("a selective disclosure (SD-JWT) is verified for the verifier's `nonce` and `domain`: both are required strings");
      ctx.body = (await verifySelectiveDisclosure(input, services.contracts, { chainId: services.chainId, nonce, domain, nowMs: options.clock() })) satisfies VerificationAnswer;
      return;
    }
    ctx.body = (await verifyCredential(input, services.contracts, { chainId: services.chainId, nowMs: options.clock() })) satisfies VerificationAnswer;
  });

  router.post("/certificates/presentations/verify", async (ctx) => {
    if (!ctx.is(["application/json"])) throw new HttpProblem(415, "send { presentation, nonce, domain } as application/json", { type: "unsupported-media-type" });
    const body = (await readJson(ctx)) as { presentation?: unknown; nonce?: unknown; domain?: unknown } | null;
    const { presentation, nonce, domain } = body ?? {};
    if (presentation === undefined) throw badRequest("`presentation` (the vp+jwt compact JWS, or { jwt }) is required");
    if (typeof nonce !== "string" || nonce === "" || typeof domain !== "string" || domain === "")
      throw badRequest("`nonce` and `domain` (the challenge the verifier gave the holder, and the verifier's domain) are required strings");
    ctx.body = await verifyPresentation(presentation, services.contracts, { chainId: services.chainId, nonce, domain, nowMs: options.clock() });
  });
}

const certificateSchema = {
  type: "object",
  required: ["id", "state", "issuer", "subject", "scope", "accreditedAtIssuance", "accreditedNow"],
  properties: {
    id: { type: "string", description: "credential hash (lib/credentials.ts)" },
    credentialHash: { type: "string" },
    state: { enum: ["valid", "not-yet-valid", "expired", "suspended", "revoked", "superseded"] },
    issuer: { type: "object", properties: { id: { type: "integer" }, name: { type: ["string", "null"] } } },
    subject: { type: "string", description: "item or batch key" },
    scope: { type: "string" },
    issuedAt: { type: ["string", "null"], format: "date-time" },
    validFrom: { type: ["string", "null"], format: "date-time" },
    validUntil: { type: ["string", "null"], format: "date-time" },
    reason: { type: ["string", "null"] },
    reasonHash: { type: ["string", "null"] },
    suspendedAt: { type: ["string", "null"] },
    revokedAt: { type: ["string", "null"] },
    supersedes: { type: ["string", "null"] },
    supersededBy: { type: ["string", "null"] },
    accreditedAtIssuance: { type: "boolean" },
    accreditedNow: { type: "boolean" },
    historyAsOfBlock: { type: ["integer", "null"], description: "the chain index's block the history is read at (null without an index)" },
    statement: {
      type: ["object", "null"],
      description:
        "the revocation statement behind reasonHash, this node's own or fetched from the issuer's node over the peer network (`from: issuer-node`): verified (with its text), mismatch (text withheld), not-held (with the reason the issuer's node did not deliver); null without a recorded hash",
      properties: { status: { enum: ["verified", "mismatch", "not-held"] }, text: { type: "string" }, from: { enum: ["issuer-node"] }, reason: { type: "string" } },
    },
    history: {
      type: ["array", "null"],
      description: "status changes from the node's chain index; null on a node without one",
      items: {
        type: "object",
        properties: {
          event: { enum: ["issued", "suspended", "reinstated", "revoked", "superseded"] },
          block: { type: "integer" },
          tx: { type: "string" },
          time: { type: "string", format: "date-time" },
          reason: { type: "string" },
          supersededBy: { type: "string" },
        },
      },
    },
  },
};

const check = { type: "object", properties: { ok: { type: ["boolean", "null"] }, detail: { type: "string" } } };

export const paths: OpenApiPaths = {
  "/certificates": {
    get: {
      summary: "List certificates by issuer, subject or item, from the chain index (public, paged)",
      description:
        "Certificate status is public on chain, so anyone may list it. `item` lists the item's certificates and its batch's (a mill certificate covers a heat). " +
        "Subjects are named by on-chain key only: the serial or lot behind a key is shown where the caller may read it, on the certificate's and item's pages.",
      tags: ["certificates"],
      parameters: [
        { name: "issuer", in: "query", description: "the issuing organisation's id", schema: { type: "integer", minimum: 1 } },
        { name: "subject", in: "query", description: "an item or batch: GS1 Digital Link, EPC URI or 0x key", schema: { type: "string" } },
        { name: "item", in: "query", description: "an item: its certificates and its batch's", schema: { type: "string" } },
        { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: LIST_MAX, default: LIST_DEFAULT } },
        { name: "after", in: "query", description: "continue after this certificate id (the previous page's `nextAfter`)", schema: { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" } },
      ],
      responses: {
        "200": json("Certificates in issuance order", {
          type: "object",
          required: ["certificates", "nextAfter", "asOfBlock"],
          properties: {
            certificates: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  id: { type: "string" },
                  issuer: { type: "object", properties: { id: { type: "integer" }, name: { type: ["string", "null"] } } },
                  subject: { type: "string", description: "item or batch key" },
                  scope: { type: "string" },
                  scopeName: { type: ["string", "null"] },
                  state: { enum: ["valid", "not-yet-valid", "expired", "suspended", "revoked", "superseded"] },
                  issuedAt: { type: "string", format: "date-time" },
                },
              },
            },
            nextAfter: { type: ["string", "null"] },
            asOfBlock: { type: "integer" },
          },
        }),
        "400": problem("No filter, a malformed filter, limit or cursor"),
        "503": problem("This node has no chain index"),
      },
    },
  },
  "/certificates/{id}": {
    get: {
      summary: "A certificate's on-chain status, issuer accreditation and history",
      tags: ["certificates"],
      parameters: [{ name: "id", in: "path", required: true, schema: { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" } }],
      responses: {
        "200": json("The certificate", certificateSchema),
        "400": problem("Not a 32-byte hex id"),
        "404": problem("Never issued"),
      },
    },
  },
  "/certificates/{id}/statement": {
    put: {
      summary: "Keep a revocation statement on the issuer's node (the chain holds its hash)",
      description: "Only the node's own organisation, for a certificate it issued and revoked or suspended with this text's keccak-256 as reasonHash.",
      tags: ["certificates"],
      security: bearer,
      parameters: [{ name: "id", in: "path", required: true, schema: { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" } }],
      requestBody: { required: true, content: { "text/plain": { schema: { type: "string", maxLength: MAX_STATEMENT_BYTES } } } },
      responses: {
        "200": json("Kept, verified against the chain", { type: "object", properties: { status: { enum: ["verified"] }, text: { type: "string" } } }),
        "400": problem("Malformed id, or a text that does not hash to the recorded statement hash"),
        "401": problem("Not signed in"),
        "403": problem("Not this node's organisation, or not the certificate's issuer"),
        "404": problem("No such certificate"),
        "409": problem("No statement hash recorded"),
        "413": problem("Text too long"),
        "415": problem("Not text/plain"),
        "503": problem("This node keeps no statements"),
      },
    },
  },
  "/certificates/verify": {
    post: {
      summary: "Verify a credential (VC 2.0 secured with VC-JOSE) against the chain",
      description:
        "The credential's id is keccak256 of its JWS signing input. Checks: " +
        CHECK_NAMES.join(", ") +
        ". issuerAccreditedNow is advisory (a warning); subject is checked when credentialSubject.id is a GS1 identifier. " +
        `A selective disclosure (${VC_SD_JWT_MEDIA_TYPE}: issuer JWT~disclosures~key binding JWT) is verified for the verifier's nonce and domain ` +
        "(JSON fields beside `credential`, or query parameters with a text body); its answer has kind selective-disclosure, the checks " +
        SELECTIVE_CHECK_NAMES.join(", ") +
        ", the disclosed claims, and how many stay hidden where; its id is the same whatever is disclosed.",
      tags: ["certificates"],
      parameters: [
        { name: "nonce", in: "query", description: "selective disclosure sent as text: the challenge the verifier gave the holder", schema: { type: "string" } },
        { name: "domain", in: "query", description: "selective disclosure sent as text: the verifier's domain", schema: { type: "string" } },
      ],
      requestBody: {
        required: true,
        content: {
          "application/vc+jwt": { schema: { type: "string" } },
          [VC_SD_JWT_MEDIA_TYPE]: { schema: { type: "string", description: "a selective disclosure; with ?nonce=&domain=" } },
          "text/plain": { schema: { type: "string" } },
          "application/json": { schema: { type: "object", description: "EnvelopedVerifiableCredential, or { jwt }, or { credential: <SD-JWT>, nonce, domain }" } },
        },
      },
      responses: {
        "200": json("The verdict, with each check named", {
          type: "object",
          required: ["verdict", "checks", "problems"],
          properties: {
            verdict: { enum: ["valid", "invalid"] },
            id: { type: ["string", "null"] },
            signer: { type: ["string", "null"] },
            kind: { enum: ["selective-disclosure"], description: "present for a selective disclosure" },
            checks: { type: "object", properties: Object.fromEntries(SELECTIVE_CHECK_NAMES.map((n) => [n, check])) },
            problems: { type: "array", items: { type: "string" } },
            warnings: { type: "array", items: { type: "string" } },
            holder: { type: ["string", "null"], description: "selective disclosure: the holder account it is bound to" },
            disclosed: { type: "array", items: { type: "object", properties: { path: { type: "string" }, value: {} } } },
            hidden: { type: "array", items: { type: "object", properties: { path: { type: "string" }, count: { type: "integer" } } } },
            certificate: { oneOf: [certificateSchema, { type: "null" }] },
            credential: { type: ["object", "null"] },
            header: { type: ["object", "null"] },
          },
        }),
        "400": problem("Malformed JSON, or a selective disclosure without nonce and domain"),
        "413": problem("Body too large"),
        "415": problem("Unsupported content type"),
      },
    },
  },
  "/certificates/presentations/verify": {
    post: {
      summary: "Verify a presentation of certificates (VC 2.0 presentation secured with VC-JOSE, vp+jwt) for the verifier's challenge",
      description:
        "Checks: " + PRESENTATION_CHECK_NAMES.join(", ") + ". The presentation's nonce and aud claims must be the verifier's nonce and domain; each presented credential is verified as by /certificates/verify.",
      tags: ["certificates"],
      requestBody: jsonBody({
        type: "object",
        required: ["presentation", "nonce", "domain"],
        properties: { presentation: { description: "the vp+jwt compact JWS, or { jwt }" }, nonce: { type: "string" }, domain: { type: "string" } },
      }),
      responses: {
        "200": json("The verdict, with each check named, and each credential's verification", {
          type: "object",
          required: ["verdict", "checks", "problems", "credentials"],
          properties: {
            verdict: { enum: ["valid", "invalid"] },
            holder: { type: ["string", "null"] },
            checks: { type: "object", properties: Object.fromEntries(PRESENTATION_CHECK_NAMES.map((n) => [n, check])) },
            problems: { type: "array", items: { type: "string" } },
            credentials: { type: "array", items: { type: "object" } },
          },
        }),
        "400": problem("Malformed JSON, or nonce/domain missing"),
        "413": problem("Body too large"),
        "415": problem("Unsupported content type"),
      },
    },
  },
};
