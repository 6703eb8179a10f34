/**
 * How a member node finds the other members: the configured bootstrap addresses are dialled at
 * start and re-dialled when lost; `/tracemesh/peers/1.0.0` asks connected members for the
 * addresses of the members they are connected to; and every peer id Consortium registers to an
 * active member is dialled once an address for it is known. Who may connect at all is the
 * MembershipGate's decision (gater.ts); discovery only dials.
 */
import type { PeerId } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import type { Consortium } from "../../lib/contracts/types/index.js";
import type { MembershipGate } from "./gater.ts";
import type { Host } from "./host.ts";
import { decodeJson, encodeJson, readFrame, withTimeout, writeFrame } from "./protocol.ts";

export const PEERS_PROTOCOL = "/tracemesh/peers/1.0.0";
/** Largest peers answer (256 peers of 8 addresses fit). */
const MAX_PEERS_ANSWER_BYTES = 64 * 1024;

export class PeerDiscovery {
  /** Peer ids Consortium registers to active organisations (other than this node). */
  private registered = new Set<string>();

  constructor(
    private readonly host: Host,
    private readonly gate: MembershipGate,
    private readonly consortium: Consortium,
    private readonly options: { bootstrap: readonly string[]; timeoutMs: number },
  ) {}

  /** Serves the peers protocol (at most two requests at a time per connection). */
  async serve(): Promise<void> {
    await this.host.handle(
      PEERS_PROTOCOL,
      async (stream) => {
        try {
          await withTimeout(stream, this.options.timeoutMs, async () => {
            const peers: { id: string; addrs: string[] }[] = [];
            for (const conn of this.host.getConnections()) {
              const id = conn.remotePeer.toString();
              if (peers.some((p) => p.id === id)) continue;
              const known = await this.host.peerStore.get(conn.remotePeer).catch(() => undefined);
              const addrs = (known?.addresses ?? []).map((a) => a.multiaddr.toString()).filter((a) => !a.includes("/p2p-circuit"));
              if (addrs.length > 0) peers.push({ id, addrs: addrs.slice(0, 8) });
            }
            await writeFrame(stream, encodeJson({ peers: peers.slice(0, 256) }), MAX_PEERS_ANSWER_BYTES);
            await stream.close();
          });
        } catch (e) {
          stream.abort(e as Error);
        }
      },
      { maxInboundStreams: 2 },
    );
  }

  /** Reads the registered peer ids from Consortium again. */
  async refresh(): Promise<void> {
    const c = this.consortium;
    const ids = new Set<string>();
    const count = Number(await c.orgCount());
    for (let org = 1; org <= count; org++) {
      if (!(await c.isActiveOrg(org))) continue;
      for (const nodeId of await c.nodesOf(org)) {
        const n = await c.node(nodeId);
        if (n.registered && n.peerId !== "") ids.add(n.peerId);
      }
    }
    ids.delete(this.host.peerId.toString());
    this.registered = ids;
  }

  /** Dials bootstrap addresses and registered peers with known addresses that are not connected. */
  async dialKnown(): Promise<void> {
    const connected = this.connected();
    const targets: (Multiaddr | PeerId)[] = [];
    for (const a of this.options.bootstrap) {
      const ma = multiaddr(a);
      const id = ma.getComponents().findLast((x) => x.name === "p2p")?.value;
      if (id && !connected.has(id) && !this.gate.isBanned(id)) targets.push(ma);
    }
    for (const id of this.registered) {
      if (connected.has(id) || this.gate.isBanned(id)) continue;
      const peer = peerIdFromString(id);
      const known = await this.host.peerStore.get(peer).catch(() => undefined);
      if (known && known.addresses.length > 0) targets.push(peer);
    }
    await Promise.all(targets.map((t) => this.host.dial(t, { signal: AbortSignal.timeout(this.options.timeoutMs) }).catch(() => undefined)));
  }

  /** Asks `peer` for the members it knows, and remembers the addresses of registered ones. */
  async askPeers(peer: PeerId): Promise<void> {
    const stream = await this.host.dialProtocol(peer, PEERS_PROTOCOL, { signal: AbortSignal.timeout(this.options.timeoutMs) });
    const answer = (await withTimeout(stream, this.options.timeoutMs, async () => {
      await stream.close();
      return decodeJson(await readFrame(stream, MAX_PEERS_ANSWER_BYTES));
    })) as { peers?: { id?: unknown; addrs?: unknown }[] };
    for (const p of Array.isArray(answer?.peers) ? answer.peers : []) {
      if (typeof p.id !== "string" || !this.registered.has(p.id) || !Array.isArray(p.addrs)) continue;
      const addrs: Multiaddr[] = [];
      for (const a of p.addrs.slice(0, 8)) {
        try {
          if (typeof a === "string") addrs.push(multiaddr(a));
        } catch {
          // not a multiaddr: ignored
        }
      }
      if (addrs.length > 0) await this.host.peerStore.merge(peerIdFromString(p.id), { multiaddrs: addrs });
    }
  }

  /** Periodic: refresh the registered peers; when one is out of reach, ask the connected ones where it listens; dial. */
  async reachOut(): Promise<void> {
    await this.refresh();
    const connected = this.connected();
    if ([...this.registered].some((id) => !connected.has(id) && !this.gate.isBanned(id))) {
      for (const conn of this.host.getConnections()) await this.askPeers(conn.remotePeer).catch(() => undefined);
    }
    await this.dialKnown();
  }

  private connected(): Set<string> {
    return new Set(this.host.getConnections().map((c) => c.remotePeer.toString()));
  }
}
