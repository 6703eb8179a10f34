/**
 * `/tracemesh/access-request/1.0.0`: a partner's gateway passes an access request on to the
 * item maker's node, which keeps it like one made on its own gateway (node/passport/access-requests.ts:
 * the same checks, the same duplicate rule and limit of pending requests per requester, in the one
 * step `AccessRequestStore.submit`). No member's gateway address is on chain; its peer id is.
 *
 * Requests (one UTF-8 JSON frame, framed as the fetch protocol's, protocol.ts):
 *   { v: 1, type: "submit", subject, scope, purpose, days }   (AccessRequestBody's fields)
 *     answered with an AccessRequestOutcome (lib/api/grants.ts): the kept request (201), or the
 *     status and words of the refusal (400 malformed, 403 not a member or not the maker's item,
 *     404 unknown item, 409 the same request is pending, 429 too many pending, 503 the maker's
 *     node cannot take it now);
 *   { v: 1, type: "mine" }
 *     answered { status: 200, requests }: the asking organisation's own requests to the maker and
 *     their state (pending, approved with its grant, declined), newest first, at most MAX_MINE.
 *
 * Who asks: the organisation the Noise handshake proves the peer registered to (MembershipGate),
 * never anything the message says; any other field than the request's own is ignored. A peer of
 * no active member is refused (the gater does not even let it connect).
 */
import type { Libp2p } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import type { AccessRequestAnswer, AccessRequestBody, AccessRequestOutcome } from "../../lib/api/grants.ts";
import { DEFAULT_TIMEOUT_MS, MAX_REQUEST_BYTES, decodeJson, encodeJson, readFrame, serveRequests, withTimeout, writeFrame } from "./protocol.ts";

export const ACCESS_REQUEST_PROTOCOL = "/tracemesh/access-request/1.0.0";
/** Most requests a "mine" answer lists (the newest). */
export const MAX_MINE = 200;
/** Largest answer read: MAX_MINE requests of a few hundred bytes each, with room. */
const MAX_ANSWER_BYTES = 1024 * 1024;
const REFUSALS = new Set([400, 403, 404, 409, 429, 503]);

/** The maker side: what a requester (an organisation id the handshake proved) may do there. */
export interface AccessRequestIntake {
  /** Takes a request for the maker's organisation from `requester`. */
  take(requester: number, body: AccessRequestBody): Promise<AccessRequestOutcome>;
  /** `requester`'s own requests to the maker, newest first. */
  mine(requester: number): Promise<AccessRequestAnswer[]>;
}

type Message = { type: "submit"; body: AccessRequestBody } | { type: "mine" };
type Answer = AccessRequestOutcome | { status: 200; requests: AccessRequestAnswer[] };

/** A message, with only the request's own fields, or what is wrong with it (the fields' values are checked by the intake). */
export function parseAccessRequestMessage(value: unknown): Message | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "the request is not a JSON object";
  const r = value as Record<string, unknown>;
  if (r.v === 1 && r.type === "mine") return { type: "mine" };
  if (r.v !== 1 || r.type !== "submit") return 'the request is not { v: 1, type: "submit", subject, scope, purpose, days } or { v: 1, type: "mine" }';
  // Only the request's own fields go on: a `requester` or `owner` the message names is not read.
  return { type: "submit", body: { subject: r.subject, scope: r.scope, purpose: r.purpose, days: r.days } as AccessRequestBody };
}

export interface AccessRequestServerOptions {
  /** The active organisation a peer id is registered to, or 0 (MembershipGate.orgOf). */
  orgOf(peerId: string): Promise<number>;
  /** The maker side's intake, once the member handed it over (absent: 503). */
  intake(): AccessRequestIntake | undefined;
  timeoutMs?: number;
  /** Told about every answer (status and metrics). */
  onAnswer?: (peer: string, status: number, detail: string) => void;
  onError?: (err: unknown) => void;
}

/** Registers the access request protocol's handler on `host`. */
export async function serveAccessRequests(host: Pick<Libp2p, "handle">, o: AccessRequestServerOptions): Promise<void> {
  const limits = { maxRequestBytes: MAX_REQUEST_BYTES, maxAnswerBytes: MAX_ANSWER_BYTES, timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxInboundStreams: 4, onError: o.onError };
  await serveRequests(host, ACCESS_REQUEST_PROTOCOL, limits, async (received, peer) => {
    let answer: Answer;
    try {
      if ("error" in received) throw received.error;
      const parsed = parseAccessRequestMessage(received.value);
      answer = typeof parsed === "string" ? { status: 400, detail: parsed } : await take(parsed, peer, o);
    } catch (e) {
      o.onError?.(e);
      answer = { status: 400, detail: `the request is not a UTF-8 JSON frame of at most ${MAX_REQUEST_BYTES} bytes` };
    }
    o.onAnswer?.(peer, answer.status, "detail" in answer ? answer.detail : "");
    return encodeJson(answer);
  });
}

