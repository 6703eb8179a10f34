/**
 * Certificates, public: GET /certificates/{id} answers a certificate's on-chain status (with the
 * issuer's accreditation at issuance and now, revocation reason, supersession and its history of
 * status changes); POST /certificates/verify checks an uploaded credential (lib/credentials.ts)
 * and names each check, a selective disclosure (SD-JWT, lib/credentials/selective-disclosure.ts)
 * included, for the verifier's nonce and domain; POST /certificates/presentations/verify checks a presentation
 * (lib/credentials/presentation.ts) for the verifier's nonce and domain.
 */
import type { Context } from "koa";
import { isHexString } from "ethers";
import type { CertificateAnswer, CertificateChange, VerificationAnswer } from "../../lib/api/certificates.ts";
import { CHECK_NAMES, certificateOnChain, reasonName, verifyCredential } from "../../lib/credentials.ts";
import { PRESENTATION_CHECK_NAMES, verifyPresentation } from "../../lib/credentials/presentation.ts";
import { SELECTIVE_CHECK_NAMES, VC_SD_JWT_MEDIA_TYPE, sdJwtOfInput, verifySelectiveDisclosure } from "../../lib/credentials/selective-disclosure.ts";
import type { RevocationReason } from "../../lib/registry.ts";
import { readRaw } from "../body.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { HttpProblem, badRequest, notFound } from "../errors.ts";
import { json, problem } from "../openapi.ts";
import type { GatewayServices } from "../services.ts";

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

export function register(router: GatewayRouter, { services, options, readJson }: RouteContext): void {
  router.get("/certificates/:id", async (ctx) => {
    const id = ctx.params.id!;
    if (!isHexString(id, 32)) throw badRequest(`certificate id "${id}" must be 0x and 64 hex digits (the credential hash)`);
    const view = await certificateOnChain(services.contracts, id);
    if (!view) throw notFound(`no certificate ${id.toLowerCase()} was ever issued on this chain`);
    // The tie between the certificate and a recall of its subject, from the chain index.
    const subjectRecall = services.index ? await services.index.queries.recallState(view.subject) : null;
    ctx.body = { ...view, credentialHash: view.id, ...(await historyOf(services, id)), subjectRecall } satisfies CertificateAnswer;
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
      requestBody: {
        required: true,
        content: {
          "application/json": {
            schema: {
              type: "object",
              required: ["presentation", "nonce", "domain"],
              properties: { presentation: { description: "the vp+jwt compact JWS, or { jwt }" }, nonce: { type: "string" }, domain: { type: "string" } },
            },
          },
        },
      },
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
