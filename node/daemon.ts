/**
 * The member node daemon: wires the config, the reading store and ingest pipeline, the anchorer
 * and the edge adapters, and reports status.
 *
 * Start order: everything that can be checked without side effects first (key, deployment record,
 * device configs), then the data directory (node secret, LevelDB, recovery of the open window),
 * then the chain (best effort: a chain that is down only delays anchoring), then the peer network
 * (config `p2p`; it needs the chain to know who may connect), then the adapters.
 * Stop order is the reverse: the peer network leaves, adapters stop producing, the pipeline
 * commits what it admitted and closes the open window, the anchorer gets a short grace to anchor
 * it, LevelDB closes.
 *
 * Status: `status()` in process, and `<dataDir>/status.json`, rewritten every `statusIntervalMs`,
 * for `tsx node/cli.ts status` (LevelDB admits one process, so the CLI reads the file). `proof`
 * and `audit` ask the running node over its admin channel (node/admin.ts: an owner-only Unix
 * socket in the data directory).
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { JsonRpcProvider, Wallet } from "ethers";
import { DataAnchors__factory } from "../lib/contracts/types/index.js";
import { type Deployment, connectContracts, readDeployment } from "../lib/deployment.ts";
import { contractAnchorView } from "../lib/verify-reading.ts";
import { type AdminServer, serveAdmin } from "./admin.ts";
import { type MetricsServer, startNodeMetrics } from "./metrics.ts";
import { withTimeout } from "../lib/retry.ts";
import type { AdapterContext, AdapterStatus, EdgeAdapter } from "./edge/adapter.ts";
import { createAdapter, parseDeviceConfig } from "./edge/index.ts";
import { AnchorChain, type AnchorChainHooks, ChainClient, rpcProvider } from "./chain/client.ts";
import { Anchorer, type AnchoringStatus, type ClockCheck } from "./chain/anchorer.ts";
import { orgIdByName } from "./chain/org-names.ts";
import { ConfigError, type NodeConfig, loadNodeKey } from "./config.ts";
import { type IngestStall, IngestPipeline, type PipelineStatus } from "./ingest/pipeline.ts";
import type { StreamTiming, TimingReport } from "./ingest/timing.ts";
import { ProofService } from "./ingest/proofs.ts";
import { NODE_SECRET_BYTES } from "./ingest/salt.ts";
import { loadOrCreateSecret } from "../lib/secret-file.ts";
import { type AnchorReceipt, IngestStore } from "./ingest/store.ts";
import { StoreDamagedError, isStoreDamage } from "./ingest/repair.ts";
import { EventStore } from "./events/store.ts";
import { IngestReadingSource } from "./p2p/ingest-source.ts";
import { type P2pStatus, PeerNetwork } from "./p2p/network.ts";
import { resolveFollowedNames } from "./retention/policy.ts";
import { Retention, type RetentionStatus, ownEventBindings } from "./retention/prune.ts";

/**
 * What the daemon needs from node/edge/index.ts: parse one device config (throwing a clear error
 * for a bad one), and create the adapter for it. Tests may hand in another implementation.
 */
export interface EdgeModule<D = unknown> {
  parseDeviceConfig(raw: unknown): D;
  createAdapter(config: D, ctx: AdapterContext): EdgeAdapter;
}

/** The edge adapters (OPC UA, Sparkplug B, MQTT JSON, Modbus TCP); protocol stacks load when an adapter starts. */
export const EDGE: EdgeModule = { parseDeviceConfig, createAdapter: createAdapter as EdgeModule["createAdapter"] };

