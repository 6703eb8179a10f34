/**
 * The daemon's stop when parts of it fail to stop: it still ends with its status file saying
 * "stopped" and LevelDB closed, so the next start and `status` find a clean shutdown.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../../node/config.ts";
import { type EdgeModule, readStatusFile, startNode } from "../../../node/daemon.ts";
import type { AdapterStatus, EdgeAdapter } from "../../../node/edge/adapter.ts";
import { IngestStore } from "../../../node/ingest/store.ts";
import { type NodeEnv, nodeEnv } from "./support/env.ts";

/** An edge module whose adapters throw when asked to stop (a device library that misbehaves). */
const failingToStop: EdgeModule<{ name: string }> = {
  parseDeviceConfig: (raw) => ({ name: (raw as { name: string }).name }),
  createAdapter(config): EdgeAdapter {
    const status: AdapterStatus = { device: config.name, state: "connected", readings: 0, gaps: 0 };
    return {
      device: config.name,
      start: async () => {},
      stop: () => {
        throw new Error(`${config.name}: the device library crashed on close`);
      },
      status: () => status,
    };
  },
};

describe("member node daemon stop", () => {
  let env: NodeEnv;
  beforeAll(async () => {
    env = await nodeEnv();
  });
  afterAll(async () => env?.cleanup());

  it("stops cleanly when an adapter fails to stop and the chain is gone", async () => {
    env.writeConfig({ devices: [{ name: "press-1" }] });
    const logged: string[] = [];
    const node = await startNode(loadConfig(env.configFile), { edge: failingToStop as EdgeModule, log: (m) => logged.push(m), stopGraceMs: 500 });
    expect(readStatusFile(env.dataDir)!.status.running).toBe(true);
    await env.chain.stop();
    await node.stop();
    expect(logged.join("\n")).toContain("adapter press-1 did not stop cleanly: press-1: the device library crashed on close");
    expect(readStatusFile(env.dataDir)!.status.running).toBe(false);
    // LevelDB was closed: another process (the next start, `proof`) can open it.
    const store = await IngestStore.open(path.join(env.dataDir, "db"));
    await store.close();
  });
});
