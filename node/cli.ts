/**
 * The member node's command line.
 *
 *   tsx node/cli.ts start  --config FILE                 run the node until SIGINT/SIGTERM
 *   tsx node/cli.ts status --config FILE [--json]        what the running (or last) node reported
 *   tsx node/cli.ts proof  --config FILE --stream S --seq N [--archive DIR]
 *                                                        a stored reading with its proof (JSON); one
 *                                                        moved to the archive (node/retention) comes
 *                                                        from there, verified against its anchor
 *   tsx node/cli.ts audit  --config FILE [--archive DIR] verify every stored and archived reading
 *                                                        against the chain
 *   tsx node/cli.ts repair --config FILE [--from-partners]
 *                                                        repair damaged stores (node stopped), salvage, report;
 *                                                        then ask partners back for the lost windows and own
 *                                                        event documents, verified against the chain
 *   tsx node/cli.ts opcua list  (--pki DIR | --config FILE --device ID)
 *                                                        an OPC UA PKI folder's rejected and trusted certificates
 *   tsx node/cli.ts opcua trust (--pki DIR | --config FILE --device ID) THUMBPRINT|FILE
 *                                                        trust a rejected server (or a client, on a server's folder)
 *
 * FILE is the node's configuration or a member's (member/config.ts: its `gateway` and `parties`
 * sections are skipped), so the commands work on the files `npm start` writes for each member.
 *
 * While the node runs (alone, or inside its member process) it holds the data directory: LevelDB
 * admits one process. `status` reads the status file the node rewrites; `proof` and `audit` ask
 * the running node over its admin channel (node/admin.ts: an owner-only Unix socket in the data
 * directory), and open the data directory themselves only when no node answers there. The archive
 * (retention.archiveDir, default <dataDir>/archive; --archive for a copy elsewhere) is plain files,
 * read here directly; whatever it says is verified against DataAnchors on chain.
 * Exit codes (README, "Operations"): 0 done or stopped cleanly, 1 failed (could not start, the
 * clean stop failed, or audit found failures), 2 bad usage or configuration, 65 a store is damaged
 * (run `repair`; restarting will not help), 70 a failure nothing
 * handled while running (logged with its stack; lib/stop-signals.ts), 130 a second Ctrl-C forced
 * the stop.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { readDeployment } from "../lib/deployment.ts";
import { UsageError } from "../lib/errors.ts";
import { handleFatalErrors, handleStopSignals } from "../lib/stop-signals.ts";
import { DataAnchors__factory } from "../lib/contracts/types/index.js";
import { type AnchorView, contractAnchorView, verifyReading } from "../lib/verify-reading.ts";
import { AdminUnavailableError, askAdmin } from "./admin.ts";
import { rpcProvider } from "./chain/client.ts";
import { ConfigError, type NodeConfig, loadConfig } from "./config.ts";
import { formatStatus, readStatusFile, startNode } from "./daemon.ts";
import { parseDeviceConfig } from "./edge/config.ts";
import { type AuditReport, ProofService, type ProvenReading } from "./ingest/proofs.ts";
import { IngestStore } from "./ingest/store.ts";
import { EXIT_DATA_DAMAGED, StoreDamagedError, formatRefetchReport, formatRepairReport, refetchFromPartners, repairDataDir } from "./ingest/repair.ts";
import { auditArchive, proveFromArchive, segments } from "./retention/archive.ts";
import { auditReceivedArchive } from "./retention/received.ts";

const USAGE = `usage:
  tsx node/cli.ts start  --config FILE
  tsx node/cli.ts status --config FILE [--json]
  tsx node/cli.ts proof  --config FILE --stream STREAM --seq N [--archive DIR]
  tsx node/cli.ts audit  --config FILE [--archive DIR]
  tsx node/cli.ts repair --config FILE [--from-partners]   (with the node stopped)
  tsx node/cli.ts opcua list  (--pki DIR | --config FILE --device ID)
  tsx node/cli.ts opcua trust (--pki DIR | --config FILE --device ID) THUMBPRINT|FILE`;


/** The sections a member's configuration adds to the node's (member/config.ts); these commands skip them. */
const MEMBER_SECTIONS = ["gateway", "parties"] as const;

