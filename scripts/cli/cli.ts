/**
 * The member tool's front door: finds the command, checks its arguments, opens the session,
 * runs the handler and turns every failure into one message and an exit code.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import {
  COMMANDS,
  type CommandSpec,
  GLOBAL_OPTIONS,
  GROUPS,
  commandHelp,
  findCommand,
  groupHelp,
  mainHelp,
} from "./commands.ts";
import type { Invocation, Run } from "./handler.ts";
import { registerKeySecrets } from "./keys.ts";
import type { Session } from "./session.ts";
import { EXIT_OK, EXIT_REFUSED, EXIT_USAGE, Output, Refusal, UsageError } from "./output.ts";

export interface Environment {
  TRACEMESH_KEY?: string;
  TRACEMESH_KEY_PASSWORD?: string;
  TRACEMESH_RPC_URL?: string;
}

const DEFAULT_RPC = "http://127.0.0.1:8545";
const DEFAULT_DEPLOYMENT = ".demo/deployment.json";
const VALUED_GLOBALS = new Set(
  Object.entries(GLOBAL_OPTIONS)
    .filter(([, o]) => o.type === "string")
    .map(([n]) => `--${n}`),
);
const FLAG_GLOBALS = new Set([
  ...Object.entries(GLOBAL_OPTIONS)
    .filter(([, o]) => o.type === "boolean")
    .map(([n]) => `--${n}`),
  ...Object.values(GLOBAL_OPTIONS).flatMap((o) => (o.short ? [`-${o.short}`] : [])),
]);

interface Located {
  /** Command words found, e.g. ["cert", "issue"]. */
  words: string[];
  /** argv without the command words. */
  rest: string[];
}

/**
 * Finds the command words: global options may come before them, command options after.
 * Stops at the first token that is neither a global option nor a command word.
 */
function locate(argv: string[]): Located {
  const words: string[] = [];
  const rest: string[] = [];
  let i = 0;
  const wantsMore = () => words.length === 0 || (words.length === 1 && words[0]! in GROUPS);
  for (; i < argv.length && wantsMore(); i++) {
    const t = argv[i]!;
    if (t === "--") break;
    if (t.startsWith("-")) {
      const name = t.split("=")[0]!;
      if (VALUED_GLOBALS.has(name)) {
        rest.push(t);
        if (!t.includes("=") && i + 1 < argv.length) rest.push(argv[++i]!);
        continue;
      }
      if (FLAG_GLOBALS.has(name)) {
        rest.push(t);
        continue;
      }
      if (words.length === 0)
        throw new UsageError(`unknown option ${name} before the command (command options go after the command)`);
      break; // a group followed by an option: the sub-command is missing
    }
    words.push(t);
  }
  rest.push(...argv.slice(i));
  return { words, rest };
}

/** The words of `tm help <words...>`, without options and the values of global options. */
function commandWords(args: string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const t = args[i]!;
    if (VALUED_GLOBALS.has(t)) i++;
    else if (!t.startsWith("-")) words.push(t);
  }
  return words;
}

function hasHelp(argv: string[]): boolean {
  return argv.some((t) => t === "--help" || t === "-h");
}

function scanGlobals(argv: string[]): { json: boolean; keyFile?: string } {
  let keyFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === "--") break;
    if (t === "--key-file") keyFile = argv[i + 1];
    else if (t.startsWith("--key-file=")) keyFile = t.slice("--key-file=".length);
  }
  return { json: argv.includes("--json"), keyFile };
}

function parseFor(spec: CommandSpec, args: string[]): Invocation {
  const command = spec.path.join(" ");
  const options = { ...GLOBAL_OPTIONS, ...spec.options } as NonNullable<ParseArgsConfig["options"]>;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (e) {
    let message = (e as Error).message.replace(/\. To specify a positional argument starting with a '-'.*$/s, "");
    if (/'--(key|private-key|pk)'/.test(message) && !spec.options?.key) {
      message +=
        ": keys are never taken from the command line (shell history, process lists); use --key-file FILE or TRACEMESH_KEY";
    }
    throw new UsageError(message, command);
  }
  const positionals = parsed.positionals;
  const [min, max] = spec.positionals;
  if (!parsed.values.help && (positionals.length < min || positionals.length > max)) {
    const expected = min === max ? `${min}` : `${min} to ${max}`;
    throw new UsageError(
      `${command} takes ${expected} argument${max === 1 ? "" : "s"} (${spec.args || "none"}), got ${positionals.length}`,
      command,
    );
  }
  return { command, positionals, values: parsed.values as Invocation["values"] };
}

function suggestion(word: string): string {
  const names = [...new Set(COMMANDS.map((c) => c.path[0]!))];
  const close = names.filter((n) => n.startsWith(word.slice(0, 3)) || word.startsWith(n));
  return close.length ? ` (did you mean ${close.join(" or ")}?)` : "";
}

