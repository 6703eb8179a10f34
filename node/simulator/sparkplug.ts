/**
 * The simulator's Sparkplug B edge node (MQTT, payloads encoded with sparkplug-payload): a CNC
 * machine (spindle load and speed) and a tightening station (torque, angle, part count), as
 * devices of one edge node. It behaves as the Sparkplug 3.0 spec asks of an edge node: NDEATH
 * as the MQTT will with a bdSeq that NBIRTH repeats, NBIRTH then DBIRTHs on every connect,
 * one seq counter (0..255) across the node's messages, DATA by exception with aliases only, and
 * a full rebirth when a host sends the Node Control/Rebirth command.
 *
 * With a primary host (`primaryHostId`), it also behaves as a store-and-forward edge node: it
 * subscribes to spBv1.0/STATE/{host} and publishes no BIRTH or DATA until that host's STATE says
 * online (a STATE older than the last one seen is ignored, as Sparkplug 3.0 asks). While the
 * host is offline, or the broker is gone, what changes is stored; once the host is back the node
 * is born again and delivers the stored values as DDATA metrics flagged is_historical, newest
 * first (the spec leaves historical metrics' order free, so a host must sort them itself). On a
 * STATE death it publishes its NDEATH and waits; having one broker, it has no other to walk to.
 */
import { connect, type MqttClient } from "mqtt";
import sparkplug from "sparkplug-payload";
import type { UMetric, UPayload } from "sparkplug-payload/lib/sparkplugbpayload.js";
import { spindle, tightening } from "./models.ts";

const codec = sparkplug.get("spBv1.0");
if (!codec) throw new Error("sparkplug-payload has no spBv1.0 codec");
export const spB = codec;

export const REBIRTH_METRIC = "Node Control/Rebirth";
const REBIRTH_ALIAS = 1;

type MetricType = UMetric["type"];
interface SimMetric {
  name: string;
  alias: number;
  type: MetricType;
  unit?: string;
  read(seed: number, tick: number): number;
}

/** The simulated devices and their metrics (aliases are unique across the edge node). */
export const SPARKPLUG_DEVICES: Record<string, readonly SimMetric[]> = {
  CNC1: [
    { name: "Spindle/Load", alias: 10, type: "Float", unit: "%", read: (s, t) => spindle(s, t).load },
    { name: "Spindle/Speed", alias: 11, type: "Int32", unit: "{rev}/min", read: (s, t) => spindle(s, t).speed },
  ],
  Tightening1: [
    { name: "Torque", alias: 20, type: "Double", unit: "N.m", read: (s, t) => tightening(s, t).torque },
    { name: "Angle", alias: 21, type: "Double", unit: "deg", read: (s, t) => tightening(s, t).angle },
    { name: "PartCount", alias: 22, type: "UInt32", read: (s, t) => tightening(s, t).partCount },
  ],
};

export class SimEdgeNode {
  private client: MqttClient | undefined;
  private seqNext = 0;
  private bdSeqNow = 0;
  private tick = 0;
  private time = Date.now();
  private lastSent = new Map<string, number>();
  private online = new Set(Object.keys(SPARKPLUG_DEVICES));
  private birthCount = 0;
  private rebirthCount = 0;
  private connected = false;
  private connectWaiters: (() => void)[] = [];
  /** Whether the primary host is online (always, without a primary host). */
  private hostOnline: boolean;
  /** The timestamp of the last primary host STATE seen. */
  private hostStateTime = -Infinity;
  /** Values changed while the primary host was away, per device, oldest first. */
  private stored = new Map<string, UMetric[]>();

  constructor(
    private readonly seed: number,
    private url: string,
    readonly group: string,
    readonly edgeNode: string,
    private readonly log: (text: string) => void = () => {},
    private readonly options: { primaryHostId?: string } = {},
  ) {
    this.hostOnline = options.primaryHostId === undefined;
  }

  /** Values stored for the primary host and not delivered yet. */
  get storedValues(): number {
    let n = 0;
    for (const metrics of this.stored.values()) n += metrics.length;
    return n;
  }

  /** Whether the node publishes: connected and, with a primary host, that host online. */
  get publishing(): boolean {
    return this.connected && this.hostOnline;
  }

  private get stateTopic(): string | undefined {
    return this.options.primaryHostId === undefined ? undefined : `spBv1.0/STATE/${this.options.primaryHostId}`;
  }

