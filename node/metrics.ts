/**
 * The node daemon's Prometheus metrics (issue 18): what an operator alerts on for a node that
 * runs unattended for years. Every value is read at scrape time from the node's own status (the
 * one source status.json is written from), so metrics and status never disagree and nothing is
 * counted twice. Counters end in `_total`; window numbers that can go back (anchors the chain
 * lost are anchored again) are gauges. ops/ holds the Grafana dashboard and the alert rules.
 *
 * Served by `serveMetrics` on its own listener: loopback only, or off loopback with a bearer
 * token (config `metrics`), the stance of the gateway's /metrics.
 */
import { timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { type Server, createServer } from "node:http";
import path from "node:path";
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { NodeStatus } from "./daemon.ts";
import type { AdapterState } from "./edge/adapter.ts";
import type { AnchoringState } from "./chain/anchorer.ts";

export interface NodeMetricsSource {
  status(): NodeStatus;
  /** Per stream: readings sequenced so far (IngestPipeline.streamReadings). */
  streamReadings(): Map<string, number>;
  /** The chain's head, or null when the chain does not answer (bounded: lib/rpc-provider.ts). */
  chainHead(): Promise<number | null>;
}

const ADAPTER_STATES = ["connecting", "connected", "disconnected", "stopped"] as const satisfies readonly AdapterState[];
const ANCHORING_STATES = ["starting", "reconciling", "idle", "anchoring", "held", "retrying", "failed", "stopped"] as const satisfies readonly AnchoringState[];

type Setter = (labels: Record<string, string>, value: number) => void;
type FollowStatus = NonNullable<NodeStatus["p2p"]>["follows"][number];
type RetentionStatus = NonNullable<NodeStatus["retention"]>;

/** A counter whose total is read from the node at scrape time. */
function readCounter(registry: Registry, name: string, help: string, labelNames: string[], read: (set: (labels: Record<string, string>, value: number) => void) => void | Promise<void>): Counter {
  return new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      this.reset();
      await read((labels, value) => this.inc(labels, Math.max(0, value)));
    },
  });
}

function readGauge(registry: Registry, name: string, help: string, labelNames: string[], read: (set: (labels: Record<string, string>, value: number) => void) => void | Promise<void>): Gauge {
  return new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    async collect() {
      this.reset();
      await read((labels, value) => this.set(labels, value));
    },
  });
}

/** Bytes of every file under `dir` (LevelDB stores, event store, logs of the node). */
async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await directoryBytes(p);
    else if (e.isFile()) total += await stat(p).then((s) => s.size, () => 0);
  }
  return total;
}

