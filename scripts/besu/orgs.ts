/**
 * The organisations file: who founds the network, with which roles, accounts and nodes.
 * Every problem is reported at once, with the JSON path of the offending value, so an operator
 * can fix a file in one pass. Unknown keys are errors: a misspelt "acounts" must not silently
 * found an organisation without accounts.
 */
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { getAddress, isAddress } from "ethers";
import { Role, roleMask } from "../../lib/consortium.ts";
import { KeyFormatError, type NodePublicIdentity, isBase58PeerId, nodeIdentityFromPublicKey } from "./keys.ts";

export const DEFAULTS = {
  blockPeriodSeconds: 2,
  epochLength: 30_000,
  /** Besu's QBFT tuning advice starts at twice the block period. */
  requestTimeoutFactor: 2,
  /** 700M gas, the QBFT genesis example's gasLimit (0x29b92700): room for batch registrations. */
  gasLimit: 0x29b92700n,
  quorumBps: 5001,
  votingPeriodSeconds: 3 * 24 * 3600,
  /** 10^6 units per founder account: only a safety margin, the network charges no gas. */
  founderBalanceWei: 10n ** 24n,
  p2pPort: 30303,
  rpcPort: 8545,
  wsPort: 8546,
  /** Nodes sharing a host get their default RPC ports this far apart. */
  portStride: 10,
  /** Where the Consortium proxy and its implementation are predeployed. */
  consortiumAddress: "0x0000000000000000000000000000000000001000",
  implementationAddress: "0x0000000000000000000000000000000000001001",
} as const;

/** Consortium.sol bounds, checked here so a bad file fails before any EVM runs. */
const MAX_BPS = 10_000;
const MIN_VOTING_PERIOD = 5 * 60;
const MAX_VOTING_PERIOD = 90 * 24 * 3600;
const PUBLIC_CHAIN_IDS = new Map<number, string>([
  [1, "Ethereum mainnet"],
  [11155111, "Sepolia"],
  [17000, "Holesky"],
  [560048, "Hoodi"],
]);

const ROLE_NAMES: Record<string, Role> = {
  supplier: Role.Supplier,
  manufacturer: Role.Manufacturer,
  oem: Role.Manufacturer,
  logistics: Role.Logistics,
  certifier: Role.Certifier,
  lab: Role.Certifier,
  regulator: Role.Regulator,
  auditor: Role.Auditor,
};

export interface NodeSpec {
  /** Directory name of this node's bundle under <out>/nodes. */
  dir: string;
  /** Address other members reach this node at (p2p), as it goes into its enode URL. */
  host: string;
  p2pPort: number;
  rpcPort: number;
  wsPort: number;
  validator: boolean;
  /** Set when the company keeps its own node key and only sent the public part. */
  publicKey?: NodePublicIdentity;
  /** Set when the company's member node already has its libp2p identity. */
  peerId?: string;
}

export interface OrgSpec {
  name: string;
  slug: string;
  roles: Role[];
  roleMask: bigint;
  accounts: string[];
  nodes: NodeSpec[];
}

export interface NetworkSpec {
  chainId: number;
  consensus: { blockPeriodSeconds: number; requestTimeoutSeconds: number; epochLength: number };
  gasLimit: bigint;
  governance: { quorumBps: number; votingPeriodSeconds: number };
  founderBalanceWei: bigint;
  consortiumAddress: string;
  implementationAddress: string;
  orgs: OrgSpec[];
  /** Not errors, but worth an operator's attention (printed by the CLI). */
  warnings: string[];
}

export class OrgsFileError extends Error {
  override name = "OrgsFileError";
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source} is not a valid organisations file:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

type Json = unknown;

class Checker {
  readonly problems: string[] = [];
  readonly warnings: string[] = [];

  fail(path: string, message: string): undefined {
    this.problems.push(`${path}: ${message}`);
    return undefined;
  }

  object(v: Json, path: string, allowed: readonly string[]): Record<string, Json> | undefined {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return this.fail(path, "must be an object");
    const o = v as Record<string, Json>;
    for (const k of Object.keys(o)) {
      if (k === "$schema" || k === "description") continue;
      if (!allowed.includes(k)) this.fail(`${path}.${k}`, `unknown key (expected one of: ${allowed.join(", ")})`);
    }
    return o;
  }

