/**
 * `/tracemesh/fetch/2.0.0`, the wire: a partner's node asks this node for data it owns, and gets
 * it with what is needed to check every item against the chain (DESIGN.md, principle 2). This
 * file holds what both ends share (messages, limits, framing, request parsing); the serving end is
 * fetch-server.ts, the asking and verifying end fetch-client.ts.
 *
 * Framing: one request and one response per libp2p stream, each one length-prefixed (unsigned
 * varint) frame, at most `maxFrameBytes`. Requests are UTF-8 JSON; answers are tagged (wire.ts):
 * readings in a compact binary form (about 30 bytes a reading), anything else as JSON. Either side
 * gives up after `timeoutMs`. A node still answers `/tracemesh/fetch/1.1.0` (FETCH_PROTOCOL_V1:
 * the same requests, every answer as plain JSON) for partners not yet updated; it asks in 2.0.0.
 *
 * Requests (`v: 1`):
 *   { type: "readings", stream, from, to, afterSeq?, limit? }
 *       readings of `stream` with source time in [from, to) (Unix ms) and sequence number above
 *       `afterSeq`, oldest first, at most `limit`; `more` says a next page exists (ask again with
 *       `afterSeq` = the last seq received). With `event` (a hash of an own event of the serving
 *       node that binds readings of `stream` over the range), it is decided by who may read that
 *       event and answered reading by reading, each with its own proof.
 *   { type: "list", scope: { kind: "stream", stream } }   anchored windows held of the stream
 *   { type: "list", scope: { kind: "streams" } }          streams the caller holds a grant for
 *   { type: "event", hash }                               an EPCIS event document by event hash
 *   { type: "list", scope: { kind: "events", since? } }   events that concern the caller
 *   { type: "statement", certificate }                    the revocation statement of a certificate
 *       this node's organisation issued (the chain holds its keccak-256): a statement is meant for
 *       everyone relying on the certificate, so any member may ask
 *
 * Answers: the data, or a typed refusal `{ error, detail }` (RefusalCode).
 */
import type { Libp2p, Stream } from "@libp2p/interface";
import * as lp from "it-length-prefixed";
import type { RefusalCode } from "../../lib/errors.ts";
import type { Reading } from "../../lib/reading.ts";
import type { ScopeKind } from "../../lib/registry.ts";
import type { ReadingProof, ReadingRangeProof } from "../../lib/verify-reading.ts";

export const FETCH_PROTOCOL = "/tracemesh/fetch/2.0.0";
/** The JSON-only wire before 2.0.0, still served (not asked in). */
export const FETCH_PROTOCOL_V1 = "/tracemesh/fetch/1.1.0";
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_READINGS = 10_000;
/** Largest request frame a server reads (a request is a few hundred bytes; answers may be up to maxFrameBytes). */
export const MAX_REQUEST_BYTES = 16 * 1024;
/** Requests one connection may have in progress at once (each may hold an answer of up to maxFrameBytes). */
export const DEFAULT_MAX_INBOUND_STREAMS = 4;
const MAX_STREAM_ID = 255;

/**
 * The refusals a peer answers with: the p2p column of the one error catalogue (lib/errors.ts),
 * so a refusal and the gateway's problem for the same fault share one code.
 *   not-member   the caller's peer id is not registered to an active organisation
 *   not-granted  no live grant covers what was asked
 *   not-found    this node holds no such document
 *   bad-request  malformed or unsupported request
 *   too-large    request or answer exceeds the frame limit
 *   unsupported  this node does not serve that kind of data
 *   unavailable  this node cannot answer now (e.g. the chain is unreachable)
 */
export type { RefusalCode };

export interface Refusal {
  error: RefusalCode;
  detail: string;
}

/** Under which grant data was handed out (absent when the caller owns it). */
export interface GrantRef {
  /** AccessGrants grant id: grantIdOf(owner, grantee, scopeKey). */
  id: string;
  scopeKey: string;
  kind: ScopeKind;
}

/** Readings with one range proof: a whole run of one stream in one window (complete by proof). */
export interface RunItem {
  kind: "run";
  readings: Reading[];
  proof: ReadingRangeProof;
  /** The anchoring transaction, when the serving node saw it confirmed. */
  tx?: string;
}

