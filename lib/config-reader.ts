/**
 * The one reader of configuration files (node, member, devices, organisations): a config is
 * described once as a TypeBox schema (JSON Schema with static types), checked by ajv with every
 * problem collected, defaults filled in, and relative file paths resolved against the config
 * file's folder. Each problem names its field (`p2p.follow[0].stream: must be ...`). Rules that
 * span fields (unique ids, min below max) run after the schema pass and report the same way.
 *
 * Schema annotations this reader understands:
 * - `problem`: what the field must be, in words, used instead of the generic text;
 * - `missing`: what to say when a required field is absent (default: the `problem`, "got nothing");
 * - `filePath: true` (see `FilePath`): a path resolved against the config file's folder;
 * - `maxBytes`: the most UTF-8 bytes a string may take;
 * - `secret: true`: the value is never repeated in a problem (keys, passwords).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { type Static, type TSchema, Type, type StringOptions } from "@sinclair/typebox";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { TracemeshError } from "./errors.ts";

/** One problem of a configuration: the field's path (`p2p.follow[0].stream`, "" for the whole) and what is wrong. */
export interface ConfigIssue {
  field: string;
  problem: string;
}

/** `field: problem`, or the problem alone for the whole configuration. */
export const issueText = (i: ConfigIssue): string => (i.field ? `${i.field}: ${i.problem}` : i.problem);

/** A configuration that cannot be used; `problems` lists every one found, each naming its field. */
export class ConfigError extends TracemeshError {
  /** The problems with their fields apart, when the reader found them. */
  readonly issues: readonly ConfigIssue[];
  constructor(
    readonly problems: string[],
    readonly file?: string,
    /** What was being read, for the message: "node configuration", "organisations file". */
    readonly subject = "node configuration",
    issues?: readonly ConfigIssue[],
  ) {
    super("invalid-config", `invalid ${subject}${file ? ` ${file}` : ""}:\n  - ${problems.join("\n  - ")}`);
    this.issues = issues ?? problems.map((problem) => ({ field: "", problem }));
  }
}

/** A string that names a file or folder; relative paths resolve against the config's folder. */
export const FilePath = (options: StringOptions = {}) => Type.String({ pattern: "\\S", problem: "must be a non-empty path", filePath: true, ...options });

/** A JSON value shown in a problem: short, and "nothing" for a missing one. */
export function shown(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Reads a JSON file. Throws ConfigError when it cannot be read or parsed. */
export function readJsonFile(file: string, subject?: string): { raw: unknown; file: string; dir: string } {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError([`cannot read the file: ${code === "ENOENT" ? "it does not exist" : (e as Error).message}`], abs, subject);
  }
  try {
    return { raw: JSON.parse(text), file: abs, dir: path.dirname(abs) };
  } catch (e) {
    throw new ConfigError([`not valid JSON: ${(e as Error).message}`], abs, subject);
  }
}

export interface CheckOptions<T> {
  /** The folder relative paths resolve against (the config file's). */
  baseDir: string;
  file?: string;
  subject?: string;
  /** Prefix of every field name, for a config read as part of a larger one ("devices[2]"). */
  at?: string;
  /** Rules across fields, run once the schema holds; `problem(field, text)` reports one. */
  rules?: (value: T, problem: (field: string, text: string) => void) => void;
  /**
   * Run the rules even when the schema does not hold, so that every problem is listed in one
   * pass (for files an operator fixes by hand). The rules then see a value that may not match
   * its type and must check what they read; a rule's problem at a field the schema already
   * named is dropped.
   */
  rulesOnInvalid?: boolean;
}

const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: false });
ajv.addKeyword({ keyword: "problem", schemaType: "string" });
ajv.addKeyword({ keyword: "filePath", schemaType: "boolean" });
ajv.addKeyword({ keyword: "secret", schemaType: "boolean" });
ajv.addKeyword({ keyword: "missing", schemaType: "string" });
ajv.addKeyword({
  keyword: "maxBytes",
  type: "string",
  schemaType: "number",
  validate: (max: number, data: string) => Buffer.byteLength(data, "utf8") <= max,
});
const compiled = new WeakMap<TSchema, ValidateFunction>();

/**
 * Checks `raw` against `schema`: returns a copy with defaults filled in and file paths resolved,
 * or throws one ConfigError listing every problem.
 */
