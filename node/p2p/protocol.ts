/**
 * `/tracemesh/fetch/1.1.0`: a partner's node asks this node for data it owns, and gets it with
 * what is needed to check every item against the chain (DESIGN.md, principle 2).
 *
 * Framing: one request and one response per libp2p stream, each one length-prefixed (unsigned
 * varint) frame of UTF-8 JSON, at most `maxFrameBytes`. Either side gives up after `timeoutMs`.
 *
 * Requests (`v: 1`):
 *   { type: "readings", stream, from, to, afterSeq?, limit? }
 *       readings of `stream` with source time in [from, to) (Unix ms) and sequence number above
 *       `afterSeq`, oldest first, at most `limit`; `more` says a next page exists (ask again with
 *       `afterSeq` = the last seq received).
 *   { type: "list", scope: { kind: "stream", stream } }   anchored windows held of the stream
 *   { type: "list", scope: { kind: "streams" } }          streams the caller holds a grant for
 *   { type: "event", hash }                               an EPCIS event document by event hash
 *   { type: "list", scope: { kind: "events", since? } }   events that concern the caller
 *
 * Answers: the data, or a typed refusal `{ error, detail }` (RefusalCode).
 *
 * Server: the caller's organisation is the one Consortium registers the remote peer id to (proven
 * by the Noise handshake, never taken from the request). It is answered only when lib/access.ts
 * allows it for this node's organisation's data (AccessGrants on chain, cached, invalidated on
 * grant events); the answer names the grant it was given under.
 *
 * Client: every reading is checked with lib/verify-reading.ts against the anchor DataAnchors
 * holds, the anchor must belong to the serving peer's organisation, and every reading must be of
 * the requested stream, time range and page. Every document must hash (CBV 2.0,
 * lib/epcis/event-hash.ts) to the requested hash, recorded on Provenance by the serving peer's
 * organisation. One bad item rejects the whole answer; nothing of it is stored.
 */
import type { Libp2p, PeerId, Stream } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { AbiCoder, keccak256 } from "ethers";
import * as lp from "it-length-prefixed";
import { type AccessChecker, type AccessDecision, mayReadStream, streamScopeKey } from "../../lib/access.ts";
import type { Reading } from "../../lib/reading.ts";
import { ScopeKind } from "../../lib/registry.ts";
import {
  type AnchorRecord,
  type AnchorView,
  type ReadingProof,
  type ReadingRangeProof,
  type VerifyFailureReason,
  type VerifyOptions,
  cachedAnchorView,
  contractAnchorView,
  verifyReading,
  verifyReadingRange,
} from "../../lib/verify-reading.ts";

export const FETCH_PROTOCOL = "/tracemesh/fetch/1.1.0";
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_READINGS = 10_000;
/** Largest request frame a server reads (a request is a few hundred bytes; answers may be up to maxFrameBytes). */
export const MAX_REQUEST_BYTES = 16 * 1024;
/** Requests one connection may have in progress at once (each may hold an answer of up to maxFrameBytes). */
export const DEFAULT_MAX_INBOUND_STREAMS = 4;
const MAX_STREAM_ID = 255;

export type RefusalCode =
  | "not-member" // the caller's peer id is not registered to an active organisation
  | "not-granted" // no live grant covers what was asked
  | "not-found" // this node holds no such document
  | "bad-request" // malformed or unsupported request
  | "too-large" // request or answer exceeds the frame limit
  | "unsupported" // this node does not serve that kind of data
  | "unavailable"; // this node cannot answer now (e.g. the chain is unreachable)

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
}

/** Where the server reads its own readings (node/p2p/ingest-source.ts over the ingest store). */
export interface ReadingSource {
  /** Anchored readings matching `q`, oldest first, at most `q.limit` readings. */
  readings(q: ReadingQuery): Promise<{ items: ReadingItem[]; more: boolean }>;
  /** The anchored windows holding readings of `stream`. */
  windows(stream: string): Promise<WindowSummary[]>;
  /** Every stream the node holds anchored readings of. */
  streams(): Promise<string[]>;
}

/** An EPCIS event that concerns a partner, as listed to it. */
export interface EventSummary {
  hash: string;
  /** When this node announced it (Unix ms): the cursor for `since`. */
  at: number;
}

