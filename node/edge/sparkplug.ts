/**
 * Sparkplug B host adapter: subscribes to spBv1.0/{group}/# and keeps, per edge node, what its
 * BIRTH certificates declared, so that DATA messages (which usually carry aliases only) can be
 * turned into Readings.
 *
 * - NBIRTH / DBIRTH: alias <-> name maps, datatypes, units (metric properties "engUnit",
 *   "engUnits", "unit" or "units"); the metrics' current values are readings too. NBIRTH
 *   forgets the node's devices (they are born again after it) and records its bdSeq.
 * - NDATA / DDATA: aliases resolved; value, timestamp and quality per metric.
 * - NDEATH (matching bdSeq) / DDEATH: the node (and its devices) or the device marked offline in
 *   `status().sources`.
 * - seq: one 0..255 counter per edge node across NBIRTH, DBIRTH, NDATA, DDATA and DDEATH. A jump
 *   counts the skipped messages as gaps and asks the node for a rebirth with the Node
 *   Control/Rebirth NCMD; with `reorderTimeoutMs`, only once they failed to arrive in that time. DATA or DBIRTH from a node we have no NBIRTH for, or an alias no BIRTH
 *   declared, also asks for a rebirth (at most once per `rebirthIntervalMs` per node until its
 *   NBIRTH arrives).
 *
 * Primary host (config `primaryHostId`, Sparkplug 3.0): the connection's will is the retained
 * STATE death {"online":false,"timestamp":T} on spBv1.0/STATE/{id}; once subscribed (to the group
 * and to that STATE topic) the adapter publishes the retained STATE birth {"online":true,
 * "timestamp":T} (same T), before a clean stop a death stamped with the time of the stop, and
 * its birth again if a death shows up on its topic while it is online. Edge nodes configured for this primary host then publish to us, and
 * flush the data they stored while we were away.
 *
 * Store and forward: metrics flagged is_historical (data an edge node held while its primary
 * host was away) become readings with `historical: true`, committed with the reading (canonical
 * bytes flag) and so shown wherever the reading is served; the pipeline counts them apart from
 * late readings. Within a message they are delivered in the order of their own timestamps.
 *
 * Readings: sourceTime is the metric timestamp, else the payload timestamp (timeSource
 * "server": the edge node's clock), else the receive time. Quality comes from a "Quality"
 * property (OPC DA codes: 192 good, 64..127 uncertain, below 64 bad) when present; a null
 * metric is a bad reading. Transient metrics (not to be historised, per the spec) and node
 * control, properties and bdSeq metrics are not readings.
 */
import sparkplug from "sparkplug-payload";
import proto from "sparkplug-payload/lib/sparkplugPayloadProto.js";
import type { UMetric, UPayload } from "sparkplug-payload/lib/sparkplugbpayload.js";
import type { Quality, Reading } from "../../lib/reading.ts";
import type { AdapterContext } from "./adapter.ts";
import { AdapterBase, message } from "./base.ts";
import type { SparkplugDeviceConfig, SparkplugMetricMapping } from "./config.ts";
import { MqttLink } from "./mqtt.ts";
import { float32Decimal } from "./values.ts";

const codec = sparkplug.get("spBv1.0");
if (!codec) throw new Error("sparkplug-payload has no spBv1.0 codec");
const spB = codec;
const RawPayload = proto.org.eclipse.tahu.protobuf.Payload;

export const REBIRTH_METRIC = "Node Control/Rebirth";
const UNIT_PROPERTIES = ["engunit", "engunits", "unit", "units"];
/** Values that are not time series: they are not recorded as readings. */
const NON_SCALAR = new Set(["DataSet", "Bytes", "File", "Template", "PropertySet", "PropertySetList", "Unknown"]);
/** Sparkplug datatype codes (the protobuf enum) by name. */
const DATATYPE_CODES: Record<string, number> = Object.fromEntries(
  Object.entries(proto.org.eclipse.tahu.protobuf.DataType).filter(([, v]) => typeof v === "number"),
) as Record<string, number>;

