/**
 * The gateway: a Koa app over a member node's services (services.ts). Route modules live in
 * gateway/routes/ (pattern in context.ts); this file holds what is common to all of them:
 * problem+json errors for everything, security headers, rate limits, body limits, request logs,
 * metrics and the enforcement of documented query parameters.
 */
import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import Router from "@koa/router";
import Koa from "koa";
import helmet from "koa-helmet";
import serve from "koa-static";
import { type Logger, pino } from "pino";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Role } from "../lib/consortium.ts";
import { MembershipCache } from "./auth/membership.ts";
import { identify, requireOrg } from "./auth/middleware.ts";
import { type ChallengeLimits, ChallengeStore, DEFAULT_CHALLENGE_LIMITS } from "./auth/siwe.ts";
import { identifyClient, trustedProxySet } from "./client-address.ts";
import { TokenService } from "./auth/tokens.ts";
import { DEFAULT_BODY_LIMITS, type BodyLimits, readJson } from "./body.ts";
import type { GatewayRouter, GatewayState, ResolvedOptions, RouteContext } from "./context.ts";
import { TracemeshError } from "../lib/errors.ts";
import { HttpProblem, toProblem } from "./errors.ts";
import { hostGuard, isLoopback, publicHostName } from "./host.ts";
import { type RateLimit, type RateLimits, DEFAULT_RATE_LIMITS, rateLimiters, rateLimitsOf } from "./ratelimit.ts";
import { type OpenApiDocument, buildOpenApi, openApiPathOf } from "./openapi.ts";
import { routeModules } from "./routes/index.ts";
import type { GatewayServices } from "./services.ts";
import { DEFAULT_MAX_INDEX_LAG_BLOCKS } from "./index-freshness.ts";
import { serveUpgrades } from "./websocket.ts";
import { onTheFly } from "./compression.ts";

export interface GatewayOptions {
  /**
   * Where clients reach the gateway (behind a proxy): a host[:port] ("gw.member.example"), or an
   * origin with its scheme ("https://gw.member.example"); or several, the first named in sign-in
   * messages and links. Requests naming another Host are refused (400), except loopback hosts on
   * a gateway listening on loopback only; a gateway listening elsewhere needs one (host.ts).
   */
  publicHost?: string | readonly string[];
  /** Milliseconds since the epoch; tests inject one to expire tokens without sleeping. */
  clock?: () => number;
  bodyLimits?: Partial<BodyLimits>;
  /** HS256 secret for tokens (>= 32 bytes); random per process by default. */
  tokenSecret?: string | Uint8Array;
  /** Token lifetime, default 900 s. */
  tokenTtlSeconds?: number;
  /** Sign-in challenge lifetime, default 5 minutes. */
  challengeTtlMs?: number;
  /** Challenges pending at once, per address, per client and in all (auth/siwe.ts). */
  challengeLimits?: Partial<ChallengeLimits>;
  /**
   * IP addresses of reverse proxies in front of the gateway: from them (only), X-Forwarded-For
   * names the client that rate limits and sign-in caps count against (client-address.ts).
   */
  trustedProxies?: readonly string[];
  /** How long an organisation's standing is cached before the chain is asked again, default 3 s. */
  membershipTtlMs?: number;
  /**
   * Requests per window: per organisation for callers with a token, per address for anonymous
   * callers (ratelimit.ts). One limit for both, or each its own; false disables. Default 12,000
   * a minute per organisation, 600 a minute per anonymous address.
   */
  rateLimit?: RateLimit | Partial<RateLimits> | false;
  rpc?: Partial<ResolvedOptions["rpc"]>;
  /** Bearer token that opens /metrics. */
  metricsToken?: string;
  /** Also serve /metrics to direct loopback callers without the token; default false. */
  metricsLoopback?: boolean;
  /** pino level; default "info", "silent" under vitest. Or a logger of the caller's. */
  log?: string | Logger;
  explorerPath?: string;
  explorerDir?: string;
  /** Blocks the chain index may trail the chain's head before index-backed routes answer 503 (default 64). */
  maxIndexLagBlocks?: number;
  /** Bytes of JSON the history and genealogy answer cache keeps (default 64 MiB); 0 turns it off. */
  answerCacheBytes?: number;
}

