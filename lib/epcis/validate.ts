/**
 * Validation of EPCIS 2.0 documents (EPCISDocument, EPCISQueryDocument) before anything else
 * touches them: size and shape limits first (cheap, and they protect the parser and the schema
 * validator), then the GS1 EPCIS 2.0 JSON Schema (draft-07, with ajv), then the checks the schema
 * cannot make (GS1 identifiers: EPC URI syntax, Digital Link syntax and check digits).
 *
 * Everything runs offline. The schema is read from a local file: `schema` / `schemaPath` options,
 * else $TRACEMESH_EPCIS_SCHEMA, else lib/epcis/schema/EPCIS-JSON-Schema.json (see the README
 * there for where the file comes from). Nothing is fetched at run time; the JSON-LD context is
 * not needed for validation.
 *
 * Errors are a list of { path, message }: `path` is a JSON Pointer into the document
 * ("/epcisBody/eventList/3/eventTime"), `message` says in plain words what is wrong there.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { LENIENT_DIGITAL_LINK, parseDigitalLink } from "../identifiers/digital-link.ts";
import { parseEpcUri } from "../identifiers/epc-uri.ts";
import { IdentifierError } from "../identifiers/gs1-keys.ts";
import { EVENT_TYPES } from "./events.ts";
import { TracemeshError } from "../errors.ts";

const addFormats = addFormatsModule.default;

export interface ValidationIssue {
  /** JSON Pointer to the offending value ("" for the document itself). */
  readonly path: string;
  readonly message: string;
}

export interface ValidationResult {
  readonly valid: boolean;
  readonly errors: readonly ValidationIssue[];
  /** The parsed document (when the input was text and parsed). */
  readonly document?: unknown;
  readonly eventCount: number;
}

export interface ValidationLimits {
  /** Largest document accepted, in bytes of UTF-8 JSON (default 8 MiB). */
  readonly maxBytes?: number;
  /** Most events in one document (default 10,000). */
  readonly maxEvents?: number;
  /** Deepest nesting of arrays and objects (default 32; EPCIS itself needs about 8). */
  readonly maxDepth?: number;
  /** At most this many errors are reported (default 50). */
  readonly maxErrors?: number;
}

export interface ValidatorOptions extends ValidationLimits {
  /** The EPCIS 2.0 JSON Schema object; read from `schemaPath` when absent. */
  readonly schema?: object;
  /** Where to read the schema (default: $TRACEMESH_EPCIS_SCHEMA, else lib/epcis/schema/EPCIS-JSON-Schema.json). */
  readonly schemaPath?: string;
  /** Check GS1 identifiers beyond the schema (EPC URI syntax, Digital Link check digits); default true. */
  readonly checkIdentifiers?: boolean;
}

export const DEFAULT_LIMITS: Required<ValidationLimits> = {
  maxBytes: 8 * 1024 * 1024,
  maxEvents: 10_000,
  maxDepth: 32,
  maxErrors: 50,
};


/** The schema file is not part of the repository; see lib/epcis/schema/README.md. */
export class EpcisSchemaUnavailableError extends TracemeshError {
  constructor(path: string, cause: unknown) {
    super("schema-unavailable",
      `EPCIS 2.0 JSON Schema not readable at ${path} (${cause instanceof Error ? cause.message : String(cause)}). ` +
        "Place GS1's EPCIS-JSON-Schema.json there or set TRACEMESH_EPCIS_SCHEMA; see lib/epcis/schema/README.md.",
    );
  }
}

export function defaultSchemaPath(): string {
  return process.env["TRACEMESH_EPCIS_SCHEMA"] ?? fileURLToPath(new URL("./schema/EPCIS-JSON-Schema.json", import.meta.url));
}

/** Reads and parses the EPCIS JSON Schema from a local file. */
export function loadEpcisSchema(path: string = defaultSchemaPath()): object {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new EpcisSchemaUnavailableError(path, e);
  }
  const schema: unknown = JSON.parse(text);
  if (schema === null || typeof schema !== "object" || (schema as Record<string, unknown>)["$schema"] === undefined)
    throw new EpcisSchemaUnavailableError(path, new Error("the file is not a JSON Schema"));
  return schema;
}

