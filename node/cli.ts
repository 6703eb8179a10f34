/**
 * The member node's command line.
 *
 *   tsx node/cli.ts start  --config FILE                 run the node until SIGINT/SIGTERM
 *   tsx node/cli.ts status --config FILE [--json]        what the running (or last) node reported
 *   tsx node/cli.ts proof  --config FILE --stream S --seq N
 *                                                        a stored reading with its proof (JSON)
 *   tsx node/cli.ts audit  --config FILE                 verify every stored reading against the chain
 *
 * `proof` and `audit` open the data directory, so the node must be stopped (LevelDB admits one
 * process). Exit codes: 0 done, 1 failed (or audit found failures), 2 bad usage or configuration.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { readDeployment } from "../lib/deployment.ts";
import { DataAnchors__factory } from "../lib/contracts/types/index.js";
import { contractAnchorView } from "../lib/verify-reading.ts";
import { rpcProvider } from "./chain/client.ts";
import { ConfigError, type NodeConfig, loadConfig } from "./config.ts";
import { formatStatus, readStatusFile, startNode } from "./daemon.ts";
import { ProofService } from "./ingest/proofs.ts";
import { IngestStore } from "./ingest/store.ts";

const USAGE = `usage:
  tsx node/cli.ts start  --config FILE
  tsx node/cli.ts status --config FILE [--json]
  tsx node/cli.ts proof  --config FILE --stream STREAM --seq N
  tsx node/cli.ts audit  --config FILE`;

class UsageError extends Error {}

/** Exits once stdout and stderr are flushed (writes to pipes are asynchronous). */
function exit(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write("", done);
  process.stderr.write("", done);
}

async function openForReading(config: NodeConfig): Promise<{ store: IngestStore; node: string }> {
  const store = await IngestStore.open(path.join(config.dataDir, "db"));
  const node = (await store.format())?.node;
  if (node === undefined) {
    await store.close();
    throw new Error(`the data directory ${config.dataDir} has not been used by a node yet`);
  }
  return { store, node };
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string", short: "c" },
      json: { type: "boolean" },
      stream: { type: "string" },
      seq: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const command = positionals[0];
  if (values.help || command === undefined) {
    console.log(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (!["start", "status", "proof", "audit"].includes(command)) throw new UsageError(`unknown command "${command}"`);
  if (!values.config) throw new UsageError(`${command} needs --config FILE`);
  const config = loadConfig(values.config);

  if (command === "status") {
    const found = readStatusFile(config.dataDir);
    if (!found) {
      console.log(`no status in ${config.dataDir}: the node has not run there yet`);
      return 1;
    }
    console.log(values.json ? JSON.stringify({ ...found.status, alive: found.alive }, null, 2) : formatStatus(found.status, found.alive));
    return 0;
  }

  if (command === "proof") {
    const seq = Number(values.seq);
    if (!values.stream || !Number.isInteger(seq) || seq < 1) throw new UsageError("proof needs --stream STREAM --seq N");
    const { store, node } = await openForReading(config);
    try {
      const proven = await new ProofService(store, node).proveReading(values.stream, seq);
      if (!proven) {
        console.error(`no closed window holds ${values.stream} #${seq}`);
        return 1;
      }
      console.log(JSON.stringify(proven, null, 2));
      return 0;
    } finally {
      await store.close();
    }
  }

  if (command === "audit") {
    const deployment = readDeployment(config.chain.deployment);
    const provider = rpcProvider(config.chain.rpcUrl, deployment.chainId);
    const { store, node } = await openForReading(config);
    try {
      const view = contractAnchorView(DataAnchors__factory.connect(deployment.contracts.dataAnchors, provider));
      const report = await new ProofService(store, node).audit(view);
      console.log(`audit: ${report.readings} readings in ${report.windows} anchored windows, ${report.verified} verified, ${report.failures.length} failed`);
      if (report.unanchored.length > 0) console.log(`not anchored yet: windows ${report.unanchored.join(", ")}`);
      for (const f of report.failures) console.log(`FAILED ${f.stream} #${f.seq} (window ${f.window}, leaf ${f.index}): ${f.reason}: ${f.detail}`);
      return report.failures.length === 0 ? 0 : 1;
    } finally {
      await store.close();
      provider.destroy();
    }
  }

  // start
  const node = await startNode(config);
  // The node waits on sockets and promises only; this keeps the process up until a signal.
  const keepAlive = setInterval(() => {}, 60_000);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      console.error(`[node] ${signal} again: exiting without a clean shutdown`);
      exit(1);
      return;
    }
    console.log(`[node] ${signal}: stopping`);
    clearInterval(keepAlive);
    node.stop().then(
      () => exit(0),
      (e: Error) => {
        console.error(`[node] stop failed: ${e.message}`);
        exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  node.anchorer.on("fatal", (e: Error) => console.error(`[node] ${e.name}: ${e.message}`));
  return new Promise<number>(() => {}); // runs until a signal
}

main(process.argv.slice(2)).then(
  (code) => exit(code),
  (e: Error) => {
    const usage = e instanceof UsageError || (e as NodeJS.ErrnoException).code?.startsWith("ERR_PARSE_ARGS") === true;
    if (e instanceof ConfigError || usage) {
      console.error(e.message);
      if (usage) console.error(USAGE);
      return exit(2);
    }
    console.error(`error: ${e.message}`);
    exit(1);
  },
);