type MetricType = UMetric["type"];

interface MetricDef {
  name: string;
  type: MetricType | undefined;
  unit: string | undefined;
  stream: string;
  metric: string;
  /** Recorded as readings (not control/property/transient, mapped or "record" policy). */
  record: boolean;
}

interface Scope {
  /** alias -> definition, and name -> definition, from the last BIRTH. */
  byAlias: Map<string, MetricDef>;
  byName: Map<string, MetricDef>;
}

interface EdgeNodeState extends Scope {
  born: boolean;
  bdSeq: string | undefined;
  lastSeq: number | undefined;
  /** Seq numbers skipped and still awaited within the reorder timeout, and its timer. */
  missing: Set<number>;
  reorderTimer: NodeJS.Timeout | undefined;
  devices: Map<string, Scope & { born: boolean }>;
  rebirthAt: number | undefined;
}

export class SparkplugAdapter extends AdapterBase {
  private link: MqttLink | undefined;
  private nodes = new Map<string, EdgeNodeState>();
  private mappings = new Map<string, SparkplugMetricMapping>();
  /** Last reading recorded per stream, so that a rebirth does not record the same value twice. */
  private lastRecorded = new Map<string, { t: number; v: Reading["value"] }>();
  private rebirths = 0;

  constructor(
    private readonly config: SparkplugDeviceConfig,
    ctx: AdapterContext,
  ) {
    super(config.device, ctx, config);
    for (const m of config.metrics ?? []) this.mappings.set(`${m.edgeNode}/${m.device ?? ""}/${m.name}`, m);
  }

  /** Rebirth requests sent since start. */
  get rebirthRequests(): number {
    return this.rebirths;
  }

  protected async open(signal: AbortSignal): Promise<void> {
    this.link = new MqttLink({
      config: this.config,
      defaultClientId: `tracemesh-${this.config.device}`,
      // Sparkplug host applications use clean sessions; a rebirth resynchronises after a break.
      persistentSession: false,
      // A primary host also watches its own STATE topic (Sparkplug 3.0), to answer a stray death there.
      subscriptions: [`spBv1.0/${this.config.group}/#`, ...(this.config.primaryHostId ? [this.stateTopic()] : [])],
      backoff: this.backoff,
      signal,
      onMessage: (topic, payload) => this.onMessage(topic, payload),
      onState: (state, detail) => this.setState(state, detail),
      log: (text) => this.log(text),
      ...(this.config.primaryHostId
        ? {
            will: () => {
              this.stateTimestamp = Date.now();
              return { topic: this.stateTopic(), payload: this.statePayload(false), qos: 1 as const, retain: true };
            },
            onConnected: () => void this.publishState(true),
          }
        : {}),
    });
    await this.link.start();
  }

  protected override async beforeStop(): Promise<void> {
    // A clean stop says so itself, then DISCONNECTs so the broker drops the will (which carries
    // the older, connect-time timestamp); the will covers every other end of the connection.
    if (!this.config.primaryHostId) return;
    await this.publishState(false);
    await this.link?.endGracefully();
  }

  protected async close(): Promise<void> {
    for (const node of this.nodes.values()) this.stopAwaiting(node);
    await this.link?.close();
    this.link = undefined;
  }

  /** The timestamp of this connection's STATE birth and death (one per connect, as the spec asks). */
  private stateTimestamp = 0;

  private stateTopic(): string {
    return `spBv1.0/STATE/${this.config.primaryHostId}`;
  }

  private statePayload(online: boolean): Buffer {
    return Buffer.from(JSON.stringify({ online, timestamp: this.stateTimestamp }));
  }

  private async publishState(online: boolean): Promise<void> {
    // A clean stop's death carries the time of the disconnect, as the spec asks.
    const payload = online ? this.statePayload(true) : Buffer.from(JSON.stringify({ online: false, timestamp: Math.max(Date.now(), this.stateTimestamp) }));
    if (!(await this.link?.publish(this.stateTopic(), payload, 1, true))) this.log(`could not publish the primary host STATE ${online ? "birth" : "death"}`);
  }

