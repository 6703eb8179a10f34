/**
 * The node's chain client (ethers v6).
 *
 * - One NonceManager per signing account, shared by everything the node sends from it, so
 *   concurrent writers never race for a nonce; after a failed send it is reset from the chain.
 * - Receipts are polled (not subscribed), with a timeout; a transaction counts once it is
 *   `confirmations` blocks deep (1 on a QBFT chain, where blocks are final).
 * - Contract refusals are decoded into their custom errors; everything else (connection refused,
 *   timeouts, server errors) is a ChainUnavailableError, which callers retry.
 *
 * `AnchorChain` is DataAnchors as the anchorer sees it: lastSequence, getAnchor, and one
 * submit for one window (`anchor`) or several (`anchorBatch`), and submitLost for windows the
 * node's store lost before they were anchored (`recordLostWindows`).
 */
import { decodeCustomError } from "../../lib/revert.ts";
import { type Interface, NonceManager, type Provider, type Signer, type TransactionReceipt, type TransactionRequest, type TransactionResponse, Wallet } from "ethers";
import { type DataAnchors, DataAnchors__factory, IConsortium__factory } from "../../lib/contracts/types/index.js";
import { AnchorRejectedError, ChainUnavailableError } from "./errors.ts";
import { sleep } from "../../lib/retry.ts";

/** The node's provider: every call bounded in time (lib/rpc-provider.ts). */
export { rpcProvider } from "../../lib/rpc-provider.ts";

export interface ChainClientOptions {
  /** Blocks a transaction must be deep before it counts (default 1: in a block). */
  confirmations?: number;
  /** Receipt polling interval, ms (default 250). */
  pollMs?: number;
  /** Give up waiting for a receipt after this long, ms (default 60,000); the caller reconciles. */
  receiptTimeoutMs?: number;
}

/**
 * ethers' NonceManager, except that a failure to populate the transaction (the chain is down)
 * no longer leaves the nonce lookup it started unawaited: ethers' own sendTransaction does, and
 * that rejection, handled by nobody, ended member processes whose chain went away.
 */
export class AccountNonceManager extends NonceManager {
  override async sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    const noncePromise = this.getNonce("pending");
    // Awaited below once the transaction is populated; until then its failure is nobody's.
    noncePromise.catch(() => undefined);
    this.increment();
    const populated = await this.signer.populateTransaction(tx);
    populated.nonce = await noncePromise;
    return await this.signer.sendTransaction(populated);
  }
}

export class ChainClient {
  private readonly managers = new Map<string, NonceManager>();
  readonly confirmations: number;
  private readonly pollMs: number;
  private readonly receiptTimeoutMs: number;

  constructor(
    readonly provider: Provider,
    options: ChainClientOptions = {},
  ) {
    this.confirmations = Math.max(1, options.confirmations ?? 1);
    this.pollMs = options.pollMs ?? 250;
    this.receiptTimeoutMs = options.receiptTimeoutMs ?? 60_000;
  }

  /**
   * The chain's time in Unix ms: the timestamp the next block will carry at the least (the
   * pending block where the chain builds one, as automining dev chains do; else the latest).
   */
  async chainTimeMs(): Promise<number> {
    try {
      const block = (await this.provider.getBlock("pending").catch(() => null)) ?? (await this.provider.getBlock("latest"));
      if (block === null) throw new Error("the chain returned no latest block");
      return block.timestamp * 1000;
    } catch (e) {
      throw unavailable(e, "reading the latest block's time");
    }
  }

  /** The one NonceManager of `signer`'s account (connected to this client's provider). */
  async managed(signer: Signer): Promise<NonceManager> {
    const address = (await signer.getAddress()).toLowerCase();
    let m = this.managers.get(address);
    if (m === undefined) {
      m = new AccountNonceManager(signer.provider ? signer : signer.connect(this.provider));
      this.managers.set(address, m);
    }
    return m;
  }

  /** Waits until `hash` is mined and `confirmations` deep; throws ChainUnavailableError on timeout. */
  async confirmed(hash: string, signal?: AbortSignal): Promise<TransactionReceipt> {
    const deadline = Date.now() + this.receiptTimeoutMs;
    for (;;) {
      if (signal?.aborted) throw new ChainUnavailableError(`stopped while waiting for ${hash}`);
      let receipt: TransactionReceipt | null = null;
      let head = 0;
      try {
        receipt = await this.provider.getTransactionReceipt(hash);
        if (receipt !== null) head = await this.provider.getBlockNumber();
      } catch (e) {
        if (Date.now() > deadline) throw unavailable(e, `waiting for transaction ${hash}`);
      }
      if (receipt !== null && head - receipt.blockNumber + 1 >= this.confirmations) return receipt;
      if (Date.now() > deadline) throw new ChainUnavailableError(`transaction ${hash} not confirmed within ${this.receiptTimeoutMs} ms`);
      await sleep(this.pollMs, signal);
    }
  }
}

