/**
 * `/tracemesh/return/1.0.0`: a partner hands a node back the copies it holds of that node's own
 * readings, after the node lost them (a damaged store, `npm run node -- repair --from-partners`,
 * node/ingest/refetch.ts).
 *
 * Request (one UTF-8 JSON frame, as the fetch protocol frames it, protocol.ts):
 *   { v: 1, type: "return", node, stream, fromWindow, toWindow, afterSeq? }
 *       what the partner holds of `node`'s `stream` in anchored windows [fromWindow, toWindow]
 *       with seq above `afterSeq`, by seq; `more` says ask again with `afterSeq` = the last seq.
 * Answer: a readings frame of the fetch protocol's 2.0.0 wire (wire.ts) holding the parts and
 * readings exactly as the partner received them, each with its proof; or a refusal.
 *
 * Who is answered: only a peer the Noise handshake proves to be registered to the organisation
 * that anchored `node`'s windows (DataAnchors records the anchoring organisation with every
 * anchor); the request names no organisation, so none can be claimed. Another member, a peer of
 * no member (the gater does not even let it connect) and a member asking for someone else's node
 * are refused, and every refusal is counted (status `p2p.returns`, metric
 * `tracemesh_node_p2p_return_requests_total`). Answers come only from the received store: the
 * partner's own data is never served here.
 *
 * The asking side trusts nothing of the answer: every reading is checked against the node's own
 * anchored root (refetch.ts); a peer whose answer does not verify is reported and banned.
 *
 * The node's own EPCIS event documents come back the same way (node/events/refetch.ts):
 *   { v: 1, type: "documents", recordHashes: [...] }   at most MAX_RETURN_DOCUMENTS record hashes
 * Answer (JSON): { type: "documents", documents: [{ event, context, ignoreFields? }], answered }:
 * the documents held of the first `answered` hashes asked (fewer than asked when the frame is full:
 * ask again for the rest). A partner hands back only what it received from the asking peer's
 * organisation (its EventStore's received copies, never its own events) and that Provenance
 * records as made by that organisation (`recordOfEventBy`): an organisation that records someone
 * else's hash on chain does not get their document. A request naming no hash of the caller's
 * organisation is refused (not-granted); hashes not held are simply left out. The asker
 * recomputes each document's record hash and keeps only those it asked for, on its own record.
 */
import path from "node:path";
import type { Libp2p, PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import type { Provider } from "ethers";
import { type Deployment, connectContracts } from "../../lib/deployment.ts";
import type { RefusalCode } from "../../lib/errors.ts";
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_READINGS, DEFAULT_TIMEOUT_MS, MAX_REQUEST_BYTES, type ReadingItem, type Refusal, encodeJson, isStreamId, readFrame, serveRequests, withTimeout, writeFrame } from "./protocol.ts";
import type { DocumentPartner } from "../events/refetch.ts";
import type { Partner } from "../ingest/refetch.ts";
import type { EventDocument } from "./documents.ts";
import type { P2pConfig } from "../config.ts";
import { PeerDiscovery } from "./discovery.ts";
import { MembershipGate } from "./gater.ts";
import { type Host, createHost } from "./host.ts";
import { ReceivedStore } from "./received-store.ts";
import { TAG_JSON, decodeAnswer, encodeAnswer } from "./wire.ts";

export const RETURN_PROTOCOL = "/tracemesh/return/1.0.0";
/** Most windows one request may span (a partner scans its store once per request). */
export const MAX_RETURN_WINDOWS = 100_000;
/** Most record hashes one documents request may name (each costs the partner a chain call). */
export const MAX_RETURN_DOCUMENTS = 64;

export interface ReturnRequest {
  v: 1;
  type: "return";
  /** The node's anchoring account (0x + 40 hex). */
  node: string;
  stream: string;
  fromWindow: number;
  toWindow: number;
  afterSeq?: number;
}

export interface ReturnAnswer {
  items: ReadingItem[];
  more: boolean;
}

/** The node's own event documents a partner received, by the record hashes its organisation's records carry. */
export interface DocumentsRequest {
  v: 1;
  type: "documents";
  /** 0x + 64 hex digits each, at most MAX_RETURN_DOCUMENTS, none twice. */
  recordHashes: string[];
}

