import { DataType, DataValue, StatusCodes, Variant, VariantArrayType } from "node-opcua";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { OpcUaDeviceConfig } from "../../../node/edge/config.ts";
import { OpcUaAdapter, dataValueToReading, qualityOf } from "../../../node/edge/opcua.ts";
import { startSimulator, type Simulator } from "../../../node/simulator/index.ts";
import { furnace } from "../../../node/simulator/models.ts";
import { FURNACE_NODE_IDS } from "../../../node/simulator/opcua-ids.ts";
import type { SimOpcUaServer } from "../../../node/simulator/opcua.ts";
import { TestSink, activeResources, delay, statusLog, waitFor } from "./helpers.ts";

const SEED = 5;
let sim: Simulator;
let server: SimOpcUaServer;
let adapter: OpcUaAdapter | undefined;

beforeAll(async () => {
  sim = await startSimulator({ seed: SEED, manual: true, mqtt: false, modbus: false });
  server = sim.opcua as SimOpcUaServer;
});
afterAll(async () => {
  await sim.stop();
});
afterEach(async () => {
  await adapter?.stop();
  adapter = undefined;
});

const nodes = [
  { nodeId: FURNACE_NODE_IDS.Temperature, stream: "furnace-1/temperature", metric: "temperature", unit: "Cel" },
  { nodeId: FURNACE_NODE_IDS.Power, stream: "furnace-1/power", metric: "power", unit: "kW" },
  { nodeId: FURNACE_NODE_IDS.HeatNumber, stream: "furnace-1/heat", metric: "heatNumber" },
  { nodeId: FURNACE_NODE_IDS.Phase, stream: "furnace-1/phase", metric: "phase" },
];

function config(over: Partial<OpcUaDeviceConfig> = {}): OpcUaDeviceConfig {
  return {
    kind: "opcua",
    device: "furnace-1",
    endpoint: sim.endpoints.opcua as string,
    publishingIntervalMs: 50,
    samplingIntervalMs: 10,
    reconnect: { initialDelayMs: 100, maxDelayMs: 500, jitter: 0.2 },
    nodes,
    ...over,
  };
}

async function run(cfg = config(), sink = new TestSink(), log = statusLog()) {
  adapter = new OpcUaAdapter(cfg, { sink, onStatus: log.onStatus, log: () => {} });
  await adapter.start();
  return { adapter, sink, log };
}

