/**
 * Device configuration for the edge adapters: the types the daemon's config holds, and a parser
 * that turns untrusted JSON into them with errors that name the offending field. This module
 * loads no protocol library, so reading a config stays cheap.
 */
import type { ReconnectOptions } from "./backoff.ts";
import type { QueueOptions } from "./queue.ts";

interface DeviceBase {
  /** The adapter's id in status reports and logs, unique within the node, e.g. "furnace-1". */
  device: string;
  reconnect?: Partial<ReconnectOptions>;
  queue?: Partial<QueueOptions>;
}

export type OpcUaSecurityMode = "None" | "Sign" | "SignAndEncrypt";
export type OpcUaSecurityPolicy = "None" | "Basic256Sha256" | "Aes128_Sha256_RsaOaep" | "Aes256_Sha256_RsaPss";

export interface OpcUaNodeConfig {
  /** e.g. "ns=1;s=Furnace1.Temperature" or "nsu=urn:vendor:plant;i=1001". */
  nodeId: string;
  stream: string;
  metric: string;
  /** UCUM code, e.g. "Cel". */
  unit?: string;
  /** Overrides the device's sampling interval for this node. */
  samplingIntervalMs?: number;
}

export interface OpcUaDeviceConfig extends DeviceBase {
  kind: "opcua";
  /** opc.tcp://host:port[/path] */
  endpoint: string;
  /** Default "None" (demo only); production servers want "SignAndEncrypt". */
  securityMode?: OpcUaSecurityMode;
  /** Required (not "None") when securityMode is not "None". */
  securityPolicy?: OpcUaSecurityPolicy;
  /** Client certificate and key (PEM); without them node-opcua creates a self-signed pair. */
  certificateFile?: string;
  privateKeyFile?: string;
  /** Anonymous when absent. */
  userName?: string;
  password?: string;
  /** Default 1000. */
  publishingIntervalMs?: number;
  /** Default 500. */
  samplingIntervalMs?: number;
  /** Server-side queue per monitored item, keeps samples while publishing is paused; default 50. */
  queueSize?: number;
  nodes: OpcUaNodeConfig[];
}

export interface MqttConnectionConfig {
  /** mqtt://host:port or mqtts://host:port */
  url: string;
  clientId?: string;
  username?: string;
  password?: string;
  /** Default 30. */
  keepaliveSeconds?: number;
  /** For mqtts: PEM files. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string; rejectUnauthorized?: boolean };
}

export interface SparkplugMetricMapping {
  edgeNode: string;
  /** Absent for the edge node's own metrics. */
  device?: string;
  /** The Sparkplug metric name, e.g. "Spindle/Load". */
  name: string;
  /** Default "{streamPrefix}{group}/{edgeNode}[/{device}]/{name}". */
  stream?: string;
  /** Default the Sparkplug name. */
  metric?: string;
  /** Overrides the unit from the BIRTH's properties. */
  unit?: string;
}

export interface SparkplugDeviceConfig extends DeviceBase, MqttConnectionConfig {
  kind: "sparkplug";
  /** Sparkplug group id; the adapter subscribes to spBv1.0/{group}/#. */
  group: string;
  streamPrefix?: string;
  metrics?: SparkplugMetricMapping[];
  /** What to do with metrics that have no mapping; default "record". */
  unmapped?: "record" | "ignore";
  /** Least time between two rebirth requests to the same edge node; default 5000. */
  rebirthIntervalMs?: number;
}

export interface MqttJsonTopicConfig {
  /** An exact topic (no wildcards): one topic is one stream. */
  topic: string;
  stream: string;
  metric: string;
  /** Used when the payload carries no unit. */
  unit?: string;
}

export interface MqttJsonDeviceConfig extends DeviceBase, MqttConnectionConfig {
  kind: "mqtt-json";
  topics: MqttJsonTopicConfig[];
}

export type ModbusType = "int16" | "uint16" | "int32" | "uint32" | "float32";

export interface ModbusRegisterConfig {
  /** Default "holding". */
  table?: "holding" | "input";
  /** Protocol (0-based) register address. */
  address: number;
  /** Registers the value spans; follows from `type` (1 or 2), accepted for explicitness. */
  count?: number;
  type: ModbusType;
  /** For 32-bit types: "big" = high word first (ABCD, default), "little" = low word first (CDAB). */
  wordOrder?: "big" | "little";
  /** Swap the two bytes of each register (BADC / DCBA devices); default false. */
  byteSwap?: boolean;
  /** value = raw * scale + offset; defaults 1 and 0. */
  scale?: number;
  offset?: number;
  unit?: string;
  stream: string;
  metric: string;
}

