/** The chain indexer and its queries (see README.md). */
export { Indexer, ReorgTooDeepError, type IndexerOptions, type IndexerProgress } from "./indexer.ts";
export { IndexQueries, IndexAccessChecker, type ItemView, type HistoryEntry, type GenealogyGraph, type Direction, type IndexedCertificate, type MemberView, type ProposalView } from "./queries.ts";
export { IndexStore, type Checkpoint } from "./store.ts";
export type * from "./documents.ts";
export type * from "./decode.ts";
