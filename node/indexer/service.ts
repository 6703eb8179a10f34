/**
 * The index as a gateway service slot (gateway/services.ts `index`): the queries, lib/access.ts's
 * AccessChecker answered from the same index, and where the index stands for /health and metrics.
 */
import type { AccessChecker } from "../../lib/access.ts";
import type { Indexer, IndexerProgress } from "./indexer.ts";
import { IndexAccessChecker, IndexQueries } from "./queries.ts";

export interface IndexService {
  queries: IndexQueries;
  /** Grant checks as of the indexed chain (lib/access.ts `mayReadItem` takes it). */
  access: AccessChecker;
  /** Indexed block, head and lag. */
  progress(): IndexerProgress;
  /** Why the index stopped following the chain for good (a too-deep reorg); undefined while it follows. */
  stopped?(): string | undefined;
}

/** The service over a running (or synced) indexer. */
export function indexService(indexer: Indexer): IndexService {
  const queries = new IndexQueries(indexer.store);
  return { queries, access: new IndexAccessChecker(queries), progress: () => indexer.progress(), stopped: () => indexer.fatal?.message };
}
