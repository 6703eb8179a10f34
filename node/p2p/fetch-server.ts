/**
 * The serving end of the fetch protocol (protocol.ts): answers a partner's requests for this
 * node's own readings and event documents.
 *
 * The caller's organisation is the one Consortium registers the remote peer id to (proven
 * by the Noise handshake, never taken from the request). It is answered only when lib/access.ts
 * allows it for this node's organisation's data (AccessGrants on chain, cached, invalidated on
 * grant events); the answer names the grant it was given under. Readings asked for by an event
 * (`event` in the request) are decided by who may read that event, within what it binds. What
 * each answer hands out is told to `onRead` once per answer (one entry in the owner's access log
 * for a document, or for a page of readings), before the answer leaves.
 *
 * Limits per connection: requests of at most MAX_REQUEST_BYTES, DEFAULT_MAX_INBOUND_STREAMS at a
 * time, each answer at most `maxFrameBytes`.
 */
import type { Libp2p } from "@libp2p/interface";
import { type AccessChecker, type AccessDecision, mayReadStream } from "../../lib/access.ts";
import type { AccessSubject } from "../../lib/api/access-log.ts";
import type { ReadingBinding } from "../../lib/epcis/readings.ts";
import { readingLeafHash } from "../../lib/canonical-reading.ts";
import { TracemeshError } from "../../lib/errors.ts";
import {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_INBOUND_STREAMS,
  DEFAULT_MAX_READINGS,
  DEFAULT_TIMEOUT_MS,
  type EventSummary,
  FETCH_PROTOCOL,
  FETCH_PROTOCOL_V1,
  type FetchRequest,
  type FetchResponse,
  type GrantRef,
  MAX_REQUEST_BYTES,
  type ProtocolLimits,
  type ReadingItem,
  type ReadingQuery,
  type Refusal,
  type WindowSummary,
  encodeJson,
  grantIdOf,
  parseRequest,
  serveRequests,
} from "./protocol.ts";
import { encodeAnswer } from "./wire.ts";

/** Where the server reads its own readings (node/p2p/ingest-source.ts over the ingest store). */
export interface ReadingSource {
  /** Anchored readings matching `q`, oldest first, at most `q.limit` readings. */
  readings(q: ReadingQuery): Promise<{ items: ReadingItem[]; more: boolean }>;
  /** The anchored windows holding readings of `stream`. */
  windows(stream: string): Promise<WindowSummary[]>;
  /** Every stream the node holds anchored readings of. */
  streams(): Promise<string[]>;
}

/** An own event as the server hands it out. */
export interface ServedDocument {
  document: unknown;
  recordHash: string;
  eventID?: string;
  mayRead(grantee: number): Promise<AccessDecision>;
  /** The readings the event binds (lib/epcis/readings.ts); throws for a malformed binding. */
  bindings(): ReadingBinding[];
}

/** Where the server reads its own EPCIS event documents (node/p2p/documents.ts). */
export interface DocumentSource {
  /** The own event a CBV 2.0 hash ID (or a record hash) names, as it travels, and who may read it. */
  get(hash: string): Promise<ServedDocument | undefined>;
  /** Events this node announced to `grantee` after `since`, oldest first. */
  concerning(grantee: number, since: number, limit: number): Promise<EventSummary[]>;
}

/**
 * The grant an answer was given under. Its kind is read from the grant itself: the decision only
 * infers it (a stale cached "no" next to a fresh "yes" would otherwise name the wrong kind).
 */
export async function grantRefOf(access: AccessChecker, decision: AccessDecision, owner: number, grantee: number): Promise<GrantRef | undefined> {
  if (!decision.allowed || decision.via !== "grant") return undefined;
  const kind = (await access.grantKind(owner, grantee, decision.scopeKey)) ?? decision.kind;
  return { id: grantIdOf(owner, grantee, decision.scopeKey), scopeKey: decision.scopeKey, kind };
}