export interface DocumentsAnswer {
  /** As received: `{ event, context, ignoreFields? }` (node/p2p/documents.ts EventDocument); nothing of it trusted. */
  documents: unknown[];
  /** How many of the hashes asked, in order, this answer covers. */
  answered: number;
}

/** What a partner holds of an organisation's shared documents (node/p2p/documents.ts `receivedDocuments`). */
export interface HeldDocuments {
  /** The copy of `recordHash` received from organisation `owner`, as it travels; undefined when none. */
  receivedFrom(recordHash: string, owner: number): Promise<EventDocument | undefined>;
  /** Whether Provenance holds a record of `recordHash` made by organisation `org`. */
  recordedBy(recordHash: string, org: number): Promise<boolean>;
}

/** The request, or what is wrong with it. */
export function parseReturnRequest(value: unknown): ReturnRequest | DocumentsRequest | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "the request is not a JSON object";
  const r = value as Record<string, unknown>;
  if (r.type === "documents") return parseDocumentsRequest(r);
  const known = new Set(["v", "type", "node", "stream", "fromWindow", "toWindow", "afterSeq"]);
  const extra = Object.keys(r).find((k) => !known.has(k));
  if (extra !== undefined) return `unknown field "${extra}" (a return request names no organisation: the caller's is the one its peer id is registered to)`;
  if (r.v !== 1 || r.type !== "return") return 'the request is not { v: 1, type: "return", ... }';
  if (typeof r.node !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(r.node)) return "node must be an account address (0x + 40 hex digits)";
  if (!isStreamId(r.stream)) return "stream must be a stream id of 1 to 255 bytes";
  const window = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 1;
  if (!window(r.fromWindow) || !window(r.toWindow) || (r.toWindow as number) < (r.fromWindow as number)) return "fromWindow and toWindow must be window sequences, fromWindow <= toWindow";
  if ((r.toWindow as number) - (r.fromWindow as number) >= MAX_RETURN_WINDOWS) return `at most ${MAX_RETURN_WINDOWS} windows per request`;
  if (r.afterSeq !== undefined && !(Number.isSafeInteger(r.afterSeq) && (r.afterSeq as number) >= 0)) return "afterSeq must be a sequence number";
  return { v: 1, type: "return", node: r.node, stream: r.stream, fromWindow: r.fromWindow as number, toWindow: r.toWindow as number, ...(r.afterSeq !== undefined ? { afterSeq: r.afterSeq as number } : {}) };
}

function parseDocumentsRequest(r: Record<string, unknown>): DocumentsRequest | string {
  const extra = Object.keys(r).find((k) => !["v", "type", "recordHashes"].includes(k));
  if (extra !== undefined) return `unknown field "${extra}" (a documents request names no organisation: the caller's is the one its peer id is registered to)`;
  if (r.v !== 1) return 'the request is not { v: 1, type: "documents", recordHashes }';
  const hashes = r.recordHashes;
  if (!Array.isArray(hashes) || hashes.length === 0 || hashes.length > MAX_RETURN_DOCUMENTS) return `recordHashes must list 1 to ${MAX_RETURN_DOCUMENTS} record hashes`;
  if (!hashes.every((h) => typeof h === "string" && /^0x[0-9a-fA-F]{64}$/.test(h))) return "each record hash is 0x and 64 hex digits";
  const lower = hashes.map((h: string) => h.toLowerCase());
  if (new Set(lower).size !== lower.length) return "recordHashes names a hash twice";
  return { v: 1, type: "documents", recordHashes: lower };
}

export interface ReturnServerOptions {
  /** The active organisation a peer id is registered to, or 0 (MembershipGate.orgOf). */
  orgOf(peerId: string): Promise<number>;
  /** The organisation that anchored `node`'s window `sequence`, undefined when not anchored (OrgAnchorView.orgOfAnchor). */
  orgOfAnchor(node: string, sequence: number): Promise<number | undefined>;
  received: Pick<ReceivedStore, "heldOf">;
  /** The event documents received from partners; without it, documents requests are refused as unsupported. */
  documents?: HeldDocuments;
  maxReadings?: number;
  maxFrameBytes?: number;
  timeoutMs?: number;
  /** Told about every answer: "served", or the refusal's code (status and metrics count them). */
  onAnswer?: (peer: string, outcome: "served" | RefusalCode, detail: string) => void;
  onError?: (err: unknown) => void;
}

