/**
 * Sign-in (EIP-4361): GET /auth/challenge?address=0x.. issues a message to sign; POST /auth/token
 * trades the signed message for a short-lived bearer token once Consortium says the account signs
 * for an active organisation.
 */
import { type GatewayRouter, type OpenApiPaths, type RouteContext, originOf } from "../context.ts";
import { badRequest, forbidden } from "../errors.ts";
import { bearer, json, jsonBody, problem } from "../openapi.ts";
import { roleName } from "../auth/membership.ts";
import type { AuthChallenge, IssuedToken, SessionAnswer } from "../../lib/api/auth.ts";

export function register(router: GatewayRouter, { auth, options, readJson }: RouteContext): void {
  router.get("/auth/challenge", (ctx) => {
    const address = typeof ctx.query.address === "string" ? ctx.query.address : undefined;
    const origin = originOf(ctx, options);
    const challenge = auth.challenges.issue(address, new URL(origin).host, origin, ctx.state.clientAddress);
    ctx.set("Cache-Control", "no-store");
    ctx.body = { message: challenge.message, nonce: challenge.nonce, expiresAt: challenge.expiresAt.toISOString() } satisfies AuthChallenge;
  });

  router.post("/auth/token", async (ctx) => {
    const body = await readJson(ctx);
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("the body must be a JSON object { message, signature }");
    const { message, signature } = body as { message?: unknown; signature?: unknown };
    const account = await auth.challenges.redeem(message, signature);
    const membership = await auth.membership.activeOrgOf(account);
    if (membership.orgId === 0) throw forbidden(`account ${account} does not sign for an active member organisation of this consortium`);
    const orgName = await auth.membership.orgName(membership.orgId);
    const roles = membership.roles.map(roleName);
    const { token, expiresAt } = await auth.tokens.issue({ account, orgId: membership.orgId, orgName, roles });
    ctx.set("Cache-Control", "no-store");
    ctx.body = { token, expiresAt: expiresAt.toISOString(), organisation: { id: membership.orgId, name: orgName, roles }, account } satisfies IssuedToken;
  });

  router.get("/auth/session", auth.requireOrg(), (ctx) => {
    const caller = ctx.state.caller!;
    ctx.body = { account: caller.account, organisation: { id: caller.orgId, name: caller.orgName, roles: caller.roles.map(roleName) } } satisfies SessionAnswer;
  });
}

export const paths: OpenApiPaths = {
  "/auth/challenge": {
    get: {
      summary: "An EIP-4361 sign-in message for an account (single use, 5 minutes)",
      tags: ["auth"],
      parameters: [{ name: "address", in: "query", required: true, schema: { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" } }],
      responses: {
        "200": json("The message to sign with personal_sign", {
          type: "object",
          required: ["message", "nonce", "expiresAt"],
          properties: { message: { type: "string" }, nonce: { type: "string" }, expiresAt: { type: "string", format: "date-time" } },
        }),
        "400": problem("No or malformed address"),
        "429": problem("Too many challenges pending for this client"),
        "503": problem("Too many challenges pending in all"),
      },
    },
  },
  "/auth/token": {
    post: {
      summary: "Trade a signed sign-in message for a bearer token",
      tags: ["auth"],
      requestBody: jsonBody({
        type: "object",
        required: ["message", "signature"],
        properties: { message: { type: "string" }, signature: { type: "string", pattern: "^0x[0-9a-fA-F]{130}$" } },
      }),
      responses: {
        "200": json("A token for the account's organisation", {
          type: "object",
          required: ["token", "expiresAt", "organisation", "account"],
          properties: {
            token: { type: "string" },
            expiresAt: { type: "string", format: "date-time" },
            organisation: {
              type: "object",
              properties: { id: { type: "integer" }, name: { type: "string" }, roles: { type: "array", items: { type: "string" } } },
            },
            account: { type: "string" },
          },
        }),
        "400": problem("Malformed body, message or signature"),
        "401": problem("Unknown, used or expired nonce; wrong domain, chain or signer"),
        "403": problem("The account signs for no active organisation"),
      },
    },
  },
  "/auth/session": {
    get: {
      summary: "Who the token speaks for, with the organisation's roles as the chain says now",
      tags: ["auth"],
      security: bearer,
      responses: {
        "200": json("The caller", {
          type: "object",
          properties: {
            account: { type: "string" },
            organisation: {
              type: "object",
              properties: { id: { type: "integer" }, name: { type: "string" }, roles: { type: "array", items: { type: "string" } } },
            },
          },
        }),
        "401": problem("No, malformed, forged or expired token"),
        "403": problem("The organisation is no longer active"),
      },
    },
  },
};
