/**
 * A partner's client of a member's gateway, as any EPCIS-speaking tool would use it (the demo
 * scenario, tests, the benchmark): sign in with the organisation's account (EIP-4361 challenge,
 * then a bearer token), capture documents and follow the capture job, read JSON.
 *
 * A 401 on a request made with a token this client held is not a refusal yet: the gateway may
 * have restarted with another signing secret, or expired the token early. The client signs in
 * again once and repeats the request; only a 401 to a fresh token is the gateway's answer.
 */
import type { Signer } from "ethers";
import type { AuthChallenge, IssuedToken, TokenRequest } from "./api/auth.ts";
import type { CaptureJobAnswer } from "./api/capture.ts";
import type { Problem } from "./api/common.ts";
import { TracemeshError } from "./errors.ts";

export class GatewayError extends TracemeshError {
  constructor(
    readonly status: number,
    readonly problem: Partial<Problem>,
    what: string,
  ) {
    super("gateway-error", `${what}: ${status} ${problem.title ?? ""}${problem.detail ? `: ${problem.detail}` : ""}`);
  }
}

export class GatewayClient {
  private token: { value: string; expiresAt: number } | undefined;

  constructor(
    readonly url: string,
    private readonly signer: Signer,
  ) {}

  /** A bearer token, signing in again shortly before the current one expires. */
  async bearer(): Promise<string> {
    if (this.token && this.token.expiresAt - Date.now() > 60_000) return this.token.value;
    const address = await this.signer.getAddress();
    const challenge = await this.json<AuthChallenge>("GET", `/auth/challenge?address=${address}`, undefined, false);
    const signature = await this.signer.signMessage(challenge.message);
    const request: TokenRequest = { message: challenge.message, signature };
    const issued = await this.json<IssuedToken>("POST", "/auth/token", request, false);
    this.token = { value: issued.token, expiresAt: Date.parse(issued.expiresAt) };
    return issued.token;
  }

  /**
   * Captures an EPCIS document and waits for its job to finish (recorded on chain, or refused).
   * A string is sent as it is (EPCIS XML when it starts with "<", else JSON-LD text); anything
   * else as JSON-LD. `onProgress` sees the job each time it is polled.
   */
  async capture(document: unknown, options: { timeoutMs?: number; onProgress?: (job: CaptureJobAnswer) => void } = {}): Promise<CaptureJobAnswer> {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const raw = typeof document === "string";
    const contentType = raw && document.trimStart().startsWith("<") ? "application/xml" : "application/ld+json";
    const accepted = await this.send<CaptureJobAnswer>("POST", "/capture", raw ? document : JSON.stringify(document), true, contentType);
    const deadline = Date.now() + timeoutMs;
    let job = accepted;
    options.onProgress?.(job);
    while (job.state === "pending" || job.state === "running") {
      if (Date.now() > deadline) throw new Error(`capture job ${accepted.captureID} still ${job.state} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 300));
      job = await this.json<CaptureJobAnswer>("GET", `/capture/${accepted.captureID}`);
      options.onProgress?.(job);
    }
    return { ...job, ...(accepted.replay ? { replay: true } : {}) };
  }

  /** GET (or POST) JSON from the gateway; throws GatewayError with the problem's detail. */
  json<T>(method: "GET" | "POST", route: string, body?: unknown, auth = true, contentType = "application/json"): Promise<T> {
    return this.send(method, route, body === undefined ? undefined : JSON.stringify(body), auth, contentType);
  }

  /** Sends `body` as it is; with `auth`, once more with a fresh sign-in when the token it held is refused (401). */
  private async send<T>(method: "GET" | "POST", route: string, body: string | undefined, auth: boolean, contentType: string): Promise<T> {
    if (!auth) return this.request<T>(method, route, body, undefined, contentType);
    const held = this.token !== undefined;
    try {
      return await this.request<T>(method, route, body, await this.bearer(), contentType);
    } catch (e) {
      if (!(held && e instanceof GatewayError && e.status === 401)) throw e;
      this.token = undefined; // signed by a secret the gateway no longer has, or revoked: sign in again
      return this.request<T>(method, route, body, await this.bearer(), contentType);
    }
  }

  private async request<T>(method: "GET" | "POST", route: string, body: string | undefined, bearer: string | undefined, contentType: string): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (bearer !== undefined) headers["authorization"] = `Bearer ${bearer}`;
    if (body !== undefined) headers["content-type"] = contentType;
    const res = await fetch(new URL(route, this.url), { method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(60_000) });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = { detail: text.slice(0, 200) };
    }
    if (!res.ok) throw new GatewayError(res.status, (parsed ?? {}) as GatewayError["problem"], `${method} ${route}`);
    return parsed as T;
  }
}

