/**
 * A member node fed by a synthetic producer, for tests that run the node as a child process
 * (crash recovery, chain outages). It starts the real daemon (node/daemon.ts) without devices and
 * writes readings straight into its pipeline, printing one line per acknowledged stream run:
 *
 *   ready <lastClosed> <lastAnchored>
 *   ack <stream> <firstSeq> <count> <firstValue>      seq firstSeq+k holds value firstValue+k
 *   anchored <sequence>
 *   drained <lastClosed> <lastAnchored>
 *
 * Values are unique across runs (a random run number times 1e9 plus a per-stream counter), so a
 * reading that was acknowledged, lost in a crash and replaced by another under the same sequence
 * number is caught.
 *
 *   --config FILE        node config
 *   --streams N          streams written round-robin (default 8)
 *   --batch N            readings per write (default 64)
 *   --rate N             readings per second (default 4000; 0 = as fast as back-pressure allows)
 *   --drain-after MS     produce for MS, then stop producing, close the window, wait until every
 *                        window is anchored, stop cleanly and exit 0
 *   --crash-after-sends K  SIGKILL itself right after broadcasting its K-th anchor transaction
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../../../../node/config.ts";
import { startNode } from "../../../../node/daemon.ts";
import type { Reading } from "../../../../lib/reading.ts";

const { values } = parseArgs({
  options: {
    config: { type: "string" },
    streams: { type: "string", default: "8" },
    batch: { type: "string", default: "64" },
    rate: { type: "string", default: "4000" },
    "drain-after": { type: "string" },
    "crash-after-sends": { type: "string" },
  },
});

const out = (line: string) => process.stdout.write(line + "\n");
const streams = Number(values.streams);
const batchSize = Number(values.batch);
const rate = Number(values.rate);
const crashAfter = values["crash-after-sends"] ? Number(values["crash-after-sends"]) : 0;
let sends = 0;

const node = await startNode(loadConfig(values.config!), {
  log: (m) => process.stderr.write(`[node] ${m}\n`),
  stopGraceMs: 0,
  hooks: {
    afterSend: () => {
      if (crashAfter > 0 && ++sends >= crashAfter) process.kill(process.pid, "SIGKILL");
    },
  },
});
node.anchorer.on("anchored", (receipts: { sequence: number }[]) => out(`anchored ${receipts.at(-1)!.sequence}`));
node.anchorer.on("fatal", (e: Error) => {
  out(`fatal ${e.name} ${e.message}`);
  process.exit(3);
});
out(`ready ${node.pipeline.lastClosed} ${node.anchorer.status().lastAnchored}`);

const run = Math.floor(Math.random() * 1e6);
const counters = new Array<number>(streams).fill(0);
let producing = true;
let next = 0;

async function produce(): Promise<void> {
  const started = Date.now();
  let written = 0;
  while (producing) {
    const batch: Reading[] = [];
    const now = Date.now();
    for (let k = 0; k < batchSize; k++) {
      const s = next++ % streams;
      batch.push({
        stream: `press-${s}/force`,
        metric: "force",
        unit: "kN",
        value: run * 1e9 + counters[s]!++,
        sourceTime: now,
        quality: "good",
      });
    }
    const seqs = await node.pipeline.append(batch);
    // One line per stream: its readings in this batch have consecutive seqs and values.
    const firsts = new Map<string, { seq: number; count: number; value: number }>();
    batch.forEach((r, k) => {
      const f = firsts.get(r.stream);
      if (f) f.count++;
      else firsts.set(r.stream, { seq: seqs[k]!, count: 1, value: r.value as number });
    });
    for (const [stream, f] of firsts) out(`ack ${stream} ${f.seq} ${f.count} ${f.value}`);
    written += batch.length;
    if (rate > 0) {
      const ahead = (written / rate) * 1000 - (Date.now() - started);
      if (ahead > 0) await new Promise((r) => setTimeout(r, ahead));
    }
  }
}

const producer = produce();
if (values["drain-after"] !== undefined) {
  await new Promise((r) => setTimeout(r, Number(values["drain-after"])));
  producing = false;
  await producer;
  await node.pipeline.closeWindow();
  await node.anchorer.anchoredUpTo(node.pipeline.lastClosed);
  await node.stop();
  out(`drained ${node.pipeline.lastClosed} ${node.anchorer.status().lastAnchored}`);
  process.exit(0);
}