  /**
   * A STATE on our own topic. A death while we are up (the late will of an earlier session of
   * ours, or another client using our host id) would keep edge nodes from publishing and leave
   * that death retained: publish our birth again.
   */
  private onOwnState(payload: Buffer): void {
    let state: { online?: unknown; timestamp?: unknown };
    try {
      state = JSON.parse(payload.toString("utf8")) as typeof state;
    } catch {
      this.log(`a STATE on ${this.stateTopic()} that is not JSON: ignored`);
      return;
    }
    if (state.online !== false || this.stopped || !this.link?.connected) return;
    this.log(`a STATE death (timestamp ${String(state.timestamp)}) arrived on ${this.stateTopic()} while this host is online: publishing its birth again`);
    void this.publishState(true);
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    if (this.config.primaryHostId && topic === this.stateTopic()) return this.onOwnState(payload);
    const parts = topic.split("/");
    if (parts.length < 4 || parts[0] !== "spBv1.0" || parts[1] !== this.config.group) return;
    const type = parts[2] ?? "";
    const edgeNode = parts[3] ?? "";
    const device = parts[4];
    if (type === "NCMD" || type === "DCMD" || !edgeNode) return;
    let decoded: UPayload;
    try {
      decoded = spB.decodePayload(payload);
    } catch (error) {
      this.addGaps(1, `undecodable ${type} from ${edgeNode}${device ? `/${device}` : ""}: ${message(error)}`);
      return;
    }
    const receivedAt = Date.now();
    const readings = this.handle(type, edgeNode, device, decoded, payload, receivedAt);
    if (readings.length) await this.deliver(readings);
  }

  private handle(type: string, edgeNode: string, device: string | undefined, p: UPayload, raw: Buffer, receivedAt: number): Reading[] {
    const nodeKey = `${this.config.group}/${edgeNode}`;
    const node = this.nodes.get(edgeNode);
    const seq = p.seq === undefined || p.seq === null ? undefined : Number(toNumber(p.seq));

    if (type === "NBIRTH") {
      if (node) this.stopAwaiting(node);
      const state: EdgeNodeState = {
        born: true,
        bdSeq: metricValueString(p.metrics, "bdSeq"),
        lastSeq: seq,
        missing: new Set(),
        reorderTimer: undefined,
        devices: new Map(),
        rebirthAt: undefined,
        byAlias: new Map(),
        byName: new Map(),
      };
      // A new NBIRTH voids the devices' births: they are offline until their DBIRTHs follow.
      this.nodes.set(edgeNode, state);
      this.setSource(nodeKey, true);
      this.markDevicesOffline(nodeKey);
      return this.birth(state, edgeNode, undefined, p, receivedAt);
    }

    if (type === "NDEATH") {
      const bdSeq = metricValueString(p.metrics, "bdSeq");
      if (node?.bdSeq !== undefined && bdSeq !== undefined && bdSeq !== node.bdSeq) {
        this.log(`ignoring stale NDEATH from ${nodeKey} (bdSeq ${bdSeq}, current ${node.bdSeq})`);
        return [];
      }
      if (node) {
        node.born = false;
        node.lastSeq = undefined;
        this.stopAwaiting(node);
        for (const scope of node.devices.values()) scope.born = false;
      }
      this.markDevicesOffline(nodeKey);
      this.setSource(nodeKey, false);
      return [];
    }

    const label = device ? `${nodeKey}/${device}` : nodeKey;
    if (!node?.born) {
      // Normal when joining a running plant: ask for the BIRTH, whose values bring us up to date.
      this.requestRebirth(edgeNode, `${type} from ${label} before its NBIRTH`);
      return [];
    }
    this.checkSeq(node, edgeNode, seq, type);

    switch (type) {
      case "DBIRTH": {
        if (!device) return [];
        const scope = { born: true, byAlias: new Map<string, MetricDef>(), byName: new Map<string, MetricDef>() };
        node.devices.set(device, scope);
        this.setSource(label, true);
        return this.birth(scope, edgeNode, device, p, receivedAt);
      }
      case "DDEATH": {
        if (!device) return [];
        const scope = node.devices.get(device);
        if (scope) scope.born = false;
        this.setSource(label, false);
        return [];
      }
      case "NDATA":
      case "DDATA": {
        const scope = device ? node.devices.get(device) : node;
        if (!scope || (device && !(scope as { born: boolean }).born)) {
          this.requestRebirth(edgeNode, `DDATA from ${label} before its DBIRTH`);
          return [];
        }
        return this.data(scope, edgeNode, device, p, raw, receivedAt);
      }
      default:
        return [];
    }
  }

