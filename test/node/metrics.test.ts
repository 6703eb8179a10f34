/**
 * The node daemon's Prometheus metrics (node/metrics.ts), scraped from a running node while a
 * device stalls, a stream turns late and the chain goes away: readings per device and stream stop
 * growing, late readings are counted, windows pile up pending with a growing anchoring lag, and
 * the chain is reported down. Counters end in `_total`; the default process metrics are there.
 * The listener serves loopback callers only unless a token is configured (then always the token).
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Reading } from "../../lib/reading.ts";
import { ConfigError, loadConfig } from "../../node/config.ts";
import { type EdgeModule, type RunningNode, startNode } from "../../node/daemon.ts";
import type { AdapterContext, AdapterStatus, EdgeAdapter } from "../../node/edge/adapter.ts";
import { nodeMetrics, serveMetrics } from "../../node/metrics.ts";
import { type NodeEnv, nodeEnv } from "./ingest/support/env.ts";

/** One device writing a reading every 20 ms until `stall` is set; `late` makes its next reading an hour old. */
function controlledEdge(control: { stall: boolean; late: boolean }): EdgeModule<{ name: string }> {
  return {
    parseDeviceConfig: (raw) => ({ name: (raw as { name: string }).name }),
    createAdapter(config, ctx: AdapterContext): EdgeAdapter {
      let status: AdapterStatus = { device: config.name, state: "connecting", readings: 0, gaps: 0 };
      let timer: NodeJS.Timeout | undefined;
      return {
        device: config.name,
        async start() {
          status = { ...status, state: "connected" };
          timer = setInterval(() => {
            if (control.stall) return;
            const sourceTime = control.late ? Date.now() - 3_600_000 : Date.now();
            control.late = false;
            const r: Reading = { stream: `${config.name}/force`, metric: "force", unit: "kN", value: 1, sourceTime, quality: "good" };
            void ctx.sink.write([r]).then(() => (status = { ...status, readings: status.readings + 1 }), () => undefined);
          }, 20);
        },
        async stop() {
          clearInterval(timer);
          status = { ...status, state: "stopped" };
        },
        status: () => status,
      };
    },
  };
}

