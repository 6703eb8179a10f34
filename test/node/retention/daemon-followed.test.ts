/**
 * retention.followed rules that name their owner organisation, in the running daemon
 * (node/daemon.ts): with the peer network up, the names resolve once at start against the
 * chain's Consortium registry; an unknown name stops the start with the rule named.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../node/config.ts";
import { startNode } from "../../../node/daemon.ts";
import { type NodeEnv, nodeEnv } from "../ingest/support/env.ts";

describe("retention.followed by organisation name in the node daemon", () => {
  let env: NodeEnv;
  beforeAll(async () => {
    env = await nodeEnv({ p2p: true });
  }, 120_000);
  afterAll(async () => env?.cleanup());

  const withFollowed = (followed: unknown[]) => env.writeConfig({ p2p: { listen: ["/ip4/127.0.0.1/tcp/0"], keyFile: "./p2p.key" }, retention: { followed } });

  it("resolves a registered name to its id at start, beside ids and *", async () => {
    withFollowed([
      { organisation: "Atlas Motors", stream: "furnace-*", keepDays: 30 },
      { organisation: 1, stream: "*", keepDays: 7 },
      { organisation: "*", stream: "*", keepDays: 365 },
    ]);
    const node = await startNode(loadConfig(env.configFile), { log: () => {} });
    try {
      expect(node.retention!.config.followed).toEqual([
        { organisation: 2, stream: "furnace-*", keepMs: 30 * 86_400_000 },
        { organisation: 1, stream: "*", keepMs: 7 * 86_400_000 },
        { stream: "*", keepMs: 365 * 86_400_000 },
      ]);
    } finally {
      await node.stop();
    }
  }, 60_000);

  it("refuses to start on a name the registry does not hold, naming the rule", async () => {
    withFollowed([{ organisation: "Atlas Motor", stream: "*", keepDays: 30 }]);
    const failed = await startNode(loadConfig(env.configFile), { log: () => {} }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ConfigError);
    expect((failed as ConfigError).problems).toEqual(['retention.followed[0].organisation: no organisation named "Atlas Motor" in the Consortium (names are matched exactly)']);
  }, 60_000);
});