/** Registers the return protocol's handler on `host`. */
export async function serveReturn(host: Pick<Libp2p, "handle">, o: ReturnServerOptions): Promise<void> {
  const maxFrameBytes = o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const limits = { maxRequestBytes: Math.min(maxFrameBytes, MAX_REQUEST_BYTES), maxAnswerBytes: maxFrameBytes, timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxInboundStreams: 2, onError: o.onError };
  await serveRequests(host, RETURN_PROTOCOL, limits, async (received, peer) => {
    let response: Refusal | { type: "readings"; items: ReadingItem[]; more: boolean } | ({ type: "documents" } & DocumentsAnswer);
    try {
      if ("error" in received) throw received.error;
      const parsed = parseReturnRequest(received.value);
      response =
        typeof parsed === "string" ? { error: "bad-request", detail: parsed } : parsed.type === "documents" ? await answerDocuments(parsed, peer, o, maxFrameBytes) : await answer(parsed, peer, o);
    } catch (e) {
      o.onError?.(e);
      response = { error: "bad-request", detail: `the request is not a UTF-8 JSON frame of at most ${MAX_REQUEST_BYTES} bytes` };
    }
    // Documents travel as JSON (the wire's JSON tag); readings in the binary form.
    let bytes = "type" in response && response.type === "documents" ? Buffer.concat([Buffer.of(TAG_JSON), Buffer.from(JSON.stringify(response), "utf8")]) : encodeAnswer(response);
    if (bytes.length > maxFrameBytes) {
      response = { error: "too-large", detail: `the answer exceeds ${maxFrameBytes} bytes` };
      bytes = encodeAnswer(response);
    }
    o.onAnswer?.(peer, "error" in response ? response.error : "served", "error" in response ? response.detail : "items" in response ? `${response.items.length} items` : `${response.documents.length} documents`);
    return bytes;
  });
}

async function answer(r: ReturnRequest, peer: string, o: ReturnServerOptions): Promise<Refusal | { type: "readings"; items: ReadingItem[]; more: boolean }> {
  const callerOrg = await o.orgOf(peer);
  if (callerOrg === 0) return { error: "not-member", detail: `peer ${peer} is not registered to an active member organisation` };
  const notOwner = (org: number, window: number): Refusal => ({
    error: "not-granted",
    detail: `node ${r.node}'s window ${window} was anchored by organisation ${org}, not by organisation ${callerOrg} of peer ${peer}: held copies go back only to the node's own organisation`,
  });
  const first = await o.orgOfAnchor(r.node, r.fromWindow);
  if (first === undefined) return { error: "not-found", detail: `node ${r.node} has no anchor for window ${r.fromWindow}` };
  if (first !== callerOrg) return notOwner(first, r.fromWindow);
  const held = await o.received.heldOf(callerOrg, r.stream, r.node, { fromWindow: r.fromWindow, toWindow: r.toWindow, afterSeq: r.afterSeq ?? 0, limit: o.maxReadings ?? DEFAULT_MAX_READINGS });
  // Every window handed back must be the caller's own, not only the first asked for.
  for (const window of new Set(held.items.map((i) => i.proof.window))) {
    const org = await o.orgOfAnchor(r.node, window);
    if (org !== callerOrg) return notOwner(org ?? 0, window);
  }
  return { type: "readings", ...held };
}

/**
 * The documents of `r.recordHashes` received from the caller's organisation and recorded by it,
 * in the order asked, as many as fit in one frame.
 */
