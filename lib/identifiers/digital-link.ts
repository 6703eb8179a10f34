/**
 * GS1 Digital Link URIs: parsing on any host (path stems, query data attributes, compressed
 * links), full grammar checks with GS1's digital-link.js, and writing an identifier as a Digital
 * Link with numeric AIs.
 *
 * The grammar (GS1 Digital Link 1.4): `scheme://host[/stem]/{key AI}/{key}[/{qualifier AI}/{value}…][?query]`.
 * The key is the LAST path segment pair that reads as a GS1 key followed by its qualifiers in
 * order; whatever comes before is a free stem (so `/00/faux/00/006141411234567890` is an SSCC
 * under the stem `/00/faux`). Query parameters named by digits are data attributes
 * (./data-attributes.ts): known AIs, once each, with valid values. What older versions allowed,
 * a mixed-case scheme, DL 1.0/1.1 convenience alphas (/gtin/) and GTIN-8/12/13 without zero
 * padding, are options, off by default; LENIENT_DIGITAL_LINK turns them on for inputs that are
 * read rather than resolved (EPCIS documents, typed text).
 */
import { loadCommonJs } from "#platform";
import {
  type Gs1Element,
  type Gs1Identifier,
  IdentifierError,
  QUALIFIER_PATHS,
  checkElement,
  decodeComponent,
  describeAi,
} from "./gs1-keys.ts";
import { checkDataAttribute } from "./data-attributes.ts";

export interface ParsedDigitalLink {
  readonly identifier: Gs1Identifier;
  /** Scheme and host, e.g. "https://example.com". */
  readonly origin: string;
  /** Any path before the GS1 key, e.g. "/some/path" (empty when none). */
  readonly pathStem: string;
  /** Query string parameters (GS1 data attributes, linkType, anything else), decoded. */
  readonly attributes: Readonly<Record<string, string>>;
  /** The input was a compressed Digital Link, decompressed with digital-link.js. */
  readonly decompressed: boolean;
}

export interface DigitalLinkParseOptions {
  /** Verify check digits (default true). The event hash normaliser switches this off. */
  readonly checkDigits?: boolean;
  /** Accept DL 1.0/1.1 convenience alphas such as /gtin/ and /ser/ (default false). */
  readonly convenienceAlphas?: boolean;
  /** Accept GTIN-8/12/13 in the /01/ segment and pad them to 14 digits (default false). */
  readonly shortGtins?: boolean;
  /** Accept a scheme in other than lower case, e.g. HTTPS:// (default false). */
  readonly mixedCaseScheme?: boolean;
  /** Check query-string data attributes (default true). */
  readonly dataAttributes?: boolean;
  /** Decompress compressed Digital Links (default true). */
  readonly decompress?: boolean;
}

/** The leniencies of DL 1.0–1.2 and no data attribute checks: for reading identifiers, not for resolving. */
export const LENIENT_DIGITAL_LINK: DigitalLinkParseOptions = { convenienceAlphas: true, shortGtins: true, mixedCaseScheme: true, dataAttributes: false };

/** GS1's resolver host, on which the canonical form (canonical.ts) writes every identifier. */
export const CANONICAL_HOST = "https://id.gs1.org";

/** DL 1.0/1.1 convenience alphas (removed from later DL versions; accepted on input only). */
const CONVENIENCE_ALPHAS: Readonly<Record<string, string>> = {
  gtin: "01",
  itip: "8006",
  cpid: "8010",
  gln: "414",
  party: "417",
  gsrnp: "8017",
  gsrn: "8018",
  gcn: "255",
  sscc: "00",
  gdti: "253",
  ginc: "401",
  gsin: "402",
  grai: "8003",
  giai: "8004",
  cpv: "22",
  lot: "10",
  ser: "21",
  glnx: "254",
  tpx: "235",
  cpsn: "8011",
  srin: "8019",
};

// ------------------------------------------------------------------------------ percent-encoding


