/**
 * `/tracemesh/fetch/1.0.0` between real libp2p hosts, against real Consortium, AccessGrants and
 * DataAnchors on an in-process chain: refusals, grants, revocation, time-range grants, framing
 * limits, and a node caught serving an altered reading.
 */
import path from "node:path";
import { encodeBytes32String } from "ethers";
import { network } from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccessGrants, DataAnchors } from "../../../lib/contracts/types/index.js";
import { ScopeKind } from "../../../lib/registry.ts";
import { MembershipGate } from "../../../node/p2p/gater.ts";
import { type Host, createHost } from "../../../node/p2p/host.ts";
import {
  FETCH_PROTOCOL,
  FetchClient,
  FetchRefusedError,
  PeerMisbehaviourError,
  type ProvenReading,
  type ReadingStore,
  serveFetch,
  streamScopeKey,
} from "../../../node/p2p/protocol.ts";
import { type Conn, type ConsortiumFixture, deployBound, deployConsortium, now } from "../../helpers/fixture.ts";
import { AnchoredMemoryStore, TamperingStore, furnaceReadings, jsonCodec } from "./anchored-store.ts";
import { eventually, registerPeer, tempDir } from "./helpers.ts";

const LISTEN = ["/ip4/127.0.0.1/tcp/0"];
const STREAM = "furnace-1/temperature";
const PURPOSE = encodeBytes32String("QUALITY_CLAIM");

