/**
 * Operating the running demo (issue 18), one `npm start` shared by the journeys of this file:
 * - the chain stopped with SIGSTOP for about a minute: every gateway request (health, item
 *   history, search) answers within its bound (an answer, or 503 with Retry-After), a node's
 *   metrics say the chain is gone and anchoring lags, and after SIGCONT everything continues;
 * - a member restarted (SIGTERM, then started again as an operator would) under the running
 *   scenario: no scenario step refused or skipped, and a token it issued before still accepted.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { itemKey } from "../../lib/identifiers/canonical.ts";
import { DEFAULT_CHAIN_CALL_TIMEOUT_MS } from "../../lib/rpc-provider.ts";
import { DEMO_ORGS, demoOrg } from "../../scripts/demo/consortium.ts";
import { useFixtureEpcisFiles } from "../../scripts/epcis-files.ts";
import { cycleItems } from "../../scripts/demo/story.ts";
import { type Demo, type DemoSite, demoSite, lastSessionLog, memberStatus, ready, root, saveOutput, startDemo, stopDemo, until } from "./harness.ts";

// A route makes at most two bounded chain calls; the rest is slack for a loaded machine.
const BOUND_MS = 2 * DEFAULT_CHAIN_CALL_TIMEOUT_MS + 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The scenario's step lines ("[scenario] cycle N: step") in the demo's output. */
const scenarioSteps = (out: string) => out.split("\n").filter((l) => /\[scenario\] cycle \d+: /.test(l));

