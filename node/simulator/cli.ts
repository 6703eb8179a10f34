/**
 * Run the device simulator from a shell:
 *
 *   tsx node/simulator/cli.ts --opcua-port 4840 --mqtt-port 1883 --modbus-port 5020
 *
 * Everything listens on 127.0.0.1; a port of 0 (the default) picks a free one. Prints the
 * endpoints and device configs for them, then runs until Ctrl-C.
 *
 * Options: --seed N, --tick-ms N, --mqtt-url URL (publish to an existing broker instead of
 * starting one), --no-opcua, --no-mqtt, --no-modbus, --json (print one JSON line instead).
 */
import { parseArgs } from "node:util";
import { deviceConfigs } from "./configs.ts";
import { startSimulator } from "./index.ts";
import { FURNACE_NODE_IDS } from "./opcua-ids.ts";

function port(name: string, value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name} must be a port number 0..65535 (got "${value}")`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "opcua-port": { type: "string" },
      "mqtt-port": { type: "string" },
      "modbus-port": { type: "string" },
      "mqtt-url": { type: "string" },
      seed: { type: "string" },
      "tick-ms": { type: "string" },
      "no-opcua": { type: "boolean" },
      "no-mqtt": { type: "boolean" },
      "no-modbus": { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log("usage: tsx node/simulator/cli.ts [--opcua-port N] [--mqtt-port N] [--modbus-port N] [--mqtt-url URL] [--seed N] [--tick-ms N] [--no-opcua] [--no-mqtt] [--no-modbus] [--json]");
    return;
  }
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  const tickMs = values["tick-ms"] === undefined ? 1000 : Number(values["tick-ms"]);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer (got "${values.seed}")`);
  if (!Number.isInteger(tickMs) || tickMs <= 0) throw new Error(`--tick-ms must be a positive integer (got "${values["tick-ms"]}")`);

  const sim = await startSimulator({
    seed,
    tickMs,
    opcua: values["no-opcua"] ? false : { port: port("opcua-port", values["opcua-port"]) },
    mqtt: values["no-mqtt"] ? false : { port: port("mqtt-port", values["mqtt-port"]), ...(values["mqtt-url"] ? { url: values["mqtt-url"] } : {}) },
    modbus: values["no-modbus"] ? false : { port: port("modbus-port", values["modbus-port"]) },
    log: (text) => console.error(text),
  });

  const e = sim.endpoints;
  if (values.json) {
    console.log(JSON.stringify({ seed, tickMs, endpoints: e, devices: deviceConfigs(sim) }));
  } else {
    console.log(`Tracemesh device simulator (seed ${seed}, tick ${tickMs} ms)`);
    if (e.opcua) console.log(`  OPC UA   ${e.opcua}   furnace: ${Object.values(FURNACE_NODE_IDS).join(", ")}`);
    if (e.mqtt && e.sparkplug) console.log(`  MQTT     ${e.mqtt}   Sparkplug B spBv1.0/${e.sparkplug.group}/+/${e.sparkplug.edgeNode}/{${e.sparkplug.devices.join(",")}}`);
    if (e.modbus) console.log(`  Modbus   tcp://${e.modbus.host}:${e.modbus.port}   coolant skid, unit 1`);
    console.log("\nDevice configs for the node:");
    console.log(JSON.stringify(deviceConfigs(sim), null, 2));
    console.log("\nCtrl-C to stop.");
  }

  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    sim.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