export interface RunningGateway {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface Gateway {
  app: Koa<GatewayState>;
  router: GatewayRouter;
  openapi: OpenApiDocument;
  context: RouteContext;
  logger: Logger;
  listen(port?: number, host?: string): Promise<RunningGateway>;
}

function publicAddress(publicHost: string | undefined): Pick<ResolvedOptions, "publicHost" | "publicProtocol"> {
  if (publicHost === undefined) return {};
  publicHostName(publicHost); // refuses what is not a host[:port] or an origin
  if (!publicHost.includes("://")) return { publicHost };
  const url = new URL(publicHost);
  return { publicHost: url.host, publicProtocol: url.protocol.replace(/:$/, "") };
}

const publicHostsOf = (options: GatewayOptions): readonly string[] =>
  options.publicHost === undefined ? [] : typeof options.publicHost === "string" ? [options.publicHost] : options.publicHost;

function resolveOptions(options: GatewayOptions): ResolvedOptions {
  return {
    ...publicAddress(publicHostsOf(options)[0]),
    clock: options.clock ?? Date.now,
    bodyLimits: { ...DEFAULT_BODY_LIMITS, ...options.bodyLimits },
    tokenTtlSeconds: options.tokenTtlSeconds ?? 900,
    challengeTtlMs: options.challengeTtlMs ?? 5 * 60_000,
    membershipTtlMs: options.membershipTtlMs ?? 3000,
    rateLimit: options.rateLimit === false ? false : rateLimitsOf(options.rateLimit ?? DEFAULT_RATE_LIMITS),
    rpc: { maxLogBlockRange: 5000, rateLimit: { max: 120, durationMs: 60_000 }, gasCap: 10_000_000, timeoutMs: 5000, ...options.rpc },
    metricsToken: options.metricsToken,
    metricsLoopback: options.metricsLoopback ?? false,
    explorerPath: options.explorerPath ?? "/explorer/",
    explorerDir: options.explorerDir,
    maxIndexLagBlocks: options.maxIndexLagBlocks ?? DEFAULT_MAX_INDEX_LAG_BLOCKS,
    answerCacheBytes: options.answerCacheBytes ?? 64 * 1024 * 1024,
  };
}

export function createGateway(services: GatewayServices, options: GatewayOptions = {}): Gateway {
  const opts = resolveOptions(options);
  const logger =
    typeof options.log === "object" ? options.log : pino({ level: options.log ?? (process.env.VITEST ? "silent" : "info"), name: "gateway" });
  const app = new Koa<GatewayState>({ proxy: false });
  // Errors after the response started (a client hanging up mid-stream) go to the log, not stderr.
  app.on("error", (err: Error) => logger.warn({ err: err.message }, "response error"));
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics }); // the process: CPU, memory, event loop lag, handles
  const requests = new Counter({
    name: "tracemesh_gateway_requests_total",
    help: "HTTP requests by method, route and status",
    labelNames: ["method", "route", "status"],
    registers: [metrics],
  });
  const latency = new Histogram({
    name: "tracemesh_gateway_request_duration_seconds",
    help: "HTTP request latency by method and route",
    labelNames: ["method", "route"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metrics],
  });

  const tokens = new TokenService(options.tokenSecret, opts.tokenTtlSeconds, opts.clock);
  const membership = new MembershipCache(services, opts.membershipTtlMs, opts.clock);
  const challenges = new ChallengeStore(services.chainId, opts.challengeTtlMs, opts.clock, { ...DEFAULT_CHALLENGE_LIMITS, ...options.challengeLimits });
  const trustedProxies = trustedProxySet(options.trustedProxies);
  const openapi = buildOpenApi(routeModules);
  const context: RouteContext = {
    services,
    options: opts,
    auth: { tokens, challenges, membership, requireOrg: (...roles: Role[]) => requireOrg(membership, roles) },
    readJson: (ctx, size = "small") => readJson(ctx, size === "large" ? opts.bodyLimits.large : opts.bodyLimits.small),
    metrics,
    openapi,
  };

  // Outermost: logs, metrics, and problem+json for every error, thrown or left as an empty status.
  app.use(async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
      // An empty body counts as none: koa-router's OPTIONS answer sets "" before a refusal.
      if (ctx.status >= 400 && (ctx.body === undefined || ctx.body === null || ctx.body === "")) {
        const detail =
          ctx.status === 404
            ? `no route for ${ctx.method} ${ctx.path}; see /openapi.json`
            : ctx.status === 405
              ? `${ctx.method} is not allowed on ${ctx.path}; allowed: ${ctx.response.get("Allow") || "none"}`
              : ctx.status === 501
                ? `method ${ctx.method} is not implemented by this gateway`
                : (ctx.message ?? "error");
        const status = ctx.status;
        ctx.type = "application/problem+json";
        ctx.body = new HttpProblem(status, detail).toJSON();
        ctx.status = status;
      }
    } catch (err) {
      const { problem, internal } = toProblem(err);
      if (internal) logger.error({ err, method: ctx.method, path: ctx.path }, "request failed");
      for (const [k, v] of Object.entries(problem.headers)) ctx.set(k, v);
      ctx.status = problem.status;
      ctx.type = "application/problem+json";
      ctx.body = problem.toJSON();
    } finally {
      const route = (ctx as { _matchedRoute?: string })._matchedRoute ?? "unmatched";
      const seconds = (performance.now() - started) / 1000;
      requests.inc({ method: ctx.method, route, status: String(ctx.status) });
      latency.observe({ method: ctx.method, route }, seconds);
      logger.info(
        { method: ctx.method, path: ctx.path, route, status: ctx.status, ms: Math.round(seconds * 1000), org: ctx.state.auth?.orgId },
        "request",
      );
    }
  });

  // Compression (compression.ts) inside the log, outside everything that answers.
  app.use(onTheFly());

  // Until listen() says otherwise, the app is served on loopback (tests hand app.callback() to a local server).
  let loopbackOnly = true;
  app.use(hostGuard(publicHostsOf(options).map((h) => publicHostName(h)), () => loopbackOnly));

  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", "data:"],
          connectSrc: ["'self'"],
          fontSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
        },
      },
      crossOriginResourcePolicy: { policy: "same-origin" },
    }),
  );
  app.use(identifyClient(trustedProxies));
  app.use(identify(tokens));
  if (opts.rateLimit) for (const limiter of rateLimiters(opts.rateLimit, "requests")) app.use(limiter);

  const router: GatewayRouter = new Router<GatewayState>();
  // Declared query parameters are the only ones accepted (see openapi.ts); each operation's set
  // is read from the document once (null: the operation takes any query, or is not documented).
  const declaredQueries = new Map<string, ReadonlySet<string> | null>();
  const declaredQueryOf = (method: string, routePath: string): ReadonlySet<string> | null => {
    const key = `${method} ${routePath}`;
    let declared = declaredQueries.get(key);
    if (declared === undefined) {
      const operation = openapi.paths[openApiPathOf(routePath)]?.[method.toLowerCase()] as
        | { parameters?: { in: string; name: string }[]; "x-open-query"?: boolean }
        | undefined;
      declared = operation && !operation["x-open-query"] ? new Set((operation.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name)) : null;
      declaredQueries.set(key, declared);
    }
    return declared;
  };
  router.use(async (ctx, next) => {
    const matched = (ctx as unknown as { matched?: { path: string; methods: string[] }[] }).matched ?? [];
    const method = ctx.method === "HEAD" ? "GET" : ctx.method;
    let route: { path: string } | undefined;
    for (let i = matched.length - 1; i >= 0 && route === undefined; i--) if (matched[i]!.methods.includes(method)) route = matched[i];
    if (route) {
      const declared = ctx.querystring === "" ? null : declaredQueryOf(method, route.path);
      if (declared) {
        const unknown = Object.keys(ctx.query).filter((k) => !declared.has(k));
        if (unknown.length > 0) {
          throw new HttpProblem(
            400,
            `unknown query parameter${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `\`${k}\``).join(", ")} for ${method} ${route.path}; accepted: ${[...declared].map((k) => `\`${k}\``).join(", ") || "none"}`,
            { type: "bad-request" },
          );
        }
      }
    }
    await next();
  });
  for (const mod of Object.values(routeModules)) mod.register(router, context);
  app.use(router.routes());
  app.use(router.allowedMethods());
  for (const mod of Object.values(routeModules)) if (mod.fallback) app.use(mod.fallback(context));
  if (opts.explorerDir && existsSync(opts.explorerDir)) {
    const explorer = serve(opts.explorerDir, { index: "index.html" });
    app.use(async (ctx, next) => {
      if (!ctx.path.startsWith(opts.explorerPath)) return next();
      const original = ctx.path;
      ctx.path = "/" + original.slice(opts.explorerPath.length);
      try {
        await explorer(ctx as never, next);
      } finally {
        ctx.path = original;
      }
    });
  }

  const listen = (port = 0, host = "127.0.0.1") =>
    new Promise<RunningGateway>((resolve, reject) => {
      if (!isLoopback(host) && opts.publicHost === undefined) {
        throw new TracemeshError(
          "invalid-config",
          `the gateway would listen on ${host}, reachable from other machines, without a publicHost: set publicHost to the host clients reach it at, or listen on 127.0.0.1`,
        );
      }
      loopbackOnly = isLoopback(host);
      const server = app.listen(port, host);
      const closeUpgraded = serveUpgrades(server, app.callback());
      // Slow clients cannot hold connections open: headers within 10 s, a whole request within 30 s.
      server.headersTimeout = 10_000;
      server.requestTimeout = 30_000;
      // Requests Node cannot parse never reach Koa: answer them as problem+json too, not a bare 400.
      server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
        if (!socket.writable || (err as { code?: string }).code === "ECONNRESET") return void socket.destroy();
        const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
        const status = tooLarge ? 431 : 400;
        const body = JSON.stringify(
          new HttpProblem(status, tooLarge ? "the request's headers are too large" : `the request is not valid HTTP/1.1 (${err.code ?? "parse error"})`, { type: tooLarge ? "too-large" : "bad-request" }).toJSON(),
        );
        socket.end(`HTTP/1.1 ${status} ${tooLarge ? "Request Header Fields Too Large" : "Bad Request"}\r\nConnection: close\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      });
      server.once("error", reject);
      server.once("listening", () => {
        const { port: bound } = server.address() as AddressInfo;
        resolve({
          url: `http://${host.includes(":") ? `[${host}]` : host}:${bound}`,
          port: bound,
          close: () =>
            new Promise<void>((done) => {
              server.close(() => done());
              server.closeAllConnections();
              closeUpgraded();
            }),
        });
      });
    });

  return { app, router, openapi, context, logger, listen };
}
