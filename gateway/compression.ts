/**
 * HTTP compression of the gateway's answers (RFC 9110 8.4, 12.5.3). JSON answers are several times
 * smaller compressed, and every real client asks for it (browsers, Node's fetch, curl --compressed):
 * - kept answers (answer-cache.ts) carry their gzip and brotli forms, each compressed once on its
 *   first request, so serving one again compresses nothing (`keptCoding`, `codedForm`);
 * - other answers of at least `threshold` bytes of a compressible type are compressed as they are
 *   sent, at a fast level (koa-compress; `onTheFly`); small answers and event streams never are.
 * Each form has its own strong entity tag (the identity tag with the coding as suffix), so a 304
 * confirms exactly the bytes the client holds. Every answer varies on Accept-Encoding.
 */
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import type { Context, Middleware } from "koa";
import compress from "koa-compress";

/** Codings a kept answer is stored in besides identity, the client's preference deciding at equal weight. */
export type Coding = "br" | "gzip";

/** Answers smaller than this go out as they are: the headers and the compressor cost more than they save. */
export const COMPRESS_THRESHOLD_BYTES = 1024;

/**
 * Kept answers at least this large are compressed on their first serve; smaller ones only once
 * served again. Each compression costs the gateway about 0.3 ms of CPU beyond the codec itself
 * (a fresh zlib or brotli state each call, reported to V8 as external memory, so collections come
 * sooner): measured on the gateway bench, compressing every distinct item's 3 KB history cut its
 * rate from 1,817 to 1,275 answers a second, to save 1.4 KB an answer. A large answer saves far
 * more than it costs on any real link; a small one pays only when sent many times.
 */
export const COMPRESS_AT_ONCE_BYTES = 16 * 1024;

/** Whether a kept answer of `size` bytes goes compressed on this serve (`again`: served before under its stamp). */
export function worthCompressing(size: number, again: boolean): boolean {
  return size >= COMPRESS_AT_ONCE_BYTES || (again && size >= COMPRESS_THRESHOLD_BYTES);
}

/**
 * The coding of a kept answer for this request, per Accept-Encoding (q-values, `*`, `identity`,
 * q=0 refusals: negotiator through Koa), or undefined for identity. At equal weight the first the
 * client lists wins. When the client refuses identity and names nothing we hold, identity is sent
 * anyway (RFC 9110 12.5.3 allows it; refusing the answer would help nobody).
 */
export function keptCoding(ctx: Context): Coding | undefined {
  const header = ctx.get("accept-encoding");
  if (!header) return undefined;
  // A pure function of the header, and a client sends the same one on every request: decided once.
  const known = codingOfHeader.get(header);
  if (known !== undefined) return known || undefined;
  const chosen = ctx.acceptsEncodings("br", "gzip", "identity");
  const coding = chosen === "br" || chosen === "gzip" ? chosen : undefined;
  // Bounded (headers are the client's to vary): at most 256 of at most 128 characters.
  if (header.length <= 128) {
    if (codingOfHeader.size >= 256) codingOfHeader.clear();
    codingOfHeader.set(header, coding ?? "");
  }
  return coding;
}

/** Accept-Encoding headers seen, and the coding each chose ("" for identity). */
const codingOfHeader = new Map<string, Coding | "">();

/** The entity tag of `coding`'s form of the answer whose identity form has `etag` (strong, distinct per coding). */
export function codedTag(etag: string, coding: Coding): string {
  return `${etag.slice(0, -1)}-${coding}"`;
}

/**
 * `bytes` in `coding`, at a fast level: most kept answers are made for one request (a distinct
 * item's history is asked once), so the first request pays for it. Brotli's window is sized to the
 * answer (its default 4 MB window is allocated per call); quality 1 gives JSON answers within about
 * 10 % of quality 5's size at a fifth of the time (gzip: level 1 and 6 likewise).
 */
export function codedBytes(bytes: Buffer, coding: Coding): Buffer {
  if (coding === "gzip") return gzipSync(bytes, { level: 1 });
  const window = Math.max(constants.BROTLI_MIN_WINDOW_BITS, Math.min(constants.BROTLI_MAX_WINDOW_BITS, Math.ceil(Math.log2(bytes.length + 1))));
  return brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 1, [constants.BROTLI_PARAM_LGWIN]: window, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } });
}

/** Compressions of kept answers made by this process (tests count them: a hit makes none). */
export const codedCount = { value: 0 };

/** Types worth compressing: text, JSON, JavaScript, XML, SVG. */
const compressibleType = /^(?:text\/|application\/(?:json|problem\+json|ld\+json|javascript|xml)\b|image\/svg\+xml\b)/i;
/** Types never compressed: an event stream must reach the client event by event. */
const streamed = /^text\/event-stream\b/i;

/**
 * Compresses what the routes answer, as it is sent: compressible types of at least the threshold,
 * gzip level 1 or brotli quality 1 (about 0.1 ms for 30 KB). Answers that carry their own coding
 * (kept answers, precompressed explorer files) pass as they are. Sets Vary: Accept-Encoding on
 * every answer, since any of them may be compressed for a client that asks.
 */
export function onTheFly(): Middleware {
  const compressor = compress({
    threshold: COMPRESS_THRESHOLD_BYTES,
    filter: (type: string) => !streamed.test(type) && compressibleType.test(type),
    gzip: { level: 1 },
    br: { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } },
    // zstd and deflate are left out: one fast coding per family of clients is enough.
    deflate: false,
    zstd: false,
  });
  return async (ctx, next) => {
    await compressor(ctx, async () => {
      await next();
      // JSON serialised once here: koa-compress would measure it by serialising, then serialise again.
      const body: unknown = ctx.body;
      if (body !== null && typeof body === "object" && !Buffer.isBuffer(body) && typeof (body as { pipe?: unknown }).pipe !== "function") {
        ctx.body = JSON.stringify(body);
      }
      // Nothing acceptable (`*;q=0`): identity goes, as for kept answers (koa-compress would fail on it).
      if (ctx.get("accept-encoding") && ctx.acceptsEncodings("br", "gzip", "identity") === false) ctx.compress = false;
    });
    // A route's own entity tag names the identity bytes: compressed here, the answer is another form.
    const coding = ctx.response.get("Content-Encoding") ?? "";
    const etag = ctx.response.get("ETag") ?? "";
    if ((coding === "gzip" || coding === "br") && etag.endsWith('"') && !etag.endsWith(`-${coding}"`)) ctx.set("ETag", codedTag(etag, coding));
  };
}
