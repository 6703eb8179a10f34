/**
 * A connection to one consortium: the chain behind --rpc, the contracts named by the deployment
 * record, the signing key (if any), and the checks every command makes before it sends.
 */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import {
  type ContractTransactionReceipt,
  type ContractTransactionResponse,
  JsonRpcProvider,
  Network,
  Wallet,
  getAddress,
  isAddress,
} from "ethers";
import { OrgStatus, Role } from "../../lib/consortium.ts";
import { type Deployment, type TracemeshContracts, connectContracts, readDeployment } from "../../lib/deployment.ts";
import { type Namer, orgStatusName, roleNames } from "./describe.ts";
import { type ContractName, type DecodedRevert, decodeRevert, isRevert, revertDataOf } from "./errors.ts";
import { type Output, Refusal, UsageError, addSecret } from "./output.ts";

export interface OrgInfo {
  id: number;
  name: string;
  status: OrgStatus;
  roles: bigint;
}

export interface Caller {
  address: string;
  /** The organisation the account is bound to (0: none), whatever its status. */
  orgId: number;
  retired: boolean;
  org?: OrgInfo;
}

export interface SessionOptions {
  rpc: string;
  deploymentFile: string;
  keyFile?: string;
  envKey?: string;
  keyPassword?: string;
  out: Output;
}

/** A refusal carrying a decoded contract error. */
export class ContractRefusal extends Refusal {
  constructor(
    readonly decoded: DecodedRevert,
    readonly stage: "before sending" | "mined" | "call",
  ) {
    super(decoded.message, {
      contract: decoded.contract,
      error: decoded.name,
      signature: decoded.signature,
      args: decoded.args,
      stage,
    });
  }
}

export interface Sent {
  hash: string;
  blockNumber: number;
  gasUsed: bigint;
  receipt: ContractTransactionReceipt;
}

async function chainIdAt(url: string): Promise<number> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (e as Error).message;
    throw new Refusal(`cannot reach the chain at ${url} (${why}); is the node running? (the local demo: npm start)`, {
      rpc: url,
    });
  }
  const body = (await res.json().catch(() => undefined)) as { result?: string; error?: { message?: string } } | undefined;
  if (!res.ok || typeof body?.result !== "string") {
    throw new Refusal(
      `${url} did not answer eth_chainId (HTTP ${res.status}${body?.error?.message ? `: ${body.error.message}` : ""})`,
      { rpc: url },
    );
  }
  return Number(BigInt(body.result));
}

function parseHexKey(text: string, source: string): string {
  const t = text.trim();
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(t)) {
    // Never echo the content: it may be a key with a typo.
    throw new UsageError(
      `${source} does not hold a private key: expected 64 hex digits (optionally after 0x) or an encrypted JSON keystore`,
    );
  }
  return t.startsWith("0x") || t.startsWith("0X") ? `0x${t.slice(2)}` : `0x${t}`;
}