// ----------------------------------------------------------------------------- helpers

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

function pointer(...parts: (string | number)[]): string {
  return parts.map((p) => "/" + String(p).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? s.slice(0, 77) + "..." : s;
}

/** Deepest nesting of `v`, without recursion (a hostile document must not blow the stack). */
function depthOf(v: unknown, limit: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== "object") continue;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const c of Array.isArray(x) ? x : Object.values(x)) if (c !== null && typeof c === "object") stack.push([c, d + 1]);
  }
  return max;
}

function valueAt(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const raw of path.split("/").slice(1)) {
    const k = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(cur)) cur = cur[Number(k)];
    else if (isObject(cur)) cur = cur[k];
    else return undefined;
  }
  return cur;
}

/** The events of a document and the JSON Pointer of its event list. */
function eventListOf(doc: Record<string, unknown>): { events: unknown; base: string } {
  const body = doc["epcisBody"];
  if (!isObject(body)) return { events: undefined, base: "/epcisBody" };
  if (doc["type"] === "EPCISQueryDocument") {
    const rb = isObject(body["queryResults"]) ? body["queryResults"]["resultsBody"] : undefined;
    return { events: isObject(rb) ? rb["eventList"] : undefined, base: "/epcisBody/queryResults/resultsBody/eventList" };
  }
  return { events: body["eventList"], base: "/epcisBody/eventList" };
}

// ------------------------------------------------------------------- plain-word messages

const EXAMPLE_TIME = "2024-05-01T12:00:00.000+02:00";

function plainMessage(e: ErrorObject, doc: unknown): string {
  const value = valueAt(doc, e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required":
      return `missing required field "${String(p["missingProperty"])}"`;
    case "format":
      if (p["format"] === "date-time")
        return `must be a date and time with a UTC offset, e.g. ${EXAMPLE_TIME} (got ${show(value)})`;
      if (p["format"] === "uri") return `must be an absolute URI (got ${show(value)})`;
      return `must be a valid ${String(p["format"])} (got ${show(value)})`;
    case "enum": {
      const allowed = (p["allowedValues"] as unknown[]).map((v) => JSON.stringify(v));
      const list = allowed.length > 12 ? allowed.slice(0, 12).join(", ") + ", ..." : allowed.join(", ");
      return `must be one of ${list} (got ${show(value)})`;
    }
    case "const":
      return `must be ${JSON.stringify(p["allowedValue"])} (got ${show(value)})`;
    case "type":
      return `must be ${/^[aeiou]/.test(String(p["type"])) ? "an" : "a"} ${String(p["type"])} (got ${show(value)})`;
    case "pattern":
      if (e.instancePath.endsWith("/eventTimeZoneOffset"))
        return `must be a UTC offset from -14:00 to +14:00 written like +02:00 (got ${show(value)})`;
      if (p["pattern"] === "^DELETE$") return `must be "DELETE" here (got ${show(value)})`;
      if (String(p["pattern"]).includes("urn:epcglobal:cbv"))
        return `must not be an EPCIS 1.x URN or ns.gs1.org URI: write the bare CBV term (e.g. "shipping") or its CBV Web URI (https://ref.gs1.org/cbv/...) (got ${show(value)})`;
      if (String(p["pattern"]).includes("gs1\\.org\\/voc"))
        return `must not be a GS1 Web Vocabulary URI here: write the bare term (e.g. "Temperature") (got ${show(value)})`;
      return `does not have the required form ${String(p["pattern"])} (got ${show(value)})`;
    case "additionalProperties":
      return `unknown field "${String(p["additionalProperty"])}"`;
    case "propertyNames": {
      const name = String(p["propertyName"]);
      const t = isObject(value) && typeof value["type"] === "string" ? `an ${value["type"]}` : "this object";
      return `unknown field "${name}": not a field of ${t}, and an extension field needs a namespace prefix declared in @context (e.g. "ex:${name}")`;
    }
    case "uniqueItems":
      return `lists the same value twice (items ${String(p["j"])} and ${String(p["i"])})`;
    case "minItems":
      return `must have at least ${String(p["limit"])} item(s)`;
    case "maxItems":
      return `must have at most ${String(p["limit"])} item(s)`;
    case "minLength":
      return `must not be empty`;
    case "minimum":
    case "exclusiveMinimum":
    case "maximum":
    case "exclusiveMaximum":
      return `must be ${String(p["comparison"])} ${String(p["limit"])} (got ${show(value)})`;
    default:
      return e.message ?? `fails the ${e.keyword} rule`;
  }
}

