/**
 * Typed errors of the node's chain client. The first two mean local state and the chain disagree
 * about the node's anchor history: anchoring stops and the node says so loudly, because continuing
 * could only make it worse. The others are retried. (A chain that lost anchors is not among them:
 * the anchorer anchors those windows again, see anchorer.ts.)
 */
import { TracemeshError } from "../../lib/errors.ts";

/** The chain holds a different root for a window than the node's store. */
export class AnchorConflictError extends TracemeshError {
  constructor(
    readonly node: string,
    readonly sequence: number,
    readonly localRoot: string,
    readonly chainRoot: string,
  ) {
    super("anchor-conflict",
      `anchor conflict: node ${node} window ${sequence} is anchored with root ${chainRoot}, but the local store holds ${localRoot}. ` +
        "Another process may be anchoring with this key, or the data directory belongs to another history. Anchoring stopped.",
    );
  }
}

/** The chain holds anchors of windows the node has not closed (another node with this key, or a lost store). */
export class ChainAheadError extends TracemeshError {
  constructor(
    readonly node: string,
    readonly chainLast: number,
    readonly localLast: number,
  ) {
    super("chain-ahead",
      `node ${node} has anchored up to window ${chainLast} on chain, but the local store has closed only ${localLast}: ` +
        "is another process anchoring with this key, or was the data directory replaced? Anchoring stopped.",
    );
  }
}

/** The contract refused the transaction (decoded custom error). */
export class AnchorRejectedError extends TracemeshError {
  constructor(
    readonly errorName: string,
    readonly args: readonly unknown[],
    options?: ErrorOptions,
  ) {
    super("anchor-rejected", `DataAnchors refused the anchor: ${errorName}(${args.map(String).join(", ")})`, options);
  }
}

/** The chain could not be reached, or did not answer in time; the attempt may or may not have landed. */
export class ChainUnavailableError extends TracemeshError {
  constructor(message: string, options?: ErrorOptions) {
    super("chain-unavailable", message, options);
  }
}

export const isFatalAnchorError = (e: unknown): e is AnchorConflictError | ChainAheadError =>
  e instanceof AnchorConflictError || e instanceof ChainAheadError;
