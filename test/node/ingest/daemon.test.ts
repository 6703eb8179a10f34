/**
 * The daemon: edge adapters wired to the pipeline through the edge module's functions (a
 * synthetic module with the contract's signature, and the real adapters reading the device
 * simulator end to end), the status summary, and the command line: `start` runs until SIGTERM and
 * stops cleanly, `status` reports the running and the stopped node.
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataAnchors__factory } from "../../../lib/contracts/types/index.js";
import type { Reading, ReadingSink } from "../../../lib/reading.ts";
import { contractAnchorView, verifyReading } from "../../../lib/verify-reading.ts";
import { loadConfig } from "../../../node/config.ts";
import { type EdgeModule, readStatusFile, startNode } from "../../../node/daemon.ts";
import type { AdapterContext, AdapterStatus, EdgeAdapter } from "../../../node/edge/adapter.ts";
import { startSimulator } from "../../../node/simulator/index.ts";
import { deviceConfigs } from "../../../node/simulator/configs.ts";
import { type NodeEnv, ROOT, nodeEnv } from "./support/env.ts";

interface SimDevice {
  name: string;
  readings: number;
}

/** An edge module with the adapters' contract: each device writes its readings and awaits the sink. */
function simulatedEdge(stopped: string[]): EdgeModule<SimDevice> {
  return {
    parseDeviceConfig(raw) {
      const d = raw as Partial<SimDevice>;
      if (typeof d.name !== "string" || typeof d.readings !== "number") throw new Error("name and readings are required");
      return { name: d.name, readings: d.readings };
    },
    createAdapter(config: SimDevice, ctx: AdapterContext): EdgeAdapter {
      let status: AdapterStatus = { device: config.name, state: "connecting", readings: 0, gaps: 0 };
      const set = (s: Partial<AdapterStatus>) => {
        status = { ...status, ...s };
        ctx.onStatus?.(status);
      };
      const sink: ReadingSink = ctx.sink;
      return {
        device: config.name,
        async start() {
          set({ state: "connected" });
          for (let i = 0; i < config.readings; i += 50) {
            const batch: Reading[] = Array.from({ length: Math.min(50, config.readings - i) }, (_, k) => ({
              stream: `${config.name}/torque`,
              metric: "torque",
              unit: "N.m",
              value: i + k,
              sourceTime: Date.now(),
              quality: "good",
            }));
            await sink.write(batch); // the acknowledgement: durable
            set({ readings: status.readings + batch.length });
          }
        },
        async stop() {
          stopped.push(config.name);
          set({ state: "stopped" });
        },
        status: () => status,
      };
    },
  };
}