async function answerDocuments(r: DocumentsRequest, peer: string, o: ReturnServerOptions, maxFrameBytes: number): Promise<Refusal | ({ type: "documents" } & DocumentsAnswer)> {
  if (o.documents === undefined) return { error: "unsupported", detail: "this node keeps no event documents" };
  const callerOrg = await o.orgOf(peer);
  if (callerOrg === 0) return { error: "not-member", detail: `peer ${peer} is not registered to an active member organisation` };
  const recorded = await Promise.all(r.recordHashes.map((h) => o.documents!.recordedBy(h, callerOrg)));
  if (!recorded.some(Boolean)) return { error: "not-granted", detail: `none of the ${r.recordHashes.length} record hashes asked is recorded on Provenance by organisation ${callerOrg} of peer ${peer}: held documents go back only to the organisation that made them` };
  const documents: EventDocument[] = [];
  // Room left for the frame's envelope; a document that alone exceeds the frame ends the answer (too-large).
  let bytes = 64;
  let answered = 0;
  for (const [i, hash] of r.recordHashes.entries()) {
    const doc = recorded[i] ? await o.documents.receivedFrom(hash, callerOrg) : undefined;
    if (doc !== undefined) {
      const size = Buffer.byteLength(JSON.stringify(doc)) + 1;
      if (bytes + size > maxFrameBytes && answered > 0) break;
      bytes += size;
      documents.push(doc);
    }
    answered++;
  }
  return { type: "documents", documents, answered };
}

/**
 * One request to a partner's return server and its decoded answer (`stream`: the stream whose
 * readings are asked, "" for documents), or its refusal. Throws on transport failures.
 */
async function exchange(
  host: Pick<Libp2p, "dialProtocol">,
  peer: PeerId,
  request: ReturnRequest | DocumentsRequest,
  stream: string,
  limits: { maxFrameBytes?: number; timeoutMs?: number },
): Promise<Record<string, unknown> | Refusal> {
  const timeoutMs = limits.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxFrameBytes = limits.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const dialled = await host.dialProtocol(peer, RETURN_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) });
  return withTimeout(dialled, timeoutMs, async () => {
    await writeFrame(dialled, encodeJson(request), maxFrameBytes);
    await dialled.close();
    const answer = decodeAnswer(await readFrame(dialled, maxFrameBytes), stream) as Record<string, unknown>;
    if (typeof answer?.error === "string") return { error: answer.error as RefusalCode, detail: String(answer.detail ?? "") };
    return answer;
  });
}

const isRefusal = (a: Record<string, unknown> | Refusal): a is Refusal => typeof (a as { error?: unknown }).error === "string";

/** What a partner answered: the held items, or its refusal. Throws on transport failures and malformed answers (wire.ts WireError: a lie). */
export async function askReturn(
  host: Pick<Libp2p, "dialProtocol">,
  peer: PeerId,
  request: ReturnRequest,
  limits: { maxFrameBytes?: number; timeoutMs?: number } = {},
): Promise<ReturnAnswer | Refusal> {
  const answer = await exchange(host, peer, request, request.stream, limits);
  if (isRefusal(answer)) return answer;
  if (answer?.type !== "readings") throw new ReturnAnswerError(`the answer is neither readings nor a refusal`);
  return { items: answer.items as ReadingItem[], more: answer.more === true };
}

/** What a partner answered to a documents request, or its refusal. Throws on transport failures and malformed answers (ReturnAnswerError: a lie). */
export async function askReturnDocuments(
  host: Pick<Libp2p, "dialProtocol">,
  peer: PeerId,
  request: DocumentsRequest,
  limits: { maxFrameBytes?: number; timeoutMs?: number } = {},
): Promise<DocumentsAnswer | Refusal> {
  const answer = await exchange(host, peer, request, "", limits);
  if (isRefusal(answer)) return answer;
  const answered = answer?.answered;
  if (answer?.type !== "documents" || !Array.isArray(answer.documents) || !Number.isSafeInteger(answered)) throw new ReturnAnswerError("the answer is neither documents nor a refusal");
  if ((answered as number) < 1 || (answered as number) > request.recordHashes.length) throw new ReturnAnswerError(`the answer says it covers ${String(answered)} of the ${request.recordHashes.length} record hashes asked`);
  if (answer.documents.length > (answered as number)) throw new ReturnAnswerError(`the answer holds ${answer.documents.length} documents for ${String(answered)} record hashes`);
  return { documents: answer.documents, answered: answered as number };
}

