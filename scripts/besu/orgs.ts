/**
 * The organisations file: who founds the network, with which roles, accounts and nodes.
 * Described once by `OrgsFileSchema` and checked by the one config reader (lib/config-reader.ts);
 * every problem is reported at once, with the JSON path of the offending value, so an operator
 * can fix a file in one pass. Unknown keys are errors: a misspelt "acounts" must not silently
 * found an organisation without accounts.
 */
import { isIP } from "node:net";
import { type ObjectOptions, type Static, type TProperties, Type } from "@sinclair/typebox";
import { getAddress, isAddress } from "ethers";
import { ConfigError, type ConfigIssue, checkConfig, readJsonFile } from "../../lib/config-reader.ts";
import { ROLE_NAMES, type Role, roleByName, roleMask } from "../../lib/consortium.ts";
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

/** An organisations file that cannot be used; `problems` names the JSON path of each. */
export class OrgsFileError extends ConfigError {
  constructor(
    readonly source: string,
    problems: string[],
    issues?: readonly ConfigIssue[],
  ) {
    super(problems, source, "organisations file", issues);
    this.message = `${source} is not a valid organisations file:\n${problems.map((p) => `  - ${p}`).join("\n")}`;
  }
}

type Json = unknown;

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

/** Every object may carry "$schema" and "description" for editors and readers; nothing else unknown. */
const Obj = <P extends TProperties>(properties: P, options: ObjectOptions = {}) =>
  Type.Object(properties, { additionalProperties: false, patternProperties: { "^(\\$schema|description)$": {} }, ...options });
const Int = (minimum: number, maximum: number) => Type.Integer({ minimum, maximum });
const Text = () => Type.String({ pattern: "\\S", problem: "must be a non-empty string" });
const Address = () => Type.String({ pattern: "^0x[0-9a-fA-F]{40}$", problem: "must be a 20-byte 0x address" });
/** gasLimit and balances: a JSON number, or a decimal or 0x hex string for values beyond 2^53. */
const BigInteger = () =>
  Type.Union([Type.Integer(), Type.String({ pattern: "^\\s*(0x[0-9a-fA-F]+|[0-9]+)\\s*$" })], {
    problem: "must be an integer (number, decimal string or 0x hex string)",
  });

const NodeSchema = Obj({
  /** Address other members reach this node at (an IP address or DNS name, not a listen address). */
  host: Text(),
  p2pPort: Type.Optional(Int(1, 65535)),
  rpcPort: Type.Optional(Int(1, 65535)),
  wsPort: Type.Optional(Int(1, 65535)),
  /** Default: an organisation's first node validates. */
  validator: Type.Optional(Type.Boolean()),
  /** The company's own node key, public part (hex). */
  publicKey: Type.Optional(Type.String({ problem: "must be a hex string" })),
  /** The company's member node's libp2p peer id. */
  peerId: Type.Optional(Type.String({ problem: "must be a libp2p peer id (base58btc multihash, e.g. 12D3KooW...)" })),
});

const OrgSchema = Obj({
  name: Text(),
  roles: Type.Array(Type.String(), { minItems: 1, problem: `must be a non-empty array of role names (${ROLE_NAMES.join(", ")})` }),
  accounts: Type.Array(Address(), { minItems: 1, problem: "must be a non-empty array of the organisation's signing addresses" }),
  node: Type.Optional(NodeSchema),
  nodes: Type.Optional(Type.Array(NodeSchema, { minItems: 1, problem: "must be a non-empty array of nodes" })),
});

/** The organisations file, as written (scripts/besu/example-orgs.json). */
export const OrgsFileSchema = Obj(
  {
    chainId: Type.Integer({
      minimum: 1,
      maximum: Number.MAX_SAFE_INTEGER,
      missing: "is required: pick a chain id no other network uses (it protects against transaction replay)",
    }),
    consensus: Type.Optional(Obj({ blockPeriodSeconds: Type.Optional(Int(1, 3600)), requestTimeoutSeconds: Type.Optional(Int(1, 3600)), epochLength: Type.Optional(Int(1, 1_000_000_000)) })),
    gasLimit: Type.Optional(BigInteger()),
    governance: Type.Optional(Obj({ quorumBps: Type.Optional(Int(1, MAX_BPS)), votingPeriodSeconds: Type.Optional(Int(MIN_VOTING_PERIOD, MAX_VOTING_PERIOD)) })),
    founderBalanceWei: Type.Optional(BigInteger()),
    consortiumAddress: Type.Optional(Address()),
    implementationAddress: Type.Optional(Address()),
    organisations: Type.Array(OrgSchema, { minItems: 1, problem: "must be a non-empty array of founding organisations" }),
  },
  { problem: "must be an object" },
);