export interface FetchServerOptions extends ProtocolLimits {
  /** The active organisation a peer id is registered to, or 0 (MembershipGate.orgOf). */
  orgOf(peerId: string): Promise<number>;
  access: AccessChecker;
  /** The organisation owning the data this node serves (its own). */
  ownerOrg: number;
  readings?: ReadingSource;
  documents?: DocumentSource;
  /** The revocation statements this node's organisation made as an issuer (node/certificates/statements.ts). */
  statements?: { get(certificateId: string): Promise<string | undefined> };
  /** Most readings in one answer; a client pages with `afterSeq` and `more`. */
  maxReadings?: number;
  /** Most requests served at once per connection. */
  maxInboundStreams?: number;
  /** Told, once per answer, what it hands out with the decision that allowed each (the owner's access log); the answer waits for it. */
  onRead?: (reader: number, reads: readonly { subject: AccessSubject; decision: AccessDecision }[]) => Promise<void>;
  /** Told about every answer (for logs and status). */
  onServed?: (peer: string, request: FetchRequest | undefined, response: FetchResponse) => void;
  onError?: (err: unknown) => void;
}

/** Registers the fetch protocol's handler on `host`. */
export async function serveFetch(host: Libp2p, options: FetchServerOptions): Promise<void> {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxRequestBytes = Math.min(maxFrameBytes, MAX_REQUEST_BYTES);
  const limits = { maxRequestBytes, maxAnswerBytes: maxFrameBytes, timeoutMs, maxInboundStreams: options.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS, onError: options.onError };
  await serveRequests(host, [FETCH_PROTOCOL, FETCH_PROTOCOL_V1], limits, async (received, peer, stream) => {
    // 2.0.0 answers in tagged frames (readings in binary, wire.ts); 1.1.0 in plain JSON.
    const encode = stream.protocol === FETCH_PROTOCOL_V1 ? (r: FetchResponse) => encodeJson(withLeafHashes(r)) : encodeAnswer;
    let response: FetchResponse;
    let request: FetchRequest | undefined;
    try {
      if ("error" in received) throw received.error;
      const parsed = parseRequest(received.value);
      if (typeof parsed === "string") response = { error: "bad-request", detail: parsed };
      else {
        request = parsed;
        response = await answer(parsed, peer, options);
      }
    } catch (e) {
      response = refusalFor(e, maxRequestBytes, options);
    }
    let bytes = encode(response);
    if (bytes.length > maxFrameBytes) {
      response = { error: "too-large", detail: `the answer exceeds ${maxFrameBytes} bytes: ask for a shorter range or a lower limit` };
      bytes = encode(response);
    }
    options.onServed?.(peer, request, response);
    return bytes;
  });
}

/**
 * The answer with every run's committed leaf hashes, which 1.1.0 clients require (the 2.0.0 wire
 * leaves them out): recomputed from the node's own readings, salts and seqs.
 */
function withLeafHashes(response: FetchResponse): FetchResponse {
  if (!("type" in response) || response.type !== "readings") return response;
  const items = response.items.map((item): ReadingItem => {
    if (item.kind !== "run" || item.proof.leafHashes !== undefined) return item;
    const leafHashes = item.readings.map((r, k) => "0x" + readingLeafHash(r, item.proof.seqs[k]!, Buffer.from(item.proof.salts[k]!.slice(2), "hex")).toString("hex"));
    return { ...item, proof: { ...item.proof, leafHashes } };
  });
  return { ...response, items };
}

function refusalFor(e: unknown, maxFrameBytes: number, o: FetchServerOptions): Refusal {
  const name = (e as Error)?.name;
  if (name === "InvalidDataLengthError") return { error: "too-large", detail: `request frame exceeds ${maxFrameBytes} bytes` };
  if (e instanceof SyntaxError || e instanceof TypeError) return { error: "bad-request", detail: "request is not UTF-8 JSON" };
  // An error raised on purpose refuses with its catalogue code's refusal (lib/errors.ts).
  if (e instanceof TracemeshError && e.code !== "internal") return { error: e.spec.refusal, detail: e.message };
  o.onError?.(e);
  return { error: "unavailable", detail: `the node cannot answer now: ${(e as Error)?.message ?? String(e)}` };
}

