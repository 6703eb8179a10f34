/**
 * `/tracemesh/fetch/1.0.0`: a partner's node asks this node for the readings of one of its
 * streams (or for what it holds of a stream), and gets them with what is needed to check each one
 * against the chain (DESIGN.md, principle 2).
 *
 * Framing: one request and one response per libp2p stream, each one length-prefixed (unsigned
 * varint) frame of UTF-8 JSON, at most `maxFrameBytes`. Either side gives up after `timeoutMs`.
 *
 * Server: the caller's organisation is the one Consortium registers the remote peer id to
 * (`orgOfPeer`, proven by the Noise handshake, never taken from the request). The data owner is
 * this node's organisation; the scope key is keccak256(stream id). A request is answered only
 * when AccessGrants allows (callerOrg, ownerOrg, scopeKey) for the whole requested time range;
 * otherwise a typed refusal `{ error, detail }`.
 *
 * Client: every reading is checked before anything is stored: its leaf hash against the anchor
 * that DataAnchors holds (root and leaf count from the chain, never from the peer), the anchor
 * must belong to the serving peer's organisation, and the reading must be of the requested
 * stream and time range. One bad reading rejects the whole answer and reports the peer.
 */
import type { Libp2p, PeerId, Stream } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { keccak256, toUtf8Bytes } from "ethers";
import * as lp from "it-length-prefixed";
import type { AccessGrants, Consortium, DataAnchors } from "../../lib/contracts/types/index.js";
import { type MerkleProof, leafHash, siblingsFromHex, siblingsToHex, verifyProof } from "../../lib/merkle.ts";

export const FETCH_PROTOCOL = "/tracemesh/fetch/1.0.0";
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_READINGS = 10_000;

export type RefusalCode = "not-granted" | "not-member" | "bad-request" | "too-large";
export interface Refusal {
  error: RefusalCode;
  detail: string;
}

/** Which anchored window a reading belongs to: DataAnchors.getAnchor(node, sequence). */
export interface AnchorRef {
  node: string;
  sequence: number;
}

/** A reading as the store holds it: its canonical (leaf) bytes, its window and its proof. */
export interface ProvenReading {
  bytes: Uint8Array;
  anchor: AnchorRef;
  proof: MerkleProof;
}

/** A window of one stream that the node holds. */
export interface WindowSummary {
  anchor: AnchorRef;
  fromTimeMs: number;
  toTimeMs: number;
  /** Readings of the stream in the window. */
  count: number;
}

/** What the server reads from. */
export interface ReadingStore {
  /** Readings of `stream` with source time in [fromMs, toMs), oldest first, at most `limit`. */
  readings(stream: string, fromMs: number, toMs: number, limit: number): Promise<ProvenReading[]>;
  /** The anchored windows holding readings of `stream`. */
  windows(stream: string): Promise<WindowSummary[]>;
}

/** What the client needs to know of a reading's canonical bytes to check it is what it asked for. */
export interface ReadingCodec {
  identify(bytes: Uint8Array): { stream: string; sourceTime: number };
}

export type FetchRequest =
  | { v: 1; type: "readings"; stream: string; from: number; to: number; limit?: number }
  | { v: 1; type: "list"; stream: string };

interface WireReading {
  data: string; // base64 canonical bytes
  anchor: AnchorRef;
  proof: { index: number; siblings: string[] };
}

type WireResponse =
  | { type: "readings"; readings: WireReading[]; more: boolean }
  | { type: "list"; windows: WindowSummary[] }
  | Refusal;

/** The scope key AccessGrants uses for a data stream. */
export const streamScopeKey = (stream: string): string => keccak256(toUtf8Bytes(stream));

export interface ProtocolLimits {
  maxFrameBytes?: number;
  timeoutMs?: number;
}

// ---------------------------------------------------------------------------------- framing

async function readFrame(stream: Stream, maxFrameBytes: number): Promise<Uint8Array> {
  for await (const frame of lp.decode(stream, { maxDataLength: maxFrameBytes })) return frame.subarray();
  throw new Error("stream ended before a complete frame");
}

