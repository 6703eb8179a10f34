import { connect, type MqttClient } from "mqtt";
import proto from "sparkplug-payload/lib/sparkplugPayloadProto.js";
import type { UPayload } from "sparkplug-payload/lib/sparkplugbpayload.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SparkplugDeviceConfig } from "../../../node/edge/config.ts";
import { SparkplugAdapter } from "../../../node/edge/sparkplug.ts";
import { startSimulator, type Simulator } from "../../../node/simulator/index.ts";
import { spindle, tightening } from "../../../node/simulator/models.ts";
import { spB, type SimEdgeNode } from "../../../node/simulator/sparkplug.ts";
import { TestSink, delay, statusLog, waitFor } from "./helpers.ts";

const SEED = 11;
const GROUP = "Tracemesh";
const NODE = "Machining1";
const CNC = `${GROUP}/${NODE}/CNC1`;
const TIGHT = `${GROUP}/${NODE}/Tightening1`;

let sim: Simulator;
let edge: SimEdgeNode;
let probe: MqttClient;
/** Every message on the group, decoded, as the test's own MQTT client saw it. */
const seen: { topic: string; payload: UPayload }[] = [];
let adapter: SparkplugAdapter | undefined;

beforeAll(async () => {
  sim = await startSimulator({ seed: SEED, manual: true, opcua: false, modbus: false, mqtt: { group: GROUP, edgeNode: NODE } });
  edge = sim.sparkplug as SimEdgeNode;
  probe = connect(sim.endpoints.mqtt as string, { clientId: "probe", reconnectPeriod: 100 });
  await new Promise<void>((resolve) => probe.once("connect", () => resolve()));
  await probe.subscribeAsync(`spBv1.0/${GROUP}/#`);
  probe.on("message", (topic, payload) => seen.push({ topic, payload: spB.decodePayload(payload) }));
});
afterAll(async () => {
  await probe.endAsync(true);
  await sim.stop();
});
afterEach(async () => {
  await adapter?.stop();
  adapter = undefined;
});

function config(over: Partial<SparkplugDeviceConfig> = {}): SparkplugDeviceConfig {
  return {
    kind: "sparkplug",
    device: "machining-line",
    url: sim.endpoints.mqtt as string,
    group: GROUP,
    reconnect: { initialDelayMs: 50, maxDelayMs: 300, jitter: 0.2 },
    rebirthIntervalMs: 200,
    ...over,
  };
}

async function run(cfg = config(), sink = new TestSink(), log = statusLog()) {
  adapter = new SparkplugAdapter(cfg, { sink, onStatus: log.onStatus });
  await adapter.start();
  await waitFor(() => adapter?.status().state === "connected", "the adapter to connect");
  return { adapter, sink, log };
}

/** Join the running edge node: the first DATA makes the adapter ask for a rebirth. */
async function joined(a: SparkplugAdapter) {
  const births = edge.births;
  await sim.step();
  await waitFor(() => edge.births > births, "the rebirth the adapter asked for");
  await waitFor(() => a.status().sources?.[TIGHT] === "online", "the BIRTHs to reach the adapter");
}

/** Crafted messages go out on the edge node's own connection, in order with its messages. */
function publishRaw(topic: string, payload: Uint8Array) {
  return edge.publishRaw(topic, payload);
}

