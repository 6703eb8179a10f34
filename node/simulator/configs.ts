/** Device configs for the node that read everything a running simulator exposes. */
import type { Simulator } from "./index.ts";
import { COOLANT_REGISTERS } from "./modbus.ts";
import { FURNACE_NODE_IDS } from "./opcua-ids.ts";

/** Device configs (as parseDeviceConfig accepts them) for what the simulator exposes. */
export function deviceConfigs(sim: Pick<Simulator, "endpoints">): unknown[] {
  const configs: unknown[] = [];
  const e = sim.endpoints;
  if (e.opcua) {
    configs.push({
      kind: "opcua",
      device: "furnace-1",
      endpoint: e.opcua,
      publishingIntervalMs: 1000,
      nodes: [
        { nodeId: FURNACE_NODE_IDS.Temperature, stream: "furnace-1/temperature", metric: "temperature", unit: "Cel" },
        { nodeId: FURNACE_NODE_IDS.Power, stream: "furnace-1/power", metric: "power", unit: "kW" },
        { nodeId: FURNACE_NODE_IDS.HeatNumber, stream: "furnace-1/heat", metric: "heatNumber" },
        { nodeId: FURNACE_NODE_IDS.Phase, stream: "furnace-1/phase", metric: "phase" },
      ],
    });
  }
  if (e.mqtt && e.sparkplug) configs.push({ kind: "sparkplug", device: "machining-line", url: e.mqtt, group: e.sparkplug.group });
  if (e.modbus) {
    configs.push({
      kind: "modbus",
      device: "coolant-1",
      host: e.modbus.host,
      port: e.modbus.port,
      pollIntervalMs: 1000,
      registers: Object.entries(COOLANT_REGISTERS).map(([name, reg]) => ({ ...reg, stream: `coolant-1/${name}`, metric: name })),
    });
  }
  return configs;
}