describe("fetch protocol", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  let grants: AccessGrants;
  let anchors: DataAnchors;
  const tmp = tempDir("tm-p2p-fetch-");
  const hosts: Host[] = [];
  const stops: (() => void)[] = [];
  let start: number;
  let steel: Host;
  let steelDishonest: Host;
  let oem: Host;
  let client: FetchClient;
  let oemGate: MembershipGate;
  const stored: { peer: string; readings: ProvenReading[] }[] = [];
  const reported: { peer: string; reason: string }[] = [];

  async function host(key: string, gated = true, gate = new MembershipGate(fx.consortium, { ttlMs: 500, pollMs: 200 })): Promise<Host> {
    const h = await createHost({ keyFile: path.join(tmp.dir, key), listen: LISTEN, connectionGater: gated ? gate.gater() : undefined });
    hosts.push(h);
    if (gated) stops.push(await gate.watch(h));
    return h;
  }

  async function serve(h: Host, store: ReadingStore, opts: { maxFrameBytes?: number } = {}) {
    await serveFetch(h, { consortium: fx.consortium, accessGrants: grants, ownerOrg: fx.orgs.steel.id, store, ...opts });
  }

  beforeAll(async () => {
    conn = (await network.create()) as Conn;
    fx = await deployConsortium(conn);
    const address = await fx.consortium.getAddress();
    grants = await deployBound<AccessGrants>(conn, "AccessGrants", address);
    anchors = await deployBound<DataAnchors>(conn, "DataAnchors", address);
    for (const [org, key] of [["steel", "steel.key"], ["steel", "steel-b.key"], ["oem", "oem.key"]] as const) {
      await registerPeer(fx, org, path.join(tmp.dir, key));
    }
    start = (await now(conn)) * 1000 - 60_000;
    const store = new AnchoredMemoryStore();
    await store.anchorWindow(anchors.connect(fx.orgs.steel.signer), furnaceReadings(start, 10));
    steel = await host("steel.key");
    await serve(steel, store);
    steelDishonest = await host("steel-b.key");
    await serve(steelDishonest, new TamperingStore(store));
    oemGate = new MembershipGate(fx.consortium, { ttlMs: 500, pollMs: 200 });
    oem = await host("oem.key", true, oemGate);
    client = new FetchClient(oem, {
      consortium: fx.consortium,
      dataAnchors: anchors,
      codec: jsonCodec,
      store: async (peer, readings) => void stored.push({ peer, readings }),
      onMisbehaviour: (peer, reason) => {
        reported.push({ peer, reason });
        void oemGate.ban(peer, 60_000, oem); // what a node does with a peer caught altering data
      },
    });
    await oem.dial(steel.getMultiaddrs()[0]!);
    await oem.dial(steelDishonest.getMultiaddrs()[0]!);
  });

  afterAll(async () => {
    for (const stop of stops) stop();
    await Promise.all(hosts.map((h) => h.stop()));
    await conn?.close();
    tmp.remove();
  });

  async function refusal(p: Promise<unknown>): Promise<string> {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(FetchRefusedError);
    return (e as FetchRefusedError).refusal.error;
  }

  it("refuses a member without a grant, serves it once granted, refuses it again after revocation", async () => {
    const before = stored.length;
    expect(await refusal(client.fetchReadings(steel.peerId, STREAM, start, start + 10_000))).toBe("not-granted");
    expect(await refusal(client.list(steel.peerId, STREAM))).toBe("not-granted");

    const expiry = (await now(conn)) + 3600;
    const tx = await grants.connect(fx.orgs.steel.signer).grantAccess(fx.orgs.oem.id, ScopeKind.DataStream, streamScopeKey(STREAM), PURPOSE, 0, 0, expiry);
    await tx.wait();
    const { readings, more } = await client.fetchReadings(steel.peerId, STREAM, start, start + 10_000);
    expect(readings).toHaveLength(10);
    expect(more).toBe(false);
    expect(readings.map((r) => jsonCodec.identify(r.bytes).stream)).toEqual(Array(10).fill(STREAM));
    expect(stored).toHaveLength(before + 1);
    expect(stored.at(-1)!.peer).toBe(steel.peerId.toString());

    const windows = await client.list(steel.peerId, STREAM);
    expect(windows).toEqual([{ anchor: { node: fx.orgs.steel.signer.address, sequence: 1 }, fromTimeMs: start, toTimeMs: start + 950 + 1, count: 10 }]);

    const page = await client.fetchReadings(steel.peerId, STREAM, start, start + 10_000, 4);
    expect(page.readings).toHaveLength(4);
    expect(page.more).toBe(true);

    const id = await grants.grantIdOf(fx.orgs.steel.id, fx.orgs.oem.id, streamScopeKey(STREAM));
    await (await grants.connect(fx.orgs.steel.signer).revokeAccess(id)).wait();
    const count = stored.length;
    expect(await refusal(client.fetchReadings(steel.peerId, STREAM, start, start + 10_000))).toBe("not-granted");
    expect(stored).toHaveLength(count);
  });

  it("honours a time-range grant only inside its range", async () => {
    const expiry = (await now(conn)) + 3600;
    const scope = streamScopeKey(STREAM);
    await (await grants.connect(fx.orgs.steel.signer).grantAccess(fx.orgs.oem.id, ScopeKind.AnchorWindowRange, scope, PURPOSE, start, start + 500, expiry)).wait();
    const { readings } = await client.fetchReadings(steel.peerId, STREAM, start, start + 500);
    expect(readings.map((r) => jsonCodec.identify(r.bytes).sourceTime)).toEqual([0, 100, 200, 300, 400].map((d) => start + d));
    expect(await refusal(client.fetchReadings(steel.peerId, STREAM, start, start + 501))).toBe("not-granted");
    expect(await refusal(client.list(steel.peerId, STREAM))).toBe("not-granted"); // listing needs the whole stream
  });

  it("answers malformed and oversized requests with typed refusals", async () => {
    const raw = await client.request(steel.peerId, { v: 1, type: "readings", stream: STREAM, from: 10, to: 5 });
    expect(raw).toMatchObject({ error: "bad-request" });
    const version = await client.request(steel.peerId, { v: 2, type: "list", stream: STREAM } as never);
    expect(version).toMatchObject({ error: "bad-request", detail: expect.stringContaining("version") });
    await registerPeer(fx, "steel", path.join(tmp.dir, "steel-small.key"));
    const small = await host("steel-small.key");
    await serve(small, new AnchoredMemoryStore(), { maxFrameBytes: 1024 });
    const big = await client.request(small.getMultiaddrs()[0]!, { v: 1, type: "list", stream: "x".repeat(2000) });
    expect(big).toMatchObject({ error: "too-large" });
  });

  it("refuses a caller whose peer id is not a member's, even where no gater stopped it", async () => {
    const open = await host("steel-open.key", false);
    await serve(open, new AnchoredMemoryStore());
    const stranger = await host("stranger.key", false);
    const strangerClient = new FetchClient(stranger, { consortium: fx.consortium, dataAnchors: anchors, codec: jsonCodec, store: async () => {} });
    const res = await strangerClient.request(open.getMultiaddrs()[0]!, { v: 1, type: "list", stream: STREAM });
    expect(res).toMatchObject({ error: "not-member" });
  });

  it("catches a node serving an altered reading, reports it and stores nothing from it", async () => {
    await (await grants.connect(fx.orgs.steel.signer).grantAccess(fx.orgs.oem.id, ScopeKind.DataStream, streamScopeKey(STREAM), PURPOSE, 0, 0, (await now(conn)) + 3600)).wait();
    const before = stored.length;
    const err = await client.fetchReadings(steelDishonest.peerId, STREAM, start, start + 10_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerMisbehaviourError);
    expect((err as PeerMisbehaviourError).reason).toMatch(/reading 5: does not verify against anchor 1/);
    expect(reported).toEqual([{ peer: steelDishonest.peerId.toString(), reason: (err as PeerMisbehaviourError).reason }]);
    expect(stored).toHaveLength(before);
    // The node that lied is cut off and kept out, though its organisation is still a member.
    expect(await eventually(() => oem.getConnections(steelDishonest.peerId).length === 0, 3_000)).toBe(true);
    await expect(oem.dial(steelDishonest.getMultiaddrs()[0]!)).rejects.toThrow();
    // The honest node's copy of the same window still verifies.
    expect((await client.fetchReadings(steel.peerId, STREAM, start, start + 10_000)).readings).toHaveLength(10);
  });

  it("refuses an answer larger than the frame limit instead of sending it", async () => {
    await registerPeer(fx, "steel", path.join(tmp.dir, "steel-tight.key"));
    const tight = await host("steel-tight.key");
    const store = new AnchoredMemoryStore();
    await store.anchorWindow(anchors.connect(fx.orgs.steel.accounts[1]!), furnaceReadings(start, 10));
    await serve(tight, store, { maxFrameBytes: 2048 });
    const res = await client.request(tight.getMultiaddrs()[0]!, { v: 1, type: "readings", stream: STREAM, from: start, to: start + 10_000 });
    expect(res).toMatchObject({ error: "too-large", detail: expect.stringContaining("2048") });
    // A page small enough for the frame passes.
    expect(await client.request(tight.peerId, { v: 1, type: "readings", stream: STREAM, from: start, to: start + 10_000, limit: 2 })).toMatchObject({ type: "readings", more: true });
  });

  it("rejects readings of another stream passed off as the requested one, though they verify", async () => {
    await registerPeer(fx, "steel", path.join(tmp.dir, "steel-mix.key"));
    const mixer = await host("steel-mix.key");
    const honest = new AnchoredMemoryStore();
    await honest.anchorWindow(anchors.connect(fx.orgs.steel.signer), furnaceReadings(start + 2_000, 3));
    // Door readings are anchored too, so their proofs are genuine: only the stream check catches them.
    await serve(mixer, { readings: (_s, f, t, l) => honest.readings("furnace-1/door", f, t, l), windows: (s) => honest.windows(s) });
    await oem.dial(mixer.getMultiaddrs()[0]!);
    const count = stored.length;
    const err = await client.fetchReadings(mixer.peerId, STREAM, start + 2_000, start + 3_000).catch((e: unknown) => e);
    expect((err as PeerMisbehaviourError).reason).toBe("reading 0: is of stream furnace-1/door, not furnace-1/temperature");
    expect(stored).toHaveLength(count);
  });

  it("gives up on a peer that does not answer within the timeout", async () => {
    await registerPeer(fx, "steel", path.join(tmp.dir, "steel-mute.key"));
    const mute = await host("steel-mute.key");
    await mute.handle(FETCH_PROTOCOL, () => undefined); // accepts the stream, never answers
    const impatient = new FetchClient(oem, { consortium: fx.consortium, dataAnchors: anchors, codec: jsonCodec, store: async () => {}, timeoutMs: 300 });
    const t0 = Date.now();
    await expect(impatient.request(mute.getMultiaddrs()[0]!, { v: 1, type: "list", stream: STREAM })).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(3_000);
  });
});
