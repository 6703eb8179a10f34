import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { parseDeviceConfig } from "../../../node/edge/index.ts";
import { deviceConfigs } from "../../../node/simulator/configs.ts";
import { startSimulator } from "../../../node/simulator/index.ts";
import { HEAT_TICKS, RAMP_TICKS, SOAK_TICKS, TIGHTENING_TICKS, coolant, furnace, noise, spindle, tightening } from "../../../node/simulator/models.ts";

const root = path.resolve(import.meta.dirname, "../../..");

describe("simulator models", () => {
  it("are pure functions of (seed, tick): same seed same plant, another seed another plant", () => {
    for (const model of [furnace, spindle, tightening, coolant]) {
      const a = Array.from({ length: 200 }, (_, t) => model(3, t));
      expect(Array.from({ length: 200 }, (_, t) => model(3, t))).toEqual(a);
      expect(Array.from({ length: 200 }, (_, t) => model(4, t))).not.toEqual(a);
    }
    const n = Array.from({ length: 10_000 }, (_, t) => noise(1, 2, t));
    expect(Math.min(...n)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...n)).toBeLessThan(1);
    expect(Math.abs(n.reduce((s, x) => s + x, 0) / n.length)).toBeLessThan(0.05);
  });

  it("furnace: each heat ramps from the charge to 1600..1640 Cel, soaks there, and cools while tapping", () => {
    for (const seed of [1, 2, 3]) {
      for (let heat = 0; heat < 3; heat++) {
        const at = (k: number) => furnace(seed, heat * HEAT_TICKS + k);
        expect(at(0)).toMatchObject({ phase: "ramp", heat: 4711 + heat });
        expect(at(0).temperature).toBeLessThan(600);
        for (let k = 1; k < RAMP_TICKS; k++) expect(at(k).temperature).toBeGreaterThan(at(k - 1).temperature - 10);
        const soak = Array.from({ length: SOAK_TICKS }, (_, i) => at(RAMP_TICKS + i));
        expect(soak.every((s) => s.phase === "soak" && s.temperature > 1595 && s.temperature < 1645 && s.power > 600 && s.power < 700)).toBe(true);
        const tap = Array.from({ length: HEAT_TICKS - RAMP_TICKS - SOAK_TICKS }, (_, i) => at(RAMP_TICKS + SOAK_TICKS + i));
        expect(tap.every((s) => s.phase === "tap" && s.power === 0)).toBe(true);
        expect(tap.at(-1)!.temperature).toBeLessThan(tap[0]!.temperature - 100);
      }
    }
  });

  it("spindle and tightening: plausible loads, speeds, torque curves and part counts", () => {
    for (let t = 0; t < 400; t++) {
      const s = spindle(9, t);
      expect([0, 6000, 9000]).toContain(s.speed);
      expect(s.load).toBeGreaterThanOrEqual(0);
      expect(s.load).toBeLessThanOrEqual(100);
      if (s.speed === 0) expect(s.load).toBe(0);
    }
    for (let part = 0; part < 20; part++) {
      const curve = Array.from({ length: TIGHTENING_TICKS }, (_, k) => tightening(9, part * TIGHTENING_TICKS + k));
      expect(curve.every((c) => c.partCount === part + 1)).toBe(true);
      const angles = curve.map((c) => c.angle);
      expect(angles).toEqual([...angles].sort((a, b) => a - b));
      expect(curve.at(-1)!.torque).toBeGreaterThan(24.5);
      expect(curve.at(-1)!.torque).toBeLessThan(25.5);
      expect(curve[0]!.torque).toBeLessThan(2);
    }
    for (let t = 0; t < 600; t++) {
      const c = coolant(9, t);
      expect(c.supplyTemperature).toBeGreaterThan(21);
      expect(c.supplyTemperature).toBeLessThan(27);
      expect(c.returnTemperature).toBeGreaterThan(c.supplyTemperature);
      expect(c.pressure).toBeGreaterThan(3.5);
      expect(c.pressure).toBeLessThan(4.5);
      expect(c.deviation).toBeCloseTo(c.supplyTemperature - 24, 6);
    }
  });
});

describe("startSimulator", () => {
  it("listens on the ports it is given, on 127.0.0.1, and its clock is the tick times", async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const sim = await startSimulator({ opcua: false, mqtt: false, modbus: { port }, manual: true, tickMs: 250, startTime: 1_000_000 });
    try {
      expect(sim.endpoints.modbus).toEqual({ host: "127.0.0.1", port });
      expect(sim.tick).toBe(0);
      await sim.step(4);
      expect(sim.tick).toBe(4);
      expect(sim.timeOf(sim.tick)).toBe(1_001_000);
      expect(() => sim.stopServer("opcua")).toThrow(/no opcua server/);
    } finally {
      await sim.stop();
    }
  });

  it("runs from the command line, prints its endpoints and configs the node accepts, and stops on SIGINT", async () => {
    const child = spawn(path.join(root, "node_modules/.bin/tsx"), ["node/simulator/cli.ts", "--no-opcua", "--mqtt-port", "0", "--modbus-port", "0", "--seed", "3", "--json"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once("line", resolve);
        child.once("exit", () => reject(new Error("the simulator exited before printing")));
      });
      const out = JSON.parse(line) as { seed: number; endpoints: { mqtt: string; modbus: { host: string; port: number } }; devices: unknown[] };
      expect(out.seed).toBe(3);
      expect(out.endpoints.mqtt).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
      expect(out.endpoints.modbus.host).toBe("127.0.0.1");
      expect(out.devices.map((d) => parseDeviceConfig(d).kind)).toEqual(["sparkplug", "modbus"]);
      expect(deviceConfigs({ endpoints: { opcua: "opc.tcp://127.0.0.1:4840" } }).map((d) => parseDeviceConfig(d).kind)).toEqual(["opcua"]);
      // It really listens.
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(out.endpoints.modbus.port, "127.0.0.1", () => {
          s.destroy();
          resolve();
        });
        s.once("error", reject);
      });
    } finally {
      child.kill("SIGINT");
    }
    expect(await exited).toBe(0);
  });
});
