/**
 * The member tool's command line, in-process: which arguments are usage errors (exit 2, a
 * pointer to the help, nothing on stdout), what help says, and --json error documents. None of
 * these reach a chain; governance.test.ts runs a few of them as real processes too.
 */
import { describe, expect, it } from "vitest";
import { COMMANDS, GROUPS } from "../../scripts/cli/commands.ts";
import { run } from "../../scripts/cli/cli.ts";
import { Output } from "../../scripts/cli/output.ts";

/** Nothing listens here: a command that got as far as connecting would fail with exit 1, not 2. */
const NO_CHAIN = ["--rpc", "http://127.0.0.1:9", "--deployment", "/nonexistent/deployment.json"];
const KEY = "0x" + "7d".repeat(32);

async function tm(args: string[], env: Record<string, string> = { TRACEMESH_KEY: KEY }) {
  let stdout = "";
  let stderr = "";
  const json = args.includes("--json");
  const code = await run(
    [...args, ...NO_CHAIN],
    env,
    new Output(
      json,
      (s) => (stdout += s),
      (s) => (stderr += s),
    ),
  );
  return { code, stdout, stderr };
}

describe("usage errors exit 2 before touching the chain", () => {
  const cases: [string[], string][] = [
    [[], "no command given"],
    [["frobnicate"], 'unknown command "frobnicate"'],
    [["--verbose", "status"], "unknown option --verbose before the command"],
    [["propose"], "`propose` needs a sub-command: admit, suspend, reinstate, remove, grant-role"],
    [["propose", "elect", "3"], 'unknown command "propose elect": `propose` takes admit, suspend'],
    [["vote", "1"], "vote takes 2 arguments (<proposalId> yes|no), got 1"],
    [["vote", "1", "yes", "extra"], "vote takes 2 arguments (<proposalId> yes|no), got 3"],
    [["vote", "one", "yes"], 'a proposal id is a number from 1, got "one"'],
    [["vote", "1", "maybe"], 'vote "yes" or "no", not "maybe"'],
    [["execute", "0"], 'a proposal id is a number from 1, got "0"'],
    [["status", "--verbose"], "Unknown option '--verbose'"],
    [["status", "--key", KEY], "Unknown option '--key': keys are never taken from the command line"],
    [["propose", "grant-role", "3", "wizard"], 'unknown role "wizard": use supplier, manufacturer'],
    [["propose", "add-account", "3", "0x1234"], "<address> must be an account address"],
    [["propose", "admit", "--name", "X", "--account", "0x00000000000000000000000000000000000000aa"], "give at least one --role"],
    [["propose", "admit", "--name", "X", "--role", "auditor"], "give at least one --account"],
    [["propose", "add-node", "3"], "propose add-node needs --peer-id"],
    [["propose", "add-node", "3", "--peer-id", "p", "--enode", "abc"], "--enode must be the node's public key"],
    [["propose", "set-governance"], "give --quorum and/or --voting-period"],
    [["propose", "set-governance", "--voting-period", "two days"], "--voting-period must be a duration"],
    [
      ["grant", "4", "--scope", "planet", "--key", "k", "--purpose", "p", "--expires", "+1d"],
      "--scope must be one of item, item-genealogy",
    ],
    [["grant", "4", "--scope", "item", "--key", "k", "--purpose", "p"], "grant needs --expires"],
    [["grant", "4", "--scope", "item", "--key", "k", "--purpose", "p", "--expires", "soon"], "--expires must be a time"],
    [
      ["grant", "4", "--scope", "item", "--key", "0xabc", "--purpose", "p", "--expires", "+1d"],
      "--key looks like hex but is not 32 bytes",
    ],
    [
      ["grant", "4", "--scope", "window-range", "--key", "s", "--purpose", "p", "--expires", "+1d"],
      "a window-range grant needs --from and --to",
    ],
    [
      ["grant", "4", "--scope", "stream", "--key", "s", "--purpose", "p", "--expires", "+1d", "--from", "0"],
      "only window-range grants take --from and --to",
    ],
    [["revoke-grant", "grant-1"], "a grant id is 0x followed by 64 hex digits"],
    [["grants", "check", "4", "1"], "grants check takes 3 arguments"],
    [["cert", "issue", "c", "--scope", "EN10204-3.1"], "cert issue needs --subject"],
    [["cert", "issue", "c", "--subject", "s", "--scope", "x", "--valid-until", "never"], "--valid-until must be a time"],
    [["cert", "revoke", "c", "--reason", "boredom"], "--reason must be one of unspecified, issued-in-error"],
  ];

  it.each(cases)("tm %j", async (args, message) => {
    const r = await tm(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`error: ${message}`);
    expect(r.stderr).toMatch(/\nsee: tm [a-z -]*--help\n$/);
  });

  it("a command that signs needs a key", async () => {
    const r = await tm(["cert", "revoke", "c"], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "error: `cert revoke` signs a transaction: give --key-file FILE, or set TRACEMESH_KEY\nsee: tm cert revoke --help\n",
    );
  });

  it("with --json, the error is one JSON document on stderr", async () => {
    const r = await tm(["--json", "vote", "1", "maybe"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(JSON.parse(r.stderr)).toEqual({
      error: { kind: "usage", message: 'vote "yes" or "no", not "maybe"', command: "vote" },
    });
  });

  it("never echoes the key, even when it is given where an argument belongs", async () => {
    const r = await tm(["vote", KEY.slice(2).toUpperCase(), "yes"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('got "[redacted]"');
    expect(r.stderr.toLowerCase()).not.toContain(KEY.slice(2));
  });

  it("a well-formed command gets past the usage checks (and then fails to connect: exit 1)", async () => {
    const r = await tm(["status"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot read the deployment record /nonexistent/deployment.json");
  });
});

describe("help", () => {
  it("lists every command, and each one's help shows its arguments and options", async () => {
    const main = await tm(["--help"]);
    expect(main.code).toBe(0);
    expect(main.stderr).toBe("");
    for (const c of COMMANDS) {
      expect(main.stdout).toContain(c.path.join(" "));
      const one = await tm([...c.path, "--help"]);
      expect(one.code, c.path.join(" ")).toBe(0);
      expect(one.stdout).toContain(`Usage: tm ${[c.path.join(" "), c.args].filter(Boolean).join(" ")}`);
      for (const option of Object.keys(c.options ?? {})) expect(one.stdout).toContain(`--${option}`);
      expect(one.stdout).toContain("--key-file FILE");
    }
  });

  it("answers `help <command>` and a group's --help", async () => {
    const viaHelp = await tm(["help", "cert", "issue"]);
    expect(viaHelp.stdout).toContain("Usage: tm cert issue <certId>");
    for (const group of Object.keys(GROUPS)) {
      const r = await tm([group, "--help"]);
      expect(r.code).toBe(0);
      for (const c of COMMANDS.filter((x) => x.path[0] === group)) expect(r.stdout).toContain(c.path.join(" "));
    }
  });
});
