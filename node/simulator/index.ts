/**
 * The device simulator: a real OPC UA server (furnace), a Sparkplug B edge node on an MQTT
 * broker (CNC spindle, tightening station) and a Modbus TCP server (coolant skid), all on
 * 127.0.0.1, driven by one simulation clock. Values are pure functions of (seed, tick) (see
 * models.ts) and tick k is stamped `startTime + k * tickMs`, so a test can recompute exactly
 * what any reading should be. With `manual: true` nothing moves until `step()`.
 *
 * The OPC UA server loads node-opcua (a few seconds); it is imported only when enabled.
 */
import { SimBroker } from "./broker.ts";
import { SimModbusServer } from "./modbus.ts";
import type { SimOpcUaServer } from "./opcua.ts";
import { SimEdgeNode } from "./sparkplug.ts";

export interface SimulatorOptions {
  /** Default 1. */
  seed?: number;
  /** Simulation step, ms; default 1000. */
  tickMs?: number;
  /** No timer: the clock advances only on `step()`. */
  manual?: boolean;
  /** Time of tick 0, Unix ms; default now, rounded down to a whole tick. */
  startTime?: number;
  /** false to leave out; port 0 (default) picks a free port. */
  opcua?: false | { port?: number };
  /** false to leave out; without `url` an in-process aedes broker is started on `port`. */
  /** primaryHostId: the edge node waits for that Sparkplug primary host and stores data while it is away. */
  mqtt?: false | { port?: number; url?: string; group?: string; edgeNode?: string; primaryHostId?: string };
  modbus?: false | { port?: number };
  log?: (text: string) => void;
}

export type ServerKind = "opcua" | "mqtt" | "modbus";

export interface SimulatorEndpoints {
  opcua?: string;
  mqtt?: string;
  modbus?: { host: string; port: number };
  sparkplug?: { group: string; edgeNode: string; devices: string[] };
}

export interface Simulator {
  readonly seed: number;
  readonly tickMs: number;
  readonly startTime: number;
  readonly endpoints: SimulatorEndpoints;
  /** The last tick published. */
  readonly tick: number;
  /** The simulation time of `tick`, Unix ms. */
  timeOf(tick: number): number;
  /** Advance the clock by `n` ticks, publishing each. */
  step(n?: number): Promise<void>;
  /** Stop one server (dropping its clients); `startServer` brings it back on the same port. */
  stopServer(kind: ServerKind): Promise<void>;
  startServer(kind: ServerKind): Promise<void>;
  readonly opcua: SimOpcUaServer | undefined;
  readonly sparkplug: SimEdgeNode | undefined;
  readonly broker: SimBroker | undefined;
  readonly modbus: SimModbusServer | undefined;
  stop(): Promise<void>;
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const seed = opts.seed ?? 1;
  const tickMs = opts.tickMs ?? 1000;
  if (!(tickMs > 0)) throw new Error(`tickMs must be positive (got ${tickMs})`);
  const startTime = opts.startTime ?? Math.floor(Date.now() / tickMs) * tickMs;
  const log = opts.log ?? (() => {});
  const timeOf = (tick: number) => startTime + tick * tickMs;
  let tick = 0;

  let opcua: SimOpcUaServer | undefined;
  let broker: SimBroker | undefined;
  let sparkplug: SimEdgeNode | undefined;
  let modbus: SimModbusServer | undefined;
  let timer: NodeJS.Timeout | undefined;
  const endpoints: SimulatorEndpoints = {};

  const publish = () => {
    const time = timeOf(tick);
    opcua?.update(tick, time);
    sparkplug?.update(tick, time);
    modbus?.update(tick);
  };

  const stopAll = async () => {
    if (timer) clearInterval(timer);
    timer = undefined;
    await Promise.allSettled([sparkplug?.stop(), opcua?.stop(), modbus?.stop()]);
    await broker?.stop();
  };

  try {
    if (opts.modbus !== false) {
      modbus = new SimModbusServer(seed, opts.modbus?.port ?? 0);
      modbus.update(0);
      await modbus.start();
      endpoints.modbus = { host: "127.0.0.1", port: modbus.port };
    }
    if (opts.mqtt !== false) {
      let url = opts.mqtt?.url;
      if (!url) {
        broker = new SimBroker(opts.mqtt?.port ?? 0);
        await broker.start();
        url = broker.url;
      }
      const group = opts.mqtt?.group ?? "Tracemesh";
      const edgeNode = opts.mqtt?.edgeNode ?? "Machining1";
      const primaryHostId = opts.mqtt?.primaryHostId;
      sparkplug = new SimEdgeNode(seed, url, group, edgeNode, log, primaryHostId === undefined ? {} : { primaryHostId });
      sparkplug.update(0, timeOf(0));
      await sparkplug.start();
      endpoints.mqtt = url;
      endpoints.sparkplug = { group, edgeNode, devices: ["CNC1", "Tightening1"] };
    }
    if (opts.opcua !== false) {
      const { SimOpcUaServer } = await import("./opcua.ts");
      opcua = new SimOpcUaServer(seed, opts.opcua?.port ?? 0);
      opcua.update(0, timeOf(0));
      await opcua.start();
      endpoints.opcua = opcua.endpoint;
    }
  } catch (error) {
    await stopAll();
    throw error;
  }

  if (!opts.manual) {
    timer = setInterval(() => {
      tick++;
      publish();
    }, tickMs);
  }

  const server = (kind: ServerKind) => {
    const s = kind === "opcua" ? opcua : kind === "mqtt" ? broker : modbus;
    if (!s) throw new Error(`the simulator runs no ${kind} server${kind === "mqtt" ? " of its own" : ""}`);
    return s;
  };

  return {
    seed,
    tickMs,
    startTime,
    endpoints,
    get tick() {
      return tick;
    },
    timeOf,
    async step(n = 1) {
      for (let i = 0; i < n; i++) {
        tick++;
        publish();
      }
      // Let the MQTT client flush what was published.
      await new Promise((resolve) => setImmediate(resolve));
    },
    stopServer: (kind) => server(kind).stop(),
    startServer: (kind) => server(kind).start(),
    opcua,
    sparkplug,
    broker,
    modbus,
    stop: stopAll,
  };
}