/** The value of `name{labels}` in a scrape (labels as Prometheus writes them), or undefined. */
function sample(text: string, name: string, labels = ""): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ""} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("node metrics", () => {
  let env: NodeEnv;
  let node: RunningNode;
  const control = { stall: false, late: false };
  let url: string;
  const scrape = async (headers: Record<string, string> = {}) => {
    const res = await fetch(url, { headers });
    return { status: res.status, text: await res.text() };
  };
  const until = async (what: string, probe: (text: string) => boolean, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { text } = await scrape();
      if (probe(text)) return text;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${text.split("\n").filter((l) => l.startsWith("tracemesh_")).join("\n")}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  beforeAll(async () => {
    env = await nodeEnv();
    env.writeConfig({ devices: [{ name: "press-7" }], metrics: { port: 0 }, chain: { rpcUrl: env.chain.url, deployment: "./deployment.json", keyFile: "./node.key", retry: { minMs: 100, maxMs: 300 }, receiptTimeoutMs: 2000, callTimeoutMs: 1000 } });
    node = await startNode(loadConfig(env.configFile), { edge: controlledEdge(control) as EdgeModule, log: () => {} });
    url = node.status().metricsUrl!;
  }, 60_000);
  afterAll(async () => {
    await node?.stop();
    await env?.cleanup();
  });

  it("serves on loopback, says where in the status, and names counters by the conventions", async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const text = await until("anchored windows", (t) => (sample(t, "tracemesh_node_windows_anchored") ?? 0) >= 2);
    const counters = [...text.matchAll(/^# TYPE (\S+) counter$/gm)].map((m) => m[1]!);
    expect(counters).toContain("tracemesh_node_readings_stored_total");
    expect(counters.filter((n) => !n.endsWith("_total"))).toEqual([]);
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(sample(text, "tracemesh_node_chain_up")).toBe(1);
    expect(sample(text, "tracemesh_node_device_state", 'device="press-7",state="connected"')).toBe(1);
    expect(sample(text, "tracemesh_node_data_dir_bytes")).toBeGreaterThan(0);
    // A local proxy forwards as loopback: refused without a token.
    expect((await scrape({ "x-forwarded-for": "203.0.113.9" })).status).toBe(403);
  });

  it("a late reading is counted per stream; a stalled device's readings stop growing", async () => {
    control.late = true;
    const late = await until("a late reading", (t) => sample(t, "tracemesh_node_stream_late_readings_total", 'stream="press-7/force"') === 1);
    expect(sample(late, "tracemesh_node_skewed_readings_total")).toBe(1);
    expect(sample(late, "tracemesh_node_stream_max_late_seconds", 'stream="press-7/force"')).toBeGreaterThan(3_000);

    control.stall = true;
    await new Promise((r) => setTimeout(r, 300)); // writes in flight land
    const a = await scrape();
    await new Promise((r) => setTimeout(r, 600));
    const b = await scrape();
    const device = (t: string) => sample(t, "tracemesh_node_device_readings_total", 'device="press-7"')!;
    const stream = (t: string) => sample(t, "tracemesh_node_stream_readings_total", 'stream="press-7/force"')!;
    expect(device(a.text)).toBeGreaterThan(10);
    expect(device(b.text)).toBe(device(a.text));
    expect(stream(b.text)).toBe(stream(a.text));
    expect(stream(b.text)).toBeGreaterThanOrEqual(device(b.text));
    control.stall = false;
  });

  it("the chain gone: reported down, windows pending, the anchoring lag growing, the anchorer retrying", async () => {
    await env.chain.stop();
    const first = await until("pending windows with the chain down", (t) => sample(t, "tracemesh_node_chain_up") === 0 && (sample(t, "tracemesh_node_windows_pending") ?? 0) >= 3 && sample(t, "tracemesh_node_anchoring_state", 'state="retrying"') === 1);
    await new Promise((r) => setTimeout(r, 1100));
    const later = await scrape();
    expect(sample(later.text, "tracemesh_node_anchoring_lag_seconds")!).toBeGreaterThan(sample(first, "tracemesh_node_anchoring_lag_seconds")!);
    expect(sample(later.text, "tracemesh_node_anchoring_failed_attempts")).toBeGreaterThan(0);
    // Ingestion goes on without the chain.
    expect(sample(later.text, "tracemesh_node_readings_stored_total")!).toBeGreaterThan(sample(first, "tracemesh_node_readings_stored_total")!);
    expect(sample(later.text, "tracemesh_node_windows_closed_total")!).toBeGreaterThan(sample(first, "tracemesh_node_windows_closed_total")!);
  }, 60_000);

  it("with a token, every scrape must send it; off loopback a token is required by the config", async () => {
    const server = await serveMetrics(nodeMetrics({ status: () => node.status(), streamReadings: () => new Map(), chainHead: async () => null }), { host: "127.0.0.1", port: 0, token: "s3cret-metrics-token" });
    try {
      expect((await fetch(server.url)).status).toBe(403);
      expect((await fetch(server.url, { headers: { authorization: "Bearer wrong-token-of-same-size" } })).status).toBe(403);
      const ok = await fetch(server.url, { headers: { authorization: "Bearer s3cret-metrics-token" } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toMatch(/^tracemesh_node_chain_up 0$/m);
    } finally {
      await server.close();
    }
    const file = path.join(env.dir, "open-metrics.json");
    writeFileSync(file, JSON.stringify({ organisation: "x", dataDir: "./d", chain: { rpcUrl: "http://127.0.0.1:1", deployment: "./d.json", keyEnv: "K" }, metrics: { host: "0.0.0.0" } }));
    expect(() => loadConfig(file)).toThrow(ConfigError);
    expect(() => loadConfig(file)).toThrow(/metrics\.host.*without a tokenFile/);
  });
});

describe("node metrics of followed streams and retention, read from the status", () => {
  /** A registry over a fixed status: only the parts these metrics read are filled in. */
  const base = {
    dataDir: "/nonexistent-tracemesh-metrics",
    windows: { closed: 0, anchored: 0, pending: 0, open: null },
    lastAnchor: null,
    anchoring: { state: "idle", attempts: 0 },
    ingest: { pendingReadings: 0, waitingWrites: 0, skewedReadings: 0, historicalReadings: 0, timing: [], commits: 0 },
    adapters: [],
  };
  const registryOver = (status: object) => nodeMetrics({ status: () => ({ ...base, ...status }) as never, streamReadings: () => new Map(), chainHead: async () => 1 });

  it("writes one sample per followed stream, skips a stream that never fetched, and says which ones fail", async () => {
    const text = await registryOver({
      p2p: {
        peers: [],
        banned: [],
        misbehaviour: [],
        follows: [
          { organisation: 1, stream: "furnace-1/temperature", received: 120, unverifiable: 2, lastFetchAt: 1_700_000_000_000 },
          { organisation: 3, stream: "press-2/force", received: 0, unverifiable: 0, waiting: "window 4 not yet on this chain" },
        ],
      },
    } as never).metrics();
    const a = 'organisation="1",stream="furnace-1/temperature"';
    const b = 'organisation="3",stream="press-2/force"';
    expect([sample(text, "tracemesh_node_follow_readings_total", a), sample(text, "tracemesh_node_follow_readings_total", b)]).toEqual([120, 0]);
    expect(sample(text, "tracemesh_node_follow_unverifiable_windows_total", a)).toBe(2);
    expect(sample(text, "tracemesh_node_follow_last_fetch_timestamp_seconds", a)).toBe(1_700_000_000);
    expect(sample(text, "tracemesh_node_follow_last_fetch_timestamp_seconds", b)).toBeUndefined();
    expect([sample(text, "tracemesh_node_follow_failing", a), sample(text, "tracemesh_node_follow_failing", b)]).toEqual([0, 1]);
  });

  it("writes the retention values while retention runs (a metric without labels reads 0 otherwise), the received part with it", async () => {
    const retention = { runs: 2, running: false, lastRunAt: 1_700_000_000_000, prunedReadings: 5000, keptBoundRuns: 3, lastSegment: 4, archiveDir: "/a", archiveBytes: 123_456, lastError: "disk full" };
    const text = await registryOver({ retention } as never).metrics();
    expect(sample(text, "tracemesh_node_retention_pruned_readings_total")).toBe(5000);
    expect(sample(text, "tracemesh_node_retention_kept_bound_runs_total")).toBe(3);
    expect(sample(text, "tracemesh_node_retention_archive_bytes")).toBe(123_456);
    expect(sample(text, "tracemesh_node_retention_last_run_timestamp_seconds")).toBe(1_700_000_000);
    expect(sample(text, "tracemesh_node_retention_failed")).toBe(1);
    expect(sample(text, "tracemesh_node_retention_received_pruned_readings_total")).toBe(0);
    const withReceived = await registryOver({ retention: { ...retention, lastError: undefined, received: { prunedReadings: 77, dir: "/a/received" } } } as never).metrics();
    expect(sample(withReceived, "tracemesh_node_retention_received_pruned_readings_total")).toBe(77);
    expect(sample(withReceived, "tracemesh_node_retention_failed")).toBe(0);
    const without = await registryOver({}).metrics();
    for (const name of ["tracemesh_node_retention_pruned_readings_total", "tracemesh_node_retention_archive_bytes", "tracemesh_node_retention_failed"]) expect(sample(without, name), name).toBe(0);
  });
});