  int(v: Json, path: string, min: number, max: number): number | undefined {
    if (typeof v !== "number" || !Number.isSafeInteger(v)) return this.fail(path, `must be an integer, got ${show(v)}`);
    if (v < min || v > max) return this.fail(path, `must be between ${min} and ${max}, got ${v}`);
    return v;
  }

  string(v: Json, path: string): string | undefined {
    if (typeof v !== "string" || v.trim() === "") return this.fail(path, `must be a non-empty string, got ${show(v)}`);
    return v.trim();
  }

  bigint(v: Json, path: string, min: bigint, max: bigint): bigint | undefined {
    let n: bigint;
    if (typeof v === "number" && Number.isSafeInteger(v)) n = BigInt(v);
    else if (typeof v === "string" && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(v.trim())) n = BigInt(v.trim());
    else return this.fail(path, `must be an integer (number, decimal string or 0x hex string), got ${show(v)}`);
    if (n < min || n > max) return this.fail(path, `must be between ${min} and ${max}, got ${n}`);
    return n;
  }

  address(v: Json, path: string): string | undefined {
    if (typeof v !== "string") return this.fail(path, `must be an address string, got ${show(v)}`);
    if (!/^0x[0-9a-fA-F]{40}$/.test(v)) return this.fail(path, `${show(v)} is not a 20-byte 0x address`);
    if (!isAddress(v)) return this.fail(path, `${v} has a wrong EIP-55 checksum (mixed case); check for a typo`);
    const a = getAddress(v);
    if (BigInt(a) === 0n) return this.fail(path, "the zero address cannot be used");
    return a;
  }
}

function show(v: Json): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

const DNS_NAME = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

function slugify(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 48);
}

const TOP_KEYS = [
  "chainId",
  "consensus",
  "gasLimit",
  "governance",
  "founderBalanceWei",
  "consortiumAddress",
  "implementationAddress",
  "organisations",
] as const;
const ORG_KEYS = ["name", "roles", "accounts", "node", "nodes"] as const;
const NODE_KEYS = ["host", "p2pPort", "rpcPort", "wsPort", "validator", "publicKey", "peerId"] as const;

interface RawNode {
  path: string;
  host?: string;
  p2pPort?: number;
  rpcPort?: number;
  wsPort?: number;
  validator?: boolean;
  publicKey?: NodePublicIdentity;
  peerId?: string;
}

