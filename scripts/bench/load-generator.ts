/**
 * The gateway benchmark's load generator (gateway.ts): autocannon in a process of its own, forked
 * by the benchmark and driven over IPC, so the load generator and the gateway never share a
 * process (heap, GC, event loop) and each can be charged its own CPU time. Each message runs one
 * autocannon pass and answers with its figures and the CPU time this process spent on it.
 */
import { fork } from "node:child_process";
import autocannon from "autocannon";

/** One pass of load: autocannon's options and the environment its request hook reads. */
export interface LoadPass {
  options: autocannon.Options;
  env: Record<string, string>;
}

/** What a pass measured, with the CPU time (user + system, ms) the load generator spent. */
export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  /** Answers by status code class counted by autocannon (2xx, 3xx, ...). */
  statuses: Record<string, number>;
  cpuMs: number;
  wallMs: number;
  /** Bytes received (headers and bodies, as sent on the wire). */
  bytes: number;
}

export interface LoadGenerator {
  run(pass: LoadPass): Promise<LoadResult>;
  stop(): void;
}

/** Forks the load generator (this file) and hands back a way to run passes in it. */
export function startLoadGenerator(): LoadGenerator {
  const child = fork(import.meta.filename, ["--serve"], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  let pending: { resolve: (r: LoadResult) => void; reject: (e: Error) => void } | undefined;
  child.on("message", (m: LoadResult | { error: string }) => {
    const p = pending;
    pending = undefined;
    if ("error" in m) p?.reject(new Error(`load generator: ${m.error}`));
    else p?.resolve(m);
  });
  child.on("exit", (code) => pending?.reject(new Error(`the load generator exited (code ${code}) during a pass`)));
  return {
    run: (pass) =>
      new Promise((resolve, reject) => {
        if (pending) return reject(new Error("the load generator runs one pass at a time"));
        pending = { resolve, reject };
        child.send(pass);
      }),
    stop: () => void child.kill(),
  };
}

async function serve(): Promise<void> {
  process.on("message", (pass: LoadPass) => {
    Object.assign(process.env, pass.env);
    const cpu = process.cpuUsage();
    const started = performance.now();
    autocannon(pass.options).then(
      (r) => {
        const used = process.cpuUsage(cpu);
        process.send!({
          rps: r.requests.average,
          p50: r.latency.p50,
          p99: r.latency.p99,
          requests: r.requests.total,
          errors: r.errors + r.non2xx,
          statuses: { "2xx": r["2xx"], "3xx": r["3xx"], "4xx": r["4xx"], "5xx": r["5xx"] },
          cpuMs: (used.user + used.system) / 1000,
          wallMs: performance.now() - started,
          bytes: r.throughput.total,
        } satisfies LoadResult);
      },
      (e: Error) => process.send!({ error: e.message }),
    );
  });
  process.on("disconnect", () => process.exit(0));
}

if (process.argv.includes("--serve") && process.send) await serve();
