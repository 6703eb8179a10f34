/**
 * OPC UA adapter: one client session with one subscription monitoring the configured node ids.
 *
 * Each DataValue becomes a Reading: sourceTime from the sourceTimestamp, else the
 * serverTimestamp, else the receive time (and `timeSource` says which); quality from the status
 * code's severity bits; a Bad status is recorded with value null, never with the value that may
 * travel along with it. The server's queue overflow bit is counted as a gap.
 *
 * Reconnection is node-opcua's own: exponential, capped, jittered back-off (connectionStrategy)
 * with session reactivation and subscription transfer, so a short network break loses nothing
 * that the server still had queued; a server restart gets a new session and the subscription
 * recreated. If that machinery gives up, the adapter starts over with a fresh client.
 *
 * Security: with `pkiFolder` the client keeps its certificate there (created on first start)
 * and trusts only the servers whose certificates an operator put in trusted/certs/; an unknown
 * server certificate is refused, filed in rejected/, and the status says which one and the
 * command that trusts it (opcua-trust.ts). Without it, node-opcua's default store would accept
 * any server certificate, so a secured mode requires it (config.ts). A refused user login, or a
 * server that does not (yet) trust our certificate, is said in plain words too.
 *
 * Back-pressure: notifications cannot be refused one by one, so when the readings waiting for
 * the sink reach the high-water mark the adapter turns the subscription's publishing off; the
 * server keeps sampling into the monitored items' queues (and sets the overflow bit if they
 * overflow) until the sink has caught up and publishing is turned back on.
 */
import {
  AttributeIds,
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  UserTokenType,
  VariantArrayType,
  type ClientMonitoredItemGroup,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  type UserIdentityInfo,
  type Variant,
} from "node-opcua";
import { statSync } from "node:fs";
import path from "node:path";
import type { Quality, Reading } from "../../lib/reading.ts";
import type { AdapterContext } from "./adapter.ts";
import { AdapterBase, message } from "./base.ts";
import { sleep, withTimeout } from "../../lib/retry.ts";
import type { OpcUaDeviceConfig, OpcUaNodeConfig } from "./config.ts";
import { float32Decimal } from "./values.ts";
import { listCertificates, pkiPaths, trustCommand } from "./opcua-trust.ts";

const CLOSE_TIMEOUT_MS = 2_000;

const mtime = (file: string) => statSync(file).mtimeMs;

export class OpcUaAdapter extends AdapterBase {
  private client: OPCUAClient | undefined;
  private session: ClientSession | undefined;
  private subscription: ClientSubscription | undefined;
  private groups: ClientMonitoredItemGroup[] = [];
  private loop: Promise<void> | undefined;
  private certificates: OPCUACertificateManager | undefined;
  /** The last connect failure logged, so that retries of the same one are not. */
  private lastTrouble: string | undefined;

  constructor(
    private readonly config: OpcUaDeviceConfig,
    ctx: AdapterContext,
  ) {
    super(config.device, ctx, config);
  }

  protected async open(signal: AbortSignal): Promise<void> {
    this.paused = false;
    let settle!: () => void;
    const firstAttempt = new Promise<void>((resolve) => (settle = resolve));
    this.loop = this.run(signal, settle);
    await firstAttempt;
  }

  protected async close(): Promise<void> {
    await this.teardown();
    await this.loop;
  }

