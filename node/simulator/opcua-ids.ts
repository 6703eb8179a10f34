/** What the simulator's OPC UA server exposes, without loading the OPC UA stack. */

export const FURNACE_VARIABLES = ["Temperature", "Power", "HeatNumber", "Phase"] as const;
export type FurnaceVariable = (typeof FURNACE_VARIABLES)[number];

/** Node ids of the furnace's variables (namespace 1 is the server's own namespace). */
export const FURNACE_NODE_IDS: Record<FurnaceVariable, string> = {
  Temperature: "ns=1;s=Furnace1.Temperature",
  Power: "ns=1;s=Furnace1.Power",
  HeatNumber: "ns=1;s=Furnace1.HeatNumber",
  Phase: "ns=1;s=Furnace1.Phase",
};
