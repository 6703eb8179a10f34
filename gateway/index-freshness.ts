/**
 * Whether the chain index may answer: a gateway whose index has stopped following the chain, or
 * trails the chain's head by more than a bound, says so (503 with Retry-After, /health not ok)
 * instead of serving a frozen picture of custody, recalls and grants.
 *
 * The lag is measured against the chain's head as the chain reports it now, not the head the
 * indexer saw last: a stuck indexer would otherwise report no lag at all.
 */
import { HttpProblem } from "./errors.ts";
import type { GatewayServices, IndexService } from "./services.ts";

/** Default bound, in blocks, on how far the index may trail the chain's head. */
export const DEFAULT_MAX_INDEX_LAG_BLOCKS = 64;

export interface IndexFreshness {
  ok: boolean;
  indexedBlock: number;
  /** The chain's head now; null when the chain did not answer. */
  chainBlock: number | null;
  lag: number | null;
  /** Why the index cannot answer, when it cannot. */
  reason?: string;
}

/** The chain's head, or null when the chain did not answer (within the provider's call bound). */
export async function chainHead(services: GatewayServices): Promise<number | null> {
  try {
    return await services.provider.getBlockNumber();
  } catch {
    return null;
  }
}

/** `head`: the chain's head when the caller just read it (one bounded call per request, not two). */
export async function indexFreshness(services: GatewayServices, index: IndexService, maxLagBlocks: number, head?: number | null): Promise<IndexFreshness> {
  const { indexedBlock } = index.progress();
  // null: reported below, an index that cannot be compared with the chain is not known to be current.
  const chainBlock = head !== undefined ? head : await chainHead(services);
  const lag = chainBlock === null ? null : Math.max(0, chainBlock - indexedBlock);
  const stopped = index.stopped?.();
  const reason =
    stopped !== undefined
      ? `the chain index stopped following the chain (${stopped})`
      : chainBlock === null
        ? "the chain did not answer, so the index cannot be checked against it"
        : lag! > maxLagBlocks
          ? `the chain index is ${lag} blocks behind the chain (at most ${maxLagBlocks} allowed)`
          : undefined;
  return { ok: reason === undefined, indexedBlock, chainBlock, lag, ...(reason ? { reason } : {}) };
}

/** The index when it may answer; else a 503 problem saying why, with Retry-After. */
export async function requireFreshIndex(services: GatewayServices, index: IndexService, maxLagBlocks: number): Promise<IndexService> {
  const f = await indexFreshness(services, index, maxLagBlocks);
  if (!f.ok) throw new HttpProblem(503, `${f.reason}; answers would be stale, try again shortly`, { type: "index-stale", headers: { "Retry-After": "10" }, extra: { indexedBlock: f.indexedBlock, chainBlock: f.chainBlock } });
  return index;
}