  /** Connect (retrying until it works or the adapter stops), then let node-opcua keep it up. */
  private async run(signal: AbortSignal, settle: () => void): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.connectOnce(signal, settle);
        settle();
        this.backoff.reset();
        this.lastTrouble = undefined;
        // Wait here until the session is lost for good (or stop), then start over.
        await new Promise<void>((resolve) => {
          if (signal.aborted || this.lost) return resolve();
          const done = () => {
            signal.removeEventListener("abort", done);
            this.restart = undefined;
            resolve();
          };
          this.restart = done;
          signal.addEventListener("abort", done, { once: true });
        });
      } catch (error) {
        if (signal.aborted) break;
        const delay = this.backoff.next();
        const why = this.explain(error);
        // Once per kind of trouble: a refused certificate is retried for as long as it takes an operator.
        if (why !== this.lastTrouble) this.log(why);
        this.lastTrouble = why;
        this.setState("disconnected", `${why}; retrying in ${delay} ms`);
        settle();
        await this.teardown();
        await sleep(delay, signal);
        continue;
      }
      if (signal.aborted) break;
      await this.teardown();
      const delay = this.backoff.next();
      this.setState("disconnected", `session lost; reconnecting in ${delay} ms`);
      await sleep(delay, signal);
    }
    settle();
  }

  private restart: (() => void) | undefined;
  /** Set when the session is lost for good, even before `run` waits on `restart`. */
  private lost = false;

  private sessionLost(signal: AbortSignal): void {
    if (signal.aborted) return;
    this.lost = true;
    this.restart?.();
  }

  private async connectOnce(signal: AbortSignal, settle: () => void): Promise<void> {
    this.lost = false;
    const c = this.config;
    const reconnect = { initialDelayMs: 500, maxDelayMs: 30_000, jitter: 0.2, ...c.reconnect };
    if (c.pkiFolder !== undefined) {
      // A fresh store per attempt reads the folder as it is now, so a certificate an operator
      // just trusted counts at the next attempt.
      this.certificates = new OPCUACertificateManager({ rootFolder: c.pkiFolder, automaticallyAcceptUnknownCertificate: false });
      await this.certificates.initialize();
    }
    const client = OPCUAClient.create({
      clientName: `tracemesh-${c.device}`,
      // The application URI in the client's certificate derives from this name: one for every device sharing a PKI folder.
      applicationName: "Tracemesh",
      endpointMustExist: false,
      ...(this.certificates ? { clientCertificateManager: this.certificates } : {}),
      securityMode: MessageSecurityMode[c.securityMode ?? "None"],
      securityPolicy: SecurityPolicy[c.securityPolicy ?? "None"],
      ...(c.certificateFile ? { certificateFile: c.certificateFile, privateKeyFile: c.privateKeyFile } : {}),
      keepSessionAlive: true,
      requestedSessionTimeout: 60_000,
      connectionStrategy: {
        maxRetry: -1,
        initialDelay: reconnect.initialDelayMs,
        maxDelay: reconnect.maxDelayMs,
        randomisationFactor: reconnect.jitter,
      },
    });
    this.client = client;
    client.on("backoff", (count, delay) => {
      this.setState("disconnected", `connect attempt ${count + 1} failed; retrying in ${delay} ms`);
      settle();
    });
    client.on("connection_lost", () => this.setState("disconnected", "connection lost; reconnecting"));
    client.on("reconnection_attempt_has_failed", (_err, text) => this.log(`reconnection attempt failed: ${text}`));
    client.on("connection_reestablished", () => {
      this.setState("connected", this.monitorProblems());
      if (this.paused) void this.setPublishing(false);
    });
    client.on("close", (err) => {
      // node-opcua gave up repairing the connection: start over with a fresh client.
      if (err) this.sessionLost(signal);
    });

    await client.connect(c.endpoint);
    if (signal.aborted) return;
    // The server certificate check happens only here for the secured modes; with maxRetry -1
    // node-opcua would retry an untrusted server for ever, so its backoff event above reports it.
    const identity: UserIdentityInfo =
      c.userName !== undefined
        ? { type: UserTokenType.UserName, userName: c.userName, password: c.password ?? "" }
        : { type: UserTokenType.Anonymous };
    const session = await client.createSession(identity);
    this.session = session;
    session.on("session_closed", () => this.sessionLost(signal));
    const publishingInterval = c.publishingIntervalMs ?? 1000;
    const highWater = this.queue.highWater;
    const subscription = await session.createSubscription2({
      requestedPublishingInterval: publishingInterval,
      requestedLifetimeCount: 100,
      requestedMaxKeepAliveCount: 10,
      // Small publish responses keep the overshoot after a pause request small.
      maxNotificationsPerPublish: Math.max(10, Math.floor(highWater / 4)),
      publishingEnabled: true,
      priority: 10,
    });
    this.subscription = subscription;
    subscription.on("terminated", () => this.sessionLost(signal));

    // One monitored-item group per sampling interval (they share monitoring parameters).
    const bySampling = new Map<number, OpcUaNodeConfig[]>();
    for (const node of c.nodes) {
      const interval = node.samplingIntervalMs ?? c.samplingIntervalMs ?? 500;
      bySampling.set(interval, [...(bySampling.get(interval) ?? []), node]);
    }
    this.groups = [];
    for (const [samplingInterval, nodes] of bySampling) {
      const group = await subscription.monitorItems(
        nodes.map((n) => ({ nodeId: n.nodeId, attributeId: AttributeIds.Value })),
        { samplingInterval, queueSize: c.queueSize ?? 50, discardOldest: true },
        TimestampsToReturn.Both,
      );
      group.on("changed", (_item, dataValue, index) => {
        const node = nodes[index];
        if (node) this.onValue(node, dataValue);
      });
      this.groups.push(group);
    }
    this.setState("connected", this.monitorProblems());
  }

  /** Node ids the server refused to monitor (e.g. BadNodeIdUnknown), for the status detail. */
  private monitorProblems(): string | undefined {
    const bad: string[] = [];
    for (const group of this.groups) {
      for (const item of group.monitoredItems) {
        if (item.statusCode && !item.statusCode.isGood()) bad.push(`${item.itemToMonitor.nodeId.toString()}: ${item.statusCode.name}`);
      }
    }
    return bad.length ? `not monitored: ${bad.join(", ")}` : undefined;
  }

  private onValue(node: OpcUaNodeConfig, dataValue: DataValue): void {
    if (this.stopped) return;
    if (dataValue.statusCode.hasOverflowBit) this.addGaps(1, `server queue overflowed for ${node.nodeId}`);
    this.queue.push([dataValueToReading(dataValue, node, Date.now())]);
  }

  private paused = false;

  protected override onPressure(high: boolean): void {
    this.paused = high;
    void this.setPublishing(!high);
  }

  private async setPublishing(enabled: boolean): Promise<void> {
    const sub = this.subscription;
    if (!sub || this.stopped) return;
    try {
      await sub.setPublishingMode(enabled);
      this.log(enabled ? "sink caught up: publishing resumed" : "sink is slow: publishing paused");
    } catch (error) {
      this.log(`setPublishingMode(${enabled}) failed: ${message(error)}`);
    }
  }

  /** A connect or session failure in words an operator can act on. */
  private explain(error: unknown): string {
    const text = message(error);
    const c = this.config;
    if (/BadCertificateUntrusted|Certificate verification failed/i.test(text) && c.pkiFolder !== undefined) {
      const { rejected } = pkiPaths(c.pkiFolder);
      const newest = listCertificates(rejected).sort((a, b) => mtime(b.file) - mtime(a.file))[0];
      if (newest) {
        return `the server's certificate is not trusted (${newest.subject}, thumbprint ${newest.thumbprint}); it was put in ${rejected}; trust it with: ${trustCommand(c.pkiFolder, newest.thumbprint)}`;
      }
      return `the server's certificate is not trusted (${text}); see ${rejected}`;
    }
    if (/End ?point must exist|Cannot find an Endpoint matching/i.test(text)) {
      return `the server offers no endpoint with securityMode ${c.securityMode ?? "None"} and securityPolicy ${c.securityPolicy ?? "None"}: configure one it offers (e.g. SignAndEncrypt with Basic256Sha256)`;
    }
    if (/Cannot find ANONYMOUS user token policy/i.test(text)) return "the server refuses an anonymous session (no anonymous user token policy on its endpoint): configure userName and password";
    if (/BadUserAccessDenied|BadIdentityTokenRejected|BadIdentityTokenInvalid|BadUserSignatureInvalid/.test(text)) {
      const code = /Bad[A-Za-z]+/.exec(text)?.[0] ?? text;
      return c.userName === undefined
        ? `the server refuses an anonymous session (${code}): configure userName and password`
        : `the server refused the login of user "${c.userName}" (${code}): check userName and password`;
    }
    if (/BadSecurityChecksFailed|BadCertificate/.test(text) && c.pkiFolder !== undefined && c.securityMode !== undefined && c.securityMode !== "None") {
      const own = c.certificateFile ?? pkiPaths(c.pkiFolder).ownCertificate;
      const thumbprint = listCertificates(path.dirname(own)).find((x) => path.resolve(x.file) === path.resolve(own))?.thumbprint;
      return `the server refused the secure channel (${text}): it may not trust this client's certificate ${own}${thumbprint ? ` (thumbprint ${thumbprint})` : ""}; its operator must add it to the server's trusted certificates`;
    }
    return text;
  }

  private async teardown(): Promise<void> {
    const { client, session, certificates } = this;
    this.certificates = undefined;
    this.client = undefined;
    this.session = undefined;
    this.subscription = undefined;
    this.groups = [];
    if (session) await withTimeout(session.close(true).catch(() => {}), CLOSE_TIMEOUT_MS);
    if (client) {
      await withTimeout(client.disconnect().catch(() => {}), CLOSE_TIMEOUT_MS);
      client.removeAllListeners();
    }
    if (certificates) await withTimeout(certificates.dispose().catch(() => {}), CLOSE_TIMEOUT_MS);
  }
}

