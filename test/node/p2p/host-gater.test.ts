/**
 * The libp2p host and the membership gate against a real Consortium on an in-process chain:
 * persistent identities, admission only of registered member peers, and eviction of a peer
 * whose organisation is suspended.
 */
import { chmodSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { multiaddr } from "@multiformats/multiaddr";
import { JsonRpcProvider } from "ethers";
import { network } from "hardhat";
import { Consortium__factory } from "../../../lib/contracts/types/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Host, createHost, loadOrCreateIdentity, peerIdOfKeyFile } from "../../../node/p2p/host.ts";
import { MembershipGate } from "../../../node/p2p/gater.ts";
import { ProposalKind, proposalData } from "../../../lib/consortium.ts";
import { type Conn, type ConsortiumFixture, deployConsortium, passProposal, suspendOrg } from "../../helpers/fixture.ts";
import { eventually, registerPeer, tempDir } from "./helpers.ts";

const LISTEN = ["/ip4/127.0.0.1/tcp/0"];

describe("peer identity", () => {
  const tmp = tempDir("tm-p2p-key-");
  afterAll(() => tmp.remove());

  it("creates an Ed25519 key file with mode 0600 and keeps the same peer id across restarts", async () => {
    const file = path.join(tmp.dir, "keys", "peer.key");
    const first = await peerIdOfKeyFile(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first).toMatch(/^12D3KooW/); // Ed25519 peer ids are identity multihashes
    expect(await peerIdOfKeyFile(file)).toBe(first);
    const host = await createHost({ keyFile: file, listen: LISTEN });
    try {
      expect(host.peerId.toString()).toBe(first);
    } finally {
      await host.stop();
    }
  });

  it("refuses a key file others can read, and a file that is no key", async () => {
    const open = path.join(tmp.dir, "open.key");
    await peerIdOfKeyFile(open);
    chmodSync(open, 0o644);
    await expect(loadOrCreateIdentity(open)).rejects.toThrow(/readable by others/);
    const junk = path.join(tmp.dir, "junk.key");
    writeFileSync(junk, "not a key", { mode: 0o600 });
    await expect(loadOrCreateIdentity(junk)).rejects.toThrow();
  });
});

describe("membership gate", () => {
  let fx: ConsortiumFixture;
  let conn: Conn;
  const tmp = tempDir("tm-p2p-gate-");
  const hosts: Host[] = [];
  const stops: (() => Promise<void>)[] = [];
  let steelKey: string;
  let oemKey: string;
  let strangerKey: string;

  async function gatedHost(keyFile: string, gate = new MembershipGate(fx.consortium, { ttlMs: 500, pollMs: 200 })) {
    const host = await createHost({ keyFile, listen: LISTEN, connectionGater: gate.gater() });
    hosts.push(host);
    stops.push(await gate.watch(host));
    return { host, gate };
  }

  beforeAll(async () => {
    conn = (await network.create()) as Conn;
    fx = await deployConsortium(conn);
    steelKey = path.join(tmp.dir, "steel.key");
    oemKey = path.join(tmp.dir, "oem.key");
    strangerKey = path.join(tmp.dir, "stranger.key");
    await registerPeer(fx, "steel", steelKey);
    await registerPeer(fx, "oem", oemKey);
    await peerIdOfKeyFile(strangerKey);
  });

  afterAll(async () => {
    for (const stop of stops) await stop();
    await Promise.all(hosts.map((h) => h.stop()));
    await conn?.close();
    tmp.remove();
  });

  it("answers membership from the chain", async () => {
    const gate = new MembershipGate(fx.consortium);
    expect(await gate.isMember(await peerIdOfKeyFile(steelKey))).toBe(true);
    expect(await gate.isMember(await peerIdOfKeyFile(strangerKey))).toBe(false);
  });

  it("rate-limits chain lookups of unknown peer ids, never those of a member it admitted before", async () => {
    let calls = 0;
    const counted = new Proxy(fx.consortium, {
      get(target, p, receiver) {
        const v = Reflect.get(target, p, receiver) as unknown;
        if (p !== "orgOfPeer" && p !== "isMemberPeer") return v;
        return (...args: unknown[]) => {
          calls++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const gate = new MembershipGate(counted, { ttlMs: 0, unknownPeerLookups: { max: 3, perMs: 60_000 } });
    const steel = await peerIdOfKeyFile(steelKey);
    expect(await gate.isMember(steel)).toBe(true); // unknown until now: one of the three lookups
    const strangers = await Promise.all(Array.from({ length: 10 }, (_, i) => peerIdOfKeyFile(path.join(tmp.dir, `flood-${i}.key`))));
    for (const s of strangers) expect(await gate.isMember(s)).toBe(false);
    expect(calls).toBe(2 * 3); // two chain calls per lookup; the other eight strangers cost none
    expect(gate.throttledLookups).toBe(8);
    // The member admitted before still gets the chain's answer (the TTL of 0 forces a lookup).
    expect(await gate.isMember(steel)).toBe(true);
    expect(calls).toBe(2 * 4);
  });

  it("admits a registered member peer and refuses an unregistered one, both ways", async () => {
    const { host: steel } = await gatedHost(steelKey);
    const { host: oem } = await gatedHost(oemKey);
    const { host: stranger } = await gatedHost(strangerKey);
    const steelAddr = steel.getMultiaddrs()[0]!;

    // Member to member: connects, and the connection carries traffic.
    const rtt = await oem.services.ping.ping(steelAddr);
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(steel.getConnections(oem.peerId).length).toBeGreaterThan(0);

    // Unregistered peer dialing a member: the member drops it as soon as Noise has proven its
    // peer id (the dialer may see its half of the handshake complete first), so nothing passes.
    await expect(stranger.services.ping.ping(steelAddr)).rejects.toThrow();
    expect(await eventually(() => stranger.getConnections(steel.peerId).length === 0, 3_000)).toBe(true);
    expect(steel.getConnections(stranger.peerId).length).toBe(0);

    // A member does not dial an unregistered peer.
    const strangerAddr = multiaddr(`${stranger.getMultiaddrs()[0]!.toString()}`);
    await expect(steel.dial(strangerAddr)).rejects.toThrow();
    expect(steel.getConnections(stranger.peerId).length).toBe(0);
  });

  it("closes the connection of a peer within seconds of its organisation's suspension", async () => {
    const [steel, oem] = hosts as [Host, Host];
    if (oem.getConnections(steel.peerId).length === 0) await oem.dial(steel.getMultiaddrs()[0]!);
    expect(steel.getConnections(oem.peerId).length).toBeGreaterThan(0);
    const t0 = Date.now();
    await suspendOrg(fx, "oem");
    expect(await eventually(() => steel.getConnections(oem.peerId).length === 0, 5_000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5_000);
    // And it cannot come back while suspended.
    await expect(oem.services.ping.ping(steel.getMultiaddrs()[0]!)).rejects.toThrow();
  });

  it("closes the connection of a node removed from its organisation, while the organisation stays", async () => {
    const steel = hosts[0]!;
    const spareKey = path.join(tmp.dir, "steel-spare.key");
    const spareId = await registerPeer(fx, "steel", spareKey);
    const { host: spare } = await gatedHost(spareKey);
    await spare.services.ping.ping(steel.getMultiaddrs()[0]!);
    expect(steel.getConnections(spare.peerId).length).toBeGreaterThan(0);
    const nodes = await fx.consortium.nodesOf(fx.orgs.steel.id);
    let nodeId: bigint | undefined;
    for (const n of nodes) if ((await fx.consortium.node(n)).peerId === spareId) nodeId = n;
    await passProposal(fx, ProposalKind.RemoveNode, proposalData.removeNode(Number(nodeId)));
    expect(await eventually(() => steel.getConnections(spare.peerId).length === 0, 5_000)).toBe(true);
    expect(await fx.consortium.isActiveOrg(fx.orgs.steel.id)).toBe(true);
  });

  it("fails closed when the chain cannot be asked: new peers are denied, the error is reported", async () => {
    // A port nothing listens on: the address of a chain that is down.
    const dead = new JsonRpcProvider("http://127.0.0.1:9", 31337, { staticNetwork: true });
    const errors: unknown[] = [];
    const gate = new MembershipGate(Consortium__factory.connect(await fx.consortium.getAddress(), dead), { onError: (e) => errors.push(e) });
    try {
      expect(await gate.isMember(await peerIdOfKeyFile(steelKey))).toBe(false);
      expect(errors).toHaveLength(1);
    } finally {
      dead.destroy();
    }
  });
});
