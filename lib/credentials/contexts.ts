/**
 * JSON-LD checks of credentials, offline: every `type` in the credential must be defined by its
 * contexts (a type no context defines means nothing to a verifier elsewhere), and no context may
 * redefine a term the VC 2.0 context protects. Contexts are never fetched: the VC 2.0 context
 * comes from @digitalbazaar/credentials-context (the W3C's file, W3C Software and Document
 * licence), Tracemesh's own from this file; any other remote context is refused, naming it
 * (define such terms inline, e.g. `{"@vocab": "https://example.com/vocab#"}`).
 */
// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- the package ships no types; they are declared beside this file, for both tsconfigs
/// <reference path="./credentials-context.d.ts" />
import jsonld from "jsonld";
import { contexts as w3cContexts } from "@digitalbazaar/credentials-context";
import { type DataModelProblem, VC_V2_CONTEXT } from "./data-model.ts";

/** The URL of Tracemesh's credential context (the status type, the certificate types it issues). */
export const TRACEMESH_CREDENTIALS_CONTEXT = "https://tracemesh.dev/ns/credentials/v1";
const TMC = "https://tracemesh.dev/ns/credentials#";

/** Tracemesh's credential context; see TRACEMESH_CERTIFICATE_STATUS in ./status.ts for the status type. */
export const TRACEMESH_CONTEXT_DOCUMENT = {
  "@context": {
    "@version": 1.1,
    "@protected": true,
    MillTestReportCredential: `${TMC}MillTestReportCredential`,
    MillTestReport: `${TMC}MillTestReport`,
    InspectionCertificate: `${TMC}InspectionCertificate`,
    TracemeshCertificateStatus: {
      "@id": `${TMC}TracemeshCertificateStatus`,
      "@context": {
        "@protected": true,
        id: "@id",
        type: "@type",
        chainId: { "@id": `${TMC}chainId`, "@type": "http://www.w3.org/2001/XMLSchema#integer" },
        certificates: { "@id": `${TMC}certificatesContract` },
      },
    },
  },
} as const;

/** Contexts known offline, by URL. */
const OFFLINE = new Map<string, unknown>([
  [VC_V2_CONTEXT, w3cContexts.get(VC_V2_CONTEXT)],
  [TRACEMESH_CREDENTIALS_CONTEXT, TRACEMESH_CONTEXT_DOCUMENT],
]);

const documentLoader = async (url: string) => {
  const document = OFFLINE.get(url);
  if (document === undefined) throw new Error(`context ${url} cannot be resolved offline`);
  return { contextUrl: undefined, documentUrl: url, document };
};

/** JSON Pointer of the first `type` in `doc` that is or includes `name`. */
function typePath(doc: unknown, name: string, at = ""): string | undefined {
  if (Array.isArray(doc)) {
    for (const [i, v] of doc.entries()) {
      const p = typePath(v, name, `${at}/${i}`);
      if (p) return p;
    }
  } else if (typeof doc === "object" && doc !== null) {
    for (const [k, v] of Object.entries(doc)) {
      if (k === "@context") continue;
      if (k === "type" && (v === name || (Array.isArray(v) && v.includes(name)))) return `${at}/type`;
      const p = typePath(v, name, `${at}/${k.replace(/~/g, "~0").replace(/\//g, "~1")}`);
      if (p) return p;
    }
  }
  return undefined;
}

/** Problems of the credential's terms, found by JSON-LD expansion against the offline contexts. */
export async function termProblems(credential: Record<string, unknown>): Promise<DataModelProblem[]> {
  const out: DataModelProblem[] = [];
  const ctx = credential["@context"];
  const remote = (Array.isArray(ctx) ? ctx : [ctx]).map((c, i) => [c, i] as const).filter(([c]) => typeof c === "string" && !OFFLINE.has(c));
  for (const [url, i] of remote)
    out.push({ rule: "context-offline", path: `/@context/${i}`, message: `context ${String(url)} cannot be resolved offline (known: ${[...OFFLINE.keys()].join(", ")}); define its terms inline` });
  if (out.length > 0) return out;
  try {
    await jsonld.expand(credential as jsonld.JsonLdDocument, {
      documentLoader: documentLoader as never,
      // jsonld.js reports a type no context maps to an IRI as a relative @type reference.
      eventHandler: ({ event }: { event: { code: string; details?: { type?: unknown } } }) => {
        if (event.code !== "relative @type reference" && event.code !== "relative @vocab reference") return;
        const name = String(event.details?.type ?? "");
        out.push({ rule: "type-defined", path: typePath(credential, name) ?? "/type", message: `type ${name} is not defined by the credential's @context` });
      },
    } as never);
  } catch (e) {
    const err = e as { message?: string; details?: { code?: string; term?: string; cause?: { message?: string } } };
    if (err.details?.code === "protected term redefinition")
      out.push({ rule: "protected-term", path: "/@context", message: `the @context redefines ${err.details.term ?? "a term"}, which the VC 2.0 context protects` });
    else out.push({ rule: "json-ld", path: "/@context", message: `not valid JSON-LD: ${err.details?.cause?.message ?? err.message ?? String(e)}` });
  }
  return out;
}
