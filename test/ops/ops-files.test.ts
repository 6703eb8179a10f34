/**
 * The shipped Grafana dashboard and Prometheus alert rules (ops/) speak of metrics that exist:
 * every tracemesh_, process_ and nodejs_ name they use is one the node (node/metrics.ts) or the
 * gateway registers, so a renamed metric cannot leave an alert silently matching nothing.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { nodeMetrics } from "../../node/metrics.ts";
import type { NodeStatus } from "../../node/daemon.ts";

const root = path.resolve(import.meta.dirname, "../..");
const read = (p: string) => readFileSync(path.join(root, p), "utf8");

function registered(): Set<string> {
  const status = { ingest: { timing: [] }, adapters: [], windows: {}, anchoring: {} } as unknown as NodeStatus;
  const names = nodeMetrics({ status: () => status, streamReadings: () => new Map(), chainHead: async () => null })
    .getMetricsAsArray()
    .map((m) => m.name);
  // The gateway's own metrics, by their definitions (a gateway needs a chain to build).
  for (const file of ["gateway/app.ts", ...readdirSync(path.join(root, "gateway/routes")).map((f) => `gateway/routes/${f}`)]) {
    for (const m of read(file).matchAll(/name: "(tracemesh_[a-z_]+)"/g)) names.push(m[1]!);
  }
  return new Set(names);
}

const used = (text: string) => new Set([...text.matchAll(/\b((?:tracemesh|process|nodejs)_[a-z_]+)\b/g)].map((m) => m[1]!));

describe("ops/ dashboard and alert rules", () => {
  const known = registered();

  it("the alert rules use only registered metrics, and rate/increase only counters", () => {
    const rules = read("ops/prometheus/tracemesh-alerts.yml");
    expect([...used(rules)].filter((n) => !known.has(n))).toEqual([]);
    for (const m of rules.matchAll(/(?:rate|increase)\((\w+)/g)) expect(m[1], `rate/increase of ${m[1]}`).toMatch(/_total$/);
    // Each failure mode of issue 18 has an alert.
    for (const alert of ["TracemeshChainUnreachable", "TracemeshAnchoringLagging", "TracemeshAnchoringStopped", "TracemeshAnchorsLost", "TracemeshDeviceStalled", "TracemeshLateReadings", "TracemeshIngestFailed", "TracemeshFollowBehind", "TracemeshPeerMisbehaved", "TracemeshDataDirFillsIn7Days"]) {
      expect(rules).toContain(`alert: ${alert}\n`);
    }
  });

  it("the Grafana dashboard is valid JSON whose queries use only registered metrics", () => {
    const dashboard = JSON.parse(read("ops/grafana/tracemesh-node.json")) as { panels: { targets: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join("\n");
    expect(dashboard.panels.length).toBeGreaterThan(10);
    expect([...used(exprs)].filter((n) => !known.has(n))).toEqual([]);
  });

  it("the Grafana dashboard charts every retention metric and the store-and-forward (historical) readings", () => {
    const dashboard = JSON.parse(read("ops/grafana/tracemesh-node.json")) as { panels: { targets: { expr: string }[] }[] };
    const charted = used(dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join("\n"));
    const wanted = [...known].filter((n) => n.startsWith("tracemesh_node_retention_") || n === "tracemesh_node_historical_readings_total");
    expect(wanted.length).toBeGreaterThan(1);
    expect(wanted.filter((n) => !charted.has(n))).toEqual([]);
  });
});