/**
 * One DataValue as a Reading. Exported for tests and for anyone reading OPC UA values outside
 * a subscription (e.g. a one-off Read).
 */
export function dataValueToReading(dv: DataValue, node: Pick<OpcUaNodeConfig, "stream" | "metric" | "unit">, receivedAt: number): Reading {
  const statusCode = dv.statusCode.value >>> 0;
  let quality = qualityOf(statusCode);
  let value: Reading["value"] = null;
  if (quality !== "bad") {
    value = variantValue(dv.value);
    if (typeof value === "number" && !Number.isFinite(value)) {
      // NaN and infinities are not measurements and have no canonical JSON form.
      value = null;
      quality = "bad";
    }
  }
  const reading: Reading = { stream: node.stream, metric: node.metric, value, sourceTime: receivedAt, quality, statusCode };
  if (node.unit !== undefined) reading.unit = node.unit;
  if (dv.sourceTimestamp) {
    reading.sourceTime = dv.sourceTimestamp.getTime();
  } else if (dv.serverTimestamp) {
    reading.sourceTime = dv.serverTimestamp.getTime();
    reading.timeSource = "server";
  } else {
    reading.timeSource = "receive";
  }
  return reading;
}

/** The two severity bits of a StatusCode: 00 Good, 01 Uncertain, 10 Bad (11 reserved: Bad). */
export function qualityOf(statusCode: number): Quality {
  const severity = statusCode >>> 30;
  return severity === 0 ? "good" : severity === 1 ? "uncertain" : "bad";
}

