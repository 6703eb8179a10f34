import { connect, type MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { MqttJsonDeviceConfig, MqttJsonTopicConfig } from "../../../node/edge/config.ts";
import { MqttJsonAdapter, parseJsonReading } from "../../../node/edge/mqtt-json.ts";
import { startSimulator, type Simulator } from "../../../node/simulator/index.ts";
import { TestSink, activeResources, delay, statusLog, waitFor } from "./helpers.ts";

let sim: Simulator;
let pub: MqttClient;
let adapter: MqttJsonAdapter | undefined;

const topics: MqttJsonTopicConfig[] = [
  { topic: "plant/press-3/force", stream: "press-3/force", metric: "force", unit: "kN" },
  { topic: "plant/press-3/state", stream: "press-3/state", metric: "state" },
];

beforeAll(async () => {
  sim = await startSimulator({ manual: true, opcua: false, modbus: false });
  pub = connect(sim.endpoints.mqtt as string, { clientId: "press-3", reconnectPeriod: 100 });
  await new Promise<void>((resolve) => pub.once("connect", () => resolve()));
});
afterAll(async () => {
  await pub.endAsync(true);
  await sim.stop();
});
afterEach(async () => {
  await adapter?.stop();
  adapter = undefined;
});

function config(over: Partial<MqttJsonDeviceConfig> = {}): MqttJsonDeviceConfig {
  return { kind: "mqtt-json", device: "press-3", url: sim.endpoints.mqtt as string, reconnect: { initialDelayMs: 50, maxDelayMs: 300, jitter: 0.2 }, topics, ...over };
}

async function run(cfg = config(), sink = new TestSink(), log = statusLog()) {
  adapter = new MqttJsonAdapter(cfg, { sink, onStatus: log.onStatus });
  await adapter.start();
  await waitFor(() => adapter?.status().state === "connected", "connected");
  return { adapter, sink, log };
}

const send = (topic: string, body: unknown, qos: 0 | 1 = 1) => pub.publishAsync(topic, typeof body === "string" ? body : JSON.stringify(body), { qos });

describe("MQTT JSON adapter", () => {
  it("maps each configured topic to its stream: value, ts, unit and quality from the payload", async () => {
    const { adapter: a, sink } = await run();
    await send("plant/press-3/force", { value: 412.5, ts: 1_700_000_000_123 });
    await send("plant/press-3/force", { value: 0.4, ts: "2024-05-01T10:00:00.250Z", unit: "MN", quality: "uncertain" });
    await send("plant/press-3/state", { value: "pressing", ts: 1_700_000_000_500 });
    await send("plant/press-3/force", { value: 999, ts: 1_700_000_000_600, quality: "bad" });
    await send("plant/other", { value: 1 });
    await waitFor(() => sink.readings.length >= 4, "four readings");
    expect(sink.readings).toEqual([
      { stream: "press-3/force", metric: "force", value: 412.5, unit: "kN", sourceTime: 1_700_000_000_123, quality: "good" },
      { stream: "press-3/force", metric: "force", value: 0.4, unit: "MN", sourceTime: Date.parse("2024-05-01T10:00:00.250Z"), quality: "uncertain" },
      { stream: "press-3/state", metric: "state", value: "pressing", sourceTime: 1_700_000_000_500, quality: "good" },
      { stream: "press-3/force", metric: "force", value: null, unit: "kN", sourceTime: 1_700_000_000_600, quality: "bad" },
    ]);
    // Not JSON, or not a reading: counted as a gap, not recorded.
    await send("plant/press-3/force", "412.5 kN");
    await send("plant/press-3/force", { force: 1 });
    await waitFor(() => a.status().gaps === 2, "two gaps");
    expect(sink.readings).toHaveLength(4);
  });

  it("a QoS 1 message is acknowledged only once durable; a persistent session keeps what arrives while the node is down", async () => {
    const sink = new TestSink();
    sink.delayMs = 150;
    const written: number[] = [];
    const write = sink.write.bind(sink);
    sink.write = async (rs) => {
      await write(rs);
      written.push(Date.now());
    };
    const acks: number[] = [];
    sim.broker?.aedes?.on("ack", (_packet, client) => {
      if (client?.id === "tracemesh-press-3") acks.push(Date.now());
    });
    await run(config(), sink);
    await send("plant/press-3/force", { value: 1, ts: 1 });
    await send("plant/press-3/force", { value: 2, ts: 2 });
    await waitFor(() => acks.length === 2, "the adapter's two PUBACKs");
    // Each PUBACK reached the broker only after the sink had made that reading durable.
    expect(written).toHaveLength(2);
    expect(acks[0]).toBeGreaterThanOrEqual(written[0] as number);
    expect(acks[1]).toBeGreaterThanOrEqual(written[1] as number);
    expect(sink.readings.map((r) => r.value)).toEqual([1, 2]);

    await adapter?.stop();
    adapter = undefined;
    // While the adapter is away the broker holds QoS 1 messages for its session.
    await send("plant/press-3/force", { value: 3, ts: 3 });
    await send("plant/press-3/force", { value: 4, ts: 4 });
    sink.delayMs = 0;
    await run(config(), sink);
    await waitFor(() => sink.readings.length === 4, "the messages published while the adapter was stopped");
    expect(sink.readings.map((r) => r.value)).toEqual([1, 2, 3, 4]);
  });

  it("reports the broker gone and reconnects with back-off when it returns on the same port", async () => {
    const log = statusLog();
    const { adapter: a, sink } = await run(config(), new TestSink(), log);
    await sim.stopServer("mqtt");
    await waitFor(() => a.status().state === "disconnected", "disconnected");
    await delay(200);
    await sim.startServer("mqtt");
    await waitFor(() => a.status().state === "connected", "reconnected");
    await waitFor(() => pub.connected, "the publisher back");
    await send("plant/press-3/state", { value: "idle", ts: 5 });
    await waitFor(() => sink.readings.length === 1, "a reading after the broker came back");
    expect(log.states()).toEqual(["connecting", "connected", "disconnected", "connected"]);
  });
});

describe("MQTT JSON adapter life cycle", () => {
  it("starts against an absent broker without failing; stop() leaves no socket or timer behind", async () => {
    const baseline = activeResources();
    const absent = new MqttJsonAdapter(config({ url: "mqtt://127.0.0.1:1" }), { sink: new TestSink() });
    await absent.start();
    expect(absent.status().state).toBe("disconnected");
    expect(absent.status().detail).toMatch(/ECONNREFUSED.*retrying in \d+ ms/);
    await delay(200);
    await absent.stop();

    const { adapter: a, sink } = await run();
    await send("plant/press-3/state", { value: "idle", ts: 9 });
    await waitFor(() => sink.readings.length === 1, "a reading");
    await a.stop();
    adapter = undefined;
    expect(a.status().state).toBe("stopped");
    // The broker's end of the connection closes a moment later (longer on a loaded machine).
    await waitFor(() => (activeResources().TCPSocketWrap ?? 0) <= (baseline.TCPSocketWrap ?? 0), "sockets released", 15_000);
    expect(activeResources().Timeout ?? 0).toBeLessThanOrEqual(baseline.Timeout ?? 0);
  });
});

describe("parseJsonReading", () => {
  const t = topics[0] as MqttJsonTopicConfig;
  it("uses the receive time without ts and says so; null is bad; rejects what is not a reading", () => {
    expect(parseJsonReading(Buffer.from('{"value":true}'), t, 42)).toEqual({ stream: "press-3/force", metric: "force", value: true, unit: "kN", sourceTime: 42, timeSource: "receive", quality: "good" });
    expect(parseJsonReading(Buffer.from('{"value":null,"ts":5}'), t, 42)).toMatchObject({ value: null, quality: "bad", sourceTime: 5 });
    expect(parseJsonReading(Buffer.from("[1]"), t, 1)).toBe("payload is not a JSON object");
    expect(parseJsonReading(Buffer.from('{"value":{"a":1}}'), t, 1)).toMatch(/"value" must be/);
    expect(parseJsonReading(Buffer.from('{"value":1,"ts":"yesterday"}'), t, 1)).toMatch(/"ts" must be/);
    expect(parseJsonReading(Buffer.from('{"value":1,"quality":"ok"}'), t, 1)).toMatch(/"quality" must be/);
  });
});
