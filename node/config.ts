/**
 * The member node's configuration file (JSON), validated into `NodeConfig`.
 *
 *   {
 *     "organisation": "Delta Machining",          // name or numeric id in the Consortium
 *     "dataDir": "./data/machining",              // LevelDB store, node secret, status file
 *     "chain": {
 *       "rpcUrl": "http://127.0.0.1:8545",
 *       "deployment": "./.demo/deployment.json",  // written by `npm start` / `npm run deploy`
 *       "keyFile": "/etc/tracemesh/node.key"      // or "keyEnv": "TRACEMESH_NODE_KEY"
 *       // optional: "confirmations": 1, "maxBatch": 32, "receiptTimeoutMs": 60000,
 *       //           "retry": { "minMs": 500, "maxMs": 30000 }
 *     },
 *     "window": { "durationMs": 1000, "maxReadings": 200000 },          // optional
 *     "ingest": { "maxPendingReadings": 65536, "clockToleranceMs": 2000 }, // optional
 *     "secretFile": "...",                        // optional; default <dataDir>/node-secret
 *     "devices": [ ... ],                         // edge adapters, see node/edge
 *     "p2p": {                                    // optional: the peer network (node/p2p)
 *       "listen": ["/ip4/0.0.0.0/tcp/4001"],       // default ["/ip4/127.0.0.1/tcp/0"]
 *       "announce": ["/dns4/node.example.com/tcp/4001"], // addresses told to peers (default: listen)
 *       "keyFile": "...",                         // libp2p identity; default <dataDir>/p2p.key
 *       "bootstrap": ["/ip4/10.0.0.2/tcp/4001/p2p/12D3KooW..."],
 *       "follow": [{ "organisation": "Northern Steel Mill", "stream": "furnace-1/temperature" }]
 *       // optional: "membershipTtlMs": 5000, "grantCacheMs": 10000, "syncIntervalMs": 5000,
 *       //           "banMs": 3600000, "maxFrameBytes": 4194304, "timeoutMs": 10000,
 *       //           "maxReadings": 10000, "catchUpFromMs": 86400000
 *     }
 *   }
 *
 * Relative paths are resolved against the config file's directory. The node's signing key never
 * sits in the config (which tends to end up in a repository): it comes from a file readable only
 * by its owner, or from an environment variable. Unknown keys are refused, so a typo does not
 * silently fall back to a default.
 */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { Wallet } from "ethers";

export interface NodeConfig {
  /** The config file it came from, when any. */
  file?: string;
  organisation: string | number;
  dataDir: string;
  chain: {
    rpcUrl: string;
    deployment: string;
    key: { file: string } | { env: string };
    confirmations: number;
    maxBatch: number;
    receiptTimeoutMs: number;
    retry: { minMs: number; maxMs: number };
  };
  window: { durationMs: number; maxReadings: number };
  ingest: { maxPendingReadings: number; clockToleranceMs: number };
  secretFile: string;
  /** How often the status file is rewritten, ms. */
  statusIntervalMs: number;
  /** Device configs, parsed by the edge module's parseDeviceConfig. */
  devices: unknown[];
  /** The peer network; absent when the node does not join it. */
  p2p?: P2pConfig;
}

/** A partner's stream this node keeps a copy of (fetched on announcements and after being offline). */
export interface FollowConfig {
  /** The data owner: organisation name or numeric id in the Consortium. */
  organisation: string | number;
  stream: string;
}

export interface P2pConfig {
  listen: string[];
  announce: string[];
  keyFile: string;
  /** Multiaddrs ending in /p2p/<peer id>: dialled at start and whenever the connection is lost. */
  bootstrap: string[];
  follow: FollowConfig[];
  /** How long a Consortium membership answer is trusted, ms. */
  membershipTtlMs: number;
  /** How long an AccessGrants answer is trusted, ms (grant events clear it sooner). */
  grantCacheMs: number;
  /** How often followed streams and peers are re-checked without an announcement, ms. */
  syncIntervalMs: number;
  /** How long a peer caught sending altered data is refused, ms. */
  banMs: number;
  maxFrameBytes: number;
  timeoutMs: number;
  /** Most readings in one answer. */
  maxReadings: number;
  /** On a first start, how far back followed streams are fetched, ms. */
  catchUpFromMs: number;
}