/** Validates a parsed organisations file and fills in defaults. Throws OrgsFileError listing every problem. */
export function parseOrgs(input: Json, source = "organisations file"): NetworkSpec {
  const c = new Checker();
  const top = c.object(input, "$", TOP_KEYS);
  if (!top) throw new OrgsFileError(source, c.problems);

  let chainId: number | undefined;
  if (top.chainId === undefined) {
    c.fail("$.chainId", "is required: pick a chain id no other network uses (it protects against transaction replay)");
  } else {
    chainId = c.int(top.chainId, "$.chainId", 1, Number.MAX_SAFE_INTEGER);
    if (chainId !== undefined && PUBLIC_CHAIN_IDS.has(chainId)) {
      c.fail("$.chainId", `${chainId} is ${PUBLIC_CHAIN_IDS.get(chainId)}'s chain id`);
    }
  }

  const consensusIn = top.consensus === undefined ? {} : c.object(top.consensus, "$.consensus", ["blockPeriodSeconds", "requestTimeoutSeconds", "epochLength"]);
  const blockPeriodSeconds =
    consensusIn?.blockPeriodSeconds === undefined ? DEFAULTS.blockPeriodSeconds : c.int(consensusIn.blockPeriodSeconds, "$.consensus.blockPeriodSeconds", 1, 3600);
  const requestTimeoutSeconds =
    consensusIn?.requestTimeoutSeconds === undefined
      ? (blockPeriodSeconds ?? DEFAULTS.blockPeriodSeconds) * DEFAULTS.requestTimeoutFactor
      : c.int(consensusIn.requestTimeoutSeconds, "$.consensus.requestTimeoutSeconds", 1, 3600);
  const epochLength = consensusIn?.epochLength === undefined ? DEFAULTS.epochLength : c.int(consensusIn.epochLength, "$.consensus.epochLength", 1, 1_000_000_000);

  const gasLimit = top.gasLimit === undefined ? DEFAULTS.gasLimit : c.bigint(top.gasLimit, "$.gasLimit", 5000n, (1n << 63n) - 1n);

  const govIn = top.governance === undefined ? {} : c.object(top.governance, "$.governance", ["quorumBps", "votingPeriodSeconds"]);
  const quorumBps = govIn?.quorumBps === undefined ? DEFAULTS.quorumBps : c.int(govIn.quorumBps, "$.governance.quorumBps", 1, MAX_BPS);
  const votingPeriodSeconds =
    govIn?.votingPeriodSeconds === undefined
      ? DEFAULTS.votingPeriodSeconds
      : c.int(govIn.votingPeriodSeconds, "$.governance.votingPeriodSeconds", MIN_VOTING_PERIOD, MAX_VOTING_PERIOD);

  const founderBalanceWei =
    top.founderBalanceWei === undefined ? DEFAULTS.founderBalanceWei : c.bigint(top.founderBalanceWei, "$.founderBalanceWei", 0n, (1n << 200n) - 1n);

  const fixedAddress = (key: "consortiumAddress" | "implementationAddress"): string | undefined => {
    if (top[key] === undefined) return DEFAULTS[key];
    const a = c.address(top[key], `$.${key}`);
    // 0x01..0x11 are precompiles through Prague, 0x100 is P-256 on some clients: keep clear of the low range.
    if (a !== undefined && BigInt(a) < 0x1000n) return c.fail(`$.${key}`, "must not be in the precompile range (use 0x...1000 or above)");
    return a;
  };
  const consortiumAddress = fixedAddress("consortiumAddress");
  const implementationAddress = fixedAddress("implementationAddress");
  if (consortiumAddress && implementationAddress && consortiumAddress === implementationAddress) {
    c.fail("$.implementationAddress", "must differ from consortiumAddress");
  }

  const orgs: OrgSpec[] = [];
  const rawNodes: { org: OrgSpec; raw: RawNode }[] = [];
  if (!Array.isArray(top.organisations) || top.organisations.length === 0) {
    c.fail("$.organisations", "must be a non-empty array of founding organisations");
  } else {
    const names = new Map<string, string>();
    const slugs = new Map<string, string>();
    const accountOwner = new Map<string, string>();
    top.organisations.forEach((orgIn, i) => {
      const p = `$.organisations[${i}]`;
      const o = c.object(orgIn, p, ORG_KEYS);
      if (!o) return;
      let name = c.string(o.name, `${p}.name`);
      const oneLine = name !== undefined && [...name].every((ch) => ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f);
      if (name !== undefined && (!oneLine || name.length > 200)) {
        name = c.fail(`${p}.name`, "must be one line of at most 200 characters");
      }
      if (name !== undefined) {
        const prev = names.get(name.toLowerCase());
        if (prev) c.fail(`${p}.name`, `"${name}" is already used by ${prev}`);
        names.set(name.toLowerCase(), p);
      }
      let slug = name ? slugify(name) : "";
      if (slug === "") slug = `org-${i + 1}`;
      if (name !== undefined) {
        const prev = slugs.get(slug);
        if (prev) c.fail(`${p}.name`, `"${name}" gives the same directory name "${slug}" as ${prev}; choose a more distinct name`);
        slugs.set(slug, p);
      }

      const roles: Role[] = [];
      if (!Array.isArray(o.roles) || o.roles.length === 0) {
        c.fail(`${p}.roles`, `must be a non-empty array of role names (${Object.keys(ROLE_NAMES).join(", ")})`);
      } else {
        o.roles.forEach((r, j) => {
          const role = typeof r === "string" ? ROLE_NAMES[r.trim().toLowerCase()] : undefined;
          if (role === undefined) {
            c.fail(`${p}.roles[${j}]`, `unknown role ${show(r)} (expected one of: ${Object.keys(ROLE_NAMES).join(", ")})`);
          } else if (roles.includes(role)) {
            c.fail(`${p}.roles[${j}]`, `role ${show(r)} is listed twice`);
          } else roles.push(role);
        });
      }

      const accounts: string[] = [];
      if (!Array.isArray(o.accounts) || o.accounts.length === 0) {
        c.fail(`${p}.accounts`, "must be a non-empty array of the organisation's signing addresses");
      } else {
        o.accounts.forEach((a, j) => {
          const addr = c.address(a, `${p}.accounts[${j}]`);
          if (addr === undefined) return;
          const owner = accountOwner.get(addr);
          if (owner) c.fail(`${p}.accounts[${j}]`, `${addr} is already listed at ${owner}`);
          else accountOwner.set(addr, `${p}.accounts[${j}]`);
          accounts.push(addr);
        });
      }

      let nodesIn: Json[] = [];
      if (o.node !== undefined && o.nodes !== undefined) c.fail(p, 'give either "node" or "nodes", not both');
      else if (o.node !== undefined) nodesIn = [o.node];
      else if (Array.isArray(o.nodes) && o.nodes.length > 0) nodesIn = o.nodes;
      else c.fail(`${p}.node`, 'is required: each member runs a Besu node ("node": {...} or "nodes": [...])');

      const org: OrgSpec = { name: name ?? "", slug, roles, roleMask: roleMask(...roles), accounts, nodes: [] };
      orgs.push(org);
      const nodePath = (j: number) => (o.node !== undefined ? `${p}.node` : `${p}.nodes[${j}]`);
      const parsed = nodesIn.map((n, j) => parseNode(c, n, nodePath(j)));
      const validators = parsed.filter((n) => n?.validator === true).length;
      parsed.forEach((raw, j) => {
        if (!raw) return;
        // Default: an organisation's first node validates (one validator per member organisation).
        if (raw.validator === undefined) raw.validator = j === 0 && validators === 0;
        rawNodes.push({ org, raw });
      });
      if (parsed.filter((n) => n?.validator).length > 1) {
        c.fail(`${p}.nodes`, "at most one validator per organisation (one organisation, one vote in consensus)");
      }
    });
  }

  // Cross-node checks and default ports.
  const enodes = new Map<string, string>();
  const peers = new Map<string, string>();
  const bound = new Map<string, string>();
  const perHost = new Map<string, number>();
  const dirs = new Set<string>();
  for (const { org, raw } of rawNodes) {
    if (raw.host === undefined) continue;
    const k = perHost.get(raw.host) ?? 0;
    perHost.set(raw.host, k + 1);
    const node: NodeSpec = {
      dir: "",
      host: raw.host,
      p2pPort: raw.p2pPort ?? DEFAULTS.p2pPort + k,
      rpcPort: raw.rpcPort ?? DEFAULTS.rpcPort + DEFAULTS.portStride * k,
      wsPort: raw.wsPort ?? DEFAULTS.wsPort + DEFAULTS.portStride * k,
      validator: raw.validator ?? false,
      publicKey: raw.publicKey,
      peerId: raw.peerId,
    };
    for (const [what, port] of [
      ["p2pPort", node.p2pPort],
      ["rpcPort", node.rpcPort],
      ["wsPort", node.wsPort],
    ] as const) {
      const key = `${node.host}:${port}`;
      const prev = bound.get(key);
      if (prev) c.fail(`${raw.path}.${what}`, `port ${port} on ${node.host} is already used by ${prev}`);
      else bound.set(key, `${raw.path}.${what}`);
    }
    if (node.publicKey) {
      const prev = enodes.get(node.publicKey.enodeId);
      if (prev) c.fail(`${raw.path}.publicKey`, `the same node key is already used by ${prev}`);
      enodes.set(node.publicKey.enodeId, `${raw.path}.publicKey`);
    }
    if (node.peerId) {
      const prev = peers.get(node.peerId);
      if (prev) c.fail(`${raw.path}.peerId`, `the same peer id is already used by ${prev}`);
      peers.set(node.peerId, `${raw.path}.peerId`);
    }
    org.nodes.push(node);
  }
  for (const org of orgs) {
    org.nodes.forEach((n, j) => {
      n.dir = org.nodes.length === 1 ? org.slug : `${org.slug}-${j + 1}`;
      if (dirs.has(n.dir)) c.fail(`$.organisations`, `two nodes would share the directory "${n.dir}"`);
      dirs.add(n.dir);
    });
  }

  const validatorCount = orgs.reduce((s, o) => s + o.nodes.filter((n) => n.validator).length, 0);
  if (rawNodes.length > 0 && validatorCount === 0) c.fail("$.organisations", "no node is a validator: QBFT needs at least one");
  if (validatorCount > 0 && validatorCount < 4) {
    c.warnings.push(
      `${validatorCount} validator(s): QBFT tolerates a faulty validator only from 4 validators on (Besu docs, "Minimum number of validators")`,
    );
  }
  if (rawNodes.some(({ raw }) => raw.host !== undefined && isIP(raw.host) === 0)) {
    c.warnings.push("some node hosts are DNS names: their configs enable Besu's early-access DNS support (Xdns-enabled)");
  }

  if (c.problems.length > 0) throw new OrgsFileError(source, c.problems);
  return {
    chainId: chainId!,
    consensus: { blockPeriodSeconds: blockPeriodSeconds!, requestTimeoutSeconds: requestTimeoutSeconds!, epochLength: epochLength! },
    gasLimit: gasLimit!,
    governance: { quorumBps: quorumBps!, votingPeriodSeconds: votingPeriodSeconds! },
    founderBalanceWei: founderBalanceWei!,
    consortiumAddress: consortiumAddress!,
    implementationAddress: implementationAddress!,
    orgs,
    warnings: c.warnings,
  };
}

