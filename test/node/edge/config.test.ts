import { describe, expect, it } from "vitest";
import { DeviceConfigError, createAdapter, parseDeviceConfig } from "../../../node/edge/index.ts";
import { TestSink, waitFor } from "./helpers.ts";

const opcua = {
  kind: "opcua",
  device: "furnace-1",
  endpoint: "opc.tcp://10.0.0.5:4840",
  nodes: [
    { nodeId: "ns=1;s=Furnace1.Temperature", stream: "furnace-1/temperature", metric: "temperature", unit: "Cel" },
    { nodeId: "nsu=urn:vendor:plant;i=1001", stream: "furnace-1/power", metric: "power", samplingIntervalMs: 250 },
  ],
};
const modbus = {
  kind: "modbus",
  device: "coolant-1",
  host: "10.0.0.9",
  port: 502,
  registers: [
    { address: 0, type: "float32", wordOrder: "little", stream: "coolant-1/temp", metric: "temperature", unit: "Cel" },
    { table: "input", address: 2, count: 1, type: "int16", scale: 0.01, offset: -5, stream: "coolant-1/pressure", metric: "pressure" },
  ],
};
const sparkplug = {
  kind: "sparkplug",
  device: "line-1",
  url: "mqtts://broker.plant:8883",
  group: "Plant1",
  tls: { caFile: "/etc/ca.pem" },
  metrics: [{ edgeNode: "Machining1", device: "CNC1", name: "Spindle/Load", stream: "cnc-1/load", metric: "spindleLoad" }],
  reconnect: { initialDelayMs: 200, maxDelayMs: 10_000, jitter: 0.1 },
};
const json = { kind: "mqtt-json", device: "press-3", url: "mqtt://10.0.0.7:1883", topics: [{ topic: "plant/press-3/force", stream: "press-3/force", metric: "force", unit: "kN" }], queue: { highWater: 200 } };

function problem(input: unknown): DeviceConfigError {
  try {
    parseDeviceConfig(input);
  } catch (error) {
    expect(error).toBeInstanceOf(DeviceConfigError);
    return error as DeviceConfigError;
  }
  throw new Error("parseDeviceConfig accepted an invalid config");
}

const edit = <T extends object>(base: T, change: (c: Record<string, unknown>) => void): unknown => {
  const copy = structuredClone(base) as Record<string, unknown>;
  change(copy);
  return copy;
};