/** Runs the tool; returns the exit code. */
export async function run(argv: string[], env: Environment = process.env as Environment, out?: Output): Promise<number> {
  const early = scanGlobals(argv);
  const output = out ?? new Output(early.json);
  // The key is known as a secret before anything could print it (even an argument echoed back).
  registerKeySecrets(early.keyFile, env.TRACEMESH_KEY, env.TRACEMESH_KEY_PASSWORD);

  let spec: CommandSpec | undefined;
  let inv: Invocation;
  let runCommand: Run;
  try {
    const { words, rest } = locate(argv);
    if (words[0] === "help") {
      const target = words.slice(1).concat(commandWords(rest));
      const found = findCommand(target);
      output.help(found ? commandHelp(found) : target[0] && target[0] in GROUPS ? groupHelp(target[0]) : mainHelp());
      return EXIT_OK;
    }
    if (words.length === 0) {
      if (hasHelp(argv)) {
        output.help(mainHelp());
        return EXIT_OK;
      }
      throw new UsageError("no command given");
    }
    spec = findCommand(words);
    if (!spec) {
      const group = words[0]!;
      if (group in GROUPS) {
        if (hasHelp(argv)) {
          output.help(groupHelp(group));
          return EXIT_OK;
        }
        const subs = COMMANDS.filter((c) => c.path[0] === group).map((c) => c.path[1]);
        throw new UsageError(
          words.length === 1
            ? `\`${group}\` needs a sub-command: ${subs.join(", ")}`
            : `unknown command "${words.join(" ")}": \`${group}\` takes ${subs.join(", ")}`,
          group,
        );
      }
      throw new UsageError(`unknown command "${group}"${suggestion(group)}`);
    }
    inv = parseFor(spec, rest);
    if (inv.values.help) {
      output.help(commandHelp(spec));
      return EXIT_OK;
    }
    // The arguments' values are checked here, before anything connects to the chain.
    if (spec.loadForGateway) {
      const runAtGateway = (await spec.loadForGateway())(inv);
      const { loadWallet } = await import("./session.ts");
      const wallet = await loadWallet({ keyFile: inv.values["key-file"] as string | undefined, envKey: env.TRACEMESH_KEY, keyPassword: env.TRACEMESH_KEY_PASSWORD, out: output });
      output.result(await runAtGateway({ out: output, wallet }));
      return EXIT_OK;
    }
    runCommand = (await spec.load())(inv);
    if (spec.signs && !inv.values["key-file"] && !env.TRACEMESH_KEY) {
      throw new UsageError(`\`${inv.command}\` signs a transaction: give --key-file FILE, or set TRACEMESH_KEY`, inv.command);
    }
  } catch (e) {
    return report(output, e, spec);
  }

  const { Session } = await import("./session.ts");
  let session: Session | undefined;
  try {
    session = await Session.open({
      rpc: (inv.values.rpc as string | undefined) ?? env.TRACEMESH_RPC_URL ?? DEFAULT_RPC,
      deploymentFile: (inv.values.deployment as string | undefined) ?? DEFAULT_DEPLOYMENT,
      keyFile: inv.values["key-file"] as string | undefined,
      envKey: env.TRACEMESH_KEY,
      keyPassword: env.TRACEMESH_KEY_PASSWORD,
      out: output,
    });
    output.result(await runCommand(session));
    return EXIT_OK;
  } catch (e) {
    const err = session ? await session.refusalFor(e, undefined, "call") : e;
    return report(output, err, spec);
  } finally {
    session?.close();
  }
}

function report(output: Output, e: unknown, spec: CommandSpec | undefined): number {
  if (e instanceof UsageError) {
    const cmd = e.command ?? spec?.path.join(" ");
    output.error("usage", e.message, cmd ? { command: cmd } : {}, cmd ? `see: tm ${cmd} --help` : "see: tm --help");
    return EXIT_USAGE;
  }
  if (e instanceof Refusal) {
    // A contract's refusal (session.ts ContractRefusal) also names the custom error and its arguments.
    const { decoded, stage } = e as Refusal & { decoded?: { contract?: string; display: string }; stage?: string };
    let hint: string | undefined;
    if (decoded) {
      const where =
        stage === "before sending"
          ? "refused it before anything was sent"
          : stage === "mined"
            ? "reverted the mined transaction"
            : "refused the call";
      hint = `  ${decoded.contract ?? "the contract"} ${where}: ${decoded.display}`;
    }
    output.error("refused", e.message, e.details, hint);
    return EXIT_REFUSED;
  }
  // ethers' errors carry a one-line shortMessage next to a message full of request dumps.
  const message = e instanceof Error ? ((e as { shortMessage?: string }).shortMessage ?? e.message) : String(e);
  output.error("failed", message);
  return EXIT_REFUSED;
}
