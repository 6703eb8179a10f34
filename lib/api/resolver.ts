/** GET /resolve?id=.. (gateway/routes/resolver.ts): what any spelling of an identifier names. */

/** An identifier as the resolver reads it. */
export interface ResolvedIdentifier {
  /** sgtin, lgtin, sscc, ... (lib/identifiers/gs1-keys.ts IdentifierType). */
  type: string;
  /** The canonical Digital Link (lib/identifiers/canonical.ts), whose keccak256 is the on-chain key. */
  digitalLink: string;
  itemKey?: string;
  batchKey?: string;
}

/** GET /resolve: a GS1 identifier (with its EPC URI when one was given), a certificate id, or a bare key. */
export type ResolveAnswer =
  | ({ input: string; epc?: string } & ResolvedIdentifier)
  | { input: string; type: "certificate"; certificateId: string }
  | { input: string; type: "key"; itemKey: string };

/** GET /search?q=: the items and lots whose serial (AI 21) or lot (AI 10) number is q, among those the caller may read. */
export interface NumberSearchAnswer {
  query: string;
  matches: ({ epc: string; numberedBy: "serial" | "lot" } & ResolvedIdentifier)[];
}
