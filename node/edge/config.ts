/**
 * Device configuration for the edge adapters: one schema per kind (TypeBox, whose static types
 * are the configs' types), checked by the one config reader (lib/config-reader.ts) with every
 * problem naming its field, then the rules across fields (unique streams, matching pairs). This
 * module loads no protocol library, so reading a config stays cheap.
 */
import { type Static, type TProperties, type TSchema, Type } from "@sinclair/typebox";
import { ConfigError, type ConfigIssue, checkConfig, issueText, shown } from "../../lib/config-reader.ts";

const Str = (problem?: string, extra: Record<string, unknown> = {}) => Type.String({ minLength: 1, ...(problem ? { problem } : {}), ...extra });
const Pattern = (pattern: RegExp, hint: string) => Type.String({ pattern: pattern.source, problem: `must be ${hint}` });
const Int = (minimum?: number, maximum?: number) => Type.Integer({ ...(minimum !== undefined ? { minimum } : {}), ...(maximum !== undefined ? { maximum } : {}) });
const OneOf = <T extends string>(...values: T[]) => Type.Union(values.map((v) => Type.Literal(v)));
const List = <T extends TSchema>(item: T) => Type.Array(item, { minItems: 1, problem: "must be a list of at least one entry" });
const Obj = <P extends TProperties>(properties: P) => Type.Object(properties, { additionalProperties: false });

const NODE_ID = /^(ns=\d+;|nsu=[^;]+;)?(i=\d+|s=.+|g=[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|b=[A-Za-z0-9+/=]+)$/;
const MQTT_TOPIC_LEVEL = /^[^#+]*$/;
const SPARKPLUG_ID = /^[^/#+]+$/;

/** Fields every device has. */
const DeviceBase = {
  /** The adapter's id in status reports and logs, unique within the node, e.g. "furnace-1". */
  device: Str(),
  reconnect: Type.Optional(Obj({ initialDelayMs: Type.Optional(Int(1)), maxDelayMs: Type.Optional(Int(1)), jitter: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })) })),
  queue: Type.Optional(Obj({ highWater: Type.Optional(Int(1)), maxBatch: Type.Optional(Int(1)) })),
};

/** Where a value goes: the stream it is recorded in, its metric name, and its UCUM unit (e.g. "Cel"). */
const StreamMetricUnit = { stream: Str(), metric: Str(), unit: Type.Optional(Str()) };

const OpcUaNodeSchema = Obj({
  /** e.g. "ns=1;s=Furnace1.Temperature" or "nsu=urn:vendor:plant;i=1001". */
  nodeId: Pattern(NODE_ID, 'an OPC UA node id, e.g. "ns=1;s=Furnace1.Temperature"'),
  ...StreamMetricUnit,
  /** Overrides the device's sampling interval for this node. */
  samplingIntervalMs: Type.Optional(Int(0)),
});

export const OpcUaDeviceSchema = Obj({
  kind: Type.Literal("opcua"),
  ...DeviceBase,
  endpoint: Pattern(/^opc\.tcp:\/\/[^\s/:]+(:\d+)?(\/\S*)?$/, 'an opc.tcp:// URL, e.g. "opc.tcp://10.0.0.5:4840"'),
  /** Default "None" (demo only); production servers want "SignAndEncrypt". */
  securityMode: Type.Optional(OneOf("None", "Sign", "SignAndEncrypt")),
  /** Required (not "None") when securityMode is not "None". */
  securityPolicy: Type.Optional(OneOf("None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss")),
  /**
   * The client's PKI folder (node-opcua layout: own/, trusted/certs/, rejected/; see
   * node/edge/opcua-trust.ts). Required unless securityMode is "None": the client's certificate
   * is created there on first start, and only servers whose certificates are in trusted/certs/
   * are accepted; an unknown one is refused and put in rejected/ for an operator to trust.
   */
  pkiFolder: Type.Optional(Str()),
  /** Client certificate and key (PEM) instead of the PKI folder's own ones. */
  certificateFile: Type.Optional(Str()),
  privateKeyFile: Type.Optional(Str()),
  /** Anonymous when absent. */
  userName: Type.Optional(Str()),
  password: Type.Optional(Type.String({ secret: true, problem: "must be a string" })),
  /** Default 1000. */
  publishingIntervalMs: Type.Optional(Int(10)),
  /** Default 500. */
  samplingIntervalMs: Type.Optional(Int(0)),
  /** Server-side queue per monitored item, keeps samples while publishing is paused; default 50. */
  queueSize: Type.Optional(Int(1, 10_000)),
  nodes: List(OpcUaNodeSchema),
});