export interface NodeStatus {
  running: boolean;
  pid: number;
  startedAt: number;
  updatedAt: number;
  organisation: string | number;
  /** The node's signing account (its anchor chain on DataAnchors). */
  node: string;
  dataDir: string;
  readingsStored: number;
  windows: { closed: number; anchored: number; pending: number; open: PipelineStatus["openWindow"] };
  lastAnchor?: AnchorReceipt;
  anchoring: Omit<AnchoringStatus, "node" | "lastAnchored" | "pendingWindows" | "lastAnchor">;
  ingest: Omit<PipelineStatus, "readingsStored" | "windowsClosed" | "openWindow">;
  adapters: AdapterStatus[];
  /** The peer network, when configured and started. */
  p2p?: P2pStatus;
  /** Where the node serves its Prometheus metrics (config `metrics`). */
  metricsUrl?: string;
  /** The EPCIS event store (with the peer network): own events a reorg left unrecorded (node/events/records.ts). */
  events?: { unrecordedOwn: number };
  /** Retention of readings (config `retention`, node/retention). */
  retention?: RetentionStatus;
}

export interface RunningNode {
  readonly config: NodeConfig;
  readonly address: string;
  /** The node key, connected to `provider`: the one signer of the node's chain writes. */
  readonly signer: Wallet;
  /** The node's JSON-RPC provider, shared with whoever composes the node (member/); closed by stop(). */
  readonly provider: JsonRpcProvider;
  readonly deployment: Deployment;
  readonly store: IngestStore;
  readonly pipeline: IngestPipeline;
  readonly anchorer: Anchorer;
  readonly chain: AnchorChain;
  readonly proofs: ProofService;
  /** The peer network, when the config has a `p2p` section. */
  readonly p2p?: PeerNetwork;
  /** The node's EPCIS event store (opened with the peer network, or for retention to keep event-bound readings). */
  readonly events?: EventStore;
  /** The retention task, when the config has a `retention` section. */
  readonly retention?: Retention;
  status(): NodeStatus;
  /** Stops the node (idempotent); resolves when LevelDB is closed. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** The node key when the caller loaded it already (the member process loads it once); default: loaded from the config. */
  wallet?: Wallet;
  /** The edge adapters' module (default: node/edge/index.ts). */
  edge?: EdgeModule;
  log?: (message: string) => void;
  env?: NodeJS.ProcessEnv;
  hooks?: AnchorChainHooks;
  /** How long stop() lets the anchorer anchor the last window, ms (default 3000). */
  stopGraceMs?: number;
  /** The node clock for windows and the anchorer's clock check, Unix ms (default Date.now; tests set one ahead). */
  clock?: () => number;
}

/** The node secret that salts readings: read, or created (32 random bytes, owner-only) on first start. */
export const loadOrCreateNodeSecret = (file: string): Buffer => loadOrCreateSecret(file, { bytes: NODE_SECRET_BYTES, minBytes: 16, field: "secretFile", what: "a node secret" });

function writeStatusFile(dir: string, status: NodeStatus): void {
  const file = path.join(dir, "status.json");
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(status, null, 2) + "\n");
  renameSync(tmp, file);
}

/** Checks the chain is the deployment's and the key acts for the configured organisation. */
async function checkChain(config: NodeConfig, deployment: Deployment, chain: AnchorChain, provider: JsonRpcProvider, log: (m: string) => void): Promise<void> {
  let chainId: number;
  try {
    chainId = Number(await provider.send("eth_chainId", []));
  } catch (e) {
    log(`chain ${config.chain.rpcUrl} is not reachable (${(e as Error).message.split("\n")[0]}); readings are stored and anchoring resumes when it is`);
    return;
  }
  if (chainId !== deployment.chainId) {
    throw new ConfigError([`chain.rpcUrl ${config.chain.rpcUrl} serves chain ${chainId}, but the deployment record is for chain ${deployment.chainId}`], config.file);
  }
  let orgId: number;
  try {
    orgId = await chain.activeOrg();
  } catch (e) {
    log(`cannot check the node's organisation yet: ${(e as Error).message}`);
    return;
  }
  if (orgId === 0) {
    log(`WARNING: ${chain.node} is not a signing account of an active organisation; DataAnchors will refuse its anchors until it is`);
    return;
  }
  if (typeof config.organisation === "number") {
    if (config.organisation !== orgId) {
      throw new ConfigError([`organisation: the node key ${chain.node} belongs to organisation #${orgId}, not #${config.organisation}`], config.file);
    }
    return;
  }
  const { Consortium__factory } = await import("../lib/contracts/types/index.js");
  const consortium = Consortium__factory.connect(deployment.contracts.consortium, provider);
  const [name] = await consortium.org(orgId);
  if (name !== config.organisation) {
    throw new ConfigError([`organisation: the node key ${chain.node} belongs to "${name}" (#${orgId}), not "${config.organisation}"`], config.file);
  }
}