export function checkConfig<S extends TSchema>(schema: S, raw: unknown, options: CheckOptions<Static<S>>): Static<S> {
  let validate = compiled.get(schema);
  if (!validate) compiled.set(schema, (validate = ajv.compile(schema)));
  const value = structuredClone(raw);
  const at = options.at ?? "";
  const issues: ConfigIssue[] = [];
  const valid = validate(value);
  if (!valid) issues.push(...describeErrors(validate.errors ?? [], at));
  if (valid || options.rulesOnInvalid) {
    const named = new Set(issues.map((i) => i.field));
    options.rules?.(value as Static<S>, (field, problem) => {
      if (!named.has(join(at, field))) issues.push({ field: join(at, field), problem });
    });
  }
  if (issues.length > 0) throw new ConfigError(issues.map(issueText), options.file, options.subject, issues);
  return resolvePaths(schema, value, options.baseDir) as Static<S>;
}

/** `a.b[2].c` from a prefix and a field. */
function join(at: string, field: string): string {
  if (!at) return field;
  if (!field) return at;
  return field.startsWith("[") ? `${at}${field}` : `${at}.${field}`;
}

/** `/p2p/follow/0/stream` -> `p2p.follow[0].stream`; `/parties/urn:epc:...` -> `parties["urn:epc:..."]`. */
function fieldOf(pointer: string): string {
  let out = "";
  for (const part of pointer.split("/").slice(1)) {
    const key = part.replace(/~1/g, "/").replace(/~0/g, "~");
    if (/^\d+$/.test(key)) out += `[${key}]`;
    else if (!/^[A-Za-z_$][\w$]*$/.test(key)) out += `[${JSON.stringify(key)}]`; // a map key such as a URI
    else out += out ? `.${key}` : key;
  }
  return out;
}

/** One problem per field: the outermost schema's (a union's own words rather than a branch's). */
function describeErrors(errors: ErrorObject[], at: string): ConfigIssue[] {
  const byField = new Map<string, ErrorObject>();
  for (const e of errors) {
    let field = fieldOf(e.instancePath);
    if (e.keyword === "additionalProperties") field = join(field, (e.params as { additionalProperty: string }).additionalProperty);
    if (e.keyword === "required") field = join(field, (e.params as { missingProperty: string }).missingProperty);
    const seen = byField.get(field);
    if (!seen || e.schemaPath.split("/").length < seen.schemaPath.split("/").length) byField.set(field, e);
  }
  return [...byField].map(([field, e]) => ({ field: join(at, field), problem: describe(e) }));
}

type Schema = TSchema & { problem?: string; missing?: string; secret?: boolean; properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[] };

function describe(e: ErrorObject): string {
  if (e.keyword === "additionalProperties") {
    // Settings declared only to be refused with their own words (`not`) are not offered.
    const allowed = Object.entries((e.parentSchema as Schema).properties ?? {}).filter(([, s]) => s.not === undefined);
    return `unknown setting (allowed: ${allowed.map(([k]) => k).join(", ")})`;
  }
  if (e.keyword === "required") {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    const schema = (e.parentSchema as Schema).properties?.[missing];
    if (schema?.missing) return schema.missing;
    return `${schema ? expectation(schema) : "is required"} (got nothing)`;
  }
  const schema = e.parentSchema as Schema;
  return schema.secret ? expectation(schema) : `${expectation(schema)} (got ${shown(e.data)})`;
}

/** What a schema asks for, in words. */
function expectation(s: Schema): string {
  if (s.problem) return s.problem;
  const range = (what: string) =>
    s.minimum !== undefined && s.maximum !== undefined
      ? `must be ${what} from ${s.minimum} to ${s.maximum}`
      : s.minimum !== undefined
        ? `must be ${what} of at least ${s.minimum}`
        : s.maximum !== undefined
          ? `must be ${what} of at most ${s.maximum}`
          : `must be ${what}`;
  if (s.anyOf?.every((b) => b.const !== undefined)) return `must be one of ${s.anyOf.map((b) => JSON.stringify(b.const)).join(", ")}`;
  switch (s.type) {
    case "integer":
      return range("an integer");
    case "number":
      return range("a number");
    case "string":
      return "must be a non-empty string";
    case "boolean":
      return "must be true or false";
    case "array":
      return "must be an array";
    case "object":
      return "must be an object";
    default:
      return "is not valid here";
  }
}

/** Resolves every `filePath` string in `value` against `baseDir`, following the schema. */
function resolvePaths(schema: Schema, value: unknown, baseDir: string): unknown {
  if ((schema as { filePath?: boolean }).filePath && typeof value === "string") return path.resolve(baseDir, value);
  if (schema.properties && value !== null && typeof value === "object" && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const [k, sub] of Object.entries(schema.properties)) {
      if (obj[k] !== undefined) obj[k] = resolvePaths(sub, obj[k], baseDir);
    }
  }
  if (schema.items && Array.isArray(value)) return value.map((v) => resolvePaths(schema.items!, v, baseDir));
  return value;
}
