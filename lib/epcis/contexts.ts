/**
 * JSON-LD contexts of EPCIS documents, resolved offline. A node never fetches a context named
 * in a partner's document: the EPCIS 2.0 context is read from a local file (GS1 publishes it
 * under two URLs), inline contexts need nothing, and any other remote context is refused with the
 * reason (a document whose meaning depends on a page we cannot read cannot be verified later).
 *
 * The context file is installed like the JSON Schema (see schema/README.md): the `path` option,
 * else $TRACEMESH_EPCIS_CONTEXT, else lib/epcis/schema/epcis-context.jsonld.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import jsonld from "jsonld";
import type { ValidationIssue } from "./validate.ts";

/** The URLs under which GS1 publishes the EPCIS 2.0 JSON-LD context. */
export const EPCIS_CONTEXT_URLS: readonly string[] = [
  "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
  "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
  "https://gs1.github.io/EPCIS/epcis-context.jsonld",
];

export function defaultContextPath(): string {
  return process.env["TRACEMESH_EPCIS_CONTEXT"] ?? fileURLToPath(new URL("./schema/epcis-context.jsonld", import.meta.url));
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

export class OfflineContexts {
  private readonly known: Map<string, unknown>;

  constructor(contexts: Readonly<Record<string, unknown>>) {
    this.known = new Map(Object.entries(contexts));
  }

  /** The EPCIS 2.0 context from a local file, under all its URLs. */
  static load(path: string = defaultContextPath()): OfflineContexts {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(path, "utf8"));
    } catch (e) {
      throw new Error(`EPCIS 2.0 JSON-LD context not readable at ${path} (${(e as Error).message}); install it there or set TRACEMESH_EPCIS_CONTEXT (see lib/epcis/schema/README.md)`);
    }
    return new OfflineContexts(Object.fromEntries(EPCIS_CONTEXT_URLS.map((u) => [u, doc])));
  }

  /** A jsonld.js document loader that answers known contexts and refuses everything else. */
  readonly documentLoader = async (url: string) => {
    const document = this.known.get(url);
    if (document === undefined) throw new Error(`context ${url} cannot be resolved offline`);
    return { contextUrl: undefined, documentUrl: url, document };
  };

  /** Remote contexts a document (or one of its events) names that this node cannot resolve. */
  unknownContexts(doc: unknown): string[] {
    const out = new Set<string>();
    const visit = (c: unknown) => {
      if (typeof c === "string") {
        if (!this.known.has(c)) out.add(c);
      } else if (Array.isArray(c)) c.forEach(visit);
    };
    const scan = (o: unknown, depth: number) => {
      if (depth > 40) return;
      if (Array.isArray(o)) o.forEach((x) => scan(x, depth + 1));
      else if (isObject(o))
        for (const [k, v] of Object.entries(o)) {
          if (k === "@context") visit(v);
          else scan(v, depth + 1);
        }
    };
    scan(doc, 0);
    return [...out];
  }

  /**
   * Checks that the document's contexts resolve offline and that it expands as JSON-LD (which
   * catches malformed contexts and terms); problems as validation issues. Redefining a protected
   * term of the EPCIS context is tolerated (see below).
   */
  async check(doc: unknown): Promise<ValidationIssue[]> {
    const unknown = this.unknownContexts(doc);
    if (unknown.length > 0)
      return unknown.map((u) => ({
        path: "/@context",
        message: `context ${u} cannot be resolved offline: this node knows only the EPCIS 2.0 context (${EPCIS_CONTEXT_URLS[0]}); write other terms inline`,
      }));
    try {
      await jsonld.expand(doc as jsonld.JsonLdDocument, { documentLoader: this.documentLoader as never });
      return [];
    } catch (e) {
      const err = e as { message?: string; details?: { code?: string; cause?: { message?: string } } };
      // GS1's own examples redefine prefixes the EPCIS context protects (e.g. "cbvmda"); JSON-LD
      // 1.1 forbids it, but the document means what its prefixes say (the event hash reads them
      // so too), so such a document is accepted.
      if (err.details?.code === "protected term redefinition") return [];
      return [{ path: "/@context", message: `not valid JSON-LD: ${err.details?.cause?.message ?? err.message ?? String(e)}` }];
    }
  }
}