/**
 * Joins the peer network: serves this node's anchored readings, keeps what partners send in
 * `<dataDir>/received`. Needs the chain: admission and access are decided there.
 */
async function startPeerNetwork(
  config: NodeConfig,
  deployment: Deployment,
  provider: JsonRpcProvider,
  chain: AnchorChain,
  store: IngestStore,
  proofs: ProofService,
  log: (m: string) => void,
): Promise<{ net: PeerNetwork; events: EventStore }> {
  const p2p = config.p2p!;
  let ownerOrg: number;
  try {
    ownerOrg = await chain.activeOrg();
  } catch (e) {
    throw new Error(`the peer network needs the chain to start: ${(e as Error).message}`, { cause: e });
  }
  if (ownerOrg === 0) throw new ConfigError([`p2p: the node key ${chain.node} is not a signing account of an active organisation, so the node cannot serve its data`], config.file);
  // The node's EPCIS events (own and received, kept apart by the store): served and filled by the peer network.
  const events = await EventStore.open(path.join(config.dataDir, "events"));
  try {
    const net = await PeerNetwork.start({
      config: p2p,
      dataDir: config.dataDir,
      deployment,
      provider,
      ownerOrg,
      readings: new IngestReadingSource(store, proofs, { clockToleranceMs: config.ingest.clockToleranceMs }),
      events: { store: events },
      log,
    });
    return { net, events };
  } catch (e) {
    await events.close();
    throw e;
  }
}

