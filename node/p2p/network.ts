/**
 * The member node's peer network, put together: the libp2p host under membership admission, the
 * fetch protocol serving this node's own data, the client that verifies and stores what partners
 * send, gossipsub announcements, bootstrap and peer discovery, follows and catch-up.
 *
 * - Admission: MembershipGate (gater.ts) over Consortium; peers caught sending altered data are
 *   banned locally for `banMs`, reported (log, status, the received store) and nothing of theirs
 *   is stored.
 * - Access: lib/access.ts over AccessGrants (ChainAccessChecker, cache cleared on grant events);
 *   documents and event readings by the member's full rule once the member hands it over
 *   (`serveWith`: genealogy from its index, regulators' rule), and every read served is logged in
 *   the owner's access log (channel "p2p").
 * - Delivery on demand: `remote` (remote.ts) fetches what a page of this organisation needs from
 *   the owner's node.
 * - Discovery: discovery.ts (bootstrap, the peers protocol, peers registered in Consortium).
 * - Announcements (gossipsub, signed by the publisher's peer key): `ANCHORS_TOPIC` after each
 *   anchor of this node ({ node, sequence }: facts that are on chain anyway), and events that
 *   concern a partner on that partner's own topic (`eventsTopic(org)`); events a partner announced
 *   are caught up from its outbox on connection, on announcement and periodically.
 * - Follows: follows.ts (partners' streams kept in copy, fetched on announcements, connections,
 *   start and anchors seen on chain).
 */
import type { PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Multiaddr } from "@multiformats/multiaddr";
import type { Provider } from "ethers";
import { ChainAccessChecker } from "../../lib/access.ts";
import { type Deployment, connectContracts } from "../../lib/deployment.ts";
import { orgIdByName } from "../chain/org-names.ts";
import type { AccessRecorder } from "../access-log/record.ts";
import { StatementStore } from "../certificates/statements.ts";
import type { P2pConfig } from "../config.ts";
import type { EventStore } from "../events/store.ts";
import { EventVisibility } from "../events/visibility.ts";
import { EventDocuments, chainEventVerifier, receivedDocuments, storeReceivedEvent } from "./documents.ts";
import { MembershipGate } from "./gater.ts";
import { type Host, createHost } from "./host.ts";
import {
  FetchClient,
  chainStatementVerifier,
  type FetchClientOptions,
  FetchRefusedError,
  type VerifiedEvent,
  type VerifiedReadings,
  orgAnchorView,
} from "./fetch-client.ts";
import { type ReadingSource, serveFetch } from "./fetch-server.ts";
import { PeerDiscovery } from "./discovery.ts";
import { type FollowStatus, Follows } from "./follows.ts";
import { decodeJson, encodeJson } from "./protocol.ts";
import { RemoteData } from "./remote.ts";
import { serveReturn } from "./return-fetch.ts";
import { type AccessRequestIntake, AccessRequestRelay, serveAccessRequests } from "./access-requests.ts";
import type { RefusalCode } from "../../lib/errors.ts";
import { type MisbehaviourReport, ReceivedStore } from "./received-store.ts";

export { PEERS_PROTOCOL } from "./discovery.ts";
export type { FollowStatus } from "./follows.ts";
export const ANCHORS_TOPIC = "/tracemesh/anchors/1.0.0";
export const eventsTopic = (org: number) => `/tracemesh/org/${org}/events/1.0.0`;
const MAX_ANNOUNCEMENT_BYTES = 4096;

export interface PeerNetworkOptions {
  config: P2pConfig;
  /** Where the received store lives (`<dir>/received`). */
  dataDir: string;
  deployment: Deployment;
  provider: Provider;
  /** This node's organisation (the owner of what it serves). */
  ownerOrg: number;
  /** This node's own readings (absent: it serves none). */
  readings?: ReadingSource;
  /**
   * The node's EPCIS events (node/events): own events are served from it, received ones stored
   * in it (apart, EventStore.putReceived). Visibility defaults to lib/access.ts over this network's
   * access checker.
   */
  events?: { store: EventStore; visibility?: EventVisibility };
  /** Measurement hooks of the fetch client (the benchmark). */
  clientHooks?: Pick<FetchClientOptions, "onVerified" | "onBytes">;
  log?: (message: string) => void;
}

