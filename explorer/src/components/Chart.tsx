/**
 * One stream's readings on a time axis (uplot): verified readings as a line, readings whose proof
 * failed as red points, and a break in the line with a shaded band wherever the stream's sequence
 * numbers skip (a gap: readings missing from what was handed over). Dates on the axis and in the
 * legend are in the page's language (localeDateFormat).
 */
import type uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { useEffect, useRef } from "preact/hooks";
import { type ChartData, localeDateFormat } from "../chart-data.ts";
import { localeOf, useI18n } from "../i18n.ts";

export function ReadingsChart({ title, unit, data }: { title: string; unit?: string; data: ChartData }) {
  const { t, lang } = useI18n();
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const gapBands = {
      hooks: {
        drawClear: [
          (u: uPlot) => {
            const g = u.ctx;
            g.save();
            g.fillStyle = "rgba(234, 179, 8, 0.25)";
            for (const gap of data.gaps) {
              const x0 = u.valToPos(gap.from, "x", true);
              const x1 = u.valToPos(gap.to, "x", true);
              g.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
            }
            g.restore();
          },
        ],
      },
    };
    // uplot loads with the first chart, not with the page.
    let plot: uPlot | undefined;
    let gone = false;
    const width = () => Math.max(280, Math.min(900, el.clientWidth));
    const onResize = () => plot?.setSize({ width: width(), height: 260 });
    void import("uplot").then(({ default: UPlot }) => {
      if (gone) return;
      plot = new UPlot(
        {
          title,
          width: width(),
          height: 260,
          plugins: [gapBands],
          scales: { x: { time: true } },
          // Axis and legend dates in the page's language, not uplot's US format.
          fmtDate: localeDateFormat(localeOf(lang)),
          axes: [{}, { label: unit ?? "" }],
          series: [
            // uPlot's own label for the time axis is English.
            { label: t("readings.time") },
            { label: t("readings.legendOk"), stroke: "#1d4ed8", width: 2, spanGaps: false, points: { show: true, size: 4 } },
            { label: t("readings.legendBad"), stroke: "#b91c1c", width: 0, paths: () => null, points: { show: true, size: 10, fill: "#b91c1c" } },
          ],
        },
        [data.xs, data.verified, data.failed],
        el,
      );
      addEventListener("resize", onResize);
    }, () => undefined); // a chart that cannot load leaves its box empty; the rest of the page stays
    return () => {
      gone = true;
      removeEventListener("resize", onResize);
      plot?.destroy();
    };
  }, [data, title, unit, t, lang]);
  return <div ref={box} class="chart" role="img" aria-label={title} />;
}
