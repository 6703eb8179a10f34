/**
 * The member configuration is read by the one config reader: the node's sections and the
 * member's own (gateway, parties) against one schema, every problem named with its field.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadMemberConfig } from "../../member/config.ts";
import { ConfigError } from "../../node/config.ts";

const dir = mkdtempSync(path.join(tmpdir(), "tracemesh-member-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const node = {
  organisation: "Delta Machining",
  dataDir: "./data",
  chain: { rpcUrl: "http://127.0.0.1:8545", deployment: "./deployment.json", keyEnv: "NODE_KEY" },
};

function write(name: string, value: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

function problemsOf(file: string): string[] {
  try {
    loadMemberConfig(file);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).message).toContain("invalid member configuration");
    return [...(e as ConfigError).problems];
  }
  throw new Error("expected a ConfigError");
}

describe("member configuration", () => {
  it("fills the gateway's defaults, resolves its paths and canonicalises the parties", () => {
    const c = loadMemberConfig(
      write("member.json", {
        ...node,
        gateway: { port: 8603, tokenSecretFile: "./secret", publicHost: ["trace.example.com", "https://trace.example.org"], metricsTokenFile: "./metrics-token" },
        parties: { "urn:epc:id:pgln:4012345.00000": "Nordstahl Steel Mill", "urn:epc:id:pgln:0614141.00000": 4 },
      }),
    );
    expect(c.gateway).toEqual({
      host: "127.0.0.1",
      port: 8603,
      explorer: true,
      metricsLoopback: false,
      webhookDestinations: [],
      publicHost: ["trace.example.com", "https://trace.example.org"],
      tokenSecretFile: path.join(dir, "secret"),
      metricsTokenFile: path.join(dir, "metrics-token"),
    });
    expect(c.node.dataDir).toBe(path.join(dir, "data"));
    expect(c.node.organisation).toBe("Delta Machining");
    expect([...c.parties.values()]).toEqual(["Nordstahl Steel Mill", 4]);
    expect([...c.parties.keys()].every((k) => k.startsWith("https://id.gs1.org/417/"))).toBe(true);
  });

  it("takes a node configuration with no member sections", () => {
    const c = loadMemberConfig(write("bare.json", node));
    expect(c.gateway.port).toBe(8601);
    expect(c.parties.size).toBe(0);
  });

  it("names every wrong field of the member's sections in one error", () => {
    const problems = problemsOf(write("bad.json", { ...node, gateway: { port: 70000, hst: "x", explorer: "yes", webhookDestinations: ["ftp://erp.example.com"] }, parties: { "urn:epc:id:pgln:4012345.00000": 0 } }));
    expect(problems.join("\n")).toMatch(/gateway\.port/);
    expect(problems.join("\n")).toMatch(/gateway.*hst/);
    expect(problems.join("\n")).toMatch(/gateway\.explorer/);
    expect(problems.join("\n")).toMatch(/gateway\.webhookDestinations/);
    expect(problems.join("\n")).toMatch(/parties\["urn:epc:id:pgln:4012345\.00000"\]/);
  });

  it("names a party that is no GS1 identifier, and the node's own problems", () => {
    const problems = problemsOf(write("party.json", { ...node, chain: { ...node.chain, keyEnv: undefined }, parties: { "not an id": "Atlas" } }));
    expect(problems.join("\n")).toMatch(/chain.*keyFile.*keyEnv/);
    const partyProblems = problemsOf(write("party2.json", { ...node, parties: { "not an id": "Atlas" } }));
    expect(partyProblems).toEqual([expect.stringMatching(/^parties\["not an id"\]: is not a GS1 party or location identifier/)]);
  });

  it("refuses an unknown top-level section", () => {
    expect(problemsOf(write("extra.json", { ...node, gatewy: {} })).join("\n")).toMatch(/gatewy/);
  });
});
