/**
 * A plant-floor reading as Tracemesh keeps it: normalised from whatever protocol delivered it
 * (OPC UA, MQTT/Sparkplug B, Modbus TCP), so every later step (canonical bytes, leaf hash,
 * storage, anchoring, proofs, sharing) handles one shape.
 */

/** OPC UA's three status severities; other protocols map onto them. */
export type Quality = "good" | "uncertain" | "bad";

export interface Reading {
  /** Stream id: which signal of which device, unique within the node, e.g. "furnace-1/temperature". */
  stream: string;
  /** The measured quantity's name, e.g. "temperature", "spindleLoad", "torque". */
  metric: string;
  /**
   * The value; null when the source reported a Bad status: a bad reading is kept as such,
   * never as a value.
   */
  value: number | boolean | string | null;
  /** Unit of measure (UCUM code, e.g. "Cel", "N.m", "%"), when known. */
  unit?: string;
  /** When the device measured it (OPC UA sourceTimestamp; Sparkplug metric timestamp), Unix ms. */
  sourceTime: number;
  /**
   * Where `sourceTime` came from when the device gave no timestamp of its own: "server" is the
   * time the server or edge node stamped (OPC UA serverTimestamp, Sparkplug payload timestamp),
   * "receive" is the node's clock when the reading arrived (always so for Modbus). Absent means
   * the device's own timestamp, so a reader can tell measured times from assigned ones.
   */
  timeSource?: "server" | "receive";
  /**
   * True for a reading its device held back and delivered after the fact (a Sparkplug edge node's
   * store-and-forward data, metrics flagged is_historical): its sourceTime lies before its
   * delivery by design, so it is not a late reading, and it is not the device's current value.
   */
  historical?: boolean;
  /**
   * The node's clock when its ingest pipeline took the reading into a window (Unix ms), set by
   * the node, never by an adapter: it lies inside the window's anchored time range, so a reading
   * verifies whatever its device's clock says. Present on every stored or served reading.
   */
  receivedTime?: number;
  quality: Quality;
  /**
   * The raw protocol status, when there is one: the OPC UA StatusCode value; a Modbus
   * exception code (1..11) for a register the device refused; a Sparkplug metric's "Quality"
   * property (OPC DA code).
   */
  statusCode?: number;
}

/**
 * Where adapters deliver readings. `write` resolves only once the readings are durable, which
 * is the acknowledgement; adapters await it, so a slow disk slows the producers (back-pressure)
 * instead of growing a queue.
 */
export interface ReadingSink {
  write(readings: readonly Reading[]): Promise<void>;
}
