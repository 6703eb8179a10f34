/**
 * Secrets a process keeps across restarts in a file of its own: read, or created on first start
 * (random bytes, owner-only 0600, O_EXCL so two processes racing on a first start cannot end up
 * with different secrets). The node's reading salt and the gateway's token signing key live so.
 */
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import path from "node:path";
import { ConfigError } from "./config-reader.ts";

export interface SecretFileSpec {
  /** Bytes of a new secret. */
  bytes: number;
  /** Fewer bytes in an existing file are refused. */
  minBytes: number;
  /** The configuration field naming the file, for the error. */
  field: string;
  /** What the secret is, for the error ("a node secret"). */
  what: string;
}

export function loadOrCreateSecret(file: string, spec: SecretFileSpec): Buffer {
  try {
    const secret = readFileSync(file);
    if (secret.length < spec.minBytes) throw new ConfigError([`${spec.field} ${file}: holds ${secret.length} bytes; ${spec.what} has at least ${spec.minBytes}`]);
    return secret;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  const secret = randomBytes(spec.bytes);
  const fd = openSync(file, "wx", 0o600);
  try {
    writeSync(fd, secret);
  } finally {
    closeSync(fd);
  }
  return secret;
}