describe("OPC UA adapter against the simulator's furnace", () => {
  it("turns each DataValue into a reading: mapped stream, metric and unit, sourceTimestamp, quality and status code", async () => {
    const { adapter: a, sink } = await run(config({ nodes: [...nodes, { nodeId: "ns=1;s=Furnace1.Nope", stream: "furnace-1/nope", metric: "nope" }] }));
    expect(a.status().state).toBe("connected");
    // A node id the server does not know is reported; the others are monitored regardless.
    expect(a.status().detail).toMatch(/not monitored: ns=1;s=Furnace1\.Nope: BadNodeIdUnknown/);
    const first = await waitFor(() => sink.last("furnace-1/temperature"), "the initial value");
    const f0 = furnace(SEED, sim.tick);
    expect(first).toEqual({ stream: "furnace-1/temperature", metric: "temperature", unit: "Cel", value: f0.temperature, sourceTime: sim.timeOf(sim.tick), quality: "good", statusCode: 0 });
    for (let i = 0; i < 3; i++) {
      await sim.step();
      const t = sim.tick;
      const f = furnace(SEED, t);
      await waitFor(() => sink.of("furnace-1/temperature").find((r) => r.sourceTime === sim.timeOf(t)), `the temperature of tick ${t}`);
      await waitFor(() => sink.of("furnace-1/power").find((r) => r.sourceTime === sim.timeOf(t)), `the power of tick ${t}`);
      expect(sink.of("furnace-1/temperature").find((r) => r.sourceTime === sim.timeOf(t))?.value).toBe(f.temperature);
      expect(sink.of("furnace-1/power").find((r) => r.sourceTime === sim.timeOf(t))).toMatchObject({ value: f.power, unit: "kW", quality: "good" });
    }
    expect(sink.last("furnace-1/heat")).toMatchObject({ value: furnace(SEED, sim.tick).heat, metric: "heatNumber", quality: "good" });
    expect(sink.last("furnace-1/heat")?.unit).toBeUndefined();
    expect(sink.last("furnace-1/phase")?.value).toBe("ramp");
    expect(sink.of("furnace-1/nope")).toEqual([]);
    expect(sink.readings.every((r) => r.timeSource === undefined)).toBe(true);
  });

  it("records a Bad status as a bad reading with value null, Uncertain as uncertain, and recovers", async () => {
    const { sink } = await run();
    await waitFor(() => sink.last("furnace-1/temperature"), "the initial value");
    server.setStatus("Temperature", "BadSensorFailure");
    const bad = await waitFor(() => sink.of("furnace-1/temperature").find((r) => r.quality === "bad"), "a bad reading");
    expect(bad).toMatchObject({ value: null, quality: "bad", statusCode: StatusCodes.BadSensorFailure.value, unit: "Cel" });
    // The server keeps sending its last value with the Bad status; it is never recorded as a value.
    await sim.step();
    await waitFor(() => sink.of("furnace-1/temperature").find((r) => r.sourceTime === sim.timeOf(sim.tick)), "the next bad sample");
    expect(sink.of("furnace-1/temperature").filter((r) => r.quality === "bad").every((r) => r.value === null)).toBe(true);

    server.setStatus("Temperature", "UncertainLastUsableValue");
    const uncertain = await waitFor(() => sink.of("furnace-1/temperature").find((r) => r.quality === "uncertain"), "an uncertain reading");
    expect(uncertain).toMatchObject({ value: furnace(SEED, sim.tick).temperature, statusCode: StatusCodes.UncertainLastUsableValue.value });

    server.setStatus("Temperature", "Good");
    await sim.step();
    await waitFor(() => sink.of("furnace-1/temperature").find((r) => r.sourceTime === sim.timeOf(sim.tick) && r.quality === "good"), "good again");
  });

  it("reports the server gone, and reconnects (new session, subscription recreated) when it is back on the same port", async () => {
    const log = statusLog();
    const { adapter: a, sink } = await run(config(), new TestSink(), log);
    await waitFor(() => sink.last("furnace-1/temperature"), "the initial value");
    const port = server.port;
    await sim.stopServer("opcua");
    await waitFor(() => a.status().state === "disconnected", "disconnected");
    await sim.startServer("opcua");
    expect(server.port).toBe(port);
    await waitFor(() => a.status().state === "connected", "reconnected", 20_000);
    await sim.step();
    const t = sim.tick;
    const after = await waitFor(() => sink.of("furnace-1/temperature").find((r) => r.sourceTime === sim.timeOf(t)), "readings from the new server", 10_000);
    expect(after.value).toBe(furnace(SEED, t).temperature);
    expect(log.states().slice(0, 3)).toEqual(["connecting", "connected", "disconnected"]);
    expect(log.states().at(-1)).toBe("connected");
  });

  it("a slow sink pauses the subscription's publishing and keeps the readings in flight bounded", async () => {
    const sink = new TestSink();
    sink.delayMs = 100;
    const highWater = 20;
    const messages: string[] = [];
    // Small batches make the sink really slow (at most 4 readings per 100 ms).
    adapter = new OpcUaAdapter(config({ queue: { highWater, maxBatch: 4 }, publishingIntervalMs: 20, samplingIntervalMs: 0, queueSize: 1000 }), { sink, log: (m) => messages.push(m) });
    await adapter.start();
    const a = adapter;
    await waitFor(() => sink.readings.length > 0, "first readings");
    const stepper = (async () => {
      for (let i = 0; i < 60; i++) {
        await sim.step();
        await delay(5);
      }
    })();
    await stepper;
    await waitFor(() => messages.some((m) => m.includes("publishing paused")), "publishing paused");
    // Notifications in flight when publishing stops still arrive; they are bounded by what the
    // server may put in the publish responses already on their way, below the hard limit (4x the
    // high-water mark) past which readings would be dropped.
    expect(a.peakPending).toBeLessThan(highWater * 4);
    expect(a.peakPending).toBeGreaterThanOrEqual(highWater);
    // Slowed, not lost: the server queued the samples and delivers them once publishing resumes.
    const last = sim.tick;
    await waitFor(() => sink.of("furnace-1/temperature").some((r) => r.sourceTime === sim.timeOf(last)), "the last tick's value", 20_000);
    expect(messages.some((m) => m.includes("publishing resumed"))).toBe(true);
    expect(a.status().gaps).toBe(0);
    const temps = sink.of("furnace-1/temperature").map((r) => r.sourceTime);
    expect(temps).toEqual([...temps].sort((x, y) => x - y));
  });

  it("starts against an absent server without failing, and stop() leaves no socket behind", async () => {
    const baseline = activeResources();
    const log = statusLog();
    const { adapter: a } = await run(config({ endpoint: "opc.tcp://127.0.0.1:1" }), new TestSink(), log);
    await waitFor(() => a.status().state === "disconnected", "disconnected");
    expect(a.status().detail).toMatch(/retrying in \d+ ms/);
    await a.stop();
    adapter = undefined;
    expect(a.status().state).toBe("stopped");
    await delay(100);
    expect(activeResources().TCPSocketWrap ?? 0).toBeLessThanOrEqual(baseline.TCPSocketWrap ?? 0);
    expect(activeResources().Timeout ?? 0).toBeLessThanOrEqual(baseline.Timeout ?? 0);
  });
});

