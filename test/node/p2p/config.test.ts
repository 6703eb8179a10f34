/** The node config's `p2p` section: defaults, paths, and every problem named. */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../../node/config.ts";

const base = { organisation: "Atlas Motors", dataDir: "./data", chain: { rpcUrl: "http://127.0.0.1:8545", deployment: "./d.json", keyEnv: "KEY" } };
const problems = (p2p: unknown): string[] => {
  try {
    parseConfig({ ...base, p2p }, "/etc/tm");
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

describe("node config: p2p section", () => {
  it("is absent unless configured, and fills defaults when it is", () => {
    expect(parseConfig(base, "/etc/tm").p2p).toBeUndefined();
    const p2p = parseConfig({ ...base, p2p: {} }, "/etc/tm").p2p!;
    expect(p2p).toMatchObject({
      listen: ["/ip4/127.0.0.1/tcp/0"],
      announce: [],
      bootstrap: [],
      follow: [],
      keyFile: path.join("/etc/tm/data", "p2p.key"),
      membershipTtlMs: 5_000,
      grantCacheMs: 10_000,
      banMs: 3_600_000,
      maxFrameBytes: 4 * 1024 * 1024,
    });
  });

  it("takes addresses, a key file relative to the config, bootstrap peers and follows", () => {
    const peer = "/ip4/10.0.0.2/tcp/4001/p2p/12D3KooWArpkwjzWdSuRkZA3wBi82XybcdF4vScGjRhFFbohrNbr";
    const p2p = parseConfig(
      {
        ...base,
        p2p: {
          listen: ["/ip4/0.0.0.0/tcp/4001"],
          announce: ["/dns4/oem.example.com/tcp/4001"],
          keyFile: "keys/p2p.key",
          bootstrap: [peer],
          follow: [{ organisation: "Northern Steel Mill", stream: "furnace-1/temperature" }, { organisation: 3, stream: "press-2/force" }],
          syncIntervalMs: 2000,
        },
      },
      "/etc/tm",
    ).p2p!;
    expect(p2p).toMatchObject({ listen: ["/ip4/0.0.0.0/tcp/4001"], announce: ["/dns4/oem.example.com/tcp/4001"], keyFile: "/etc/tm/keys/p2p.key", bootstrap: [peer], syncIntervalMs: 2000 });
    expect(p2p.follow).toEqual([
      { organisation: "Northern Steel Mill", stream: "furnace-1/temperature" },
      { organisation: 3, stream: "press-2/force" },
    ]);
  });

  it("names every problem", () => {
    expect(problems("yes")).toEqual(['p2p: must be an object (got "yes")']);
    expect(problems({ listn: [] })[0]).toMatch(/^p2p\.listn: unknown setting/);
    expect(problems({ listen: ["127.0.0.1:4001"] })).toEqual(['p2p.listen[0]: must be a multiaddr such as "/ip4/127.0.0.1/tcp/4001" (got "127.0.0.1:4001")']);
    expect(problems({ listen: [] })).toEqual(["p2p.listen: must name at least one multiaddr (got [])"]);
    expect(problems({ bootstrap: ["/ip4/10.0.0.2/tcp/4001"] })).toEqual(['p2p.bootstrap[0]: must be a multiaddr ending in /p2p/<peer id> (got "/ip4/10.0.0.2/tcp/4001")']);
    expect(problems({ follow: [{ organisation: 0, stream: "" }] })).toEqual([
      "p2p.follow[0].organisation: must be an organisation's name or numeric id (got 0)",
      'p2p.follow[0].stream: must be a stream id of 1 to 255 bytes (got "")',
    ]);
    expect(problems({ follow: [{ organisation: "A", stream: "s", since: 1 }] })[0]).toMatch(/p2p\.follow\[0\]\.since: unknown setting/);
    expect(problems({ banMs: 5 })).toEqual(["p2p.banMs: must be an integer from 1000 to 2592000000 (got 5)"]);
    // A stream id is bounded in bytes, not characters.
    expect(problems({ follow: [{ organisation: "A", stream: "é".repeat(128) }] })[0]).toMatch(/^p2p\.follow\[0\]\.stream: must be a stream id of 1 to 255 bytes/);
  });
});
