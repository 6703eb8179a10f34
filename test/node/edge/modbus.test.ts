import net from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ModbusDeviceConfig, ModbusRegisterConfig } from "../../../node/edge/config.ts";
import { ModbusAdapter, decodeRegister, planBlocks } from "../../../node/edge/modbus.ts";
import { startSimulator, type Simulator } from "../../../node/simulator/index.ts";
import { COOLANT_REGISTERS } from "../../../node/simulator/modbus.ts";
import { coolant } from "../../../node/simulator/models.ts";
import { TestSink, activeResources, delay, statusLog, waitFor } from "./helpers.ts";

const SEED = 7;
let sim: Simulator;
let adapter: ModbusAdapter | undefined;

beforeAll(async () => {
  sim = await startSimulator({ seed: SEED, manual: true, opcua: false, mqtt: false });
});
afterAll(async () => {
  await sim.stop();
});
afterEach(async () => {
  await adapter?.stop();
  adapter = undefined;
});

const coolantRegisters: ModbusRegisterConfig[] = Object.entries(COOLANT_REGISTERS).map(([name, reg]) => ({ ...reg, stream: `coolant-1/${name}`, metric: name }));

function config(registers: ModbusRegisterConfig[], over: Partial<ModbusDeviceConfig> = {}): ModbusDeviceConfig {
  return {
    kind: "modbus",
    device: "coolant-1",
    host: "127.0.0.1",
    port: sim.endpoints.modbus?.port as number,
    pollIntervalMs: 40,
    timeoutMs: 500,
    reconnect: { initialDelayMs: 50, maxDelayMs: 200, jitter: 0.2 },
    registers,
    ...over,
  };
}

async function run(cfg: ModbusDeviceConfig, sink = new TestSink(), log = statusLog()) {
  adapter = new ModbusAdapter(cfg, { sink, onStatus: log.onStatus });
  await adapter.start();
  return { adapter, sink, log };
}

