/**
 * The member process: one per organisation (DESIGN, "Processes"). It composes the member node
 * (node/daemon.ts: edge ingestion, anchoring, peer network), the node's EPCIS events
 * (node/events: capture acceptance, jobs, announcement to partners), the chain indexer
 * (node/indexer), and serves the gateway's HTTP API and the explorer's assets on top of them. The
 * node key is loaded once and the node's JSON-RPC provider is the one the indexer and the gateway
 * read through. The gateway reaches the node only through GatewayServices.
 *
 *   npm run member -- --config FILE        (tsx member/main.ts --config FILE [--supervised])
 *
 * The configuration: member/config.ts. While the member runs, the node commands (`npm run node --
 * status|proof|audit --config FILE`) read its status file and ask it over its admin socket.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { organisationGrants } from "../lib/access-grants.ts";
import { handleFatalErrors, handleStopSignals } from "../lib/stop-signals.ts";
import { loadOrCreateSecret } from "../lib/secret-file.ts";
import { AccessLog, AccessRecorder } from "../node/access-log/index.ts";
import { ConfigError, loadNodeKey } from "../node/config.ts";
import { type RunningNode, startNode } from "../node/daemon.ts";
import { type OpenEvents, openEvents } from "../node/events/service.ts";
import { Indexer } from "../node/indexer/indexer.ts";
import { indexService } from "../node/indexer/service.ts";
import { devicesView } from "../node/devices-view.ts";
import { type Gateway, type RunningGateway, createGateway } from "../gateway/app.ts";
import { chainServices } from "../gateway/services.ts";
import { accessRequestIntake } from "../gateway/routes/access-requests.ts";
import { StatementStore } from "../node/certificates/statements.ts";
import { PassportChoiceStore } from "../node/passport/choices.ts";
import { AccessRequestStore } from "../node/passport/access-requests.ts";
import { SubscriptionService } from "../node/subscriptions/service.ts";
import { type MemberConfig, gatewayRateLimits, loadMemberConfig } from "./config.ts";
import { EXIT_DATA_DAMAGED, StoreDamagedError } from "../node/ingest/repair.ts";

const root = path.resolve(import.meta.dirname, "..");

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
    // The key is read once here; the node signs with it, and so do the events it records.
    const node = await startNode(config.node, { wallet: loadNodeKey(config.node), log: (m) => console.log(`[node] ${m}`) });
    cleanup.push(() => node.stop());
    const { deployment, provider } = node;

    // One JSON-RPC provider for node, indexer and gateway (node.stop() closes it).
    const base = await chainServices(provider, deployment, { id: 0, name: "" });
    cleanup.push(async () => base.close());
    const { contracts } = base;
    const [orgId] = await contracts.consortium.activeOrgOf(node.address);
    if (orgId === 0n) throw new ConfigError([`the node key ${node.address} is not a signing account of an active organisation`], config.node.file);
    const [orgName] = await contracts.consortium.org(orgId);
    const organisation = { id: Number(orgId), name: orgName };

    const indexer = await Indexer.open({ provider, deployment, store: path.join(config.node.dataDir, "index"), onError: (e) => log(`indexer: ${e.message}`), onFatal: (e) => log(`INDEXER STOPPED: ${e.message}`) });
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

    // A captured event that names member parties (a shipment's consignee, a receipt's sender) is
    // announced to them over the peer network (node/events/announce.ts).
    const p2p = node.p2p;
    const events = await openEvents({
      dataDir: config.node.dataDir,
      deployment,
      client: node.chain.client,
      signer: node.signer,
      provider,
      ...(node.events ? { store: node.events } : {}),
      // Access decisions ask the chain (openEvents' ChainAccessChecker, cleared on grant events),
      // never the index alone; the index walks genealogy grants "as the grantor knew it".
      resolveParty: (party) => partyOrg.get(party),
      genealogy: index.queries,
      shipments: index.queries,
      ...(p2p ? { announce: (hashId: string, partners: number[]) => p2p.announceEvent(hashId, partners) } : {}),
      log,
    });
    cleanup.push(() => events.close());

    // Every read of this organisation's data by a partner is logged (node/access-log).
    const accessLog = await AccessLog.open(path.join(config.node.dataDir, "access-log"));
    cleanup.push(() => accessLog.close());
    const recorder = new AccessRecorder(accessLog, base.contracts.accessGrants);
    // The peer network serves by the same rule as the gateway, logs what it serves, and fetches
    // for this organisation's pages what they may see from the owners' nodes.
    p2p?.serveWith({ visibility: events.visibility, accessLog: recorder });
    // EPCIS subscriptions and recall alerts (node/subscriptions), evaluated by the gateway's query routes.
    const subscriptions = await SubscriptionService.open(path.join(config.node.dataDir, "subscriptions"), events.store, index.queries, { allowedDestinations: config.gateway.webhookDestinations, log });
    cleanup.push(() => subscriptions.close());
    // Statements this organisation makes when it revokes a certificate (the chain holds their hashes).
    const statements = await StatementStore.open(path.join(config.node.dataDir, "statements"));
    // What this organisation shows on its items' public passports (GET /passport/{id}).
    const passportChoices = await PassportChoiceStore.open(path.join(config.node.dataDir, "passport-choices"));
    // Partners' requests for access to this organisation's items (approved as grants).
    const accessRequests = await AccessRequestStore.open(path.join(config.node.dataDir, "access-requests"));
    // Members who rely on a certificate read its statement from this node over the peer network.
    p2p?.serveWith({ statements });
    // The gateway's POST/DELETE /grants, signed by the node's account like its captures.
    const grants = organisationGrants({ owner: organisation.id, contracts, address: deployment.contracts.accessGrants, provider, client: node.chain.client, signer: node.signer });
    // A lot's receiver is offered its sender's party GLNs (the directory capture resolves them with).
    const partyGlns = (org: number) => [...partyOrg].filter(([party, id]) => id === org && /\/417\/\d{13}$/.test(party)).map(([party]) => party.slice(-13));
    const gateway = createGateway(
      { ...base, organisation, events, index, proofs: node.proofs, accessLog: recorder, subscriptions, statements, passportChoices, accessRequests, grants, partyGlns, devices: devicesView({ status: node.status, streamReadings: () => node.pipeline.streamReadings() }), ...(p2p ? { remote: p2p.remote, accessRelay: p2p.accessRelay } : {}) },
      {
        ...(config.gateway.publicHost ? { publicHost: config.gateway.publicHost } : {}),
        tokenSecret: loadOrCreateSecret(config.gateway.tokenSecretFile, { bytes: 32, minBytes: 32, field: "gateway.tokenSecretFile", what: "a token signing secret" }),
        ...(config.gateway.trustedProxies ? { trustedProxies: config.gateway.trustedProxies } : {}),
        ...(config.gateway.metricsTokenFile ? { metricsToken: readFileSync(config.gateway.metricsTokenFile, "utf8").trim() } : {}),
        metricsLoopback: config.gateway.metricsLoopback,
        ...(config.gateway.rateLimit ? { rateLimit: gatewayRateLimits(config.gateway.rateLimit) } : {}),
        ...(config.gateway.explorer ? { explorerDir: path.join(root, "explorer", "dist") } : {}),
      },
    );
    // Partners' access requests passed on from their own gateways are taken as this gateway takes them.
    p2p?.serveWith({ accessRequests: accessRequestIntake(gateway.context) });
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
 * Runs one member until it is stopped. Exit codes (README, "Operations"): 0 stopped cleanly
 * (also when a stop was asked for while it was still starting), 1 could not start or the clean
 * stop failed, 2 bad usage or configuration, 65 a store is damaged (`npm run node -- repair`;
 * restarting will not help), 70 a failure nothing handled while running (logged
 * with its stack: lib/stop-signals.ts), 130 a second Ctrl-C forced the stop.
 *
 * The stop signals are handled from the start: a member whose chain hangs spends a while
 * starting, and a SIGINT then must still end it cleanly, its status file saying it stopped.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: "string", short: "c" }, supervised: { type: "boolean" }, help: { type: "boolean", short: "h" } } });
  if (values.help || !values.config) {
    console.log("usage: tsx member/main.ts --config FILE [--supervised]");
    console.log("  --supervised  started by a supervisor (the demo): it stops this process with SIGTERM; a terminal's SIGINT is left to it");
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  handleFatalErrors((m) => console.error(`[member] ${m}`));
  let config: MemberConfig;
  try {
    config = loadMemberConfig(values.config);
  } catch (e) {
    console.error(e instanceof ConfigError ? e.message : `[member] cannot start: ${(e as Error).message}`);
    process.exit(e instanceof ConfigError ? 2 : 1);
  }
  const starting = startMember(config);
  let stopAsked = false;
  handleStopSignals({
    supervised: values.supervised === true,
    log: (m) => console.log(`[member] ${m}`),
    stop: async () => {
      stopAsked = true;
      // Still starting: let the start finish (each chain call is bounded), or fail and undo itself.
      const member = await starting.catch(() => undefined);
      if (member === undefined) {
        console.log("[member] stopped while starting");
        return;
      }
      await member.stop();
      console.log(`[member] ${member.organisation.name}: stopped cleanly`);
    },
  });
  try {
    await starting;
  } catch (e) {
    if (stopAsked) return; // the stop ends the process
    if (e instanceof StoreDamagedError) {
      console.error(`[member] cannot start: ${e.message}`);
      process.exit(EXIT_DATA_DAMAGED);
    }
    console.error(e instanceof ConfigError ? e.message : `[member] cannot start: ${(e as Error).stack ?? e}`);
    process.exit(e instanceof ConfigError ? 2 : 1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
