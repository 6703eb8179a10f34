/**
 * End to end: the CLI writes a network for five organisations, then the generated genesis is
 * loaded into a fresh local EVM (`anvil --init genesis.json`) and the predeployed Consortium is
 * asked what Besu will ask it: getValidators(), connectionAllowed(), transactionAllowed().
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Contract, JsonRpcProvider, SigningKey, Wallet, computeAddress, getAddress } from "ethers";
import { ProposalKind, ProposalStatus, Role, proposalData, roleMask } from "../../lib/consortium.ts";
import type { Consortium } from "../../lib/contracts/types/index.js";
import { type RunningAnvil, startAnvil } from "../../scripts/local-chain/anvil.ts";
import { besuConfigToml } from "../../scripts/besu/config.ts";
import { LATER_MILESTONES } from "../../scripts/besu/evm.ts";
import { decodeQbftExtraData, sortValidators } from "../../scripts/besu/extradata.ts";
import { BFT_MIX_HASH, type BesuGenesis } from "../../scripts/besu/genesis.ts";
import { generateNodeKey, libp2pIdentityFromProtobuf, nodeKeyFromPrivateKey } from "../../scripts/besu/keys.ts";
import { main } from "../../scripts/besu/generate.ts";
import { prepareJoin } from "../../scripts/besu/join.ts";
import { generateNetwork } from "../../scripts/besu/network.ts";
import { parseOrgs } from "../../scripts/besu/orgs.ts";
import { ERC1967_IMPLEMENTATION_SLOT, loadArtifact } from "../../scripts/besu/predeploy.ts";

const CONSORTIUM = "0x0000000000000000000000000000000000001000";
const IMPLEMENTATION = "0x0000000000000000000000000000000000001001";
const accounts = Array.from({ length: 6 }, () => Wallet.createRandom().address);
/** The lab keeps its own node key and sends only the public part. */
const labKey = generateNodeKey();
const LAB_PEER = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";

const ORGS = {
  chainId: 31_999,
  governance: { quorumBps: 6000, votingPeriodSeconds: 86_400 },
  organisations: [
    { name: "Northern Steel Mill", roles: ["supplier"], accounts: [accounts[0], accounts[1]], node: { host: "127.0.0.1" } },
    { name: "Atlas Motors", roles: ["manufacturer"], accounts: [accounts[2]], node: { host: "127.0.0.1" } },
    { name: "Certa Test Lab", roles: ["certifier"], accounts: [accounts[3]], node: { host: "127.0.0.1", publicKey: labKey.publicKey, peerId: LAB_PEER } },
    { name: "Market Surveillance Authority", roles: ["regulator"], accounts: [accounts[4]], node: { host: "192.0.2.10", p2pPort: 30310 } },
    { name: "Independent Auditors", roles: ["auditor"], accounts: [accounts[5]], node: { host: "192.0.2.11", validator: false } },
  ],
};
const DIRS = ["northern-steel-mill", "atlas-motors", "certa-test-lab", "market-surveillance-authority", "independent-auditors"];

interface NodeJson {
  organisation: string;
  validator: boolean;
  validatorAddress: string | null;
  nodeAddress: string;
  enodeId: string;
  enodeUrl: string;
  peerId: string;
}

let work: string;
let out: string;
let cli: { status: number | null; stdout: string; stderr: string };
let genesis: BesuGenesis;
let nodes: NodeJson[];
let anvil: RunningAnvil;
let provider: JsonRpcProvider;
let consortium: Consortium;
let implementation: Consortium;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "tracemesh-besu-"));
  out = path.join(work, "net");
  const orgsFile = path.join(work, "orgs.json");
  await writeFile(orgsFile, JSON.stringify(ORGS, null, 2));
  const run = spawnSync(path.resolve("node_modules/.bin/tsx"), ["scripts/besu/generate.ts", "--orgs", orgsFile, "--out", out], {
    encoding: "utf8",
  });
  cli = { status: run.status, stdout: run.stdout, stderr: run.stderr };
  if (run.status !== 0) throw new Error(`generator failed: ${run.stderr}`);
  genesis = JSON.parse(await readFile(path.join(out, "genesis.json"), "utf8")) as BesuGenesis;
  nodes = await Promise.all(DIRS.map(async (d) => JSON.parse(await readFile(path.join(out, "nodes", d, "node.json"), "utf8")) as NodeJson));

  anvil = await startAnvil(["--init", path.join(out, "genesis.json"), "--hardfork", "cancun", "--chain-id", String(ORGS.chainId)]);
  provider = new JsonRpcProvider(anvil.url, ORGS.chainId, { staticNetwork: true, cacheTimeout: -1 });
  const { abi } = await loadArtifact("Consortium");
  consortium = new Contract(CONSORTIUM, abi, provider) as unknown as Consortium;
  implementation = new Contract(IMPLEMENTATION, abi, provider) as unknown as Consortium;
});

