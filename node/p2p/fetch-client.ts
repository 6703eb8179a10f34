/**
 * The asking end of the fetch protocol (protocol.ts): requests data of a partner's node and
 * checks every item before anything is stored.
 *
 * Every reading is checked with lib/verify-reading.ts against the anchor DataAnchors
 * holds, the anchor must belong to the serving peer's organisation, and every reading must be of
 * the requested stream, time range and page. Every document must hash (CBV 2.0,
 * lib/epcis/event-hash.ts) to the requested hash, recorded on Provenance by the serving peer's
 * organisation.
 *
 * What fails is judged by who could have avoided it. A lie (altered or forged data, another
 * organisation's anchor, an answer to another question) rejects the whole answer and reports
 * the peer, to be banned. The owner's own committed data failing a time check (anchored late,
 * receive time outside its window) is listed as unverifiable and skipped; a window this node's
 * chain does not show yet ends the page. Neither blames the peer.
 */
import type { Libp2p, PeerId } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { keccak256, toUtf8Bytes } from "ethers";
import { TracemeshError } from "../../lib/errors.ts";
import type { Reading } from "../../lib/reading.ts";
import { ScopeKind } from "../../lib/registry.ts";
import {
  type AnchorRecord,
  type AnchorView,
  type VerifyFailureReason,
  type VerifyOptions,
  cachedAnchorView,
  contractAnchorView,
  verifyReading,
  verifyReadingRange,
} from "../../lib/verify-reading.ts";
import {
  type Answer,
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_INBOUND_STREAMS,
  DEFAULT_TIMEOUT_MS,
  type EventSummary,
  FETCH_PROTOCOL,
  type FetchRequest,
  type FetchResponse,
  type GrantRef,
  type ProtocolLimits,
  type ReadingItem,
  type Refusal,
  type RefusalCode,
  type WindowSummary,
  encodeJson,
  grantIdOf,
  isEventHash,
  isStreamId,
  isTime,
  readFrame,
  withTimeout,
  writeFrame,
} from "./protocol.ts";
import { WireError, decodeAnswer } from "./wire.ts";

/** A peer answered with data that does not verify against the chain, or broke the protocol. */
export class PeerMisbehaviourError extends TracemeshError {
  constructor(
    readonly peer: string,
    readonly reason: string,
    /** True when the peer lied (altered or forged data); false for a protocol slip (e.g. more than the limit). */
    readonly altered = true,
  ) {
    super("peer-misbehaved", `peer ${peer} sent data that fails verification: ${reason}`);
  }
}

