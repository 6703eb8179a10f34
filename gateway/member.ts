/**
 * The member process: one per organisation (DESIGN, "Processes"). It starts the member node
 * (node/daemon.ts: edge ingestion, anchoring, peer network), the node's EPCIS events, the chain
 * indexer, and serves the gateway's HTTP API and the explorer's assets on top of them. The
 * gateway reaches the node only through GatewayServices; node/ never imports this file.
 *
 *   tsx gateway/member.ts --config FILE
 *
 * The configuration is the node's (node/config.ts) with two more sections:
 *
 *   "gateway": { "host": "127.0.0.1", "port": 8601, "publicHost": "trace.example.com",
 *                "explorer": true, "tokenSecretFile": "./gateway-secret" },   // all optional
 *   "parties": { "https://id.gs1.org/417/9521001000010": "Nordstahl Steel Mill" }
 *
 * `parties` is the node's directory of shipment destinations: the GS1 party or location (as a
 * Digital Link or EPC URI) a partner's EPCIS events name, and the member organisation (name or id)
 * it stands for. Shipping to a party not listed is refused with a clear error.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { canonicalIdentifier } from "../lib/identifiers/canonical.ts";
import { ConfigError, type NodeConfig, loadNodeKey, parseConfig } from "../node/config.ts";
import { type RunningNode, startNode } from "../node/daemon.ts";
import type { CaptureJob } from "../node/events/capture.ts";
import { type OpenEvents, openEvents } from "../node/events/service.ts";
import { type Gateway, type RunningGateway, createGateway } from "./app.ts";
import { Indexer } from "./indexer/indexer.ts";
import { indexService } from "./indexer/service.ts";
import { chainServices } from "./services.ts";

const root = path.resolve(import.meta.dirname, "..");

export interface GatewaySettings {
  host: string;
  port: number;
  publicHost?: string;
  /** Serve the built explorer (explorer/dist) under /explorer/. */
  explorer: boolean;
  /** Token signing secret; random per process when absent (tokens then end with the process). */
  tokenSecretFile?: string;
}

export interface MemberConfig {
  node: NodeConfig;
  gateway: GatewaySettings;
  /** Canonical party/location identifier -> organisation name or id. */
  parties: Map<string, string | number>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Reads and validates a member configuration. Throws ConfigError naming every problem. */
export function loadMemberConfig(file: string): MemberConfig {
  const abs = path.resolve(file);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(abs, "utf8"));
  } catch (e) {
    throw new ConfigError([`cannot read it as JSON: ${(e as Error).message}`], abs);
  }
  if (!isObj(raw)) throw new ConfigError(["the configuration must be a JSON object"], abs);
  const { gateway: g = {}, parties: p = {}, ...nodePart } = raw;
  const problems: string[] = [];
  let node: NodeConfig | undefined;
  try {
    node = parseConfig(nodePart, path.dirname(abs), abs);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
  const gateway: GatewaySettings = { host: "127.0.0.1", port: 8601, explorer: true };
  if (!isObj(g)) problems.push("gateway must be an object");
  else {
    for (const k of Object.keys(g)) {
      if (!["host", "port", "publicHost", "explorer", "tokenSecretFile"].includes(k)) problems.push(`gateway.${k}: unknown setting (allowed: host, port, publicHost, explorer, tokenSecretFile)`);
    }
    const check = (ok: boolean, problem: string) => ok || (problems.push(problem), false);
    if (g.host !== undefined && check(typeof g.host === "string" && g.host !== "", "gateway.host must be a host name or address")) gateway.host = g.host as string;
    if (g.port !== undefined && check(Number.isInteger(g.port) && (g.port as number) >= 0 && (g.port as number) <= 65535, `gateway.port must be a TCP port (got ${JSON.stringify(g.port)})`))
      gateway.port = g.port as number;
    if (g.publicHost !== undefined && check(typeof g.publicHost === "string", "gateway.publicHost must be a string")) gateway.publicHost = g.publicHost as string;
    if (g.explorer !== undefined && check(typeof g.explorer === "boolean", "gateway.explorer must be true or false")) gateway.explorer = g.explorer as boolean;
    if (g.tokenSecretFile !== undefined && check(typeof g.tokenSecretFile === "string", "gateway.tokenSecretFile must be a path"))
      gateway.tokenSecretFile = path.resolve(path.dirname(abs), g.tokenSecretFile as string);
  }
  const parties = new Map<string, string | number>();
  if (!isObj(p)) problems.push("parties must be an object of identifier -> organisation");
  else {
    for (const [id, org] of Object.entries(p)) {
      let canonical: string;
      try {
        canonical = canonicalIdentifier(id);
      } catch (e) {
        problems.push(`parties: ${JSON.stringify(id)} is not a GS1 party or location identifier: ${(e as Error).message}`);
        continue;
      }
      if ((typeof org === "string" && org !== "") || (Number.isInteger(org) && (org as number) > 0)) parties.set(canonical, org as string | number);
      else problems.push(`parties[${JSON.stringify(id)}] must be an organisation name or id (got ${JSON.stringify(org)})`);
    }
  }
  if (problems.length > 0 || node === undefined) throw new ConfigError(problems, abs);
  return { node, gateway, parties };
}

/** The canonical party and location identifiers in an event's source and destination lists. */
export function partiesOf(event: Record<string, unknown>): string[] {
  const out = new Set<string>();
  for (const [list, field] of [["sourceList", "source"], ["destinationList", "destination"]] as const) {
    const entries = event[list];
    if (!Array.isArray(entries)) continue;
    for (const entry of entries as Record<string, unknown>[]) {
      const id = entry?.[field];
      if (typeof id !== "string") continue;
      try {
        out.add(canonicalIdentifier(id));
      } catch {
        // Not a GS1 party or location: no member to tell.
      }
    }
  }
  return [...out];
}

