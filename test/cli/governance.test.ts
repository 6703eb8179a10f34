/**
 * The member tool against a real chain: status, a full governance round (one organisation
 * proposes, others vote, the proposal executes), refusals before sending (non-member, missing
 * role, suspended organisation), usage errors, and the signing key never in any output.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestChain, type TmOptions, type TmResult, ORGS, OUTSIDER, startChain, tm as runTm } from "./harness.ts";

let chain: TestChain;
/** Every output of every run in this file, checked for keys at the end. */
const outputs: string[] = [];
const KEYS = [...Object.values(ORGS).map((o) => o.key), OUTSIDER.key];

async function tm(args: string[], opts?: TmOptions): Promise<TmResult> {
  const r = await runTm(chain, args, opts);
  outputs.push(r.stdout, r.stderr);
  return r;
}

async function nonce(address: string): Promise<number> {
  return chain.provider.getTransactionCount(address, "latest");
}

beforeAll(async () => {
  chain = await startChain();
});

afterAll(async () => {
  await chain?.stop();
});

describe("tm status", () => {
  it("shows chain, contracts, the caller's organisation and roles, and every member", async () => {
    const r = await tm(["status"], { key: ORGS.regulator.key });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Chain 31337 at ${chain.url}`);
    for (const address of Object.values(chain.deployment.contracts)) expect(r.stdout).toContain(address);
    expect(r.stdout).toContain("quorum 50.01% of 6 active organisations = 4 approvals; voting period 1d");
    expect(r.stdout).toContain(
      `You: ${ORGS.regulator.address} signs for Market Surveillance Authority (#5), active, roles: Regulator, Auditor`,
    );
    expect(r.stdout).toMatch(/#3\s+Delta Machining Works\s+active\s+Supplier/);
    expect(r.stdout).toMatch(/#6\s+Certa Materials Test Lab\s+active\s+Certifier/);
    expect(r.stdout).toContain("Open proposals: none");
  });

  it("answers in JSON with --json, and works read-only without a key", async () => {
    const r = await tm(["status", "--json"]);
    expect(r.code).toBe(0);
    const s = r.json<{
      chainId: number;
      contracts: Record<string, string>;
      caller: unknown;
      governance: { requiredVotes: number; quorumBps: number };
      members: { id: number; name: string; status: string; roles: string[]; accounts: string[] }[];
    }>();
    expect(s.chainId).toBe(31337);
    expect(s.contracts).toEqual(chain.deployment.contracts);
    expect(s.caller).toBeNull();
    expect(s.governance).toMatchObject({ requiredVotes: 4, quorumBps: 5001 });
    expect(s.members.map((m) => [m.id, m.name, m.status])).toEqual(Object.values(ORGS).map((o) => [o.id, o.name, "active"]));
    expect(s.members.find((m) => m.id === ORGS.regulator.id)).toMatchObject({
      roles: ["Regulator", "Auditor"],
      accounts: [ORGS.regulator.address],
    });
  });
});

describe("a governance round through the tool", () => {
  it("one organisation proposes to suspend another; two others vote; it executes; status shows it suspended", async () => {
    const proposed = await tm(["propose", "suspend", "Delta Machining Works", "--json"], { key: ORGS.steel.key });
    expect(proposed.code).toBe(0);
    expect(proposed.json()).toMatchObject({
      proposalId: 1,
      kind: "suspend",
      description: "suspend Delta Machining Works (#3)",
      status: "open",
      // The subject does not vote: 5 voters, 3 approvals.
      tally: { yes: 1, no: 0, required: 3 },
    });

    const open = await tm(["proposals"], { key: ORGS.foundry.key });
    expect(open.code).toBe(0);
    expect(open.stdout).toContain("#1  suspend Delta Machining Works (#3)  [open]");
    expect(open.stdout).toContain("proposed by Nordstahl Steel Mill (#1); 1 yes, 0 no, 3 needed");
    expect(open.stdout).toContain("your organisation has not voted");

    const v1 = await tm(["vote", "1", "yes"], { key: ORGS.foundry.key });
    expect(v1.code).toBe(0);
    expect(v1.stdout).toContain("Jiangnan Precision Castings (#2) voted yes on proposal #1: suspend Delta Machining Works (#3)");
    expect(v1.stdout).toContain("proposal #1 is open: 2 yes, 0 no, 3 needed");

    const subject = await tm(["vote", "1", "no"], { key: ORGS.machining.key });
    expect(subject.code).toBe(1);
    expect(subject.stderr).toContain("proposal #1 (suspend Delta Machining Works (#3)) acts against Delta Machining Works (#3), which does not vote on it");

    const v2 = await tm(["vote", "1", "yes", "--json"], { key: ORGS.oem.key });
    expect(v2.code).toBe(0);
    expect(v2.json()).toMatchObject({ proposalId: 1, vote: "yes", status: "executed" });

    const status = await tm(["status", "--json"]);
    const s = status.json<{ members: { id: number; status: string }[]; openProposals: unknown[] }>();
    expect(s.members.find((m) => m.id === ORGS.machining.id)?.status).toBe("suspended");
    expect(s.openProposals).toEqual([]);
  });

  it("refuses a second vote of the same organisation, and votes on a closed proposal, before sending", async () => {
    const before = await nonce(ORGS.steel.address);
    const [again, closed, all] = await Promise.all([
      tm(["propose", "suspend", "3"], { key: ORGS.steel.key }),
      tm(["vote", "1", "no"], { key: ORGS.lab.key }),
      tm(["proposals", "--all"]),
    ]);
    expect(all.stdout).toContain("#1  suspend Delta Machining Works (#3)  [executed]");
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("Delta Machining Works (#3) is suspended, so it cannot be suspended");
    expect(closed.code).toBe(1);
    expect(closed.stderr).toContain("proposal #1 (suspend Delta Machining Works (#3)) is executed, no longer open for votes");
    expect(await nonce(ORGS.steel.address)).toBe(before);
  });

  it("refuses the suspended organisation's own account, saying why", async () => {
    const r = await tm(["propose", "reinstate", "3"], { key: ORGS.machining.key });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `account ${ORGS.machining.address} signs for Delta Machining Works (#3), which is suspended: it cannot propose changes to the consortium until the consortium reinstates it`,
    );
  });
});

describe("refusals before sending", () => {
  it("refuses an out-of-bounds delay or gas bound, and a call to a proxy the consortium does not govern", async () => {
    const before = await nonce(ORGS.steel.address);
    const [delay, gas, call] = await Promise.all([
      tm(["propose", "set-execution-delay", "31d"], { key: ORGS.steel.key }),
      tm(["propose", "set-transaction-gas-limit", "4999999"], { key: ORGS.steel.key }),
      tm(["propose", "call", chain.deployment.contracts.provenance, "0x12345678"], { key: ORGS.steel.key }),
    ]);
    expect(delay.stderr).toContain("an execution delay of 31d is longer than 30 days");
    expect(gas.stderr).toContain("a bound of 4999999 gas is below 5000000: members could no longer vote it back up");
    expect(call.stderr).toContain(`${chain.deployment.contracts.provenance} is not on the consortium's list of governed proxies`);
    for (const r of [delay, gas, call]) expect(r.code).toBe(1);
    expect(await nonce(ORGS.steel.address)).toBe(before);
  });

  it("refuses a key that belongs to no organisation with a clear message and exit 1", async () => {
    const before = await nonce(OUTSIDER.address);
    const text = await tm(["vote", "1", "yes"], { key: OUTSIDER.key });
    expect(text.code).toBe(1);
    expect(text.stdout).toBe("");
    expect(text.stderr).toContain(
      `error: account ${OUTSIDER.address} belongs to no organisation of this consortium, so it cannot vote`,
    );
    expect(await nonce(OUTSIDER.address)).toBe(before);
  });

  it("refuses a supplier accrediting a certifier, naming the role it lacks, and sends nothing", async () => {
    const before = { nonce: await nonce(ORGS.foundry.address), block: await chain.provider.getBlockNumber() };
    const r = await tm(["cert", "accredit", "Certa Materials Test Lab", "EN10204-3.1"], { key: ORGS.foundry.key });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `account ${ORGS.foundry.address} signs for Jiangnan Precision Castings, which does not hold the Regulator role needed to accredit certifiers (it holds: Supplier)`,
    );
    expect(r.stderr).not.toMatch(/^sent: /m);
    expect(await nonce(ORGS.foundry.address)).toBe(before.nonce);
    expect(await chain.provider.getBlockNumber()).toBe(before.block);

    const issuing = await tm(["--json", "cert", "issue", "cred", "--subject", "item", "--scope", "EN10204-3.1"], {
      key: ORGS.regulator.key,
    });
    expect(issuing.code).toBe(1);
    expect(issuing.errorJson()).toMatchObject({ check: "MissingRole", role: "Certifier", roles: ["Regulator", "Auditor"] });
  });

  it("checks the proposal's target locally: a role already held", async () => {
    const r = await tm(["propose", "grant-role", "6", "certifier"], { key: ORGS.oem.key });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: Certa Materials Test Lab (#6) already holds the Certifier role");
  });
});

describe("usage errors (the full matrix runs in-process in usage.test.ts)", () => {
  it("exit 2 with a pointer to the help; --help exits 0; a command that signs needs a key", async () => {
    const [none, badValue, badOption, help, noKey] = await Promise.all([
      tm([], { key: ORGS.steel.key }),
      tm(["vote", "one", "yes"], { key: ORGS.steel.key }),
      tm(["status", "--verbose"]),
      tm(["cert", "issue", "--help"]),
      tm(["vote", "1", "yes"]),
    ]);
    expect([none.code, badValue.code, badOption.code, help.code, noKey.code]).toEqual([2, 2, 2, 0, 2]);
    expect(none.stderr).toBe("error: no command given\nsee: tm --help\n");
    expect(badValue.stderr).toContain('error: a proposal id is a number from 1, got "one"\nsee: tm vote --help');
    expect(badOption.stderr).toContain("error: Unknown option '--verbose'");
    for (const r of [none, badValue, badOption, noKey]) expect(r.stdout).toBe("");
    expect(help.stdout).toContain("Usage: tm cert issue <certId> --subject KEY --scope SCOPE");
    expect(help.stderr).toBe("");
    expect(noKey.stderr).toContain("`vote` signs a transaction: give --key-file FILE, or set TRACEMESH_KEY");
  });
});

describe("objections to a queued proposal", () => {
  it("members object during the execution delay; the objection that makes a blocking minority cancels it; refusals before sending", async () => {
    // After the suspension above: 5 active organisations, 3 approvals pass, 3 opponents cancel.
    const decide = async (delay: string) => {
      const p = (await tm(["propose", "set-execution-delay", delay, "--json"], { key: ORGS.steel.key })).json<{ proposalId: number }>();
      await tm(["vote", String(p.proposalId), "yes"], { key: ORGS.foundry.key });
      const v = await tm(["vote", String(p.proposalId), "yes"], { key: ORGS.oem.key });
      expect(v.stdout).toContain(`until then members may object (tm object ${p.proposalId})`);
      return p.proposalId;
    };
    const first = await decide("1h");
    expect((await tm(["execute", String(first)], { key: ORGS.lab.key })).code).toBe(0);
    const id = String(await decide("2h"));

    const one = await tm(["object", id, "--json"], { key: ORGS.regulator.key });
    expect(one.code).toBe(0);
    expect(one.json()).toMatchObject({ proposalId: Number(id), status: "queued", opponents: 1, needed: 3 });
    const before = await nonce(ORGS.regulator.address);
    const again = await tm(["object", id], { key: ORGS.regulator.key });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`already opposes proposal #${id} (it voted no or objected)`);
    expect(await nonce(ORGS.regulator.address)).toBe(before);
    const two = await tm(["object", id], { key: ORGS.lab.key });
    expect(two.stdout).toContain(`proposal #${id} is still queued: 2 of the 3 opponents that cancel it`);
    // The OEM voted for it and changes its mind: the third opponent.
    const three = await tm(["object", id], { key: ORGS.oem.key });
    expect(three.code).toBe(0);
    expect(three.stdout).toContain(`proposal #${id} is cancelled: 3 organisations oppose it, enough to have rejected it; it will not execute`);
    const late = await tm(["object", id], { key: ORGS.steel.key });
    expect(late.code).toBe(1);
    expect(late.stderr).toMatch(new RegExp(`proposal #${id} \\(wait 2h .*\\) cannot be objected to: it is rejected, not waiting out its execution delay`));
  }, 240_000); // a dozen tool runs, each its own process
});