/** Where the server reads its own EPCIS event documents (node/p2p/documents.ts). */
export interface DocumentSource {
  /** The own event a CBV 2.0 hash ID (or a record hash) names, as it travels, and who may read it. */
  get(hash: string): Promise<{ document: unknown; mayRead(grantee: number): Promise<AccessDecision> } | undefined>;
  /** Events this node announced to `grantee` after `since`, oldest first. */
  concerning(grantee: number, since: number, limit: number): Promise<EventSummary[]>;
}

export type FetchRequest =
  | { v: 1; type: "readings"; stream: string; from: number; to: number; afterSeq?: number; limit?: number }
  | { v: 1; type: "list"; scope: ListScope }
  | { v: 1; type: "event"; hash: string };

export type ListScope = { kind: "stream"; stream: string } | { kind: "streams" } | { kind: "events"; since?: number };

export type FetchResponse =
  | { type: "readings"; items: ReadingItem[]; more: boolean; grant?: GrantRef }
  | { type: "windows"; windows: WindowSummary[] }
  | { type: "streams"; streams: string[] }
  | { type: "events"; events: EventSummary[] }
  | { type: "event"; document: unknown; grant?: GrantRef }
  | Refusal;

type Answer = Exclude<FetchResponse, Refusal>;

export interface ProtocolLimits {
  maxFrameBytes?: number;
  timeoutMs?: number;
}

/** AccessGrants' grant id for (owner, grantee, scopeKey), computed as the contract does. */
export const grantIdOf = (owner: number, grantee: number, scopeKey: string): string =>
  keccak256(AbiCoder.defaultAbiCoder().encode(["uint32", "uint32", "bytes32"], [owner, grantee, scopeKey]));

/**
 * The grant an answer was given under. Its kind is read from the grant itself: the decision only
 * infers it (a stale cached "no" next to a fresh "yes" would otherwise name the wrong kind).
 */
export async function grantRefOf(access: AccessChecker, decision: AccessDecision, owner: number, grantee: number): Promise<GrantRef | undefined> {
  if (!decision.allowed || decision.via !== "grant") return undefined;
  const kind = (await access.grantKind(owner, grantee, decision.scopeKey)) ?? decision.kind;
  return { id: grantIdOf(owner, grantee, decision.scopeKey), scopeKey: decision.scopeKey, kind };
}

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

// ---------------------------------------------------------------------------------- requests

const isTime = (t: unknown): t is number => Number.isSafeInteger(t) && (t as number) >= 0;
const isStreamId = (s: unknown): s is string => typeof s === "string" && s.length > 0 && Buffer.byteLength(s, "utf8") <= MAX_STREAM_ID;
/** A CBV 2.0 hash ID, or the record hash (bytes32) the chain holds for an event or error declaration. */
const isEventHash = (h: unknown): h is string => typeof h === "string" && (/^ni:\/\/\/sha-256;[0-9a-f]{64}\?ver=CBV2\.0$/.test(h) || /^0x[0-9a-f]{64}$/.test(h));

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
      return {
        v: 1,
        type: "readings",
        stream: r.stream,
        from: r.from,
        to: r.to,
        ...(r.afterSeq !== undefined ? { afterSeq: r.afterSeq as number } : {}),
        ...(r.limit !== undefined ? { limit: r.limit as number } : {}),
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
    default:
      return `unknown request type ${String(r.type)}`;
  }
}

// ---------------------------------------------------------------------------------- server

export interface FetchServerOptions extends ProtocolLimits {
  /** The active organisation a peer id is registered to, or 0 (MembershipGate.orgOf). */
  orgOf(peerId: string): Promise<number>;
  access: AccessChecker;
  /** The organisation owning the data this node serves (its own). */
  ownerOrg: number;
  readings?: ReadingSource;
  documents?: DocumentSource;
  /** Most readings in one answer; a client pages with `afterSeq` and `more`. */
  maxReadings?: number;
  /** Most requests served at once per connection. */
  maxInboundStreams?: number;
  /** Told about every answer (for logs and status). */
  onServed?: (peer: string, request: FetchRequest | undefined, response: FetchResponse) => void;
  onError?: (err: unknown) => void;
}