const MqttConnection = {
  url: Pattern(/^mqtts?:\/\/[^\s/:]+(:\d+)?\/?$/, 'an mqtt:// or mqtts:// URL, e.g. "mqtt://10.0.0.7:1883"'),
  clientId: Type.Optional(Str()),
  username: Type.Optional(Str()),
  password: Type.Optional(Type.String({ secret: true, problem: "must be a string" })),
  /** Default 30. */
  keepaliveSeconds: Type.Optional(Int(0, 65535)),
  /** For mqtts: PEM files. */
  tls: Type.Optional(Obj({ caFile: Type.Optional(Str()), certFile: Type.Optional(Str()), keyFile: Type.Optional(Str()), rejectUnauthorized: Type.Optional(Type.Boolean()) })),
};

export const MqttConnectionSchema = Obj(MqttConnection);

const SparkplugMetricSchema = Obj({
  edgeNode: Pattern(SPARKPLUG_ID, "a Sparkplug edge node id"),
  /** Absent for the edge node's own metrics. */
  device: Type.Optional(Pattern(SPARKPLUG_ID, "a Sparkplug device id")),
  /** The Sparkplug metric name, e.g. "Spindle/Load". */
  name: Str(),
  /** Default "{streamPrefix}{group}/{edgeNode}[/{device}]/{name}". */
  stream: Type.Optional(Str()),
  /** Default the Sparkplug name. */
  metric: Type.Optional(Str()),
  /** Overrides the unit from the BIRTH's properties. */
  unit: Type.Optional(Str()),
});

export const SparkplugDeviceSchema = Obj({
  kind: Type.Literal("sparkplug"),
  ...DeviceBase,
  ...MqttConnection,
  /** Sparkplug group id; the adapter subscribes to spBv1.0/{group}/#. */
  group: Pattern(SPARKPLUG_ID, "a Sparkplug group id (no '/', '+' or '#')"),
  streamPrefix: Type.Optional(Str()),
  metrics: Type.Optional(Type.Array(SparkplugMetricSchema)),
  /** What to do with metrics that have no mapping; default "record". */
  unmapped: Type.Optional(OneOf("record", "ignore")),
  /**
   * How long a skipped Sparkplug seq number is awaited before it counts as lost and the edge
   * node is asked for a rebirth (the spec's Reorder Timeout, for brokers that may reorder one
   * client's messages across topics, e.g. clusters); default 0: a jump is a gap at once.
   */
  reorderTimeoutMs: Type.Optional(Int(0, 600_000)),
  /** Least time between two rebirth requests to the same edge node; default 5000. */
  rebirthIntervalMs: Type.Optional(Int(0)),
  /**
   * Act as the Sparkplug primary host with this host id: publish the retained STATE birth on
   * spBv1.0/STATE/{id} once subscribed, with the matching death as the MQTT will, so edge nodes
   * that wait for their primary host release their stored data to this node.
   */
  primaryHostId: Type.Optional(Pattern(SPARKPLUG_ID, "a Sparkplug host id (no '/', '+' or '#')")),
});

const MqttJsonTopicSchema = Obj({
  /** An exact topic (no wildcards): one topic is one stream. */
  topic: Pattern(MQTT_TOPIC_LEVEL, "an exact MQTT topic (no '+' or '#' wildcards)"),
  ...StreamMetricUnit,
});

export const MqttJsonDeviceSchema = Obj({ kind: Type.Literal("mqtt-json"), ...DeviceBase, ...MqttConnection, topics: List(MqttJsonTopicSchema) });

const ModbusRegisterSchema = Obj({
  /** Default "holding". Coils and discrete inputs are single bits, read as type "bool". */
  table: Type.Optional(OneOf("holding", "input", "coil", "discrete")),
  /** Protocol (0-based) register, coil or discrete input address. */
  address: Int(0, 65535),
  /** Registers the value spans; follows from `type` (1 or 2), accepted for explicitness. */
  count: Type.Optional(Int(1)),
  type: OneOf("int16", "uint16", "int32", "uint32", "float32", "bool"),
  /** For 32-bit types: "big" = high word first (ABCD, default), "little" = low word first (CDAB). */
  wordOrder: Type.Optional(OneOf("big", "little")),
  /** Swap the two bytes of each register (BADC / DCBA devices); default false. */
  byteSwap: Type.Optional(Type.Boolean()),
  /** value = raw * scale + offset; defaults 1 and 0. */
  scale: Type.Optional(Type.Number()),
  offset: Type.Optional(Type.Number()),
  ...StreamMetricUnit,
});

