/**
 * The rule "a captured event that names member parties is announced to them": a shipment's
 * consignee, a receipt's sender. When a capture job succeeds, each of its own events is announced
 * over the peer network to the member organisations its source and destination lists name (the
 * node's directory of parties resolves them); they fetch the document when their grant allows.
 */
import { canonicalIdentifier } from "../../lib/identifiers/canonical.ts";
import type { CaptureJob, CaptureService } from "./capture.ts";
import type { EventStore } from "./store.ts";

/** The canonical party and location identifiers in an event's source and destination lists. */
export function partiesOf(event: Record<string, unknown>): string[] {
  const out = new Set<string>();
  for (const [list, field] of [["sourceList", "source"], ["destinationList", "destination"]] as const) {
    const entries = event[list];
    if (!Array.isArray(entries)) continue;
    for (const entry of entries as Record<string, unknown>[]) {
      const id = entry?.[field];
      if (typeof id !== "string") continue;
      try {
        out.add(canonicalIdentifier(id));
      } catch {
        // Not a GS1 party or location: no member to tell.
      }
    }
  }
  return [...out];
}

export interface AnnounceOptions {
  /** The member organisation a canonical party or location stands for. */
  resolveParty: (party: string) => number | undefined | Promise<number | undefined>;
  /** Tells these organisations the event exists (the peer network's announcement). */
  announce: (hashId: string, organisations: number[]) => Promise<void>;
  log: (message: string) => void;
}

/** Announces every succeeded capture's own events to the member parties they name. */
export function announceCaptures(capture: CaptureService, store: EventStore, o: AnnounceOptions): void {
  capture.on("job", (job: CaptureJob) => {
    if (job.state !== "succeeded") return;
    void (async () => {
      for (const r of job.results ?? []) {
        const stored = (await store.get(r.hashId)).find((e) => e.origin.kind === "own");
        const partners: number[] = [];
        for (const party of stored ? partiesOf(stored.event) : []) {
          const org = await o.resolveParty(party);
          if (org !== undefined) partners.push(org);
        }
        if (partners.length > 0) await o.announce(r.hashId, partners);
      }
    })().catch((e: Error) => o.log(`announcing capture ${job.captureID}: ${e.message}`));
  });
}
