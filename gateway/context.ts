/**
 * What every route module receives besides its Router: the node's services, the gateway's
 * resolved options, authentication, body reading and metrics. A route module is a file
 * gateway/routes/<area>.ts exporting
 *
 *   export function register(router: GatewayRouter, context: RouteContext): void
 *   export const paths: OpenApiPaths   // its part of the OpenAPI document (openapi.ts)
 *
 * and listed once in gateway/routes/index.ts.
 */
import type Router from "@koa/router";
import type { Context, Middleware } from "koa";
import type { Registry } from "prom-client";
import type { Role } from "../lib/consortium.ts";
import type { MembershipCache } from "./auth/membership.ts";
import type { AuthState } from "./auth/middleware.ts";
import type { ChallengeStore } from "./auth/siwe.ts";
import type { TokenService } from "./auth/tokens.ts";
import type { BodyLimits } from "./body.ts";
import type { RateLimits } from "./ratelimit.ts";
import type { GatewayServices } from "./services.ts";

export type GatewayState = AuthState & {
  /** Where the request comes from (client-address.ts): the socket's peer, or what trusted proxies forwarded. */
  clientAddress?: string;
};
export type GatewayRouter = Router<GatewayState>;

/** OpenAPI 3.1 path items, keyed by OpenAPI path template (`/certificates/{id}`). */
export type OpenApiPaths = Record<string, Record<string, unknown>>;

export interface RouteModule {
  register(router: GatewayRouter, context: RouteContext): void;
  paths: OpenApiPaths;
  /** Answers requests no route matched, for paths no route pattern can describe (or calls next). */
  fallback?(context: RouteContext): Middleware;
}

export interface RpcOptions {
  /** Largest `toBlock - fromBlock + 1` an eth_getLogs may ask for. */
  maxLogBlockRange: number;
  /** Requests per client per window on /chain/rpc and /chain/call (on top of the gateway-wide limit). */
  rateLimit: { max: number; durationMs: number };
  /** Most gas one eth_call may use (a lower `gas` in the call is kept). */
  gasCap: number;
  /** Milliseconds one forwarded call may take before the caller gets an error. */
  timeoutMs: number;
}

export interface ResolvedOptions {
  /** Host (and port) clients reach the gateway at, named in sign-in messages and links; by default the request's Host. */
  publicHost?: string;
  /** Scheme clients reach the gateway with (https behind a TLS proxy); by default the request's. */
  publicProtocol?: string;
  clock: () => number;
  bodyLimits: BodyLimits;
  tokenTtlSeconds: number;
  challengeTtlMs: number;
  membershipTtlMs: number;
  /** Per organisation and per anonymous address (ratelimit.ts). */
  rateLimit: RateLimits | false;
  rpc: RpcOptions;
  metricsToken?: string;
  /** Serve /metrics to direct loopback callers without the token (an explicit choice: a local proxy makes every client loopback). */
  metricsLoopback: boolean;
  /** Where the explorer's pages live (for Digital Link redirects of browsers). */
  explorerPath: string;
  /** The built explorer (served at /explorer/ when the folder exists). */
  explorerDir?: string;
  /** Blocks the chain index may trail the chain's head before index-backed routes answer 503. */
  maxIndexLagBlocks: number;
  /** Bytes of JSON the trace routes' answer cache keeps (gateway/answer-cache.ts); 0 turns it off. */
  answerCacheBytes: number;
}

/** The origin clients reach the gateway at: the configured public URL, else the request's. */
export function originOf(ctx: { protocol: string; host: string }, options: Pick<ResolvedOptions, "publicHost" | "publicProtocol">): string {
  return `${options.publicProtocol ?? ctx.protocol}://${options.publicHost ?? ctx.host}`;
}

export interface RouteContext {
  services: GatewayServices;
  options: ResolvedOptions;
  auth: {
    tokens: TokenService;
    challenges: ChallengeStore;
    membership: MembershipCache;
    /** 401 without a valid token, 403 unless the caller's org is active now and holds one of `roles`. */
    requireOrg(...roles: Role[]): Middleware<GatewayState>;
  };
  /** Parses a JSON body within the small limit, or the large one for whole documents. */
  readJson(ctx: Context, size?: "small" | "large"): Promise<unknown>;
  metrics: Registry;
  /** The OpenAPI document (openapi.ts), as served at /openapi.json. */
  openapi: Record<string, unknown> & { paths: OpenApiPaths };
}