/** A window as DataAnchors takes it. */
export interface AnchorWindow {
  sequence: number;
  root: string;
  prevRoot: string;
  fromTimeMs: number;
  toTimeMs: number;
  leafCount: number;
}

/** Windows the node's store lost before they were anchored, as DataAnchors.recordLostWindows takes them. */
export interface LostWindows {
  fromSequence: number;
  toSequence: number;
  /** The root of window toSequence, as the node's next window names it. */
  root: string;
  /** The root of the node's last anchor. */
  prevRoot: string;
  /** The end of the node's last anchor. */
  fromTimeMs: number;
  /** The start of the node's next window. */
  toTimeMs: number;
}

export interface ChainAnchor {
  root: string;
  fromTimeMs: bigint;
  toTimeMs: bigint;
  anchoredAt: bigint;
  leafCount: bigint;
}

export interface Submitted {
  txHash: string;
  blockNumber: number;
  /** Block timestamp, Unix seconds. */
  anchoredAt: number;
}

export interface AnchorChainHooks {
  /** Called once a transaction is broadcast, before its receipt (tests crash the node here). */
  afterSend?: (txHash: string, windows: readonly AnchorWindow[]) => void;
}

/** The custom error in a failed call, decoded with `iface` (see lib/revert.ts). */
export const decodeRevert = decodeCustomError;

function unavailable(e: unknown, doing: string): ChainUnavailableError {
  const msg = (e as { shortMessage?: string; message?: string })?.shortMessage ?? (e as Error)?.message ?? String(e);
  return new ChainUnavailableError(`chain unavailable while ${doing}: ${msg}`, { cause: e });
}

export class AnchorChain {
  private maxSkewMs: number | undefined;

  private constructor(
    readonly client: ChainClient,
    readonly node: string,
    private readonly reader: DataAnchors,
    private readonly writer: DataAnchors,
    private readonly manager: NonceManager,
    private readonly fromBlock: number,
    private readonly hooks: AnchorChainHooks,
  ) {}

  /** DataAnchors at `address`, read through the client's provider and written by `signer`. */
  static async create(client: ChainClient, address: string, signer: Signer, options: { deploymentBlock?: number; hooks?: AnchorChainHooks } = {}): Promise<AnchorChain> {
    const manager = await client.managed(signer);
    const node = await signer.getAddress();
    return new AnchorChain(
      client,
      node,
      DataAnchors__factory.connect(address, client.provider),
      DataAnchors__factory.connect(address, manager),
      manager,
      options.deploymentBlock ?? 0,
      options.hooks ?? {},
    );
  }

  /**
   * The latest window end DataAnchors accepts now: chain time plus its MAX_CLOCK_SKEW_MS. A
   * window ending later is refused (WindowEndsInFuture) until the chain's time catches up.
   */
  async latestAllowedEndMs(): Promise<{ chainTimeMs: number; latestAllowedMs: number }> {
    if (this.maxSkewMs === undefined) {
      try {
        this.maxSkewMs = Number(await this.reader.MAX_CLOCK_SKEW_MS());
      } catch (e) {
        throw unavailable(e, "reading MAX_CLOCK_SKEW_MS");
      }
    }
    const chainTimeMs = await this.client.chainTimeMs();
    return { chainTimeMs, latestAllowedMs: chainTimeMs + this.maxSkewMs };
  }

  get interface(): Interface {
    return this.reader.interface;
  }

  async lastSequence(): Promise<number> {
    try {
      return Number(await this.reader.lastSequence(this.node));
    } catch (e) {
      throw unavailable(e, "reading lastSequence");
    }
  }

  /** The node's anchor `sequence`, or undefined when there is none. */
  async getAnchor(sequence: number): Promise<ChainAnchor | undefined> {
    try {
      const a = await this.reader.getAnchor(this.node, sequence);
      return { root: a.root, fromTimeMs: a.fromTimeMs, toTimeMs: a.toTimeMs, anchoredAt: a.anchoredAt, leafCount: a.leafCount };
    } catch (e) {
      if (decodeRevert(e, this.reader.interface)?.name === "AnchorNotFound") return undefined;
      throw unavailable(e, `reading anchor ${sequence}`);
    }
  }

