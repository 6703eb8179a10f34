/**
 * Bad configurations get clear errors: every problem of a config file at once, the node key's
 * file or variable, and what only the chain can tell (organisation, chain id), plus the command
 * line's exit codes for them.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, loadNodeKey, parseConfig } from "../../../node/config.ts";
import { type EdgeModule, startNode } from "../../../node/daemon.ts";
import { ORG_NAME, ROOT, type NodeEnv, nodeEnv } from "./support/env.ts";

const KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const valid = () => ({
  organisation: "Delta Machining",
  dataDir: "./data",
  chain: { rpcUrl: "http://127.0.0.1:8545", deployment: "./deployment.json", keyEnv: "NODE_KEY" },
});

/** The problems parseConfig reports for `raw`. */
function problems(raw: unknown): string[] {
  try {
    parseConfig(raw, "/etc/tracemesh");
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("node configuration", () => {
  it("fills defaults and resolves paths against the config file's directory", () => {
    const c = parseConfig({ ...valid(), devices: [{ kind: "opcua" }] }, "/etc/tracemesh", "/etc/tracemesh/node.json");
    expect(c).toMatchObject({
      file: "/etc/tracemesh/node.json",
      organisation: "Delta Machining",
      dataDir: "/etc/tracemesh/data",
      secretFile: "/etc/tracemesh/data/node-secret",
      chain: { deployment: "/etc/tracemesh/deployment.json", key: { env: "NODE_KEY" }, confirmations: 1, maxBatch: 32, retry: { minMs: 500, maxMs: 30_000 } },
      window: { durationMs: 1000, maxReadings: 200_000 },
      ingest: { maxPendingReadings: 65_536, clockToleranceMs: 2000 },
      devices: [{ kind: "opcua" }],
    });
    expect(parseConfig({ ...valid(), organisation: 3, chain: { ...valid().chain, keyEnv: undefined, keyFile: "/k" } }, "/x").chain.key).toEqual({ file: "/k" });
  });

  it("names each problem", () => {
    const cases: [unknown, RegExp][] = [
      [[], /must be a JSON object/],
      [{ ...valid(), organisation: "" }, /organisation: must be the organisation's name or its numeric id/],
      [{ ...valid(), organisation: 1.5 }, /organisation: must be/],
      [{ ...valid(), dataDir: undefined }, /dataDir: must be a non-empty string \(got nothing\)/],
      [{ ...valid(), chain: undefined }, /chain: must be an object with rpcUrl, deployment and keyFile or keyEnv/],
      [{ ...valid(), chain: { ...valid().chain, privateKey: KEY } }, /chain.privateKey: the node's key must not be written in the config/],
      [{ ...valid(), chain: { ...valid().chain, keyFile: "/k" } }, /give exactly one of keyFile .* or keyEnv/],
      [{ ...valid(), chain: { ...valid().chain, keyEnv: undefined } }, /give exactly one of keyFile/],
      [{ ...valid(), chain: { ...valid().chain, keyEnv: "not a name" } }, /keyEnv: must be an environment variable name/],
      [{ ...valid(), chain: { ...valid().chain, rpcUrl: "localhost:8545" } }, /rpcUrl: (is not a URL|must be an http\(s\) URL)/],
      [{ ...valid(), chain: { ...valid().chain, rpcUrl: "ws://127.0.0.1:8546" } }, /rpcUrl: must be an http\(s\) URL/],
      [{ ...valid(), chain: { ...valid().chain, confirmations: 0 } }, /chain.confirmations: must be an integer from 1 to 1000 \(got 0\)/],
      [{ ...valid(), chain: { ...valid().chain, retry: { minMs: 1000, maxMs: 100 } } }, /retry.maxMs: must not be below minMs \(1000\) \(got 100\)/],
      [{ ...valid(), chain: { ...valid().chain, retry: { minMs: 100, max: 1 } } }, /chain.retry.max: unknown setting/],
      [{ ...valid(), chain: { ...valid().chain, rpc: "x" } }, /chain.rpc: unknown setting/],
      [{ ...valid(), windows: { durationMs: 500 } }, /^windows: unknown setting/],
      [{ ...valid(), window: { durationMs: "1000" } }, /window.durationMs: must be an integer from 10 to 3600000 \(got "1000"\)/],
      [{ ...valid(), window: 5 }, /window: must be an object/],
      [{ ...valid(), ingest: { maxPendingReadings: 0 } }, /ingest.maxPendingReadings: must be an integer/],
      [{ ...valid(), devices: {} }, /devices: must be an array/],
    ];
    for (const [raw, re] of cases) {
      const found = problems(raw);
      expect(found.some((p) => re.test(p)), `${JSON.stringify(raw)} -> ${found.join(" | ")}`).toBe(true);
    }
    // A key written in the config is refused without being repeated into logs.
    expect(problems({ ...valid(), chain: { ...valid().chain, privateKey: KEY } }).join("\n")).not.toContain(KEY.slice(2));
    // All problems at once, in one message.
    const many = problems({ organisation: "", chain: { rpcUrl: "nope" }, window: { maxReadings: -1 } });
    expect(many.length).toBeGreaterThanOrEqual(5);
    expect(() => parseConfig({ organisation: "" }, "/", "/etc/node.json")).toThrow(/^invalid node configuration \/etc\/node.json:\n {2}- /);
  });

  describe("files and keys", () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), "tracemesh-config-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("reports a missing or unparsable config file", () => {
      expect(() => loadConfig(path.join(dir, "missing.json"))).toThrow(/missing.json:\n {2}- cannot read the file: it does not exist/);
      writeFileSync(path.join(dir, "broken.json"), "{ organisation: 1 }");
      expect(() => loadConfig(path.join(dir, "broken.json"))).toThrow(/not valid JSON/);
    });

    it("loads the key from an owner-only file or a variable, and refuses anything else", () => {
      const file = path.join(dir, "node.key");
      const withFile = parseConfig({ ...valid(), chain: { ...valid().chain, keyEnv: undefined, keyFile: file } }, dir);
      expect(() => loadNodeKey(withFile)).toThrow(/chain.keyFile .*node.key: cannot read it \(ENOENT\)/);
      writeFileSync(file, KEY + "\n");
      chmodSync(file, 0o644);
      expect(() => loadNodeKey(withFile)).toThrow(/readable by group or others \(mode 644\); run chmod 600 on it/);
      chmodSync(file, 0o600);
      expect(loadNodeKey(withFile).privateKey).toBe(KEY);
      writeFileSync(file, "hello");
      expect(() => loadNodeKey(withFile)).toThrow(/does not hold a private key/);

      const withEnv = parseConfig(valid(), dir);
      expect(() => loadNodeKey(withEnv, {})).toThrow(/chain.keyEnv NODE_KEY: the environment variable is not set/);
      expect(loadNodeKey(withEnv, { NODE_KEY: KEY.slice(2) }).privateKey).toBe(KEY);
    });
  });

  describe("what only the chain can tell", () => {
    let env: NodeEnv;
    beforeAll(async () => {
      env = await nodeEnv();
    });
    afterAll(async () => env?.cleanup());

    const start = async (overrides: Record<string, unknown>, edge?: EdgeModule) => {
      env.writeConfig(overrides);
      try {
        const node = await startNode(loadConfig(env.configFile), { log: () => {}, ...(edge ? { edge } : {}) });
        await node.stop();
        return undefined;
      } catch (e) {
        return e as Error;
      }
    };

    it("refuses a node key of another organisation, a chain that is not the deployment's, and a missing deployment record", async () => {
      expect(await start({ organisation: "Atlas Motors" })).toMatchObject({
        name: "ConfigError",
        message: expect.stringMatching(/organisation: the node key 0x\w+ belongs to "Delta Machining" \(#1\), not "Atlas Motors"/),
      });
      expect((await start({ organisation: 2 }))?.message).toMatch(/belongs to organisation #1, not #2/);
      writeFileSync(path.join(env.dir, "other-chain.json"), JSON.stringify({ ...env.deployment, chainId: 1 }));
      expect((await start({ chain: { rpcUrl: env.chain.url, deployment: "./other-chain.json", keyFile: "./node.key" } }))?.message).toMatch(
        /serves chain 31337, but the deployment record is for chain 1/,
      );
      expect((await start({ chain: { rpcUrl: env.chain.url, deployment: "./nowhere.json", keyFile: "./node.key" } }))?.message).toMatch(
        /chain.deployment: cannot read the deployment record/,
      );
      expect(await start({ organisation: ORG_NAME })).toBeUndefined();
      expect(await start({ organisation: 1 })).toBeUndefined();
    });

    it("names the device whose configuration the edge module refuses", async () => {
      const edge: EdgeModule = {
        parseDeviceConfig(raw) {
          if (!(raw as { endpoint?: string }).endpoint) throw new Error("endpoint is required");
          return raw;
        },
        createAdapter: () => {
          throw new Error("not reached");
        },
      };
      const err = await start({ devices: [{ endpoint: "opc.tcp://press-1:4840" }, { name: "press-2" }] }, edge);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual(["devices[1]: endpoint is required"]);
      // The real edge adapters' parser (node/edge), through the same path.
      const real = await start({ devices: [{ kind: "opcua", device: "furnace-1" }, { kind: "telepathy", device: "x" }] });
      expect(real).toBeInstanceOf(ConfigError);
      const found = (real as ConfigError).problems;
      expect(found).toHaveLength(2);
      expect(found[0]).toMatch(/^devices\[0\]: device "furnace-1": /);
      expect(found[1]).toMatch(/^devices\[1\]: device "x": .*kind/);
    });
  });

  it("the command line exits 2 with the problem for bad usage or configuration", () => {
    const cli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "node/cli.ts"), ...args], { cwd: ROOT, encoding: "utf8" });
    const missing = cli("start", "--config", "/nonexistent/node.json");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/invalid node configuration \/nonexistent\/node.json:\n {2}- cannot read the file: it does not exist/);
    const noConfig = cli("start");
    expect(noConfig.status).toBe(2);
    expect(noConfig.stderr).toMatch(/start needs --config FILE/);
    const unknown = cli("frobnicate", "--config", "x");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
  });
});
