import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Role, roleMask } from "../../lib/consortium.ts";
import { main } from "../../scripts/besu/generate.ts";
import { generateNodeKey } from "../../scripts/besu/keys.ts";
import { DEFAULTS, OrgsFileError, loadOrgsFile, parseOrgs } from "../../scripts/besu/orgs.ts";

const A1 = "0x1111111111111111111111111111111111111111";
const A2 = "0x2222222222222222222222222222222222222222";

function org(name: string, account: string, node: Record<string, unknown> = { host: "10.0.0.1" }) {
  return { name, roles: ["supplier"], accounts: [account], node };
}

function file(orgs: unknown[], extra: Record<string, unknown> = {}) {
  return { chainId: 20260, organisations: orgs, ...extra };
}

/** The problems an invalid file yields (fails the test when the file is accepted). */
function problems(input: unknown): string[] {
  try {
    parseOrgs(input, "orgs.json");
  } catch (e) {
    expect(e).toBeInstanceOf(OrgsFileError);
    expect((e as OrgsFileError).message).toContain("orgs.json is not a valid organisations file");
    return (e as OrgsFileError).problems;
  }
  throw new Error("the organisations file was accepted");
}

describe("organisations file", () => {
  it("fills in defaults: consensus, governance, gas, addresses, one validator per organisation", () => {
    const spec = parseOrgs(file([org("Nordic Steel", A1), { ...org("Atlas Motors", A2), roles: ["OEM", "logistics"] }]));
    expect(spec.chainId).toBe(20260);
    expect(spec.consensus).toEqual({ blockPeriodSeconds: 2, requestTimeoutSeconds: 4, epochLength: 30_000 });
    expect(spec.governance).toEqual({ quorumBps: 5001, votingPeriodSeconds: 259_200 });
    expect(spec.gasLimit).toBe(0x29b92700n);
    expect(spec.consortiumAddress).toBe(DEFAULTS.consortiumAddress);
    expect(spec.orgs.map((o) => o.slug)).toEqual(["nordic-steel", "atlas-motors"]);
    expect(spec.orgs[1]!.roles).toEqual([Role.Manufacturer, Role.Logistics]);
    expect(spec.orgs[1]!.roleMask).toBe(roleMask(Role.Manufacturer, Role.Logistics));
    // Two nodes on one host get distinct default ports.
    expect(spec.orgs.map((o) => [o.nodes[0]!.p2pPort, o.nodes[0]!.rpcPort, o.nodes[0]!.wsPort, o.nodes[0]!.validator])).toEqual([
      [30303, 8545, 8546, true],
      [30304, 8555, 8556, true],
    ]);
    expect(spec.warnings.join()).toMatch(/2 validator\(s\).*from 4 validators/);
  });

  it("keeps a company's own public key and peer id, and lets an organisation run extra non-validating nodes", () => {
    const key = generateNodeKey();
    const spec = parseOrgs(
      file([
        {
          name: "Certa Lab",
          roles: ["lab"],
          accounts: [A1],
          nodes: [{ host: "lab.example.org", publicKey: key.enodeId, peerId: "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N" }, { host: "10.0.0.9" }],
        },
      ]),
    );
    const [validator, extra] = spec.orgs[0]!.nodes;
    expect(validator!.publicKey?.address).toBe(key.address);
    expect(validator!.peerId).toBe("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N");
    expect([validator!.validator, extra!.validator]).toEqual([true, false]);
    expect([validator!.dir, extra!.dir]).toEqual(["certa-lab-1", "certa-lab-2"]);
    expect(spec.warnings.join()).toMatch(/DNS names/);
  });

  it("reports every problem at once, each with its JSON path", () => {
    const found = problems(
      file(
        [
          { name: "", roles: ["smelter", "constructor"], accounts: ["0x12"], node: { host: "0.0.0.0", p2pPort: 70000 } },
          { name: "Atlas", roles: [], accounts: [], node: { host: "bad host!", validator: "yes" } },
        ],
        { chainId: 1 },
      ),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^\$\.chainId: 1 is Ethereum mainnet's chain id/),
        expect.stringMatching(/^\$\.organisations\[0\]\.name: must be a non-empty string/),
        expect.stringMatching(/^\$\.organisations\[0\]\.roles\[0\]: unknown role "smelter" \(expected one of: supplier, manufacturer/),
        expect.stringMatching(/^\$\.organisations\[0\]\.roles\[1\]: unknown role "constructor"/),
        expect.stringMatching(/^\$\.organisations\[0\]\.accounts\[0\]: must be a 20-byte 0x address \(got "0x12"\)/),
        expect.stringMatching(/^\$\.organisations\[0\]\.node\.host: 0\.0\.0\.0 is a listen address/),
        expect.stringMatching(/^\$\.organisations\[0\]\.node\.p2pPort: must be an integer from 1 to 65535 \(got 70000\)/),
        expect.stringMatching(/^\$\.organisations\[1\]\.roles: must be a non-empty array/),
        expect.stringMatching(/^\$\.organisations\[1\]\.accounts: must be a non-empty array/),
        expect.stringMatching(/^\$\.organisations\[1\]\.node\.host: "bad host!" is neither an IP address nor a DNS name/),
        expect.stringMatching(/^\$\.organisations\[1\]\.node\.validator: must be true or false/),
      ]),
    );
  });

  it.each([
    ["a missing chain id", { organisations: [org("A", A1)] }, /\$\.chainId: is required/],
    ["no organisations", { chainId: 5, organisations: [] }, /\$\.organisations: must be a non-empty array/],
    ["a misspelt key", file([{ ...org("A", A1), acounts: [A2] }]), /\$\.organisations\[0\]\.acounts: unknown setting/],
    ["a bad checksum", file([org("A", "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed")]), /wrong EIP-55 checksum/],
    ["the zero address", file([org("A", "0x0000000000000000000000000000000000000000")]), /zero address cannot be used/],
    ["an account listed twice", file([org("A", A1), org("B", A1)]), /\$\.organisations\[1\]\.accounts\[0\]: .* already listed at \$\.organisations\[0\]\.accounts\[0\]/],
    ["a duplicate name", file([org("Atlas", A1), org("atlas", A2, { host: "10.0.0.2" })]), /"atlas" is already used by \$\.organisations\[0\]/],
    ["a role listed twice", file([{ ...org("A", A1), roles: ["supplier", "Supplier"] }]), /role "Supplier" is listed twice/],
    ["no node", file([{ name: "A", roles: ["auditor"], accounts: [A1] }]), /\$\.organisations\[0\]\.node: is required/],
    ["both node and nodes", file([{ ...org("A", A1), nodes: [{ host: "10.0.0.3" }] }]), /give either "node" or "nodes"/],
    [
      "two validators in one organisation",
      file([{ name: "A", roles: ["supplier"], accounts: [A1], nodes: [{ host: "10.0.0.1", validator: true }, { host: "10.0.0.2", validator: true }] }]),
      /at most one validator per organisation/,
    ],
    ["no validator at all", file([org("A", A1, { host: "10.0.0.1", validator: false })]), /no node is a validator/],
    ["a port clash on one host", file([org("A", A1, { host: "10.0.0.1", p2pPort: 8545 })]), /port 8545 on 10\.0\.0\.1 is already used/],
    ["a public key off the curve", file([org("A", A1, { host: "10.0.0.1", publicKey: `0x${"11".repeat(64)}` })]), /not a point on secp256k1/],
    ["a fake peer id", file([org("A", A1, { host: "10.0.0.1", peerId: "12D3KooWsteel" })]), /"12D3KooWsteel" is not a libp2p peer id/],
    ["a quorum beyond 100%", file([org("A", A1)], { governance: { quorumBps: 10001 } }), /quorumBps: must be an integer from 1 to 10000/],
    ["a voting period under 5 minutes", file([org("A", A1)], { governance: { votingPeriodSeconds: 60 } }), /votingPeriodSeconds: must be an integer from 300 to/],
    ["a precompile address", file([org("A", A1)], { consortiumAddress: "0x0000000000000000000000000000000000000009" }), /precompile range/],
    ["a multi-line name", file([org("A\nrpc-http-host=\"0.0.0.0\"", A1)]), /must be one line/],
    ["a non-object", [1, 2], /\$: must be an object/],
  ])("refuses %s", (_what, input, message) => {
    expect(problems(input).join("\n")).toMatch(message);
  });

  it("refuses the same node key or peer id twice", () => {
    const key = generateNodeKey();
    const found = problems(
      file([
        org("A", A1, { host: "10.0.0.1", publicKey: key.publicKey, peerId: "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N" }),
        org("B", A2, { host: "10.0.0.2", publicKey: key.enodeId, peerId: "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N" }),
      ]),
    );
    expect(found.join("\n")).toMatch(/\$\.organisations\[1\]\.node\.publicKey: the same node key is already used/);
    expect(found.join("\n")).toMatch(/\$\.organisations\[1\]\.node\.peerId: the same peer id is already used/);
  });
});

