/**
 * The names of the checks a credential, a presentation and a selective disclosure are verified
 * by (lib/credentials.ts, presentation.ts, selective-disclosure.ts), in the order they are shown.
 * Plain data: a page lists them without loading the verification itself (signatures, JSON-LD).
 */

export const CHECK_NAMES = [
  "format",
  "signature",
  "onChain",
  "signerIsIssuer",
  "status",
  "issuerAccreditedAtIssuance",
  "issuerAccreditedNow",
  "notExpired",
  "subject",
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

/** Checks that only inform: a withdrawn accreditation does not undo certificates issued under it. */
export const ADVISORY_CHECKS: readonly CheckName[] = ["issuerAccreditedNow"];

export const PRESENTATION_CHECK_NAMES = ["format", "signature", "challenge", "domain", "fresh", "credentials"] as const;
export type PresentationCheckName = (typeof PRESENTATION_CHECK_NAMES)[number];

export const DISCLOSURE_CHECK_NAMES = ["disclosures", "keyBinding"] as const;
export type DisclosureCheckName = (typeof DISCLOSURE_CHECK_NAMES)[number];

/** Every check of a selective disclosure, in the order they run. */
export const SELECTIVE_CHECK_NAMES: readonly (CheckName | DisclosureCheckName)[] = ["format", "signature", ...DISCLOSURE_CHECK_NAMES, ...CHECK_NAMES.slice(2)];