export interface ModbusDeviceConfig extends DeviceBase {
  kind: "modbus";
  host: string;
  /** Default 502. */
  port?: number;
  /** Default 1. */
  unitId?: number;
  /** Default 1000. */
  pollIntervalMs?: number;
  /** Per request; default 2000. */
  timeoutMs?: number;
  registers: ModbusRegisterConfig[];
}

export type DeviceConfig = OpcUaDeviceConfig | SparkplugDeviceConfig | MqttJsonDeviceConfig | ModbusDeviceConfig;
export type DeviceKind = DeviceConfig["kind"];

export const MODBUS_WORDS: Record<ModbusType, number> = { int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2 };

/** A config error; `field` is the path of the offending field, e.g. "registers[2].type". */
export class DeviceConfigError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
    readonly deviceId?: string,
  ) {
    super(`${deviceId ? `device "${deviceId}": ` : "device config: "}${field ? `${field} ` : ""}${problem}`);
    this.name = "DeviceConfigError";
  }
}

const KINDS: readonly DeviceKind[] = ["opcua", "sparkplug", "mqtt-json", "modbus"];
const NODE_ID = /^(ns=\d+;|nsu=[^;]+;)?(i=\d+|s=.+|g=[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|b=[A-Za-z0-9+/=]+)$/;
const MQTT_TOPIC_LEVEL = /^[^#+]*$/;
const SPARKPLUG_ID = /^[^/#+]+$/;

/**
 * Validate a device config from untrusted JSON. Throws DeviceConfigError naming the first bad
 * field; unknown fields are errors too (a misspelt option must not be silently ignored).
 */
export function parseDeviceConfig(input: unknown): DeviceConfig {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new DeviceConfigError("", `must be an object (got ${describe(input)})`);
  }
  const raw = input as Record<string, unknown>;
  const deviceId = typeof raw.device === "string" && raw.device !== "" ? raw.device : undefined;
  const o = new Obj(raw, "", deviceId);
  const kind = o.oneOf("kind", KINDS);
  o.str("device");
  switch (kind) {
    case "opcua":
      return parseOpcUa(o);
    case "sparkplug":
      return parseSparkplug(o);
    case "mqtt-json":
      return parseMqttJson(o);
    case "modbus":
      return parseModbus(o);
  }
}

function parseCommon(o: Obj): DeviceBase {
  const base: DeviceBase = { device: o.str("device") };
  const rc = o.optObj("reconnect");
  if (rc) {
    const reconnect: Partial<ReconnectOptions> = {};
    setIf(reconnect, "initialDelayMs", rc.optNum("initialDelayMs", { min: 1, integer: true }));
    setIf(reconnect, "maxDelayMs", rc.optNum("maxDelayMs", { min: 1, integer: true }));
    setIf(reconnect, "jitter", rc.optNum("jitter", { min: 0, max: 1 }));
    rc.done();
    if ((reconnect.initialDelayMs ?? 0) > (reconnect.maxDelayMs ?? Infinity)) {
      rc.fail("initialDelayMs", `must not exceed maxDelayMs (${reconnect.maxDelayMs})`);
    }
    base.reconnect = reconnect;
  }
  const q = o.optObj("queue");
  if (q) {
    const queue: Partial<QueueOptions> = {};
    setIf(queue, "highWater", q.optNum("highWater", { min: 1, integer: true }));
    setIf(queue, "maxBatch", q.optNum("maxBatch", { min: 1, integer: true }));
    q.done();
    base.queue = queue;
  }
  return base;
}

function parseOpcUa(o: Obj): OpcUaDeviceConfig {
  const c: OpcUaDeviceConfig = {
    kind: "opcua",
    ...parseCommon(o),
    endpoint: o.str("endpoint", { pattern: /^opc\.tcp:\/\/[^\s/:]+(:\d+)?(\/\S*)?$/, hint: 'an opc.tcp:// URL, e.g. "opc.tcp://10.0.0.5:4840"' }),
    nodes: [],
  };
  setIf(c, "securityMode", o.optOneOf("securityMode", ["None", "Sign", "SignAndEncrypt"] as const));
  setIf(c, "securityPolicy", o.optOneOf("securityPolicy", ["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"] as const));
  if ((c.securityMode ?? "None") !== "None" && (c.securityPolicy ?? "None") === "None") {
    o.fail("securityPolicy", `must name a policy (e.g. "Basic256Sha256") when securityMode is "${c.securityMode}"`);
  }
  if ((c.securityMode ?? "None") === "None" && (c.securityPolicy ?? "None") !== "None") {
    o.fail("securityMode", `must be "Sign" or "SignAndEncrypt" when securityPolicy is "${c.securityPolicy}"`);
  }
  setIf(c, "certificateFile", o.optStr("certificateFile"));
  setIf(c, "privateKeyFile", o.optStr("privateKeyFile"));
  if ((c.certificateFile === undefined) !== (c.privateKeyFile === undefined)) {
    o.fail(c.certificateFile === undefined ? "certificateFile" : "privateKeyFile", "is required together with the other of certificateFile/privateKeyFile");
  }
  setIf(c, "userName", o.optStr("userName"));
  setIf(c, "password", o.optStr("password", { allowEmpty: true }));
  if (c.password !== undefined && c.userName === undefined) o.fail("userName", "is required when a password is given");
  setIf(c, "publishingIntervalMs", o.optNum("publishingIntervalMs", { min: 10, integer: true }));
  setIf(c, "samplingIntervalMs", o.optNum("samplingIntervalMs", { min: 0, integer: true }));
  setIf(c, "queueSize", o.optNum("queueSize", { min: 1, max: 10_000, integer: true }));
  const seen = new Set<string>();
  c.nodes = o.arr("nodes").map((n) => {
    const node: OpcUaNodeConfig = {
      nodeId: n.str("nodeId", { pattern: NODE_ID, hint: 'an OPC UA node id, e.g. "ns=1;s=Furnace1.Temperature"' }),
      ...streamMetricUnit(n),
    };
    setIf(node, "samplingIntervalMs", n.optNum("samplingIntervalMs", { min: 0, integer: true }));
    n.done();
    if (seen.has(node.nodeId)) n.fail("nodeId", `"${node.nodeId}" is listed twice`);
    seen.add(node.nodeId);
    return node;
  });
  uniqueStreams(o, "nodes", c.nodes);
  o.done();
  return c;
}

function parseMqtt(o: Obj): MqttConnectionConfig {
  const c: MqttConnectionConfig = {
    url: o.str("url", { pattern: /^mqtts?:\/\/[^\s/:]+(:\d+)?\/?$/, hint: 'an mqtt:// or mqtts:// URL, e.g. "mqtt://10.0.0.7:1883"' }),
  };
  setIf(c, "clientId", o.optStr("clientId"));
  setIf(c, "username", o.optStr("username"));
  setIf(c, "password", o.optStr("password", { allowEmpty: true }));
  setIf(c, "keepaliveSeconds", o.optNum("keepaliveSeconds", { min: 0, max: 65535, integer: true }));
  const t = o.optObj("tls");
  if (t) {
    const tls: NonNullable<MqttConnectionConfig["tls"]> = {};
    setIf(tls, "caFile", t.optStr("caFile"));
    setIf(tls, "certFile", t.optStr("certFile"));
    setIf(tls, "keyFile", t.optStr("keyFile"));
    setIf(tls, "rejectUnauthorized", t.optBool("rejectUnauthorized"));
    t.done();
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
      t.fail(tls.certFile === undefined ? "certFile" : "keyFile", "is required together with the other of certFile/keyFile");
    }
    c.tls = tls;
  }
  return c;
}

function parseSparkplug(o: Obj): SparkplugDeviceConfig {
  const c: SparkplugDeviceConfig = {
    kind: "sparkplug",
    ...parseCommon(o),
    ...parseMqtt(o),
    group: o.str("group", { pattern: SPARKPLUG_ID, hint: "a Sparkplug group id (no '/', '+' or '#')" }),
  };
  setIf(c, "streamPrefix", o.optStr("streamPrefix"));
  setIf(c, "unmapped", o.optOneOf("unmapped", ["record", "ignore"] as const));
  setIf(c, "rebirthIntervalMs", o.optNum("rebirthIntervalMs", { min: 0, integer: true }));
  if (o.has("metrics")) {
    const seen = new Set<string>();
    c.metrics = o.arr("metrics", { allowEmpty: true }).map((m) => {
      const mapping: SparkplugMetricMapping = {
        edgeNode: m.str("edgeNode", { pattern: SPARKPLUG_ID, hint: "a Sparkplug edge node id" }),
        name: m.str("name"),
      };
      setIf(mapping, "device", m.optStr("device", { pattern: SPARKPLUG_ID, hint: "a Sparkplug device id" }));
      setIf(mapping, "stream", m.optStr("stream"));
      setIf(mapping, "metric", m.optStr("metric"));
      setIf(mapping, "unit", m.optStr("unit"));
      m.done();
      const key = `${mapping.edgeNode}/${mapping.device ?? ""}/${mapping.name}`;
      if (seen.has(key)) m.fail("name", `"${mapping.name}" of ${mapping.device ?? mapping.edgeNode} is mapped twice`);
      seen.add(key);
      return mapping;
    });
    uniqueStreams(o, "metrics", c.metrics);
  }
  o.done();
  return c;
}

function parseMqttJson(o: Obj): MqttJsonDeviceConfig {
  const c: MqttJsonDeviceConfig = { kind: "mqtt-json", ...parseCommon(o), ...parseMqtt(o), topics: [] };
  const seen = new Set<string>();
  c.topics = o.arr("topics").map((t) => {
    const topic: MqttJsonTopicConfig = {
      topic: t.str("topic", { pattern: MQTT_TOPIC_LEVEL, hint: "an exact MQTT topic (no '+' or '#' wildcards)" }),
      ...streamMetricUnit(t),
    };
    t.done();
    if (seen.has(topic.topic)) t.fail("topic", `"${topic.topic}" is listed twice`);
    seen.add(topic.topic);
    return topic;
  });
  uniqueStreams(o, "topics", c.topics);
  o.done();
  return c;
}

function parseModbus(o: Obj): ModbusDeviceConfig {
  const c: ModbusDeviceConfig = {
    kind: "modbus",
    ...parseCommon(o),
    host: o.str("host", { pattern: /^[^\s/:]+$/, hint: "a host name or IPv4 address" }),
    registers: [],
  };
  setIf(c, "port", o.optNum("port", { min: 1, max: 65535, integer: true }));
  setIf(c, "unitId", o.optNum("unitId", { min: 0, max: 255, integer: true }));
  setIf(c, "pollIntervalMs", o.optNum("pollIntervalMs", { min: 10, integer: true }));
  setIf(c, "timeoutMs", o.optNum("timeoutMs", { min: 10, integer: true }));
  c.registers = o.arr("registers").map((r) => {
    const reg: ModbusRegisterConfig = {
      address: r.num("address", { min: 0, max: 65535, integer: true }),
      type: r.oneOf("type", ["int16", "uint16", "int32", "uint32", "float32"] as const),
      ...streamMetricUnit(r),
    };
    setIf(reg, "table", r.optOneOf("table", ["holding", "input"] as const));
    const words = MODBUS_WORDS[reg.type];
    const count = r.optNum("count", { min: 1, integer: true });
    if (count !== undefined && count !== words) r.fail("count", `must be ${words} for type ${reg.type} (got ${count})`);
    setIf(reg, "count", count);
    if (reg.address + words - 1 > 65535) r.fail("address", `leaves no room for the ${words} registers of ${reg.type} (got ${reg.address})`);
    setIf(reg, "wordOrder", r.optOneOf("wordOrder", ["big", "little"] as const));
    if (reg.wordOrder !== undefined && words === 1) r.fail("wordOrder", `applies only to 32-bit types, not ${reg.type}`);
    setIf(reg, "byteSwap", r.optBool("byteSwap"));
    setIf(reg, "scale", r.optNum("scale"));
    if (reg.scale === 0) r.fail("scale", "must not be 0");
    setIf(reg, "offset", r.optNum("offset"));
    r.done();
    return reg;
  });
  uniqueStreams(o, "registers", c.registers);
  o.done();
  return c;
}

function streamMetricUnit(o: Obj): { stream: string; metric: string; unit?: string } {
  const out: { stream: string; metric: string; unit?: string } = { stream: o.str("stream"), metric: o.str("metric") };
  setIf(out, "unit", o.optStr("unit"));
  return out;
}

function uniqueStreams(o: Obj, key: string, items: readonly { stream?: string }[]): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    if (item.stream === undefined) return;
    const first = seen.get(item.stream);
    if (first !== undefined) o.fail(`${key}[${i}].stream`, `"${item.stream}" is already used by ${key}[${first}]`);
    seen.set(item.stream, i);
  });
}

