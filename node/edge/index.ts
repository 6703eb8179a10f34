/**
 * The edge adapters' entry point for the node daemon: device config types, the config parser,
 * and `createAdapter`. Protocol libraries are loaded when an adapter of that kind starts (the
 * OPC UA stack alone takes seconds to load), so a node without OPC UA devices never pays for it.
 */
import type { AdapterContext, AdapterStatus, EdgeAdapter } from "./adapter.ts";
import type { DeviceConfig } from "./config.ts";

export type { AdapterContext, AdapterState, AdapterStatus, EdgeAdapter } from "./adapter.ts";
export type {
  DeviceConfig,
  DeviceKind,
  ModbusDeviceConfig,
  ModbusRegisterConfig,
  ModbusType,
  MqttConnectionConfig,
  MqttJsonDeviceConfig,
  MqttJsonTopicConfig,
  OpcUaDeviceConfig,
  OpcUaNodeConfig,
  OpcUaSecurityMode,
  OpcUaSecurityPolicy,
  SparkplugDeviceConfig,
  SparkplugMetricMapping,
} from "./config.ts";
export { DeviceConfigError, parseDeviceConfig } from "./config.ts";
export type { BackoffPolicy as ReconnectOptions } from "../../lib/retry.ts";
export type { QueueOptions } from "./queue.ts";

/** An adapter for `config`; nothing connects until `start()`. */
export function createAdapter(config: DeviceConfig, ctx: AdapterContext): EdgeAdapter {
  return new LazyAdapter(config, ctx);
}

async function load(config: DeviceConfig, ctx: AdapterContext): Promise<EdgeAdapter> {
  switch (config.kind) {
    case "opcua": {
      const { OpcUaAdapter } = await import("./opcua.ts");
      return new OpcUaAdapter(config, ctx);
    }
    case "sparkplug": {
      const { SparkplugAdapter } = await import("./sparkplug.ts");
      return new SparkplugAdapter(config, ctx);
    }
    case "mqtt-json": {
      const { MqttJsonAdapter } = await import("./mqtt-json.ts");
      return new MqttJsonAdapter(config, ctx);
    }
    case "modbus": {
      const { ModbusAdapter } = await import("./modbus.ts");
      return new ModbusAdapter(config, ctx);
    }
  }
}

class LazyAdapter implements EdgeAdapter {
  readonly device: string;
  private inner: EdgeAdapter | undefined;
  private loading: Promise<EdgeAdapter> | undefined;

  constructor(
    private readonly config: DeviceConfig,
    private readonly ctx: AdapterContext,
  ) {
    this.device = config.device;
  }

  async start(): Promise<void> {
    this.loading ??= load(this.config, this.ctx);
    this.inner = await this.loading;
    await this.inner.start();
  }

  async stop(): Promise<void> {
    if (this.loading) await this.loading.then((a) => a.stop(), () => {});
  }

  status(): AdapterStatus {
    return this.inner?.status() ?? { device: this.device, state: "stopped", readings: 0, gaps: 0 };
  }
}
