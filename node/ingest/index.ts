/** The node's ingest pipeline: durable, windowed, anchored, provable readings. */
export { IngestPipeline, PipelineClosedError, type PipelineOptions, type PipelineStatus } from "./pipeline.ts";
export { ProofService, type AuditFailure, type AuditReport, type ProvenRange, type ProvenReading } from "./proofs.ts";
export { SaltDeriver, NODE_SECRET_BYTES } from "./salt.ts";
export { IngestStore, type AnchorReceipt, type Head, type StreamRun, type WindowRecord } from "./store.ts";