function setIf<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
  if (typeof v === "object") return "an object";
  return `${typeof v} ${String(v)}`;
}

interface StrOpts {
  pattern?: RegExp;
  hint?: string;
  allowEmpty?: boolean;
}
interface NumOpts {
  min?: number;
  max?: number;
  integer?: boolean;
}

/** One JSON object being validated, with the path to it for error messages. */
class Obj {
  private readonly used = new Set<string>();

  constructor(
    private readonly v: Record<string, unknown>,
    private readonly path: string,
    private readonly deviceId: string | undefined,
  ) {}

  fail(key: string, problem: string): never {
    throw new DeviceConfigError(this.field(key), problem, this.deviceId);
  }

  has(key: string): boolean {
    return this.v[key] !== undefined;
  }

  str(key: string, opts: StrOpts = {}): string {
    const s = this.optStr(key, opts);
    if (s === undefined) this.fail(key, opts.hint ? `is required: ${opts.hint}` : "is required");
    return s;
  }

  optStr(key: string, opts: StrOpts = {}): string | undefined {
    const v = this.take(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") this.fail(key, `must be a string (got ${describe(v)})`);
    if (v === "" && !opts.allowEmpty) this.fail(key, "must not be empty");
    if (opts.pattern && !opts.pattern.test(v)) this.fail(key, `must be ${opts.hint ?? `like ${opts.pattern}`} (got ${describe(v)})`);
    return v;
  }

  num(key: string, opts: NumOpts = {}): number {
    const n = this.optNum(key, opts);
    if (n === undefined) this.fail(key, "is required");
    return n;
  }

  optNum(key: string, opts: NumOpts = {}): number | undefined {
    const v = this.take(key);
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(key, `must be a finite number (got ${describe(v)})`);
    if (opts.integer && !Number.isInteger(v)) this.fail(key, `must be an integer (got ${v})`);
    if (opts.min !== undefined && v < opts.min) this.fail(key, `must be at least ${opts.min} (got ${v})`);
    if (opts.max !== undefined && v > opts.max) this.fail(key, `must be at most ${opts.max} (got ${v})`);
    return v;
  }

  optBool(key: string): boolean | undefined {
    const v = this.take(key);
    if (v === undefined) return undefined;
    if (typeof v !== "boolean") this.fail(key, `must be true or false (got ${describe(v)})`);
    return v;
  }

  oneOf<T extends string>(key: string, values: readonly T[]): T {
    const v = this.optOneOf(key, values);
    if (v === undefined) this.fail(key, `is required: one of ${values.map((x) => `"${x}"`).join(", ")}`);
    return v;
  }

  optOneOf<T extends string>(key: string, values: readonly T[]): T | undefined {
    const v = this.take(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string" || !(values as readonly string[]).includes(v)) {
      this.fail(key, `must be one of ${values.map((x) => `"${x}"`).join(", ")} (got ${describe(v)})`);
    }
    return v as T;
  }

  optObj(key: string): Obj | undefined {
    const v = this.take(key);
    if (v === undefined) return undefined;
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(key, `must be an object (got ${describe(v)})`);
    return new Obj(v as Record<string, unknown>, this.field(key), this.deviceId);
  }

  arr(key: string, opts: { allowEmpty?: boolean } = {}): Obj[] {
    const v = this.take(key);
    if (v === undefined) this.fail(key, "is required (a list)");
    if (!Array.isArray(v)) this.fail(key, `must be a list (got ${describe(v)})`);
    if (v.length === 0 && !opts.allowEmpty) this.fail(key, "must list at least one entry");
    return v.map((item, i) => {
      const path = `${this.field(key)}[${i}]`;
      if (typeof item !== "object" || item === null || Array.isArray(item)) {
        throw new DeviceConfigError(path, `must be an object (got ${describe(item)})`, this.deviceId);
      }
      return new Obj(item as Record<string, unknown>, path, this.deviceId);
    });
  }

  /** Every field must have been read: anything else is unknown (likely misspelt). */
  done(): void {
    for (const key of Object.keys(this.v)) {
      if (!this.used.has(key)) this.fail(key, "is not a known field");
    }
  }

  private take(key: string): unknown {
    this.used.add(key);
    return this.v[key];
  }

  private field(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }
}