describe("the signing key", () => {
  it("is refused on the command line and never echoed back, however it is passed", async () => {
    const key = ORGS.steel.key;
    const results = await Promise.all([
      tm(["status", "--key", key]),
      tm(["status", `--key=${key}`]),
      tm(["vote", key, "yes"], { key }),
      tm(["status"], { key: `${key}zz` }),
      tm(["status", "--key-file", chain.keyFile("typo", `${key.slice(0, -1)}g`)]),
    ]);
    expect(results.map((r) => r.code)).toEqual([2, 2, 2, 2, 2]);
    expect(results[0]!.stderr).toContain("keys are never taken from the command line");
    expect(results[2]!.stderr).toContain("a proposal id is a number from 1");
    expect(results[2]!.stderr).toContain("[redacted]");
    expect(results[3]!.stderr).toContain("TRACEMESH_KEY does not hold a private key");
    expect(results[4]!.stderr).toContain("does not hold a private key");
  });

  it("never appears in any output of this file's runs", () => {
    expect(outputs.length).toBeGreaterThan(40);
    const all = outputs.join("\n").toLowerCase();
    for (const key of KEYS) {
      expect(all).not.toContain(key.slice(2).toLowerCase());
      // Nor a long part of it (a truncated echo).
      expect(all).not.toContain(key.slice(2, 34).toLowerCase());
    }
  });
});