async function answer(request: FetchRequest, peer: string, o: FetchServerOptions): Promise<FetchResponse> {
  const callerOrg = await o.orgOf(peer);
  if (callerOrg === 0) return { error: "not-member", detail: `peer ${peer} is not registered to an active member organisation` };
  const notGranted = (what: string): Refusal => ({ error: "not-granted", detail: `organisation ${callerOrg} holds no grant from organisation ${o.ownerOrg} for ${what}` });

  if (request.type === "event") {
    if (!o.documents) return { error: "unsupported", detail: "this node serves no event documents" };
    const found = await o.documents.get(request.hash);
    if (found === undefined) return { error: "not-found", detail: `this node holds no event ${request.hash} of its own` };
    const decision = await found.mayRead(callerOrg);
    if (!decision.allowed) return notGranted(`every item and lot event ${request.hash} names`);
    const grant = await grantRefOf(o.access, decision, o.ownerOrg, callerOrg);
    await o.onRead?.(callerOrg, [{ subject: { kind: "document", eventHash: found.recordHash, ...(found.eventID ? { eventID: found.eventID } : {}) }, decision }]);
    return { type: "event", document: found.document, ...(grant ? { grant } : {}) };
  }

  if (request.type === "statement") {
    // Public within the consortium: whoever relies on the certificate must be able to read why it
    // was revoked. The asker checks the text against the hash the chain records.
    const text = await o.statements?.get(request.certificate);
    if (text === undefined) return { error: "not-found", detail: `this node keeps no statement for certificate ${request.certificate}` };
    return { type: "statement", text };
  }

  if (request.type === "list") {
    const scope = request.scope;
    if (scope.kind === "events") {
      if (!o.documents) return { error: "unsupported", detail: "this node serves no event documents" };
      return { type: "events", events: await o.documents.concerning(callerOrg, scope.since ?? 0, o.maxReadings ?? DEFAULT_MAX_READINGS) };
    }
    if (!o.readings) return { error: "unsupported", detail: "this node serves no readings" };
    if (scope.kind === "streams") {
      const visible: string[] = [];
      for (const stream of await o.readings.streams()) {
        if ((await mayReadStream(o.access, callerOrg, o.ownerOrg, stream, 0, Number.MAX_SAFE_INTEGER)).allowed) visible.push(stream);
      }
      return { type: "streams", streams: visible };
    }
    // Listing a stream's windows needs a grant on the whole stream.
    if (!(await mayReadStream(o.access, callerOrg, o.ownerOrg, scope.stream, 0, Number.MAX_SAFE_INTEGER)).allowed) {
      return notGranted(`the whole of stream ${scope.stream}`);
    }
    return { type: "windows", windows: await o.readings.windows(scope.stream) };
  }

  if (!o.readings) return { error: "unsupported", detail: "this node serves no readings" };
  let decision: AccessDecision;
  let subject: AccessSubject;
  if (request.event !== undefined) {
    // Readings of an event: whoever may read the event may read what it binds, and nothing more.
    if (!o.documents) return { error: "unsupported", detail: "this node serves no event documents" };
    const found = await o.documents.get(request.event);
    if (found === undefined) return { error: "not-found", detail: `this node holds no event ${request.event} of its own` };
    let bindings: ReadingBinding[];
    try {
      bindings = found.bindings();
    } catch (e) {
      return { error: "not-found", detail: `event ${request.event} binds no readings: ${(e as Error).message}` };
    }
    if (!bindings.some((b) => b.stream === request.stream && b.from <= request.from && request.to <= b.to)) {
      return { error: "not-granted", detail: `event ${request.event} binds no readings of stream ${request.stream} over [${request.from}, ${request.to})` };
    }
    decision = await found.mayRead(callerOrg);
    if (!decision.allowed) return notGranted(`every item and lot event ${request.event} names`);
    subject = { kind: "readings", eventHash: found.recordHash, ...(found.eventID ? { eventID: found.eventID } : {}), streams: [request.stream] };
  } else {
    decision = await mayReadStream(o.access, callerOrg, o.ownerOrg, request.stream, request.from, request.to);
    if (!decision.allowed) return notGranted(`stream ${request.stream} over [${request.from}, ${request.to})`);
    subject = { kind: "stream", stream: request.stream, fromMs: request.from, toMs: request.to };
  }
  const limit = Math.min(request.limit ?? Infinity, o.maxReadings ?? DEFAULT_MAX_READINGS);
  const query = { stream: request.stream, from: request.from, to: request.to, afterSeq: request.afterSeq ?? 0, limit, ...(request.event !== undefined ? { each: true } : {}) };
  const { items, more } = await o.readings.readings(query);
  const grant = await grantRefOf(o.access, decision, o.ownerOrg, callerOrg);
  if (items.length > 0) await o.onRead?.(callerOrg, [{ subject, decision }]);
  return { type: "readings", items, more, ...(grant ? { grant } : {}) };
}