/** Starts a member node. Throws ConfigError for anything wrong in the configuration. */
export async function startNode(config: NodeConfig, options: StartOptions = {}): Promise<RunningNode> {
  const log = options.log ?? ((m: string) => console.log(`[node] ${m}`));
  const wallet = options.wallet ?? loadNodeKey(config, options.env);
  let deployment: Deployment;
  try {
    deployment = readDeployment(config.chain.deployment);
  } catch (e) {
    throw new ConfigError([`chain.deployment: ${(e as Error).message}`], config.file);
  }

  const edge = options.edge ?? EDGE;
  const devices: unknown[] = [];
  const deviceProblems: string[] = [];
  config.devices.forEach((raw, i) => {
    try {
      devices.push(edge.parseDeviceConfig(raw));
    } catch (e) {
      deviceProblems.push(`devices[${i}]: ${(e as Error).message}`);
    }
  });
  if (deviceProblems.length > 0) throw new ConfigError(deviceProblems, config.file);

  const secret = loadOrCreateNodeSecret(config.secretFile);
  const storeDir = path.join(config.dataDir, "db");
  // Damaged files (LevelDB "Corruption") show at open or at the first reads: refuse, naming the repair.
  const damaged = (e: unknown) => (isStoreDamage(e) ? new StoreDamagedError(`the reading store ${storeDir}`, (e as Error).message, config.file, { cause: e, partners: config.p2p !== undefined }) : e);
  const store = await IngestStore.open(storeDir, { log }).catch((e: unknown) => Promise.reject(damaged(e)));
  let provider: JsonRpcProvider | undefined;
  try {
    await store.bindNode(wallet.address).catch((e: unknown) => Promise.reject(damaged(e)));
    const pipeline = await IngestPipeline.open(store, secret, {
      windowMs: config.window.durationMs,
      maxWindowReadings: config.window.maxReadings,
      maxPendingReadings: config.ingest.maxPendingReadings,
      clockToleranceMs: config.ingest.clockToleranceMs,
      ...(options.clock ? { now: options.clock } : {}),
    }).catch((e: unknown) => Promise.reject(damaged(e)));
    provider = rpcProvider(config.chain.rpcUrl, deployment.chainId, { callTimeoutMs: config.chain.callTimeoutMs });
    const client = new ChainClient(provider, { confirmations: config.chain.confirmations, receiptTimeoutMs: config.chain.receiptTimeoutMs });
    const signer = wallet.connect(provider);
    const chain = await AnchorChain.create(client, deployment.contracts.dataAnchors, signer, {
      deploymentBlock: deployment.deploymentBlock,
      ...(options.hooks ? { hooks: options.hooks } : {}),
    });
    try {
      await checkChain(config, deployment, chain, provider, log);
    } catch (e) {
      await pipeline.stop();
      throw e;
    }
    const anchorer = new Anchorer(store, pipeline, chain, { maxBatch: config.chain.maxBatch, retry: config.chain.retry, log, ...(options.clock ? { clock: options.clock } : {}) });
    pipeline.on("window", () => anchorer.notify());
    pipeline.on("failed", (e: Error) => log(`INGEST STOPPED: ${e.message}`));
    pipeline.on("stalled", (st: IngestStall) => log(describeStall(st)));
    pipeline.on("resumed", (st: IngestStall) => log(`INGEST RESUMED: the reading store takes writes again after ${seconds(Date.now() - st.since)} and ${st.attempts} failed attempt(s); nothing was lost`));
    pipeline.on("timing", (t: TimingReport) => log(`WARNING: ${describeTiming(t, config.ingest.clockToleranceMs)}`));
    await anchorer.start();
    const proofs = new ProofService(store, wallet.address);

    let p2p: PeerNetwork | undefined;
    let events: EventStore | undefined;
    if (config.p2p) {
      try {
        ({ net: p2p, events } = await startPeerNetwork(config, deployment, provider, chain, store, proofs, log));
      } catch (e) {
        await anchorer.stop();
        await pipeline.stop();
        throw e;
      }
      const net = p2p;
      anchorer.on("anchored", (receipts: AnchorReceipt[]) => {
        const last = receipts.at(-1);
        if (last) void net.announceAnchor(wallet.address, last.sequence);
      });
    }

    // Retention keeps the readings own events bind, so it reads the event store (the member's too).
    let retention: Retention | undefined;
    if (config.retention) {
      try {
        events ??= await EventStore.open(path.join(config.dataDir, "events"));
        const eventStore = events;
        // Followed rules may name their owner: the registry says who that is, once, at start.
        // Without the peer network nothing is received, so the rules are not needed.
        const consortium = connectContracts(deployment.contracts, provider).consortium;
        const retentionConfig = p2p ? await resolveFollowedNames(config.retention, (name) => orgIdByName(consortium, name), config.file) : { ...config.retention, followed: [] };
        retention = new Retention(store, proofs, retentionConfig, {
          node: wallet.address,
          bindings: () => ownEventBindings(eventStore),
          ...(p2p ? { received: p2p.received } : {}),
          log: (m) => log(`retention: ${m}`),
          ...(options.clock ? { now: options.clock } : {}),
        });
        await retention.start();
      } catch (e) {
        await p2p?.stop();
        await events?.close();
        await anchorer.stop();
        await pipeline.stop();
        throw e;
      }
    }

    const adapterStatus = new Map<string, AdapterStatus>();
    const adapters: EdgeAdapter[] = devices.map((d) =>
      edge.createAdapter(d, {
        sink: pipeline,
        onStatus: (s) => adapterStatus.set(s.device, s),
        log: (m) => log(m),
      }),
    );
    for (const a of adapters) {
      adapterStatus.set(a.device, a.status());
      a.start().catch((e: Error) => log(`adapter ${a.device}: ${e.message}`));
    }

    const startedAt = Date.now();
    let running = true;
    let metrics: MetricsServer | undefined;
    const status = (): NodeStatus => {
      const p = pipeline.status();
      const a = anchorer.status();
      const { readingsStored, windowsClosed, openWindow, ...ingest } = p;
      const { state, lastError, attempts, clock, heldWindows, recovery, lost } = a;
      return {
        running,
        pid: process.pid,
        startedAt,
        updatedAt: Date.now(),
        organisation: config.organisation,
        node: wallet.address,
        dataDir: config.dataDir,
        readingsStored,
        windows: { closed: windowsClosed, anchored: a.lastAnchored, pending: a.pendingWindows, open: openWindow },
        ...(a.lastAnchor ? { lastAnchor: a.lastAnchor } : {}),
        anchoring: { state, attempts, ...(lastError ? { lastError } : {}), ...(clock ? { clock } : {}), ...(heldWindows !== undefined ? { heldWindows } : {}), ...(recovery ? { recovery } : {}), ...(lost ? { lost } : {}) },
        ingest,
        adapters: adapters.map((ad) => {
          try {
            return ad.status();
          } catch {
            return adapterStatus.get(ad.device)!;
          }
        }),
        ...(p2p ? { p2p: p2p.status() } : {}),
        ...(metrics ? { metricsUrl: metrics.url } : {}),
        ...(events ? { events: { unrecordedOwn: events.unrecordedCount } } : {}),
        ...(retention ? { retention: retention.status() } : {}),
      };
    };
    const writeStatus = () => {
      try {
        writeStatusFile(config.dataDir, status());
      } catch (e) {
        log(`cannot write the status file: ${(e as Error).message}`);
      }
    };
    writeStatus();
    const ticker = setInterval(writeStatus, config.statusIntervalMs);
    ticker.unref();

    // The node commands ask the running node (it holds LevelDB); a node without the channel still runs.
    const anchorView = contractAnchorView(DataAnchors__factory.connect(deployment.contracts.dataAnchors, provider));
    let admin: AdminServer | undefined;
    try {
      admin = await serveAdmin(config.dataDir, {
        status,
        proof: (stream, seq) => proofs.proveReading(stream, seq),
        audit: () => proofs.audit(anchorView),
      });
    } catch (e) {
      log(`WARNING: no admin channel (the node commands cannot ask this node while it runs): ${(e as Error).message}`);
    }

    try {
      metrics = await startNodeMetrics(config.metrics, { status, streamReadings: () => pipeline.streamReadings(), chainHead: () => provider!.getBlockNumber().catch(() => null) });
      if (metrics) log(`metrics: ${metrics.url}`);
      writeStatus(); // says where
    } catch (e) {
      log(`WARNING: no metrics (config metrics): ${(e as Error).message}`);
    }

    let stopping: Promise<void> | undefined;
    // Every step runs whatever the one before it did (a chain or peer that is gone makes a step
    // fail, not the stop): the node always ends with its status file saying it stopped, and LevelDB closed.
    const step = async (what: string, run: () => Promise<unknown>) => {
      try {
        await run();
      } catch (e) {
        log(`${what} did not stop cleanly: ${(e as Error).message}`);
      }
    };
    const stop = () =>
      (stopping ??= (async () => {
        clearInterval(ticker);
        await step("the admin channel", async () => admin?.close());
        await step("the metrics listener", async () => metrics?.close());
        await step("the peer network", async () => p2p?.stop());
        await step("retention", async () => retention?.stop());
        await step("the event store", async () => events?.close());
        await Promise.all(adapters.map((a) => step(`adapter ${a.device}`, () => a.stop())));
        await step("the ingest pipeline", () => pipeline.stop());
        const grace = options.stopGraceMs ?? 3000;
        if (grace > 0 && !anchorer.error) {
          await step("anchoring the last window", () => withTimeout(anchorer.anchoredUpTo(pipeline.lastClosed), grace));
        }
        await step("the anchorer", () => anchorer.stop());
        running = false;
        writeStatus();
        await step("the reading store", () => store.close());
        provider?.destroy();
        const s = status();
        log(`stopped: ${s.readingsStored} readings, ${s.windows.closed} windows closed, ${s.windows.anchored} anchored, ${s.windows.pending} pending`);
      })());

    log(`node ${wallet.address} (${config.organisation}) started: data ${config.dataDir}, chain ${config.chain.rpcUrl}, ${adapters.length} device(s)`);
    return { config, address: wallet.address, signer, provider, deployment, store, pipeline, anchorer, chain, proofs, ...(p2p ? { p2p } : {}), ...(events ? { events } : {}), ...(retention ? { retention } : {}), status, stop };
  } catch (e) {
    provider?.destroy();
    await store.close();
    throw e;
  }
}

