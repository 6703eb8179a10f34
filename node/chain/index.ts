/** The node's chain client: DataAnchors anchoring with nonce management, retries and reconciliation. */
export { Anchorer, type AnchorerOptions, type AnchoringState, type AnchoringStatus, toAnchorWindow } from "./anchorer.ts";
export { AnchorChain, type AnchorWindow, ChainClient, type ChainClientOptions, decodeRevert, nodeWallet, rpcProvider, type Submitted } from "./client.ts";
export { AnchorConflictError, AnchorRejectedError, ChainAheadError, ChainBehindError, ChainUnavailableError, isFatalAnchorError } from "./errors.ts";
export { Backoff, sleep } from "../../lib/retry.ts";