async function writeFrame(stream: Stream, payload: Uint8Array, maxFrameBytes: number): Promise<void> {
  if (!stream.send(lp.encode.single(payload, { maxDataLength: maxFrameBytes }))) await stream.onDrain();
}

const encodeJson = (value: unknown): Uint8Array => toUtf8Bytes(JSON.stringify(value));
const decodeJson = (bytes: Uint8Array): unknown => JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));

/** Runs `work` on `stream`, aborting the stream when it takes longer than `timeoutMs`. */
async function withTimeout<T>(stream: Stream, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  const timer = setTimeout(() => stream.abort(new Error(`${FETCH_PROTOCOL} timed out after ${timeoutMs} ms`)), timeoutMs);
  try {
    return await work();
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------- requests

const MAX_STREAM_ID = 256;

/** The request, or a reason it is malformed. */
export function parseRequest(value: unknown): FetchRequest | string {
  if (typeof value !== "object" || value === null) return "request is not an object";
  const r = value as Record<string, unknown>;
  if (r.v !== 1) return `unsupported request version ${String(r.v)}`;
  if (typeof r.stream !== "string" || r.stream.length === 0 || r.stream.length > MAX_STREAM_ID) {
    return `stream must be a non-empty string of at most ${MAX_STREAM_ID} characters`;
  }
  if (r.type === "list") return { v: 1, type: "list", stream: r.stream };
  if (r.type !== "readings") return `unknown request type ${String(r.type)}`;
  const isTime = (t: unknown): t is number => Number.isSafeInteger(t) && (t as number) >= 0;
  if (!isTime(r.from) || !isTime(r.to) || r.to <= r.from) return "from and to must be Unix ms with from < to";
  if (r.limit !== undefined && !(Number.isSafeInteger(r.limit) && (r.limit as number) > 0)) return "limit must be a positive integer";
  return { v: 1, type: "readings", stream: r.stream, from: r.from, to: r.to, limit: r.limit as number | undefined };
}

// ---------------------------------------------------------------------------------- server

export interface FetchServerOptions extends ProtocolLimits {
  consortium: Consortium;
  accessGrants: AccessGrants;
  /** The organisation owning the data this node serves (its own). */
  ownerOrg: number;
  store: ReadingStore;
  /** Most readings in one answer; a client pages with `limit` and `more`. */
  maxReadings?: number;
  /** Most requests served at once per connection. */
  maxInboundStreams?: number;
  onError?: (err: unknown) => void;
}

/** Registers the fetch protocol's handler on `host`. */
export async function serveFetch(host: Libp2p, options: FetchServerOptions): Promise<void> {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  await host.handle(FETCH_PROTOCOL, async (stream, connection) => {
    try {
      await withTimeout(stream, timeoutMs, async () => {
        let response: WireResponse;
        let request: unknown;
        try {
          request = decodeJson(await readFrame(stream, maxFrameBytes));
          response = await answer(request, connection.remotePeer, options);
        } catch (e) {
          response = refusalForReadError(e, maxFrameBytes);
        }
        let bytes = encodeJson(response);
        if (bytes.length > maxFrameBytes) {
          bytes = encodeJson({ error: "too-large", detail: `answer exceeds ${maxFrameBytes} bytes: ask for a shorter range or a lower limit` });
        }
        await writeFrame(stream, bytes, maxFrameBytes);
        await stream.close();
      });
    } catch (e) {
      options.onError?.(e);
      stream.abort(e as Error);
    }
  }, { maxInboundStreams: options.maxInboundStreams ?? 32 });
}

function refusalForReadError(e: unknown, maxFrameBytes: number): Refusal {
  const name = (e as Error)?.name;
  if (name === "InvalidDataLengthError") return { error: "too-large", detail: `request frame exceeds ${maxFrameBytes} bytes` };
  if (e instanceof SyntaxError || e instanceof TypeError) return { error: "bad-request", detail: "request is not UTF-8 JSON" };
  throw e;
}

async function answer(raw: unknown, remotePeer: PeerId, o: FetchServerOptions): Promise<WireResponse> {
  const request = parseRequest(raw);
  if (typeof request === "string") return { error: "bad-request", detail: request };
  const peer = remotePeer.toString();
  const callerOrg = Number(await o.consortium.orgOfPeer(peer));
  if (callerOrg === 0 || !(await o.consortium.isActiveOrg(callerOrg))) {
    return { error: "not-member", detail: `peer ${peer} is not registered to an active member organisation` };
  }
  const scopeKey = streamScopeKey(request.stream);
  const grants = o.accessGrants;
  if (request.type === "list") {
    if (!(await grants.isAllowed(callerOrg, o.ownerOrg, scopeKey))) {
      return { error: "not-granted", detail: `organisation ${callerOrg} holds no grant for stream ${request.stream}` };
    }
    return { type: "list", windows: await o.store.windows(request.stream) };
  }
  // A whole-stream grant covers any range; a time-range grant is one interval, so it covers
  // [from, to) exactly when it covers both ends.
  const allowed =
    (await grants.isAllowed(callerOrg, o.ownerOrg, scopeKey)) ||
    ((await grants.isAllowedAt(callerOrg, o.ownerOrg, scopeKey, request.from)) &&
      (await grants.isAllowedAt(callerOrg, o.ownerOrg, scopeKey, request.to - 1)));
  if (!allowed) {
    return {
      error: "not-granted",
      detail: `organisation ${callerOrg} holds no grant for stream ${request.stream} over [${request.from}, ${request.to})`,
    };
  }
  const limit = Math.min(request.limit ?? Infinity, o.maxReadings ?? DEFAULT_MAX_READINGS);
  const found = await o.store.readings(request.stream, request.from, request.to, limit + 1);
  return {
    type: "readings",
    more: found.length > limit,
    readings: found.slice(0, limit).map((r) => ({
      data: Buffer.from(r.bytes).toString("base64"),
      anchor: r.anchor,
      proof: { index: r.proof.index, siblings: siblingsToHex(r.proof.siblings) },
    })),
  };
}

// ---------------------------------------------------------------------------------- client

/** A peer answered with data that does not verify against the chain. */
export class PeerMisbehaviourError extends Error {
  constructor(
    readonly peer: string,
    readonly reason: string,
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
}

export interface FetchClientOptions extends ProtocolLimits {
  consortium: Consortium;
  dataAnchors: DataAnchors;
  codec: ReadingCodec;
  /** Where verified readings go; called once per answer, only when all of it verified. */
  store: (peer: string, readings: ProvenReading[]) => Promise<void>;
  /** Told about every peer caught sending altered or unanchored data. */
  onMisbehaviour?: (peer: string, reason: string) => void;
}

/** The peer id a dial target names; a multiaddr must end in /p2p/<id> (whose org is checked). */
function peerString(peer: PeerId | Multiaddr): string {
  if (!("getComponents" in peer)) return peer.toString();
  const id = peer.getComponents().findLast((c) => c.name === "p2p")?.value;
  if (id === undefined) throw new RangeError(`multiaddr ${peer.toString()} names no peer id (/p2p/...)`);
  return id;
}

interface AnchorOnChain {
  root: string;
  leafCount: number;
  orgId: number;
}

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
  async request(peer: PeerId | Multiaddr, request: FetchRequest): Promise<WireResponse> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    const stream = await this.host.dialProtocol(peer, FETCH_PROTOCOL, { signal });
    return withTimeout(stream, this.timeoutMs, async () => {
      await writeFrame(stream, encodeJson(request), this.maxFrameBytes);
      await stream.close(); // our half: the request is complete
      return decodeJson(await readFrame(stream, this.maxFrameBytes)) as WireResponse;
    });
  }

  /** The windows `peer` holds of `stream`. Throws FetchRefusedError on a refusal. */
  async list(peer: PeerId | Multiaddr, stream: string): Promise<WindowSummary[]> {
    const peerStr = peerString(peer);
    const res = await this.request(peer, { v: 1, type: "list", stream });
    if ("error" in res) throw new FetchRefusedError(peerStr, res);
    if (res.type !== "list" || !Array.isArray(res.windows)) throw this.misbehaved(peerStr, "list answered with something else");
    return res.windows;
  }

  /**
   * Fetches, verifies and stores the readings of `stream` in [from, to) held by `peer`. Throws
   * FetchRefusedError on a refusal and PeerMisbehaviourError (after reporting the peer, with
   * nothing stored) when any reading fails verification.
   */
  async fetchReadings(peer: PeerId | Multiaddr, stream: string, from: number, to: number, limit?: number) {
    const peerStr = peerString(peer);
    const res = await this.request(peer, { v: 1, type: "readings", stream, from, to, limit });
    if ("error" in res) throw new FetchRefusedError(peerStr, res);
    if (res.type !== "readings" || !Array.isArray(res.readings)) throw this.misbehaved(peerStr, "readings answered with something else");
    const ownerOrg = Number(await this.options.consortium.orgOfPeer(peerStr));
    const anchors = new Map<string, AnchorOnChain | undefined>();
    const verified: ProvenReading[] = [];
    for (const [i, w] of res.readings.entries()) {
      const reading = await this.verify(w, ownerOrg, anchors, stream, from, to);
      if (typeof reading === "string") throw this.misbehaved(peerStr, `reading ${i}: ${reading}`);
      verified.push(reading);
    }
    if (limit !== undefined && verified.length > limit) throw this.misbehaved(peerStr, `sent ${verified.length} readings, limit was ${limit}`);
    await this.options.store(peerStr, verified);
    return { readings: verified, more: res.more === true };
  }

  private misbehaved(peer: string, reason: string): PeerMisbehaviourError {
    this.options.onMisbehaviour?.(peer, reason);
    return new PeerMisbehaviourError(peer, reason);
  }

  private async anchor(ref: AnchorRef, cache: Map<string, AnchorOnChain | undefined>): Promise<AnchorOnChain | undefined> {
    const key = `${ref.node.toLowerCase()}:${ref.sequence}`;
    if (!cache.has(key)) {
      try {
        const a = await this.options.dataAnchors.getAnchor(ref.node, ref.sequence);
        cache.set(key, { root: a.root, leafCount: Number(a.leafCount), orgId: Number(a.orgId) });
      } catch {
        cache.set(key, undefined); // AnchorNotFound
      }
    }
    return cache.get(key);
  }

  /** The verified reading, or why it fails. */
  private async verify(
    w: WireReading,
    ownerOrg: number,
    anchors: Map<string, AnchorOnChain | undefined>,
    stream: string,
    from: number,
    to: number,
  ): Promise<ProvenReading | string> {
    if (typeof w?.data !== "string" || typeof w.anchor?.node !== "string" || !Number.isSafeInteger(w.anchor.sequence)) {
      return "malformed reading";
    }
    if (!Number.isSafeInteger(w.proof?.index) || !Array.isArray(w.proof.siblings)) return "malformed proof";
    let siblings: Buffer[];
    try {
      siblings = siblingsFromHex(w.proof.siblings);
    } catch {
      return "malformed proof";
    }
    const bytes = Buffer.from(w.data, "base64");
    const anchor = await this.anchor(w.anchor, anchors);
    if (!anchor) return `no anchor ${w.anchor.sequence} of node ${w.anchor.node} on chain`;
    if (anchor.orgId !== ownerOrg) return `anchor belongs to organisation ${anchor.orgId}, not the serving peer's ${ownerOrg}`;
    const proof: MerkleProof = { index: w.proof.index, leafCount: anchor.leafCount, siblings };
    if (!verifyProof(proof, Buffer.from(anchor.root.slice(2), "hex"), leafHash(bytes))) {
      return `does not verify against anchor ${w.anchor.sequence} of node ${w.anchor.node}`;
    }
    let id: { stream: string; sourceTime: number };
    try {
      id = this.options.codec.identify(bytes);
    } catch {
      return "not a reading";
    }
    if (id.stream !== stream) return `is of stream ${id.stream}, not ${stream}`;
    if (!(id.sourceTime >= from && id.sourceTime < to)) return `source time ${id.sourceTime} outside [${from}, ${to})`;
    return { bytes, anchor: { node: w.anchor.node, sequence: w.anchor.sequence }, proof };
  }
}