/** Registers the fetch protocol's handler on `host`. */
export async function serveFetch(host: Libp2p, options: FetchServerOptions): Promise<void> {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  await host.handle(
    FETCH_PROTOCOL,
    async (stream, connection) => {
      const peer = connection.remotePeer.toString();
      try {
        await withTimeout(stream, timeoutMs, async () => {
          let response: FetchResponse;
          let request: FetchRequest | undefined;
          try {
            const raw = decodeJson(await readFrame(stream, Math.min(maxFrameBytes, MAX_REQUEST_BYTES)));
            const parsed = parseRequest(raw);
            if (typeof parsed === "string") response = { error: "bad-request", detail: parsed };
            else {
              request = parsed;
              response = await answer(parsed, peer, options);
            }
          } catch (e) {
            response = refusalFor(e, Math.min(maxFrameBytes, MAX_REQUEST_BYTES), options);
          }
          let bytes = encodeJson(response);
          if (bytes.length > maxFrameBytes) {
            response = { error: "too-large", detail: `the answer exceeds ${maxFrameBytes} bytes: ask for a shorter range or a lower limit` };
            bytes = encodeJson(response);
          }
          options.onServed?.(peer, request, response);
          await writeFrame(stream, bytes, maxFrameBytes);
          await stream.close();
        });
      } catch (e) {
        options.onError?.(e);
        stream.abort(e as Error);
      }
    },
    { maxInboundStreams: options.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS },
  );
}

function refusalFor(e: unknown, maxFrameBytes: number, o: FetchServerOptions): Refusal {
  const name = (e as Error)?.name;
  if (name === "InvalidDataLengthError") return { error: "too-large", detail: `request frame exceeds ${maxFrameBytes} bytes` };
  if (e instanceof SyntaxError || e instanceof TypeError) return { error: "bad-request", detail: "request is not UTF-8 JSON" };
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
    return { type: "event", document: found.document, ...(grant ? { grant } : {}) };
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
  const decision = await mayReadStream(o.access, callerOrg, o.ownerOrg, request.stream, request.from, request.to);
  if (!decision.allowed) return notGranted(`stream ${request.stream} over [${request.from}, ${request.to})`);
  const limit = Math.min(request.limit ?? Infinity, o.maxReadings ?? DEFAULT_MAX_READINGS);
  const { items, more } = await o.readings.readings({ stream: request.stream, from: request.from, to: request.to, afterSeq: request.afterSeq ?? 0, limit });
  const grant = await grantRefOf(o.access, decision, o.ownerOrg, callerOrg);
  return { type: "readings", items, more, ...(grant ? { grant } : {}) };
}

// ---------------------------------------------------------------------------------- client

/** A peer answered with data that does not verify against the chain, or broke the protocol. */
export class PeerMisbehaviourError extends Error {
  constructor(
    readonly peer: string,
    readonly reason: string,
    /** True when the peer lied (altered or forged data); false for a protocol slip (e.g. more than the limit). */
    readonly altered = true,
  ) {
    super(`peer ${peer} sent data that fails verification: ${reason}`);
    this.name = "PeerMisbehaviourError";
  }
}

/** A peer refused the request. */
export class FetchRefusedError extends Error {
  constructor(
    readonly peer: string,
    readonly refusal: Refusal,
  ) {
    super(`peer ${peer} refused: ${refusal.error}: ${refusal.detail}`);
    this.name = "FetchRefusedError";
  }
  get code(): RefusalCode {
    return this.refusal.error;
  }
}

/**
 * A window's readings that are the owner's own (the proof leads to its anchor) but do not verify
 * for a reason the serving peer could not have avoided: the owner anchored the window late, or
 * committed receive times outside it. Recorded with the reason and skipped; nobody is banned.
 */
export interface UnverifiableItem {
  node: string;
  window: number;
  reason: VerifyFailureReason;
  detail: string;
  /** The readings' sequence numbers, first and last. */
  firstSeq: number;
  lastSeq: number;
}