/**
 * Turns ajv's raw errors (one per failed branch of every if/anyOf) into the few that say what is
 * wrong: branch bookkeeping is dropped; an anyOf failure is explained by a deeper error when there
 * is one, else summarised as the alternatives it wanted.
 */
function explain(raw: readonly ErrorObject[], doc: unknown): ValidationIssue[] {
  // A propertyNames failure is preceded by the errors of the name's own sub-schema; through a
  // $ref those lose their propertyName mark, so they are found by position.
  const inName = new Set<ErrorObject>();
  raw.forEach((e, k) => {
    if (e.keyword !== "propertyNames") return;
    const name = (e.params as Record<string, unknown>)["propertyName"];
    for (let j = k - 1; j >= 0; j--) {
      const f = raw[j]!;
      if (f.instancePath !== e.instancePath || !["enum", "format", "anyOf", "pattern", "const", "type"].includes(f.keyword)) break;
      if (f.propertyName !== undefined && f.propertyName !== name) break;
      inName.add(f);
    }
  });
  const errors = raw.filter((e) => e.keyword !== "if" && e.propertyName === undefined && !inName.has(e));
  const anyOfs = errors.filter((e) => e.keyword === "anyOf" || e.keyword === "oneOf");
  const dropped = new Set<ErrorObject>();
  const summaries: ValidationIssue[] = [];
  const branchOf = (e: ErrorObject, a: ErrorObject) =>
    e !== a &&
    (e.instancePath === a.instancePath || e.instancePath.startsWith(a.instancePath + "/")) &&
    e.schemaPath.startsWith(a.schemaPath + "/");
  for (const a of anyOfs) {
    dropped.add(a);
    const branches = errors.filter((e) => branchOf(e, a));
    branches.forEach((b) => dropped.add(b));
    // Explained already by an error the alternatives reached through a $ref (same place or deeper)?
    const deeper = errors.some(
      (e) =>
        (e.instancePath.startsWith(a.instancePath + "/") ||
          (e.instancePath === a.instancePath && ["format", "pattern", "enum", "type", "const"].includes(e.keyword))) &&
        e.keyword !== "anyOf" &&
        e.keyword !== "oneOf" &&
        !dropped.has(e) &&
        !branches.includes(e),
    );
    if (deeper) continue;
    const wanted = [
      ...new Set(branches.filter((b) => b.keyword === "required").map((b) => `"${String(b.params["missingProperty"])}"`)),
    ];
    // Alternatives that fix a value rather than require a field, e.g. action DELETE.
    const orElse = [
      ...new Set(
        branches
          .filter((b) => b.keyword === "pattern" && /^\^[A-Za-z_]+\$$/.test(String(b.params["pattern"])))
          .map((b) => `${b.instancePath.split("/").pop()} "${String(b.params["pattern"]).slice(1, -1)}"`),
      ),
    ];
    if (wanted.length > 0)
      summaries.push({
        path: a.instancePath,
        message: `needs at least one of ${wanted.join(", ")}${orElse.length > 0 ? ` (or ${orElse.join(", or ")})` : ""}`,
      });
    else if (branches.length > 0) summaries.push({ path: branches[0]!.instancePath, message: plainMessage(branches[0]!, doc) });
    else summaries.push({ path: a.instancePath, message: "does not match any allowed form" });
  }
  const out: ValidationIssue[] = [];
  const seen = new Set<string>();
  const add = (i: ValidationIssue) => {
    const k = i.path + "\u0000" + i.message;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(i);
    }
  };
  // A value that is neither a standard term nor an allowed URI fails both alternatives of the
  // vocabulary's anyOf (through $refs, so not recognised as branches): the URI rule says more.
  const vocabPaths = new Set(
    errors.filter((e) => e.keyword === "pattern" && String(e.params["pattern"]).startsWith("^(?!")).map((e) => e.instancePath),
  );
  for (const e of errors)
    if (!dropped.has(e) && !(e.keyword === "enum" && vocabPaths.has(e.instancePath)))
      add({ path: e.instancePath, message: plainMessage(e, doc) });
  summaries.forEach(add);
  return out;
}

