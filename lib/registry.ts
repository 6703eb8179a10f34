/**
 * The TypeScript mirror of the enums the registry contracts expose, for every off-chain reader
 * (node, gateway, indexer, scripts, tests): Provenance's item status and record kinds,
 * Certificates' status, state and revocation reasons, and AccessGrants' scope kinds. The
 * contracts are the source; these must list the members in the same order.
 */

/** Provenance.ItemStatus */
export enum ItemStatus {
  None,
  Active,
  InTransit,
  Consumed,
  Assembled,
}

/** Provenance.RecordKind */
export enum RecordKind {
  None,
  Commission,
  Ship,
  CancelShipment,
  Receive,
  Transform,
  Assemble,
  Disassemble,
  Inspect,
  Disposition,
  Recall,
  RecallBatch,
  Correction,
  /** A captured event that changes no registry state (Provenance.observe). */
  Observation,
}

/** Certificates.Status: what `status(id)` answers. */
export enum CertificateStatus {
  Unknown,
  Valid,
  NotYetValid,
  Expired,
  Suspended,
  Revoked,
  Superseded,
}

/** Certificates.State: the stored life-cycle state. */
export enum CertificateState {
  None,
  Active,
  Suspended,
  Superseded,
  Revoked,
}

/** Certificates.Reason: why a certificate was suspended or revoked. */
export enum RevocationReason {
  Unspecified,
  IssuedInError,
  NonConformity,
  Misuse,
  Fraud,
  HolderRequest,
  UnderInvestigation,
  KeyCompromise,
}

/** A revocation or suspension reason's name, as answers and pages show it. */
export function reasonName(reason: RevocationReason): string {
  return (
    {
      [RevocationReason.Unspecified]: "unspecified",
      [RevocationReason.IssuedInError]: "issued-in-error",
      [RevocationReason.NonConformity]: "non-conformity",
      [RevocationReason.Misuse]: "misuse",
      [RevocationReason.Fraud]: "fraud",
      [RevocationReason.HolderRequest]: "holder-request",
      [RevocationReason.UnderInvestigation]: "under-investigation",
      [RevocationReason.KeyCompromise]: "key-compromise",
    } as Record<number, string>
  )[reason] ?? `reason-${reason}`;
}

/** AccessGrants.ScopeKind */
export enum ScopeKind {
  Item,
  ItemWithGenealogy,
  Batch,
  DataStream,
  AnchorWindowRange,
}

/** A lot's unit of measure (UN/ECE Rec 20 code) as Provenance's left-aligned bytes8; "" (a count) is zero. */
export function lotUnitBytes(unit: string): string {
  if (!/^[0-9A-Z]{0,3}$/.test(unit)) throw new RangeError(`unit ${JSON.stringify(unit)} is not a UN/ECE Rec 20 code (up to 3 capitals or digits)`);
  return `0x${[...unit].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("").padEnd(16, "0")}`;
}

/** The unit code of Provenance's bytes8 (`lotUnitBytes` reversed); "" for a count. */
export function lotUnitOf(bytes8: string): string {
  const hex = bytes8.replace(/^0x/, "");
  let out = "";
  for (let i = 0; i + 2 <= hex.length; i += 2) {
    const c = parseInt(hex.slice(i, i + 2), 16);
    if (c === 0) break;
    out += String.fromCharCode(c);
  }
  return out;
}
