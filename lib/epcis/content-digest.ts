/**
 * The content digest of a stored EPCIS event: SHA-256 (hex) over exactly what its record hash is
 * computed from (the event, its context and ignoreFields). The event store keeps it when it accepts
 * an event whose record hash was just computed (capture) or verified (receipt), so a reader checks
 * the document is unchanged with one SHA-256 instead of recomputing the CBV event hash.
 */
import { createHash } from "node:crypto";

export interface DigestedContent {
  event: Record<string, unknown>;
  context?: unknown;
  ignoreFields?: unknown;
}

export function contentDigestOf(e: DigestedContent): string {
  return createHash("sha256")
    .update(JSON.stringify([e.event, e.context ?? null, e.ignoreFields ?? null]))
    .digest("hex");
}