afterAll(async () => {
  provider?.destroy();
  await anvil?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const validatorNodes = () => nodes.filter((n) => n.validator);

describe("generated node keys", () => {
  it("derive each enode id and validator address as ethers does, with keys in 0600 files", async () => {
    for (const [i, dir] of DIRS.entries()) {
      const bundle = path.join(out, "nodes", dir);
      const pub = (await readFile(path.join(bundle, "key.pub"), "utf8")).trim();
      expect(pub).toBe(`0x${nodes[i]!.enodeId}`);
      expect(nodes[i]!.nodeAddress).toBe(computeAddress(`0x04${nodes[i]!.enodeId}`));
      if (dir === "certa-test-lab") {
        // The company's own key: no private key is generated or written.
        expect(existsSync(path.join(bundle, "key"))).toBe(false);
        expect(existsSync(path.join(bundle, "libp2p.key"))).toBe(false);
        expect(nodes[i]!.enodeId).toBe(labKey.enodeId);
        expect(nodes[i]!.peerId).toBe(LAB_PEER);
        continue;
      }
      const keyFile = path.join(bundle, "key");
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      const privateKey = await readFile(keyFile, "utf8");
      expect(privateKey).toMatch(/^0x[0-9a-f]{64}$/);
      const sk = new SigningKey(privateKey);
      expect(nodes[i]!.enodeId).toBe(sk.publicKey.slice(4));
      expect(nodes[i]!.nodeAddress).toBe(computeAddress(sk.publicKey));
      expect(nodes[i]!.enodeUrl).toBe(`enode://${sk.publicKey.slice(4)}@${ORGS.organisations[i]!.node.host}:${nodes[i]!.enodeUrl.split(":").pop()}`);
      const libp2pFile = path.join(bundle, "libp2p.key");
      expect((await stat(libp2pFile)).mode & 0o777).toBe(0o600);
      expect(libp2pIdentityFromProtobuf(new Uint8Array(await readFile(libp2pFile))).peerId).toBe(nodes[i]!.peerId);
    }
    expect(nodes.map((n) => n.validator)).toEqual([true, true, true, true, false]);
  });

  it("never prints a private key, and marks the secrets", async () => {
    expect(cli.status).toBe(0);
    for (const dir of DIRS) {
      const keyFile = path.join(out, "nodes", dir, "key");
      if (!existsSync(keyFile)) continue;
      const secret = (await readFile(keyFile, "utf8")).slice(2);
      expect(cli.stdout + cli.stderr).not.toContain(secret);
      const libp2p = (await readFile(path.join(out, "nodes", dir, "libp2p.key"))).toString("hex").slice(8, 72);
      expect(cli.stdout + cli.stderr).not.toContain(libp2p);
    }
    expect(cli.stdout).toContain("Certa Test Lab -> nodes/certa-test-lab");
    expect(cli.stdout).toContain("company holds the private key");
    expect(cli.stderr).toBe("");
    expect(await readFile(path.join(out, "SECRETS.txt"), "utf8")).toMatch(/PRIVATE KEYS generated by scripts\/besu\/generate\.ts/);
    expect((await readFile(path.join(out, ".gitignore"), "utf8")).split("\n")).toEqual(expect.arrayContaining(["key", "libp2p.key"]));
  });
});

describe("generated genesis", () => {
  it("activates every fork through cancun at genesis and none after, with zero base fee", () => {
    const c = genesis.config;
    for (const k of [
      "homesteadBlock",
      "eip150Block",
      "eip155Block",
      "eip158Block",
      "byzantiumBlock",
      "constantinopleBlock",
      "petersburgBlock",
      "istanbulBlock",
      "berlinBlock",
      "londonBlock",
      "shanghaiTime",
      "cancunTime",
    ]) {
      expect(c[k], k).toBe(0);
    }
    for (const k of LATER_MILESTONES) expect(c[k], k).toBeUndefined();
    expect(Object.keys(c).some((k) => /prague|osaka|terminalTotalDifficulty/i.test(k))).toBe(false);
    expect(c.chainId).toBe(ORGS.chainId);
    expect(c.zeroBaseFee).toBe(true);
    expect(genesis.baseFeePerGas).toBe("0x0");
    expect(BigInt(genesis.gasLimit)).toBeGreaterThanOrEqual(100_000_000n);
  });

  it("configures QBFT with the founders' validators, sorted as Besu sorts them, then the Consortium from block 1", () => {
    expect(genesis.config.qbft).toEqual({ blockperiodseconds: 2, epochlength: 30_000, requesttimeoutseconds: 4 });
    // Timestamp 0: "block 1" selects the same blocks whether Besu reads it as a number or a time.
    expect(genesis.timestamp).toBe("0x0");
    expect(genesis.difficulty).toBe("0x1");
    expect(genesis.mixHash).toBe(BFT_MIX_HASH);
    expect(genesis.config.transitions).toEqual({
      qbft: [{ block: 1, validatorselectionmode: "contract", validatorcontractaddress: CONSORTIUM }],
    });
    const extra = decodeQbftExtraData(genesis.extraData);
    const expected = sortValidators(validatorNodes().map((n) => n.nodeAddress));
    expect(extra.validators).toEqual(expected);
    expect(extra.validators.map((v) => v.toLowerCase())).toEqual(extra.validators.map((v) => v.toLowerCase()).sort());
    expect(extra.validators).not.toContain(nodes[4]!.nodeAddress);
    expect(extra.round).toBe(0);
    expect(extra.seals).toEqual([]);
  });

  it("predeploys the Consortium proxy, its implementation and the codes it delegates to, and funds only founder accounts", async () => {
    const delegated = [await implementation.actions(), await implementation.besuPermissioning()].map((a) => a.toLowerCase());
    expect(Object.keys(genesis.alloc).sort()).toEqual([CONSORTIUM, IMPLEMENTATION, ...delegated, ...accounts.map((a) => a.toLowerCase())].sort());
    for (const a of [CONSORTIUM, IMPLEMENTATION, ...delegated]) {
      expect(genesis.alloc[a]!.code).toMatch(/^0x[0-9a-f]{100,}$/);
      expect(genesis.alloc[a]!.nonce).toBe("0x1");
      expect(genesis.alloc[a]!.balance).toBe("0x0");
    }
    for (const a of accounts) expect(BigInt(genesis.alloc[a.toLowerCase()]!.balance)).toBe(10n ** 24n);
  });

  it("gives every node bundle the same genesis and a Besu config that points at the Consortium", async () => {
    const genesisText = await readFile(path.join(out, "genesis.json"), "utf8");
    for (const [i, dir] of DIRS.entries()) {
      const bundle = path.join(out, "nodes", dir);
      expect(await readFile(path.join(bundle, "genesis.json"), "utf8")).toBe(genesisText);
      const toml = await readFile(path.join(bundle, "config.toml"), "utf8");
      for (const line of [
        'genesis-file="genesis.json"',
        'node-private-key-file="key"',
        'rpc-http-host="127.0.0.1"',
        'rpc-ws-host="127.0.0.1"',
        "min-gas-price=0",
        // A simulation cannot run unbounded (issue 12, finding 4).
        "rpc-gas-cap=50000000",
        "permissions-nodes-contract-enabled=true",
        `permissions-nodes-contract-address="${CONSORTIUM}"`,
        "permissions-nodes-contract-version=2",
        "permissions-accounts-contract-enabled=true",
        `permissions-accounts-contract-address="${CONSORTIUM}"`,
      ]) {
        expect(toml.split("\n"), `${dir}: ${line}`).toContain(line);
      }
      const self = nodes[i]!;
      const others = nodes.filter((n) => n !== self);
      // Bootnodes: the other validators; static nodes: every other node; never the node itself.
      const bootnodes = /bootnodes=\[\n([^\]]*)\n\]/.exec(toml)![1]!.split(",\n").map((l) => JSON.parse(l.trim()) as string);
      expect(bootnodes.sort()).toEqual(others.filter((n) => n.validator).map((n) => n.enodeUrl).sort());
      const staticNodes = JSON.parse(await readFile(path.join(bundle, "static-nodes.json"), "utf8")) as string[];
      expect(staticNodes.sort()).toEqual(others.map((n) => n.enodeUrl).sort());
    }
    // The three nodes on 127.0.0.1 bind nine distinct ports.
    const ports: number[] = [];
    for (const d of DIRS.slice(0, 3)) {
      const toml = await readFile(path.join(out, "nodes", d, "config.toml"), "utf8");
      for (const m of toml.matchAll(/^(?:p2p|rpc-http|rpc-ws)-port=(\d+)$/gm)) ports.push(Number(m[1]));
    }
    expect(ports).toHaveLength(9);
    expect(new Set(ports).size).toBe(9);
  });
});

describe("the predeployed Consortium in a local EVM loaded from the genesis", () => {
  it("answers getValidators() with the founders' validator addresses", async () => {
    const validators = (await consortium.getValidators()).map((v) => getAddress(v));
    expect(validators).toEqual(validatorNodes().map((n) => n.nodeAddress));
    expect(sortValidators(validators)).toEqual(decodeQbftExtraData(genesis.extraData).validators);
  });

  it("answers connectionAllowed for founders' enodes, whatever their case or prefix, and refuses others", async () => {
    for (const n of nodes) {
      const [host, port] = n.enodeUrl.split("@")[1]!.split(":");
      expect(await consortium.connectionAllowed(n.enodeId, host!, Number(port))).toBe(true);
      expect(await consortium.connectionAllowed(`0x${n.enodeId.toUpperCase()}`, "10.9.9.9", 1)).toBe(true);
    }
    expect(await consortium.connectionAllowed(generateNodeKey().enodeId, "127.0.0.1", 30303)).toBe(false);
    expect(await consortium.connectionAllowed("not-an-enode", "", 0)).toBe(false);
  });

  it("answers transactionAllowed for founders' accounts only", async () => {
    for (const a of accounts) expect(await consortium.transactionAllowed(a, CONSORTIUM, 0, 0, 0, "0x")).toBe(true);
    expect(await consortium.transactionAllowed(Wallet.createRandom().address, CONSORTIUM, 0, 0, 0, "0x")).toBe(false);
    for (const n of nodes) expect(await consortium.transactionAllowed(n.nodeAddress, CONSORTIUM, 0, 0, 0, "0x")).toBe(false);
  });

  it("holds the founders, roles, accounts, node identities and governance written by initialize", async () => {
    expect(await consortium.orgCount()).toBe(5n);
    expect(await consortium.quorumBps()).toBe(6000n);
    expect(await consortium.votingPeriod()).toBe(86_400n);
    const roles = [Role.Supplier, Role.Manufacturer, Role.Certifier, Role.Regulator, Role.Auditor];
    for (let id = 1; id <= 5; id++) {
      const [name, status, mask] = await consortium.org(id);
      expect([name, Number(status), mask]).toEqual([ORGS.organisations[id - 1]!.name, 1, roleMask(roles[id - 1]!)]);
      expect(await consortium.accountsOf(id)).toEqual(ORGS.organisations[id - 1]!.accounts);
      const [nodeId] = await consortium.nodesOf(id);
      const n = await consortium.node(nodeId!);
      expect(n.enodeId).toBe(nodes[id - 1]!.enodeId);
      expect(n.peerId).toBe(nodes[id - 1]!.peerId);
      expect(n.validator).toBe(nodes[id - 1]!.validator ? nodes[id - 1]!.nodeAddress : "0x0000000000000000000000000000000000000000");
      expect(await consortium.isMemberPeer(nodes[id - 1]!.peerId)).toBe(true);
    }
  });

  it("is a working UUPS proxy whose initializers cannot run again", async () => {
    const slot = await provider.getStorage(CONSORTIUM, ERC1967_IMPLEMENTATION_SLOT);
    expect(getAddress(`0x${slot.slice(26)}`)).toBe(IMPLEMENTATION);
    // proxiableUUID is `notDelegated`: it answers only if the relocated implementation knows its own address.
    expect(await implementation.proxiableUUID()).toBe(ERC1967_IMPLEMENTATION_SLOT);
    await expect(consortium.proxiableUUID()).rejects.toThrow(/UUPSUnauthorizedCallContext|revert/);
    const errorSelector = consortium.interface.getError("InvalidInitialization")!.selector;
    for (const target of [consortium, implementation]) {
      await expect(target.initialize.staticCall([], 5001, 86_400)).rejects.toMatchObject({ data: errorSelector });
    }
  });
});

describe("re-running the generator", () => {
  it("keeps every key and reproduces the same genesis", async () => {
    const before = await readFile(path.join(out, "genesis.json"), "utf8");
    const keysBefore = await readdir(path.join(out, "nodes", DIRS[0]!));
    const spec = parseOrgs(ORGS);
    const net = await generateNetwork(spec, { outDir: out });
    expect(await readFile(path.join(out, "genesis.json"), "utf8")).toBe(before);
    expect(net.nodes.map((n) => n.nodeKey)).toEqual(["kept", "kept", "company", "kept", "kept"]);
    expect(net.nodes.map((n) => n.libp2pKey)).toEqual(["kept", "kept", "company", "kept", "kept"]);
    expect((await readdir(path.join(out, "nodes", DIRS[0]!))).sort()).toEqual(keysBefore.sort());
    const key = nodeKeyFromPrivateKey(await readFile(path.join(out, "nodes", DIRS[0]!, "key"), "utf8"));
    expect(key.address).toBe(nodes[0]!.nodeAddress);
  });

  it("refuses a kept key that contradicts the public key now given for the node", async () => {
    const other = generateNodeKey();
    const changed = structuredClone(ORGS) as typeof ORGS;
    (changed.organisations[0]!.node as Record<string, unknown>).publicKey = other.publicKey;
    await expect(generateNetwork(parseOrgs(changed), { outDir: out })).rejects.toThrow(/does not belong to the publicKey given for northern-steel-mill/);
  });
});

describe("config.toml without onchain permissioning", () => {
  it("leaves the permissions-* options out but says how to gate peers and accounts", () => {
    const toml = besuConfigToml({
      orgName: "A",
      dir: "a",
      host: "a.example.org",
      p2pPort: 30303,
      rpcPort: 8545,
      wsPort: 8546,
      validator: true,
      bootnodes: [],
      consortiumAddress: CONSORTIUM,
      permissioning: false,
      dnsEnabled: true,
    });
    expect(toml).not.toMatch(/^permissions-/m);
    expect(toml).toContain("connectionAllowed / transactionAllowed");
    expect(toml).toMatch(/^Xdns-enabled=true$/m);
    expect(toml).not.toMatch(/^p2p-host=/m);
    expect(toml).toMatch(/^bootnodes=\[\]$/m);
  });
});

describe("a member joining later through Consortium governance", () => {
  const newcomer = Wallet.createRandom().address;
  const NEW_ORG = { name: "Precision Castings", roles: ["supplier"], accounts: [newcomer], node: { host: "192.0.2.20" } };

  /**
   * The receipt of `hash`, once mined. anvil mines each transaction as it arrives, but on a loaded
   * machine the receipt may not be readable yet when the hash comes back: ask until it is.
   */
  async function receiptOf(hash: string): Promise<{ status: string; contractAddress: string | null }> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const receipt = (await provider.send("eth_getTransactionReceipt", [hash])) as { status: string; contractAddress: string | null } | null;
      if (receipt) return receipt;
      if (Date.now() > deadline) throw new Error(`no receipt for ${hash} after 30 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function send(from: string, data: string): Promise<void> {
    await provider.send("anvil_impersonateAccount", [from]);
    const hash: string = await provider.send("eth_sendTransaction", [{ from, to: CONSORTIUM, data }]);
    expect((await receiptOf(hash)).status, `transaction from ${from}`).toBe("0x1");
  }

  /** Proposes from the steel mill, then other founders vote yes until the 60% quorum executes it. */
  async function pass(calldata: string): Promise<void> {
    await send(accounts[0]!, calldata);
    const id = await consortium.proposalCount();
    for (const voter of [accounts[2]!, accounts[3]!, accounts[4]!]) {
      if (Number((await consortium.proposal(id))[1]) !== ProposalStatus.Open) break;
      await send(voter, consortium.interface.encodeFunctionData("vote", [id, true]));
    }
    // An Upgrade is queued when it passes; the genesis sets no execution delay.
    if (Number((await consortium.proposal(id))[1]) === ProposalStatus.Queued) {
      await send(accounts[0]!, consortium.interface.encodeFunctionData("execute", [id]));
    }
    expect(Number((await consortium.proposal(id))[1])).toBe(ProposalStatus.Executed);
  }

  it("prepares the bundle and proposals, and the predeployed Consortium admits the newcomer's validator", async () => {
    const joinDir = path.join(work, "join");
    const admission = await prepareJoin(NEW_ORG, { networkDir: out, outDir: joinDir });
    expect(admission.nodes[0]!.addNode).toBeUndefined();
    const bundle = path.join(joinDir, "nodes", "precision-castings");
    expect((await stat(path.join(bundle, "key"))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(bundle, "genesis.json"), "utf8")).toBe(await readFile(path.join(out, "genesis.json"), "utf8"));
    expect(await readFile(path.join(bundle, "config.toml"), "utf8")).toContain(validatorNodes()[0]!.enodeUrl);

    await pass(admission.admit.calldata);
    const orgId = Number(await consortium.orgOf(newcomer));
    expect(orgId).toBe(6);
    expect(await consortium.transactionAllowed(newcomer, CONSORTIUM, 0, 0, 0, "0x")).toBe(true);

    // Same bundle directory: the key is kept, and the AddNode proposal now has the id.
    const withId = await prepareJoin(NEW_ORG, { networkDir: out, outDir: joinDir, orgId });
    const { node, addNode } = withId.nodes[0]!;
    expect(node).toEqual(admission.nodes[0]!.node);
    const key = nodeKeyFromPrivateKey(await readFile(path.join(bundle, "key"), "utf8"));
    expect(node).toMatchObject({ enodeId: key.enodeId, validator: key.address, enodeHost: "192.0.2.20", enodePort: 30303 });
    expect(await consortium.connectionAllowed(node.enodeId, "192.0.2.20", 30303)).toBe(false);

    await pass(addNode!.calldata);
    expect((await consortium.getValidators()).map((v) => getAddress(v))).toEqual([...validatorNodes().map((n) => n.nodeAddress), key.address]);
    expect(await consortium.connectionAllowed(node.enodeId, "192.0.2.20", 30303)).toBe(true);
    expect(await consortium.isMemberPeer(node.peerId)).toBe(true);
  });

  it("upgrades the relocated implementation through an Upgrade proposal", async () => {
    // UUPS checks that the proxy's current implementation is the code's own `__self`: this only
    // passes because the generator rewrote that immutable to the implementation's fixed address.
    const { bytecode } = await loadArtifact("Consortium");
    await provider.send("anvil_impersonateAccount", [accounts[0]!]);
    const hash: string = await provider.send("eth_sendTransaction", [{ from: accounts[0]!, data: bytecode }]);
    const newImplementation = getAddress((await receiptOf(hash)).contractAddress!);
    await pass(consortium.interface.encodeFunctionData("propose", [ProposalKind.Upgrade, proposalData.upgrade(CONSORTIUM, newImplementation)]));
    const slot = await provider.getStorage(CONSORTIUM, ERC1967_IMPLEMENTATION_SLOT);
    expect(getAddress(`0x${slot.slice(26)}`)).toBe(newImplementation);
    // State survives the upgrade.
    expect((await consortium.getValidators()).length).toBe(validatorNodes().length + 1);
  });

  it("runs from the CLI without printing secrets", async () => {
    const orgFile = path.join(work, "delta.json");
    await writeFile(orgFile, JSON.stringify({ ...NEW_ORG, name: "Delta Machining", accounts: [Wallet.createRandom().address] }));
    const joinDir = path.join(work, "join-cli");
    const printed: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((m: string) => void printed.push(m));
    const err = vi.spyOn(console, "error").mockImplementation((m: string) => void printed.push(m));
    try {
      expect(await main(["join", "--network", out, "--org", orgFile, "--out", joinDir, "--org-id", "7"])).toBe(0);
      expect(await main(["join", "--network", out, "--org", orgFile])).toBe(2);
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    const secret = (await readFile(path.join(joinDir, "nodes", "delta-machining", "key"), "utf8")).slice(2);
    expect(printed.join("\n")).not.toContain(secret);
    expect(printed.join("\n")).toContain("join needs --network, --org and --out");
    const admission = JSON.parse(await readFile(path.join(joinDir, "admission.json"), "utf8")) as { admit: { kind: string }; nodes: { addNode: { kind: string; calldata: string } }[] };
    expect(admission.admit.kind).toBe("Admit");
    expect(admission.nodes[0]!.addNode.kind).toBe("AddNode");
    const decoded = consortium.interface.decodeFunctionData("propose", admission.nodes[0]!.addNode.calldata);
    expect(Number(decoded[0])).toBe(8); // ProposalKind.AddNode
  });

  it("refuses a newcomer that reuses a member's account or name", async () => {
    await expect(prepareJoin({ ...NEW_ORG, accounts: [accounts[1]] }, { networkDir: out, outDir: path.join(work, "join2") })).rejects.toThrow(
      /account .* is already registered by Northern Steel Mill/,
    );
    await expect(
      prepareJoin({ ...NEW_ORG, name: "atlas motors" }, { networkDir: out, outDir: path.join(work, "join3") }),
    ).rejects.toThrow(/name atlas motors is already registered/);
  });
});