/** One gauge's value in a Prometheus text exposition (undefined when absent). */
function gauge(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

async function scrape(url: string): Promise<string> {
  return (await fetch(url, { signal: AbortSignal.timeout(BOUND_MS) })).text();
}

describe("operating the running demo", { timeout: 20 * 60_000 }, () => {
  let site: DemoSite;
  let demo: Demo | undefined;
  let restarted: { child: ChildProcess; exited: Promise<number | null> } | undefined;
  let chainPid = 0;
  let chainStopped = false;

  beforeAll(async () => {
    site = await demoSite();
    demo = startDemo(site);
    await ready(demo);
    chainPid = Number(/chain up \(pid (\d+)\)/.exec(demo.output())![1]);
    await until("the scenario to take a few steps", async () => scenarioSteps(demo!.output()).length >= 3, demo, 5 * 60_000);
  }, 20 * 60_000);

  afterAll(async () => {
    if (chainStopped) process.kill(chainPid, "SIGCONT");
    if (restarted && restarted.child.exitCode === null) {
      restarted.child.kill("SIGTERM");
      await restarted.exited;
    }
    if (demo) await stopDemo(demo).finally(() => saveOutput(demo!, "operations"));
    site?.remove();
  }, 5 * 60_000);

  it("the chain stopped for a minute: every request answers within its bound, metrics show it, and all continues after", async () => {
    const d = demo!;
    const oem = site.clientOf("oem");
    const token = await oem.bearer();
    const billet = cycleItems({ steel: demoOrg("steel").site, foundry: demoOrg("foundry").site, machining: demoOrg("machining").site, oem: demoOrg("oem").site }, 1).billets[0]!;
    const base = site.gatewayOf("oem");
    const routes = ["/health", `/items/${itemKey(billet)}/history`, "/search?q=B0001-1"];
    await until("the billet's history to be answered", async () => (await fetch(base + routes[1], { headers: { authorization: `Bearer ${token}` } })).ok, d, 5 * 60_000);
    const metricsUrl = memberStatus(site, "steel").metricsUrl!;
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const before = await scrape(metricsUrl);
    expect(gauge(before, "tracemesh_node_chain_up")).toBe(1);
    const anchoredBefore = gauge(before, "tracemesh_node_windows_anchored")!;

    process.kill(chainPid, "SIGSTOP");
    chainStopped = true;
    const stoppedAt = Date.now();
    const answers: { route: string; status: number; ms: number; retryAfter: string | null }[] = [];
    const lags: number[] = [];
    let chainUp: number | undefined;
    let pending = 0;
    try {
      while (Date.now() - stoppedAt < 60_000) {
        for (const route of routes) {
          const t = Date.now();
          const res = await fetch(base + route, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(BOUND_MS + 10_000) });
          await res.arrayBuffer();
          answers.push({ route, status: res.status, ms: Date.now() - t, retryAfter: res.headers.get("retry-after") });
        }
        const m = await scrape(metricsUrl);
        chainUp = gauge(m, "tracemesh_node_chain_up");
        lags.push(gauge(m, "tracemesh_node_anchoring_lag_seconds") ?? 0);
        pending = Math.max(pending, gauge(m, "tracemesh_node_windows_pending") ?? 0);
        await sleep(3000);
      }
    } finally {
      process.kill(chainPid, "SIGCONT");
      chainStopped = false;
    }
    saveOutput(d, "operations");
    // Within the bound, each: an answer, or 503 saying when to come back.
    for (const a of answers) {
      expect(a.ms, `${a.route} took ${a.ms} ms`).toBeLessThan(BOUND_MS);
      expect([200, 503], `${a.route} answered ${a.status}`).toContain(a.status);
      if (a.status === 503) expect(a.retryAfter, `${a.route}: 503 without Retry-After`).toMatch(/^\d+$/);
    }
    // /health says the chain is gone; the node's metrics say so, and that anchoring lags.
    expect(answers.filter((a) => a.route === "/health" && a.status === 503).length).toBeGreaterThan(answers.length / routes.length / 2);
    expect(chainUp).toBe(0);
    expect(pending).toBeGreaterThan(0);
    expect(lags.at(-1)!).toBeGreaterThan(lags[0]!);
    expect(lags.at(-1)!).toBeGreaterThan(20);

    // After SIGCONT: the chain answers, the node anchors on and catches up, the scenario goes on.
    const stepsAtResume = scenarioSteps(d.output()).length;
    await until("the node to anchor past where it was", async () => {
      const m = await scrape(metricsUrl);
      return gauge(m, "tracemesh_node_chain_up") === 1 && gauge(m, "tracemesh_node_windows_anchored")! > anchoredBefore + 2 && gauge(m, "tracemesh_node_anchoring_lag_seconds")! < 15;
    }, d, 3 * 60_000);
    await until("the scenario to take steps again", async () => scenarioSteps(d.output()).length >= stepsAtResume + 2, d, 3 * 60_000);
    const health = await fetch(base + "/health", { signal: AbortSignal.timeout(BOUND_MS) });
    expect(health.status).toBe(200);
  });

  it("a member restarted under the running scenario: no step refused or skipped, its tokens still accepted", async () => {
    const d = demo!;
    const key = "machining" as const;
    const org = demoOrg(key);
    const client = site.clientOf(key);
    const token = await client.bearer();
    const base = site.gatewayOf(key);
    const pid = memberStatus(site, key).pid;
    const stepsBefore = scenarioSteps(d.output()).length;

    process.kill(pid, "SIGTERM");
    await until(`${org.name}'s member to stop`, async () => !memberStatus(site, key).running, d, 2 * 60_000);
    // Started again as an operator would, its output appended to its log (stdin is its lifeline, as under the demo).
    const dir = path.join(site.dir, key);
    const log = createWriteStream(path.join(dir, "member.log"), { flags: "a" });
    log.write(`\n=== ${new Date().toISOString()} starting ${org.name} (restarted by the test)\n`);
    useFixtureEpcisFiles(root); // as the demo hands GS1's schema and context to its members
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "member", "main.ts"), "--config", path.join(dir, "member.json"), "--supervised"], { cwd: root, env: process.env, stdio: ["pipe", "pipe", "pipe"] });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    restarted = { child, exited: new Promise((resolve) => child.once("exit", (code) => (log.end(), resolve(code)))) };
    const deadline = Date.now() + 5 * 60_000;
    while (!(await fetch(`${base}/health`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined))?.ok) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the restarted member ${child.exitCode !== null ? `exited (${child.exitCode})` : "did not answer in 5 min"}; its log:\n${lastSessionLog(site, key).slice(-3000)}`);
      }
      await sleep(1000);
    }

    // The token it issued before its restart is still its own.
    const res = await fetch(`${base}/auth/session`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status, await res.text()).toBe(200);

    // The scenario goes on through the restart: a whole cycle's worth of steps, none refused.
    await until("the scenario to take more steps after the restart", async () => scenarioSteps(d.output()).length >= stepsBefore + 12, d, 6 * 60_000);
    const out = d.output();
    expect(out).not.toMatch(/REFUSED/);
    expect(out).not.toMatch(/skipp/i);
    expect(memberStatus(site, key).running).toBe(true);

    // Stopped as the demo stops its members, before the chain: its log must say it stopped cleanly.
    child.kill("SIGTERM");
    expect(await restarted.exited).toBe(0);
  });

  it("stops cleanly after", async () => {
    const d = demo!;
    demo = undefined;
    try {
      await stopDemo(d);
      // Each member stopped cleanly (the chain's pause left retries in their logs, nothing unhandled).
      for (const org of DEMO_ORGS) {
        expect(d.output()).toContain(`[demo]     ${org.name}: stopped cleanly`);
        const log = lastSessionLog(site, org.key);
        expect(log, `${org.name}'s log`).toContain(`[member] ${org.name}: stopped cleanly`);
        expect(log, `${org.name}'s log`).not.toMatch(/unhandled|fatal/i);
        expect(memberStatus(site, org.key).running, org.name).toBe(false);
      }
    } finally {
      saveOutput(d, "operations");
    }
  });
});