// ------------------------------------------------------------------------ the validator

export interface EpcisValidator {
  /**
   * Validates a document given as JSON text, UTF-8 bytes or an already parsed value. Never
   * throws for bad input: every problem is an entry in `errors`.
   */
  validate(input: string | Uint8Array | unknown): ValidationResult;
}

const IDENTIFIER_LISTS = ["epcList", "childEPCs", "inputEPCList", "outputEPCList"] as const;
const QUANTITY_LISTS = ["quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"] as const;

function identifierIssue(value: unknown, path: string): ValidationIssue | undefined {
  if (typeof value !== "string") return undefined;
  try {
    if (value.startsWith("urn:epc:")) parseEpcUri(value);
    else if (/^https?:\/\//i.test(value)) {
      // Only URIs that carry a GS1 key are Digital Links; other web URIs are private identifiers.
      if (!/\/(00|01|253|255|401|402|414|417|8003|8004|8006|8010|8017|8018|gtin|sscc|giai|grai|gln|itip|cpid|party|gsrn|gsrnp|gcn|gdti|ginc|gsin)\/[^/]+/.test(value))
        return undefined;
      parseDigitalLink(value, { ...LENIENT_DIGITAL_LINK, decompress: false });
    }
  } catch (e) {
    if (e instanceof IdentifierError) return { path, message: `invalid GS1 identifier: ${e.message}` };
    throw e;
  }
  return undefined;
}

function identifierIssues(event: Record<string, unknown>, base: string): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const push = (i: ValidationIssue | undefined) => i && out.push(i);
  for (const list of IDENTIFIER_LISTS) {
    const v = event[list];
    if (Array.isArray(v)) v.forEach((x, i) => push(identifierIssue(x, `${base}/${list}/${i}`)));
  }
  push(identifierIssue(event["parentID"], `${base}/parentID`));
  for (const list of QUANTITY_LISTS) {
    const v = event[list];
    if (Array.isArray(v))
      v.forEach((q, i) => {
        if (isObject(q)) push(identifierIssue(q["epcClass"], `${base}/${list}/${i}/epcClass`));
      });
  }
  return out;
}