describe("member node daemon", () => {
  let env: NodeEnv;
  beforeAll(async () => {
    env = await nodeEnv();
  });
  afterAll(async () => env?.cleanup());

  it("runs the configured devices' adapters into the pipeline and reports them in its status", async () => {
    const stopped: string[] = [];
    env.writeConfig({ devices: [{ name: "press-1", readings: 300 }, { name: "press-2", readings: 120 }] });
    const node = await startNode(loadConfig(env.configFile), { edge: simulatedEdge(stopped) as EdgeModule, log: () => {} });
    const deadline = Date.now() + 20_000;
    while (node.status().adapters.some((a) => a.readings < (a.device === "press-1" ? 300 : 120))) {
      if (Date.now() > deadline) throw new Error("adapters did not finish");
      await new Promise((r) => setTimeout(r, 20));
    }
    const s = node.status();
    expect(s).toMatchObject({ running: true, node: env.node, organisation: "Delta Machining", readingsStored: 420 });
    expect(s.adapters).toEqual([
      { device: "press-1", state: "connected", readings: 300, gaps: 0 },
      { device: "press-2", state: "connected", readings: 120, gaps: 0 },
    ]);
    await node.pipeline.closeWindow();
    const proven = (await node.proofs.proveReading("press-1/torque", 300))!;
    expect(proven.reading.value).toBe(299);
    await node.stop();
    expect(stopped.sort()).toEqual(["press-1", "press-2"]);
    // Stopping closed the open window and anchored it within the grace period.
    const after = readStatusFile(env.dataDir)!;
    expect(after.status).toMatchObject({ running: false, readingsStored: 420, windows: { pending: 0, open: { readings: 0 } } });
    expect(after.status.windows.anchored).toBe(after.status.windows.closed);
    expect(after.status.lastAnchor?.txHash).toMatch(/^0x[0-9a-f]{64}$/);
  });

  it("starts from the command line, reports status, and stops cleanly on SIGTERM", async () => {
    env.writeConfig({ devices: [] });
    const cli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "node/cli.ts"), ...args], { cwd: ROOT, encoding: "utf8" });
    const proc = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "node/cli.ts"), "start", "--config", env.configFile], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    proc.stdout.on("data", (d: Buffer) => (output += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!(readStatusFile(env.dataDir)?.status.running && readStatusFile(env.dataDir)?.status.pid === proc.pid)) {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`the node did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const running = cli("status", "--config", env.configFile);
    expect(running.status).toBe(0);
    expect(running.stdout).toMatch(new RegExp(`node +${env.node} \\(Delta Machining\\)`));
    expect(running.stdout).toMatch(/state +running, pid \d+/);
    expect(running.stdout).toMatch(/readings +420 stored/);
    expect(running.stdout).toMatch(/last anchor #\d+ at .* in 0x[0-9a-f]{64}/);

    const exited = once(proc, "close"); // after its output is read
    proc.kill("SIGTERM");
    const [code] = (await exited) as [number | null];
    expect(code, output).toBe(0);
    expect(output).toMatch(/SIGTERM: stopping/);
    expect(output).toMatch(/stopped: 420 readings/);
    const stopped = JSON.parse(cli("status", "--config", env.configFile, "--json").stdout) as { running: boolean; alive: boolean };
    expect(stopped).toMatchObject({ running: false, alive: false });
  });

  it("ingests the device simulator's Sparkplug B and Modbus TCP devices end to end: stored, anchored, provable", async () => {
    const sim = await startSimulator({ tickMs: 100, opcua: false });
    try {
      const devices = deviceConfigs(sim).map((d) => ((d as { kind: string }).kind === "modbus" ? { ...(d as object), pollIntervalMs: 100 } : d));
      expect(devices.map((d) => (d as { kind: string }).kind).sort()).toEqual(["modbus", "sparkplug"]);
      env.writeConfig({ devices });
      const node = await startNode(loadConfig(env.configFile), { log: () => {} });
      try {
        const deadline = Date.now() + 30_000;
        while (!node.status().adapters.every((a) => a.state === "connected" && a.readings >= 20)) {
          if (Date.now() > deadline) throw new Error(`adapters: ${JSON.stringify(node.status().adapters)}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        await node.pipeline.closeWindow();
        const closed = node.pipeline.lastClosed; // the adapters keep going: later windows may still be anchoring
        await node.anchorer.anchoredUpTo(closed);
        const provider = new JsonRpcProvider(env.chain.url, undefined, { staticNetwork: true });
        try {
          const view = contractAnchorView(DataAnchors__factory.connect(env.deployment.contracts.dataAnchors, provider));
          const report = await node.proofs.audit(view, { to: closed });
          expect(report.failures).toEqual([]);
          expect(report.unanchored).toEqual([]);
          // One reading of each simulator stream, proven and verified the way a partner would: its first
          // run in any closed window (a Sparkplug metric reports on change, not in every window).
          const firstRuns = new Map<string, { stream: string; firstSeq: number }>();
          for (let w = 1; w <= closed; w++)
            for (const r of (await node.store.window(w))?.runs ?? [])
              if ((r.stream.startsWith("coolant-1/") || r.stream.includes("Machining1")) && !firstRuns.has(r.stream)) firstRuns.set(r.stream, r);
          const simStreams = [...firstRuns.values()];
          expect(simStreams.length).toBeGreaterThanOrEqual(4);
          for (const run of simStreams) {
            const proven = (await node.proofs.proveReading(run.stream, run.firstSeq))!;
            expect(await verifyReading(proven.reading, proven.proof, view), run.stream).toEqual({ ok: true });
          }
        } finally {
          provider.destroy();
        }
      } finally {
        await node.stop();
      }
      expect(readStatusFile(env.dataDir)!.status.adapters.map((a) => a.state)).toEqual(["stopped", "stopped"]);
    } finally {
      await sim.stop();
    }
  });
});