/** Exits once stdout and stderr are flushed (writes to pipes are asynchronous). */
function exit(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write("", done);
  process.stderr.write("", done);
}

/** Whether the (already validated) file has the sections of a member's configuration. */
function isMemberConfig(file: string): boolean {
  const raw = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  return MEMBER_SECTIONS.some((section) => section in raw);
}

/**
 * Asks the node running on `config`'s data directory; `alone` runs the command on the data
 * directory itself when no node answers there.
 */
async function askRunningNode<T>(config: NodeConfig, ask: () => Promise<unknown>, alone: () => Promise<T>): Promise<T> {
  try {
    return (await ask()) as T;
  } catch (e) {
    if (!(e instanceof AdminUnavailableError)) throw e;
  }
  return alone();
}

async function openForReading(config: NodeConfig): Promise<{ store: IngestStore; node: string }> {
  let store: IngestStore;
  try {
    store = await IngestStore.open(path.join(config.dataDir, "db"));
  } catch (e) {
    const running = readStatusFile(config.dataDir);
    if (running?.alive) throw new Error(`the node (pid ${running.status.pid}) holds ${config.dataDir} and does not answer on its admin channel: ${(e as Error).message}`, { cause: e });
    throw e;
  }
  const node = (await store.format())?.node;
  if (node === undefined) {
    await store.close();
    throw new Error(`the data directory ${config.dataDir} has not been used by a node yet`);
  }
  return { store, node };
}

