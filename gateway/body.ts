/**
 * Request bodies, read with a size limit before anything parses them. Routes pick the limit:
 * `limits.large` for /capture-style documents, `limits.small` elsewhere (GatewayOptions).
 */
import type { Context } from "koa";
import getRawBody from "raw-body";
import { HttpProblem, badRequest } from "./errors.ts";

export interface BodyLimits {
  /** Bytes accepted by most routes. */
  small: number;
  /** Bytes accepted by routes that take whole documents (EPCIS capture). */
  large: number;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = { small: 64 * 1024, large: 4 * 1024 * 1024 };

/** The raw body, at most `limit` bytes; 413 when larger (checked against Content-Length first). */
export async function readRaw(ctx: Context, limit: number): Promise<Buffer> {
  const header = ctx.get("content-length");
  const declared = header === "" ? undefined : Number(header);
  if (declared !== undefined && declared > limit) throw tooLarge(declared, limit);
  try {
    return await getRawBody(ctx.req, { limit, length: declared });
  } catch (e) {
    const err = e as { type?: string; status?: number; length?: number };
    if (err.type === "entity.too.large") throw tooLarge(err.length ?? limit + 1, limit);
    if (err.type === "request.aborted") throw new HttpProblem(400, "the client aborted the request body", { type: "bad-request" });
    if (err.type === "request.size.invalid") throw badRequest("the request body is shorter or longer than its Content-Length");
    throw e;
  }
}

function tooLarge(length: number, limit: number): HttpProblem {
  return new HttpProblem(413, `the request body has ${length > limit ? `more than ${limit}` : length} bytes; this route accepts at most ${limit}`, {
    type: "too-large",
    extra: { limit },
  });
}

const JSON_TYPES = ["application/json", "application/ld+json", "application/*+json"];

/** Parses a JSON body (any JSON media type), refusing other content types and malformed JSON. */
export async function readJson(ctx: Context, limit: number): Promise<unknown> {
  if (!ctx.is(JSON_TYPES)) {
    throw new HttpProblem(415, `expected a JSON body (Content-Type application/json), got ${ctx.get("content-type") || "none"}`, {
      type: "unsupported-media-type",
    });
  }
  return parseJson((await readRaw(ctx, limit)).toString("utf8"));
}

export function parseJson(text: string): unknown {
  if (text.trim() === "") throw badRequest("the request body is empty; a JSON document was expected");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
  }
}