type OrgsFile = Static<typeof OrgsFileSchema>;
type OrgIn = Static<typeof OrgSchema>;
type NodeIn = Static<typeof NodeSchema>;

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

const isObject = (v: Json): v is Record<string, Json> => typeof v === "object" && v !== null && !Array.isArray(v);
const isInt = (v: Json): v is number => typeof v === "number" && Number.isSafeInteger(v);
/** An array's entries, or none: the schema names a field that is not an array. */
const entries = <T>(v: T[] | undefined): T[] => (Array.isArray(v) ? v : []);

/**
 * Validates a parsed organisations file and fills in defaults. Throws OrgsFileError listing every
 * problem: the schema's (types, ranges, unknown keys) and the rules' (names, roles, addresses,
 * hosts, keys, uniqueness, validators), all in one pass.
 */
export function parseOrgs(input: Json, source = "organisations file"): NetworkSpec {
  let spec: NetworkSpec | undefined;
  try {
    checkConfig(OrgsFileSchema, input, {
      baseDir: ".",
      at: "$",
      rulesOnInvalid: true,
      rules: (file, fail) => {
        spec = buildSpec(file, fail);
      },
    });
  } catch (e) {
    if (e instanceof ConfigError) throw new OrgsFileError(source, e.problems, e.issues);
    throw e;
  }
  return spec!;
}

