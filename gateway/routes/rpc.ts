/**
 * The chain, read through the gateway (issue 12, finding 4: anonymous compute and a ledger open to
 * anyone).
 *
 * - POST /chain/call (public): one view call from a short allow-list (PUBLIC_VIEWS), the reads the
 *   explorer makes for visitors who are not signed in (a certificate's status and record, the
 *   issuer's name, a signing account's organisation, the record of an event hash). It answers
 *   the raw ABI result with the block it was read at, so the page decodes and judges it itself.
 * - POST /chain/rpc (member token): a read-only JSON-RPC pass-through for signed-in members (the
 *   explorer's event badges and reading proofs). Only an allow-list of reading methods passes;
 *   eth_call needs a `to` and runs with at most `rpc.gasCap` gas; eth_getLogs is capped to a block
 *   range; every call gets `rpc.timeoutMs`; requests are rate limited on top of the gateway-wide
 *   limit. Per-call refusals are JSON-RPC errors (what JSON-RPC clients expect); HTTP-level ones
 *   (token, body, size, rate) are problem+json like everywhere else.
 */
import { type Interface, type JsonRpcPayload, isAddress, isHexString, toQuantity } from "ethers";
import type { PublicCallAnswer } from "../../lib/api/chain.ts";
import { rateLimiter } from "../ratelimit.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { HttpProblem, badRequest, forbidden } from "../errors.ts";
import { bearer, json, jsonBody, problem } from "../openapi.ts";

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

/**
 * The views anyone may call through /chain/call, by contract: facts the consortium publishes
 * (certificates, organisation names, which organisation an account signs for, whether an event
 * hash is recorded). Grants, shipments, items and transaction inputs are not among them.
 */
type PublicContract = "certificates" | "consortium" | "provenance";