export function nodeMetrics(source: NodeMetricsSource, clock: () => number = Date.now): Registry {
  const r = new Registry();
  collectDefaultMetrics({ register: r });
  const s = () => source.status();
  const none = {};

  // Ingestion.
  readCounter(r, "tracemesh_node_readings_stored_total", "Readings stored durably", [], (set) => set(none, s().readingsStored));
  readCounter(r, "tracemesh_node_stream_readings_total", "Readings sequenced per stream", ["stream"], (set) => {
    for (const [stream, n] of source.streamReadings()) set({ stream }, n);
  });
  readCounter(r, "tracemesh_node_skewed_readings_total", "Readings whose source time lies beyond the clock tolerance (late or ahead)", [], (set) => set(none, s().ingest.skewedReadings));
  readCounter(r, "tracemesh_node_historical_readings_total", "Readings delivered from a device's store and forward (historical, never counted as late)", [], (set) => set(none, s().ingest.historicalReadings));
  readCounter(r, "tracemesh_node_stream_late_readings_total", "Readings later than the clock tolerance, per stream", ["stream"], (set) => {
    for (const t of s().ingest.timing) set({ stream: t.stream }, t.late);
  });
  readCounter(r, "tracemesh_node_stream_ahead_readings_total", "Readings ahead of the node clock beyond the tolerance (device clock ahead), per stream", ["stream"], (set) => {
    for (const t of s().ingest.timing) set({ stream: t.stream }, t.ahead);
  });
  readGauge(r, "tracemesh_node_stream_max_late_seconds", "Largest receive time minus source time seen, per stream with late or ahead readings", ["stream"], (set) => {
    for (const t of s().ingest.timing) set({ stream: t.stream }, t.maxLateMs / 1000);
  });
  readGauge(r, "tracemesh_node_stream_max_ahead_seconds", "Largest source time minus receive time seen (device clock ahead), per stream with late or ahead readings", ["stream"], (set) => {
    for (const t of s().ingest.timing) set({ stream: t.stream }, t.maxAheadMs / 1000);
  });
  readGauge(r, "tracemesh_node_pending_readings", "Readings admitted and not yet durable", [], (set) => set(none, s().ingest.pendingReadings));
  readGauge(r, "tracemesh_node_ingest_failed", "1 when the ingest pipeline failed (readings are refused)", [], (set) => set(none, s().ingest.failed ? 1 : 0));
  readGauge(r, "tracemesh_node_ingest_stalled_seconds", "While writes to the reading store fail and are retried (disk full, I/O error): seconds since the first failure (0 when writing)", [], (set) => {
    const st = s().ingest.stalled;
    set(none, st ? Math.max(0, (clock() - st.since) / 1000) : 0);
  });

  // Devices.
  readCounter(r, "tracemesh_node_device_readings_total", "Readings received per device", ["device"], (set) => {
    for (const a of s().adapters) set({ device: a.device }, a.readings);
  });
  readCounter(r, "tracemesh_node_device_gaps_total", "Readings a device's protocol says were missed", ["device"], (set) => {
    for (const a of s().adapters) set({ device: a.device }, a.gaps);
  });
  readGauge(r, "tracemesh_node_device_state", "1 for the adapter's current state", ["device", "state"], (set) => {
    for (const a of s().adapters) for (const st of ADAPTER_STATES) set({ device: a.device, state: st }, a.state === st ? 1 : 0);
  });

  // Windows and anchoring.
  readCounter(r, "tracemesh_node_windows_closed_total", "Windows closed", [], (set) => set(none, s().windows.closed));
  readGauge(r, "tracemesh_node_windows_anchored", "Last window anchored and confirmed (goes back when the chain lost anchors, until they are anchored again)", [], (set) => set(none, s().windows.anchored));
  readGauge(r, "tracemesh_node_windows_pending", "Closed windows not yet anchored", [], (set) => set(none, s().windows.pending));
  readGauge(r, "tracemesh_node_anchoring_lag_seconds", "While windows are pending: seconds since the last anchor (0 when none is pending)", [], (set) => {
    const st = s();
    const since = st.lastAnchor?.anchoredAt ? st.lastAnchor.anchoredAt * 1000 : st.startedAt;
    set(none, st.windows.pending > 0 ? Math.max(0, (clock() - since) / 1000) : 0);
  });
  readGauge(r, "tracemesh_node_anchoring_state", "1 for the anchorer's current state", ["state"], (set) => {
    const cur = s().anchoring.state;
    for (const st of ANCHORING_STATES) set({ state: st }, cur === st ? 1 : 0);
  });
  readGauge(r, "tracemesh_node_anchoring_failed_attempts", "Consecutive failed anchoring attempts", [], (set) => set(none, s().anchoring.attempts));
  readGauge(r, "tracemesh_node_clock_ahead_seconds", "Node clock minus the chain's time at the last comparison", [], (set) => {
    const c = s().anchoring.clock;
    if (c) set(none, c.aheadMs / 1000);
  });
  readGauge(r, "tracemesh_node_anchors_lost_windows", "Windows whose anchors the chain lost at the last recovery (anchored again since when reanchored)", ["reanchored"], (set) => {
    const rec = s().anchoring.recovery;
    if (rec) set({ reanchored: rec.reanchoredAt !== undefined ? "true" : "false" }, rec.lostUpTo - rec.chainLast);
  });

  readGauge(r, "tracemesh_node_windows_lost_before_anchoring", "Closed windows the store lost before they were anchored, recorded on chain as lost (DataAnchors WindowsLost): their readings cannot be proven", [], (set) =>
    set(none, s().anchoring.lost?.windows ?? 0),
  );

  // The chain.
  const head = new Gauge({ name: "tracemesh_node_chain_head_block", help: "The chain's head as last read", registers: [r] });
  new Gauge({
    name: "tracemesh_node_chain_up",
    help: "1 when the chain answered this scrape (within the call bound)",
    registers: [r],
    async collect() {
      const h = await source.chainHead();
      this.set(h === null ? 0 : 1);
      if (h !== null) head.set(h);
    },
  });

  // The peer network.
  readGauge(r, "tracemesh_node_peers", "Connected member peers", [], (set) => set(none, s().p2p?.peers.length ?? 0));
  readGauge(r, "tracemesh_node_banned_peers", "Peers banned for misbehaviour", [], (set) => set(none, s().p2p?.banned.length ?? 0));
  readCounter(r, "tracemesh_node_peer_misbehaviour_total", "Misbehaviour reports against peers", [], (set) => set(none, s().p2p?.misbehaviour.length ?? 0));
  readCounter(r, "tracemesh_node_return_requests_total", "Requests for a node's own readings back (return protocol), by outcome: served, or the refusal", ["outcome"], (set) => {
    const returns = s().p2p?.returns;
    if (returns === undefined) return;
    set({ outcome: "served" }, returns.served);
    for (const [code, n] of Object.entries(returns.refused)) set({ outcome: code }, n ?? 0);
  });
  /** One value per followed stream, labelled by owner and stream; undefined leaves the stream out. */
  const FOLLOW = ["organisation", "stream"];
  const perFollow = (value: (f: FollowStatus) => number | undefined) => (set: Setter) => {
    for (const f of s().p2p?.follows ?? []) {
      const v = value(f);
      if (v !== undefined) set({ organisation: String(f.organisation), stream: f.stream }, v);
    }
  };
  readCounter(r, "tracemesh_node_follow_readings_total", "Readings received and verified per followed stream", FOLLOW, perFollow((f) => f.received));
  readCounter(r, "tracemesh_node_follow_unverifiable_windows_total", "Windows of a followed stream skipped as unverifiable", FOLLOW, perFollow((f) => f.unverifiable));
  readGauge(r, "tracemesh_node_follow_last_fetch_timestamp_seconds", "When a followed stream last fetched, Unix seconds", FOLLOW, perFollow((f) => (f.lastFetchAt ? f.lastFetchAt / 1000 : undefined)));
  readGauge(r, "tracemesh_node_follow_failing", "1 while a followed stream's last fetch failed or it waits for the chain", FOLLOW, perFollow((f) => (f.lastError || f.waiting ? 1 : 0)));

  // Own EPCIS events a reorg dropped from the chain (node/events/records.ts): not served until recorded again.
  readGauge(r, "tracemesh_node_unrecorded_own_events", "Own events whose Provenance record the chain no longer holds", [], (set) => {
    const e = s().events;
    if (e) set(none, e.unrecordedOwn);
  });

  // Retention (node/retention): readings moved to the archive, and what it takes on disk.
  /** A value of the retention status, absent while the node runs no retention (or the value is undefined). */
  const ofRetention = (value: (t: RetentionStatus) => number | undefined) => (set: Setter) => {
    const t = s().retention;
    const v = t === undefined ? undefined : value(t);
    if (v !== undefined) set(none, v);
  };
  readCounter(r, "tracemesh_node_retention_pruned_readings_total", "Readings moved from the store to the archive (over the store's life)", [], ofRetention((t) => t.prunedReadings));
  readCounter(r, "tracemesh_node_retention_received_pruned_readings_total", "Readings received from followed streams moved from the received store to the archive (over the store's life)", [], ofRetention((t) => t.received?.prunedReadings));
  readCounter(r, "tracemesh_node_retention_kept_bound_runs_total", "Expired runs kept because an own EPCIS event binds their readings", [], ofRetention((t) => t.keptBoundRuns));
  readGauge(r, "tracemesh_node_retention_archive_bytes", "Bytes of the committed archive segments", [], ofRetention((t) => t.archiveBytes));
  readGauge(r, "tracemesh_node_retention_last_run_timestamp_seconds", "When retention last ran, Unix seconds", [], ofRetention((t) => (t.lastRunAt ? t.lastRunAt / 1000 : undefined)));
  readGauge(r, "tracemesh_node_retention_failed", "1 when the last retention run failed (readings stay in the store)", [], ofRetention((t) => (t.lastError ? 1 : 0)));

  // The disk.
  readGauge(r, "tracemesh_node_data_dir_bytes", "Bytes of the node's data directory (stores, secrets, status)", [], async (set) => set(none, await directoryBytes(s().dataDir)));
  return r;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves GET /metrics on host:port. With a token, every scrape must send it (Authorization:
 * Bearer); without one the listener must be loopback (the config refuses otherwise) and so must
 * the caller, and a request forwarded by a local proxy is refused.
 */
export async function serveMetrics(registry: Registry, options: { host: string; port: number; token?: string }): Promise<MetricsServer> {
  const expected = options.token === undefined ? undefined : Buffer.from(`Bearer ${options.token}`);
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://metrics");
      if (req.method !== "GET" || url.pathname !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain" }).end("only GET /metrics is served here\n");
        return;
      }
      const given = Buffer.from(req.headers.authorization ?? "");
      const allowed = expected !== undefined ? given.length === expected.length && timingSafeEqual(given, expected) : LOOPBACK.has(req.socket.remoteAddress ?? "") && req.headers["x-forwarded-for"] === undefined;
      if (!allowed) {
        res.writeHead(403, { "content-type": "text/plain" }).end(expected ? "metrics need Authorization: Bearer <the configured metrics token>\n" : "metrics are served to direct loopback callers only\n");
        return;
      }
      try {
        const body = await registry.metrics();
        res.writeHead(200, { "content-type": registry.contentType }).end(body);
      } catch (e) {
        res.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${(e as Error).message}\n`);
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Serves the node's metrics as configured (`metrics` in the node config), or nothing when not configured. */
export async function startNodeMetrics(config: { host: string; port: number; tokenFile?: string } | undefined, source: NodeMetricsSource): Promise<MetricsServer | undefined> {
  if (config === undefined) return undefined;
  const token = config.tokenFile === undefined ? undefined : readFileSync(config.tokenFile, "utf8").trim();
  if (token !== undefined && token.length < 16) throw new Error(`metrics.tokenFile ${config.tokenFile}: the token has ${token.length} characters; use at least 16`);
  return serveMetrics(nodeMetrics(source), { host: config.host, port: config.port, ...(token !== undefined ? { token } : {}) });
}
