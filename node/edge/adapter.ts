/**
 * The contract between the node and its edge adapters (OPC UA, MQTT/Sparkplug B, Modbus TCP).
 * Each adapter connects to one device or broker from the node's config, turns what it receives
 * into Readings, and hands them to the sink. A device that disappears is reported through
 * `onStatus` and retried with back-off; it never stops the node.
 */
import type { ReadingSink } from "../../lib/reading.ts";

export type AdapterState = "connecting" | "connected" | "disconnected" | "stopped";

export interface AdapterStatus {
  device: string;
  state: AdapterState;
  /** Why the adapter is not connected, when it is not. */
  detail?: string;
  readings: number;
  /** Readings the protocol told us we missed (e.g. a Sparkplug seq gap), when it can tell. */
  gaps: number;
  /** Readings received from the device and not yet acknowledged durable by the sink. */
  pending?: number;
  /**
   * For adapters that front several devices (a Sparkplug broker connection carries many edge
   * nodes and devices): each one seen, "online" after its BIRTH, "offline" after its DEATH.
   * Keys are "group/edgeNode" and "group/edgeNode/device".
   */
  sources?: Record<string, "online" | "offline">;
}

export interface EdgeAdapter {
  readonly device: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): AdapterStatus;
}

export interface AdapterContext {
  sink: ReadingSink;
  onStatus?: (status: AdapterStatus) => void;
  log?: (message: string) => void;
}