/** The rules beyond the schema, and the spec with defaults; `fail(field, problem)` reports. */
function buildSpec(file: OrgsFile, fail: (field: string, problem: string) => void): NetworkSpec | undefined {
  if (!isObject(file)) return undefined;
  const warnings: string[] = [];
  const chainId = isInt(file.chainId) ? file.chainId : undefined;
  if (chainId !== undefined && PUBLIC_CHAIN_IDS.has(chainId)) fail("chainId", `${chainId} is ${PUBLIC_CHAIN_IDS.get(chainId)}'s chain id`);

  const consensus = isObject(file.consensus) ? file.consensus : {};
  const blockPeriodSeconds = consensus.blockPeriodSeconds ?? DEFAULTS.blockPeriodSeconds;
  const requestTimeoutSeconds = consensus.requestTimeoutSeconds ?? blockPeriodSeconds * DEFAULTS.requestTimeoutFactor;
  const epochLength = consensus.epochLength ?? DEFAULTS.epochLength;
  const governance = isObject(file.governance) ? file.governance : {};

  const big = (key: "gasLimit" | "founderBalanceWei", def: bigint, min: bigint, max: bigint): bigint => {
    const v = file[key];
    if (v === undefined || !(isInt(v) || typeof v === "string")) return def;
    let n: bigint;
    try {
      n = BigInt(typeof v === "string" ? v.trim() : v);
    } catch {
      return def; // the schema has named it
    }
    if (n < min || n > max) fail(key, `must be between ${min} and ${max}, got ${n}`);
    return n;
  };
  const gasLimit = big("gasLimit", DEFAULTS.gasLimit, 5000n, (1n << 63n) - 1n);
  const founderBalanceWei = big("founderBalanceWei", DEFAULTS.founderBalanceWei, 0n, (1n << 200n) - 1n);

  const address = (v: Json, field: string): string | undefined => {
    if (typeof v !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(v)) return undefined; // the schema has named it
    if (!isAddress(v)) return void fail(field, `${v} has a wrong EIP-55 checksum (mixed case); check for a typo`);
    const a = getAddress(v);
    if (BigInt(a) === 0n) return void fail(field, "the zero address cannot be used");
    return a;
  };
  const fixedAddress = (key: "consortiumAddress" | "implementationAddress"): string | undefined => {
    if (file[key] === undefined) return DEFAULTS[key];
    const a = address(file[key], key);
    // 0x01..0x11 are precompiles through Prague, 0x100 is P-256 on some clients: keep clear of the low range.
    if (a !== undefined && BigInt(a) < 0x1000n) return void fail(key, "must not be in the precompile range (use 0x...1000 or above)");
    return a;
  };
  const consortiumAddress = fixedAddress("consortiumAddress");
  const implementationAddress = fixedAddress("implementationAddress");
  if (consortiumAddress && implementationAddress && consortiumAddress === implementationAddress) {
    fail("implementationAddress", "must differ from consortiumAddress");
  }

  const orgs: OrgSpec[] = [];
  const rawNodes: { org: OrgSpec; raw: RawNode }[] = [];
  const names = new Map<string, string>();
  const slugs = new Map<string, string>();
  const accountOwner = new Map<string, string>();
  entries(file.organisations).forEach((o: OrgIn, i) => {
    const p = `organisations[${i}]`;
    if (!isObject(o)) return;
    let name = typeof o.name === "string" && o.name.trim() !== "" ? o.name.trim() : undefined;
    const oneLine = name !== undefined && [...name].every((ch) => ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f);
    if (name !== undefined && (!oneLine || name.length > 200)) {
      fail(`${p}.name`, "must be one line of at most 200 characters");
      name = undefined;
    }
    if (name !== undefined) {
      const prev = names.get(name.toLowerCase());
      if (prev) fail(`${p}.name`, `"${name}" is already used by $.${prev}`);
      names.set(name.toLowerCase(), p);
    }
    let slug = name ? slugify(name) : "";
    if (slug === "") slug = `org-${i + 1}`;
    if (name !== undefined) {
      const prev = slugs.get(slug);
      if (prev) fail(`${p}.name`, `"${name}" gives the same directory name "${slug}" as $.${prev}; choose a more distinct name`);
      slugs.set(slug, p);
    }

    const roles: Role[] = [];
    entries(o.roles).forEach((r, j) => {
      const role = typeof r === "string" ? roleByName(r) : undefined;
      if (role === undefined) fail(`${p}.roles[${j}]`, `unknown role ${show(r)} (expected one of: ${ROLE_NAMES.join(", ")})`);
      else if (roles.includes(role)) fail(`${p}.roles[${j}]`, `role ${show(r)} is listed twice`);
      else roles.push(role);
    });

    const accounts: string[] = [];
    entries(o.accounts).forEach((a, j) => {
      const addr = address(a, `${p}.accounts[${j}]`);
      if (addr === undefined) return;
      const owner = accountOwner.get(addr);
      if (owner) fail(`${p}.accounts[${j}]`, `${addr} is already listed at $.${owner}`);
      else accountOwner.set(addr, `${p}.accounts[${j}]`);
      accounts.push(addr);
    });

    let nodesIn: NodeIn[] = [];
    if (o.node !== undefined && o.nodes !== undefined) fail(p, 'give either "node" or "nodes", not both');
    else if (o.node !== undefined) nodesIn = [o.node];
    else if (o.nodes !== undefined) nodesIn = entries(o.nodes);
    else fail(`${p}.node`, 'is required: each member runs a Besu node ("node": {...} or "nodes": [...])');

    const org: OrgSpec = { name: name ?? "", slug, roles, roleMask: roleMask(...roles), accounts, nodes: [] };
    orgs.push(org);
    const nodePath = (j: number) => (o.node !== undefined ? `${p}.node` : `${p}.nodes[${j}]`);
    const parsed = nodesIn.map((n, j) => parseNode(n, nodePath(j), fail));
    const validators = parsed.filter((n) => n?.validator === true).length;
    parsed.forEach((raw, j) => {
      if (!raw) return;
      // Default: an organisation's first node validates (one validator per member organisation).
      if (raw.validator === undefined) raw.validator = j === 0 && validators === 0;
      rawNodes.push({ org, raw });
    });
    if (parsed.filter((n) => n?.validator).length > 1) {
      fail(`${p}.nodes`, "at most one validator per organisation (one organisation, one vote in consensus)");
    }
  });

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
      if (prev) fail(`${raw.path}.${what}`, `port ${port} on ${node.host} is already used by $.${prev}`);
      else bound.set(key, `${raw.path}.${what}`);
    }
    if (node.publicKey) {
      const prev = enodes.get(node.publicKey.enodeId);
      if (prev) fail(`${raw.path}.publicKey`, `the same node key is already used by $.${prev}`);
      enodes.set(node.publicKey.enodeId, `${raw.path}.publicKey`);
    }
    if (node.peerId) {
      const prev = peers.get(node.peerId);
      if (prev) fail(`${raw.path}.peerId`, `the same peer id is already used by $.${prev}`);
      peers.set(node.peerId, `${raw.path}.peerId`);
    }
    org.nodes.push(node);
  }
  for (const org of orgs) {
    org.nodes.forEach((n, j) => {
      n.dir = org.nodes.length === 1 ? org.slug : `${org.slug}-${j + 1}`;
      if (dirs.has(n.dir)) fail("organisations", `two nodes would share the directory "${n.dir}"`);
      dirs.add(n.dir);
    });
  }

  const validatorCount = orgs.reduce((s, o) => s + o.nodes.filter((n) => n.validator).length, 0);
  if (rawNodes.length > 0 && validatorCount === 0) fail("organisations", "no node is a validator: QBFT needs at least one");
  if (validatorCount > 0 && validatorCount < 4) {
    warnings.push(`${validatorCount} validator(s): QBFT tolerates a faulty validator only from 4 validators on (Besu docs, "Minimum number of validators")`);
  }
  if (rawNodes.some(({ raw }) => raw.host !== undefined && isIP(raw.host) === 0)) {
    warnings.push("some node hosts are DNS names: their configs enable Besu's early-access DNS support (Xdns-enabled)");
  }

  return {
    chainId: chainId!,
    consensus: { blockPeriodSeconds, requestTimeoutSeconds, epochLength },
    gasLimit,
    governance: { quorumBps: governance.quorumBps ?? DEFAULTS.quorumBps, votingPeriodSeconds: governance.votingPeriodSeconds ?? DEFAULTS.votingPeriodSeconds },
    founderBalanceWei,
    consortiumAddress: consortiumAddress!,
    implementationAddress: implementationAddress!,
    orgs,
    warnings,
  };
}

