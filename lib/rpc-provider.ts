/**
 * The JSON-RPC provider every Tracemesh process uses to reach its chain: the chain id is known
 * (from the deployment record), so it never probes the network in the background, and every call
 * is bounded in time, so a chain that hangs (stopped, not dead) fails calls with ethers' TIMEOUT
 * instead of holding requests, status and stops for ethers' default five minutes.
 */
import { FetchRequest, JsonRpcProvider } from "ethers";

/** How long one JSON-RPC call may take before it fails as TIMEOUT, ms. */
export const DEFAULT_CHAIN_CALL_TIMEOUT_MS = 3_000;

export interface RpcProviderOptions {
  /** Bound on one JSON-RPC call, ms (default DEFAULT_CHAIN_CALL_TIMEOUT_MS). */
  callTimeoutMs?: number;
  /** Polling interval of waits and subscriptions, ms (default 250). */
  pollingMs?: number;
}

export function rpcProvider(url: string, chainId: number, options: RpcProviderOptions = {}): JsonRpcProvider {
  const request = new FetchRequest(url);
  request.timeout = options.callTimeoutMs ?? DEFAULT_CHAIN_CALL_TIMEOUT_MS;
  const provider = new JsonRpcProvider(request, chainId, { staticNetwork: true, batchMaxCount: 1 });
  provider.pollingInterval = options.pollingMs ?? 250;
  return provider;
}