export interface P2pStatus {
  peerId: string;
  addrs: string[];
  peers: { peerId: string; org: number }[];
  follows: FollowStatus[];
  receivedReadings: number;
  served: number;
  refused: number;
  misbehaviour: MisbehaviourReport[];
  banned: string[];
  /** Connection attempts of unknown peer ids refused for want of lookup budget (gater.ts). */
  throttledLookups: number;
  /** Return requests (return-fetch.ts): answered, and refused by refusal code. */
  returns: { served: number; refused: Partial<Record<RefusalCode, number>> };
}

export class PeerNetwork {
  private readonly stops: (() => unknown)[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The periodic check in flight, if any: stop() waits for it (it reads the chain and writes the store). */
  private ticking: Promise<void> | undefined;
  private stopped = false;
  private served = 0;
  private refused = 0;
  private readonly returns: P2pStatus["returns"] = { served: 0, refused: {} };
  private reports: MisbehaviourReport[] = [];
  private receivedCount = 0;
  /** Organisation of each connected peer, as last asked. */
  private readonly peerOrgs = new Map<string, number>();
  /** Who may read an own event (set in begin(); the member's full rule after `serveWith`). */
  private visibility!: Pick<EventVisibility, "mayRead">;
  /** The owner's access log, once the member opened it. */
  private accessLog: AccessRecorder | undefined;
  /** Registered peer ids per organisation, as last read from Consortium. */
  private readonly orgPeers = new Map<number, { ids: string[]; at: number }>();
  private remoteData: RemoteData | undefined;
  /** The revocation statements this organisation made as an issuer, once the member opened them. */
  private statements: Pick<StatementStore, "get"> | undefined;
  /** Takes partners' access requests passed on over the peer network, once the member handed it over. */
  private accessIntake: AccessRequestIntake | undefined;
  private relay: AccessRequestRelay | undefined;

  private constructor(
    readonly host: Host,
    readonly gate: MembershipGate,
    readonly access: ChainAccessChecker,
    readonly client: FetchClient,
    readonly received: ReceivedStore,
    /** Other issuers' revocation statements fetched from their nodes, verified (`<dataDir>/received-statements`). */
    private readonly receivedStatements: StatementStore,
    private readonly discovery: PeerDiscovery,
    private readonly follows: Follows,
    private readonly options: PeerNetworkOptions,
  ) {}

  private log(message: string): void {
    this.options.log?.(`[p2p] ${message}`);
  }

  static async start(options: PeerNetworkOptions): Promise<PeerNetwork> {
    const { config, deployment, provider } = options;
    const c = connectContracts(deployment.contracts, provider);
    const log = (m: string) => options.log?.(`[p2p] ${m}`);
    const received = await ReceivedStore.open(`${options.dataDir}/received`);
    let net: PeerNetwork | undefined;
    const gate = new MembershipGate(c.consortium, {
      ttlMs: config.membershipTtlMs,
      pollMs: Math.min(1_000, config.membershipTtlMs),
      onEvict: (peer) => log(`disconnected ${peer}: no longer registered to an active member`),
      onError: (e) => log(`membership check failed: ${(e as Error).message}`),
    });
    const access = new ChainAccessChecker(deployment.contracts, provider, { ttlMs: config.grantCacheMs });
    try {
      // Bans outlive a restart (they are kept with the reports), and hold before the host listens.
      for (const r of await received.reports()) {
        const left = r.at + config.banMs - Date.now();
        if (r.altered && left > 0) await gate.ban(r.peer, left);
      }
      const host = await createHost({ keyFile: config.keyFile, listen: config.listen, announce: config.announce, connectionGater: gate.gater() });
      const orgOf = (peer: string) => gate.orgOf(peer);
      const eventStore = options.events?.store;
      const client = new FetchClient(host, {
        selfOrg: options.ownerOrg,
        orgOf,
        anchors: orgAnchorView(c.dataAnchors),
        ...(eventStore ? { events: chainEventVerifier(provider, deployment.contracts.provenance) } : {}),
        statements: chainStatementVerifier(c.certificates),
        maxFrameBytes: config.maxFrameBytes,
        timeoutMs: config.timeoutMs,
        storeReadings: async (batch) => {
          await follows.store(batch);
          net!.receivedCount += batch.count;
        },
        storeEvent: async (e) => {
          if (eventStore) await storeReceivedEvent(eventStore, e);
        },
        onMisbehaviour: (peer, reason, altered) => void net?.misbehaved(peer, reason, altered),
        ...options.clientHooks,
      });
      const discovery = new PeerDiscovery(host, gate, c.consortium, { bootstrap: config.bootstrap, timeoutMs: config.timeoutMs });
      const follows = new Follows({ host, gate, client, received, provider, dataAnchors: c.dataAnchors, catchUpFromMs: config.catchUpFromMs, log });
      const receivedStatements = await StatementStore.open(`${options.dataDir}/received-statements`);
      net = new PeerNetwork(host, gate, access, client, received, receivedStatements, discovery, follows, options);
      await net.begin();
      return net;
    } catch (e) {
      await received.close();
      throw e;
    }
  }

  private async begin(): Promise<void> {
    const { config, ownerOrg } = this.options;
    this.stops.push(await this.gate.watch(this.host));
    const stopAccess = await this.access.watch();
    this.stops.push(stopAccess);
    this.reports = await this.received.reports();
    this.receivedCount = await this.received.total();

    const events = this.options.events;
    this.visibility =
      events?.visibility ?? new EventVisibility({ access: this.access, provider: this.options.provider, provenance: this.options.deployment.contracts.provenance });
    const documents = events ? new EventDocuments(events.store, { mayRead: (e, org) => this.visibility.mayRead(e, org) }, this.received) : undefined;
    await serveFetch(this.host, {
      orgOf: (peer) => this.gate.orgOf(peer),
      access: this.access,
      ownerOrg,
      // A read the log cannot take is not served (the refusal says the node cannot answer now).
      // One entry per answered request, naming everything it hands out.
      onRead: async (reader, reads) => {
        await this.accessLog?.recordAll(reader, "p2p", reads.map((r) => ({ owner: ownerOrg, ...r })));
      },
      ...(this.options.readings ? { readings: this.options.readings } : {}),
      ...(documents ? { documents } : {}),
      // The member hands over its issuer's statements with `serveWith`.
      statements: { get: async (id) => this.statements?.get(id) },
      maxFrameBytes: config.maxFrameBytes,
      timeoutMs: config.timeoutMs,
      maxReadings: config.maxReadings,
      onServed: (peer, _request, response) => {
        if ("error" in response) {
          this.refused++;
          this.log(`refused ${peer}: ${response.error}: ${response.detail}`);
        } else this.served++;
      },
      onError: (e) => this.log(`serving failed: ${(e as Error).message}`),
    });
    // Handing a node back the copies held of its own readings, to its own organisation only
    // (the one DataAnchors records as having anchored each window).
    const anchorOrgs = orgAnchorView(connectContracts(this.options.deployment.contracts, this.options.provider).dataAnchors);
    await serveReturn(this.host, {
      orgOf: (peer) => this.gate.orgOf(peer),
      orgOfAnchor: (node, sequence) => anchorOrgs.orgOfAnchor(node, sequence),
      received: this.received,
      ...(events ? { documents: receivedDocuments(events.store, this.options.provider, this.options.deployment.contracts.provenance) } : {}),
      maxFrameBytes: config.maxFrameBytes,
      timeoutMs: config.timeoutMs,
      maxReadings: config.maxReadings,
      onAnswer: (peer, outcome, detail) => {
        if (outcome === "served") this.returns.served++;
        else {
          this.returns.refused[outcome] = (this.returns.refused[outcome] ?? 0) + 1;
          this.log(`refused a return request of ${peer}: ${outcome}: ${detail}`);
        }
      },
      onError: (e) => this.log(`return request: ${(e as Error).message}`),
    });
    // Partners' access requests to this organisation, from their own gateways (access-requests.ts).
    await serveAccessRequests(this.host, {
      orgOf: (peer) => this.gate.orgOf(peer),
      intake: () => this.accessIntake,
      timeoutMs: config.timeoutMs,
      onAnswer: (peer, status, detail) => {
        if (status !== 201) this.log(`refused an access request of ${peer}: ${status}: ${detail}`);
      },
      onError: (e) => this.log(`access request: ${(e as Error).message}`),
    });
    await this.discovery.serve();

    // Follows: organisation names resolve through Consortium once, at start.
    for (const f of config.follow) {
      await this.follows.add(typeof f.organisation === "number" ? f.organisation : await this.orgByName(f.organisation), f.stream);
    }

    const pubsub = this.host.services.pubsub;
    pubsub.subscribe(ANCHORS_TOPIC);
    pubsub.subscribe(eventsTopic(ownerOrg));
    pubsub.addEventListener("message", (evt) => void this.onAnnouncement(evt.detail).catch((e: unknown) => this.log(`announcement: ${(e as Error).message}`)));
    this.host.addEventListener("peer:connect", (evt) => void this.onConnect(evt.detail));

    await this.follows.start();
    await this.discovery.refresh();
    await this.discovery.dialKnown();
    this.timer = setInterval(() => {
      if (!this.stopped) this.ticking ??= this.tick().finally(() => (this.ticking = undefined));
    }, config.syncIntervalMs);
    // Catch-up after being offline: everything followed, from the stored cursors.
    void this.follows.syncAll();
    this.log(`peer ${this.host.peerId.toString()} listening on ${this.host.getMultiaddrs().map(String).join(", ")}`);
  }

  /**
   * Hands the serving side the member's parts: its full visibility rule (node/events, with
   * genealogy walked in its chain index and the regulators' rule) and its access log.
   */
  serveWith(parts: { visibility?: Pick<EventVisibility, "mayRead">; accessLog?: AccessRecorder; statements?: Pick<StatementStore, "get">; accessRequests?: AccessRequestIntake }): void {
    if (parts.visibility) this.visibility = parts.visibility;
    if (parts.accessLog) this.accessLog = parts.accessLog;
    if (parts.statements) this.statements = parts.statements;
    if (parts.accessRequests) this.accessIntake = parts.accessRequests;
  }

  /** Passing this organisation's access requests on to the makers' nodes (access-requests.ts). */
  get accessRelay(): AccessRequestRelay {
    this.relay ??= new AccessRequestRelay({ host: this.host, selfOrg: this.options.ownerOrg, peersOf: (org) => this.peersOf(org), timeoutMs: this.options.config.timeoutMs });
    return this.relay;
  }

  /** Fetching on demand what this organisation may see and does not hold (remote.ts). */
  get remote(): RemoteData {
    this.remoteData ??= new RemoteData({
      client: this.client,
      peersOf: (org) => this.peersOf(org),
      statements: this.receivedStatements,
      log: (m) => this.log(`on demand: ${m}`),
    });
    return this.remoteData;
  }

  /** Peer ids of `org`'s nodes: connected ones first, then those registered in Consortium (re-read after a minute). */
  async peersOf(org: number): Promise<string[]> {
    const connected: string[] = [];
    for (const id of new Set(this.host.getConnections().map((c) => c.remotePeer.toString()))) {
      if ((await this.gate.orgOf(id).catch(() => 0)) === org) connected.push(id);
    }
    let known = this.orgPeers.get(org);
    if (known === undefined || Date.now() - known.at > 60_000) {
      const c = connectContracts(this.options.deployment.contracts, this.options.provider).consortium;
      const ids: string[] = [];
      for (const nodeId of await c.nodesOf(org)) {
        const n = await c.node(nodeId);
        if (n.registered && n.peerId !== "" && !this.gate.isBanned(n.peerId)) ids.push(n.peerId);
      }
      known = { ids, at: Date.now() };
      this.orgPeers.set(org, known);
    }
    const self = this.host.peerId.toString();
    return [...new Set([...connected, ...known.ids])].filter((id) => id !== self);
  }

  private async orgByName(name: string): Promise<number> {
    const id = await orgIdByName(connectContracts(this.options.deployment.contracts, this.options.provider).consortium, name);
    if (id === undefined) throw new Error(`p2p.follow: no organisation named "${name}" in the Consortium`);
    return id;
  }

  // ------------------------------------------------------------------------------- connections

  private async onConnect(peer: PeerId): Promise<void> {
    if (this.stopped) return;
    try {
      const org = await this.gate.orgOf(peer.toString());
      this.peerOrgs.set(peer.toString(), org);
      await this.discovery.askPeers(peer).catch(() => undefined);
      await this.discovery.dialKnown();
      this.follows.syncOrg(org);
      await this.catchUpEvents(peer.toString());
    } catch (e) {
      this.log(`after connecting ${peer.toString()}: ${(e as Error).message}`);
    }
  }

  // ------------------------------------------------------------------------------- announcements

  /** Tells the network this node anchored windows up to `sequence` (on chain facts only). */
  async announceAnchor(node: string, sequence: number): Promise<void> {
    await this.publish(ANCHORS_TOPIC, { v: 1, node, sequence });
  }

  /**
   * Tells partner organisations about an own event (by its CBV 2.0 hash ID) that concerns them:
   * announced on each partner's topic now, and kept in the outbox a partner reads when it returns.
   * Whether a partner may then read it is decided when it asks (lib/access.ts).
   */
  async announceEvent(hash: string, partners: number[]): Promise<void> {
    const at = Date.now();
    for (const org of new Set(partners)) {
      if (org === this.options.ownerOrg) continue;
      await this.received.addOutbox(org, hash, at);
      await this.publish(eventsTopic(org), { v: 1, hash });
    }
  }

  /** Whether the node holds the event (own or received). */
  private async holdsEvent(hash: string): Promise<boolean> {
    return ((await this.options.events?.store.get(hash)) ?? []).length > 0;
  }

  private readonly eventCatchUps = new Map<string, Promise<void>>();

  /** Fetches the events `peer` announced to this organisation since the last time it asked (one run per peer at a time). */
  private catchUpEvents(peer: string): Promise<void> {
    let run = this.eventCatchUps.get(peer);
    if (run === undefined) {
      run = this.catchUpEventsOnce(peer).finally(() => this.eventCatchUps.delete(peer));
      this.eventCatchUps.set(peer, run);
    }
    return run;
  }

  private async catchUpEventsOnce(peer: string): Promise<void> {
    if (!this.options.events || this.stopped) return;
    let since = await this.received.eventsCursor(peer);
    let listed;
    try {
      listed = await this.client.listEvents(peerIdFromString(peer), since);
    } catch (e) {
      if (!(e instanceof FetchRefusedError && e.code === "unsupported")) this.log(`events of ${peer}: ${(e as Error).message}`);
      return;
    }
    for (const { hash, at } of listed) {
      if (this.stopped) return;
      if (!(await this.holdsEvent(hash))) {
        try {
          await this.fetchEvent(peerIdFromString(peer), hash);
        } catch (e) {
          this.log(`event ${hash} from ${peer}: ${(e as Error).message}`);
          if (!(e instanceof FetchRefusedError)) return; // try again later
        }
      }
      since = Math.max(since, at);
      await this.received.setEventsCursor(peer, since);
    }
  }

  private async publish(topic: string, message: unknown): Promise<void> {
    try {
      await this.host.services.pubsub.publish(topic, encodeJson(message));
    } catch (e) {
      this.log(`announcement on ${topic} not sent: ${(e as Error).message}`);
    }
  }

  private async onAnnouncement(msg: { type: string; topic: string; data: Uint8Array; from?: PeerId }): Promise<void> {
    if (this.stopped || msg.type !== "signed" || msg.from === undefined || msg.data.length > MAX_ANNOUNCEMENT_BYTES) return;
    const from = msg.from.toString();
    let body: Record<string, unknown>;
    try {
      body = decodeJson(msg.data) as Record<string, unknown>;
    } catch {
      return;
    }
    const org = await this.gate.orgOf(from).catch(() => 0);
    if (org === 0 || body?.v !== 1) return; // not a member now: ignored whatever it says
    if (msg.topic === ANCHORS_TOPIC) {
      this.follows.syncOrg(org, from);
    } else if (msg.topic === eventsTopic(this.options.ownerOrg) && typeof body.hash === "string" && this.options.events) {
      // The outbox also lists it: fetching through the cursor keeps the two paths from doubling up.
      await this.catchUpEvents(from);
    }
  }

  // ------------------------------------------------------------------------------- fetching

  /** One page of readings from `peer`, verified and stored (see FetchClient.fetchReadings). */
  fetchReadings(peer: PeerId | Multiaddr, q: { stream: string; from: number; to: number; afterSeq?: number; limit?: number }): Promise<VerifiedReadings> {
    return this.client.fetchReadings(peer, q);
  }

  /** Every page of readings from `peer`, each verified and stored, the next asked for meanwhile (see FetchClient.fetchReadingPages). */
  fetchReadingPages(peer: PeerId | Multiaddr, q: { stream: string; from: number; to: number; afterSeq?: number; limit?: number }): AsyncGenerator<VerifiedReadings, void> {
    return this.client.fetchReadingPages(peer, q);
  }

  /** An event document from `peer`, verified against its hash and Provenance, and stored. */
  fetchEvent(peer: PeerId | Multiaddr, hash: string): Promise<VerifiedEvent> {
    return this.client.fetchEvent(peer, hash);
  }

  private async misbehaved(peer: string, reason: string, altered: boolean): Promise<void> {
    const report: MisbehaviourReport = { peer, reason, altered, at: Date.now() };
    this.reports.push(report);
    this.log(`${altered ? "BANNED" : "rejected data of"} ${peer}: ${reason}`);
    // The ban holds from now (gate.ban records it before hanging up), not after the report is on disk.
    const banning = altered ? this.gate.ban(peer, this.options.config.banMs, this.host) : undefined;
    try {
      await this.received.report(report);
      await banning;
    } catch (e) {
      this.log(`reporting ${peer} failed: ${(e as Error).message}`);
    }
  }

  /** Every follow, now. */
  async syncAll(): Promise<void> {
    await this.follows.syncAll();
  }

  /** Periodic: re-dial, refresh the registered peers, and look on chain for anchors of followed organisations. */
  private async tick(): Promise<void> {
    try {
      await this.discovery.reachOut();
      for (const peer of new Set(this.host.getConnections().map((c) => c.remotePeer.toString()))) await this.catchUpEvents(peer);
      await this.follows.scanChain();
    } catch (e) {
      this.log(`periodic check failed: ${(e as Error).message}`);
    }
  }

  // ------------------------------------------------------------------------------- status, stop

  async peers(): Promise<{ peerId: string; org: number }[]> {
    const ids = [...new Set(this.host.getConnections().map((c) => c.remotePeer.toString()))];
    return Promise.all(ids.map(async (peerId) => ({ peerId, org: await this.gate.orgOf(peerId).catch(() => 0) })));
  }

  status(): P2pStatus {
    const peers = [...new Set(this.host.getConnections().map((c) => c.remotePeer.toString()))];
    return {
      peerId: this.host.peerId.toString(),
      addrs: this.host.getMultiaddrs().map(String),
      peers: peers.map((peerId) => ({ peerId, org: this.peerOrgs.get(peerId) ?? 0 })),
      follows: this.follows.status(),
      receivedReadings: this.receivedCount,
      served: this.served,
      refused: this.refused,
      misbehaviour: this.reports.slice(-20),
      banned: [...new Set(this.reports.filter((r) => r.altered && this.gate.isBanned(r.peer)).map((r) => r.peer))],
      throttledLookups: this.gate.throttledLookups,
      returns: { served: this.returns.served, refused: { ...this.returns.refused } },
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    for (const s of this.stops) await s();
    await Promise.allSettled([this.follows.stop(), ...this.eventCatchUps.values()]);
    await this.host.stop();
    await this.received.close();
  }
}
