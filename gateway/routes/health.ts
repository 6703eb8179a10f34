/**
 * GET /health (public) and GET /metrics (Prometheus): metrics need the configured metrics token,
 * or `metricsLoopback` set explicitly. Loopback alone is no proof of an operator: behind a local
 * reverse proxy every client arrives from loopback (issue 12).
 */
import { timingSafeEqual } from "node:crypto";
import type { HealthAnswer } from "../../lib/api/health.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { forbidden } from "../errors.ts";
import { chainHead, indexFreshness } from "../index-freshness.ts";
import { json, problem } from "../openapi.ts";

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

/** Constant-time comparison, so the token cannot be guessed byte by byte from response times. */
function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function register(router: GatewayRouter, { services, options, metrics }: RouteContext): void {
  router.get("/health", async (ctx) => {
    // The chain being unreachable (or hung: the call is bounded) is what /health reports, not an error of /health.
    const blockNumber = await chainHead(services);
    const index = services.index ? await indexFreshness(services, services.index, options.maxIndexLagBlocks, blockNumber) : undefined;
    const ok = blockNumber !== null && (index?.ok ?? true);
    ctx.status = ok ? 200 : 503;
    if (!ok) ctx.set("Retry-After", "10");
    ctx.body = {
      ok,
      ...(blockNumber === null ? { problem: "the chain did not answer" } : {}),
      ...(index?.reason ? { problem: index.reason } : {}),
      chainId: services.chainId,
      blockNumber,
      organisation: services.organisation,
      contracts: services.deployment.contracts,
      services: {
        events: services.events !== undefined,
        index: services.index !== undefined,
        proofs: services.proofs !== undefined,
        passportChoices: services.passportChoices !== undefined,
        accessRequests: services.accessRequests !== undefined,
        accessRelay: services.accessRelay !== undefined,
      },
      ...(services.index ? { indexedBlock: services.index.progress().indexedBlock, indexLag: services.index.progress().lag } : {}),
    } satisfies HealthAnswer;
  });

  router.get("/metrics", async (ctx) => {
    const remote = ctx.req.socket.remoteAddress ?? "";
    const token = options.metricsToken;
    const byToken = token !== undefined && sameText(ctx.get("authorization"), `Bearer ${token}`);
    const byLoopback = options.metricsLoopback && LOOPBACK.has(remote) && ctx.get("x-forwarded-for") === "";
    if (!byToken && !byLoopback) {
      throw forbidden(
        token === undefined && !options.metricsLoopback
          ? "metrics are off: configure a metrics token (sent as Authorization: Bearer <token>) or metricsLoopback"
          : `metrics need Authorization: Bearer <the configured metrics token>${options.metricsLoopback ? ", or a direct loopback caller" : ""}`,
      );
    }
    ctx.type = metrics.contentType;
    ctx.body = await metrics.metrics();
  });
}

export const paths: OpenApiPaths = {
  "/health": {
    get: {
      summary: "Liveness and the chain this gateway serves",
      tags: ["operations"],
      responses: {
        "200": json("The node reaches its chain", {
          type: "object",
          required: ["ok", "chainId", "organisation"],
          properties: {
            ok: { type: "boolean" },
            problem: { type: "string", description: "why the gateway is not ok" },
            chainId: { type: "integer" },
            blockNumber: { type: ["integer", "null"] },
            organisation: { $ref: "#/components/schemas/Organisation" },
            contracts: { type: "object", additionalProperties: { type: "string" } },
            services: { type: "object", additionalProperties: { type: "boolean" } },
            indexedBlock: { type: "integer", description: "last block in the chain index" },
            indexLag: { type: "integer", description: "blocks between the chain head and the index" },
          },
        }),
        "503": json("The chain is unreachable, or the chain index stopped or trails it by more than the bound (`problem` says which)"),
      },
    },
  },
  "/metrics": {
    get: {
      summary: "Prometheus metrics (request counts and latency by route)",
      tags: ["operations"],
      responses: {
        "200": { description: "Prometheus text format", content: { "text/plain": { schema: { type: "string" } } } },
        "403": problem("No or wrong metrics token (and not a direct loopback caller where metricsLoopback is set)"),
      },
    },
  },
};