/** The last status the daemon wrote, and whether its process is still alive. */
export function readStatusFile(dataDir: string): { status: NodeStatus; alive: boolean } | undefined {
  let status: NodeStatus;
  try {
    status = JSON.parse(readFileSync(path.join(dataDir, "status.json"), "utf8")) as NodeStatus;
  } catch {
    return undefined;
  }
  let alive = false;
  if (status.running) {
    try {
      process.kill(status.pid, 0);
      alive = true;
    } catch {
      alive = false;
    }
  }
  return { status, alive };
}

const time = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : "-");
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The log line for a stream that turned late or ahead (readings still verify: they are committed by receive time). */
function describeTiming(t: TimingReport, toleranceMs: number): string {
  const what =
    t.kind === "late"
      ? `readings arrive late: source time up to ${seconds(t.maxLateMs)} before receipt`
      : `the device clock runs ahead: source time up to ${seconds(t.maxAheadMs)} after receipt`;
  return `stream ${t.stream}: ${what} (${t.kind === "late" ? t.late : t.ahead} reading(s) beyond ${toleranceMs} ms; they are stored and verify by their receive time)`;
}

/** The log line for each failed attempt to write to the reading store (ingestion paused, resumes by itself). */
function describeStall(st: IngestStall): string {
  const what = `writing to the reading store failed: ${st.lastError}; the write is retried in ${seconds(st.retryInMs)}`;
  return st.attempts === 1
    ? `INGEST PAUSED: ${what}. Readings wait (devices are held back, nothing is dropped) and ingestion resumes by itself once the store takes writes again (free disk space)`
    : `ingest still paused (attempt ${st.attempts}, since ${time(st.since)}): ${what}`;
}

