/**
 * How the index follows AccessGrants: grants and their revocation.
 */
import type { Result } from "ethers";
import type { BlockApplier, Handlers } from "../apply.ts";
import type { EventContext } from "../decode.ts";
import type { GrantDoc } from "../documents.ts";
import { K } from "../store.ts";
import { hex, n } from "./values.ts";

export function accessGrantsHandlers(applier: BlockApplier): Handlers {
  return {
    "accessGrants.AccessGranted": async (a: Result, ctx: EventContext) => {
      const id = hex(a.id);
      const doc: GrantDoc = {
        id,
        owner: n(a.owner),
        grantee: n(a.grantee),
        kind: n(a.kind),
        revoked: false,
        version: n(a.version),
        grantedAt: ctx.time,
        expiresAt: n(a.expiresAt),
        from: n(a.from),
        to: n(a.to),
        revokedAt: 0,
        scopeKey: hex(a.scopeKey),
        purpose: hex(a.purpose),
        block: ctx.block,
        tx: ctx.tx,
      };
      await applier.w.put(K.grant(id), doc);
      await applier.w.put(K.grantByOwner(doc.owner, id), 1);
      await applier.w.put(K.grantToGrantee(doc.grantee, id), 1);
    },
    "accessGrants.AccessRevoked": async (a: Result, ctx: EventContext) => {
      const id = hex(a.id);
      const g = await applier.w.get<GrantDoc>(K.grant(id));
      if (!g) throw new Error(`index is inconsistent: revocation of unknown grant ${id}`);
      g.revoked = true;
      g.revokedAt = ctx.time;
      await applier.w.put(K.grant(id), g);
    },

  };
}
