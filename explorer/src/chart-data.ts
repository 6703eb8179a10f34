/**
 * One stream's readings as chart series: sorted by sequence number, verified and failed readings
 * in separate series, and a break (null) with a gap band wherever sequence numbers skip.
 */

export interface ChartPoint {
  time: number; // Unix ms
  seq: number;
  value: number | null;
  ok: boolean;
}

export interface ChartData {
  xs: number[];
  verified: (number | null)[];
  failed: (number | null)[];
  gaps: { from: number; to: number }[];
}

/** Points sorted by sequence; a skipped sequence number becomes a null (a break) and a gap band. */
export function chartData(points: readonly ChartPoint[]): ChartData {
  const sorted = [...points].sort((a, b) => a.seq - b.seq);
  const out: ChartData = { xs: [], verified: [], failed: [], gaps: [] };
  let prev: ChartPoint | undefined;
  for (const p of sorted) {
    if (prev !== undefined && p.seq > prev.seq + 1) {
      out.gaps.push({ from: prev.time / 1000, to: p.time / 1000 });
      out.xs.push((prev.time + p.time) / 2000);
      out.verified.push(null);
      out.failed.push(null);
    }
    out.xs.push(p.time / 1000);
    out.verified.push(p.ok ? p.value : null);
    out.failed.push(p.ok ? null : p.value);
    prev = p;
  }
  return out;
}
