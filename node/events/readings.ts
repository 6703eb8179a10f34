/**
 * The readings an event names (lib/epcis/readings.ts), each with its Merkle proof and the
 * reference of the anchor that fixes it, from the node's ProofService. The receiver verifies
 * every one with lib/verify-reading.ts against the chain; nothing here asks to be trusted.
 */
import { type ReadingBinding, bindsSourceTime } from "../../lib/epcis/readings.ts";
import type { Reading } from "../../lib/reading.ts";
import { DEFAULT_CLOCK_TOLERANCE_MS, type ReadingProof } from "../../lib/verify-reading.ts";
import type { ProofService } from "../ingest/proofs.ts";
import { TracemeshError } from "../../lib/errors.ts";

export interface BoundReading {
  reading: Reading;
  proof: ReadingProof;
  /** Where the window was anchored (DataAnchors: node + sequence; tx once the node saw it). */
  anchor: { node: string; sequence: number; tx?: string; block?: number; anchoredAt?: number };
}

export interface BoundStream {
  stream: string;
  /** The anchoring node account. */
  node: string;
  /** The bound range, ISO 8601 (from inclusive, to exclusive). */
  from: string;
  to: string;
  readings: BoundReading[];
}

export class TooManyReadingsError extends TracemeshError {
  constructor(readonly limit: number) {
    super("too-many-readings", `the event names more than ${limit} readings; ask for fewer (a narrower binding) or raise the limit`);
  }
}

/**
 * Every closed, stored reading of each binding with its proof; at most `limit` in all. A reading
 * belongs to a binding by its source time (bindsSourceTime). Windows are ordered by receive time,
 * and a reading is never received before it was measured (less the clock tolerance), so the
 * windows to read are those received from the binding's start on: on-time readings sit near
 * [from, to), store-and-forward readings (Reading.historical) in any later window.
 */
export async function boundReadings(
  proofs: Pick<ProofService, "proveRun" | "proveReading" | "windowsBetween" | "node">,
  bindings: readonly ReadingBinding[],
  limit = 10_000,
): Promise<BoundStream[]> {
  const out: BoundStream[] = [];
  let count = 0;
  for (const b of bindings) {
    const s: BoundStream = { stream: b.stream, node: proofs.node, from: new Date(b.from).toISOString(), to: new Date(b.to).toISOString(), readings: [] };
    for (const window of await proofs.windowsBetween(b.from, Number.POSITIVE_INFINITY, DEFAULT_CLOCK_TOLERANCE_MS)) {
      const run = await proofs.proveRun(b.stream, window);
      if (run === undefined) continue;
      for (let i = 0; i < run.readings.length; i++) {
        const r = run.readings[i]!;
        if (!bindsSourceTime(b, r.sourceTime)) continue;
        if (++count > limit) throw new TooManyReadingsError(limit);
        const proven = await proofs.proveReading(b.stream, run.proof.seqs[i]!);
        if (proven === undefined) continue;
        const a = proven.anchor;
        s.readings.push({
          reading: proven.reading,
          proof: proven.proof,
          anchor: {
            node: proven.proof.node,
            sequence: proven.proof.window,
            ...(a?.txHash ? { tx: a.txHash } : {}),
            ...(a?.blockNumber !== undefined ? { block: a.blockNumber } : {}),
            ...(a?.anchoredAt ? { anchoredAt: a.anchoredAt } : {}),
          },
        });
      }
    }
    out.push(s);
  }
  return out;
}
