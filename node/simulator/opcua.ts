/**
 * The simulator's OPC UA server (node-opcua): an induction furnace whose variables follow the
 * heat model, with source timestamps from the simulation clock. A variable's status can be
 * forced (e.g. BadSensorFailure) to exercise how clients record bad values.
 */
import {
  DataType,
  OPCUAServer,
  StatusCodes,
  Variant,
  standardUnits,
  type StatusCode,
  type UAVariable,
} from "node-opcua";
import { furnace, type FurnaceSample } from "./models.ts";
import { FURNACE_VARIABLES, type FurnaceVariable } from "./opcua-ids.ts";

export class SimOpcUaServer {
  private server: OPCUAServer | undefined;
  private vars = new Map<FurnaceVariable, UAVariable>();
  private forced = new Map<FurnaceVariable, StatusCode>();
  private last: { sample: FurnaceSample; time: number } | undefined;
  private boundPort: number;

  constructor(
    private readonly seed: number,
    port: number,
  ) {
    this.boundPort = port;
  }

  get port(): number {
    return this.boundPort;
  }

  get endpoint(): string {
    return `opc.tcp://127.0.0.1:${this.boundPort}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** Start listening (on the same port as before when restarted). */
  async start(): Promise<void> {
    if (this.server) return;
    const server = new OPCUAServer({
      host: "127.0.0.1",
      hostname: "127.0.0.1",
      port: this.boundPort,
      buildInfo: { productName: "Tracemesh furnace simulator", manufacturerName: "Tracemesh" },
      // Lets a client that lost its connection take its subscription over on the demo's
      // unsecured endpoint, as it would on a secured one.
      allowAnonymousSubscriptionTransferOnUnsecuredChannel: true,
      // Deliver every change of the (exception-based) variables rather than coalescing them
      // over a sampling window: each tick of the simulation is a measurement worth keeping.
      serverCapabilities: { minSupportedSampleRate: 0 },
    });
    await server.initialize();
    const addressSpace = server.engine.addressSpace;
    if (!addressSpace) throw new Error("OPC UA server has no address space");
    const ns = addressSpace.getOwnNamespace();
    const furnaceObj = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: "Furnace1", nodeId: "s=Furnace1" });
    this.vars.set(
      "Temperature",
      ns.addAnalogDataItem({
        componentOf: furnaceObj,
        browseName: "Temperature",
        nodeId: "s=Furnace1.Temperature",
        dataType: "Double",
        engineeringUnitsRange: { low: 0, high: 1800 },
        engineeringUnits: standardUnits.degree_celsius,
        // Report every change as it happens (a sensor pushing values), not at a sampling rate.
        minimumSamplingInterval: 0,
      }),
    );
    this.vars.set(
      "Power",
      ns.addAnalogDataItem({
        componentOf: furnaceObj,
        browseName: "Power",
        nodeId: "s=Furnace1.Power",
        dataType: "Double",
        engineeringUnitsRange: { low: 0, high: 3000 },
        engineeringUnits: standardUnits.kilowatt,
        minimumSamplingInterval: 0,
      }),
    );
    this.vars.set("HeatNumber", ns.addVariable({ componentOf: furnaceObj, browseName: "HeatNumber", nodeId: "s=Furnace1.HeatNumber", dataType: "UInt32", minimumSamplingInterval: 0 }));
    this.vars.set("Phase", ns.addVariable({ componentOf: furnaceObj, browseName: "Phase", nodeId: "s=Furnace1.Phase", dataType: "String", minimumSamplingInterval: 0 }));
    await server.start();
    this.boundPort = server.endpoints[0]?.port ?? this.boundPort;
    this.server = server;
    if (this.last) this.apply(this.last.sample, this.last.time);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.vars.clear();
    await server.shutdown(0);
  }

  /** Publish the model's values for `tick`, stamped with the simulation time `time`. */
  update(tick: number, time: number): void {
    this.last = { sample: furnace(this.seed, tick), time };
    if (this.server) this.apply(this.last.sample, time);
  }

  /**
   * Force a variable's status (held until set back to Good). The change is published at once,
   * stamped with the wall clock: a sensor fails at a real moment, not on a tick.
   */
  setStatus(variable: FurnaceVariable, status: StatusCode | string): void {
    const code = typeof status === "string" ? statusByName(status) : status;
    if (code.value === StatusCodes.Good.value) this.forced.delete(variable);
    else this.forced.set(variable, code);
    if (this.server && this.last) this.applyOne(variable, this.last.sample, Date.now());
  }

  private apply(sample: FurnaceSample, time: number): void {
    for (const name of FURNACE_VARIABLES) this.applyOne(name, sample, time);
  }

  private applyOne(name: FurnaceVariable, sample: FurnaceSample, time: number): void {
    const v = this.vars.get(name);
    if (!v) return;
    const variant =
      name === "Temperature"
        ? new Variant({ dataType: DataType.Double, value: sample.temperature })
        : name === "Power"
          ? new Variant({ dataType: DataType.Double, value: sample.power })
          : name === "HeatNumber"
            ? new Variant({ dataType: DataType.UInt32, value: sample.heat })
            : new Variant({ dataType: DataType.String, value: sample.phase });
    v.setValueFromSource(variant, this.forced.get(name) ?? StatusCodes.Good, new Date(time));
  }
}

/** A status code by its OPC UA name, e.g. "BadSensorFailure". */
function statusByName(name: string): StatusCode {
  const code = (StatusCodes as unknown as Record<string, StatusCode | undefined>)[name];
  if (!code || typeof code.value !== "number") throw new Error(`unknown OPC UA status code "${name}"`);
  return code;
}