describe("organisations file on disk and through the CLI", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "tracemesh-orgs-"));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it("accepts the example file shipped with the generator", async () => {
    const spec = await loadOrgsFile("scripts/besu/example-orgs.json");
    expect(spec.orgs.map((o) => o.slug)).toEqual(["northern-steel-mill", "atlas-motors", "certa-test-lab", "market-surveillance-authority"]);
    expect(spec.warnings).toEqual([]);
  });

  it("names unreadable and non-JSON files", async () => {
    await expect(loadOrgsFile(path.join(dir, "missing.json"))).rejects.toThrow(/missing\.json .*cannot read the file: it does not exist/s);
    const broken = path.join(dir, "broken.json");
    await writeFile(broken, "{ chainId: 1 ");
    await expect(loadOrgsFile(broken)).rejects.toThrow(/broken\.json .*not valid JSON/s);
  });

  it("exits non-zero with the problems and no stack trace, and writes nothing", async () => {
    const bad = path.join(dir, "bad.json");
    await writeFile(bad, JSON.stringify(file([org("A", "0x12")])));
    const out = path.join(dir, "out");
    const tsx = path.resolve("node_modules/.bin/tsx");
    const run = spawnSync(tsx, ["scripts/besu/generate.ts", "--orgs", bad, "--out", out], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("bad.json is not a valid organisations file");
    expect(run.stderr).toContain('$.organisations[0].accounts[0]: must be a 20-byte 0x address (got "0x12")');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });

  it("explains its usage when arguments are missing or unknown", async () => {
    const errors: string[] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((m: string) => void errors.push(m));
    try {
      expect(await main(["--orgs", "x.json"])).toBe(2);
      expect(await main(["--orgs", "x.json", "--out", "d", "--force"])).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(errors[0]).toContain("--orgs and --out are required");
    expect(errors[1]).toMatch(/Unknown option '--force'/);
    expect(errors[1]).toContain("Usage:\n  tsx scripts/besu/generate.ts --orgs");
  });
});