  private markDevicesOffline(nodeKey: string): void {
    for (const key of Object.keys(this.status().sources ?? {})) {
      if (key.startsWith(`${nodeKey}/`)) this.setSource(key, false);
    }
  }

  /**
   * Sparkplug host message ordering. Without a reorder timeout (`reorderTimeoutMs` 0, for a broker
   * that keeps one client's messages in order across topics) a jump is a gap at once. With one,
   * the skipped numbers are awaited that long (clustered brokers may reorder across topics); a
   * late one is taken as it comes, and only those still missing then count as gaps and lead to
   * a rebirth request.
   */
  private checkSeq(node: EdgeNodeState, edgeNode: string, seq: number | undefined, type: string): void {
    if (seq === undefined) return;
    if (node.missing.delete(seq)) {
      if (node.missing.size === 0) this.stopAwaiting(node);
      return;
    }
    if (node.lastSeq !== undefined) {
      const expected = (node.lastSeq + 1) % 256;
      if (seq !== expected) {
        const missed = (seq - expected + 256) % 256;
        const why = `seq gap from ${this.config.group}/${edgeNode}: expected ${expected}, got ${seq} (${type})`;
        const timeout = this.config.reorderTimeoutMs ?? 0;
        if (timeout === 0) {
          this.addGaps(missed, why);
          this.requestRebirth(edgeNode, `seq gap (expected ${expected}, got ${seq})`);
        } else {
          for (let k = 0; k < missed; k++) node.missing.add((expected + k) % 256);
          node.reorderTimer ??= setTimeout(() => {
            node.reorderTimer = undefined;
            const lost = [...node.missing];
            node.missing.clear();
            if (lost.length === 0 || this.stopped) return;
            this.addGaps(lost.length, `${why}; seq ${lost.join(", ")} not there after the ${timeout} ms reorder timeout`);
            this.requestRebirth(edgeNode, `seq ${lost.join(", ")} missing after the reorder timeout`);
          }, timeout);
        }
      }
    }
    node.lastSeq = seq;
  }

  private stopAwaiting(node: EdgeNodeState): void {
    clearTimeout(node.reorderTimer);
    node.reorderTimer = undefined;
    node.missing.clear();
  }

  /** Ask an edge node to publish its BIRTH certificates again (Sparkplug Node Control/Rebirth). */
  private requestRebirth(edgeNode: string, why: string): void {
    const node = this.nodes.get(edgeNode);
    const now = Date.now();
    const interval = this.config.rebirthIntervalMs ?? 5_000;
    const lastAt = node ? node.rebirthAt : this.pendingRebirth.get(edgeNode);
    if (lastAt !== undefined && now - lastAt < interval) return;
    if (node) node.rebirthAt = now;
    else this.pendingRebirth.set(edgeNode, now);
    const topic = `spBv1.0/${this.config.group}/NCMD/${edgeNode}`;
    const payload = Buffer.from(spB.encodePayload({ timestamp: now, metrics: [{ name: REBIRTH_METRIC, type: "Boolean", value: true }] }));
    this.rebirths++;
    this.log(`requesting rebirth of ${this.config.group}/${edgeNode}: ${why}`);
    void this.link?.publish(topic, payload, 0);
  }

  private pendingRebirth = new Map<string, number>();

