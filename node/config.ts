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
 *       // optional: "confirmations": 1, "maxBatch": 32, "receiptTimeoutMs": 60000, "callTimeoutMs": 3000,
 *       //           "retry": { "minMs": 500, "maxMs": 30000 }
 *     },
 *     "window": { "durationMs": 1000, "maxReadings": 200000 },          // optional
 *     "ingest": { "maxPendingReadings": 65536, "clockToleranceMs": 2000 }, // optional
 *     "secretFile": "...",                        // optional; default <dataDir>/node-secret
 *     "metrics": { "host": "127.0.0.1", "port": 9464, "tokenFile": "..." }, // optional: Prometheus
 *                                                 // (off loopback only with a tokenFile)
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
 *     },
 *     "retention": {                              // optional: readings moved to archive files (node/retention)
 *       "streams": [{ "stream": "spindle-*", "keepDays": 7 }], // first match wins; unmatched: forever
 *       "archiveDir": "..."                       // default <dataDir>/archive
 *       // optional: "intervalMs": 3600000, "windowsPerSegment": 1000
 *     }
 *   }
 *
 * The file is described once, by `NodeConfigSchema`, and checked by the one config reader
 * (lib/config-reader.ts). Relative paths are resolved against the config file's directory. The node's signing key never
 * sits in the config (which tends to end up in a repository): it comes from a file readable only
 * by its owner, or from an environment variable. Unknown keys are refused, so a typo does not
 * silently fall back to a default.
 */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { type Static, Type } from "@sinclair/typebox";
import { Wallet } from "ethers";
import { ConfigError, FilePath, checkConfig, readJsonFile, shown } from "../lib/config-reader.ts";
import { DEFAULT_CHAIN_CALL_TIMEOUT_MS } from "../lib/rpc-provider.ts";
import { type ConfiguredRetention, RetentionSchema, retentionRules, toRetentionConfig } from "./retention/policy.ts";

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
    /** Bound on one JSON-RPC call, ms: a hung chain fails calls instead of holding them. */
    callTimeoutMs: number;
    retry: { minMs: number; maxMs: number };
  };
  window: { durationMs: number; maxReadings: number };
  ingest: { maxPendingReadings: number; clockToleranceMs: number };
  secretFile: string;
  /** How often the status file is rewritten, ms. */
  statusIntervalMs: number;
  /** Prometheus metrics (node/metrics.ts), when configured: loopback only unless a token file is given. */
  metrics?: { host: string; port: number; tokenFile?: string };
  /** Device configs, parsed by the edge module's parseDeviceConfig. */
  devices: unknown[];
  /** The peer network; absent when the node does not join it. */
  p2p?: P2pConfig;
  /** Retention of readings (node/retention); absent: every reading is kept in the store forever. */
  retention?: ConfiguredRetention;
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

export { ConfigError };

const int = (minimum: number, maximum: number, defaultValue: number) => Type.Integer({ minimum, maximum, default: defaultValue });
export const OrganisationRef = (problem: string) =>
  Type.Union([Type.String({ pattern: "\\S" }), Type.Integer({ minimum: 1, maximum: 0xffff_ffff })], { problem });
const Multiaddr = Type.String({ pattern: "^/[a-z0-9]+/\\S+$", problem: 'must be a multiaddr such as "/ip4/127.0.0.1/tcp/4001"' });
/** The node's key must never sit in the config, which tends to end up in a repository. */
const InlineKey = Type.Optional(
  Type.Never({
    secret: true,
    problem: "the node's key must not be written in the config; use chain.keyFile (a file only its owner can read) or chain.keyEnv (an environment variable)",
  }),
);

