/**
 * Per-stream timing of readings: how far a reading's source time (the device's clock, as the
 * protocol delivered it) lies from the receive time the node committed it under. Readings verify
 * whatever this says (they are committed by receive time, lib/canonical-reading.ts); the node
 * reports a stream whose readings arrive late, or whose device clock runs ahead, so someone can
 * look at the device or its network.
 */

/** A stream whose source times disagree with its receive times (delivery lag or a device clock that is off). */
export interface StreamTiming {
  stream: string;
  /** Readings whose source time lies more than the tolerance before their receive time. */
  late: number;
  /** Readings whose source time lies more than the tolerance after their receive time (device clock ahead). */
  ahead: number;
  /** Largest lag seen, receivedTime - sourceTime, ms (positive: late). */
  maxLateMs: number;
  /** Largest lead seen, sourceTime - receivedTime, ms. */
  maxAheadMs: number;
  /** The last reading's receivedTime - sourceTime, ms. */
  lastLagMs: number;
}

/** What is reported when a stream turns (or stays) late or ahead. */
export interface TimingReport extends StreamTiming {
  kind: "late" | "ahead";
}

interface Tracked {
  timing: StreamTiming | undefined;
  reported: { late: number; ahead: number };
}

/** Counts late and ahead readings per stream and decides when a stream is worth reporting. */
export class TimingMonitor {
  private readonly streams = new Map<string, Tracked>();
  /** Readings beyond the tolerance either way, all streams. */
  skewed = 0;

  constructor(
    /** Source time further than this from the receive time counts as late or ahead, ms. */
    private readonly toleranceMs: number,
    /** A stream that stays late or ahead is reported again after this long, ms. */
    private readonly reportEveryMs: number,
  ) {}

  /** Counts a reading of `stream` that arrived `lagMs` after its source time (negative: ahead); returns a report when one is due. */
  note(stream: string, lagMs: number, now: number): TimingReport | undefined {
    let s = this.streams.get(stream);
    if (lagMs <= this.toleranceMs && lagMs >= -this.toleranceMs) {
      if (s?.timing) s.timing.lastLagMs = lagMs;
      return undefined;
    }
    if (s === undefined) {
      s = { timing: undefined, reported: { late: -Infinity, ahead: -Infinity } };
      this.streams.set(stream, s);
    }
    this.skewed++;
    const t = (s.timing ??= { stream, late: 0, ahead: 0, maxLateMs: 0, maxAheadMs: 0, lastLagMs: 0 });
    t.lastLagMs = lagMs;
    const kind = lagMs > 0 ? "late" : "ahead";
    if (kind === "late") {
      t.late++;
      t.maxLateMs = Math.max(t.maxLateMs, lagMs);
    } else {
      t.ahead++;
      t.maxAheadMs = Math.max(t.maxAheadMs, -lagMs);
    }
    if (now - s.reported[kind] < this.reportEveryMs) return undefined;
    s.reported[kind] = now;
    return { ...t, kind };
  }

  /** Every stream with late or ahead readings. */
  list(): StreamTiming[] {
    return [...this.streams.values()].flatMap((s) => (s.timing ? [{ ...s.timing }] : []));
  }
}