function parseNode(c: Checker, v: Json, path: string): RawNode | undefined {
  const o = c.object(v, path, NODE_KEYS);
  if (!o) return undefined;
  const raw: RawNode = { path };
  const host = c.string(o.host, `${path}.host`);
  if (host !== undefined) {
    if (host === "0.0.0.0" || host === "::") {
      c.fail(`${path}.host`, `${host} is a listen address; give the address other members reach this node at`);
    } else if (isIP(host) === 0 && !DNS_NAME.test(host)) {
      c.fail(`${path}.host`, `${show(host)} is neither an IP address nor a DNS name`);
    } else raw.host = host;
  }
  if (o.p2pPort !== undefined) raw.p2pPort = c.int(o.p2pPort, `${path}.p2pPort`, 1, 65535);
  if (o.rpcPort !== undefined) raw.rpcPort = c.int(o.rpcPort, `${path}.rpcPort`, 1, 65535);
  if (o.wsPort !== undefined) raw.wsPort = c.int(o.wsPort, `${path}.wsPort`, 1, 65535);
  if (o.validator !== undefined) {
    if (typeof o.validator !== "boolean") c.fail(`${path}.validator`, `must be true or false, got ${show(o.validator)}`);
    else raw.validator = o.validator;
  }
  if (o.publicKey !== undefined) {
    if (typeof o.publicKey !== "string") c.fail(`${path}.publicKey`, "must be a hex string");
    else {
      try {
        raw.publicKey = nodeIdentityFromPublicKey(o.publicKey);
      } catch (e) {
        if (!(e instanceof KeyFormatError)) throw e;
        c.fail(`${path}.publicKey`, e.message);
      }
    }
  }
  if (o.peerId !== undefined) {
    if (typeof o.peerId !== "string" || !isBase58PeerId(o.peerId)) {
      c.fail(`${path}.peerId`, `${show(o.peerId)} is not a libp2p peer id (base58btc multihash, e.g. 12D3KooW...)`);
    } else raw.peerId = o.peerId;
  }
  return raw;
}

/** Reads and validates an organisations file. */
export async function loadOrgsFile(path: string): Promise<NetworkSpec> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new OrgsFileError(path, [`cannot read the file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`]);
  }
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new OrgsFileError(path, [`not valid JSON: ${(e as Error).message}`]);
  }
  return parseOrgs(json, path);
}
