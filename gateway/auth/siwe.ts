/**
 * EIP-4361 Sign-In with Ethereum: the gateway issues a message with a single-use nonce kept
 * server side for five minutes; the caller signs it with one of its organisation's accounts and
 * trades message and signature for a token. Every check names what failed.
 */
import { randomBytes } from "node:crypto";
import { getAddress, isAddress } from "ethers";
import { SiweMessage } from "siwe";
import { HttpProblem, badRequest, unauthorized } from "../errors.ts";

export const SIGN_IN_STATEMENT = "Sign in to the Tracemesh gateway on behalf of my organisation.";

interface PendingChallenge {
  address: string;
  domain: string;
  expiresAt: number;
  /** Who asked for it (client-address.ts), for the per-client cap. */
  client: string;
}

/**
 * How many challenges may wait at once. A wallet needs one at a time: an address keeps its
 * newest `perAddress` (older ones are dropped), a client may hold `perClient` (then 429), so a
 * few clients can no longer fill the whole store (`total`, then 503 for everyone).
 */
export interface ChallengeLimits {
  perAddress: number;
  perClient: number;
  total: number;
}

export const DEFAULT_CHALLENGE_LIMITS: ChallengeLimits = { perAddress: 3, perClient: 20, total: 100_000 };

export interface Challenge {
  message: string;
  nonce: string;
  expiresAt: Date;
}

export class ChallengeStore {
  private readonly pending = new Map<string, PendingChallenge>();
  /** Nonces pending per address, oldest first. */
  private readonly byAddress = new Map<string, string[]>();
  private readonly perClient = new Map<string, number>();

  constructor(
    private readonly chainId: number,
    private readonly ttlMs: number,
    private readonly clock: () => number,
    private readonly limits: ChallengeLimits = DEFAULT_CHALLENGE_LIMITS,
  ) {}

  issue(addressText: string | undefined, domain: string, uri: string, client = "unknown"): Challenge {
    if (addressText === undefined || addressText === "") throw badRequest("the query parameter `address` (0x... account) is required");
    if (!isAddress(addressText)) throw badRequest(`\`address\` "${String(addressText).slice(0, 100)}" is not an Ethereum address`);
    const address = getAddress(addressText);
    this.sweep();
    if ((this.perClient.get(client) ?? 0) >= this.limits.perClient) {
      throw new HttpProblem(429, `${this.limits.perClient} sign-in challenges are already pending for ${client}; use one, or wait until they expire`, {
        type: "rate-limited",
        headers: { "Retry-After": String(Math.ceil(this.ttlMs / 1000)) },
      });
    }
    const ofAddress = this.byAddress.get(address) ?? [];
    for (const old of ofAddress.slice(0, Math.max(0, ofAddress.length - this.limits.perAddress + 1))) this.remove(old);
    if (this.pending.size >= this.limits.total) {
      throw new HttpProblem(503, "too many sign-in challenges are pending; try again in a few minutes", { type: "busy" });
    }
    const now = this.clock();
    // 32 hex characters: EIP-4361 wants at least 8 alphanumerics; 128 bits cannot be guessed.
    const nonce = randomBytes(16).toString("hex");
    const expiresAt = now + this.ttlMs;
    const message = new SiweMessage({
      domain,
      address,
      statement: SIGN_IN_STATEMENT,
      uri,
      version: "1",
      chainId: this.chainId,
      nonce,
      issuedAt: new Date(now).toISOString(),
      expirationTime: new Date(expiresAt).toISOString(),
    }).prepareMessage();
    this.pending.set(nonce, { address, domain, expiresAt, client });
    this.byAddress.set(address, [...(this.byAddress.get(address) ?? []), nonce]);
    this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
    return { message, nonce, expiresAt: new Date(expiresAt) };
  }

  /** Forgets a challenge and its place in the per-address and per-client counts. */
  private remove(nonce: string): void {
    const p = this.pending.get(nonce);
    if (p === undefined) return;
    this.pending.delete(nonce);
    const rest = (this.byAddress.get(p.address) ?? []).filter((n) => n !== nonce);
    if (rest.length === 0) this.byAddress.delete(p.address);
    else this.byAddress.set(p.address, rest);
    const count = (this.perClient.get(p.client) ?? 1) - 1;
    if (count <= 0) this.perClient.delete(p.client);
    else this.perClient.set(p.client, count);
  }

  /**
   * Checks `messageText` and `signature` and consumes the nonce; answers the signing account.
   * The nonce is spent only once the signature verifies, so a forged attempt cannot burn a
   * legitimate caller's challenge, and a replay of a used message is refused.
   */
  async redeem(messageText: unknown, signature: unknown): Promise<string> {
    if (typeof messageText !== "string" || messageText === "") throw badRequest("`message` (the EIP-4361 text from /auth/challenge) is required");
    if (typeof signature !== "string" || !/^0x[0-9a-fA-F]{130}$/.test(signature)) {
      throw badRequest("`signature` must be a 65-byte hex signature (0x + 130 hex digits)");
    }
    let msg: SiweMessage;
    try {
      msg = new SiweMessage(messageText);
    } catch (e) {
      throw badRequest(`\`message\` is not an EIP-4361 message: ${e instanceof Error ? e.message : String(e)}`);
    }
    const pending = this.pending.get(msg.nonce);
    if (pending === undefined) throw unauthorized(`nonce ${msg.nonce} is unknown or already used; ask /auth/challenge for a new one`);
    const now = this.clock();
    if (now >= pending.expiresAt) {
      this.remove(msg.nonce);
      throw unauthorized(`the challenge expired at ${new Date(pending.expiresAt).toISOString()}; ask for a new one`);
    }
    if (msg.domain !== pending.domain) throw unauthorized(`the message is for domain "${msg.domain}", this gateway issued it for "${pending.domain}"`);
    if (getAddress(msg.address) !== pending.address) throw unauthorized(`the message names account ${msg.address}, the challenge was issued to ${pending.address}`);
    if (msg.chainId !== this.chainId) throw unauthorized(`the message is for chain ${msg.chainId}, this gateway serves chain ${this.chainId}`);
    if (msg.expirationTime !== new Date(pending.expiresAt).toISOString()) throw unauthorized("the message's expiration time is not the one this gateway issued");
    // Taken out before awaiting the signature check, so two redemptions of one message can never
    // both succeed, even if the check ever waits on I/O (EIP-1271); put back if it fails.
    this.pending.delete(msg.nonce);
    const result = await msg.verify({ signature, domain: pending.domain, nonce: msg.nonce, time: new Date(now).toISOString() }, { suppressExceptions: true });
    if (!result.success) {
      this.pending.set(msg.nonce, pending);
      const why = result.error?.type ?? "unknown reason";
      throw unauthorized(
        /Signature/i.test(String(why))
          ? `the signature was not made by ${pending.address} over this message`
          : `the sign-in message was refused: ${why}`,
      );
    }
    // Spent: back in the map only to be forgotten with its counts.
    this.pending.set(msg.nonce, pending);
    this.remove(msg.nonce);
    return pending.address;
  }

  /** Drops expired challenges. All live equally long, so the oldest come first and the sweep stops at the first live one. */
  private sweep(): void {
    const now = this.clock();
    for (const [nonce, p] of this.pending) {
      if (now < p.expiresAt) break;
      this.remove(nonce);
    }
  }
}