/** A peer refused the request. */
export class FetchRefusedError extends TracemeshError {
  declare readonly code: RefusalCode;
  constructor(
    readonly peer: string,
    readonly refusal: Refusal,
  ) {
    // The refusal's code is a catalogue code: the gateway answers a partner's refusal as its own.
    super(refusal.error, `peer ${peer} refused: ${refusal.error}: ${refusal.detail}`);
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
  /** The Provenance record of `recordHash` made by organisation `orgId`, or undefined when it made none. */
  recordOf(recordHash: string, orgId: number): Promise<{ recordId: bigint; orgId: number; kind: string } | undefined>;
}

/** What the client checks revocation statements against (Certificates on chain). */
export interface StatementVerifier {
  /** The issuing organisation of a certificate and the statement hash its revocation or suspension records; undefined when never issued. */
  recordedStatement(certificateId: string): Promise<{ issuer: number; statementHash: string | null } | undefined>;
}

/** Certificates on chain as a StatementVerifier (`reasonHash` zero: no statement recorded). */
export function chainStatementVerifier(certificates: { certificate(id: string): Promise<{ issuer: bigint; reasonHash: string }> }): StatementVerifier {
  return {
    async recordedStatement(certificateId) {
      const c = await certificates.certificate(certificateId);
      if (c.issuer === 0n) return undefined;
      return { issuer: Number(c.issuer), statementHash: /^0x0{64}$/.test(c.reasonHash) ? null : c.reasonHash.toLowerCase() };
    },
  };
}

export interface FetchClientOptions extends ProtocolLimits {
  /** This node's organisation (the grantee of what it fetches). */
  selfOrg: number;
  /** The active organisation a peer id is registered to, or 0. */
  orgOf(peerId: string): Promise<number>;
  /** DataAnchors, with the organisation of each anchor (see `orgAnchorView`). */
  anchors: OrgAnchorView;
  events?: EventVerifier;
  statements?: StatementVerifier;
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
  /**
   * Most requests in progress to one peer at once (more wait their turn): the serving node resets
   * streams past its per-connection cap (DEFAULT_MAX_INBOUND_STREAMS), so this stays within it.
   */
  maxRequestsPerPeer?: number;
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
const LIES: readonly VerifyFailureReason[] = ["reading-altered", "proof-invalid", "wrong-node"];

/** A request's raw outcome, not judged yet: the answer, or what sending or reading it threw. */
type Sent = { res: FetchResponse } | { error: unknown };

type ReadingsRequest = Extract<FetchRequest, { type: "readings" }>;
type ReadingsQuery = { stream: string; from: number; to: number; afterSeq?: number; limit?: number; event?: string };

export class FetchClient {
  private readonly maxFrameBytes: number;
  private readonly timeoutMs: number;
  private readonly maxRequestsPerPeer: number;
  /** Requests in progress per peer, and those waiting for one of its slots (handed over in turn). */
  private readonly slots = new Map<string, { active: number; waiting: (() => void)[] }>();

  constructor(
    private readonly host: Libp2p,
    private readonly options: FetchClientOptions,
  ) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxRequestsPerPeer = options.maxRequestsPerPeer ?? DEFAULT_MAX_INBOUND_STREAMS;
    if (!(Number.isSafeInteger(this.maxRequestsPerPeer) && this.maxRequestsPerPeer > 0)) throw new RangeError(`maxRequestsPerPeer must be a positive integer, not ${this.maxRequestsPerPeer}`);
  }

  /**
   * Sends one request and returns the peer's raw answer (refusals included), decoded from the
   * 2.0.0 wire (wire.ts). Throws WireError for a malformed answer frame and InvalidDataLengthError
   * for one over `maxFrameBytes`.
   */
  async request(peer: PeerId | Multiaddr, request: FetchRequest, cancel?: AbortSignal, onWritten?: () => void): Promise<FetchResponse> {
    const signal = cancel ? AbortSignal.any([AbortSignal.timeout(this.timeoutMs), cancel]) : AbortSignal.timeout(this.timeoutMs);
    const stream = await this.host.dialProtocol(peer, FETCH_PROTOCOL, { signal });
    const onCancel = () => stream.abort(new Error("request cancelled: its answer is no longer wanted"));
    cancel?.addEventListener("abort", onCancel, { once: true });
    try {
      return await withTimeout(stream, this.timeoutMs, async () => {
        await writeFrame(stream, encodeJson(request), this.maxFrameBytes);
        await stream.close(); // our half: the request is complete
        onWritten?.();
        const frame = await readFrame(stream, this.maxFrameBytes);
        this.options.onBytes?.(frame.length);
        return decodeAnswer(frame, request.type === "readings" ? request.stream : "") as FetchResponse;
      });
    } finally {
      cancel?.removeEventListener("abort", onCancel);
    }
  }