async function take(message: Message, peer: string, o: AccessRequestServerOptions): Promise<Answer> {
  const requester = await o.orgOf(peer);
  if (requester === 0) return { status: 403, detail: `peer ${peer} is not registered to an active member organisation` };
  const intake = o.intake();
  if (intake === undefined) return { status: 503, detail: "this node does not take access requests yet" };
  if (message.type === "mine") return { status: 200, requests: (await intake.mine(requester)).slice(0, MAX_MINE) };
  return intake.take(requester, message.body);
}

/** The maker's node's answer, checked for shape and for being about this request: anything else is a malformed answer. */
function checkAnswer(value: unknown, maker: number, self: number): AccessRequestOutcome {
  const a = value as Record<string, unknown> | null;
  if (typeof a !== "object" || a === null || typeof a.status !== "number") throw new AccessRelayError("the maker's node sent a malformed answer");
  if (a.status === 201) {
    const r = a.request as AccessRequestAnswer | undefined;
    if (typeof r !== "object" || r === null || typeof r.id !== "string" || r.requester?.id !== self || r.owner?.id !== maker || r.state !== "pending")
      throw new AccessRelayError("the maker's node answered with a request that is not this one");
    return { status: 201, request: r };
  }
  if (!REFUSALS.has(a.status) || typeof a.detail !== "string") throw new AccessRelayError("the maker's node sent a malformed answer");
  const extra = typeof a.extra === "object" && a.extra !== null && !Array.isArray(a.extra) ? { extra: a.extra as Record<string, unknown> } : {};
  return { status: a.status as 400, detail: a.detail.slice(0, 1000), ...extra };
}

/** The maker's node could not be reached, or answered nonsense: the request was not passed on. */
export class AccessRelayError extends Error {
  override name = "AccessRelayError";
}

/** What the gateway asks of the peer network to pass a request on (its `accessRelay` service slot). */
export interface AccessRelayService {
  /** Passes `body` on to `maker`'s node and answers what became of it; throws AccessRelayError when no node of `maker` took it. */
  submit(maker: number, body: AccessRequestBody): Promise<AccessRequestOutcome>;
  /** This organisation's own requests to `maker` and their state, as `maker`'s node keeps them; throws AccessRelayError when none answered. */
  mine(maker: number): Promise<AccessRequestAnswer[]>;
}

/** Passes requests on to the maker's nodes, connected ones first; the first that answers decides. */
export class AccessRequestRelay implements AccessRelayService {
  constructor(
    private readonly o: {
      host: Pick<Libp2p, "dialProtocol">;
      /** This node's organisation (the requester an answer must name). */
      selfOrg: number;
      peersOf(org: number): Promise<string[]>;
      timeoutMs?: number;
    },
  ) {}

  submit(maker: number, body: AccessRequestBody): Promise<AccessRequestOutcome> {
    return this.ask(maker, { v: 1, type: "submit", ...body }, (answer) => checkAnswer(answer, maker, this.o.selfOrg));
  }

  mine(maker: number): Promise<AccessRequestAnswer[]> {
    return this.ask(maker, { v: 1, type: "mine" }, (answer) => {
      const a = answer as { status?: unknown; requests?: unknown } | null;
      if (a?.status !== 200 || !Array.isArray(a.requests) || a.requests.length > MAX_MINE) throw new AccessRelayError(`the maker's node did not list this organisation's requests${typeof (a as { detail?: unknown })?.detail === "string" ? `: ${(a as { detail: string }).detail}` : ""}`);
      // Only this organisation's requests to that maker, whatever else a node sends.
      return (a.requests as AccessRequestAnswer[]).filter((r) => typeof r === "object" && r !== null && r.requester?.id === this.o.selfOrg && r.owner?.id === maker && typeof r.id === "string");
    });
  }

  /** Sends `message` to `maker`'s nodes in turn; the first whose answer `check` accepts decides. */
  private async ask<T>(maker: number, message: unknown, check: (answer: unknown) => T): Promise<T> {
    const timeoutMs = this.o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const failures: string[] = [];
    for (const peer of await this.o.peersOf(maker)) {
      try {
        const stream = await this.o.host.dialProtocol(peerIdFromString(peer), ACCESS_REQUEST_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) });
        const answer = await withTimeout(stream, timeoutMs, async () => {
          await writeFrame(stream, encodeJson(message), MAX_REQUEST_BYTES);
          await stream.close();
          return decodeJson(await readFrame(stream, MAX_ANSWER_BYTES));
        });
        return check(answer);
      } catch (e) {
        failures.push(`${peer}: ${(e as Error).message}`);
      }
    }
    throw new AccessRelayError(failures.length === 0 ? `organisation ${maker} has no node registered on chain` : `no node of organisation ${maker} answered (${failures.join("; ")})`);
  }
}