function variantValue(v: Variant | null | undefined): Reading["value"] {
  if (!v || v.dataType === DataType.Null || v.value === null || v.value === undefined) return null;
  if (v.arrayType !== VariantArrayType.Scalar) return JSON.stringify(Array.from(v.value as ArrayLike<unknown>, scalarJson));
  return scalar(v.dataType, v.value);
}

function scalar(dataType: DataType, value: unknown): Reading["value"] {
  switch (dataType) {
    case DataType.Boolean:
      return Boolean(value);
    case DataType.SByte:
    case DataType.Byte:
    case DataType.Int16:
    case DataType.UInt16:
    case DataType.Int32:
    case DataType.UInt32:
    case DataType.Double:
      return value as number;
    case DataType.Float:
      return float32Decimal(value as number);
    case DataType.Int64:
    case DataType.UInt64: {
      // node-opcua carries 64-bit integers as [high, low] 32-bit words.
      const [hi, lo] = value as [number, number];
      const big = dataType === DataType.Int64 ? BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0)) : (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
      return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big.toString();
    }
    case DataType.String:
      return String(value);
    case DataType.DateTime:
      return value instanceof Date ? value.toISOString() : String(value);
    case DataType.LocalizedText:
      return (value as { text?: string | null }).text ?? null;
    case DataType.QualifiedName:
      return (value as { name?: string | null }).name ?? null;
    case DataType.ByteString:
      return Buffer.isBuffer(value) ? value.toString("base64") : String(value);
    case DataType.StatusCode:
      return (value as { value: number }).value;
    default:
      return JSON.stringify(scalarJson(value));
  }
}

function scalarJson(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString("base64");
  if (typeof value === "object" && value !== null && "toJSON" in value && typeof value.toJSON === "function") return value.toJSON();
  if (typeof value === "object" && value !== null && "toString" in value && value.constructor !== Object) return String(value);
  return value;
}