/** A node's values the schema cannot judge: its host, public key and peer id. */
function parseNode(o: NodeIn, path: string, fail: (field: string, problem: string) => void): RawNode | undefined {
  if (!isObject(o)) return undefined;
  const raw: RawNode = { path };
  const host = typeof o.host === "string" && o.host.trim() !== "" ? o.host.trim() : undefined;
  if (host !== undefined) {
    if (host === "0.0.0.0" || host === "::") {
      fail(`${path}.host`, `${host} is a listen address; give the address other members reach this node at`);
    } else if (isIP(host) === 0 && !DNS_NAME.test(host)) {
      fail(`${path}.host`, `${show(host)} is neither an IP address nor a DNS name`);
    } else raw.host = host;
  }
  for (const port of ["p2pPort", "rpcPort", "wsPort"] as const) if (isInt(o[port])) raw[port] = o[port];
  if (typeof o.validator === "boolean") raw.validator = o.validator;
  if (typeof o.publicKey === "string") {
    try {
      raw.publicKey = nodeIdentityFromPublicKey(o.publicKey);
    } catch (e) {
      if (!(e instanceof KeyFormatError)) throw e;
      fail(`${path}.publicKey`, e.message);
    }
  }
  if (o.peerId !== undefined && typeof o.peerId === "string") {
    if (!isBase58PeerId(o.peerId)) fail(`${path}.peerId`, `${show(o.peerId)} is not a libp2p peer id (base58btc multihash, e.g. 12D3KooW...)`);
    else raw.peerId = o.peerId;
  }
  return raw;
}

/** Reads and validates an organisations file. */
export async function loadOrgsFile(path: string): Promise<NetworkSpec> {
  let raw: Json;
  try {
    ({ raw } = readJsonFile(path, "organisations file"));
  } catch (e) {
    if (e instanceof ConfigError) throw new OrgsFileError(path, e.problems, e.issues);
    throw e;
  }
  return parseOrgs(raw, path);
}
