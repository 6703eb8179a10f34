/**
 * lib/canonical-reading.ts, lib/merkle.ts and lib/credentials.ts handle bytes with Node's Buffer
 * (their hot path in the member node). In the browser the same code runs over the `buffer`
 * package, Node's Buffer API in plain JavaScript; this module must be imported before them.
 *
 * The package predates Node's "base64url" encoding (JWS parts use it): it is added here by
 * translating to and from standard base64.
 */
import { Buffer as BrowserBuffer } from "buffer";

type Encoding = BufferEncoding;

const toBase64 = (s: string) => s.replace(/-/g, "+").replace(/_/g, "/");
const from = BrowserBuffer.from.bind(BrowserBuffer) as (...args: unknown[]) => BrowserBuffer;
BrowserBuffer.from = ((value: unknown, encoding?: unknown, length?: unknown) =>
  typeof value === "string" && encoding === "base64url" ? from(toBase64(value), "base64") : from(value, encoding, length)) as typeof BrowserBuffer.from;
const toString = BrowserBuffer.prototype.toString as (this: BrowserBuffer, encoding?: Encoding, start?: number, end?: number) => string;
BrowserBuffer.prototype.toString = function (this: BrowserBuffer, encoding?: string, start?: number, end?: number): string {
  if (encoding !== "base64url") return toString.call(this, encoding as Encoding, start, end);
  return toString.call(this, "base64", start, end).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

const g = globalThis as { Buffer?: unknown };
g.Buffer ??= BrowserBuffer;