/** One status line per stream whose source times disagree with its receive times. */
function timingLines(timing: readonly StreamTiming[]): string[] {
  return timing.map((t) => {
    const parts: string[] = [];
    if (t.late > 0) parts.push(`${t.late} late (up to ${seconds(t.maxLateMs)})`);
    if (t.ahead > 0) parts.push(`${t.ahead} ahead of receipt (device clock up to ${seconds(t.maxAheadMs)} fast)`);
    return `  timing ${t.stream}: ${parts.join(", ")}; last reading ${t.lastLagMs >= 0 ? `${seconds(t.lastLagMs)} late` : `${seconds(-t.lastLagMs)} ahead`}`;
  });
}

/** The clock alert line, while the node clock is too far ahead of the chain's. */
function clockLines(clock: ClockCheck | undefined): string[] {
  if (!clock?.alert) return [];
  return [`CLOCK ALERT node clock ${Math.round(clock.aheadMs / 1000)} s ahead of the chain's time (checked ${time(clock.checkedAt)}): check time synchronisation`];
}

/** The event store's line: own events whose record a reorg dropped, which partners are not served. */
export function eventLines(events: NodeStatus["events"]): string[] {
  if (events === undefined) return [];
  if (events.unrecordedOwn === 0) return ["events      every own event recorded on chain"];
  return [
    `EVENTS UNRECORDED ${events.unrecordedOwn} own event(s) no longer recorded on chain (a reorg dropped their records): not served to partners; capture their documents again`,
  ];
}