/** Runs `use` with a view of DataAnchors on the configured chain. */
async function withAnchorView<T>(config: NodeConfig, use: (view: AnchorView) => Promise<T>): Promise<T> {
  const deployment = readDeployment(config.chain.deployment);
  const provider = rpcProvider(config.chain.rpcUrl, deployment.chainId, { callTimeoutMs: config.chain.callTimeoutMs });
  try {
    return await use(contractAnchorView(DataAnchors__factory.connect(deployment.contracts.dataAnchors, provider)));
  } finally {
    provider.destroy();
  }
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
      archive: { type: "string" },
      pki: { type: "string" },
      device: { type: "string" },
      help: { type: "boolean", short: "h" },
      "from-partners": { type: "boolean" },
    },
  });
  const command = positionals[0];
  if (values.help || command === undefined) {
    console.log(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (command === "opcua") return opcuaCommand(positionals.slice(1), values);
  if (!["start", "status", "proof", "audit", "repair"].includes(command)) throw new UsageError(`unknown command "${command}"`);
  if (!values.config) throw new UsageError(`${command} needs --config FILE`);
  const config = loadConfig(values.config, { skipSections: MEMBER_SECTIONS });
  const archiveDir = values.archive !== undefined ? path.resolve(values.archive) : (config.retention?.archiveDir ?? path.join(config.dataDir, "archive"));
  // A member is started whole (member/main.ts): the node alone would leave its gateway and index down.
  if (command === "start" && isMemberConfig(config.file ?? values.config))
    throw new UsageError(`${values.config} configures a member (it has ${MEMBER_SECTIONS.join(" or ")}): start it with \`npm run member -- --config ${values.config}\``);

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
    const { stream } = values;
    const proven = await askRunningNode<ProvenReading | null | undefined>(
      config,
      () => askAdmin(config.dataDir, { command: "proof", stream, seq }),
      async () => {
        const { store, node } = await openForReading(config);
        try {
          return await new ProofService(store, node).proveReading(stream, seq);
        } finally {
          await store.close();
        }
      },
    );
    if (!proven) {
      const archived = await proveFromArchive(archiveDir, stream, seq);
      if (!archived) {
        console.error(`no closed window holds ${stream} #${seq}, and the archive ${archiveDir} does not either`);
        return 1;
      }
      const own = readStatusFile(config.dataDir)?.status.node;
      if (own !== undefined && archived.proof.node.toLowerCase() !== own.toLowerCase()) {
        console.error(`the archive ${archiveDir} holds ${stream} #${seq} of node ${archived.proof.node}, not of this node (${own})`);
        return 1;
      }
      // Archive files are only files: the chain says whether this is the reading that was anchored.
      const verdict = await withAnchorView(config, (view) => verifyReading(archived.reading, archived.proof, view));
      console.log(JSON.stringify({ ...archived, verified: verdict }, null, 2));
      if (!verdict.ok) {
        console.error(`the archived reading ${stream} #${seq} (${archived.archive.file} line ${archived.archive.line}) does not verify against its anchor: ${verdict.reason}: ${verdict.detail}`);
        return 1;
      }
      return 0;
    }
    console.log(JSON.stringify(proven, null, 2));
    return 0;
  }

  if (command === "audit") {
    const report = await askRunningNode<AuditReport>(
      config,
      () => askAdmin(config.dataDir, { command: "audit" }),
      async () => {
        const deployment = readDeployment(config.chain.deployment);
        const provider = rpcProvider(config.chain.rpcUrl, deployment.chainId, { callTimeoutMs: config.chain.callTimeoutMs });
        try {
          const { store, node } = await openForReading(config);
          try {
            const view = contractAnchorView(DataAnchors__factory.connect(deployment.contracts.dataAnchors, provider));
            return await new ProofService(store, node).audit(view);
          } finally {
            await store.close();
          }
        } finally {
          provider.destroy();
        }
      },
    );
    console.log(`audit: ${report.readings} readings in ${report.windows} anchored windows, ${report.verified} verified, ${report.failures.length} failed`);
    if (report.unanchored.length > 0) console.log(`not anchored yet: windows ${report.unanchored.join(", ")}`);
    if (report.lost.length > 0) console.log(`LOST before anchoring, recorded on chain as lost: windows ${report.lost.join(", ")} (their readings cannot be proven)`);
    for (const f of report.failures) console.log(`FAILED ${f.stream} #${f.seq} (window ${f.window}, leaf ${f.index}): ${f.reason}: ${f.detail}`);
    let archiveFailures = 0;
    if (report.archived > 0 || segments(archiveDir).length > 0) {
      // Segments of another node's windows would verify against that node's anchors: refused.
      const node = readStatusFile(config.dataDir)?.status.node;
      const a = await withAnchorView(config, (view) => auditArchive(archiveDir, view, node ? { node } : {}));
      archiveFailures = a.failures.length;
      console.log(`archive ${archiveDir}: ${a.readings} readings in ${a.segments} segments, ${a.verified} verified, ${a.failures.length} failed`);
      if (report.archived > a.readings) console.log(`MISSING the store marks ${report.archived} readings archived, the archive holds ${a.readings}`);
      for (const f of a.failures) console.log(`FAILED ${f.stream ?? "-"} #${f.seq ?? "-"} (segment ${f.segment}, ${f.file}${f.line ? ` line ${f.line}` : ""}): ${f.reason}: ${f.detail}`);
      if (report.archived > a.readings) archiveFailures++;
    }
    // Readings received from followed streams and archived by retention: each against its owner's anchors.
    const receivedDir = path.join(archiveDir, "received");
    if (segments(receivedDir).length > 0) {
      const r = await withAnchorView(config, (view) => auditReceivedArchive(receivedDir, view));
      archiveFailures += r.failures.length;
      console.log(`received archive ${receivedDir}: ${r.readings} readings of followed streams in ${r.segments} segments, ${r.verified} verified against their owners' anchors, ${r.failures.length} failed`);
      for (const f of r.failures) console.log(`FAILED organisation #${f.owner ?? "-"} ${f.stream ?? "-"} #${f.seq ?? "-"} (segment ${f.segment}, ${f.file}${f.line ? ` line ${f.line}` : ""}): ${f.reason}: ${f.detail}`);
    }
    return report.failures.length === 0 && archiveFailures === 0 ? 0 : 1;
  }

  if (command === "repair") {
    const running = readStatusFile(config.dataDir);
    if (running?.alive) throw new Error(`the node (pid ${running.status.pid}) is running on ${config.dataDir}: stop it before repairing its stores`);
    if (values["from-partners"] && !config.p2p) throw new ConfigError(["p2p: --from-partners needs the node's p2p section (its peer key and where partners are found)"], config.file);
    const report = await repairDataDir(config.dataDir);
    console.log(formatRepairReport(report));
    if (!values["from-partners"]) return 0;
    const outcome = await refetchFromPartners(config, report, (line) => console.log(`refetch: ${line}`));
    console.log(formatRefetchReport(outcome));
    // Windows or documents still lost: the stores serve what they hold, but the operator has something left to do.
    return outcome.stillDamaged.length === 0 && outcome.documents.lost.length === 0 ? 0 : 1;
  }

  // start: the one policy of long-running processes for signals and failures nothing handled.
  handleFatalErrors((m) => console.error(`[node] ${m}`));
  const node = await startNode(config);
  // The node waits on sockets and promises only; this keeps the process up until a signal.
  const keepAlive = setInterval(() => {}, 60_000);
  handleStopSignals({
    log: (m) => console.log(`[node] ${m}`),
    stop: async () => {
      clearInterval(keepAlive);
      await node.stop();
    },
  });
  node.anchorer.on("fatal", (e: Error) => console.error(`[node] ${e.name}: ${e.message}`));
  return new Promise<number>(() => {}); // runs until a signal
}

