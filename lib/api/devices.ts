/** GET /workbench/devices: the member's own devices and data streams, from its node's status (types only). */

export interface DeviceView {
  device: string;
  /** The edge adapter's state (connected, connecting, ...). */
  state: string;
  /** Why it is not connected, when it is not. */
  detail?: string;
  readings: number;
  /** Readings the protocol told the node it missed. */
  gaps: number;
  /** Readings a minute over the last minute (since the node started, on the first look); null before any time passed. */
  perMinute: number | null;
}

export interface StreamView {
  stream: string;
  readings: number;
  perMinute: number | null;
  /** Readings whose source time lay behind (late) or ahead of their receive time by more than the tolerance. */
  late: number;
  ahead: number;
  maxLateMs: number;
  maxAheadMs: number;
}

export interface DevicesAnswer {
  /** The node's signing account (its anchor chain). */
  node: string;
  /** When the node's status was read, Unix ms. */
  at: number;
  devices: DeviceView[];
  streams: StreamView[];
  windows: { closed: number; anchored: number; pending: number };
  lastAnchor: { sequence: number; anchoredAt: number; txHash?: string } | null;
  /** Seconds since the last anchored window's block; null before the first anchor. */
  anchoringLagS: number | null;
  /** The anchorer's state, and its last error. */
  anchoring: { state: string; lastError?: string };
  /** Readings whose source time was off by more than the tolerance, over all streams. */
  skewedReadings: number;
  /** Readings devices delivered late from their store and forward (Reading.historical), over all streams. */
  historicalReadings: number;
}
