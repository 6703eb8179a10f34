/**
 * How the index follows Certificates: accreditations and the certificate lifecycle.
 */
import type { Result } from "ethers";
import { CertificateState } from "../../../lib/registry.ts";
import type { BlockApplier, Handlers } from "../apply.ts";
import type { EventContext } from "../decode.ts";
import type { CertificateDoc, AccreditationDoc } from "../documents.ts";
import { K } from "../store.ts";
import { ZERO32, hex, n } from "./values.ts";

export function certificatesHandlers(applier: BlockApplier): Handlers {
  /** The handler of a certificate suspended or revoked: its state, the reason, when, and a history entry. */
  const takenOutOfUse =
    (state: CertificateState, action: "suspended" | "revoked", at: "suspendedAt" | "revokedAt") => async (a: Result, ctx: EventContext) => {
      const c = await applier.cert(hex(a.id));
      c.state = state;
      c.reason = n(a.reason);
      c.reasonHash = hex(a.reasonHash);
      c[at] = ctx.time;
      c.history.push({ action, block: ctx.block, tx: ctx.tx, time: ctx.time, reason: c.reason, reasonHash: c.reasonHash });
      await applier.w.put(K.certificate(c.id), c);
    };
  return {
    "certificates.AccreditationGranted": async (a: Result) => {
      const certifier = n(a.certifier);
      const scope = hex(a.scope);
      const index = n(a.periodIndex);
      const key = K.accreditation(certifier, scope, index);
      const existing = await applier.w.get<AccreditationDoc>(key);
      const doc: AccreditationDoc = existing
        ? { ...existing, expiresAt: n(a.expiresAt) }
        : { certifier, scope, index, from: n(a.from), expiresAt: n(a.expiresAt), withdrawnAt: 0, accreditedBy: n(a.regulator), withdrawnBy: 0 };
      await applier.w.put(key, doc);
    },
    "certificates.AccreditationWithdrawn": async (a: Result) => {
      const key = K.accreditation(n(a.certifier), hex(a.scope), n(a.periodIndex));
      const doc = await applier.w.get<AccreditationDoc>(key);
      if (!doc) throw new Error(`index is inconsistent: withdrawal of an unknown accreditation period ${key}`);
      doc.withdrawnAt = n(a.at);
      doc.withdrawnBy = n(a.regulator);
      await applier.w.put(key, doc);
    },
    "certificates.CertificateIssued": async (a: Result, ctx: EventContext) => {
      const id = hex(a.id);
      const doc: CertificateDoc = {
        id,
        issuer: n(a.issuer),
        state: CertificateState.Active,
        reason: 0,
        issuedAt: ctx.time,
        validFrom: n(a.validFrom),
        validUntil: n(a.validUntil),
        suspendedAt: 0,
        revokedAt: 0,
        subject: hex(a.subject),
        scope: hex(a.scope),
        reasonHash: ZERO32,
        supersededBy: ZERO32,
        supersedes: ZERO32,
        history: [{ action: "issued", block: ctx.block, tx: ctx.tx, time: ctx.time }],
      };
      await applier.w.put(K.certificate(id), doc);
      await applier.w.put(K.certificateOfSubject(doc.subject, ctx.block, ctx.logIndex), id);
      await applier.w.put(K.certificateOfIssuer(doc.issuer, ctx.block, ctx.logIndex), id);
    },
    "certificates.CertificateSuspended": takenOutOfUse(CertificateState.Suspended, "suspended", "suspendedAt"),
    "certificates.CertificateReinstated": async (a: Result, ctx: EventContext) => {
      const c = await applier.cert(hex(a.id));
      c.state = CertificateState.Active;
      c.reason = 0;
      c.reasonHash = ZERO32;
      c.history.push({ action: "reinstated", block: ctx.block, tx: ctx.tx, time: ctx.time });
      await applier.w.put(K.certificate(c.id), c);
    },
    "certificates.CertificateRevoked": takenOutOfUse(CertificateState.Revoked, "revoked", "revokedAt"),
    "certificates.CertificateSuperseded": async (a: Result, ctx: EventContext) => {
      const c = await applier.cert(hex(a.id));
      const newId = hex(a.newId);
      c.state = CertificateState.Superseded;
      c.supersededBy = newId;
      c.history.push({ action: "superseded", block: ctx.block, tx: ctx.tx, time: ctx.time, supersededBy: newId });
      await applier.w.put(K.certificate(c.id), c);
      const replacement = await applier.cert(newId);
      replacement.supersedes = c.id;
      await applier.w.put(K.certificate(newId), replacement);
    },

  };
}
