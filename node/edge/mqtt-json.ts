/**
 * Plain MQTT with JSON payloads: each configured topic is one stream, each message one reading,
 * payload `{ "value": ..., "ts": ..., "unit"?: ..., "quality"?: ... }`.
 *
 * - `value`: number, boolean, string or null (null is a bad reading);
 * - `ts`: Unix ms, or an ISO 8601 string; without it the receive time is used (timeSource
 *   "receive");
 * - `unit`: overrides the topic's configured unit;
 * - `quality`: "good" (default), "uncertain" or "bad"; a bad reading is kept with value null.
 *
 * A message that is not such an object is logged and counted as a gap: a reading was sent and
 * cannot be recorded.
 *
 * The session is persistent (clean=false) and subscribed at QoS 1, and a QoS 1 message is
 * acknowledged (PUBACK) only after its reading is durable: a broker that holds messages while
 * the node is down or restarting delivers them afterwards, and nothing acknowledged is lost.
 */
import type { Quality, Reading } from "../../lib/reading.ts";
import type { AdapterContext } from "./adapter.ts";
import { AdapterBase } from "./base.ts";
import type { MqttJsonDeviceConfig, MqttJsonTopicConfig } from "./config.ts";
import { MqttLink } from "./mqtt.ts";

const QUALITIES: readonly Quality[] = ["good", "uncertain", "bad"];

export class MqttJsonAdapter extends AdapterBase {
  private link: MqttLink | undefined;
  private readonly topics: Map<string, MqttJsonTopicConfig>;

  constructor(
    private readonly config: MqttJsonDeviceConfig,
    ctx: AdapterContext,
  ) {
    super(config.device, ctx, config);
    this.topics = new Map(config.topics.map((t) => [t.topic, t]));
  }

  protected async open(signal: AbortSignal): Promise<void> {
    this.link = new MqttLink({
      config: this.config,
      defaultClientId: `tracemesh-${this.config.device}`,
      persistentSession: true,
      subscriptions: [...this.topics.keys()],
      backoff: this.backoff,
      signal,
      onMessage: (topic, payload, qos) => this.onMessage(topic, payload, qos),
      onState: (state, detail) => this.setState(state, detail),
      log: (text) => this.log(text),
    });
    await this.link.start();
  }

  protected async close(): Promise<void> {
    await this.link?.close();
    this.link = undefined;
  }

  private async onMessage(topic: string, payload: Buffer, qos: number): Promise<void> {
    const config = this.topics.get(topic);
    if (!config) return;
    const parsed = parseJsonReading(payload, config, Date.now());
    if (typeof parsed === "string") {
      this.addGaps(1, `message on ${topic} not recorded: ${parsed}`);
      return;
    }
    await this.deliver([parsed], qos > 0);
  }
}

/** One JSON message as a Reading, or a string saying why it is not one. */
export function parseJsonReading(payload: Buffer, topic: MqttJsonTopicConfig, receivedAt: number): Reading | string {
  let body: unknown;
  try {
    body = JSON.parse(payload.toString("utf8"));
  } catch {
    return "payload is not JSON";
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "payload is not a JSON object";
  const o = body as Record<string, unknown>;
  if (!("value" in o)) return 'no "value"';
  const v = o.value;
  if (v !== null && typeof v !== "number" && typeof v !== "boolean" && typeof v !== "string") return '"value" must be a number, boolean, string or null';
  let quality: Quality = "good";
  if (o.quality !== undefined) {
    if (typeof o.quality !== "string" || !QUALITIES.includes(o.quality as Quality)) return '"quality" must be "good", "uncertain" or "bad"';
    quality = o.quality as Quality;
  }
  let value: Reading["value"] = v;
  if (typeof value === "number" && !Number.isFinite(value)) value = null;
  if (value === null) quality = "bad";
  if (quality === "bad") value = null;
  const reading: Reading = { stream: topic.stream, metric: topic.metric, value, sourceTime: receivedAt, quality };
  if (o.ts === undefined || o.ts === null) reading.timeSource = "receive";
  else {
    const t = typeof o.ts === "number" ? o.ts : typeof o.ts === "string" ? Date.parse(o.ts) : NaN;
    if (!Number.isFinite(t) || t < 0) return '"ts" must be Unix ms or an ISO 8601 time';
    reading.sourceTime = Math.round(t);
  }
  const unit = typeof o.unit === "string" && o.unit !== "" ? o.unit : topic.unit;
  if (unit !== undefined) reading.unit = unit;
  return reading;
}