  /** The seq the next message will carry. */
  get nextSeq(): number {
    return this.seqNext;
  }
  get bdSeq(): number {
    return this.bdSeqNow;
  }
  /** NBIRTHs published so far. */
  get births(): number {
    return this.birthCount;
  }
  /** Rebirth commands received so far. */
  get rebirthRequests(): number {
    return this.rebirthCount;
  }
  get isConnected(): boolean {
    return this.connected;
  }

  topic(type: string, device?: string): string {
    return `spBv1.0/${this.group}/${type}/${this.edgeNode}${device ? `/${device}` : ""}`;
  }

  /** Connect and wait until the first NBIRTH went out (with a primary host: until connected). */
  async start(url = this.url): Promise<void> {
    this.url = url;
    if (this.client) return;
    const client = connect(this.url, {
      clientId: `${this.group}-${this.edgeNode}-sim`,
      clean: true,
      keepalive: 10,
      reconnectPeriod: 250,
      connectTimeout: 5_000,
      will: this.will(),
    });
    this.client = client;
    client.on("connect", () => {
      this.connected = true;
      const state = this.stateTopic;
      client.subscribe([this.topic("NCMD"), `${this.topic("DCMD")}/+`, ...(state ? [state] : [])], { qos: 0 }, (err) => {
        if (err) this.log(`sparkplug sim: subscribe failed: ${err.message}`);
      });
      // With a primary host the BIRTH waits for its STATE birth (retained, so it comes at once if the host is up).
      if (!state) this.birth();
      for (const resolve of this.connectWaiters.splice(0)) resolve();
    });
    client.on("close", () => {
      if (this.connected) {
        // The next session gets the next bdSeq, in its will and in its NBIRTH.
        this.bdSeqNow = (this.bdSeqNow + 1) % 256;
        client.options.will = this.will();
      }
      this.connected = false;
      if (this.options.primaryHostId !== undefined) this.hostOnline = false;
    });
    client.on("error", (err) => this.log(`sparkplug sim: ${err.message}`));
    client.on("message", (topic, payload) => this.onCommand(topic, payload));
    await new Promise<void>((resolve) => this.connectWaiters.push(resolve));
  }