export const PUBLIC_VIEWS: Readonly<Record<PublicContract, readonly string[]>> = {
  certificates: ["status", "certificate"],
  consortium: ["org", "accountRecord"],
  provenance: ["recordOfEvent", "recordOfEventBy"],
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

class CallTimeout extends Error {}

const publicViewList = () =>
  Object.entries(PUBLIC_VIEWS)
    .flatMap(([contract, fns]) => fns.map((f) => `${contract}.${f}`))
    .join(", ");

export function register(router: GatewayRouter, { services, options, readJson, auth }: RouteContext): void {
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
    const maxParams = Object.hasOwn(RPC_METHODS, call.method) ? RPC_METHODS[call.method] : undefined;
    if (maxParams === undefined) {
      return rpcError(call.id, -32601, `method ${call.method} is not available here; this pass-through is read-only and allows ${Object.keys(RPC_METHODS).join(", ")}`);
    }
    const params = call.params ?? [];
    if (!Array.isArray(params)) return rpcError(call.id, -32602, "params must be an array");
    if (params.length > maxParams) return rpcError(call.id, -32602, `${call.method} takes at most ${maxParams} parameter(s) here, got ${params.length}`);
    if (call.method === "eth_call") {
      const tx = params[0] as { to?: unknown; gas?: unknown } | undefined;
      if (typeof tx !== "object" || tx === null || Array.isArray(tx)) return rpcError(call.id, -32602, "eth_call needs a call object { to, data }");
      // A call without `to` runs its data as contract creation code: arbitrary computation.
      if (typeof tx.to !== "string" || !isAddress(tx.to)) return rpcError(call.id, -32602, "eth_call needs `to`, the address of the contract to call; calls that create code are refused here");
      if (tx.gas !== undefined && !(typeof tx.gas === "string" && /^0x[0-9a-fA-F]{1,16}$/.test(tx.gas))) return rpcError(call.id, -32602, "eth_call `gas` must be a hex quantity");
    }
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
    const params = (call.params ?? []) as unknown[];
    if (call.method === "eth_call") params[0] = withGasCap(params[0] as Record<string, unknown>);
    const payload = { jsonrpc: "2.0", id: 1, method: call.method as string, params } satisfies JsonRpcPayload;
    try {
      const [result] = await withinTime(provider._send(payload), `${call.method as string}`);
      if (!result) return rpcError(call.id, -32603, "the chain gave no answer");
      return "error" in result ? { jsonrpc: "2.0", id: call.id ?? null, error: result.error as RpcAnswer["error"] } : { jsonrpc: "2.0", id: call.id ?? null, result: result.result };
    } catch (e) {
      if (e instanceof CallTimeout) return rpcError(call.id, -32603, e.message);
      return rpcError(call.id, -32603, `the chain is unreachable: ${(e as Error).message}`);
    }
  }

  /** The call with at most `rpc.gasCap` gas: what it asked for if less, else the cap. */
  function withGasCap(tx: Record<string, unknown>): Record<string, unknown> {
    const asked = typeof tx.gas === "string" ? BigInt(tx.gas) : undefined;
    const cap = BigInt(options.rpc.gasCap);
    return { ...tx, gas: toQuantity(asked !== undefined && asked < cap ? asked : cap) };
  }

  /** `work`, or a CallTimeout once `rpc.timeoutMs` passed (the node's work stops at the gas cap). */
  function withinTime<T>(work: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CallTimeout(`${what} did not finish within ${options.rpc.timeoutMs} ms`)), options.rpc.timeoutMs);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  const limiter = rateLimiter(options.rpc.rateLimit, "JSON-RPC requests");

  router.post("/chain/call", limiter, async (ctx) => {
    const body = await readJson(ctx);
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("the body must be a JSON object { to, data }");
    const { to, data } = body as { to?: unknown; data?: unknown };
    if (typeof to !== "string" || !isAddress(to)) throw badRequest("`to` must be the address of a Tracemesh contract (see /health `contracts`)");
    if (typeof data !== "string" || !isHexString(data) || data.length < 10) throw badRequest("`data` must be 0x-prefixed ABI call data (a 4-byte selector and its arguments)");
    const name = (Object.keys(PUBLIC_VIEWS) as PublicContract[]).find((k) => services.deployment.contracts[k].toLowerCase() === to.toLowerCase());
    const fn = name === undefined ? null : (services.contracts[name].interface as Interface).getFunction(data.slice(0, 10));
    if (name === undefined || fn === null || !PUBLIC_VIEWS[name].includes(fn.name)) {
      throw forbidden(
        `only these public views may be called without signing in: ${publicViewList()}; ${name === undefined ? `${to} is not a contract with public views` : `${data.slice(0, 10)} is not one of them on ${name}`}. Members sign in and use /chain/rpc`,
      );
    }
    const blockNumber = await withinTime(provider.getBlockNumber(), "eth_blockNumber");
    const [answer] = await withinTime(
      provider._send({ jsonrpc: "2.0", id: 1, method: "eth_call", params: [withGasCap({ to, data }), toQuantity(blockNumber)] }),
      `${name}.${fn.name}`,
    ).catch((e: unknown) => {
      if (e instanceof CallTimeout) throw new HttpProblem(503, e.message, { type: "chain-unavailable", headers: { "Retry-After": "5" } });
      throw e;
    });
    if (!answer) throw new HttpProblem(503, "the chain gave no answer", { type: "chain-unavailable", headers: { "Retry-After": "5" } });
    const revertData = "error" in answer ? (answer.error as { data?: unknown }).data : undefined;
    ctx.body = (
      "error" in answer
        ? { blockNumber, contract: name, function: fn.name, reverted: true, data: typeof revertData === "string" ? revertData : null }
        : { blockNumber, contract: name, function: fn.name, result: String(answer.result) }
    ) satisfies PublicCallAnswer;
  });

  router.post("/chain/rpc", limiter, auth.requireOrg(), async (ctx) => {
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
  "/chain/call": {
    post: {
      summary: "One public view call (certificate status and record, organisation name, account's organisation, record of an event hash)",
      description: `Public views: ${publicViewList()}. The answer is the raw ABI result and the block it was read at.`,
      tags: ["chain"],
      requestBody: jsonBody({
        type: "object",
        required: ["to", "data"],
        properties: { to: { type: "string", pattern: "^0x[0-9a-fA-F]{40}$" }, data: { type: "string", pattern: "^0x([0-9a-fA-F]{2})*$" } },
      }),
      responses: {
        "200": json("The ABI-encoded result (or revert data) and the block it was read at", {
          type: "object",
          required: ["blockNumber", "contract", "function"],
          properties: {
            blockNumber: { type: "integer" },
            contract: { type: "string" },
            function: { type: "string" },
            result: { type: "string" },
            reverted: { type: "boolean" },
            data: { type: ["string", "null"] },
          },
        }),
        "400": problem("Not a JSON object with an address `to` and hex `data`"),
        "403": problem("Not one of the public views"),
        "413": problem("Body too large"),
        "429": problem("Rate limit exceeded"),
      },
    },
  },
  "/chain/rpc": {
    post: {
      summary: "Read-only JSON-RPC pass-through to the consortium chain, for members",
      description: `Allowed methods: ${Object.keys(RPC_METHODS).join(", ")}. eth_call needs \`to\` and runs with a capped gas limit; eth_getLogs is capped to a block range (5000 by default); each call has a time limit. Batches of up to ${MAX_BATCH} calls. Refused calls are answered as JSON-RPC errors (-32601 method not available, -32602 bad params, -32005 range too large, -32603 chain did not answer in time).`,
      tags: ["chain"],
      security: bearer,
      requestBody: jsonBody({
        oneOf: [
          { $ref: "#/components/schemas/JsonRpcRequest" },
          { type: "array", items: { $ref: "#/components/schemas/JsonRpcRequest" }, minItems: 1, maxItems: MAX_BATCH },
        ],
      }),
      responses: {
        "200": json("JSON-RPC response(s)", { oneOf: [{ type: "object" }, { type: "array", items: { type: "object" } }] }),
        "400": problem("Not JSON, or not a JSON-RPC request or batch"),
        "401": problem("No, malformed, forged or expired token"),
        "403": problem("The organisation is no longer active"),
        "413": problem("Body too large"),
        "429": problem("Rate limit exceeded"),
      },
    },
  },
};
