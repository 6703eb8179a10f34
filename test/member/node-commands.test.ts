/**
 * The node commands on a running member process (issue 19): `npm run node -- status|proof|audit
 * --config member.json` read the member's configuration file (its `gateway` and `parties` sections
 * skipped) and work while the member holds the data directory, by asking it over its admin
 * channel (node/admin.ts); once it stopped, they open the data directory themselves.
 *
 * A real member process (member/main.ts) against anvil, ingesting the device simulator's Modbus
 * TCP coolant unit, exactly as an operator runs it.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { statSync } from "node:fs";
import { connect } from "node:net";
import path from "node:path";
import { JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataAnchors__factory } from "../../lib/contracts/types/index.js";
import { contractAnchorView, verifyReading } from "../../lib/verify-reading.ts";
import { adminSocketPath } from "../../node/admin.ts";
import { readStatusFile } from "../../node/daemon.ts";
import type { ProvenReading } from "../../node/ingest/proofs.ts";
import { type Simulator, startSimulator } from "../../node/simulator/index.ts";
import { deviceConfigs } from "../../node/simulator/configs.ts";
import { type NodeEnv, ROOT, nodeEnv } from "../node/ingest/support/env.ts";

let env: NodeEnv;
let sim: Simulator;
let member: ChildProcess;
let output = "";
let stream: string;

const nodeCli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "node/cli.ts"), ...args], { cwd: ROOT, encoding: "utf8" });

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline || member.exitCode !== null) throw new Error(`${what}:\n${output.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sends raw bytes on the admin socket; answers what the member replied. */
function rawAdmin(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    const socket = connect(adminSocketPath(env.dataDir), () => socket.write(text));
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (data += d));
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
  });
}

beforeAll(async () => {
  env = await nodeEnv();
  sim = await startSimulator({ tickMs: 100, opcua: false, mqtt: false });
  const devices = deviceConfigs(sim).map((d) => ({ ...(d as object), pollIntervalMs: 100 }));
  stream = (devices[0] as unknown as { registers: { stream: string }[] }).registers[0]!.stream;
  // A member's configuration, as the demo writes it: the node's settings plus `gateway` and `parties`.
  env.writeConfig({ devices, gateway: { host: "127.0.0.1", port: 0, explorer: false }, parties: {} });
  // The EPCIS schema and context from the public fixtures, as the demo hands them to its members.
  const fixtures = path.join(ROOT, "../shared/fixtures/epcis");
  member = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "member/main.ts"), "--config", env.configFile], {
    cwd: ROOT,
    env: { ...process.env, TRACEMESH_EPCIS_SCHEMA: path.join(fixtures, "EPCIS-JSON-Schema.json"), TRACEMESH_EPCIS_CONTEXT: path.join(fixtures, "epcis-context.jsonld") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  member.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  member.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  await until("the member did not come up and anchor", () => {
    const s = readStatusFile(env.dataDir);
    return s?.alive === true && s.status.pid === member.pid && s.status.windows.anchored >= 1 && /gateway http:/.test(output);
  });
}, 120_000);

afterAll(async () => {
  if (member && member.exitCode === null) {
    member.kill("SIGKILL");
    await once(member, "exit");
  }
  await sim?.stop();
  await env?.cleanup();
});

describe("the node commands on a running member", () => {
  it("status reads the member's configuration file and reports the running node", () => {
    const status = nodeCli("status", "--config", env.configFile);
    expect(status.stderr).toBe("");
    expect(status.status).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`node +${env.node} \\(Delta Machining\\)`));
    expect(status.stdout).toMatch(new RegExp(`state +running, pid ${member.pid}`));
  });

  it("proof asks the running member for a reading's proof, which verifies against the chain", async () => {
    let proof!: ReturnType<typeof nodeCli>;
    await until("no proof of the first reading", () => {
      proof = nodeCli("proof", "--config", env.configFile, "--stream", stream, "--seq", "1");
      return proof.status === 0;
    });
    const proven = JSON.parse(proof.stdout) as ProvenReading;
    expect(proven.reading.stream).toBe(stream);
    const provider = new JsonRpcProvider(env.chain.url, undefined, { staticNetwork: true });
    try {
      const view = contractAnchorView(DataAnchors__factory.connect(env.deployment.contracts.dataAnchors, provider));
      await until("the reading's window is not anchored", async () => (await verifyReading(proven.reading, proven.proof, view)).ok);
    } finally {
      provider.destroy();
    }
    const missing = nodeCli("proof", "--config", env.configFile, "--stream", "no-such-stream", "--seq", "1");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no closed window holds no-such-stream #1/);
  });

  it("audit asks the running member to verify every stored reading against the chain", () => {
    const audit = nodeCli("audit", "--config", env.configFile);
    expect(audit.status, audit.stdout + audit.stderr).toBe(0);
    expect(audit.stdout).toMatch(/audit: [1-9]\d* readings in [1-9]\d* anchored windows, [1-9]\d* verified, 0 failed/);
  });

  it("serves the admin channel to the node's own account only, and refuses malformed requests", async () => {
    const dir = path.dirname(adminSocketPath(env.dataDir));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(adminSocketPath(env.dataDir)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await rawAdmin("not json\n"))).toEqual({ ok: false, error: "the request is not a JSON object" });
    expect(JSON.parse(await rawAdmin(`${JSON.stringify({ command: "sign", data: "0x00" })}\n`))).toMatchObject({ ok: false, error: expect.stringMatching(/unknown command "sign"/) });
    expect(JSON.parse(await rawAdmin(`${JSON.stringify({ command: "proof", stream, seq: -1 })}\n`))).toMatchObject({ ok: false, error: expect.stringMatching(/seq/) });
    expect(JSON.parse(await rawAdmin(`${"x".repeat(5000)}`))).toMatchObject({ ok: false, error: expect.stringMatching(/exceeds 4096 bytes/) });
  });

  it("start refuses a member's configuration and names the command that starts a member", () => {
    const start = nodeCli("start", "--config", env.configFile);
    expect(start.status).toBe(2);
    expect(start.stderr).toMatch(/configures a member .*npm run member -- --config/);
  });

  it("after the member stops, proof opens the data directory itself", async () => {
    const exited = once(member, "exit");
    member.kill("SIGINT");
    const [code] = (await exited) as [number | null];
    expect(code, output.slice(-2000)).toBe(0);
    const proof = nodeCli("proof", "--config", env.configFile, "--stream", stream, "--seq", "1");
    expect(proof.status, proof.stderr).toBe(0);
    expect((JSON.parse(proof.stdout) as ProvenReading).reading.stream).toBe(stream);
  });
});