/** One reading with its own proof. */
export interface OneItem {
  kind: "one";
  reading: Reading;
  proof: ReadingProof;
  tx?: string;
}

export type ReadingItem = RunItem | OneItem;

/** A window of one stream that the node holds (anchored). */
export interface WindowSummary {
  node: string;
  sequence: number;
  fromTimeMs: number;
  toTimeMs: number;
  /** Readings of the stream in the window. */
  count: number;
  tx?: string;
}

export interface ReadingQuery {
  stream: string;
  from: number;
  to: number;
  afterSeq: number;
  limit: number;
  /** Every reading with its own proof (no run proofs): the asker hands proofs on one by one. */
  each?: boolean;
}

/** An EPCIS event that concerns a partner, as listed to it. */
export interface EventSummary {
  hash: string;
  /** When this node announced it (Unix ms): the cursor for `since`. */
  at: number;
}

export type FetchRequest =
  | { v: 1; type: "readings"; stream: string; from: number; to: number; afterSeq?: number; limit?: number; event?: string }
  | { v: 1; type: "list"; scope: ListScope }
  | { v: 1; type: "event"; hash: string }
  | { v: 1; type: "statement"; certificate: string };

export type ListScope = { kind: "stream"; stream: string } | { kind: "streams" } | { kind: "events"; since?: number };

export type FetchResponse =
  | { type: "readings"; items: ReadingItem[]; more: boolean; grant?: GrantRef }
  | { type: "windows"; windows: WindowSummary[] }
  | { type: "streams"; streams: string[] }
  | { type: "events"; events: EventSummary[] }
  | { type: "event"; document: unknown; grant?: GrantRef }
  | { type: "statement"; text: string }
  | Refusal;

export type Answer = Exclude<FetchResponse, Refusal>;

export interface ProtocolLimits {
  maxFrameBytes?: number;
  timeoutMs?: number;
}

/** AccessGrants' grant id for (owner, grantee, scopeKey), computed as the contract does. */
export { grantIdOf } from "../../lib/access.ts";

// ---------------------------------------------------------------------------------- framing

export async function readFrame(stream: Stream, maxFrameBytes: number): Promise<Uint8Array> {
  for await (const frame of lp.decode(stream, { maxDataLength: maxFrameBytes })) return frame.subarray();
  throw new Error("stream ended before a complete frame");
}

export async function writeFrame(stream: Stream, payload: Uint8Array, maxFrameBytes: number): Promise<void> {
  if (!stream.send(lp.encode.single(payload, { maxDataLength: maxFrameBytes }))) await stream.onDrain();
}

// Buffer's native UTF-8 encoder: ethers' toUtf8Bytes walks a multi-megabyte answer char by char.
export const encodeJson = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value), "utf8");
export const decodeJson = (bytes: Uint8Array): unknown => JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));

/** Runs `work` on `stream`, aborting the stream when it takes longer than `timeoutMs`. */
export async function withTimeout<T>(stream: Stream, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  const timer = setTimeout(() => stream.abort(new Error(`${stream.protocol ?? "stream"} timed out after ${timeoutMs} ms`)), timeoutMs);
  try {
    return await work();
  } finally {
    clearTimeout(timer);
  }
}

/** A request as a server receives it: the decoded JSON, or why it could not be read or decoded. */
export type ReceivedRequest = { value: unknown } | { error: unknown };

/**
 * Serves `protocols` the way every Tracemesh request protocol is served: one request frame in (at
 * most `maxRequestBytes`), one answer frame out (at most `maxAnswerBytes`), all within
 * `timeoutMs`. `answer` turns the request into the answer's bytes, refusals included; a stream
 * that fails anyway (timeout, reset, an answer too large to write) is aborted and reported.
 */