  private birth(scope: Scope, edgeNode: string, device: string | undefined, p: UPayload, receivedAt: number): Reading[] {
    if (!device) this.pendingRebirth.delete(edgeNode);
    const readings: Reading[] = [];
    for (const m of p.metrics ?? []) {
      if (typeof m.name !== "string") continue;
      const def = this.define(edgeNode, device, m);
      scope.byName.set(m.name, def);
      if (m.alias !== undefined && m.alias !== null) scope.byAlias.set(String(toNumber(m.alias)), def);
      if (!def.record || m.isTransient) continue;
      const r = this.reading(def, m, m.value, p, receivedAt);
      if (!r) continue;
      // A rebirth repeats current values; skip one identical to what this stream last recorded.
      const last = this.lastRecorded.get(def.stream);
      if (last && last.t === r.sourceTime && last.v === r.value) continue;
      readings.push(r);
    }
    this.remember(readings);
    return readings;
  }

  private data(scope: Scope, edgeNode: string, device: string | undefined, p: UPayload, raw: Buffer, receivedAt: number): Reading[] {
    const readings: Reading[] = [];
    let rawMetrics: proto.org.eclipse.tahu.protobuf.Payload.IMetric[] | undefined;
    (p.metrics ?? []).forEach((m, i) => {
      const def =
        m.alias !== undefined && m.alias !== null
          ? scope.byAlias.get(String(toNumber(m.alias)))
          : typeof m.name === "string"
            ? scope.byName.get(m.name)
            : undefined;
      if (!def) {
        const id = m.alias !== undefined && m.alias !== null ? `alias ${String(toNumber(m.alias))}` : `"${m.name}"`;
        this.addGaps(1, `${id} of ${edgeNode}${device ? `/${device}` : ""} is not in its BIRTH`);
        this.requestRebirth(edgeNode, `unknown metric ${id}`);
        return;
      }
      if (!def.record || m.isTransient) return;
      let value: unknown = m.value;
      if (m.type === undefined && m.value === null && def.type !== undefined) {
        // DATA may omit the datatype (the BIRTH declared it); the codec then cannot pick the
        // value field, so read it from the raw message by the BIRTH's datatype.
        rawMetrics ??= RawPayload.decode(raw).metrics;
        const rm = rawMetrics[i];
        value = rm && !rm.isNull ? rawValue(rm, def.type) : null;
      }
      const r = this.reading(def, m, value, p, receivedAt);
      if (r) readings.push(r);
    });
    // Historical metrics need not be in time order (the spec asks that only of live ones): put
    // them in it, so each stream gets its stored data in the order it was measured. The sort is
    // stable and live metrics are already chronological, so their order stays as sent.
    if (readings.some((r) => r.historical)) readings.sort((a, b) => a.sourceTime - b.sourceTime);
    // Stored data is not the current value: only live readings are remembered as such.
    this.remember(readings.filter((r) => !r.historical));
    return readings;
  }

  private remember(readings: readonly Reading[]): void {
    for (const r of readings) this.lastRecorded.set(r.stream, { t: r.sourceTime, v: r.value });
  }

  private define(edgeNode: string, device: string | undefined, m: UMetric): MetricDef {
    const name = m.name as string;
    const mapping = this.mappings.get(`${edgeNode}/${device ?? ""}/${name}`);
    const control = name === "bdSeq" || name.startsWith("Node Control/") || name.startsWith("Device Control/") || name.startsWith("Properties/");
    const record = !control && !NON_SCALAR.has(m.type) && (mapping !== undefined || (this.config.unmapped ?? "record") === "record");
    const prefix = this.config.streamPrefix ?? "";
    return {
      name,
      type: m.type,
      unit: mapping?.unit ?? unitOf(m),
      stream: mapping?.stream ?? `${prefix}${this.config.group}/${edgeNode}/${device ? `${device}/` : ""}${name}`,
      metric: mapping?.metric ?? name,
      record,
    };
  }