/** Readings received from a peer, every one verified. */
export interface VerifiedReadings {
  peer: string;
  /** The data owner: the serving peer's organisation. */
  ownerOrg: number;
  stream: string;
  /** Verified items only. */
  items: ReadingItem[];
  more: boolean;
  grant?: GrantRef;
  /** Highest sequence number received or skipped as unverifiable (the next page's afterSeq), or the request's afterSeq. */
  lastSeq: number;
  count: number;
  /** Items of the answer that cannot be verified for an honest reason (skipped, not stored). */
  unverifiable: UnverifiableItem[];
  /**
   * Set when the answer stopped being taken at a window this node's chain does not show anchored
   * yet (its view may lag the peer's): the items from there on are left for a later fetch.
   */
  pending?: string;
}

/** An event document received from a peer, verified against its hash and Provenance. */
export interface VerifiedEvent {
  peer: string;
  ownerOrg: number;
  hashId: string;
  recordHash: string;
  document: unknown;
  /** The Provenance record carrying the record hash, and its kind's name. */
  recordId: bigint;
  recordKind: string;
  grant?: GrantRef;
}

/** What the client checks documents against (lib/epcis and Provenance; node/p2p/documents.ts). */
export interface EventVerifier {
  /** The CBV 2.0 hash ID and on-chain record hash of a document (throws for a malformed one). */
  identitiesOf(document: unknown): { hashId: string; recordHash: string };
  /**
   * The fields whose omission from the hash would explain a document hashing to something other
   * than `requested` (the sender's copy lost its ignoreFields: a mismatch it could not avoid).
   */
  ignoredFieldsExplaining?(document: unknown, requested: string): string[] | undefined;
  /** The Provenance record carrying `recordHash`, with the organisation that wrote it, or undefined. */
  recordOf(recordHash: string): Promise<{ recordId: bigint; orgId: number; kind: string } | undefined>;
}

export interface FetchClientOptions extends ProtocolLimits {
  /** This node's organisation (the grantee of what it fetches). */
  selfOrg: number;
  /** The active organisation a peer id is registered to, or 0. */
  orgOf(peerId: string): Promise<number>;
  /** DataAnchors, with the organisation of each anchor (see `orgAnchorView`). */
  anchors: OrgAnchorView;
  events?: EventVerifier;
  verify?: VerifyOptions;
  /**
   * Where verified readings go; called once per answer that holds readings or unverifiable items,
   * only when none of it is a lie.
   */
  storeReadings?: (batch: VerifiedReadings) => Promise<void>;
  storeEvent?: (event: VerifiedEvent) => Promise<void>;
  /** Told about every peer caught sending data that fails verification. */
  onMisbehaviour?: (peer: string, reason: string, altered: boolean) => void;
  /** Told how long verification took, ms (for the benchmark's share of time). */
  onVerified?: (ms: number, readings: number) => void;
  /** Told the size of every answer frame received, bytes. */
  onBytes?: (bytes: number) => void;
}

/** An AnchorView that also knows which organisation anchored each window. */
export interface OrgAnchorView extends AnchorView {
  orgOfAnchor(node: string, sequence: number): Promise<number | undefined>;
}

/** The part of DataAnchors the client reads (a typechain DataAnchors fits). */
export interface AnchorsContract {
  getAnchor(node: string, sequence: bigint): Promise<AnchorRecord & { orgId: bigint | number }>;
}

/**
 * An OrgAnchorView over DataAnchors, through lib/verify-reading.ts's view (AnchorNotFound is
 * undefined, anchors are memoised: they never change once on chain).
 */
export function orgAnchorView(contract: AnchorsContract): OrgAnchorView {
  const orgs = new Map<string, number>();
  const key = (node: string, sequence: bigint) => `${node.toLowerCase()}:${sequence}`;
  const view = cachedAnchorView(
    contractAnchorView({
      async getAnchor(node, sequence) {
        const a = await contract.getAnchor(node, sequence);
        if (orgs.size >= 100_000) orgs.clear();
        orgs.set(key(node, sequence), Number(a.orgId));
        return a;
      },
    }),
  );
  return {
    getAnchor: (node, sequence) => view.getAnchor(node, sequence),
    async orgOfAnchor(node, sequence) {
      if ((await view.getAnchor(node, BigInt(sequence))) === undefined) return undefined;
      return orgs.get(key(node, BigInt(sequence)));
    },
  };
}