describe("Sparkplug B adapter against the simulator's edge node", () => {
  it("builds alias maps from BIRTHs and resolves alias-only DDATA to names, units, values and metric timestamps", async () => {
    const { adapter: a, sink } = await run();
    const births = edge.births;
    await joined(a);
    expect(edge.rebirthRequests).toBeGreaterThanOrEqual(1);
    expect(edge.births).toBeGreaterThan(births);
    // The rebirth request on the wire: NCMD with Node Control/Rebirth = true.
    const ncmd = seen.filter((m) => m.topic === `spBv1.0/${GROUP}/NCMD/${NODE}`).at(-1);
    expect(ncmd?.payload.metrics?.[0]).toMatchObject({ name: "Node Control/Rebirth", type: "Boolean", value: true });

    const from = sim.tick + 1;
    await sim.step(12);
    const to = sim.tick;
    await waitFor(() => sink.of(`${TIGHT}/Angle`).some((r) => r.sourceTime === sim.timeOf(to)), "the last tick's readings");
    // What the edge node sent really was alias-only.
    const ddata = seen.filter((m) => m.topic.includes("/DDATA/")).at(-1);
    expect(ddata?.payload.metrics?.every((m) => m.name === undefined && m.alias !== undefined)).toBe(true);

    for (let t = from; t <= to; t++) {
      const time = sim.timeOf(t);
      const load = sink.of(`${CNC}/Spindle/Load`).find((r) => r.sourceTime === time);
      const torque = sink.of(`${TIGHT}/Torque`).find((r) => r.sourceTime === time);
      const angle = sink.of(`${TIGHT}/Angle`).find((r) => r.sourceTime === time);
      // DATA is by exception: a value equal to the previous tick's is not sent again.
      if (spindle(SEED, t).load !== spindle(SEED, t - 1).load) {
        expect(load, `load at tick ${t}`).toEqual({ stream: `${CNC}/Spindle/Load`, metric: "Spindle/Load", value: spindle(SEED, t).load, unit: "%", sourceTime: time, quality: "good" });
      }
      if (tightening(SEED, t).torque !== tightening(SEED, t - 1).torque) {
        expect(torque, `torque at tick ${t}`).toMatchObject({ metric: "Torque", value: tightening(SEED, t).torque, unit: "N.m", quality: "good" });
      }
      expect(angle?.value).toBe(tightening(SEED, t).angle);
    }
    const speeds = sink.of(`${CNC}/Spindle/Speed`);
    expect(speeds.length).toBeGreaterThan(0);
    expect(speeds.every((r) => r.unit === "{rev}/min" && [0, 6000, 9000].includes(r.value as number))).toBe(true);
    const parts = sink.of(`${TIGHT}/PartCount`);
    expect(parts.at(-1)?.value).toBe(tightening(SEED, to).partCount);
    expect(parts.at(-1)?.unit).toBeUndefined();
    // Control metrics are not readings.
    expect(sink.readings.some((r) => r.metric === "bdSeq" || r.metric.startsWith("Node Control/"))).toBe(false);
    expect(a.status()).toMatchObject({ state: "connected", gaps: 0, sources: { [`${GROUP}/${NODE}`]: "online", [CNC]: "online", [TIGHT]: "online" } });
  });

  it("counts a seq gap, publishes the Rebirth NCMD, and carries on after the rebirth", async () => {
    const { adapter: a, sink } = await run();
    await joined(a);
    await sim.step(2);
    const ncmds = seen.filter((m) => m.topic.endsWith(`/NCMD/${NODE}`)).length;
    const births = edge.births;
    // A crafted DDATA through the same broker, five seq numbers ahead of the node's next one.
    edge.skipSeq(5);
    const seq = edge.reserveSeq();
    await publishRaw(`spBv1.0/${GROUP}/DDATA/${NODE}/CNC1`, spB.encodePayload({ timestamp: sim.timeOf(sim.tick), seq, metrics: [{ alias: 10, type: "Float", value: 55.5, timestamp: sim.timeOf(sim.tick) + 1 }] }));
    await waitFor(() => a.status().gaps === 5, "five missed messages");
    await waitFor(() => seen.filter((m) => m.topic.endsWith(`/NCMD/${NODE}`)).length > ncmds, "the rebirth NCMD");
    const ncmd = seen.filter((m) => m.topic.endsWith(`/NCMD/${NODE}`)).at(-1);
    expect(ncmd?.payload.metrics).toEqual([expect.objectContaining({ name: "Node Control/Rebirth", value: true })]);
    await waitFor(() => edge.births > births, "the edge node's rebirth");
    // The message that revealed the gap is valid data and was recorded.
    await waitFor(() => sink.of(`${CNC}/Spindle/Load`).some((r) => r.value === 55.5), "the crafted message's reading");
    // After the rebirth the seq is continuous again: no further gaps.
    await sim.step(5);
    await waitFor(() => sink.of(`${TIGHT}/Angle`).some((r) => r.sourceTime === sim.timeOf(sim.tick)), "readings after the rebirth");
    expect(a.status().gaps).toBe(5);
    expect(a.rebirthRequests).toBe(2);
  });

  it("with a reorder timeout, awaits a skipped seq: late is no gap; never there is a gap and a rebirth once the timeout passed", async () => {
    const { adapter: a, sink } = await run(config({ reorderTimeoutMs: 1_000 }));
    await joined(a);
    const rebirths = a.rebirthRequests;
    const t = sim.timeOf(sim.tick);
    const ddata = (seq: number, value: number, at: number) => spB.encodePayload({ timestamp: t, seq, metrics: [{ alias: 10, type: "Float", value, timestamp: at }] });
    const first = edge.reserveSeq();
    const second = edge.reserveSeq();
    // The second before the first, on one connection: the broker delivers them in that order.
    await publishRaw(`spBv1.0/${GROUP}/DDATA/${NODE}/CNC1`, ddata(second, 61.5, t + 2));
    await publishRaw(`spBv1.0/${GROUP}/DDATA/${NODE}/CNC1`, ddata(first, 60.5, t + 1));
    await waitFor(() => sink.of(`${CNC}/Spindle/Load`).some((r) => r.value === 60.5), "the late message's reading");
    await delay(1_300);
    expect(a.status().gaps).toBe(0);
    expect(a.rebirthRequests).toBe(rebirths);

    // One that never comes: its successor is recorded at once, the loss counted after the timeout.
    edge.skipSeq(1);
    await publishRaw(`spBv1.0/${GROUP}/DDATA/${NODE}/CNC1`, ddata(edge.reserveSeq(), 62.5, t + 3));
    await waitFor(() => sink.of(`${CNC}/Spindle/Load`).some((r) => r.value === 62.5), "the reading after the hole");
    expect(a.status().gaps).toBe(0);
    await waitFor(() => a.status().gaps === 1, "the gap once the reorder timeout passed");
    await waitFor(() => a.rebirthRequests === rebirths + 1, "a rebirth request");
  });

  it("reads DATA that omits datatypes by the BIRTH's; an unknown alias is a gap and asks for a rebirth", async () => {
    const { adapter: a, sink } = await run();
    await joined(a);
    const Payload = proto.org.eclipse.tahu.protobuf.Payload;
    const time = sim.timeOf(sim.tick) + 7;
    const raw = Payload.encode(
      Payload.create({
        timestamp: time,
        seq: edge.reserveSeq(),
        metrics: [
          { alias: 20, doubleValue: 24.93 }, // Torque, Double in the DBIRTH
          { alias: 22, longValue: 3_000_000_000 }, // PartCount, UInt32
        ],
      }),
    ).finish();
    await publishRaw(`spBv1.0/${GROUP}/DDATA/${NODE}/Tightening1`, raw);
    await waitFor(() => sink.of(`${TIGHT}/PartCount`).some((r) => r.value === 3_000_000_000), "the datatype-less metrics");
    // No metric timestamp: the payload's (the edge node's clock) is used, and said so.
    expect(sink.of(`${TIGHT}/Torque`).find((r) => r.value === 24.93)).toMatchObject({ sourceTime: time, timeSource: "server", unit: "N.m" });

    const before = a.rebirthRequests;
    const births = edge.births;
    await publishRaw(`spBv1.0/${GROUP}/DDATA/${NODE}/CNC1`, spB.encodePayload({ timestamp: time, seq: edge.reserveSeq(), metrics: [{ alias: 99, type: "Double", value: 1 }] }));
    await waitFor(() => a.status().gaps === 1, "the unknown alias counted");
    await waitFor(() => a.rebirthRequests > before, "a rebirth request");
    await waitFor(() => edge.births > births, "the rebirth");

    // A null metric (isNull) is a bad reading with value null; a Quality property maps too.
    await publishRaw(
      `spBv1.0/${GROUP}/DDATA/${NODE}/CNC1`,
      spB.encodePayload({
        timestamp: time,
        seq: edge.reserveSeq(),
        metrics: [
          { alias: 10, type: "Float", value: null, timestamp: time + 1 },
          { alias: 11, type: "Int32", value: 1234, timestamp: time + 2, properties: { Quality: { type: "Int32", value: 64 } } },
        ],
      }),
    );
    await waitFor(() => sink.of(`${CNC}/Spindle/Speed`).some((r) => r.sourceTime === time + 2), "the quality-tagged reading");
    expect(sink.of(`${CNC}/Spindle/Load`).find((r) => r.sourceTime === time + 1)).toMatchObject({ value: null, quality: "bad" });
    expect(sink.of(`${CNC}/Spindle/Speed`).find((r) => r.sourceTime === time + 2)).toMatchObject({ value: 1234, quality: "uncertain", statusCode: 64 });
  });

  it("reports DDEATH and NDEATH through the status, ignores a stale NDEATH, and sees the node come back", async () => {
    const log = statusLog();
    const { adapter: a } = await run(config(), new TestSink(), log);
    await joined(a);
    edge.deviceDeath("Tightening1");
    await waitFor(() => a.status().sources?.[TIGHT] === "offline", "the device offline after DDEATH");
    expect(a.status().sources?.[CNC]).toBe("online");
    expect(a.status().gaps).toBe(0);

    // An NDEATH from an older session (another bdSeq) must not take the node down.
    await publishRaw(`spBv1.0/${GROUP}/NDEATH/${NODE}`, spB.encodePayload({ timestamp: Date.now(), metrics: [{ name: "bdSeq", type: "Int64", value: (edge.bdSeq + 255) % 256 }] }));
    await delay(150);
    expect(a.status().sources?.[`${GROUP}/${NODE}`]).toBe("online");

    // Power loss: the broker publishes the node's will.
    const bdSeq = edge.bdSeq;
    await edge.kill();
    await waitFor(() => a.status().sources?.[`${GROUP}/${NODE}`] === "offline", "the node offline after NDEATH");
    expect(a.status().sources).toMatchObject({ [CNC]: "offline", [TIGHT]: "offline" });
    expect(a.status().state).toBe("connected"); // the broker connection itself is fine
    expect(log.all.some((s) => s.sources?.[`${GROUP}/${NODE}`] === "offline")).toBe(true);

    await edge.start();
    expect(edge.bdSeq).toBe((bdSeq + 1) % 256);
    edge.deviceBirth("Tightening1");
    await waitFor(() => a.status().sources?.[TIGHT] === "online" && a.status().sources?.[`${GROUP}/${NODE}`] === "online", "the node and devices back");
  });

  it("reports the broker gone, reconnects with back-off when it is back on the same port, and resynchronises", async () => {
    const log = statusLog();
    const { adapter: a, sink } = await run(config(), new TestSink(), log);
    await joined(a);
    const port = sim.broker?.port;
    await sim.stopServer("mqtt");
    await waitFor(() => a.status().state === "disconnected", "disconnected");
    expect(a.status().detail).toMatch(/retrying in \d+ ms/);
    await sim.startServer("mqtt");
    expect(sim.broker?.port).toBe(port);
    await waitFor(() => a.status().state === "connected", "reconnected");
    await waitFor(() => edge.isConnected, "the edge node back");
    await probe.subscribeAsync(`spBv1.0/${GROUP}/#`).catch(() => {});
    // Whatever was missed while both were away, the next DATA leads to a rebirth and current values.
    const count = sink.readings.length;
    await waitFor(
      async () => {
        await sim.step();
        return sink.readings.length > count && a.status().sources?.[TIGHT] === "online";
      },
      "readings after the broker came back",
      8000,
    );
    expect(log.states()).toEqual(["connecting", "connected", "disconnected", "connected"]);
  });

  it("a slow sink slows the MQTT client instead of growing a buffer", async () => {
    const sink = new TestSink();
    const highWater = 4;
    const { adapter: a } = await run(config({ queue: { highWater, maxBatch: 100 } }), sink);
    await joined(a);
    sink.delayMs = 40;
    const gaps = a.status().gaps;
    const from = sim.tick + 1;
    await sim.step(40);
    const to = sim.tick;
    await waitFor(() => sink.of(`${TIGHT}/Angle`).some((r) => r.sourceTime === sim.timeOf(to)), "every tick's readings", 20_000);
    // One message (at most 5 metrics here) may land on top of a full buffer, no more.
    expect(a.peakPending).toBeLessThanOrEqual(highWater + 5);
    expect(sink.maxWritesInFlight).toBe(1);
    // Slow, not lossy: every angle of every tick arrived, in order, and no gap was reported.
    const angles = sink.of(`${TIGHT}/Angle`).filter((r) => r.sourceTime >= sim.timeOf(from));
    const expected = [];
    for (let t = from; t <= to; t++) if (tightening(SEED, t).angle !== tightening(SEED, t - 1).angle) expected.push(tightening(SEED, t).angle);
    expect(angles.map((r) => r.value)).toEqual(expected);
    expect(a.status().gaps).toBe(gaps);
  });
});

