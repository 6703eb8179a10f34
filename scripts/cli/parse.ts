/**
 * Reading command-line values: identifiers (hex or text hashed with keccak256), roles, times,
 * durations, quorums, addresses. Malformed input is a UsageError (exit 2).
 */
import { readFileSync } from "node:fs";
import { getAddress, isAddress, keccak256, toUtf8Bytes } from "ethers";
import { type Role, roleByName } from "../../lib/consortium.ts";
import { SCOPE_WORDS, scopeKindOf } from "../../lib/access-grants.ts";
import { CredentialError, credentialHash, decodeCredential, jwsOfInput } from "../../lib/credentials.ts";
import { sdJwtOfInput, selectiveCredentialId } from "../../lib/credentials/selective-disclosure.ts";
import type { ScopeKind } from "../../lib/registry.ts";
import { RevocationReason } from "../../lib/registry.ts";
import { kebab } from "./describe.ts";
import { UsageError } from "./output.ts";

/** A 32-byte identifier as given: hex used as is, or text and its keccak256. */
export interface Identifier {
  hex: string;
  /** The text that was hashed; undefined when hex was given. */
  text?: string;
}

const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

/**
 * `0x` + 64 hex digits is the key itself; anything else is an identifier (an EPC URI, a Digital
 * Link, a stream id, a scope name such as EN10204-3.1, a purpose code) hashed with keccak256,
 * as the contracts key them.
 */
export function identifier(label: string, value: string | undefined): Identifier {
  if (value === undefined || value === "") throw new UsageError(`${label} is missing`);
  if (BYTES32.test(value)) return { hex: value.toLowerCase() };
  if (/^0x[0-9a-fA-F]*$/.test(value)) {
    throw new UsageError(`${label} looks like hex but is not 32 bytes (64 hex digits after 0x); to hash it as text, drop the 0x`);
  }
  return { hex: keccak256(toUtf8Bytes(value)), text: value };
}

/**
 * A certificate id: `@FILE` names a credential (compact JWS, vc+jwt, or an enveloped VC 2.0 JSON
 * document, or an SD-JWT vc+sd-jwt) whose credential hash (lib/credentials.ts) is the id; anything else as `identifier`.
 */
export function certificateId(label: string, value: string | undefined): Identifier {
  if (value === undefined || !value.startsWith("@")) return identifier(label, value);
  const file = value.slice(1);
  const input = credentialFile(label, file);
  try {
    const sdJwt = sdJwtOfInput(input);
    if (sdJwt !== undefined) return { hex: selectiveCredentialId(sdJwt), text: `credential ${file}` };
    return { hex: credentialHash(decodeCredential(jwsOfInput(input))), text: `credential ${file}` };
  } catch (e) {
    if (e instanceof CredentialError) throw new UsageError(`${label}: ${file} is not a secured credential: ${e.message}`);
    throw e;
  }
}

/** What a credential file holds: the JWS text, or the JSON document (an enveloped credential, `{ jwt }`). */
export function credentialFile(label: string, file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new UsageError(`${label}: cannot read the credential file ${file}: ${(e as Error).message}`);
  }
  const trimmed = text.trim();
  try {
    return trimmed.startsWith("{") || trimmed.startsWith('"') ? JSON.parse(trimmed) : trimmed;
  } catch (e) {
    throw new UsageError(`${label}: ${file} is not a secured credential: ${(e as Error).message}`);
  }
}

export function showId(id: Identifier): string {
  return id.text === undefined ? id.hex : `"${id.text}" (${id.hex})`;
}

export function uint(label: string, value: string | undefined, max: number = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined || !/^\d+$/.test(value)) throw new UsageError(`${label} must be a whole number, got "${value ?? ""}"`);
  const n = Number(value);
  if (n > max) throw new UsageError(`${label} must be at most ${max}, got ${value}`);
  return n;
}