/** The peer id a dial target names; a multiaddr must end in /p2p/<id> (whose org is checked). */
export function peerString(peer: PeerId | Multiaddr): string {
  if (!("getComponents" in peer)) return peer.toString();
  const id = peer.getComponents().findLast((c) => c.name === "p2p")?.value;
  if (id === undefined) throw new RangeError(`multiaddr ${peer.toString()} names no peer id (/p2p/...)`);
  return id;
}

/**
 * Verification failures that show the serving node altered or forged data. The others are the
 * owner's own commitment failing a time check (anchored late, receive time outside the window),
 * which resending cannot mend, or a window this node's chain does not show yet.
 */
const LIES: readonly VerifyFailureReason[] = ["reading-altered", "proof-invalid"];

export class FetchClient {
  private readonly maxFrameBytes: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly host: Libp2p,
    private readonly options: FetchClientOptions,
  ) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Sends one request and returns the peer's raw answer (refusals included). */
  async request(peer: PeerId | Multiaddr, request: FetchRequest): Promise<FetchResponse> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    const stream = await this.host.dialProtocol(peer, FETCH_PROTOCOL, { signal });
    return withTimeout(stream, this.timeoutMs, async () => {
      await writeFrame(stream, encodeJson(request), this.maxFrameBytes);
      await stream.close(); // our half: the request is complete
      const frame = await readFrame(stream, this.maxFrameBytes);
      this.options.onBytes?.(frame.length);
      return decodeJson(frame) as FetchResponse;
    });
  }

  private async ask<T extends Answer["type"]>(peer: PeerId | Multiaddr, request: FetchRequest, type: T): Promise<{ peerStr: string; res: Extract<Answer, { type: T }> }> {
    const peerStr = peerString(peer);
    const res = await this.request(peer, request);
    if (typeof res !== "object" || res === null) throw this.misbehaved(peerStr, "answered with something that is not an object");
    if ("error" in res) throw new FetchRefusedError(peerStr, res);
    const answer = res as Answer;
    if (answer.type !== type) throw this.misbehaved(peerStr, `answered a ${request.type} request with ${String(answer.type)}`);
    return { peerStr, res: answer as Extract<Answer, { type: T }> };
  }

  /** The windows `peer` holds of `stream`. Throws FetchRefusedError on a refusal. */
  async listWindows(peer: PeerId | Multiaddr, stream: string): Promise<WindowSummary[]> {
    const { peerStr, res } = await this.ask(peer, { v: 1, type: "list", scope: { kind: "stream", stream } }, "windows");
    if (!Array.isArray(res.windows)) throw this.misbehaved(peerStr, "windows is not a list");
    return res.windows;
  }

  /** The streams of `peer`'s organisation this node may read. */
  async listStreams(peer: PeerId | Multiaddr): Promise<string[]> {
    const { peerStr, res } = await this.ask(peer, { v: 1, type: "list", scope: { kind: "streams" } }, "streams");
    if (!Array.isArray(res.streams) || !res.streams.every(isStreamId)) throw this.misbehaved(peerStr, "streams is not a list of stream ids");
    return res.streams;
  }

  /** Events `peer` announced to this node's organisation after `since`. */
  async listEvents(peer: PeerId | Multiaddr, since = 0): Promise<EventSummary[]> {
    const { peerStr, res } = await this.ask(peer, { v: 1, type: "list", scope: { kind: "events", since } }, "events");
    if (!Array.isArray(res.events) || !res.events.every((e) => isEventHash(e?.hash) && isTime(e.at))) {
      throw this.misbehaved(peerStr, "events is not a list of { hash, at }");
    }
    return res.events;
  }

  /**
   * Fetches, verifies and stores the readings of `stream` in [from, to) after `afterSeq` held by
   * `peer` (one page). Throws FetchRefusedError on a refusal and PeerMisbehaviourError (after
   * reporting the peer, with nothing stored) when any item is a lie: altered or forged, not the
   * serving organisation's, or not what was asked for. An item that is the owner's but does not
   * verify for an honest reason is listed in `unverifiable` and skipped; one whose window this
   * node's chain does not show anchored ends the page (`pending`).
   */
  async fetchReadings(peer: PeerId | Multiaddr, q: { stream: string; from: number; to: number; afterSeq?: number; limit?: number }): Promise<VerifiedReadings> {
    const afterSeq = q.afterSeq ?? 0;
    const request: FetchRequest = { v: 1, type: "readings", stream: q.stream, from: q.from, to: q.to, afterSeq, ...(q.limit ? { limit: q.limit } : {}) };
    const { peerStr, res } = await this.ask(peer, request, "readings");
    if (!Array.isArray(res.items)) throw this.misbehaved(peerStr, "items is not a list");
    const ownerOrg = await this.options.orgOf(peerStr);
    const t0 = performance.now();
    let lastSeq = afterSeq;
    let count = 0;
    let sent = 0;
    const items: ReadingItem[] = [];
    const unverifiable: UnverifiableItem[] = [];
    let pending: string | undefined;
    for (const [i, item] of res.items.entries()) {
      const checked = await this.verifyItem(item, ownerOrg, q.stream, q.from, q.to, lastSeq);
      if (checked.verdict === "lie") throw this.misbehaved(peerStr, `item ${i}: ${checked.why}`);
      sent += item.kind === "run" ? item.readings.length : 1;
      if (checked.verdict === "pending") {
        pending ??= checked.why; // later items may verify, but the cursor must not pass this one
        continue;
      }
      if (pending !== undefined) continue;
      if (checked.verdict === "unverifiable") unverifiable.push(checked.item);
      else {
        items.push(item);
        count += item.kind === "run" ? item.readings.length : 1;
      }
      lastSeq = checked.last;
    }
    if (q.limit !== undefined && sent > q.limit) throw this.misbehaved(peerStr, `sent ${sent} readings, the limit was ${q.limit}`, false);
    this.options.onVerified?.(performance.now() - t0, count);
    const grant = checkGrantRef(res.grant, ownerOrg, this.options.selfOrg);
    const batch: VerifiedReadings = {
      peer: peerStr,
      ownerOrg,
      stream: q.stream,
      items,
      more: res.more === true && pending === undefined,
      lastSeq,
      count,
      unverifiable,
      ...(grant ? { grant } : {}),
      ...(pending !== undefined ? { pending } : {}),
    };
    if (count > 0 || unverifiable.length > 0) await this.options.storeReadings?.(batch);
    return batch;
  }

  /**
   * Fetches the event document `hash` from `peer`, checks that it hashes to `hash` and that
   * Provenance records `hash` for the serving peer's organisation, then stores it.
   */
  async fetchEvent(peer: PeerId | Multiaddr, hash: string): Promise<VerifiedEvent> {
    const verifier = this.options.events;
    if (!verifier) throw new Error("this client has no event verifier");
    const { peerStr, res } = await this.ask(peer, { v: 1, type: "event", hash }, "event");
    const ownerOrg = await this.options.orgOf(peerStr);
    let ids: { hashId: string; recordHash: string };
    try {
      ids = verifier.identitiesOf(res.document);
    } catch (e) {
      throw this.misbehaved(peerStr, `the document is not an EPCIS event: ${(e as Error).message}`);
    }
    if (ids.hashId !== hash && ids.recordHash !== hash) {
      const mismatch = `the document hashes to ${ids.hashId} (record ${ids.recordHash}), not to the requested ${hash}`;
      const lost = verifier.ignoredFieldsExplaining?.(res.document, hash);
      // Not stored either way; but a copy that only lost its ignoreFields is no lie: reported, not banned.
      if (lost !== undefined) throw this.misbehaved(peerStr, `${mismatch}; it does when leaving out ${lost.join(", ")}: the sender's copy lacks the ignoreFields it was hashed with`, false);
      throw this.misbehaved(peerStr, mismatch);
    }
    const record = await verifier.recordOf(ids.recordHash);
    if (record === undefined) throw this.misbehaved(peerStr, `event ${ids.hashId} is not recorded on Provenance`);
    if (record.orgId !== ownerOrg) {
      throw this.misbehaved(peerStr, `event ${ids.hashId} was recorded by organisation ${record.orgId}, not by the serving peer's ${ownerOrg}`);
    }
    const grant = checkGrantRef(res.grant, ownerOrg, this.options.selfOrg);
    const verified: VerifiedEvent = {
      peer: peerStr,
      ownerOrg,
      ...ids,
      document: res.document,
      recordId: record.recordId,
      recordKind: record.kind,
      ...(grant ? { grant } : {}),
    };
    await this.options.storeEvent?.(verified);
    return verified;
  }

  private misbehaved(peer: string, reason: string, altered = true): PeerMisbehaviourError {
    this.options.onMisbehaviour?.(peer, reason, altered);
    return new PeerMisbehaviourError(peer, reason, altered);
  }

  /**
   * The verdict on one item: verified (with its last seq); unverifiable for an honest reason (the
   * proof leads to the owner's anchor, so the owner committed exactly this, but the window was
   * anchored late or its receive times lie outside it); pending (this node's chain shows no
   * anchor yet); or a lie.
   */
  private async verifyItem(item: ReadingItem, ownerOrg: number, stream: string, from: number, to: number, afterSeq: number): Promise<ItemVerdict> {
    const bad = (why: string): ItemVerdict => ({ verdict: "lie", why });
    if (typeof item !== "object" || item === null || typeof item.proof !== "object" || item.proof === null) return bad("malformed item");
    let readings: Reading[];
    let seqs: unknown[];
    if (item.kind === "run") {
      if (!Array.isArray(item.readings) || item.readings.length === 0 || !Array.isArray(item.proof.seqs)) return bad("malformed run");
      readings = item.readings;
      seqs = item.proof.seqs;
    } else if (item.kind === "one") {
      readings = [item.reading];
      seqs = [item.proof.seq];
    } else return bad("unknown item kind");
    const orgOfAnchor = await this.options.anchors.orgOfAnchor(item.proof.node, item.proof.window).catch(() => undefined);
    const result =
      item.kind === "run"
        ? await verifyReadingRange(readings, item.proof, this.options.anchors, this.options.verify)
        : await verifyReading(item.reading, item.proof, this.options.anchors, this.options.verify);
    const why = result.ok ? "" : `window ${item.proof.window} of node ${item.proof.node}: ${result.reason}: ${result.detail}`;
    if (!result.ok && LIES.includes(result.reason)) return bad(why);
    if (!result.ok && result.reason === "window-not-anchored") return { verdict: "pending", why };
    // The readings are what the anchor commits: now they must be the serving organisation's, and what was asked for.
    if (orgOfAnchor !== ownerOrg) return bad(`window ${item.proof.window} of node ${item.proof.node} was anchored by organisation ${orgOfAnchor}, not by the serving peer's ${ownerOrg}`);
    let last = afterSeq;
    for (const [k, r] of readings.entries()) {
      if (r.stream !== stream) return bad(`reading ${k} is of stream ${r.stream}, not ${stream}`);
      if (!(r.sourceTime >= from && r.sourceTime < to)) return bad(`reading ${k}: source time ${r.sourceTime} is outside [${from}, ${to})`);
      const seq = seqs[k] as number;
      if (!(seq > last)) return bad(`reading ${k}: seq ${seq} is not after ${last} (repeated or out of order)`);
      last = seq;
    }
    if (!result.ok) {
      const { node, window } = item.proof;
      return { verdict: "unverifiable", last, item: { node, window, reason: result.reason, detail: result.detail, firstSeq: seqs[0] as number, lastSeq: last } };
    }
    return { verdict: "verified", last };
  }
}

type ItemVerdict =
  | { verdict: "verified"; last: number }
  | { verdict: "unverifiable"; last: number; item: UnverifiableItem }
  | { verdict: "pending"; why: string }
  | { verdict: "lie"; why: string };

/** The grant a peer says it answered under, when it is the grant from its organisation to ours; else undefined. */
function checkGrantRef(grant: unknown, ownerOrg: number, selfOrg: number): GrantRef | undefined {
  if (typeof grant !== "object" || grant === null) return undefined;
  const g = grant as GrantRef;
  if (typeof g.scopeKey !== "string" || !/^0x[0-9a-f]{64}$/.test(g.scopeKey) || !Object.values(ScopeKind).includes(g.kind)) return undefined;
  const id = grantIdOf(ownerOrg, selfOrg, g.scopeKey);
  return g.id === id ? { id, scopeKey: g.scopeKey, kind: g.kind } : undefined;
}

export { streamScopeKey };