/** Percent-encodes an AI value for the canonical Digital Link (rule 3 in the header). */
export function encodeAiValue(value: string): string {
  let out = "";
  for (const ch of value) {
    if (/^[A-Za-z0-9\-._';=]$/.test(ch)) out += ch;
    else for (const b of utf8.encode(ch)) out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

const utf8 = new TextEncoder();

const el = (ai: string, value: string): Gs1Element => ({ ai, value });

// ------------------------------------------------------------------------------- Digital Link

interface DigitalLinkModule {
  readonly Utils: {
    isCompressedWebUri(uri: string): boolean;
    decompressWebUri(uri: string, useShortText?: boolean): string;
  };
  readonly DigitalLink: (input?: unknown) => { isValid(): boolean };
}

let digitalLinkJs: DigitalLinkModule | undefined;

/**
 * digital-link.js is CommonJS and untyped; load it lazily (its grammar parser is heavy). In the
 * browser it is not loaded: compressed links and full grammar checks are then refused, and the
 * gateway's /resolve answers them.
 */
function dlJs(): DigitalLinkModule {
  digitalLinkJs ??= loadCommonJs("digital-link.js") as DigitalLinkModule;
  return digitalLinkJs;
}

const URI_PARTS = /^(https?):\/\/([^/?#]+)([^?#]*)(\?[^#]*)?(#.*)?$/i;

function aiOfSegment(seg: string, alphas: boolean): string | undefined {
  if (/^[0-9]+$/.test(seg)) return seg;
  return alphas ? CONVENIENCE_ALPHAS[seg] : undefined;
}

/**
 * Where the key qualifiers after a key at `segments[at]` break the order the standard defines;
 * undefined when they follow it.
 */
function qualifierFault(segments: readonly string[], at: number, alphas: boolean, uri: string): IdentifierError | undefined {
  const primary = aiOfSegment(segments[at]!, alphas)!;
  const qAis: string[] = [];
  for (let j = at + 2; j < segments.length; j += 2) {
    const ai = aiOfSegment(segments[j]!, alphas);
    if (ai === undefined) return new IdentifierError(`"${segments[j]}" is not a GS1 AI`, uri);
    qAis.push(ai);
  }
  const allowed = QUALIFIER_PATHS[primary]!;
  const fits =
    qAis.length === 0 ||
    allowed.some((seq) => {
      let k = 0;
      for (const ai of qAis) {
        while (k < seq.length && seq[k] !== ai) k++;
        if (k === seq.length) return false;
        k++;
      }
      return true;
    });
  if (fits) return undefined;
  for (const ai of qAis) if (!allowed.some((seq) => seq.includes(ai))) return new IdentifierError(`${describeAi(ai)} is not a key qualifier of ${describeAi(primary)}`, uri);
  if (new Set(qAis).size !== qAis.length) return new IdentifierError(`"${uri}" repeats a key qualifier`, uri);
  const order = allowed.find((seq) => qAis.every((a) => seq.includes(a))) ?? allowed[0]!;
  return new IdentifierError(
    `key qualifiers of ${describeAi(primary)} are out of order: /${qAis.join("/…/")}/ given, the order is /${order.filter((a) => qAis.includes(a)).join("/…/")}/`,
    uri,
  );
}

/**
 * Parses a GS1 Digital Link URI on any host (see the grammar in the header). Key qualifiers must
 * follow the order the standard defines (e.g. /10/ before /21/); the query string is kept as
 * attributes (data attributes checked) and never changes the identifier.
 */
export function parseDigitalLink(uri: string, options: DigitalLinkParseOptions = {}): ParsedDigitalLink {
  const checkDigits = options.checkDigits ?? true;
  const alphas = options.convenienceAlphas ?? false;
  const shortGtins = options.shortGtins ?? false;
  const m = URI_PARTS.exec(uri);
  if (!m) throw new IdentifierError(`"${uri}" is not an http(s) URI`, uri);
  if (!(options.mixedCaseScheme ?? false) && m[1] !== m[1]!.toLowerCase())
    throw new IdentifierError(`the scheme "${m[1]}" must be lower case (${m[1]!.toLowerCase()})`, uri);
  const origin = `${m[1]!.toLowerCase()}://${m[2]!}`;
  const rawPath = m[3] ?? "";
  const segments = rawPath.split("/").slice(1);
  if (segments.length > 0 && segments[segments.length - 1] === "") segments.pop(); // one trailing slash
  // Candidate keys: a GS1 key AI with an even number of segments from it to the end. The key is
  // the last candidate whose qualifiers are in order; everything before it is the stem.
  const candidates: number[] = [];
  for (let i = 0; i < segments.length; i++) {
    const ai = aiOfSegment(segments[i]!, alphas);
    if (ai !== undefined && ai in QUALIFIER_PATHS && (segments.length - i) % 2 === 0) candidates.push(i);
  }
  let start = -1;
  for (const i of [...candidates].reverse())
    if (qualifierFault(segments, i, alphas, uri) === undefined) {
      start = i;
      break;
    }
  if (start < 0 && candidates.length > 0) {
    // No reading fits: report the fault of the first key followed by AI/value pairs only.
    const i = candidates.find((c) => segments.slice(c).every((seg, k) => k % 2 === 1 || aiOfSegment(seg, alphas) !== undefined));
    if (i !== undefined) throw qualifierFault(segments, i, alphas, uri)!;
  }
  if (start < 0) {
    if ((options.decompress ?? true) && segments.length > 0 && /^[A-Za-z0-9_-]{6,}$/.test(segments[segments.length - 1]!)) {
      let expanded: string | undefined;
      try {
        if (dlJs().Utils.isCompressedWebUri(uri)) expanded = dlJs().Utils.decompressWebUri(uri);
      } catch {
        expanded = undefined;
      }
      // Compressed links name their keys with numeric AIs: no leniency is needed to read them.
      if (expanded !== undefined && expanded !== uri) return { ...parseDigitalLink(expanded, { ...options, decompress: false }), decompressed: true };
    }
    throw new IdentifierError(`"${uri}" has no GS1 primary key in its path (e.g. /01/{gtin}, /00/{sscc}, /8004/{giai})`, uri);
  }
  for (const s of segments.slice(0, start)) if (s === "") throw new IdentifierError(`"${uri}" has an empty path segment`, uri);
  const pathStem = start === 0 ? "" : "/" + segments.slice(0, start).join("/");
  const pairs: Gs1Element[] = [];
  for (let j = start; j < segments.length; j += 2) {
    const ai = aiOfSegment(segments[j]!, alphas)!;
    pairs.push({ ai, value: decodeComponent(segments[j + 1]!, describeAi(ai), uri) });
  }
  const [primary, ...qualifiers] = pairs;
  const identifier: Gs1Identifier = {
    primary: el(primary!.ai, checkElement(primary!.ai, primary!.value, uri, checkDigits, shortGtins)),
    qualifiers: qualifiers.map((q) => el(q.ai, checkElement(q.ai, q.value, uri, checkDigits, shortGtins))),
  };
  return { identifier, origin, pathStem, attributes: queryAttributes(m[4] ? m[4].slice(1) : "", uri, options.dataAttributes ?? true), decompressed: false };
}

/** The query string's parameters, decoded; data attributes (digit names) checked when `check`. */
function queryAttributes(query: string, uri: string, check: boolean): Record<string, string> {
  const attributes: Record<string, string> = {};
  if (query === "") return attributes;
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const k = decodeComponent(eq < 0 ? part : part.slice(0, eq), "Query parameter", uri);
    const v = decodeComponent(eq < 0 ? "" : part.slice(eq + 1).replace(/\+/g, "%20"), `Query parameter ${k}`, uri);
    if (check) {
      if (k.includes("\0") || v.includes("\0")) throw new IdentifierError(`query parameter ${JSON.stringify(k)} contains a NUL byte`, uri);
      if (/^[0-9]+$/.test(k)) {
        if (Object.hasOwn(attributes, k)) throw new IdentifierError(`${describeAi(k)} appears more than once in the query string`, uri);
        checkDataAttribute(k, v, uri);
      }
    }
    attributes[k] = v;
  }
  return attributes;
}

/** Whether `uri` is a compressed Digital Link that decompresses to one with a GS1 key. */
export function isCompressedDigitalLink(uri: string): boolean {
  try {
    return parseDigitalLink(uri).decompressed;
  } catch (e) {
    if (e instanceof IdentifierError) return false;
    throw e;
  }
}

/**
 * Full grammar validation of a Digital Link with digital-link.js (the GS1 DL 1.1/1.2 ABNF,
 * including query attributes). Slow (milliseconds per call): for resolvers and forms, not for
 * bulk ingestion, where `parseDigitalLink` is the check.
 */
export function digitalLinkGrammarValid(uri: string): boolean {
  try {
    return dlJs().DigitalLink(uri).isValid();
  } catch {
    return false;
  }
}

/** Writes a Digital Link for `id` (numeric AIs, canonical percent-encoding) on `host`. */
export function toDigitalLink(id: Gs1Identifier, host: string = CANONICAL_HOST): string {
  let out = host.replace(/\/+$/, "");
  for (const e of [id.primary, ...id.qualifiers]) out += `/${e.ai}/${encodeAiValue(e.value)}`;
  return out;
}

/** The GS1 element string a Digital Link carries, human-readable: key, qualifiers, then data attributes. */
export function elementString(parsed: ParsedDigitalLink): string {
  const { primary, qualifiers } = parsed.identifier;
  // Data attributes in AI order as text (their order in the query string carries no meaning).
  const attributes = Object.entries(parsed.attributes)
    .filter(([k]) => /^[0-9]+$/.test(k))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return [[primary.ai, primary.value], ...qualifiers.map((q) => [q.ai, q.value]), ...attributes].map(([ai, v]) => `(${ai})${v}`).join("");
}
