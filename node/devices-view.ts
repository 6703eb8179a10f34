/**
 * The member's devices and data streams as the workbench shows them (GET /workbench/devices):
 * each device's state and reading rate, each stream's rate and late or skewed readings, the last
 * anchored window and the anchoring lag, from the node's status (daemon.ts) and its per-stream
 * counts. Rates compare counts with a sample about a minute old (samples are kept as status is
 * read); on the first look, with the node's start.
 */
import type { DevicesAnswer } from "../lib/api/devices.ts";
import type { NodeStatus } from "./daemon.ts";

/** What the view reads of a running node. */
export interface DevicesSource {
  status(): NodeStatus;
  /** Per stream: readings sequenced so far (IngestPipeline.streamReadings). */
  streamReadings(): Map<string, number>;
}

const WINDOW_MS = 60_000;
/** At most one sample per this long. */
const SAMPLE_EVERY_MS = 5_000;

interface Sample {
  t: number;
  counts: Map<string, number>;
}

export function devicesView(source: DevicesSource, now: () => number = Date.now): () => DevicesAnswer {
  const samples: Sample[] = [];
  return () => {
    const status = source.status();
    const t = now();
    const streams = source.streamReadings();
    const counts = new Map<string, number>([...status.adapters.map((a) => [`device:${a.device}`, a.readings] as const), ...[...streams].map(([s, n]) => [`stream:${s}`, n] as const)]);
    // The baseline: the newest sample at least a minute old, else the oldest kept, else the node's start.
    while (samples.length > 1 && t - samples[1]!.t >= WINDOW_MS) samples.shift();
    const base: Sample = samples[0] ?? { t: status.startedAt, counts: new Map() };
    if (samples.length === 0 || t - samples.at(-1)!.t >= SAMPLE_EVERY_MS) samples.push({ t, counts });
    const perMinute = (k: string): number | null => {
      const dt = t - base.t;
      if (dt <= 0) return null;
      return Math.round((((counts.get(k) ?? 0) - (base.counts.get(k) ?? 0)) / dt) * 60_000 * 10) / 10;
    };
    const timing = new Map(status.ingest.timing.map((x) => [x.stream, x]));
    const last = status.lastAnchor;
    return {
      node: status.node,
      at: t,
      devices: status.adapters.map((a) => ({ device: a.device, state: a.state, ...(a.detail ? { detail: a.detail } : {}), readings: a.readings, gaps: a.gaps, perMinute: perMinute(`device:${a.device}`) })),
      streams: [...streams].map(([stream, readings]) => {
        const x = timing.get(stream);
        return { stream, readings, perMinute: perMinute(`stream:${stream}`), late: x?.late ?? 0, ahead: x?.ahead ?? 0, maxLateMs: x?.maxLateMs ?? 0, maxAheadMs: x?.maxAheadMs ?? 0 };
      }),
      windows: { closed: status.windows.closed, anchored: status.windows.anchored, pending: status.windows.pending },
      lastAnchor: last ? { sequence: last.sequence, anchoredAt: last.anchoredAt, ...(last.txHash ? { txHash: last.txHash } : {}) } : null,
      anchoringLagS: last ? Math.max(0, Math.round(t / 1000 - last.anchoredAt)) : null,
      anchoring: { state: status.anchoring.state, ...(status.anchoring.lastError ? { lastError: status.anchoring.lastError } : {}) },
      skewedReadings: status.ingest.skewedReadings,
      historicalReadings: status.ingest.historicalReadings,
    };
  };
}