describe("Modbus adapter against the simulator's coolant skid", () => {
  it("reads coils and discrete inputs as booleans, packed bits decoded by address, one request per contiguous run", async () => {
    sim.modbus?.writeBits("coil", 0, [true, false, false, true, false, false, false, false, false, true]);
    sim.modbus?.writeBits("discrete", 3, [true, false]);
    const bits: ModbusRegisterConfig[] = [
      { table: "coil", address: 0, type: "bool", stream: "coolant-1/pumpCommand", metric: "pumpCommand" },
      { table: "coil", address: 3, type: "bool", stream: "coolant-1/valveOpen", metric: "valveOpen" },
      { table: "coil", address: 9, type: "bool", stream: "coolant-1/heaterOn", metric: "heaterOn" },
      { table: "coil", address: 1, type: "bool", stream: "coolant-1/bypass", metric: "bypass" },
      { table: "discrete", address: 3, type: "bool", stream: "coolant-1/pumpRunning", metric: "pumpRunning" },
      { table: "discrete", address: 4, type: "bool", stream: "coolant-1/lowLevel", metric: "lowLevel" },
    ];
    expect(planBlocks(bits).map((b) => [b.table, b.start, b.count])).toEqual([["coil", 0, 2], ["coil", 3, 1], ["coil", 9, 1], ["discrete", 3, 2]]);
    const { sink } = await run(config(bits));
    await waitFor(() => bits.every((b) => sink.of(b.stream).length > 0), "a reading of every bit");
    const last = (stream: string) => sink.of(stream).at(-1)!;
    expect(Object.fromEntries(bits.map((b) => [b.metric, last(b.stream).value]))).toEqual({ pumpCommand: true, valveOpen: true, heaterOn: true, bypass: false, pumpRunning: true, lowLevel: false });
    expect(last("coolant-1/pumpCommand")).toMatchObject({ quality: "good", timeSource: "receive" });
    sim.modbus?.writeBits("discrete", 4, [true]);
    await waitFor(() => last("coolant-1/lowLevel").value === true, "the discrete input to change");
    sim.modbus?.setFault("coil", 9, 4);
    await waitFor(() => last("coolant-1/heaterOn").statusCode === 4, "the coil read refused");
    expect(last("coolant-1/heaterOn")).toMatchObject({ value: null, quality: "bad" });
    sim.modbus?.setFault("coil", 9, undefined);
  });

  it("reads scaled integers and 32-bit values in both word orders, with unit, metric and receive time", async () => {
    await sim.step(3);
    const before = Date.now();
    const { sink } = await run(config(coolantRegisters));
    await waitFor(() => coolantRegisters.every((r) => sink.of(r.stream).length > 0), "a reading of every register");
    const expected = coolant(SEED, sim.tick);
    for (const [name, value] of Object.entries({
      supplyTemperature: expected.supplyTemperature,
      pressure: expected.pressure,
      flow: expected.flow,
      returnTemperature: expected.returnTemperature,
      pumpRunSeconds: expected.pumpRunSeconds,
      deviation: expected.deviation,
    })) {
      const r = sink.last(`coolant-1/${name}`);
      expect(r, name).toMatchObject({ metric: name, value, quality: "good", timeSource: "receive", unit: COOLANT_REGISTERS[name as keyof typeof COOLANT_REGISTERS].unit });
      expect(r?.sourceTime).toBeGreaterThanOrEqual(before);
      expect(r?.sourceTime).toBeLessThanOrEqual(Date.now());
      expect(r?.statusCode).toBeUndefined();
    }
    // The registers change with the simulation and the adapter follows.
    await sim.step(40);
    const later = coolant(SEED, sim.tick);
    const names = ["supplyTemperature", "pressure", "flow", "returnTemperature", "pumpRunSeconds", "deviation"] as const;
    await waitFor(() => names.every((name) => sink.last(`coolant-1/${name}`)?.value === later[name]), "the values of the new tick");
    // One request per contiguous range: holding 0..6 and input 0..2.
    expect(planBlocks(coolantRegisters).map((b) => [b.table, b.start, b.count])).toEqual([
      ["holding", 0, 7],
      ["input", 0, 3],
    ]);
  });

  it("decodes every type, word order and byte swap, with scale and offset", async () => {
    // 100: -1234 int16; 101: 65000 uint16; 102-103: int32 -200000 ABCD; 104-105 same CDAB;
    // 106-107: uint32 3000000000 CDAB; 108-109: float32 -12.5 CDAB; 110-111: float32 1.5 byte-swapped ABCD (BADC)
    const i32 = Buffer.alloc(4);
    i32.writeInt32BE(-200000);
    const u32 = Buffer.alloc(4);
    u32.writeUInt32BE(3_000_000_000);
    const f = Buffer.alloc(4);
    f.writeFloatBE(-12.5);
    const g = Buffer.alloc(4);
    g.writeFloatBE(1.5);
    const w = (b: Buffer, i: number) => b.readUInt16BE(i * 2);
    const swap = (x: number) => ((x & 0xff) << 8) | (x >> 8);
    sim.modbus?.writeRegisters("holding", 100, [-1234 & 0xffff, 65000, w(i32, 0), w(i32, 1), w(i32, 1), w(i32, 0), w(u32, 1), w(u32, 0), w(f, 1), w(f, 0), swap(w(g, 0)), swap(w(g, 1))]);
    const reg = (address: number, type: ModbusRegisterConfig["type"], name: string, extra: Partial<ModbusRegisterConfig> = {}): ModbusRegisterConfig => ({ address, type, stream: `t/${name}`, metric: name, ...extra });
    const { sink } = await run(
      config([
        reg(100, "int16", "i16", { scale: 0.1, offset: 1, unit: "Cel" }),
        reg(101, "uint16", "u16"),
        reg(102, "int32", "i32abcd"),
        reg(104, "int32", "i32cdab", { wordOrder: "little" }),
        reg(106, "uint32", "u32cdab", { wordOrder: "little", scale: 0.001 }),
        reg(108, "float32", "f32cdab", { wordOrder: "little" }),
        reg(110, "float32", "f32badc", { byteSwap: true }),
      ]),
    );
    await waitFor(() => sink.of("t/f32badc").length > 0, "the readings");
    expect(sink.last("t/i16")).toMatchObject({ value: -122.4, unit: "Cel", quality: "good" });
    expect(sink.last("t/u16")?.value).toBe(65000);
    expect(sink.last("t/i32abcd")?.value).toBe(-200000);
    expect(sink.last("t/i32cdab")?.value).toBe(-200000);
    expect(sink.last("t/u32cdab")?.value).toBe(3_000_000);
    expect(sink.last("t/f32cdab")?.value).toBe(-12.5);
    expect(sink.last("t/f32badc")?.value).toBe(1.5);
    // Pure decoding, including DCBA (little word order plus byte swap) and a NaN.
    const dcba = Buffer.from([0x00, 0x00, 0xc0, 0x3f]); // 1.5 = 3f c0 00 00
    expect(decodeRegister(dcba, { type: "float32", wordOrder: "little", byteSwap: true })).toBe(1.5);
    expect(decodeRegister(Buffer.from([0x7f, 0xc0, 0, 0]), { type: "float32" })).toBeNaN();
  });

  it("records a Modbus exception as bad readings with the exception code, and splits a request refused for an illegal address", async () => {
    const log = statusLog();
    const reg = (address: number, name: string): ModbusRegisterConfig => ({ address, type: "uint16", stream: `x/${name}`, metric: name });
    sim.modbus?.writeRegisters("holding", 120, [11, 12, 13]);
    sim.modbus?.setFault("holding", 131, 4);
    const { sink } = await run(config([reg(120, "a"), reg(121, "b"), reg(122, "c"), reg(130, "d"), reg(131, "e"), reg(50, "unmapped")]), new TestSink(), log);
    await waitFor(() => sink.of("x/e").length > 0 && sink.of("x/unmapped").length > 0 && sink.of("x/a").length > 0, "readings");
    // 130..131 failed as one request with "server device failure": both bad, code 4.
    expect(sink.last("x/d")).toMatchObject({ value: null, quality: "bad", statusCode: 4 });
    expect(sink.last("x/e")).toMatchObject({ value: null, quality: "bad", statusCode: 4 });
    expect(sink.last("x/unmapped")).toMatchObject({ value: null, quality: "bad", statusCode: 2 });
    expect(sink.last("x/a")).toMatchObject({ value: 11, quality: "good" });
    expect(adapter?.status()).toMatchObject({ state: "connected" });
    expect(adapter?.status().detail).toMatch(/exception 4 \(server device failure\) reading holding 130\.\.131/);
    // The device recovers: good readings again, and the detail clears.
    sim.modbus?.setFault("holding", 131, undefined);
    sim.modbus?.writeRegisters("holding", 130, [30, 31]);
    await waitFor(() => sink.last("x/e")?.value === 31, "the recovered register");
    expect(sink.last("x/d")).toMatchObject({ value: 30, quality: "good" });

    // An illegal address inside a multi-register request: split, and only that register is bad.
    sink.readings.length = 0;
    await adapter?.stop();
    sim.modbus?.setFault("holding", 121, 2);
    const second = await run(config([reg(120, "a"), reg(121, "b"), reg(122, "c")]));
    await waitFor(() => second.sink.of("x/c").length >= 2, "readings after the split");
    expect(second.sink.last("x/a")).toMatchObject({ value: 11, quality: "good" });
    expect(second.sink.last("x/b")).toMatchObject({ value: null, quality: "bad", statusCode: 2 });
    expect(second.sink.last("x/c")).toMatchObject({ value: 13, quality: "good" });
    expect(log.all.every((s) => s.state !== "disconnected")).toBe(true);
    sim.modbus?.setFault("holding", 121, undefined);
  });

  it("reports the device gone, retries with back-off, and resumes when it is back on the same port", async () => {
    const log = statusLog();
    const { sink } = await run(config(coolantRegisters), new TestSink(), log);
    await waitFor(() => sink.readings.length > 0, "first readings");
    const port = sim.endpoints.modbus?.port;
    await sim.stopServer("modbus");
    const down = await waitFor(() => log.all.find((s) => s.state === "disconnected"), "a disconnected status");
    expect(down.detail).toMatch(/retrying in \d+ ms/);
    await delay(300);
    const countWhileDown = sink.readings.length;
    await delay(200);
    expect(sink.readings.length).toBe(countWhileDown);
    await sim.startServer("modbus");
    expect(sim.modbus?.port).toBe(port);
    await waitFor(() => sink.readings.length > countWhileDown, "readings after the device came back", 5000);
    expect(adapter?.status().state).toBe("connected");
    expect(log.states()).toEqual(["connecting", "connected", "disconnected", "connected"]);
  });

  it("a slow sink stretches the polling and keeps the readings in flight bounded", async () => {
    const sink = new TestSink();
    sink.delayMs = 150;
    const highWater = 6;
    const { adapter: a } = await run(config(coolantRegisters, { pollIntervalMs: 10, queue: { highWater, maxBatch: 100 } }), sink);
    await delay(1200);
    // Unthrottled, 10 ms polls would be ~100 in this time; each poll adds 6 readings.
    expect(a.pollCount).toBeLessThan(20);
    expect(a.pollCount).toBeGreaterThan(3);
    expect(a.peakPending).toBeLessThanOrEqual(highWater + coolantRegisters.length);
    expect(sink.maxWritesInFlight).toBe(1);
  });

  it("starts against an absent device without failing, and stop() leaves no socket or timer behind", async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const baseline = activeResources();
    const log = statusLog();
    const { adapter: a } = await run(config(coolantRegisters, { port }), new TestSink(), log);
    expect(a.status().state).toBe("disconnected");
    expect(a.status().detail).toMatch(/ECONNREFUSED.*retrying in \d+ ms/);
    await delay(400);
    expect(log.all.filter((s) => s.state === "disconnected").length).toBeGreaterThan(1);
    await a.stop();
    adapter = undefined;
    expect(a.status().state).toBe("stopped");
    const after = activeResources();
    expect(after.TCPSocketWrap ?? 0).toBeLessThanOrEqual(baseline.TCPSocketWrap ?? 0);
    expect(after.Timeout ?? 0).toBeLessThanOrEqual(baseline.Timeout ?? 0);
  });
});