const P2pSchema = Type.Object(
  {
    listen: Type.Array(Multiaddr, { minItems: 1, default: ["/ip4/127.0.0.1/tcp/0"], problem: "must name at least one multiaddr" }),
    announce: Type.Array(Multiaddr, { default: [], problem: "must be an array of multiaddrs" }),
    keyFile: Type.Optional(FilePath()),
    bootstrap: Type.Array(
      Type.String({ pattern: "^/[a-z0-9]+/\\S+/p2p/[1-9A-HJ-NP-Za-km-z]+$", problem: "must be a multiaddr ending in /p2p/<peer id>" }),
      { default: [], problem: "must be an array of multiaddrs ending in /p2p/<peer id>" },
    ),
    follow: Type.Array(
      Type.Object(
        {
          organisation: OrganisationRef("must be an organisation's name or numeric id"),
          stream: Type.String({ minLength: 1, maxBytes: 255, problem: "must be a stream id of 1 to 255 bytes" }),
        },
        { additionalProperties: false, problem: "must be an object { organisation, stream }" },
      ),
      { default: [], problem: "must be an array of { organisation, stream }" },
    ),
    membershipTtlMs: int(100, 3_600_000, 5_000),
    grantCacheMs: int(0, 3_600_000, 10_000),
    syncIntervalMs: int(100, 3_600_000, 5_000),
    banMs: int(1_000, 30 * 86_400_000, 3_600_000),
    maxFrameBytes: int(1024, 64 * 1024 * 1024, 4 * 1024 * 1024),
    timeoutMs: int(100, 600_000, 10_000),
    maxReadings: int(1, 1_000_000, 10_000),
    catchUpFromMs: int(0, 365 * 86_400_000, 86_400_000),
  },
  { additionalProperties: false },
);

/** The node configuration file, as written (see the header for an example). */
export const NodeConfigSchema = Type.Object(
  {
    organisation: OrganisationRef("must be the organisation's name or its numeric id in the Consortium"),
    dataDir: FilePath({ problem: "must be a non-empty string" }),
    chain: Type.Object(
      {
        rpcUrl: Type.String({ pattern: "^https?://\\S+$", problem: "must be an http(s) URL" }),
        deployment: FilePath({ problem: "must be a non-empty string" }),
        keyFile: Type.Optional(FilePath({ problem: "must be a non-empty string (path to the node's private key)" })),
        keyEnv: Type.Optional(Type.String({ pattern: "^[A-Za-z_][A-Za-z0-9_]*$", problem: "must be an environment variable name" })),
        privateKey: InlineKey,
        key: InlineKey,
        mnemonic: InlineKey,
        confirmations: int(1, 1000, 1),
        maxBatch: int(1, 256, 32),
        receiptTimeoutMs: int(100, 3_600_000, 60_000),
        callTimeoutMs: int(100, 600_000, DEFAULT_CHAIN_CALL_TIMEOUT_MS),
        retry: Type.Object({ minMs: int(10, 600_000, 500), maxMs: int(10, 3_600_000, 30_000) }, { additionalProperties: false, default: {} }),
      },
      { additionalProperties: false, problem: "must be an object with rpcUrl, deployment and keyFile or keyEnv" },
    ),
    window: Type.Object({ durationMs: int(10, 3_600_000, 1000), maxReadings: int(1, 10_000_000, 200_000) }, { additionalProperties: false, default: {} }),
    ingest: Type.Object(
      { maxPendingReadings: int(1, 10_000_000, 65_536), clockToleranceMs: int(0, 86_400_000, 2000) },
      { additionalProperties: false, default: {} },
    ),
    secretFile: Type.Optional(FilePath({ problem: "must be a non-empty string" })),
    statusIntervalMs: int(100, 600_000, 1000),
    metrics: Type.Optional(
      Type.Object(
        {
          host: Type.String({ pattern: "\\S", default: "127.0.0.1", problem: "must be a host name or address" }),
          port: Type.Integer({ minimum: 0, maximum: 65535, default: 9464, problem: "must be a TCP port (0: any free one)" }),
          tokenFile: Type.Optional(FilePath({ problem: "must be a path (a file holding the bearer token Prometheus sends)" })),
        },
        { additionalProperties: false, problem: "must be an object with host, port and tokenFile (all optional)" },
      ),
    ),
    devices: Type.Array(Type.Unknown(), { default: [], problem: "must be an array of device configurations" }),
    p2p: Type.Optional(P2pSchema),
    retention: Type.Optional(RetentionSchema),
  },
  { additionalProperties: false, problem: "the configuration must be a JSON object" },
);

