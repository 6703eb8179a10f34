/**
 * How the index follows DataAnchors: anchored data windows.
 */
import type { Result } from "ethers";
import type { BlockApplier, Handlers } from "../apply.ts";
import type { EventContext } from "../decode.ts";
import type { AnchorDoc } from "../documents.ts";
import { K } from "../store.ts";
import { hex, n } from "./values.ts";

export function dataAnchorsHandlers(applier: BlockApplier): Handlers {
  return {
    "dataAnchors.WindowAnchored": async (a: Result, ctx: EventContext) => {
      const node = hex(a.node);
      const doc: AnchorDoc = {
        node,
        orgId: n(a.orgId),
        sequence: n(a.sequence),
        root: hex(a.root),
        prevRoot: hex(a.prevRoot),
        fromTimeMs: n(a.fromTimeMs),
        toTimeMs: n(a.toTimeMs),
        leafCount: n(a.leafCount),
        anchoredAt: n(a.anchoredAt),
        block: ctx.block,
        tx: ctx.tx,
      };
      await applier.w.put(K.anchor(node, doc.sequence), doc);
    },

  };
}
