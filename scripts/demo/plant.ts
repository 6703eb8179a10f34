/**
 * The demo's plant floor: one device simulator per producing organisation, exposing only the
 * machines that organisation runs (a real OPC UA server, MQTT broker with a Sparkplug B edge
 * node, or Modbus TCP server on 127.0.0.1), and the device configs its member node reads them with.
 */
import { type Simulator, startSimulator } from "../../node/simulator/index.ts";
import { deviceConfigs } from "../../node/simulator/configs.ts";
import type { DemoOrg } from "./consortium.ts";

export interface OrgPlant {
  org: DemoOrg;
  simulator: Simulator;
  devices: unknown[];
}

/** Starts the simulators of the organisations that have devices; seeds differ per organisation. */
export async function startPlant(orgs: DemoOrg[], log: (m: string) => void): Promise<OrgPlant[]> {
  const plants: OrgPlant[] = [];
  try {
    for (const [i, org] of orgs.entries()) {
      if (org.devices.length === 0) continue;
      const has = (d: DemoOrg["devices"][number]) => org.devices.includes(d);
      const simulator = await startSimulator({
        seed: i + 1,
        opcua: has("furnace") ? {} : false,
        modbus: has("coolant") ? {} : false,
        mqtt: has("machining-line") || has("assembly-line") ? { edgeNode: org.key } : false,
        log: (m) => log(`${org.key} simulator: ${m}`),
      });
      plants.push({ org, simulator, devices: deviceConfigs(simulator) });
    }
  } catch (e) {
    await stopPlant(plants);
    throw e;
  }
  return plants;
}

export async function stopPlant(plants: OrgPlant[]): Promise<void> {
  await Promise.allSettled(plants.map((p) => p.simulator.stop()));
}