/** A configuration the node cannot run with; `problems` lists every one found. */
export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    readonly file?: string,
  ) {
    super(`${file ? `invalid node configuration ${file}` : "invalid node configuration"}:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const show = (v: unknown) => (v === undefined ? "nothing" : JSON.stringify(v));

/** Reads and validates a config file. Throws ConfigError. */
export function loadConfig(file: string, options: { skipSections?: readonly string[] } = {}): NodeConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch (e) {
    throw new ConfigError([`cannot read the file: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "it does not exist" : (e as Error).message}`], abs);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([`not valid JSON: ${(e as Error).message}`], abs);
  }
  // Sections another reader owns (a member's `gateway` and `parties`, member/config.ts).
  if (isObj(raw)) for (const section of options.skipSections ?? []) delete raw[section];
  return parseConfig(raw, path.dirname(abs), abs);
}

/** Validates a parsed config; relative paths resolve against `baseDir`. Throws ConfigError. */
export function parseConfig(raw: unknown, baseDir: string, file?: string): NodeConfig {
  const problems: string[] = [];
  if (!isObj(raw)) throw new ConfigError(["the configuration must be a JSON object"], file);

  const unknownKeys = (obj: Obj, where: string, allowed: string[]) => {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) problems.push(`${where}${k}: unknown setting (allowed: ${allowed.join(", ")})`);
    }
  };
  const str = (obj: Obj, key: string, where: string): string | undefined => {
    const v = obj[key];
    if (typeof v === "string" && v.trim() !== "") return v;
    problems.push(`${where}${key} must be a non-empty string (got ${show(v)})`);
    return undefined;
  };
  const int = (obj: Obj, key: string, where: string, def: number, min: number, max: number): number => {
    const v = obj[key];
    if (v === undefined) return def;
    if (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max) return v;
    problems.push(`${where}${key} must be an integer from ${min} to ${max} (got ${show(v)})`);
    return def;
  };
  const section = (key: string): Obj => {
    const v = raw[key];
    if (v === undefined) return {};
    if (isObj(v)) return v;
    problems.push(`${key} must be an object (got ${show(v)})`);
    return {};
  };
  const resolve = (p: string) => path.resolve(baseDir, p);

  unknownKeys(raw, "", ["organisation", "dataDir", "chain", "window", "ingest", "secretFile", "statusIntervalMs", "devices", "p2p"]);

  let organisation: string | number = "";
  const org = raw.organisation;
  if ((typeof org === "string" && org.trim() !== "") || (typeof org === "number" && Number.isInteger(org) && org > 0 && org <= 0xffff_ffff)) {
    organisation = org;
  } else {
    problems.push(`organisation must be the organisation's name or its numeric id in the Consortium (got ${show(org)})`);
  }
  const dataDir = str(raw, "dataDir", "");

  const chain = raw.chain;
  let rpcUrl: string | undefined;
  let deployment: string | undefined;
  let key: NodeConfig["chain"]["key"] | undefined;
  let chainObj: Obj = {};
  if (!isObj(chain)) {
    problems.push(`chain must be an object with rpcUrl, deployment and keyFile or keyEnv (got ${show(chain)})`);
  } else {
    chainObj = chain;
    for (const inline of ["privateKey", "key", "mnemonic"]) {
      if (inline in chain) problems.push(`chain.${inline}: the node's key must not be written in the config; use chain.keyFile (a file only its owner can read) or chain.keyEnv (an environment variable)`);
    }
    unknownKeys(
      Object.fromEntries(Object.entries(chain).filter(([k]) => !["privateKey", "key", "mnemonic"].includes(k))),
      "chain.",
      ["rpcUrl", "deployment", "keyFile", "keyEnv", "confirmations", "maxBatch", "receiptTimeoutMs", "retry"],
    );
    rpcUrl = str(chain, "rpcUrl", "chain.");
    if (rpcUrl !== undefined) {
      try {
        const u = new URL(rpcUrl);
        if (u.protocol !== "http:" && u.protocol !== "https:") problems.push(`chain.rpcUrl must be an http(s) URL (got ${show(rpcUrl)})`);
      } catch {
        problems.push(`chain.rpcUrl is not a URL (got ${show(rpcUrl)})`);
      }
    }
    const dep = str(chain, "deployment", "chain.");
    if (dep !== undefined) deployment = resolve(dep);
    const hasFile = chain.keyFile !== undefined;
    const hasEnv = chain.keyEnv !== undefined;
    if (hasFile === hasEnv) {
      problems.push("chain: give exactly one of keyFile (path to the node's private key) or keyEnv (name of the environment variable holding it)");
    } else if (hasFile) {
      const f = str(chain, "keyFile", "chain.");
      if (f !== undefined) key = { file: resolve(f) };
    } else {
      const e = str(chain, "keyEnv", "chain.");
      if (e !== undefined) {
        if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(e)) key = { env: e };
        else problems.push(`chain.keyEnv must be an environment variable name (got ${show(e)})`);
      }
    }
  }
  const retryRaw = chainObj.retry === undefined ? {} : chainObj.retry;
  let retry = { minMs: 500, maxMs: 30_000 };
  if (!isObj(retryRaw)) {
    problems.push(`chain.retry must be an object (got ${show(retryRaw)})`);
  } else {
    unknownKeys(retryRaw, "chain.retry.", ["minMs", "maxMs"]);
    retry = { minMs: int(retryRaw, "minMs", "chain.retry.", 500, 10, 600_000), maxMs: int(retryRaw, "maxMs", "chain.retry.", 30_000, 10, 3_600_000) };
    if (retry.maxMs < retry.minMs) problems.push(`chain.retry.maxMs (${retry.maxMs}) must not be below minMs (${retry.minMs})`);
  }

  const window = section("window");
  unknownKeys(window, "window.", ["durationMs", "maxReadings"]);
  const ingest = section("ingest");
  unknownKeys(ingest, "ingest.", ["maxPendingReadings", "clockToleranceMs"]);

  const devices = raw.devices === undefined ? [] : raw.devices;
  if (!Array.isArray(devices)) problems.push(`devices must be an array of device configurations (got ${show(devices)})`);

  let secretFile: string | undefined;
  if (raw.secretFile !== undefined) {
    const s = str(raw, "secretFile", "");
    if (s !== undefined) secretFile = resolve(s);
  }

  const p2p = raw.p2p === undefined ? undefined : parseP2p(raw.p2p, { problems, unknownKeys, int, resolve, dataDir });

  const config: NodeConfig = {
    ...(file ? { file } : {}),
    organisation,
    dataDir: dataDir === undefined ? "" : resolve(dataDir),
    chain: {
      rpcUrl: rpcUrl ?? "",
      deployment: deployment ?? "",
      key: key ?? { env: "" },
      confirmations: int(chainObj, "confirmations", "chain.", 1, 1, 1000),
      maxBatch: int(chainObj, "maxBatch", "chain.", 32, 1, 256),
      receiptTimeoutMs: int(chainObj, "receiptTimeoutMs", "chain.", 60_000, 100, 3_600_000),
      retry,
    },
    window: {
      durationMs: int(window, "durationMs", "window.", 1000, 10, 3_600_000),
      maxReadings: int(window, "maxReadings", "window.", 200_000, 1, 10_000_000),
    },
    ingest: {
      maxPendingReadings: int(ingest, "maxPendingReadings", "ingest.", 65_536, 1, 10_000_000),
      clockToleranceMs: int(ingest, "clockToleranceMs", "ingest.", 2000, 0, 86_400_000),
    },
    secretFile: secretFile ?? (dataDir === undefined ? "" : path.join(resolve(dataDir), "node-secret")),
    statusIntervalMs: int(raw, "statusIntervalMs", "", 1000, 100, 600_000),
    devices: Array.isArray(devices) ? devices : [],
    ...(p2p ? { p2p } : {}),
  };
  if (problems.length > 0) throw new ConfigError(problems, file);
  return config;
}