/** The status as the CLI prints it. */
export function formatStatus(s: NodeStatus, alive: boolean): string {
  const lines = [
    `node        ${s.node} (${s.organisation})`,
    `state       ${s.running ? (alive ? "running" : "not running (stopped without a clean shutdown)") : "stopped"}, pid ${s.pid}, updated ${time(s.updatedAt)}`,
    `readings    ${s.readingsStored} stored (${s.ingest.pendingReadings} pending, ${s.ingest.waitingWrites} writers waiting), all committed by receive time; ${s.ingest.skewedReadings} with source time off (late or device clock ahead); ${s.ingest.historicalReadings} delivered late from devices' store and forward`,
    ...timingLines(s.ingest.timing ?? []),
    `windows     ${s.windows.closed} closed, ${s.windows.anchored} anchored, ${s.windows.pending} pending; open #${s.windows.open.sequence} with ${s.windows.open.readings} readings`,
    `anchoring   ${s.anchoring.state}${s.anchoring.heldWindows ? ` (${s.anchoring.heldWindows} windows held: they end later than the chain accepts yet)` : ""}${s.anchoring.lastError ? ` (last error: ${s.anchoring.lastError})` : ""}`,
    ...clockLines(s.anchoring.clock),
    ...(s.anchoring.lost ? [`LOST        ${s.anchoring.lost.windows} window(s) lost from the store before they were anchored, recorded on chain as lost: ${s.anchoring.lost.runs.map((r) => (r.fromSequence === r.toSequence ? `#${r.fromSequence}` : `#${r.fromSequence}..#${r.toSequence}`)).join(", ")}`] : []),
    `last anchor ${s.lastAnchor ? `#${s.lastAnchor.sequence} at ${time(s.lastAnchor.anchoredAt * 1000)}${s.lastAnchor.txHash ? ` in ${s.lastAnchor.txHash}` : ""}` : "none"}`,
  ];
  if (s.ingest.stalled) {
    const st = s.ingest.stalled;
    lines.push(`INGEST PAUSED since ${time(st.since)}: ${st.lastError} (${st.attempts} failed attempt(s)); it resumes by itself once the store takes writes again`);
  }
  if (s.ingest.failed) lines.push(`INGEST FAILED ${s.ingest.failed}`);
  lines.push(...eventLines(s.events));
  if (s.retention) {
    const t = s.retention;
    lines.push(`retention   ${t.prunedReadings} readings archived in ${t.lastSegment} segment(s), ${t.archiveBytes} bytes in ${t.archiveDir}; ${t.keptBoundRuns} expired run(s) kept for events; last run ${time(t.lastRunAt)}`);
    if (t.received) lines.push(`  received  ${t.received.prunedReadings} readings of followed streams archived in ${t.received.lastSegment} segment(s) in ${t.received.dir}`);
    if (t.lastError) lines.push(`RETENTION FAILED ${t.lastError}`);
  }
  if (s.p2p) {
    const p = s.p2p;
    const throttled = p.throttledLookups > 0 ? `, ${p.throttledLookups} unknown peers turned away unasked (lookup budget)` : "";
    lines.push(`p2p         peer ${p.peerId}, ${p.peers.length} peer(s) connected, ${p.receivedReadings} readings received, ${p.served} answers served, ${p.refused} refused${throttled}`);
    for (const f of p.follows) {
      const skipped = f.unverifiable > 0 ? `, ${f.unverifiable} window(s) skipped as unverifiable (last: ${f.lastUnverifiable ?? "-"})` : "";
      const waiting = f.waiting ? `, waiting for the chain to show ${f.waiting}` : "";
      lines.push(`  follow ${f.stream} of organisation #${f.organisation}: ${f.received} received${skipped}${waiting}${f.lastError ? ` (last error: ${f.lastError})` : ""}`);
    }
    for (const b of p.banned) lines.push(`  banned ${b}: ${p.misbehaviour.findLast((r) => r.peer === b)?.reason ?? ""}`);
  }
  lines.push(`adapters    ${s.adapters.length === 0 ? "none" : ""}`);
  for (const a of s.adapters) {
    lines.push(`  ${a.device}: ${a.state}${a.detail ? ` (${a.detail})` : ""}, ${a.readings} readings, ${a.gaps} gaps`);
  }
  return lines.join("\n");
}