describe("Sparkplug primary host STATE (primaryHostId)", () => {
  let watcher: MqttClient;
  const states: { online: boolean; timestamp: number; retained: boolean }[] = [];

  beforeAll(async () => {
    watcher = connect(sim.endpoints.mqtt as string, { clientId: "state-watcher", reconnectPeriod: 100 });
    await new Promise<void>((resolve) => watcher.once("connect", () => resolve()));
    watcher.on("message", (topic, payload, packet) => {
      if (topic === "spBv1.0/STATE/tracemesh-oem") states.push({ ...(JSON.parse(payload.toString()) as { online: boolean; timestamp: number }), retained: packet.retain });
    });
    await watcher.subscribeAsync("spBv1.0/STATE/+", { qos: 1 });
  });
  afterAll(async () => {
    await watcher.endAsync(true);
  });

  it("publishes the retained birth once subscribed, the death at a clean stop, and the will when the connection dies", async () => {
    const { adapter: a } = await run(config({ primaryHostId: "tracemesh-oem" }));
    await waitFor(() => states.some((s) => s.online), "the STATE birth");
    const birth = states.find((s) => s.online)!;
    expect(birth.timestamp).toBeGreaterThan(0);

    // A host whose connection dies without DISCONNECT: the broker publishes its will, the death with the birth's timestamp.
    const link = (a as unknown as { link: { client: { stream: { destroy(): void } } } }).link;
    link.client.stream.destroy();
    await waitFor(() => states.some((s) => !s.online && s.timestamp === birth.timestamp), "the will: STATE death");
    // Reconnected: a new birth, with a new timestamp.
    await waitFor(() => states.some((s) => s.online && s.timestamp > birth.timestamp), "a new STATE birth after the reconnect");
    const second = states.filter((s) => s.online).at(-1)!;

    const stopAt = Date.now();
    await a.stop();
    adapter = undefined;
    // A clean stop's death is stamped with the time of the stop (Sparkplug 3.0), not the connect's.
    const death = await waitFor(() => states.find((s) => !s.online && s.timestamp >= stopAt), "the STATE death at a clean stop");

    // Retained: a client that subscribes later learns the host is offline.
    const late = connect(sim.endpoints.mqtt as string, { clientId: "late-edge-node" });
    try {
      await new Promise<void>((resolve) => late.once("connect", () => resolve()));
      const retained = new Promise<{ online: boolean; timestamp: number }>((resolve) => late.on("message", (_t, p, packet) => packet.retain && resolve(JSON.parse(p.toString()) as { online: boolean; timestamp: number })));
      await late.subscribeAsync("spBv1.0/STATE/tracemesh-oem", { qos: 1 });
      expect(second.timestamp).toBeLessThan(death.timestamp);
      expect(await retained).toEqual({ online: false, timestamp: death.timestamp });
    } finally {
      await late.endAsync(true);
    }
  });

  it("answers a stray STATE death on its own topic (an older session's late will) with its birth again", async () => {
    const earlier = states.length;
    await run(config({ primaryHostId: "tracemesh-oem" }));
    const birth = await waitFor(() => states.slice(earlier).find((s) => s.online), "the STATE birth");
    const before = states.length;
    await watcher.publishAsync("spBv1.0/STATE/tracemesh-oem", JSON.stringify({ online: false, timestamp: birth.timestamp - 5_000 }), { qos: 1, retain: true });
    await waitFor(() => states.slice(before).some((s) => s.online && s.timestamp === birth.timestamp), "the birth published again");
    // What stays retained, and what a newly connecting edge node sees, is the host online.
    const late = connect(sim.endpoints.mqtt as string, { clientId: "edge-node-after-stray-death" });
    try {
      await new Promise<void>((resolve) => late.once("connect", () => resolve()));
      const retained = new Promise<{ online: boolean; timestamp: number }>((resolve) => late.on("message", (_t, p, packet) => packet.retain && resolve(JSON.parse(p.toString()) as { online: boolean; timestamp: number })));
      await late.subscribeAsync("spBv1.0/STATE/tracemesh-oem", { qos: 1 });
      expect(await retained).toEqual({ online: true, timestamp: birth.timestamp });
    } finally {
      await late.endAsync(true);
    }
  });

  it("publishes no STATE without a primaryHostId", async () => {
    const before = states.length;
    await run(config());
    await delay(300);
    expect(states.length).toBe(before);
  });
});
