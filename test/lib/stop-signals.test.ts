/**
 * lib/stop-signals.ts in real processes: one Ctrl-C delivered twice (group signal and a relay) is
 * one clean stop, a second Ctrl-C later forces it, a failure nobody awaits while stopping does not
 * end the process before its stop is done, and a supervised process leaves SIGINT to its
 * supervisor, stops on SIGTERM, and stops by itself when the supervisor's pipe closes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const CHILD = path.join(import.meta.dirname, "stop-signals-child.ts");

interface Child {
  proc: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

async function start(args: string[] = [], stopMs = 300, env: NodeJS.ProcessEnv = {}): Promise<Child> {
  const proc = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], { env: { ...process.env, STOP_MS: String(stopMs), ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  proc.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const exit = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  for (let i = 0; !out.includes("ready"); i++) {
    if (i > 600) throw new Error(`the child did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, output: () => out, exit };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("stop signals", () => {
  it("takes one Ctrl-C delivered twice in quick succession as one clean stop", async () => {
    const c = await start();
    c.proc.kill("SIGINT");
    await sleep(50);
    c.proc.kill("SIGINT");
    expect(await c.exit).toBe(0);
    expect(c.output()).toContain("stopped cleanly");
    expect(c.output()).not.toContain("forced");
  });

  it("forces the stop on a second Ctrl-C a while later", async () => {
    const c = await start([], 10_000);
    c.proc.kill("SIGINT");
    await sleep(1500);
    c.proc.kill("SIGINT");
    expect(await c.exit).toBe(130);
    expect(c.output()).toContain("forced");
    expect(c.output()).not.toContain("stopped cleanly");
  });

  it("stops cleanly on SIGTERM", async () => {
    const c = await start();
    c.proc.kill("SIGTERM");
    expect(await c.exit).toBe(0);
    expect(c.output()).toContain("stopped cleanly");
  });

  it("completes the stop when a failure nobody awaits comes up while stopping (the chain is gone)", async () => {
    const c = await start([], 300, { REJECT_WHILE_STOPPING: "1" });
    c.proc.kill("SIGTERM");
    expect(await c.exit).toBe(0);
    expect(c.output()).toContain("while stopping, a rejection nobody handled: Error: connect ECONNREFUSED");
    expect(c.output()).not.toContain("fatal");
    expect(c.output()).toContain("stopped cleanly");
  });

  it("ends with status 70 and the stack on a failure nobody handles while running", async () => {
    const c = await start([], 300, { REJECT_WHILE_RUNNING: "1" });
    expect(await c.exit).toBe(70);
    expect(c.output()).toContain("fatal a rejection: Error: a bug nobody handled");
    expect(c.output()).not.toContain("stopped cleanly");
  });

  it("lives on when libp2p's muxer throws a closed stream's error nobody catches (one peer's connection)", async () => {
    const c = await start([], 300, { PEER_STREAM_FAULT: "1" });
    await sleep(1000);
    expect(c.proc.exitCode).toBeNull();
    expect(c.output()).toContain("a peer's stream failed inside libp2p");
    expect(c.output()).toContain("StreamStateError: Cannot write to a stream that is closed");
    c.proc.kill("SIGTERM");
    expect(await c.exit).toBe(0);
    expect(c.output()).toContain("stopped cleanly");
  });

  it("supervised: leaves SIGINT to the supervisor, and stops cleanly on its SIGTERM", async () => {
    const c = await start(["--supervised"]);
    c.proc.kill("SIGINT");
    await sleep(1500);
    expect(c.proc.exitCode).toBeNull();
    expect(c.output()).toContain("the supervisor stops this process in order");
    c.proc.kill("SIGTERM");
    expect(await c.exit).toBe(0);
    expect(c.output()).toContain("stopped cleanly");
  });

  it("supervised: stops cleanly by itself when the supervisor's pipe closes", async () => {
    const c = await start(["--supervised"]);
    c.proc.stdin!.end();
    expect(await c.exit).toBe(0);
    expect(c.output()).toContain("the supervisor is gone");
    expect(c.output()).toContain("stopped cleanly");
  });
});