  /**
   * Sends `request` within the peer's slots (maxRequestsPerPeer); never throws: the outcome is
   * judged by `judge`. `onOut` is told when the request is written, or queued behind the peer's
   * other requests (nothing to wait for then).
   */
  private async send(peer: PeerId | Multiaddr, request: FetchRequest, cancel?: AbortSignal, onOut?: () => void): Promise<Sent> {
    const key = peerString(peer);
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = { active: 0, waiting: [] }));
    if (slot.active < this.maxRequestsPerPeer) slot.active++;
    else {
      onOut?.();
      await new Promise<void>((r) => slot.waiting.push(r)); // the slot is handed over as it is
    }
    try {
      return { res: await this.request(peer, request, cancel, onOut) };
    } catch (error) {
      return { error };
    } finally {
      const next = slot.waiting.shift();
      if (next) next();
      else if (--slot.active === 0) this.slots.delete(key);
    }
  }

  private async ask<T extends Answer["type"]>(peer: PeerId | Multiaddr, request: FetchRequest, type: T): Promise<{ peerStr: string; res: Extract<Answer, { type: T }> }> {
    return this.judge(peerString(peer), request, type, await this.send(peer, request));
  }

  /** The answer of the asked type, or the misbehaviour or refusal it shows (thrown, the peer reported). */
  private judge<T extends Answer["type"]>(peerStr: string, request: FetchRequest, type: T, sent: Sent): { peerStr: string; res: Extract<Answer, { type: T }> } {
    if ("error" in sent) {
      const e = sent.error;
      // A frame that does not decode is a lie; one over the limit breaks the protocol (not banned).
      if (e instanceof WireError) throw this.misbehaved(peerStr, `malformed answer: ${e.message}`);
      if ((e as Error)?.name === "InvalidDataLengthError") throw this.misbehaved(peerStr, `answer frame over ${this.maxFrameBytes} bytes`, false);
      throw e;
    }
    const res = sent.res;
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
   * node's chain does not show anchored ends the page (`pending`). With `event`, the readings
   * that own event of the peer binds, decided by who may read the event.
   */
  async fetchReadings(peer: PeerId | Multiaddr, q: ReadingsQuery): Promise<VerifiedReadings> {
    const request = readingsRequest(q, q.afterSeq ?? 0);
    return this.takeReadings(peerString(peer), request, await this.send(peer, request));
  }

  /**
   * Every page of `stream` in [from, to) after `afterSeq` held by `peer`, as fetchReadings takes
   * each (verified, stored, thrown on a lie or refusal), with the next page's request in flight
   * while the current one is verified and stored: its cursor is the last seq the current answer
   * names, known before verification. That request's answer is used only when the verified page
   * ends at that same seq and says `more`; otherwise (a lie, a pending window, the caller stopping)
   * it is cancelled unread, never judged or stored. Pages are stored strictly in order, one at a time.
   */
  async *fetchReadingPages(peer: PeerId | Multiaddr, q: ReadingsQuery): AsyncGenerator<VerifiedReadings, void> {
    const peerStr = peerString(peer);
    let request = readingsRequest(q, q.afterSeq ?? 0);
    let current = this.send(peer, request);
    let ahead: { afterSeq: number; sent: Promise<Sent>; cancel: AbortController } | undefined;
    try {
      for (;;) {
        const sent = await current;
        const next = "res" in sent ? claimedCursor(sent.res) : undefined;
        if (next !== undefined && next > (request.afterSeq ?? 0)) {
          const cancel = new AbortController();
          let out!: () => void;
          const isOut = new Promise<void>((r) => (out = r));
          ahead = { afterSeq: next, cancel, sent: this.send(peer, readingsRequest(q, next), cancel.signal, out) };
          // Verifying holds the event loop for a while: the request goes out (dialled, written) first.
          await Promise.race([isOut, ahead.sent]);
        }
        const batch = await this.takeReadings(peerStr, request, sent);
        yield batch;
        if (!batch.more) return;
        request = readingsRequest(q, batch.lastSeq);
        if (ahead?.afterSeq === batch.lastSeq) current = ahead.sent;
        else {
          ahead?.cancel.abort();
          current = this.send(peer, request);
        }
        ahead = undefined;
      }
    } finally {
      ahead?.cancel.abort();
    }
  }

  /** Judges, verifies and stores one readings answer (fetchReadings). */
  private async takeReadings(peerStr: string, q: ReadingsRequest, outcome: Sent): Promise<VerifiedReadings> {
    const afterSeq = q.afterSeq ?? 0;
    const { res } = this.judge(peerStr, q, "readings", outcome);
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
    // The serving organisation's own record: one by anybody else (a squatter's) does not count.
    const record = await verifier.recordOf(ids.recordHash, ownerOrg);
    if (record === undefined) throw this.misbehaved(peerStr, `event ${ids.hashId} is not recorded on Provenance by the serving peer's organisation ${ownerOrg}`);
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

  /**
   * The revocation statement of `certificateId` from `peer`, which must be a node of the
   * certificate's issuer: returned only when its keccak-256 is the hash the chain records. Any
   * other text is a lie (the issuer's node is the one that could have kept it right): the peer is
   * reported and the text dropped.
   */
  async fetchStatement(peer: PeerId | Multiaddr, certificateId: string): Promise<string> {
    const verifier = this.options.statements;
    if (!verifier) throw new Error("this client has no statement verifier");
    const id = certificateId.toLowerCase();
    const peerStr = peerString(peer);
    const recorded = await verifier.recordedStatement(id);
    if (recorded === undefined) throw new RangeError(`certificate ${id} was never issued on this chain`);
    if (recorded.statementHash === null) throw new RangeError(`certificate ${id} records no statement hash`);
    if ((await this.options.orgOf(peerStr)) !== recorded.issuer) throw new RangeError(`peer ${peerStr} is not a node of organisation ${recorded.issuer}, the certificate's issuer`);
    const { res } = await this.ask(peer, { v: 1, type: "statement", certificate: id }, "statement");
    if (typeof res.text !== "string") throw this.misbehaved(peerStr, "the statement is not text");
    const hash = keccak256(toUtf8Bytes(res.text));
    if (hash !== recorded.statementHash) throw this.misbehaved(peerStr, `the statement of certificate ${id} hashes to ${hash}, but the chain records ${recorded.statementHash}`);
    return res.text;
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

/** The readings request of `q` after `afterSeq`. */
function readingsRequest(q: ReadingsQuery, afterSeq: number): ReadingsRequest {
  return {
    v: 1,
    type: "readings",
    stream: q.stream,
    from: q.from,
    to: q.to,
    afterSeq,
    ...(q.limit ? { limit: q.limit } : {}),
    ...(q.event !== undefined ? { event: q.event } : {}),
  };
}

/**
 * The next page's cursor as an unverified readings answer claims it: the last seq of its last
 * item when it says `more`; undefined when it says no more or names none. Only a guess to ask
 * ahead with: the verified page decides whether that answer is used.
 */
function claimedCursor(res: FetchResponse): number | undefined {
  if (typeof res !== "object" || res === null || !("type" in res) || res.type !== "readings" || res.more !== true || !Array.isArray(res.items)) return undefined;
  const last: unknown = res.items.at(-1);
  if (typeof last !== "object" || last === null) return undefined;
  const { kind, proof } = last as { kind?: unknown; proof?: { seq?: unknown; seqs?: unknown } | null };
  const seq = kind === "run" && Array.isArray(proof?.seqs) ? proof.seqs.at(-1) : kind === "one" ? proof?.seq : undefined;
  return Number.isSafeInteger(seq) ? (seq as number) : undefined;
}

/** The grant a peer says it answered under, when it is the grant from its organisation to ours; else undefined. */
function checkGrantRef(grant: unknown, ownerOrg: number, selfOrg: number): GrantRef | undefined {
  if (typeof grant !== "object" || grant === null) return undefined;
  const g = grant as GrantRef;
  if (typeof g.scopeKey !== "string" || !/^0x[0-9a-f]{64}$/.test(g.scopeKey) || !Object.values(ScopeKind).includes(g.kind)) return undefined;
  const id = grantIdOf(ownerOrg, selfOrg, g.scopeKey);
  return g.id === id ? { id, scopeKey: g.scopeKey, kind: g.kind } : undefined;
}