export function proposalId(value: string | undefined): bigint {
  if (value === undefined || !/^#?\d+$/.test(value) || /^#?0+$/.test(value)) {
    throw new UsageError(`a proposal id is a number from 1, got "${value ?? ""}"`);
  }
  return BigInt(value.replace(/^#/, ""));
}

export function role(value: string | undefined): Role {
  const r = roleByName(value ?? "");
  if (r === undefined) {
    throw new UsageError(`unknown role "${value ?? ""}": use supplier, manufacturer, logistics, certifier, regulator or auditor`);
  }
  return r;
}

/** Roles from repeated and/or comma-separated values, without duplicates. */
export function roles(values: string[] | undefined): Role[] {
  const list = (values ?? []).flatMap((v) => v.split(",")).filter((v) => v.trim() !== "");
  if (list.length === 0) throw new UsageError("give at least one --role");
  return [...new Set(list.map(role))];
}

export function address(label: string, value: string | undefined): string {
  if (value === undefined || !isAddress(value))
    throw new UsageError(`${label} must be an account address (0x + 40 hex digits), got "${value ?? ""}"`);
  return getAddress(value);
}

export function addresses(label: string, values: string[] | undefined): string[] {
  const list = (values ?? []).flatMap((v) => v.split(",")).filter((v) => v.trim() !== "");
  if (list.length === 0) throw new UsageError(`give at least one ${label}`);
  return list.map((v) => address(label, v.trim()));
}

export function yesNo(value: string | undefined): boolean {
  const v = (value ?? "").toLowerCase();
  if (["yes", "y", "approve", "for"].includes(v)) return true;
  if (["no", "n", "reject", "against"].includes(v)) return false;
  throw new UsageError(`vote "yes" or "no", not "${value ?? ""}"`);
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 7 * 86_400 };

/** "3600", "90m", "12h", "2d", "1w" -> seconds */
export function duration(label: string, value: string | undefined): number {
  const m = /^(\d+)\s*([smhdw]?)$/i.exec(value ?? "");
  if (!m) throw new UsageError(`${label} must be a duration such as 3600, 90m, 12h, 2d or 1w, got "${value ?? ""}"`);
  return Number(m[1]) * UNIT_SECONDS[(m[2] || "s").toLowerCase()]!;
}

/** "6000" basis points, or "60%" / "60.5%" */
export function quorum(value: string | undefined): number {
  const v = value ?? "";
  const pct = /^(\d+(?:\.\d{1,2})?)%$/.exec(v);
  if (pct) return Math.round(Number(pct[1]) * 100);
  if (/^\d+$/.test(v)) return Number(v);
  throw new UsageError(`--quorum must be basis points (6000) or a percentage (60%), got "${v}"`);
}

/**
 * A point in time, in Unix seconds: "+30d" (relative to `now`, the chain's clock), an ISO date
 * or date-time (a date alone is midnight UTC), or Unix seconds.
 */
export function time(label: string, value: string | undefined, now: number): number {
  return Math.floor(timeMs(label, value, now * 1000, "seconds") / 1000);
}

/**
 * A point in time in Unix milliseconds, the unit of readings' source times and anchored windows:
 * relative (+2h), ISO, or a plain number taken in `plainUnit`.
 */
export function timeMs(
  label: string,
  value: string | undefined,
  nowMs: number,
  plainUnit: "seconds" | "milliseconds" = "milliseconds",
): number {
  const v = (value ?? "").trim();
  const rel = /^([+-])(\d+)\s*([smhdw])$/i.exec(v);
  if (rel) {
    const delta = Number(rel[2]) * UNIT_SECONDS[rel[3]!.toLowerCase()]! * 1000;
    return rel[1] === "+" ? nowMs + delta : nowMs - delta;
  }
  if (/^\d+$/.test(v)) return plainUnit === "seconds" ? Number(v) * 1000 : Number(v);
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const parsed = Date.parse(v);
    if (!Number.isNaN(parsed)) return parsed;
  }
  throw new UsageError(
    `${label} must be a time: +30d, +12h, an ISO date (2026-03-31 or 2026-03-31T12:00Z) or Unix ${plainUnit}; got "${v}"`,
  );
}

export function scopeKind(value: string | undefined): ScopeKind {
  const k = scopeKindOf(value ?? "");
  if (k === undefined) throw new UsageError(`--scope must be one of ${Object.values(SCOPE_WORDS).join(", ")}; got "${value ?? ""}"`);
  return k;
}

export { SCOPE_WORDS };

export function reason(value: string | undefined): RevocationReason {
  if (value === undefined) return RevocationReason.Unspecified;
  const names = Object.values(RevocationReason).filter((v): v is string => typeof v === "string");
  const found = names.find((n) => kebab(n) === value.toLowerCase() || n.toLowerCase() === value.toLowerCase());
  if (found === undefined) throw new UsageError(`--reason must be one of ${names.map(kebab).join(", ")}; got "${value}"`);
  return RevocationReason[found as keyof typeof RevocationReason];
}

export function str(values: Invocationish, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

export function required(values: Invocationish, name: string, command: string): string {
  const v = str(values, name);
  if (v === undefined || v === "") throw new UsageError(`${command} needs --${name}`, command);
  return v;
}

type Invocationish = Record<string, string | boolean | string[] | undefined>;