/** Reads and validates a config file. Throws ConfigError. */
export function loadConfig(file: string, options: { skipSections?: readonly string[] } = {}): NodeConfig {
  const { raw, file: abs, dir } = readJsonFile(file);
  // Sections another reader owns (a member's `gateway` and `parties`, member/config.ts): the node commands skip them.
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) for (const section of options.skipSections ?? []) delete (raw as Record<string, unknown>)[section];
  return parseConfig(raw, dir, abs);
}

/** Validates a parsed config; relative paths resolve against `baseDir`. Throws ConfigError. */
export function parseConfig(raw: unknown, baseDir: string, file?: string): NodeConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError(["the configuration must be a JSON object"], file);
  return toNodeConfig(checkConfig(NodeConfigSchema, raw, { baseDir, ...(file ? { file } : {}), rules: nodeConfigRules }), file);
}

/**
 * The node config's rules across fields. A config that embeds the node's (the member process's,
 * whose schema composes NodeConfigSchema with its own sections) runs them too.
 */
export function nodeConfigRules(c: Static<typeof NodeConfigSchema>, problem: (field: string, text: string) => void): void {
  if ((c.chain.keyFile === undefined) === (c.chain.keyEnv === undefined)) {
    problem("chain", "give exactly one of keyFile (path to the node's private key) or keyEnv (name of the environment variable holding it)");
  }
  if (!URL.canParse(c.chain.rpcUrl)) problem("chain.rpcUrl", `is not a URL (got ${shown(c.chain.rpcUrl)})`);
  const { minMs, maxMs } = c.chain.retry;
  if (maxMs < minMs) problem("chain.retry.maxMs", `must not be below minMs (${minMs}) (got ${maxMs})`);
  if (c.metrics && c.metrics.tokenFile === undefined && !LOOPBACK_HOSTS.has(c.metrics.host)) {
    problem("metrics.host", `serves metrics off loopback (${shown(c.metrics.host)}) without a tokenFile: give one, or listen on 127.0.0.1`);
  }
  if (c.retention) retentionRules(c.retention, problem);
}

/** Hosts that only this machine reaches. */
export const LOOPBACK_HOSTS = new Set(["127.0.0.1", "::1", "localhost"]);

/** The NodeConfig of a checked config (the node's sections of it), with the defaults that follow from dataDir. */
export function toNodeConfig(c: Static<typeof NodeConfigSchema>, file?: string): NodeConfig {
  const { keyFile, keyEnv, privateKey: _p, key: _k, mnemonic: _m, ...chain } = c.chain;
  return {
    ...(file ? { file } : {}),
    organisation: c.organisation,
    dataDir: c.dataDir,
    chain: { ...chain, key: keyFile !== undefined ? { file: keyFile } : { env: keyEnv! } },
    window: c.window,
    ingest: c.ingest,
    secretFile: c.secretFile ?? path.join(c.dataDir, "node-secret"),
    statusIntervalMs: c.statusIntervalMs,
    ...(c.metrics ? { metrics: c.metrics } : {}),
    devices: c.devices,
    ...(c.p2p ? { p2p: { ...c.p2p, keyFile: c.p2p.keyFile ?? path.join(c.dataDir, "p2p.key") } } : {}),
    ...(c.retention ? { retention: toRetentionConfig(c.retention, c.retention.archiveDir ?? path.join(c.dataDir, "archive")) } : {}),
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