export const ModbusDeviceSchema = Obj({
  kind: Type.Literal("modbus"),
  ...DeviceBase,
  host: Pattern(/^[^\s/:]+$/, "a host name or IPv4 address"),
  /** Default 502. */
  port: Type.Optional(Int(1, 65535)),
  /** Default 1. */
  unitId: Type.Optional(Int(0, 255)),
  /** Default 1000. */
  pollIntervalMs: Type.Optional(Int(10)),
  /** Per request; default 2000. */
  timeoutMs: Type.Optional(Int(10)),
  registers: List(ModbusRegisterSchema),
});

export type OpcUaDeviceConfig = Static<typeof OpcUaDeviceSchema>;
export type OpcUaNodeConfig = Static<typeof OpcUaNodeSchema>;
export type OpcUaSecurityMode = NonNullable<OpcUaDeviceConfig["securityMode"]>;
export type OpcUaSecurityPolicy = NonNullable<OpcUaDeviceConfig["securityPolicy"]>;
export type SparkplugDeviceConfig = Static<typeof SparkplugDeviceSchema>;
export type SparkplugMetricMapping = Static<typeof SparkplugMetricSchema>;
export type MqttJsonDeviceConfig = Static<typeof MqttJsonDeviceSchema>;
export type MqttJsonTopicConfig = Static<typeof MqttJsonTopicSchema>;
export type MqttConnectionConfig = Static<typeof MqttConnectionSchema>;
export type ModbusDeviceConfig = Static<typeof ModbusDeviceSchema>;
export type ModbusRegisterConfig = Static<typeof ModbusRegisterSchema>;
export type ModbusType = ModbusRegisterConfig["type"];
export type DeviceConfig = OpcUaDeviceConfig | SparkplugDeviceConfig | MqttJsonDeviceConfig | ModbusDeviceConfig;
export type DeviceKind = DeviceConfig["kind"];

const SCHEMAS: Record<DeviceKind, TSchema> = { opcua: OpcUaDeviceSchema, sparkplug: SparkplugDeviceSchema, "mqtt-json": MqttJsonDeviceSchema, modbus: ModbusDeviceSchema };
const KindSchema = Type.Object({ kind: OneOf(...(Object.keys(SCHEMAS) as DeviceKind[])) });

/** Addresses a value spans: registers for the register types, one bit for "bool". */
export const MODBUS_WORDS: Record<ModbusType, number> = { int16: 1, uint16: 1, int32: 2, uint32: 2, float32: 2, bool: 1 };
/** The tables of single bits (read with function codes 1 and 2). */
export const MODBUS_BIT_TABLES: ReadonlySet<string> = new Set(["coil", "discrete"]);

/** A device config the node cannot use; `field` is the path of the first offending field, e.g. "registers[2].type". */
export class DeviceConfigError extends ConfigError {
  readonly field: string;
  readonly problem: string;
  constructor(
    issues: readonly ConfigIssue[],
    readonly deviceId?: string,
  ) {
    super(issues.map(issueText), undefined, "device configuration", issues);
    this.field = issues[0]?.field ?? "";
    this.problem = issues[0]?.problem ?? "";
    // One line, naming the device: the daemon prefixes it with the device's place in the node config.
    this.message = `${deviceId ? `device "${deviceId}"` : "device config"}: ${this.problems.join("; ")}`;
  }
}

/**
 * Validate a device config from untrusted JSON against its kind's schema. Throws
 * DeviceConfigError naming every bad field; unknown fields are errors too (a misspelt option must
 * not be silently ignored).
 */
export function parseDeviceConfig(input: unknown): DeviceConfig {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new DeviceConfigError([{ field: "", problem: `must be an object (got ${shown(input)})` }]);
  }
  const raw = input as Record<string, unknown>;
  const deviceId = typeof raw.device === "string" && raw.device !== "" ? raw.device : undefined;
  try {
    const { kind } = checkConfig(KindSchema, { kind: raw.kind }, { baseDir: "", subject: "device configuration" });
    return checkConfig(SCHEMAS[kind], raw, { baseDir: "", subject: "device configuration", rules: RULES[kind] as Rules<unknown> }) as DeviceConfig;
  } catch (e) {
    if (e instanceof ConfigError) throw new DeviceConfigError(e.issues, deviceId);
    throw e;
  }
}

type Rules<T> = (c: T, problem: (field: string, text: string) => void) => void;

