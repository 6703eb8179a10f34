/**
 * The fatal paths of a member as a supervisor sees them (issue 18), with real processes on a
 * temporary data directory: SIGINT while the chain is down ends the member cleanly (exit 0, its
 * status file saying it stopped, no unhandled rejection), also while it is still starting against
 * a chain that hangs; the node alone (`npm run node -- start`)
 * does the same; a member that cannot reach its chain at start exits 1 saying why. The exit
 * codes are the README's ("Operations").
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readStatusFile } from "../../node/daemon.ts";
import { type NodeEnv, ROOT, nodeEnv } from "../node/ingest/support/env.ts";

interface Proc {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

function run(entry: string, args: string[]): Proc {
  // The EPCIS schema and context from the public fixtures, as the demo hands them to its members.
  const fixtures = path.join(ROOT, "../shared/fixtures/epcis");
  const env = { ...process.env, TRACEMESH_EPCIS_SCHEMA: path.join(fixtures, "EPCIS-JSON-Schema.json"), TRACEMESH_EPCIS_CONTEXT: path.join(fixtures, "epcis-context.jsonld") };
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, entry), ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  return { child, output: () => out, exit: new Promise((resolve) => child.once("exit", (code) => resolve(code))) };
}

async function until(what: string, ok: () => boolean, p: Proc, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline || p.child.exitCode !== null) throw new Error(`${what}:\n${p.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let env: NodeEnv | undefined;
let proc: Proc | undefined;
afterEach(async () => {
  if (proc && proc.child.exitCode === null) {
    proc.child.kill("SIGKILL");
    await proc.exit;
  }
  await env?.cleanup();
  env = undefined;
});

/** Exit code and output, or a failure saying the process did not end in time. */
async function ended(p: Proc, timeoutMs = 60_000): Promise<number | null> {
  const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), timeoutMs).unref());
  const code = await Promise.race([p.exit, timer]);
  if (code === "timeout") throw new Error(`the process did not end within ${timeoutMs} ms:\n${p.output().slice(-3000)}`);
  return code;
}

describe("fatal paths of a member process", { timeout: 180_000 }, () => {
  it("SIGINT while the chain is down ends the member cleanly: exit 0, status stopped, no unhandled rejection", async () => {
    env = await nodeEnv();
    env.writeConfig({ gateway: { host: "127.0.0.1", port: 0, explorer: false }, parties: {} });
    const p = (proc = run("member/main.ts", ["--config", env.configFile]));
    await until("the member to come up", () => /gateway http:/.test(p.output()) && readStatusFile(env!.dataDir)?.alive === true, p);
    await env.chain.stop();
    await new Promise((r) => setTimeout(r, 3000)); // the node, indexer and event watches find the chain gone
    p.child.kill("SIGINT");
    expect(await ended(p), p.output()).toBe(0);
    const out = p.output();
    expect(out).toMatch(/stopped cleanly/);
    expect(out).not.toMatch(/unhandled|fatal/i);
    const status = readStatusFile(env.dataDir)!;
    expect(status.status.running).toBe(false);
    expect(status.alive).toBe(false);
  });

  it("the node alone: SIGINT while the chain is down ends it with exit 0 and its status stopped", async () => {
    env = await nodeEnv();
    const p = (proc = run("node/cli.ts", ["start", "--config", env.configFile]));
    await until("the node to start", () => /started: data/.test(p.output()), p);
    await env.chain.stop();
    await new Promise((r) => setTimeout(r, 2000));
    p.child.kill("SIGINT");
    expect(await ended(p), p.output()).toBe(0);
    expect(p.output()).not.toMatch(/unhandled|fatal/i);
    expect(readStatusFile(env.dataDir)!.status.running).toBe(false);
  });

  it("SIGINT while the member starts against a hung chain: it ends cleanly once the start gave up or finished", async () => {
    env = await nodeEnv();
    env.writeConfig({ gateway: { host: "127.0.0.1", port: 0, explorer: false }, parties: {} });
    const chainPid = env.chain.pid;
    process.kill(chainPid, "SIGSTOP"); // accepts connections, never answers: every chain call waits its bound
    try {
      const p = (proc = run("member/main.ts", ["--config", env.configFile]));
      await until("the node part to start", () => /\[node\] node \S+ .* started/.test(p.output()), p);
      p.child.kill("SIGINT");
      expect(await ended(p, 120_000), p.output()).toBe(0);
      expect(p.output()).toMatch(/stopped while starting|stopped cleanly/);
      expect(p.output()).not.toMatch(/unhandled|fatal/i);
      expect(readStatusFile(env.dataDir)!.status.running).toBe(false);
    } finally {
      process.kill(chainPid, "SIGCONT");
    }
  });

  it("a member whose chain is down at start exits 1 saying why, its status not left running", async () => {
    env = await nodeEnv();
    env.writeConfig({ gateway: { host: "127.0.0.1", port: 0, explorer: false }, parties: {} });
    await env.chain.stop();
    const p = (proc = run("member/main.ts", ["--config", env.configFile]));
    expect(await ended(p, 120_000), p.output()).toBe(1);
    expect(p.output()).toMatch(/cannot start: .*(chain|ECONNREFUSED|timeout)/i);
    expect(p.output()).not.toMatch(/unhandled/i);
    const status = readStatusFile(env.dataDir);
    expect(status === undefined || status.status.running === false).toBe(true);
  });
});