describe("dataValueToReading", () => {
  const node = { stream: "s", metric: "m", unit: "Cel" };
  it("falls back from sourceTimestamp to serverTimestamp to the receive time, and says which", () => {
    const v = new Variant({ dataType: DataType.Double, value: 1.5 });
    expect(dataValueToReading(new DataValue({ value: v, sourceTimestamp: new Date(1000), serverTimestamp: new Date(2000) }), node, 3000)).toEqual({ stream: "s", metric: "m", unit: "Cel", value: 1.5, sourceTime: 1000, quality: "good", statusCode: 0 });
    expect(dataValueToReading(new DataValue({ value: v, serverTimestamp: new Date(2000) }), node, 3000)).toMatchObject({ sourceTime: 2000, timeSource: "server" });
    expect(dataValueToReading(new DataValue({ value: v }), node, 3000)).toMatchObject({ sourceTime: 3000, timeSource: "receive" });
  });

  it("maps severities and never carries a value with a Bad status", () => {
    const v = new Variant({ dataType: DataType.Double, value: 99 });
    expect(dataValueToReading(new DataValue({ value: v, statusCode: StatusCodes.BadCommunicationError }), node, 1)).toMatchObject({ value: null, quality: "bad", statusCode: StatusCodes.BadCommunicationError.value });
    expect(dataValueToReading(new DataValue({ value: v, statusCode: StatusCodes.UncertainInitialValue }), node, 1)).toMatchObject({ value: 99, quality: "uncertain" });
    expect(dataValueToReading(new DataValue({ value: v, statusCode: StatusCodes.GoodClamped }), node, 1)).toMatchObject({ value: 99, quality: "good" });
    expect(qualityOf(0xc0000000)).toBe("bad");
    expect(dataValueToReading(new DataValue({ value: new Variant({ dataType: DataType.Double, value: NaN }) }), node, 1)).toMatchObject({ value: null, quality: "bad" });
  });

  it("converts OPC UA types to reading values", () => {
    const read = (dataType: DataType, value: unknown) => dataValueToReading(new DataValue({ value: new Variant({ dataType, arrayType: VariantArrayType.Scalar, value }) }), node, 1).value;
    expect(read(DataType.Float, Math.fround(24.61))).toBe(24.61);
    expect(read(DataType.Int64, [0, 42])).toBe(42);
    expect(read(DataType.Int64, [0xffffffff, 0xfffffffe])).toBe(-2);
    expect(read(DataType.UInt64, [0x00200000, 0])).toBe("9007199254740992");
    expect(read(DataType.Boolean, true)).toBe(true);
    expect(read(DataType.String, "soak")).toBe("soak");
    expect(read(DataType.DateTime, new Date(0))).toBe("1970-01-01T00:00:00.000Z");
    expect(dataValueToReading(new DataValue({ value: new Variant({ dataType: DataType.Null }) }), node, 1).value).toBeNull();
  });
});
