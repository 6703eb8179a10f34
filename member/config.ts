/**
 * The member's configuration file: the node's (node/config.ts) with two more sections, read by
 * the one config reader (lib/config-reader.ts) against one schema.
 *
 *   "gateway": { "host": "127.0.0.1", "port": 8601, "publicHost": "trace.example.com",
 *                "explorer": true, "tokenSecretFile": "./gateway-secret",
 *                "trustedProxies": ["10.0.0.2"], "metricsTokenFile": "./metrics-token",
 *                "metricsLoopback": false, "webhookDestinations": ["https://erp.example.com"],
 *                "rateLimit": { "organisationPerMinute": 12000, "anonymousPerMinute": 600 } },   // all optional
 *   "parties": { "https://id.gs1.org/417/9521001000010": "Nordstahl Steel Mill" }
 *
 * The node's sections include "retention" (node/retention/policy.ts): how long each stream's
 * readings stay in the store before they move to archive files, e.g.
 *   "retention": { "streams": [{ "stream": "spindle-*", "keepDays": 7 }], "archiveDir": "./archive" }
 *
 * `parties` is the node's directory of shipment destinations: the GS1 party or location (as a
 * Digital Link or EPC URI) a partner's EPCIS events name, and the member organisation (name or id)
 * it stands for. Shipping to a party not listed is refused with a clear error. The node commands
 * (node/cli.ts) read the same file and skip these two sections.
 */
import path from "node:path";
import { type Static, Type } from "@sinclair/typebox";
import { FilePath, checkConfig, readJsonFile } from "../lib/config-reader.ts";
import { canonicalIdentifier } from "../lib/identifiers/canonical.ts";
import type { RateLimits } from "../gateway/ratelimit.ts";
import { type NodeConfig, NodeConfigSchema, OrganisationRef, nodeConfigRules, toNodeConfig } from "../node/config.ts";

const GatewaySchema = Type.Object(
  {
    host: Type.String({ pattern: "\\S", default: "127.0.0.1", problem: "must be a host name or address" }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8601, problem: "must be a TCP port" }),
    /** The host names (or origins) partners reach this gateway by; required off loopback. */
    publicHost: Type.Optional(
      Type.Union([Type.String({ pattern: "\\S" }), Type.Array(Type.String({ pattern: "\\S" }), { minItems: 1 })], { problem: "must be a host name or origin, or a list of them" }),
    ),
    /** Proxies whose X-Forwarded-For is believed (their addresses). */
    trustedProxies: Type.Optional(Type.Array(Type.String({ pattern: "\\S" }), { problem: "must be a list of proxy addresses" })),
    /** A file holding the bearer token Prometheus sends to /metrics. */
    metricsTokenFile: Type.Optional(FilePath({ problem: "must be a path" })),
    /** Let loopback clients scrape /metrics without a token (only where no local proxy forwards). */
    metricsLoopback: Type.Boolean({ default: false, problem: "must be true or false" }),
    /** Serve the built explorer (explorer/dist) under /explorer/. */
    explorer: Type.Boolean({ default: true, problem: "must be true or false" }),
    /**
     * Token signing secret (at least 32 bytes); created on first start, owner-only, when missing.
     * Default <dataDir>/gateway-token-secret, so the tokens a member issued survive its restart.
     */
    tokenSecretFile: Type.Optional(FilePath({ problem: "must be a path" })),
    /** Requests a minute per organisation (callers with a token) and per anonymous address (gateway/ratelimit.ts). */
    rateLimit: Type.Optional(
      Type.Object(
        {
          organisationPerMinute: Type.Optional(Type.Integer({ minimum: 1, problem: "must be a whole number of requests a minute, 1 or more" })),
          anonymousPerMinute: Type.Optional(Type.Integer({ minimum: 1, problem: "must be a whole number of requests a minute, 1 or more" })),
        },
        { additionalProperties: false, problem: "must be an object with organisationPerMinute and/or anonymousPerMinute" },
      ),
    ),
    /** Origins EPCIS subscription webhooks may be delivered to (node/subscriptions/webhook.ts); none by default. */
    webhookDestinations: Type.Array(Type.String({ pattern: "^https?://" }), { default: [], problem: "must be a list of origins such as https://erp.example.com or http://127.0.0.1:*" }),
  },
  { additionalProperties: false, default: {} },
);

const MemberConfigSchema = Type.Composite(
  [
    NodeConfigSchema,
    Type.Object({
      gateway: GatewaySchema,
      parties: Type.Record(Type.String(), OrganisationRef("must be an organisation name or id"), { default: {} }),
    }),
  ],
  { additionalProperties: false },
);

/** The token signing secret's file in the data directory when `tokenSecretFile` names none. */
export const GATEWAY_TOKEN_SECRET_FILE = "gateway-token-secret";

export type GatewaySettings = Static<typeof GatewaySchema> & { tokenSecretFile: string };

/** The gateway's rate limits from the configuration's per-minute figures (the defaults for what is left out). */
export function gatewayRateLimits(r: NonNullable<GatewaySettings["rateLimit"]>): Partial<RateLimits> {
  return {
    ...(r.organisationPerMinute !== undefined ? { organisation: { max: r.organisationPerMinute, durationMs: 60_000 } } : {}),
    ...(r.anonymousPerMinute !== undefined ? { anonymous: { max: r.anonymousPerMinute, durationMs: 60_000 } } : {}),
  };
}

export interface MemberConfig {
  node: NodeConfig;
  gateway: GatewaySettings;
  /** Canonical party/location identifier -> organisation name or id. */
  parties: Map<string, string | number>;
}

/** Reads and validates a member configuration. Throws ConfigError naming every problem with its field. */
export function loadMemberConfig(file: string): MemberConfig {
  const subject = "member configuration";
  const { raw, file: abs, dir } = readJsonFile(file, subject);
  const parties = new Map<string, string | number>();
  const c = checkConfig(MemberConfigSchema, raw, {
    baseDir: dir,
    file: abs,
    subject,
    rules: (value, problem) => {
      nodeConfigRules(value, problem);
      for (const [id, org] of Object.entries(value.parties)) {
        try {
          parties.set(canonicalIdentifier(id), org);
        } catch (e) {
          problem(`parties[${JSON.stringify(id)}]`, `is not a GS1 party or location identifier: ${(e as Error).message}`);
        }
      }
    },
  });
  const node = toNodeConfig(c, abs);
  // Tokens survive a restart: the signing secret is kept in the data directory unless placed elsewhere.
  const gateway = { ...c.gateway, tokenSecretFile: c.gateway.tokenSecretFile ?? path.join(node.dataDir, GATEWAY_TOKEN_SECRET_FILE) };
  return { node, gateway, parties };
}