/** Rules across fields, run once a config matches its kind's schema. */
const RULES: { [K in DeviceKind]: Rules<Extract<DeviceConfig, { kind: K }>> } = {
  opcua(c, problem) {
    common(c, problem);
    const mode = c.securityMode ?? "None";
    const policy = c.securityPolicy ?? "None";
    if (mode !== "None" && policy === "None") problem("securityPolicy", `must name a policy (e.g. "Basic256Sha256") when securityMode is "${mode}"`);
    if (mode === "None" && policy !== "None") problem("securityMode", `must be "Sign" or "SignAndEncrypt" when securityPolicy is "${policy}"`);
    if (mode !== "None" && c.pkiFolder === undefined) problem("pkiFolder", `is required when securityMode is "${mode}": it holds the client's certificate and the servers it trusts`);
    if ((c.certificateFile === undefined) !== (c.privateKeyFile === undefined)) {
      problem(c.certificateFile === undefined ? "certificateFile" : "privateKeyFile", "is required together with the other of certificateFile/privateKeyFile");
    }
    if (c.password !== undefined && c.userName === undefined) problem("userName", "is required when a password is given");
    unique(c.nodes, (n) => n.nodeId, (i, n) => problem(`nodes[${i}].nodeId`, `"${n.nodeId}" is listed twice`));
    uniqueStreams("nodes", c.nodes, problem);
  },
  sparkplug(c, problem) {
    common(c, problem);
    mqtt(c, problem);
    unique(c.metrics ?? [], (m) => `${m.edgeNode}/${m.device ?? ""}/${m.name}`, (i, m) => problem(`metrics[${i}].name`, `"${m.name}" of ${m.device ?? m.edgeNode} is mapped twice`));
    uniqueStreams("metrics", c.metrics ?? [], problem);
  },
  "mqtt-json"(c, problem) {
    common(c, problem);
    mqtt(c, problem);
    unique(c.topics, (t) => t.topic, (i, t) => problem(`topics[${i}].topic`, `"${t.topic}" is listed twice`));
    uniqueStreams("topics", c.topics, problem);
  },
  modbus(c, problem) {
    common(c, problem);
    c.registers.forEach((r, i) => {
      const at = `registers[${i}]`;
      const words = MODBUS_WORDS[r.type];
      if (r.count !== undefined && r.count !== words) problem(`${at}.count`, `must be ${words} for type ${r.type} (got ${r.count})`);
      if (r.address + words - 1 > 65535) problem(`${at}.address`, `leaves no room for the ${words} registers of ${r.type} (got ${r.address})`);
      if (r.wordOrder !== undefined && words === 1) problem(`${at}.wordOrder`, `applies only to 32-bit types, not ${r.type}`);
      if (r.scale === 0) problem(`${at}.scale`, "must not be 0");
      const bits = MODBUS_BIT_TABLES.has(r.table ?? "holding");
      if (bits && r.type !== "bool") problem(`${at}.type`, `must be "bool" for a ${r.table} (a single bit) (got ${r.type})`);
      if (!bits && r.type === "bool") problem(`${at}.type`, `"bool" is for coils and discrete inputs; ${r.table ?? "holding"} registers are int16, uint16, int32, uint32 or float32`);
      if (r.type === "bool") {
        for (const k of ["scale", "offset", "wordOrder", "byteSwap"] as const) if (r[k] !== undefined) problem(`${at}.${k}`, "does not apply to a bool");
      }
    });
    uniqueStreams("registers", c.registers, problem);
  },
};

function common(c: DeviceConfig, problem: (field: string, text: string) => void): void {
  const rc = c.reconnect;
  if (rc && (rc.initialDelayMs ?? 0) > (rc.maxDelayMs ?? Infinity)) problem("reconnect.initialDelayMs", `must not exceed maxDelayMs (${rc.maxDelayMs})`);
}

function mqtt(c: MqttConnectionConfig, problem: (field: string, text: string) => void): void {
  const tls = c.tls;
  if (tls && (tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    problem(tls.certFile === undefined ? "tls.certFile" : "tls.keyFile", "is required together with the other of certFile/keyFile");
  }
}

/** Calls `twice` for every item whose key an earlier item already has. */
function unique<T>(items: readonly T[], key: (item: T) => string, twice: (index: number, item: T) => void): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const k = key(item);
    if (seen.has(k)) twice(i, item);
    seen.add(k);
  });
}

function uniqueStreams(key: string, items: readonly { stream?: string }[], problem: (field: string, text: string) => void): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    if (item.stream === undefined) return;
    const first = seen.get(item.stream);
    if (first !== undefined) problem(`${key}[${i}].stream`, `"${item.stream}" is already used by ${key}[${first}]`);
    seen.set(item.stream, i);
  });
}
