/**
 * POST /chain/rpc: a read-only JSON-RPC pass-through to the node's chain, so the explorer can
 * check on-chain facts itself instead of trusting the gateway's answers. Only an allow-list of
 * reading methods passes; eth_getLogs is capped to a block range; calls are rate limited on top
 * of the gateway-wide limit. Per-call refusals are JSON-RPC errors (what JSON-RPC clients
 * expect); HTTP-level ones (body, size, rate) are problem+json like everywhere else.
 */
import type { JsonRpcPayload } from "ethers";
import { rateLimiter } from "../ratelimit.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { badRequest } from "../errors.ts";
import { json, problem } from "../openapi.ts";

/** Reading methods and the most parameters each may carry (no state overrides on eth_call). */
export const RPC_METHODS: Readonly<Record<string, number>> = {
  eth_chainId: 0,
  net_version: 0,
  eth_blockNumber: 0,
  eth_call: 2,
  eth_getBalance: 2,
  eth_getCode: 2,
  eth_getStorageAt: 3,
  eth_getLogs: 1,
  eth_getBlockByNumber: 2,
  eth_getBlockByHash: 2,
  eth_getTransactionByHash: 1,
  eth_getTransactionReceipt: 1,
};

export const MAX_BATCH = 20;

interface RpcRequest {
  jsonrpc?: unknown;
  id?: unknown;
  method?: unknown;
  params?: unknown;
}

type RpcAnswer = { jsonrpc: "2.0"; id: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown } };

const rpcError = (id: unknown, code: number, message: string): RpcAnswer => ({ jsonrpc: "2.0", id: id ?? null, error: { code, message } });

const TAGS = new Set(["latest", "earliest", "pending", "safe", "finalized"]);

export function register(router: GatewayRouter, { services, options, readJson }: RouteContext): void {
  const provider = services.provider;

  async function blockOf(tag: unknown, what: string, latest: () => Promise<number>): Promise<number> {
    if (tag === undefined || tag === "latest" || tag === "pending" || tag === "safe" || tag === "finalized") return latest();
    if (tag === "earliest") return 0;
    if (typeof tag === "string" && /^0x[0-9a-fA-F]{1,16}$/.test(tag)) return Number(BigInt(tag));
    throw new Error(`${what} must be a block tag (${[...TAGS].join(", ")}) or a hex block number`);
  }

  /** Refuses what the pass-through must not forward; undefined when the call may go. */
  async function refusal(call: RpcRequest, latest: () => Promise<number>): Promise<RpcAnswer | undefined> {
    if (call.jsonrpc !== "2.0" || typeof call.method !== "string") return rpcError(call.id, -32600, "invalid request: jsonrpc must be \"2.0\" and method a string");
    const maxParams = RPC_METHODS[call.method];
    if (maxParams === undefined) {
      return rpcError(call.id, -32601, `method ${call.method} is not available here; this pass-through is read-only and allows ${Object.keys(RPC_METHODS).join(", ")}`);
    }
    const params = call.params ?? [];
    if (!Array.isArray(params)) return rpcError(call.id, -32602, "params must be an array");
    if (params.length > maxParams) return rpcError(call.id, -32602, `${call.method} takes at most ${maxParams} parameter(s) here, got ${params.length}`);
    if (call.method === "eth_getLogs") {
      const filter = params[0] as { fromBlock?: unknown; toBlock?: unknown; blockHash?: unknown } | undefined;
      if (typeof filter !== "object" || filter === null) return rpcError(call.id, -32602, "eth_getLogs needs a filter object");
      if (filter.blockHash === undefined) {
        try {
          const from = await blockOf(filter.fromBlock, "fromBlock", latest);
          const to = await blockOf(filter.toBlock, "toBlock", latest);
          const span = to - from + 1;
          if (span > options.rpc.maxLogBlockRange) {
            return rpcError(
              call.id,
              -32005,
              `eth_getLogs spans ${span} blocks (${from} to ${to}); at most ${options.rpc.maxLogBlockRange} per call here, page through the range`,
            );
          }
        } catch (e) {
          return rpcError(call.id, -32602, (e as Error).message);
        }
      }
    }
    return undefined;
  }

  async function answer(call: RpcRequest, latest: () => Promise<number>): Promise<RpcAnswer> {
    const refused = await refusal(call, latest);
    if (refused) return refused;
    const payload = { jsonrpc: "2.0", id: 1, method: call.method as string, params: (call.params ?? []) as unknown[] } satisfies JsonRpcPayload;
    try {
      const [result] = await provider._send(payload);
      if (!result) return rpcError(call.id, -32603, "the chain gave no answer");
      return "error" in result ? { jsonrpc: "2.0", id: call.id ?? null, error: result.error as RpcAnswer["error"] } : { jsonrpc: "2.0", id: call.id ?? null, result: result.result };
    } catch (e) {
      return rpcError(call.id, -32603, `the chain is unreachable: ${(e as Error).message}`);
    }
  }

  router.post("/chain/rpc", rateLimiter(options.rpc.rateLimit, "JSON-RPC requests"), async (ctx) => {
    const body = await readJson(ctx);
    let head: Promise<number> | undefined;
    // One eth_blockNumber per HTTP request, however many getLogs it carries.
    const latest = () => (head ??= provider._send({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }).then(([r]) => {
      if (!r || "error" in r) throw new Error("cannot read the chain's head");
      return Number(BigInt(r.result as string));
    }));
    if (Array.isArray(body)) {
      if (body.length === 0) throw badRequest("an empty JSON-RPC batch");
      if (body.length > MAX_BATCH) throw badRequest(`a JSON-RPC batch of ${body.length} calls; at most ${MAX_BATCH} here`);
      ctx.body = await Promise.all(body.map((c) => answer((c ?? {}) as RpcRequest, latest)));
    } else if (typeof body === "object" && body !== null) {
      ctx.body = await answer(body as RpcRequest, latest);
    } else {
      throw badRequest("the body must be a JSON-RPC request object or a batch (array)");
    }
  });
}

export const paths: OpenApiPaths = {
  "/chain/rpc": {
    post: {
      summary: "Read-only JSON-RPC pass-through to the consortium chain",
      description: `Allowed methods: ${Object.keys(RPC_METHODS).join(", ")}. eth_getLogs is capped to a block range (5000 by default). Batches of up to ${MAX_BATCH} calls. Refused calls are answered as JSON-RPC errors (-32601 method not available, -32602 bad params, -32005 range too large).`,
      tags: ["chain"],
      requestBody: {
        required: true,
        content: {
          "application/json": {
            schema: {
              oneOf: [
                { $ref: "#/components/schemas/JsonRpcRequest" },
                { type: "array", items: { $ref: "#/components/schemas/JsonRpcRequest" }, minItems: 1, maxItems: MAX_BATCH },
              ],
            },
          },
        },
      },
      responses: {
        "200": json("JSON-RPC response(s)", { oneOf: [{ type: "object" }, { type: "array", items: { type: "object" } }] }),
        "400": problem("Not JSON, or not a JSON-RPC request or batch"),
        "413": problem("Body too large"),
        "429": problem("Rate limit exceeded"),
      },
    },
  },
};
