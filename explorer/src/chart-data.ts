/**
 * One stream's readings as chart series on a source-time axis: verified and failed readings in
 * separate series, and a break (null) with a gap band wherever sequence numbers skip. Points are
 * plotted in source-time order, not sequence order: store-and-forward readings (historical) are
 * sequenced when they arrive, after readings measured later, and would otherwise draw backwards.
 */

export interface ChartPoint {
  time: number; // Unix ms, the reading's source time
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

/**
 * Gaps are found in sequence order (a skipped sequence number: a reading missing from what was
 * handed over), each spanning the source times of its two neighbours; the series run in time order
 * with a null (a break) in the middle of each gap.
 */
export function chartData(points: readonly ChartPoint[]): ChartData {
  const bySeq = [...points].sort((a, b) => a.seq - b.seq);
  const gaps: ChartData["gaps"] = [];
  for (let i = 1; i < bySeq.length; i++) {
    const [prev, p] = [bySeq[i - 1]!, bySeq[i]!];
    if (p.seq > prev.seq + 1) gaps.push({ from: Math.min(prev.time, p.time) / 1000, to: Math.max(prev.time, p.time) / 1000 });
  }
  const rows: { x: number; verified: number | null; failed: number | null; order: number }[] = [
    ...points.map((p) => ({ x: p.time / 1000, verified: p.ok ? p.value : null, failed: p.ok ? null : p.value, order: p.seq })),
    ...gaps.map((g) => ({ x: (g.from + g.to) / 2, verified: null, failed: null, order: -1 })),
  ];
  rows.sort((a, b) => a.x - b.x || a.order - b.order);
  return { xs: rows.map((r) => r.x), verified: rows.map((r) => r.verified), failed: rows.map((r) => r.failed), gaps };
}

/**
 * uplot's date formatter factory (its `fmtDate` option) in a page locale: uplot asks for
 * templates such as "{h}:{mm}{aa}" or "{M}/{D}\n{YYYY}" and would fill them in US style ("3pm")
 * whatever the page's language. Each line of a template becomes the same fields, formatted by Intl.
 */
export function localeDateFormat(locale: string): (tpl: string) => (date: Date) => string {
  return (tpl) => {
    const lines = tpl.split("\n").map((line): Intl.DateTimeFormat | undefined => {
      const has = (re: RegExp) => re.test(line);
      const o: Intl.DateTimeFormatOptions = {};
      if (has(/\{YY/)) o.year = "numeric";
      // Months by name ("6 Dec", "12月6日"): numeric day/month order differs between locales.
      if (has(/\{MMMM\}/)) o.month = "long";
      else if (has(/\{M{1,3}\}/)) o.month = "short";
      if (has(/\{DD?\}/)) o.day = "numeric";
      if (has(/\{WWW/)) o.weekday = "short";
      if (has(/\{(h|H|HH)\}/)) o.hour = "2-digit";
      if (has(/\{mm?\}/)) o.minute = "2-digit";
      if (has(/\{ss?\}/)) o.second = "2-digit";
      if (has(/\{fff\}/)) o.fractionalSecondDigits = 3;
      // A template of only literals (or none) stays as it is.
      return Object.keys(o).length === 0 ? undefined : new Intl.DateTimeFormat(locale, { ...o, hourCycle: "h23" });
    });
    const literal = tpl.split("\n");
    return (date) => lines.map((f, i) => (f === undefined ? literal[i]! : f.format(date))).join("\n");
  };
}