  private reading(def: MetricDef, m: UMetric, rawValue: unknown, p: UPayload, receivedAt: number): Reading | undefined {
    const type = m.type ?? def.type;
    let value = scalar(rawValue, type);
    if (value === undefined) return undefined;
    const qualityCode = propertyNumber(m, "quality");
    let quality: Quality = qualityCode === undefined ? "good" : daQuality(qualityCode);
    if (typeof value === "number" && !Number.isFinite(value)) value = null;
    if (value === null) quality = "bad";
    if (quality === "bad") value = null;
    const r: Reading = { stream: def.stream, metric: def.metric, value, sourceTime: receivedAt, quality };
    if (def.unit !== undefined) r.unit = def.unit;
    if (qualityCode !== undefined) r.statusCode = qualityCode;
    if (m.isHistorical === true) r.historical = true;
    if (m.timestamp !== undefined && m.timestamp !== null) r.sourceTime = Number(toNumber(m.timestamp));
    else if (p.timestamp !== undefined && p.timestamp !== null) {
      r.sourceTime = Number(toNumber(p.timestamp));
      r.timeSource = "server";
    } else r.timeSource = "receive";
    return r;
  }
}

/** OPC DA quality (as Ignition publishes in a metric's "Quality" property) to our three levels. */
function daQuality(code: number): Quality {
  const q = code & 0xc0;
  return q === 0xc0 ? "good" : q === 0x40 ? "uncertain" : "bad";
}

function unitOf(m: UMetric): string | undefined {
  for (const [key, prop] of Object.entries(m.properties ?? {})) {
    if (UNIT_PROPERTIES.includes(key.toLowerCase()) && typeof prop.value === "string" && prop.value !== "") return prop.value;
  }
  return undefined;
}

function propertyNumber(m: UMetric, name: string): number | undefined {
  for (const [key, prop] of Object.entries(m.properties ?? {})) {
    if (key.toLowerCase() !== name) continue;
    const n = Number(toNumber(prop.value));
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function metricValueString(metrics: UMetric[] | null | undefined, name: string): string | undefined {
  const m = metrics?.find((x) => x.name === name);
  return m && m.value !== null && m.value !== undefined ? String(toNumber(m.value)) : undefined;
}

interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
}

function isLong(v: unknown): v is LongLike {
  return typeof v === "object" && v !== null && "low" in v && "high" in v && "unsigned" in v;
}

/** A protobuf 64-bit Long as a number when exact, else as a decimal string. */
function toNumber(v: unknown): unknown {
  if (!isLong(v)) return v;
  const big = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  const n = v.unsigned ? big : BigInt.asIntN(64, big);
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
}

/** A metric value as a Reading value; undefined for values that are not scalars. */
function scalar(value: unknown, type: MetricType | undefined): Reading["value"] | undefined {
  if (value === null || value === undefined) return null;
  if (type !== undefined && NON_SCALAR.has(type)) return undefined;
  const v = toNumber(value);
  // sparkplug-payload reads UInt32 through Long.toInt(), which is signed.
  if (type === "UInt32" && typeof v === "number" && v < 0) return v + 2 ** 32;
  if (type === "Float" && typeof v === "number") return float32Decimal(v);
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "string") return v;
  return undefined;
}

/** The value of a raw protobuf metric, chosen by the datatype its BIRTH declared. */
function rawValue(m: proto.org.eclipse.tahu.protobuf.Payload.IMetric, type: MetricType): unknown {
  switch (DATATYPE_CODES[type]) {
    case 1:
      return ((m.intValue ?? 0) << 24) >> 24;
    case 2:
      return ((m.intValue ?? 0) << 16) >> 16;
    case 3:
      return (m.intValue ?? 0) | 0;
    case 5:
    case 6:
      return m.intValue ?? 0;
    case 4: {
      const v = m.longValue;
      return isLong(v) ? { low: v.low, high: v.high, unsigned: false } : (v ?? null);
    }
    case 7:
    case 8:
    case 13:
      return m.longValue ?? null;
    case 9:
      return m.floatValue ?? null;
    case 10:
      return m.doubleValue ?? null;
    case 11:
      return m.booleanValue ?? null;
    case 12:
    case 14:
    case 15:
      return m.stringValue ?? null;
    default:
      return undefined;
  }
}