describe("parseDeviceConfig", () => {
  it("accepts a valid config of every kind and returns it unchanged", () => {
    for (const config of [opcua, modbus, sparkplug, json]) expect(parseDeviceConfig(structuredClone(config))).toEqual(config);
  });

  it.each([
    ["not an object", null, "", /device config: must be an object \(got null\)/],
    ["no kind", { device: "d" }, "kind", /device "d": kind: must be one of "opcua", "sparkplug", "mqtt-json", "modbus" \(got nothing\)/],
    ["an unknown kind", { kind: "bacnet", device: "d" }, "kind", /kind: must be one of .* \(got "bacnet"\)/],
    ["no device id", edit(opcua, (c) => delete c.device), "device", /^device config: device: must be a non-empty string \(got nothing\)/],
    ["an endpoint that is not opc.tcp", edit(opcua, (c) => (c.endpoint = "http://10.0.0.5:4840")), "endpoint", /device "furnace-1": endpoint: must be an opc\.tcp:\/\/ URL.*\(got "http:\/\/10\.0\.0\.5:4840"\)/],
    ["an empty node list", edit(opcua, (c) => (c.nodes = [])), "nodes", /nodes: must be a list of at least one entry \(got \[\]\)/],
    ["a malformed node id", edit(opcua, (c) => ((c.nodes as Record<string, unknown>[])[1]!.nodeId = "Furnace1.Power")), "nodes[1].nodeId", /nodes\[1\]\.nodeId: must be an OPC UA node id/],
    ["a node listed twice", edit(opcua, (c) => ((c.nodes as Record<string, unknown>[])[1]!.nodeId = "ns=1;s=Furnace1.Temperature")), "nodes[1].nodeId", /listed twice/],
    ["Sign without a policy", edit(opcua, (c) => (c.securityMode = "Sign")), "securityPolicy", /securityPolicy: must name a policy .* when securityMode is "Sign"/],
    ["SignAndEncrypt without a PKI folder", edit(opcua, (c) => ((c.securityMode = "SignAndEncrypt"), (c.securityPolicy = "Basic256Sha256"))), "pkiFolder", /pkiFolder: is required when securityMode is "SignAndEncrypt": it holds the client's certificate and the servers it trusts/],
    ["a misspelt option", edit(opcua, (c) => (c.publishInterval = 500)), "publishInterval", /publishInterval: unknown setting \(allowed: .*publishingIntervalMs/],
    ["a password without a user", edit(opcua, (c) => (c.password = "x")), "userName", /userName: is required when a password is given/],
    ["a sampling interval that is not a number", edit(opcua, (c) => ((c.nodes as Record<string, unknown>[])[0]!.samplingIntervalMs = "fast")), "nodes[0].samplingIntervalMs", /samplingIntervalMs: must be an integer .*\(got "fast"\)/],
    ["an unknown register type", edit(modbus, (c) => ((c.registers as Record<string, unknown>[])[1]!.type = "float")), "registers[1].type", /registers\[1\]\.type: must be one of "int16", "uint16", "int32", "uint32", "float32", "bool" \(got "float"\)/],
    ["a coil read as a number", edit(modbus, (c) => ((c.registers as Record<string, unknown>[])[1]!.table = "coil")), "registers[1].type", /must be "bool" for a coil \(a single bit\) \(got int16\)/],
    ["an input register read as a bool", edit(modbus, (c) => ((c.registers as Record<string, unknown>[])[1]!.type = "bool")), "registers[1].type", /"bool" is for coils and discrete inputs; input registers are int16, uint16, int32, uint32 or float32; registers\[1\]\.scale: does not apply to a bool/],
    ["a scale on a discrete input", edit(modbus, (c) => Object.assign((c.registers as Record<string, unknown>[])[1]!, { table: "discrete", type: "bool", scale: 2 })), "registers[1].scale", /does not apply to a bool/],
    ["a word order on a 16-bit register", edit(modbus, (c) => ((c.registers as Record<string, unknown>[])[1]!.wordOrder = "big")), "registers[1].wordOrder", /applies only to 32-bit types, not int16/],
    ["a count that does not fit the type", edit(modbus, (c) => ((c.registers as Record<string, unknown>[])[0]!.count = 1)), "registers[0].count", /must be 2 for type float32 \(got 1\)/],
    ["a port out of range", edit(modbus, (c) => (c.port = 70000)), "port", /port: must be an integer from 1 to 65535 \(got 70000\)/],
    ["a fractional address", edit(modbus, (c) => ((c.registers as Record<string, unknown>[])[0]!.address = 1.5)), "registers[0].address", /address: must be an integer from 0 to 65535 \(got 1\.5\)/],
    ["a zero scale", edit(modbus, (c) => ((c.registers as Record<string, unknown>[])[0]!.scale = 0)), "registers[0].scale", /must not be 0/],
    ["a table that does not exist", edit(modbus, (c) => ((c.registers as Record<string, unknown>[])[0]!.table = "coils")), "registers[0].table", /must be one of "holding", "input"/],
    ["two registers on one stream", edit(modbus, (c) => ((c.registers as Record<string, unknown>[])[1]!.stream = "coolant-1/temp")), "registers[1].stream", /"coolant-1\/temp" is already used by registers\[0\]/],
    ["a register that is not an object", edit(modbus, (c) => ((c.registers as unknown[])[0] = 40001)), "registers[0]", /registers\[0\]: must be an object \(got 40001\)/],
    ["a jitter above 1", edit(sparkplug, (c) => ((c.reconnect as Record<string, unknown>).jitter = 2)), "reconnect.jitter", /reconnect\.jitter: must be a number from 0 to 1 \(got 2\)/],
    ["an initial delay above the cap", edit(sparkplug, (c) => ((c.reconnect as Record<string, unknown>).initialDelayMs = 20_000)), "reconnect.initialDelayMs", /must not exceed maxDelayMs \(10000\)/],
    ["a group with a slash", edit(sparkplug, (c) => (c.group = "Plant1/Hall2")), "group", /group: must be a Sparkplug group id/],
    ["a mapping without its edge node", edit(sparkplug, (c) => delete (c.metrics as Record<string, unknown>[])[0]!.edgeNode), "metrics[0].edgeNode", /metrics\[0\]\.edgeNode: must be a Sparkplug edge node id \(got nothing\)/],
    ["a TLS cert without its key", edit(sparkplug, (c) => ((c.tls as Record<string, unknown>).certFile = "/etc/c.pem")), "tls.keyFile", /tls\.keyFile: is required together with/],
    ["a broker URL with another scheme", edit(json, (c) => (c.url = "tcp://10.0.0.7:1883")), "url", /url: must be an mqtt:\/\/ or mqtts:\/\/ URL/],
    ["a wildcard topic", edit(json, (c) => ((c.topics as Record<string, unknown>[])[0]!.topic = "plant/+/force")), "topics[0].topic", /topics\[0\]\.topic: must be an exact MQTT topic/],
    ["a topic without a metric", edit(json, (c) => delete (c.topics as Record<string, unknown>[])[0]!.metric), "topics[0].metric", /topics\[0\]\.metric: must be a non-empty string \(got nothing\)/],
    ["a high-water mark of 0", edit(json, (c) => ((c.queue as Record<string, unknown>).highWater = 0)), "queue.highWater", /queue\.highWater: must be an integer of at least 1 \(got 0\)/],
  ])("rejects %s, naming the field", (_what, input, field, text) => {
    const e = problem(input);
    expect(e.field).toBe(field);
    expect(e.message).toMatch(text);
  });
});

describe("parseDeviceConfig, every problem at once", () => {
  it("lists every bad field of a device, and never repeats a password", () => {
    const e = problem(edit(opcua, (c) => {
      c.endpoint = "http://x";
      c.queueSize = 0;
      c.password = 42;
      (c.nodes as Record<string, unknown>[])[0]!.metric = "";
    }));
    expect(e.issues.map((i) => i.field).sort()).toEqual(["endpoint", "nodes[0].metric", "password", "queueSize"]);
    expect(e.field).toBe(e.issues[0]!.field);
    expect(e.message).toMatch(/^device "furnace-1": /);
    expect(e.message).not.toContain("42");
  });
});

describe("createAdapter", () => {
  it("creates an adapter per kind without connecting; it loads its protocol only when started", async () => {
    for (const c of [opcua, modbus, sparkplug, json]) {
      const a = createAdapter(parseDeviceConfig(c), { sink: new TestSink() });
      expect(a.device).toBe(c.device);
      expect(a.status()).toEqual({ device: c.device, state: "stopped", readings: 0, gaps: 0 });
      await a.stop(); // stopping what never started is fine
    }
    const statuses: string[] = [];
    const a = createAdapter(parseDeviceConfig({ ...modbus, host: "127.0.0.1", port: 1, reconnect: { initialDelayMs: 20, maxDelayMs: 50 } }), { sink: new TestSink(), onStatus: (s) => statuses.push(s.state) });
    await a.start();
    await waitFor(() => a.status().state === "disconnected", "the unreachable device reported");
    await a.stop();
    expect(a.status().state).toBe("stopped");
    expect(statuses[0]).toBe("connecting");
    expect(statuses.at(-1)).toBe("stopped");
  });
});