/** An answer that is not a well-formed return answer. */
export class ReturnAnswerError extends Error {
  override name = "ReturnAnswerError";
}

/**
 * The asking side while the node is stopped (`repair --from-partners`): a host with the node's own
 * peer key (so partners see its organisation), admission and discovery as the node has them, the
 * member peers it reaches as partners, and bans that hold when the node starts again (kept with
 * the misbehaviour reports in its received store, as the fetch client's are).
 */
export async function startReturnSession(o: {
  config: P2pConfig;
  dataDir: string;
  deployment: Deployment;
  provider: Provider;
  /** How long to look for partners, ms. */
  discoverMs?: number;
  log: (line: string) => void;
}): Promise<{ ownOrg: number; partners: (Partner & DocumentPartner)[]; onLie(peer: string, reason: string, what?: "readings" | "documents"): Promise<void>; stop(): Promise<void> }> {
  const { consortium } = connectContracts(o.deployment.contracts, o.provider);
  const gate = new MembershipGate(consortium, { ttlMs: o.config.membershipTtlMs });
  const received = await ReceivedStore.open(path.join(o.dataDir, "received"));
  let host: Host | undefined;
  try {
    for (const r of await received.reports()) {
      const left = r.at + o.config.banMs - Date.now();
      if (r.altered && left > 0) await gate.ban(r.peer, left);
    }
    const started = await createHost({ keyFile: o.config.keyFile, listen: o.config.listen, announce: o.config.announce, connectionGater: gate.gater() });
    host = started;
    const self = host.peerId.toString();
    const ownOrg = await gate.orgOf(self);
    if (ownOrg === 0) throw new Error(`this node's peer id ${self} (p2p.keyFile) is not registered to an active member organisation: partners would refuse it`);
    const discovery = new PeerDiscovery(host, gate, consortium, { bootstrap: o.config.bootstrap, timeoutMs: o.config.timeoutMs });
    await discovery.refresh();
    // The bootstrap addresses first, each failure said (the operator may have a partner to start).
    await Promise.all(
      o.config.bootstrap.map((a) =>
        started
          .dial(multiaddr(a), { signal: AbortSignal.timeout(o.config.timeoutMs) })
          .catch((e: unknown) => o.log(`could not reach ${a}: ${(e as Error).message}`)),
      ),
    );
    const end = Date.now() + (o.discoverMs ?? 5_000);
    do {
      await discovery.dialKnown();
      for (const c of host.getConnections()) await discovery.askPeers(c.remotePeer).catch(() => undefined);
      await discovery.dialKnown();
      if (host.getConnections().length > 0) break;
      await new Promise((r) => setTimeout(r, 250));
    } while (Date.now() < end);
    const partners: (Partner & DocumentPartner)[] = [];
    for (const id of new Set(host.getConnections().map((c) => c.remotePeer.toString()))) {
      const org = await gate.orgOf(id).catch(() => 0);
      if (org === 0) continue;
      const h = host;
      const limits = { maxFrameBytes: o.config.maxFrameBytes, timeoutMs: o.config.timeoutMs };
      partners.push({
        peer: id,
        org,
        ask: (request) => askReturn(h, peerIdFromString(id), request, limits),
        askDocuments: (request) => askReturnDocuments(h, peerIdFromString(id), request, limits),
      });
    }
    o.log(`${partners.length} partner node(s) reached: ${partners.map((p) => `${p.peer} (organisation ${p.org})`).join(", ") || "none (p2p.bootstrap names where partners listen)"}`);
    const live = host;
    return {
      ownOrg,
      partners,
      async onLie(peer, reason, what = "readings") {
        await gate.ban(peer, o.config.banMs, live);
        await received.report({ peer, reason: `returned ${what} that fail verification: ${reason}`, altered: true, at: Date.now() });
      },
      async stop() {
        await live.stop();
        await received.close();
      },
    };
  } catch (e) {
    await host?.stop();
    await received.close();
    throw e;
  }
}