export interface RunningMember {
  node: RunningNode;
  events: OpenEvents;
  indexer: Indexer;
  gateway: Gateway;
  http: RunningGateway;
  organisation: { id: number; name: string };
  stop(): Promise<void>;
}

/** Starts the node, its events, the indexer and the gateway; stops what started if a later part fails. */
export async function startMember(config: MemberConfig, log: (m: string) => void = (m) => console.log(`[member] ${m}`)): Promise<RunningMember> {
  const cleanup: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const c of cleanup.reverse()) await c().catch((e: Error) => log(`stop: ${e.message}`));
  };
  try {
    const node = await startNode(config.node, { log: (m) => console.log(`[node] ${m}`) });
    cleanup.push(() => node.stop());
    const { deployment } = node;

    const base = await chainServices(config.node.chain.rpcUrl, deployment, { id: 0, name: "" });
    cleanup.push(async () => base.close());
    const { contracts } = base;
    const [orgId] = await contracts.consortium.activeOrgOf(node.address);
    if (orgId === 0n) throw new ConfigError([`the node key ${node.address} is not a signing account of an active organisation`], config.node.file);
    const [orgName] = await contracts.consortium.org(orgId);
    const organisation = { id: Number(orgId), name: orgName };

    const indexer = await Indexer.open({ provider: base.provider, deployment, store: path.join(config.node.dataDir, "index"), onError: (e) => log(`indexer: ${e.message}`), onFatal: (e) => log(`INDEXER STOPPED: ${e.message}`) });
    cleanup.push(() => indexer.stop());
    // The gateway answers while the index catches up (/health shows the lag): a member that
    // was away for long is reachable at once, and queries say how far the index has come.
    log(`indexing the chain from block ${indexer.progress().indexedBlock}`);
    indexer.start();
    const index = indexService(indexer);

    // Shipment destinations: names in the directory become organisation ids once, at start, from Consortium.
    const orgIds = new Map<string, number>();
    const orgCount = Number(await contracts.consortium.orgCount());
    for (let id = 1; id <= orgCount; id++) orgIds.set((await contracts.consortium.org(id))[0], id);
    const partyOrg = new Map<string, number>();
    for (const [party, org] of config.parties) {
      const id = typeof org === "number" ? org : orgIds.get(org);
      if (id === undefined) throw new ConfigError([`parties: no member organisation is named "${org}"`], config.node.file);
      partyOrg.set(party, id);
    }

    const signer = loadNodeKey(config.node).connect(node.chain.client.provider);
    const events = await openEvents({
      dataDir: config.node.dataDir,
      deployment,
      client: node.chain.client,
      signer,
      provider: base.provider,
      ...(node.events ? { store: node.events } : {}),
      access: index.access,
      resolveParty: (party) => partyOrg.get(party),
      genealogy: (key) => index.queries.containedIn(key),
    });
    cleanup.push(() => events.close());

    // A captured event that names member parties (a shipment's consignee, a receipt's sender) is
    // announced to them over the peer network; they fetch it when their grant allows.
    const p2p = node.p2p;
    if (p2p) {
      events.capture.on("job", (job: CaptureJob) => {
        if (job.state !== "succeeded") return;
        void (async () => {
          for (const r of job.results ?? []) {
            const stored = (await events.store.get(r.hashId)).find((e) => e.origin.kind === "own");
            const partners = stored ? partiesOf(stored.event).flatMap((p) => partyOrg.get(p) ?? []) : [];
            if (partners.length > 0) await p2p.announceEvent(r.hashId, partners);
          }
        })().catch((e: Error) => log(`announcing capture ${job.captureID}: ${e.message}`));
      });
    }

    const gateway = createGateway(
      { ...base, organisation, events, index, proofs: node.proofs },
      {
        ...(config.gateway.publicHost ? { publicHost: config.gateway.publicHost } : {}),
        ...(config.gateway.tokenSecretFile ? { tokenSecret: readFileSync(config.gateway.tokenSecretFile) } : {}),
        ...(config.gateway.explorer ? { explorerDir: path.join(root, "explorer", "dist") } : {}),
      },
    );
    const http = await gateway.listen(config.gateway.port, config.gateway.host);
    cleanup.push(() => http.close());
    log(`${organisation.name}: gateway ${http.url}${config.gateway.explorer ? `, explorer ${http.url}/explorer/` : ""}`);

    let stopping: Promise<void> | undefined;
    return { node, events, indexer, gateway, http, organisation, stop: () => (stopping ??= stopAll()) };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/**
 * A promise rejected with no handler, or an exception nothing caught, leaves the node in an
 * unknown state: log what it was and exit with status 70 (EX_SOFTWARE), so a supervisor restarts
 * it and the log says why (Node would otherwise print a bare stack and exit 1).
 */
function installFatalHandlers(): void {
  const fatal = (kind: string) => (err: unknown) => {
    console.error(`[member] fatal ${kind}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(70);
  };
  process.on("unhandledRejection", fatal("unhandled rejection"));
  process.on("uncaughtException", fatal("uncaught exception"));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } } });
  if (values.help || !values.config) {
    console.log("usage: tsx gateway/member.ts --config FILE");
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  installFatalHandlers();
  let member: RunningMember;
  try {
    member = await startMember(loadMemberConfig(values.config));
  } catch (e) {
    console.error(e instanceof ConfigError ? e.message : `[member] cannot start: ${(e as Error).stack ?? e}`);
    process.exit(e instanceof ConfigError ? 2 : 1);
  }
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) process.exit(1);
    console.log(`[member] ${signal}: stopping`);
    member.stop().then(
      () => process.exit(0),
      (e: Error) => {
        console.error(`[member] stop failed: ${e.message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
