/**
 * `/tracemesh/access-request/1.0.0`: a partner's gateway passes an access request on to the
 * item maker's node, which keeps it like one made on its own gateway (node/passport/access-requests.ts:
 * the same checks, the same duplicate rule and limit of pending requests per requester, in the one
 * step `AccessRequestStore.submit`). No member's gateway address is on chain; its peer id is.
 *
 * Request (one UTF-8 JSON frame, framed as the fetch protocol's, protocol.ts):
 *   { v: 1, type: "submit", subject, scope, purpose, days }   (AccessRequestBody's fields)
 * Answer: an AccessRequestOutcome (lib/api/grants.ts): the kept request (201), or the status and
 * words of the refusal (400 malformed, 403 not a member or not the maker's item, 404 unknown item,
 * 409 the same request is pending, 429 too many pending, 503 the maker's node cannot take it now).
 *
 * Who asks: the organisation the Noise handshake proves the peer registered to (MembershipGate),
 * never anything the message says; any other field than the request's own is ignored. A peer of
 * no active member is refused (the gater does not even let it connect).
 */
import type { Libp2p } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import type { AccessRequestAnswer, AccessRequestBody, AccessRequestOutcome } from "../../lib/api/grants.ts";
import { DEFAULT_TIMEOUT_MS, MAX_REQUEST_BYTES, decodeJson, encodeJson, readFrame, withTimeout, writeFrame } from "./protocol.ts";

export const ACCESS_REQUEST_PROTOCOL = "/tracemesh/access-request/1.0.0";
/** Largest answer read: one request and its words (a request is a few hundred bytes). */
const MAX_ANSWER_BYTES = 64 * 1024;
const REFUSALS = new Set([400, 403, 404, 409, 429, 503]);

/** Takes a request for the maker's organisation from `requester` (an organisation id the handshake proved). */
export type AccessRequestIntake = (requester: number, body: AccessRequestBody) => Promise<AccessRequestOutcome>;

/** The request's own fields out of a message, or what is wrong with it (the fields' values are checked by the intake). */
export function parseAccessRequestMessage(value: unknown): AccessRequestBody | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "the request is not a JSON object";
  const r = value as Record<string, unknown>;
  if (r.v !== 1 || r.type !== "submit") return 'the request is not { v: 1, type: "submit", subject, scope, purpose, days }';
  // Only the request's own fields go on: a `requester` or `owner` the message names is not read.
  return { subject: r.subject, scope: r.scope, purpose: r.purpose, days: r.days } as AccessRequestBody;
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
  await host.handle(
    ACCESS_REQUEST_PROTOCOL,
    async (stream, connection) => {
      const peer = connection.remotePeer.toString();
      try {
        await withTimeout(stream, o.timeoutMs ?? DEFAULT_TIMEOUT_MS, async () => {
          let answer: AccessRequestOutcome;
          try {
            const parsed = parseAccessRequestMessage(decodeJson(await readFrame(stream, MAX_REQUEST_BYTES)));
            answer = typeof parsed === "string" ? { status: 400, detail: parsed } : await take(parsed, peer, o);
          } catch (e) {
            o.onError?.(e);
            answer = { status: 400, detail: `the request is not a UTF-8 JSON frame of at most ${MAX_REQUEST_BYTES} bytes` };
          }
          o.onAnswer?.(peer, answer.status, answer.status === 201 ? answer.request.id : answer.detail);
          await writeFrame(stream, encodeJson(answer), MAX_ANSWER_BYTES);
          await stream.close();
        });
      } catch (e) {
        o.onError?.(e);
        stream.abort(e as Error);
      }
    },
    { maxInboundStreams: 4 },
  );
}

async function take(body: AccessRequestBody, peer: string, o: AccessRequestServerOptions): Promise<AccessRequestOutcome> {
  const requester = await o.orgOf(peer);
  if (requester === 0) return { status: 403, detail: `peer ${peer} is not registered to an active member organisation` };
  const intake = o.intake();
  if (intake === undefined) return { status: 503, detail: "this node does not take access requests yet" };
  return intake(requester, body);
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

  async submit(maker: number, body: AccessRequestBody): Promise<AccessRequestOutcome> {
    const timeoutMs = this.o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const failures: string[] = [];
    for (const peer of await this.o.peersOf(maker)) {
      try {
        const stream = await this.o.host.dialProtocol(peerIdFromString(peer), ACCESS_REQUEST_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) });
        const answer = await withTimeout(stream, timeoutMs, async () => {
          await writeFrame(stream, encodeJson({ v: 1, type: "submit", ...body }), MAX_REQUEST_BYTES);
          await stream.close();
          return decodeJson(await readFrame(stream, MAX_ANSWER_BYTES));
        });
        return checkAnswer(answer, maker, this.o.selfOrg);
      } catch (e) {
        failures.push(`${peer}: ${(e as Error).message}`);
      }
    }
    throw new AccessRelayError(failures.length === 0 ? `organisation ${maker} has no node registered on chain` : `no node of organisation ${maker} took the request (${failures.join("; ")})`);
  }
}
