/**
 * Everything the member tool writes goes through here: plain text for people, one JSON document
 * for machines (`--json`), and the signing key scrubbed from both, whatever path led to it.
 */
import { TracemeshError, UsageError as CommandLineError } from "../../lib/errors.ts";

/** Exit codes: 0 done, 1 refused (by a local check or the contract) or failed, 2 usage. */
export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;

/** The command line was wrong: unknown command or option, a missing or malformed value. */
export class UsageError extends CommandLineError {
  constructor(
    message: string,
    /** The command whose usage to point at, e.g. "cert issue". */
    readonly command?: string,
  ) {
    super(message);
  }
}

/**
 * The chain or a local check said no, or something needed could not be reached. `details` is
 * machine output: the decoded custom error, the account, the organisation, ...
 */
export class Refusal extends TracemeshError {
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super("refused", message);
  }
}

const secrets = new Set<string>();

/**
 * Registers a secret (the signing key, in every spelling) that must never be written out.
 * Hex secrets are matched with and without 0x, in any letter case.
 */
export function addSecret(secret: string): void {
  const s = secret.trim();
  if (s.length < 8) return;
  secrets.add(s);
  const hex = s.replace(/^0x/i, "");
  if (/^[0-9a-f]+$/i.test(hex) && hex.length >= 32) secrets.add(hex);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `text` with every registered secret replaced by [redacted]. */
export function redact(text: string): string {
  let out = text;
  // Longest first, so "0x<key>" is replaced whole rather than leaving its "0x" behind.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    out = out.replace(new RegExp(escapeRegExp(s), "gi"), "[redacted]");
  }
  return out;
}

/** JSON with bigints as decimal strings (uint256 ids, masks), indented for people reading it too. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
}

/** What a command hands back: lines for people and a value for `--json`. */
export interface CommandResult {
  text: string;
  json: unknown;
}

export class Output {
  constructor(
    readonly json: boolean,
    private readonly stdout: (s: string) => void = (s) => process.stdout.write(s),
    private readonly stderr: (s: string) => void = (s) => process.stderr.write(s),
  ) {}

  result(r: CommandResult): void {
    this.stdout(redact(this.json ? toJson(r.json) : r.text.replace(/\n*$/, "")) + "\n");
  }

  /** Progress and warnings: stderr, so stdout stays the command's answer (and valid JSON). */
  note(message: string): void {
    if (!this.json) this.stderr(redact(message) + "\n");
  }

  warn(message: string): void {
    this.stderr(redact(this.json ? toJson({ warning: message }) : `warning: ${message}`) + "\n");
  }

  /** The one error report of a failed run, on stderr; with --json a document `{ error: {...} }`. */
  error(kind: "usage" | "refused" | "failed", message: string, details: Record<string, unknown> = {}, hint?: string): void {
    if (this.json) {
      this.stderr(redact(toJson({ error: { kind, message, ...details } })) + "\n");
    } else {
      this.stderr(redact(`error: ${message}${hint ? `\n${hint}` : ""}`) + "\n");
    }
  }

  help(text: string): void {
    this.stdout(redact(text.replace(/\n*$/, "")) + "\n");
  }
}