/** The signing key from --key-file or $TRACEMESH_KEY, connected to `provider` when one is given. */
export async function loadWallet(opts: Pick<SessionOptions, "keyFile" | "envKey" | "keyPassword" | "out">, provider?: JsonRpcProvider): Promise<Wallet | undefined> {
  if (opts.keyFile) {
    let content: string;
    try {
      content = readFileSync(opts.keyFile, "utf8");
    } catch (e) {
      throw new UsageError(
        `cannot read the key file ${opts.keyFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    try {
      if ((statSync(opts.keyFile).mode & 0o077) !== 0 && process.platform !== "win32") {
        opts.out.warn(`the key file ${opts.keyFile} is readable by other users; chmod 600 ${opts.keyFile}`);
      }
    } catch {
      // permissions are advice only
    }
    const trimmed = content.trim();
    if (trimmed.startsWith("{")) {
      if (!opts.keyPassword) {
        throw new UsageError(`${opts.keyFile} is an encrypted keystore: set its password in TRACEMESH_KEY_PASSWORD`);
      }
      try {
        const w = await Wallet.fromEncryptedJson(trimmed, opts.keyPassword);
        addSecret(w.privateKey);
        return new Wallet(w.privateKey, provider);
      } catch (e) {
        throw new Refusal(
          `cannot decrypt the keystore ${opts.keyFile}: ${/password/i.test((e as Error).message) ? "wrong password" : "not a valid keystore"}`,
        );
      }
    }
    const key = parseHexKey(trimmed, `the key file ${opts.keyFile}`);
    addSecret(key);
    return new Wallet(key, provider);
  }
  if (opts.envKey !== undefined && opts.envKey.trim() !== "") {
    const key = parseHexKey(opts.envKey, "TRACEMESH_KEY");
    addSecret(key);
    return new Wallet(key, provider);
  }
  return undefined;
}

export class Session implements Namer {
  private directory?: Promise<OrgInfo[]>;
  private callerInfo?: Promise<Caller | undefined>;
  private signedContracts?: TracemeshContracts;

  private constructor(
    readonly out: Output,
    readonly rpcUrl: string,
    readonly deploymentFile: string,
    readonly deployment: Deployment,
    readonly chainId: number,
    readonly provider: JsonRpcProvider,
    readonly contracts: TracemeshContracts,
    readonly wallet: Wallet | undefined,
  ) {}

  static async open(opts: SessionOptions): Promise<Session> {
    const file = path.resolve(opts.deploymentFile);
    let deployment: Deployment;
    try {
      deployment = readDeployment(file);
    } catch (e) {
      throw new Refusal(`${(e as Error).message}. Start the local demo (npm start) or give --deployment FILE.`, {
        deployment: file,
      });
    }
    // The provider is bound to the record's chain; the node is asked below whether it serves it.
    const provider = new JsonRpcProvider(opts.rpc, Network.from(deployment.chainId), { staticNetwork: true });
    // Besu QBFT seals a block every few seconds: look for the receipt more often than ethers' 4 s.
    provider.pollingInterval = 1000;
    try {
      // The key first: a missing or malformed key is the caller's mistake whether or not the chain is up.
      const wallet = await loadWallet(opts, provider);
      const chainId = await chainIdAt(opts.rpc);
      if (chainId !== deployment.chainId) {
        throw new Refusal(
          `the deployment record ${opts.deploymentFile} is for chain ${deployment.chainId}, but ${opts.rpc} serves chain ${chainId}: wrong --rpc or --deployment?`,
          { expectedChainId: deployment.chainId, chainId },
        );
      }
      if ((await provider.getCode(deployment.contracts.consortium)) === "0x") {
        throw new Refusal(
          `there is no Consortium contract at ${deployment.contracts.consortium} on ${opts.rpc}: was the chain reset after ${opts.deploymentFile} was written?`,
          { consortium: deployment.contracts.consortium },
        );
      }
      return new Session(
        opts.out,
        opts.rpc,
        opts.deploymentFile,
        deployment,
        chainId,
        provider,
        connectContracts(deployment.contracts, provider),
        wallet,
      );
    } catch (e) {
      provider.destroy();
      throw e;
    }
  }

  close(): void {
    this.provider.destroy();
  }

  /** The chain's clock: the latest block's timestamp, in seconds. */
  async now(): Promise<number> {
    const block = await this.provider.getBlock("latest");
    return block?.timestamp ?? Math.floor(Date.now() / 1000);
  }

  // ------------------------------------------------------------ organisations

  /** Every organisation, read once per run. */
  orgs(): Promise<OrgInfo[]> {
    this.directory ??= (async () => {
      const { consortium } = this.contracts;
      const count = Number(await consortium.orgCount());
      return Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const [name, status, roles] = await consortium.org(i + 1);
          return { id: i + 1, name, status: Number(status) as OrgStatus, roles };
        }),
      );
    })();
    return this.directory;
  }

  private known: Map<number, OrgInfo> = new Map();

  /** Loads the directory so that messages can name organisations; never fails. */
  async loadNames(): Promise<void> {
    try {
      for (const o of await this.orgs()) this.known.set(o.id, o);
    } catch {
      // names are a courtesy in messages
    }
  }

  /** Namer: "Delta Machining Works (#3)" */
  org(id: number): string {
    const o = this.known.get(id);
    return o ? `${o.name} (#${id})` : `organisation #${id}`;
  }

  /** The bare name, null when unknown (for --json). */
  orgName(id: number): string | null {
    return this.known.get(id)?.name ?? null;
  }

  async orgById(id: number): Promise<OrgInfo> {
    const o = (await this.orgs()).find((x) => x.id === id);
    if (!o)
      throw new Refusal(`there is no organisation #${id} (the consortium has ${(await this.orgs()).length})`, { orgId: id });
    return o;
  }

  /** An organisation by id ("3" or "#3"), exact name (any case), unique part of a name, or account. */
  async resolveOrg(ref: string | undefined, label = "<org>"): Promise<OrgInfo> {
    if (ref === undefined || ref.trim() === "") throw new UsageError(`${label} is missing`);
    const r = ref.trim();
    if (/^#?\d+$/.test(r)) return this.orgById(Number(r.replace("#", "")));
    if (/^0x/i.test(r)) {
      if (!isAddress(r)) throw new UsageError(`${label} "${r}" is neither an organisation id, a name, nor an account address`);
      const [orgId] = await this.contracts.consortium.accountRecord(getAddress(r));
      if (Number(orgId) === 0)
        throw new Refusal(`account ${getAddress(r)} belongs to no organisation of this consortium`, { account: getAddress(r) });
      return this.orgById(Number(orgId));
    }
    const all = await this.orgs();
    const lower = r.toLowerCase();
    const exact = all.filter((o) => o.name.toLowerCase() === lower);
    const partial = exact.length > 0 ? exact : all.filter((o) => o.name.toLowerCase().includes(lower));
    if (partial.length === 1) return partial[0]!;
    if (partial.length === 0) throw new Refusal(`no organisation is called "${r}" (try \`tm org list\`)`, { name: r });
    throw new Refusal(`"${r}" matches several organisations: ${partial.map((o) => this.org(o.id)).join(", ")}; give the id`, {
      name: r,
      matches: partial.map((o) => o.id),
    });
  }

  // ------------------------------------------------------------ the caller

  /** Who the key signs for; undefined without a key. */
  caller(): Promise<Caller | undefined> {
    this.callerInfo ??= (async () => {
      if (!this.wallet) return undefined;
      const [orgId, retired] = await this.contracts.consortium.accountRecord(this.wallet.address);
      const id = Number(orgId);
      return { address: this.wallet.address, orgId: id, retired, org: id === 0 ? undefined : await this.orgById(id) };
    })();
    return this.callerInfo;
  }

  requireWallet(command: string): Wallet {
    if (!this.wallet) {
      throw new UsageError(`\`${command}\` signs a transaction: give --key-file FILE, or set TRACEMESH_KEY`, command);
    }
    return this.wallet;
  }

  /**
   * The caller's organisation, which must be active: what every contract checks first
   * (NotActiveMember). `action` completes "so it cannot ...".
   */
  async requireActive(command: string, action: string): Promise<{ address: string; org: OrgInfo }> {
    this.requireWallet(command);
    await this.loadNames();
    const c = (await this.caller())!;
    const details = { account: c.address, orgId: c.orgId, check: "NotActiveMember" };
    if (c.orgId === 0 || !c.org) {
      throw new Refusal(`account ${c.address} belongs to no organisation of this consortium, so it cannot ${action}`, details);
    }
    if (c.retired) {
      throw new Refusal(
        `account ${c.address} was retired from ${this.org(c.orgId)} and signs for nobody, so it cannot ${action}`,
        details,
      );
    }
    if (c.org.status !== OrgStatus.Active) {
      throw new Refusal(
        `account ${c.address} signs for ${this.org(c.orgId)}, which is ${orgStatusName(c.org.status)}: it cannot ${action} ` +
          (c.org.status === OrgStatus.Suspended ? "until the consortium reinstates it" : "any more"),
        { ...details, status: orgStatusName(c.org.status) },
      );
    }
    return { address: c.address, org: c.org };
  }

  /** As requireActive, and the organisation must hold `role` (MissingRole). */
  async requireRole(command: string, role: Role, action: string): Promise<{ address: string; org: OrgInfo }> {
    const me = await this.requireActive(command, action);
    if ((me.org.roles & (1n << BigInt(role))) === 0n) {
      throw new Refusal(
        `account ${me.address} signs for ${me.org.name}, which does not hold the ${Role[role]} role needed to ${action}` +
          ` (it holds: ${roleNames(me.org.roles).join(", ") || "no roles"})`,
        { account: me.address, orgId: me.org.id, role: Role[role], roles: roleNames(me.org.roles), check: "MissingRole" },
      );
    }
    return me;
  }

  // ------------------------------------------------------------ sending

  /** The contracts bound to the signing key. */
  signed(command: string): TracemeshContracts {
    this.signedContracts ??= connectContracts(this.deployment.contracts, this.requireWallet(command));
    return this.signedContracts;
  }

  /** A refusal for a failed call or transaction: the decoded custom error when there is one. */
  async refusalFor(err: unknown, contract: ContractName | undefined, stage: ContractRefusal["stage"]): Promise<Error> {
    if (err instanceof Refusal || err instanceof UsageError) return err;
    if (!isRevert(err)) return err as Error;
    await this.loadNames();
    return new ContractRefusal(decodeRevert(revertDataOf(err) ?? "0x", contract, this), stage);
  }

  /**
   * Sends one transaction through `call`. The node estimates gas first, which runs the contract's
   * own checks: a refusal there is reported, decoded, before anything is sent.
   */
  async send(
    command: string,
    contract: ContractName,
    what: string,
    call: (c: TracemeshContracts) => Promise<ContractTransactionResponse>,
  ): Promise<Sent> {
    const c = this.signed(command);
    let tx: ContractTransactionResponse;
    try {
      tx = await call(c);
    } catch (e) {
      throw await this.refusalFor(e, contract, "before sending");
    }
    this.out.note(`sent: ${what}; waiting for transaction ${tx.hash} to be mined`);
    let receipt: ContractTransactionReceipt | null;
    try {
      receipt = await tx.wait();
    } catch (e) {
      // Mined but reverted (the state moved between estimate and inclusion): replay it to learn why.
      const mined = (e as { receipt?: ContractTransactionReceipt }).receipt;
      if (mined) {
        try {
          await this.provider.call({ to: tx.to, from: tx.from, data: tx.data, blockTag: mined.blockNumber - 1 });
        } catch (replayed) {
          if (isRevert(replayed)) throw await this.refusalFor(replayed, contract, "mined");
        }
      }
      throw await this.refusalFor(e, contract, "mined");
    }
    if (!receipt) throw new Refusal(`transaction ${tx.hash} was dropped before it was mined`, { tx: tx.hash });
    return { hash: tx.hash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed, receipt };
  }

  /** A view call whose revert is decoded. */
  async view<T>(contract: ContractName, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      throw await this.refusalFor(e, contract, "call");
    }
  }
}