  /** Graceful stop: NDEATH published by the node itself, then DISCONNECT. */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    if (this.connected) {
      await new Promise<void>((resolve) => client.publish(this.topic("NDEATH"), Buffer.from(this.deathPayload()), { qos: 1 }, () => resolve()));
    }
    this.connected = false;
    await client.endAsync(true);
  }

  /**
   * Drop the connection without a DISCONNECT, as a power loss would: the broker publishes the
   * NDEATH will. The node stays offline until `start()`.
   */
  async kill(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    client.options.reconnectPeriod = 0;
    client.stream.destroy();
    await client.endAsync(true);
    this.connected = false;
  }

  /** Advance to `tick` (stamped `time`) and publish what changed as DDATA. */
  update(tick: number, time: number): void {
    this.tick = tick;
    this.time = time;
    const storing = this.options.primaryHostId !== undefined && !this.publishing;
    if (!this.connected && !storing) return;
    for (const [device, metrics] of Object.entries(SPARKPLUG_DEVICES)) {
      if (!this.online.has(device)) continue;
      const changed: UMetric[] = [];
      for (const m of metrics) {
        const value = m.read(this.seed, tick);
        const key = `${device}/${m.name}`;
        if (this.lastSent.get(key) === value) continue;
        this.lastSent.set(key, value);
        changed.push({ alias: m.alias, type: m.type, value, timestamp: time });
      }
      if (!changed.length) continue;
      if (storing) this.stored.set(device, [...(this.stored.get(device) ?? []), ...changed]);
      else this.send("DDATA", device, { timestamp: time, metrics: changed });
    }
  }

  /** Deliver what was stored while the primary host was away: is_historical, newest first. */
  private forward(): void {
    for (const [device, metrics] of this.stored) {
      if (!this.online.has(device)) continue;
      const historical = metrics.map((m) => ({ ...m, isHistorical: true })).reverse();
      this.send("DDATA", device, { timestamp: this.time, metrics: historical });
      this.stored.delete(device);
    }
  }

  private onState(payload: Buffer): void {
    let state: { online?: unknown; timestamp?: unknown };
    try {
      state = JSON.parse(payload.toString("utf8")) as typeof state;
    } catch {
      this.log("sparkplug sim: undecodable STATE");
      return;
    }
    if (typeof state.online !== "boolean" || typeof state.timestamp !== "number" || state.timestamp < this.hostStateTime) return;
    this.hostStateTime = state.timestamp;
    if (state.online && !this.hostOnline) {
      this.hostOnline = true;
      this.birth();
      this.forward();
    } else if (!state.online && this.hostOnline) {
      this.client?.publish(this.topic("NDEATH"), Buffer.from(this.deathPayload()), { qos: 1 });
      this.hostOnline = false;
    }
  }

  /**
   * Take the next seq for a message published from outside (a test injecting a crafted
   * message), so the node's own next message does not repeat it.
   */
  reserveSeq(): number {
    const seq = this.seqNext;
    this.seqNext = (this.seqNext + 1) % 256;
    return seq;
  }

  /** Skip `n` seq values, as if `n` messages had been lost on the way. */
  skipSeq(n: number): void {
    this.seqNext = (this.seqNext + n) % 256;
  }

  /**
   * Publish a crafted message on the node's own connection, so it reaches subscribers in order
   * with the node's messages (messages from different connections may be reordered).
   */
  async publishRaw(topic: string, payload: Uint8Array): Promise<void> {
    if (!this.client || !this.connected) throw new Error("the simulated edge node is not connected");
    await this.client.publishAsync(topic, Buffer.from(payload), { qos: 0 });
  }

  /** Publish DDEATH for `device` and stop publishing its data. */
  deviceDeath(device: string): void {
    if (!this.online.delete(device)) return;
    this.send("DDEATH", device, { timestamp: this.time });
  }

  /** Bring `device` back with a DBIRTH. */
  deviceBirth(device: string): void {
    this.online.add(device);
    this.deviceBirthMessage(device);
  }

  private birth(): void {
    this.seqNext = 0;
    this.birthCount++;
    this.send("NBIRTH", undefined, {
      timestamp: this.time,
      metrics: [
        { name: "bdSeq", type: "Int64", value: this.bdSeqNow },
        { name: REBIRTH_METRIC, alias: REBIRTH_ALIAS, type: "Boolean", value: false },
      ],
    });
    for (const device of Object.keys(SPARKPLUG_DEVICES)) {
      if (this.online.has(device)) this.deviceBirthMessage(device);
    }
  }

  private deviceBirthMessage(device: string): void {
    const metrics = SPARKPLUG_DEVICES[device];
    if (!metrics) throw new Error(`unknown simulated device ${device}`);
    this.send("DBIRTH", device, {
      timestamp: this.time,
      metrics: metrics.map((m) => {
        const value = m.read(this.seed, this.tick);
        this.lastSent.set(`${device}/${m.name}`, value);
        return {
          name: m.name,
          alias: m.alias,
          type: m.type,
          value,
          timestamp: this.time,
          ...(m.unit ? { properties: { engUnit: { type: "String", value: m.unit } } } : {}),
        };
      }),
    });
  }

  private send(type: string, device: string | undefined, payload: UPayload): void {
    const client = this.client;
    if (!client || !this.connected || (!this.hostOnline && type !== "NDEATH")) return;
    const seq = this.seqNext;
    this.seqNext = (this.seqNext + 1) % 256;
    client.publish(this.topic(type, device), Buffer.from(spB.encodePayload({ ...payload, seq })), { qos: 0 });
  }

  private will() {
    return { topic: this.topic("NDEATH"), payload: Buffer.from(this.deathPayload()), qos: 1 as const, retain: false };
  }

  private deathPayload(): Uint8Array {
    return spB.encodePayload({ timestamp: Date.now(), metrics: [{ name: "bdSeq", type: "Int64", value: this.bdSeqNow }] });
  }

  private onCommand(topic: string, payload: Buffer): void {
    if (topic === this.stateTopic) return this.onState(payload);
    if (topic !== this.topic("NCMD")) return;
    let decoded: UPayload;
    try {
      decoded = spB.decodePayload(payload);
    } catch {
      this.log("sparkplug sim: undecodable NCMD");
      return;
    }
    const rebirth = decoded.metrics?.some(
      (m) => (m.name === REBIRTH_METRIC || Number(m.alias) === REBIRTH_ALIAS) && m.value === true,
    );
    if (rebirth && this.hostOnline) {
      this.rebirthCount++;
      this.birth();
    }
  }
}