interface SectionTools {
  problems: string[];
  unknownKeys(obj: Obj, where: string, allowed: string[]): void;
  int(obj: Obj, key: string, where: string, def: number, min: number, max: number): number;
  resolve(p: string): string;
  dataDir: string | undefined;
}

/** Whether `addr` looks like a multiaddr (libp2p parses it fully at start). */
const isMultiaddr = (addr: unknown): addr is string => typeof addr === "string" && /^\/[a-z0-9]+\/[^\s]+$/.test(addr);

function parseP2p(raw: unknown, t: SectionTools): P2pConfig | undefined {
  const { problems } = t;
  if (!isObj(raw)) {
    problems.push(`p2p must be an object (got ${show(raw)})`);
    return undefined;
  }
  t.unknownKeys(raw, "p2p.", [
    "listen", "announce", "keyFile", "bootstrap", "follow", "membershipTtlMs", "grantCacheMs", "syncIntervalMs",
    "banMs", "maxFrameBytes", "timeoutMs", "maxReadings", "catchUpFromMs",
  ]);
  const addrs = (key: string, def: string[], needPeer = false): string[] => {
    const v = raw[key];
    if (v === undefined) return def;
    if (!Array.isArray(v) || !v.every(isMultiaddr)) {
      problems.push(`p2p.${key} must be an array of multiaddrs such as "/ip4/127.0.0.1/tcp/4001" (got ${show(v)})`);
      return def;
    }
    if (needPeer) {
      for (const a of v) if (!/\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(a)) problems.push(`p2p.${key}: ${a} must end in /p2p/<peer id>`);
    }
    return v;
  };
  const listen = addrs("listen", ["/ip4/127.0.0.1/tcp/0"]);
  if (listen.length === 0) problems.push("p2p.listen must name at least one address");
  let keyFile = t.dataDir === undefined ? "" : path.join(t.resolve(t.dataDir), "p2p.key");
  if (raw.keyFile !== undefined) {
    if (typeof raw.keyFile === "string" && raw.keyFile.trim() !== "") keyFile = t.resolve(raw.keyFile);
    else problems.push(`p2p.keyFile must be a non-empty string (got ${show(raw.keyFile)})`);
  }
  const follow: FollowConfig[] = [];
  if (raw.follow !== undefined) {
    if (!Array.isArray(raw.follow)) problems.push(`p2p.follow must be an array of { organisation, stream } (got ${show(raw.follow)})`);
    else {
      raw.follow.forEach((f: unknown, i) => {
        const where = `p2p.follow[${i}]`;
        if (!isObj(f)) return void problems.push(`${where} must be an object { organisation, stream } (got ${show(f)})`);
        t.unknownKeys(f, `${where}.`, ["organisation", "stream"]);
        const org = f.organisation;
        const okOrg = (typeof org === "string" && org.trim() !== "") || (typeof org === "number" && Number.isInteger(org) && org > 0 && org <= 0xffff_ffff);
        if (!okOrg) problems.push(`${where}.organisation must be an organisation's name or numeric id (got ${show(org)})`);
        const stream = f.stream;
        const okStream = typeof stream === "string" && stream.length > 0 && Buffer.byteLength(stream, "utf8") <= 255;
        if (!okStream) problems.push(`${where}.stream must be a stream id of 1 to 255 bytes (got ${show(stream)})`);
        if (okOrg && okStream) follow.push({ organisation: org as string | number, stream: stream as string });
      });
    }
  }
  const where = "p2p.";
  return {
    listen,
    announce: addrs("announce", []),
    keyFile,
    bootstrap: addrs("bootstrap", [], true),
    follow,
    membershipTtlMs: t.int(raw, "membershipTtlMs", where, 5_000, 100, 3_600_000),
    grantCacheMs: t.int(raw, "grantCacheMs", where, 10_000, 0, 3_600_000),
    syncIntervalMs: t.int(raw, "syncIntervalMs", where, 5_000, 100, 3_600_000),
    banMs: t.int(raw, "banMs", where, 3_600_000, 1_000, 30 * 86_400_000),
    maxFrameBytes: t.int(raw, "maxFrameBytes", where, 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    timeoutMs: t.int(raw, "timeoutMs", where, 10_000, 100, 600_000),
    maxReadings: t.int(raw, "maxReadings", where, 10_000, 1, 1_000_000),
    catchUpFromMs: t.int(raw, "catchUpFromMs", where, 86_400_000, 0, 365 * 86_400_000),
  };
}

/**
 * The node's signing key, from its file or environment variable. Throws ConfigError when it is
 * missing, not a private key, or (a file) readable by others than its owner.
 */
export function loadNodeKey(config: NodeConfig, env: NodeJS.ProcessEnv = process.env): Wallet {
  const key = config.chain.key;
  let text: string | undefined;
  let where: string;
  if ("file" in key) {
    where = `chain.keyFile ${key.file}`;
    let mode: number;
    try {
      mode = statSync(key.file).mode;
      text = readFileSync(key.file, "utf8");
    } catch (e) {
      throw new ConfigError([`${where}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`], config.file);
    }
    if (process.platform !== "win32" && (mode & 0o077) !== 0) {
      throw new ConfigError([`${where}: readable by group or others (mode ${(mode & 0o777).toString(8)}); run chmod 600 on it`], config.file);
    }
  } else {
    where = `chain.keyEnv ${key.env}`;
    text = env[key.env];
    if (text === undefined || text.trim() === "") throw new ConfigError([`${where}: the environment variable is not set`], config.file);
  }
  const hex = text.trim();
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(hex)) throw new ConfigError([`${where}: does not hold a private key (64 hex digits, optionally 0x-prefixed)`], config.file);
  return new Wallet(hex.startsWith("0x") ? hex : `0x${hex}`);
}