/** Compiles the schema once; the returned validator is reusable and cheap per call. */
export function createEpcisValidator(options: ValidatorOptions = {}): EpcisValidator {
  const limits = { ...DEFAULT_LIMITS, ...stripUndefined(options) };
  const schema = options.schema ?? loadEpcisSchema(options.schemaPath);
  // The GS1 schema lists required properties it does not declare; that is valid JSON Schema.
  const ajv = new Ajv({ allErrors: true, strict: "log", strictRequired: false, strictTypes: false, logger: false });
  addFormats(ajv);
  const check: ValidateFunction = ajv.compile(schema);
  const checkIdentifiers = options.checkIdentifiers ?? true;

  return {
    validate(input) {
      const fail = (errors: ValidationIssue[], document?: unknown, eventCount = 0): ValidationResult => ({
        valid: false,
        errors: errors.slice(0, limits.maxErrors),
        document,
        eventCount,
      });
      let doc: unknown = input;
      if (typeof input === "string" || input instanceof Uint8Array) {
        const bytes = typeof input === "string" ? Buffer.byteLength(input, "utf8") : input.byteLength;
        if (bytes > limits.maxBytes)
          return fail([{ path: "", message: `document is ${bytes} bytes; the limit is ${limits.maxBytes} bytes` }]);
        const text = typeof input === "string" ? input : Buffer.from(input).toString("utf8");
        try {
          doc = JSON.parse(text);
        } catch (e) {
          return fail([{ path: "", message: `not valid JSON: ${e instanceof Error ? e.message : String(e)}` }]);
        }
      } else if (Number.isFinite(limits.maxBytes)) {
        const bytes = Buffer.byteLength(JSON.stringify(input) ?? "", "utf8");
        if (bytes > limits.maxBytes)
          return fail([{ path: "", message: `document is ${bytes} bytes as JSON; the limit is ${limits.maxBytes} bytes` }]);
      }
      const depth = depthOf(doc, limits.maxDepth);
      if (depth > limits.maxDepth)
        return fail([{ path: "", message: `document nests deeper than ${limits.maxDepth} levels` }], doc);

      // Shape checks the schema would answer with pages of branch errors.
      if (!isObject(doc)) return fail([{ path: "", message: `an EPCIS document must be a JSON object (got ${show(doc)})` }], doc);
      const docType = doc["type"];
      if (docType !== "EPCISDocument" && docType !== "EPCISQueryDocument")
        return fail(
          [
            {
              path: "/type",
              message:
                docType === undefined
                  ? 'missing document "type": expected "EPCISDocument" or "EPCISQueryDocument"'
                  : `document "type" must be "EPCISDocument" or "EPCISQueryDocument" (got ${show(docType)})`,
            },
          ],
          doc,
        );
      const { events, base } = eventListOf(doc);
      if (!Array.isArray(events)) {
        const first = explain(check(doc) ? [] : (check.errors ?? []), doc);
        return fail(first.length > 0 ? first : [{ path: base, message: "missing the list of events" }], doc);
      }
      if (events.length > limits.maxEvents)
        return fail(
          [{ path: base, message: `document has ${events.length} events; the limit is ${limits.maxEvents} per document` }],
          doc,
          events.length,
        );
      const shape: ValidationIssue[] = [];
      events.forEach((ev, i) => {
        const at = `${base}/${i}`;
        if (!isObject(ev)) shape.push({ path: at, message: `an event must be a JSON object (got ${show(ev)})` });
        else if (ev["type"] === undefined)
          shape.push({ path: at, message: `event has no "type" (one of ${EVENT_TYPES.join(", ")})` });
        else if (typeof ev["type"] !== "string")
          shape.push({ path: `${at}/type`, message: `event "type" must be a string (got ${show(ev["type"])})` });
        else if (!(EVENT_TYPES as readonly string[]).includes(ev["type"]) && !/^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$/.test(ev["type"]))
          shape.push({
            path: `${at}/type`,
            message: `unknown event type ${show(ev["type"])}: expected one of ${EVENT_TYPES.join(", ")} (an extension event type must be a URI)`,
          });
      });
      if (shape.length > 0) return fail(shape, doc, events.length);

      const errors = check(doc) ? [] : explain(check.errors ?? [], doc);
      if (checkIdentifiers)
        events.forEach((ev, i) => {
          if (isObject(ev)) errors.push(...identifierIssues(ev, pointer(...base.split("/").slice(1), i)));
        });
      return errors.length > 0 ? fail(errors, doc, events.length) : { valid: true, errors: [], document: doc, eventCount: events.length };
    },
  };
}

function stripUndefined(o: ValidationLimits): ValidationLimits {
  const out: Record<string, number> = {};
  for (const k of ["maxBytes", "maxEvents", "maxDepth", "maxErrors"] as const) {
    const v = o[k];
    if (v !== undefined) {
      if (!(v > 0)) throw new RangeError(`${k} must be a positive number (got ${v})`);
      out[k] = v;
    }
  }
  return out;
}