export async function serveRequests(
  host: Pick<Libp2p, "handle">,
  protocols: string | string[],
  o: { maxRequestBytes: number; maxAnswerBytes: number; timeoutMs: number; maxInboundStreams: number; onError?: (err: unknown) => void },
  answer: (request: ReceivedRequest, peer: string, stream: Stream) => Promise<Uint8Array>,
): Promise<void> {
  await host.handle(
    protocols,
    async (stream, connection) => {
      try {
        await withTimeout(stream, o.timeoutMs, async () => {
          let request: ReceivedRequest;
          try {
            request = { value: decodeJson(await readFrame(stream, o.maxRequestBytes)) };
          } catch (error) {
            request = { error };
          }
          await writeFrame(stream, await answer(request, connection.remotePeer.toString(), stream), o.maxAnswerBytes);
          await stream.close();
        });
      } catch (e) {
        o.onError?.(e);
        stream.abort(e as Error);
      }
    },
    { maxInboundStreams: o.maxInboundStreams },
  );
}

// ---------------------------------------------------------------------------------- requests

export const isTime = (t: unknown): t is number => Number.isSafeInteger(t) && (t as number) >= 0;
export const isStreamId = (s: unknown): s is string => typeof s === "string" && s.length > 0 && Buffer.byteLength(s, "utf8") <= MAX_STREAM_ID;
/** A CBV 2.0 hash ID, or the record hash (bytes32) the chain holds for an event or error declaration. */
export const isEventHash = (h: unknown): h is string => typeof h === "string" && (/^ni:\/\/\/sha-256;[0-9a-f]{64}\?ver=CBV2\.0$/.test(h) || /^0x[0-9a-f]{64}$/.test(h));

/** The request, or a reason it is malformed. */
export function parseRequest(value: unknown): FetchRequest | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "request is not an object";
  const r = value as Record<string, unknown>;
  if (r.v !== 1) return `unsupported request version ${String(r.v)}`;
  switch (r.type) {
    case "readings": {
      if (!isStreamId(r.stream)) return `stream must be a stream id of 1 to ${MAX_STREAM_ID} bytes`;
      if (!isTime(r.from) || !isTime(r.to) || r.to <= r.from) return "from and to must be Unix ms with from < to";
      if (r.afterSeq !== undefined && !isTime(r.afterSeq)) return "afterSeq must be a sequence number";
      if (r.limit !== undefined && !(Number.isSafeInteger(r.limit) && (r.limit as number) > 0)) return "limit must be a positive integer";
      if (r.event !== undefined && !isEventHash(r.event)) return "event must be a CBV 2.0 event hash ID or a record hash (0x + 64 hex)";
      return {
        v: 1,
        type: "readings",
        stream: r.stream,
        from: r.from,
        to: r.to,
        ...(r.afterSeq !== undefined ? { afterSeq: r.afterSeq as number } : {}),
        ...(r.limit !== undefined ? { limit: r.limit as number } : {}),
        ...(r.event !== undefined ? { event: r.event as string } : {}),
      };
    }
    case "list": {
      const s = r.scope as Record<string, unknown> | undefined;
      if (typeof s !== "object" || s === null) return "list needs a scope";
      if (s.kind === "streams") return { v: 1, type: "list", scope: { kind: "streams" } };
      if (s.kind === "stream") {
        if (!isStreamId(s.stream)) return `scope.stream must be a stream id of 1 to ${MAX_STREAM_ID} bytes`;
        return { v: 1, type: "list", scope: { kind: "stream", stream: s.stream } };
      }
      if (s.kind === "events") {
        if (s.since !== undefined && !isTime(s.since)) return "scope.since must be Unix ms";
        return { v: 1, type: "list", scope: { kind: "events", ...(s.since !== undefined ? { since: s.since as number } : {}) } };
      }
      return `unknown list scope ${String(s.kind)}`;
    }
    case "event":
      if (!isEventHash(r.hash)) return "hash must be a CBV 2.0 event hash ID (ni:///sha-256;<64 hex>?ver=CBV2.0) or a record hash (0x + 64 hex)";
      return { v: 1, type: "event", hash: r.hash };
    case "statement":
      if (typeof r.certificate !== "string" || !/^0x[0-9a-f]{64}$/.test(r.certificate)) return "certificate must be a certificate id (0x + 64 lowercase hex)";
      return { v: 1, type: "statement", certificate: r.certificate };
    default:
      return `unknown request type ${String(r.type)}`;
  }
}
