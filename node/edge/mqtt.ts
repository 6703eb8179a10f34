/**
 * One MQTT connection (mqtt.js) for the Sparkplug and JSON adapters, with the adapters' own
 * reconnect policy: mqtt.js's fixed-period reconnect is off, each loss is followed by a capped,
 * jittered exponential back-off and a fresh client, and the subscriptions are made again.
 *
 * Back-pressure: mqtt.js hands incoming PUBLISH packets to `handleMessage` one at a time and
 * reads no further packet from the socket until its callback runs. The adapters' handler
 * resolves only when the reading buffer has room (or, for QoS 1, once the readings are
 * durable, so the PUBACK is the durability acknowledgement), so a slow sink slows the socket,
 * then the broker, instead of growing memory here.
 */
import { readFileSync } from "node:fs";
import { connect, type IClientOptions, type MqttClient } from "mqtt";
import { type Backoff, sleep, withTimeout } from "../../lib/retry.ts";
import { message } from "./base.ts";
import type { MqttConnectionConfig } from "./config.ts";

/** A connection that stayed up this long resets the back-off. */
const STABLE_MS = 10_000;

export interface MqttLinkOptions {
  config: MqttConnectionConfig;
  defaultClientId: string;
  /** Persistent session (clean=false): the broker keeps QoS 1 messages while we are away. */
  persistentSession: boolean;
  subscriptions: string[];
  backoff: Backoff;
  signal: AbortSignal;
  /** Awaited before the next message is read (and, for QoS 1, before it is acknowledged). */
  onMessage(topic: string, payload: Buffer, qos: number): Promise<void>;
  onState(state: "connected" | "disconnected", detail?: string): void;
  /** Called after every (re)connect, once subscribed. */
  onConnected?(): void;
  /** The MQTT will of the next connection (asked at every connect). */
  will?(): { topic: string; payload: Buffer; qos: 0 | 1; retain: boolean };
  log(text: string): void;
}

export class MqttLink {
  private client: MqttClient | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: MqttLinkOptions) {}

  /** Start connecting; resolves once the first attempt has settled (connected or failed). */
  async start(): Promise<void> {
    let settle!: () => void;
    const first = new Promise<void>((resolve) => (settle = resolve));
    this.loop = this.run(settle);
    await first;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Publish if connected; false when there is no connection to publish on. */
  async publish(topic: string, payload: Buffer, qos: 0 | 1 = 0, retain = false): Promise<boolean> {
    const client = this.client;
    if (!client?.connected) return false;
    try {
      await client.publishAsync(topic, payload, { qos, retain });
      return true;
    } catch (error) {
      this.o.log(`publish to ${topic} failed: ${message(error)}`);
      return false;
    }
  }

  /**
   * End the connection with a DISCONNECT, so the broker drops the will (what a clean stop that
   * published its own last message wants); no reconnect follows. Falls back to closing the
   * socket if the broker does not answer in time.
   */
  async endGracefully(): Promise<void> {
    const client = this.client;
    this.ending = true;
    if (!client) return;
    let ended = false;
    await withTimeout(client.endAsync(false).then(() => (ended = true), () => {}), 2_000);
    if (!ended) await client.endAsync(true).catch(() => {});
  }

  private ending = false;

  /** Close the connection (the signal must be aborted first so no reconnect follows). */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    // A message handler still waiting on the sink must not hold the shutdown forever.
    if (client) await withTimeout(client.endAsync(true).catch(() => {}), 2_000);
    await this.loop;
  }

  private options(): IClientOptions {
    const c = this.o.config;
    const opts: IClientOptions = {
      clientId: c.clientId ?? this.o.defaultClientId,
      clean: !this.o.persistentSession,
      keepalive: c.keepaliveSeconds ?? 30,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      resubscribe: false,
    };
    const will = this.o.will?.();
    if (will) opts.will = will;
    if (c.username !== undefined) opts.username = c.username;
    if (c.password !== undefined) opts.password = c.password;
    if (c.tls) {
      if (c.tls.caFile) opts.ca = readFileSync(c.tls.caFile);
      if (c.tls.certFile) opts.cert = readFileSync(c.tls.certFile);
      if (c.tls.keyFile) opts.key = readFileSync(c.tls.keyFile);
      if (c.tls.rejectUnauthorized !== undefined) opts.rejectUnauthorized = c.tls.rejectUnauthorized;
    }
    return opts;
  }

  private async run(settle: () => void): Promise<void> {
    const { signal } = this.o;
    while (!signal.aborted) {
      let connectedAt: number | undefined;
      let detail: string;
      let client: MqttClient | undefined;
      const aborted = untilAbort(signal);
      try {
        client = connect(this.o.config.url, this.options());
        this.client = client;
        const c = client;
        let lastError: Error | undefined;
        c.on("error", (err) => {
          lastError = err;
        });
        c.handleMessage = (packet, done) => {
          const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
          this.o.onMessage(packet.topic, payload, packet.qos).then(
            () => done(),
            (err: unknown) => {
              this.o.log(`message on ${packet.topic}: ${message(err)}`);
              done();
            },
          );
        };
        const closed = new Promise<void>((resolve) => c.once("close", () => resolve()));
        const opened = await Promise.race([
          new Promise<boolean>((resolve) => c.once("connect", () => resolve(true))),
          closed.then(() => false),
          aborted.promise,
        ]);
        if (opened && !signal.aborted) {
          const granted = await c.subscribeAsync(this.o.subscriptions, { qos: 1 });
          const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
          if (refused.length) this.o.log(`broker refused subscriptions: ${refused.join(", ")}`);
          connectedAt = Date.now();
          this.o.onState("connected", refused.length ? `subscriptions refused: ${refused.join(", ")}` : undefined);
          this.o.onConnected?.();
          settle();
          await Promise.race([closed, aborted.promise]);
          detail = `connection lost${lastError ? `: ${lastError.message}` : ""}`;
        } else {
          detail = lastError ? lastError.message : "connection closed before CONNACK";
        }
      } catch (error) {
        detail = message(error);
      } finally {
        aborted.dispose();
      }
      if (client) {
        if (this.client === client) this.client = undefined;
        await withTimeout(client.endAsync(true).catch(() => {}), 2_000);
        client.removeAllListeners();
      }
      if (signal.aborted || this.ending) break;
      if (connectedAt !== undefined && Date.now() - connectedAt >= STABLE_MS) this.o.backoff.reset();
      const delay = this.o.backoff.next();
      this.o.onState("disconnected", `${detail}; retrying in ${delay} ms`);
      settle();
      await sleep(delay, signal);
    }
    settle();
  }
}

/** A promise that resolves (with false) when `signal` aborts; `dispose` drops the listener. */
export function untilAbort(signal: AbortSignal): { promise: Promise<false>; dispose(): void } {
  let onAbort = () => {};
  const promise = new Promise<false>((resolve) => {
    onAbort = () => resolve(false);
    if (signal.aborted) resolve(false);
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
}