/** `opcua list|trust`: the OPC UA trust list of a PKI folder, given or taken from a device's config. */
async function opcuaCommand(args: string[], values: { pki?: string; config?: string; device?: string }): Promise<number> {
  const [sub, which, ...extra] = args;
  if ((sub !== "list" && sub !== "trust") || (sub === "trust" && which === undefined) || (sub === "list" && which !== undefined) || extra.length > 0) {
    throw new UsageError("opcua needs `list` or `trust THUMBPRINT|FILE`");
  }
  let pki = values.pki;
  if (pki === undefined) {
    if (!values.config || !values.device) throw new UsageError("opcua needs --pki DIR, or --config FILE --device ID of an OPC UA device");
    const config = loadConfig(values.config, { skipSections: MEMBER_SECTIONS });
    const device = config.devices.map((d) => parseDeviceConfig(d)).find((d) => d.device === values.device);
    if (device?.kind !== "opcua") throw new UsageError(`${values.config} has no OPC UA device "${values.device}"`);
    if (device.pkiFolder === undefined) throw new UsageError(`OPC UA device "${values.device}" has no pkiFolder`);
    pki = device.pkiFolder;
  }
  const trust = await import("./edge/opcua-trust.ts");
  const paths = trust.pkiPaths(pki);
  if (sub === "trust") {
    const cert = trust.trustCertificate(pki, which!);
    console.log(`trusted ${cert.subject} (thumbprint ${cert.thumbprint}): ${cert.file}`);
    return 0;
  }
  for (const [label, folder] of [["rejected", paths.rejected], ["trusted", paths.trusted]] as const) {
    const certs = trust.listCertificates(folder);
    console.log(`${label} (${folder}): ${certs.length === 0 ? "none" : ""}`);
    for (const c of certs) console.log(`  ${c.thumbprint}  ${c.subject}  valid to ${c.validTo}`);
  }
  return 0;
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
    exit(e instanceof StoreDamagedError ? EXIT_DATA_DAMAGED : 1);
  },
);