  /** The transaction that anchored `sequence` (from its WindowAnchored event), when the chain still serves the logs. */
  async anchorTx(sequence: number): Promise<{ txHash: string; blockNumber: number } | undefined> {
    try {
      const logs = await this.reader.queryFilter(this.reader.filters.WindowAnchored(this.node, undefined, sequence), this.fromBlock);
      const log = logs[0];
      return log ? { txHash: log.transactionHash, blockNumber: log.blockNumber } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Forgets the account's next nonce, so the next send reads it from the chain (which may have lost transactions). */
  resetNonce(): void {
    this.manager.reset();
  }

  /** The organisation the node's account acts for (0 when none is active), via the Consortium. */
  async activeOrg(): Promise<number> {
    try {
      const consortium = IConsortium__factory.connect(await this.reader.consortium(), this.client.provider);
      const [orgId] = await consortium.activeOrgOf(this.node);
      return Number(orgId);
    } catch (e) {
      throw unavailable(e, "reading the node's organisation");
    }
  }

  /**
   * Anchors consecutive windows in one transaction and waits until it is confirmed. Throws
   * AnchorRejectedError when the contract refuses (e.g. AlreadyAnchored), ChainUnavailableError
   * when the chain cannot be reached or the receipt does not come (the caller reconciles).
   */
  async submit(windows: readonly AnchorWindow[], signal?: AbortSignal): Promise<Submitted> {
    if (windows.length === 0) throw new RangeError("nothing to anchor");
    const w = windows[0]!;
    return this.send(
      () => (windows.length === 1 ? this.writer.anchor(w.sequence, w.root, w.prevRoot, w.fromTimeMs, w.toTimeMs, w.leafCount) : this.writer.anchorBatch(windows.map((x) => ({ ...x })))),
      `anchoring windows ${w.sequence}..${windows.at(-1)!.sequence}`,
      windows,
      signal,
    );
  }

  /** Records on chain that windows were lost before they were anchored (see LostWindows); errors as submit. */
  async submitLost(run: LostWindows, signal?: AbortSignal): Promise<Submitted> {
    return this.send(
      () => this.writer.recordLostWindows(run.fromSequence, run.toSequence, run.root, run.prevRoot, run.fromTimeMs, run.toTimeMs),
      `recording windows ${run.fromSequence}..${run.toSequence} as lost`,
      [],
      signal,
    );
  }

  /** The transaction that recorded the lost run starting at `fromSequence` (its WindowsLost event), when the chain still serves the logs. */
  async lostTx(fromSequence: number): Promise<{ txHash: string; blockNumber: number } | undefined> {
    try {
      const logs = await this.reader.queryFilter(this.reader.filters.WindowsLost(this.node, undefined, fromSequence), this.fromBlock);
      const log = logs[0];
      return log ? { txHash: log.transactionHash, blockNumber: log.blockNumber } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Sends one transaction and waits until it is confirmed (see submit). */
  private async send(transaction: () => Promise<{ hash: string }>, doing: string, windows: readonly AnchorWindow[], signal?: AbortSignal): Promise<Submitted> {
    let hash: string;
    try {
      hash = (await transaction()).hash;
    } catch (e) {
      this.manager.reset();
      const revert = decodeRevert(e, this.reader.interface);
      if (revert) throw new AnchorRejectedError(revert.name, revert.args, { cause: e });
      throw unavailable(e, doing);
    }
    this.hooks.afterSend?.(hash, windows);
    let receipt: TransactionReceipt;
    try {
      receipt = await this.client.confirmed(hash, signal);
    } catch (e) {
      // Never mined (a chain restarted from older state queues a nonce it has not reached): ask anew.
      this.manager.reset();
      throw e;
    }
    if (receipt.status !== 1) {
      // Mined but reverted, e.g. an earlier copy of the same anchor landed first.
      throw new AnchorRejectedError("TransactionReverted", [hash]);
    }
    let anchoredAt = 0;
    try {
      anchoredAt = (await this.client.provider.getBlock(receipt.blockNumber))?.timestamp ?? 0;
    } catch {
      // the anchor is on chain; its time can be read again later
    }
    return { txHash: hash, blockNumber: receipt.blockNumber, anchoredAt };
  }
}

/** A wallet for the node's key, connected to `provider`. */
export function nodeWallet(privateKey: string, provider: Provider): Wallet {
  return new Wallet(privateKey, provider);
}
