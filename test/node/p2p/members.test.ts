/**
 * The peer network between real member node processes (node/daemon.ts with its `p2p` section,
 * driven by test/node/p2p/member-process.ts) on 127.0.0.1 against one anvil chain:
 *   steel   (Northern Steel Mill) produces furnace-1/temperature and serves it
 *   oem     (Atlas Motors) fetches, and follows steel's stream
 *   casting (Casting Works) produces caster-1/temperature; its stores get altered on disk
 *   the regulator has no node; a stranger host with an unregistered key tries to connect.
 */
import path from "node:path";
import { multiaddr } from "@multiformats/multiaddr";
import { JsonRpcProvider, NonceManager, Wallet, encodeBytes32String } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { streamScopeKey } from "../../../lib/access.ts";
import { ProposalKind, proposalData } from "../../../lib/consortium.ts";
import { type TracemeshContracts, connectContracts } from "../../../lib/deployment.ts";
import { dispositionKey } from "../../../lib/epcis/events.ts";
import { itemKey } from "../../../lib/identifiers/canonical.ts";
import { ScopeKind } from "../../../lib/registry.ts";
import { devKey } from "../../../scripts/local-chain/local-chain.ts";
import { EventStore } from "../../../node/events/store.ts";
import { IngestStore, keys, recordAt } from "../../../node/ingest/store.ts";
import { identitiesOf } from "../../../node/p2p/documents.ts";
import { type Host, createHost } from "../../../node/p2p/host.ts";
import { grantIdOf } from "../../../node/p2p/protocol.ts";
import { eventually, tempDir } from "./helpers.ts";
import { type Consortium, type Member, MemberProcess, setUpConsortium } from "./members.ts";

const FURNACE = "furnace-1/temperature";
const CASTER = "caster-1/temperature";
const PURPOSE = encodeBytes32String("QUALITY_CLAIM");
const CONTEXT = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"];

/** A commissioning ObjectEvent for one serialised part. */
function commissioning(epc: string): Record<string, unknown> {
  return { type: "ObjectEvent", eventTime: new Date().toISOString(), eventTimeZoneOffset: "+00:00", epcList: [epc], action: "ADD", bizStep: "commissioning", disposition: "active" };
}

/** Changes the event time of an own event in a stopped node's event store. */
async function alterStoredEvent(dataDir: string, recordHash: string): Promise<void> {
  const store = await EventStore.open(path.join(dataDir, "events"));
  try {
    const sid = "o" + recordHash.slice(2);
    const e = (await store.bySid(sid))!;
    await store.db.put(`ev\u0000${sid}`, { ...e, event: { ...e.event, eventTime: "2020-01-01T00:00:00.000Z" } });
  } finally {
    await store.close();
  }
}

interface Received {
  seq: number;
  sourceTime: number;
  value: number;
  window: number;
  ownProof: boolean;
  origin: { peer: string; ownerOrg: number; grant?: { id: string; kind: number }; tx?: string; receivedAt: number };
}

/** Alters the first reading of `stream` in the node's first anchored window that holds it (the node must be stopped). */
async function alterStoredReading(dataDir: string, stream: string): Promise<number> {
  const store = await IngestStore.open(path.join(dataDir, "db"));
  try {
    const last = await store.lastAnchored();
    for (let w = 1; w <= last; w++) {
      const record = (await store.window(w))!;
      const i = record.runs.findIndex((r) => r.stream === stream);
      if (i < 0) continue;
      const section = (await store.locator(w))![i]![0]!;
      const chunk = (await store.chunk(w, section.part))!;
      const bytes = recordAt(chunk, section.offset, 0); // a view into the chunk
      bytes[bytes.length - 1]! ^= 0x01; // the last byte of the value's binary64
      await store.db.put(keys.chunk(w, section.part), chunk);
      return w;
    }
    throw new Error(`no anchored window of ${stream}`);
  } finally {
    await store.close();
  }
}

describe("member nodes sharing data over the peer network", () => {
  const tmp = tempDir("tm-p2p-members-");
  let cons: Consortium;
  let provider: JsonRpcProvider;
  let contracts: TracemeshContracts;
  const running: Record<string, MemberProcess> = {};
  const hosts: Host[] = [];
  let steel: Member;
  let oem: Member;
  let casting: Member;
  let t0: number;
  // Each organisation's second account signs the test's own transactions (its node signs anchors).
  const admin = (keyIndex: number) => new NonceManager(new Wallet(devKey(keyIndex + 4), provider));
  let steelAdmin: NonceManager;
  let castingAdmin: NonceManager;

  const chainNow = async () => (await provider.getBlock("latest"))!.timestamp;
  const grant = async (signer: NonceManager, grantee: number, stream: string, opts: { kind?: ScopeKind; from?: number; to?: number; expiresIn?: number } = {}) => {
    const g = contracts.accessGrants.connect(signer);
    const expiry = (await chainNow()) + (opts.expiresIn ?? 3600);
    await (await g.grantAccess(grantee, opts.kind ?? ScopeKind.DataStream, streamScopeKey(stream), PURPOSE, opts.from ?? 0, opts.to ?? 0, expiry)).wait();
  };
  const revoke = async (signer: NonceManager, owner: number, grantee: number, stream: string) => {
    const g = contracts.accessGrants.connect(signer);
    await (await g.revokeAccess(grantIdOf(owner, grantee, streamScopeKey(stream)))).wait();
  };
  const received = async (who: string, org: number, stream: string) => (await running[who]!.call("received", { org, stream })).readings as Received[];
  const fetch = (who: string, peer: string, stream: string, from: number, to: number) => running[who]!.call("fetch", { peer, stream, from, to });
  /** Records a commissioning event of `epc` on Provenance for `owner`'s organisation and hands it to `owner`'s node, announced to `partners`. */
  const publishEvent = async (
    owner: string,
    signer: NonceManager,
    epc: string,
    partners: number[],
    doc: { event?: Record<string, unknown>; context?: unknown; ignoreFields?: string[]; keepIgnoreFields?: boolean } = {},
  ) => {
    const event = doc.event ?? commissioning(epc);
    const context = doc.context ?? CONTEXT;
    const { hashId, recordHash } = identitiesOf({ event, context, ignoreFields: doc.ignoreFields ?? [] });
    const p = contracts.provenance.connect(signer);
    await (await p.commission(itemKey(epc), dispositionKey("active"), recordHash)).wait();
    await running[owner]!.call("own-event", { event, context, partners, ignoreFields: doc.ignoreFields, keepIgnoreFields: doc.keepIgnoreFields });
    return { hashId, recordHash, key: itemKey(epc) };
  };
  const heldEvents = async (who: string, hash: string) =>
    (await running[who]!.call("events", { hash })).events as { sid: string; owner: number; ignoreFields?: string[]; origin: { kind: string; peerId?: string; org?: number; grant?: { id?: string } }; chain?: { recordId: string; kind: string } }[];

  beforeAll(async () => {
    cons = await setUpConsortium(
      tmp.dir,
      [
        { name: "steel", org: "Northern Steel Mill", keyIndex: 1, devices: ["furnace-1"] },
        { name: "oem", org: "Atlas Motors", keyIndex: 2 },
        { name: "casting", org: "Casting Works", keyIndex: 3, devices: ["caster-1"] },
      ],
      [{ name: "Market Surveillance Authority", keyIndex: 4 }],
      (m, all) => ({
        // Only steel's address is configured: the others find each other through Consortium and steel.
        bootstrap: m.name === "steel" ? [] : all.filter((o) => o.name === "steel").map((o) => o.addr),
        membershipTtlMs: 1_000,
        grantCacheMs: 300,
        syncIntervalMs: 500,
        timeoutMs: 30_000, // generous: the test machine may be shared
        ...(m.name === "oem" ? { follow: [{ organisation: "Northern Steel Mill", stream: FURNACE }] } : {}),
      }),
    );
    ({ steel, oem, casting } = cons.members as Record<"steel" | "oem" | "casting", Member>);
    provider = new JsonRpcProvider(cons.chain.url, undefined, { staticNetwork: true, batchMaxCount: 1 });
    provider.pollingInterval = 100;
    contracts = connectContracts(cons.deployment.contracts, provider);
    // Admin accounts join their organisations by proposal would take votes; founders already hold them.
    steelAdmin = admin(1);
    castingAdmin = admin(3);
    t0 = Date.now();
    const started = await Promise.all([steel, oem, casting].map((m) => MemberProcess.start(m)));
    for (const p of started) running[p.member.name] = p;
    // Both producers have anchored a few windows.
    for (const m of [steel, casting]) {
      expect(await eventually(async () => ((await running[m.name]!.call("status")).status as { windows: { anchored: number } }).windows.anchored >= 2, 30_000, 200)).toBe(true);
    }
  }, 240_000);

  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
    await Promise.all(Object.values(running).map((p) => p.stop()));
    provider?.destroy();
    await cons?.chain.stop();
    tmp.remove();
  });

  it("refuses a peer whose id is not registered, at connection", async () => {
    const stranger = await createHost({ keyFile: path.join(tmp.dir, "stranger.key"), listen: ["/ip4/127.0.0.1/tcp/0"] });
    hosts.push(stranger);
    await expect(stranger.services.ping.ping(multiaddr(steel.addr))).rejects.toThrow();
    expect(await eventually(() => stranger.getConnections().length === 0, 3_000)).toBe(true);
    // The members are connected to each other, the stranger to nobody. Only steel's address was
    // configured: the OEM and the casting found each other from their registration in Consortium.
    const peersOf = async (who: string) => (await running[who]!.call("status")).peers as { peerId: string; org: number }[];
    const steelPeers = await peersOf("steel");
    expect(steelPeers.map((p) => p.peerId).sort()).toEqual([oem.peerId, casting.peerId].sort());
    expect(steelPeers.find((p) => p.peerId === oem.peerId)?.org).toBe(oem.orgId);
    expect(await eventually(async () => (await peersOf("oem")).some((p) => p.peerId === casting.peerId), 10_000, 200)).toBe(true);
  });

  it("refuses a member without a grant, serves it once granted, and refuses it again after revocation", async () => {
    const now = Date.now();
    const refused = await fetch("oem", steel.peerId, FURNACE, t0 - 5_000, now);
    expect(refused).toMatchObject({ ok: false, kind: "refused", code: "not-granted" });
    expect((await running.oem!.call("list", { peer: steel.peerId, stream: FURNACE })).ok).toBe(false);
    expect(await received("oem", steel.orgId, FURNACE)).toEqual([]);

    await grant(steelAdmin, oem.orgId, FURNACE);
    const ok = await fetch("oem", steel.peerId, FURNACE, t0 - 5_000, now);
    expect(ok).toMatchObject({ ok: true, grant: { id: grantIdOf(steel.orgId, oem.orgId, streamScopeKey(FURNACE)), kind: ScopeKind.DataStream } });
    expect(ok.count as number).toBeGreaterThan(0);
    expect(ok.items).toContain("run"); // whole runs travel with one range proof
    const held = await received("oem", steel.orgId, FURNACE);
    expect(held.length).toBeGreaterThanOrEqual(ok.count as number);
    expect(held[0]!.origin).toMatchObject({ peer: steel.peerId, ownerOrg: steel.orgId, grant: { id: grantIdOf(steel.orgId, oem.orgId, streamScopeKey(FURNACE)) } });
    expect(held[0]!.origin.tx).toMatch(/^0x[0-9a-f]{64}$/);
    const listed = await running.oem!.call("list", { peer: steel.peerId });
    expect(listed.streams).toEqual([FURNACE]);
    const windows = await running.oem!.call("list", { peer: steel.peerId, stream: FURNACE });
    expect((windows.windows as unknown[]).length).toBeGreaterThanOrEqual(2);

    await revoke(steelAdmin, steel.orgId, oem.orgId, FURNACE);
    // A "yes" may be reused for up to grantCacheMs (300 ms here) unless the revocation's event
    // clears it first; after that the refusal must come.
    await new Promise((r) => setTimeout(r, 400));
    const again = await fetch("oem", steel.peerId, FURNACE, t0 - 5_000, Date.now());
    expect(again).toMatchObject({ ok: false, kind: "refused", code: "not-granted" });
  });

  it("serves a time-range grant inside its range only", async () => {
    const from = t0 - 5_000;
    const to = Date.now() - 1_000;
    await grant(steelAdmin, oem.orgId, FURNACE, { kind: ScopeKind.AnchorWindowRange, from, to });
    const inside = await fetch("oem", steel.peerId, FURNACE, from, to);
    expect(inside).toMatchObject({ ok: true });
    const beyond = await fetch("oem", steel.peerId, FURNACE, from, to + 60_000);
    expect(beyond).toMatchObject({ ok: false, kind: "refused", code: "not-granted" });
    // Not granted for the whole stream, so its windows are not listed either.
    expect(await running.oem!.call("list", { peer: steel.peerId, stream: FURNACE })).toMatchObject({ ok: false, kind: "refused", code: "not-granted" });
  });

  it("serves an EPCIS event by hash only under a grant on its item, verified against Provenance, and pushes new ones to the partner", async () => {
    const first = await publishEvent("steel", steelAdmin, "urn:epc:id:sgtin:4012345.011111.1001", [oem.orgId]);
    const refused = await running.oem!.call("fetch-event", { peer: steel.peerId, hash: first.hashId });
    expect(refused).toMatchObject({ ok: false, kind: "refused", code: "not-granted" });
    expect(await heldEvents("oem", first.hashId)).toEqual([]);
    const unknown = await running.oem!.call("fetch-event", { peer: steel.peerId, hash: `ni:///sha-256;${"ab".repeat(32)}?ver=CBV2.0` });
    expect(unknown).toMatchObject({ ok: false, kind: "refused", code: "not-found" });

    const g = contracts.accessGrants.connect(steelAdmin);
    const expiry = (await chainNow()) + 3600;
    await (await g.grantAccess(oem.orgId, ScopeKind.Item, first.key, PURPOSE, 0, 0, expiry)).wait();
    const ok = await running.oem!.call("fetch-event", { peer: steel.peerId, hash: first.hashId });
    expect(ok).toMatchObject({ ok: true, hashId: first.hashId, recordHash: first.recordHash, recordKind: "Commission", grant: { id: grantIdOf(steel.orgId, oem.orgId, first.key), kind: ScopeKind.Item } });
    const held = await heldEvents("oem", first.hashId);
    expect(held).toHaveLength(1);
    expect(held[0]).toMatchObject({ sid: "r" + first.recordHash.slice(2), owner: steel.orgId, origin: { kind: "received", peerId: steel.peerId, org: steel.orgId, grant: { id: grantIdOf(steel.orgId, oem.orgId, first.key) } } });

    // Announced on the partner's topic: fetched without being asked.
    const epc = "urn:epc:id:sgtin:4012345.011111.1002";
    await (await g.grantAccess(oem.orgId, ScopeKind.Item, itemKey(epc), PURPOSE, 0, 0, expiry)).wait();
    const pushed = await publishEvent("steel", steelAdmin, epc, [oem.orgId]);
    expect(await eventually(async () => (await heldEvents("oem", pushed.hashId)).length === 1, 10_000, 200)).toBe(true);
  });

  it("shares an event whose document declares ignoreFields; a copy that lost them is reported, its honest sender not banned", async () => {
    const context = [...CONTEXT, { ex: "https://ns.example.com/epcis/" }];
    const withIgnored = (epc: string) => ({ event: { ...commissioning(epc), "ex:scanner": "S-17" }, context, ignoreFields: ["ex:scanner"] });
    const expiry = (await chainNow()) + 3600;
    const epc = "urn:epc:id:sgtin:4012345.011111.1101";
    const declared = await publishEvent("steel", steelAdmin, epc, [], withIgnored(epc));
    await (await contracts.accessGrants.connect(steelAdmin).grantAccess(oem.orgId, ScopeKind.Item, declared.key, PURPOSE, 0, 0, expiry)).wait();
    const ok = await running.oem!.call("fetch-event", { peer: steel.peerId, hash: declared.hashId });
    expect(ok).toMatchObject({ ok: true, hashId: declared.hashId, recordHash: declared.recordHash });
    expect(((await heldEvents("oem", declared.hashId))[0] as { ignoreFields?: string[] }).ignoreFields).toEqual(["ex:scanner"]);

    // A copy stored without its ignoreFields (an older node): not stored, reported, nobody banned.
    const epc2 = "urn:epc:id:sgtin:4012345.011111.1102";
    const lost = await publishEvent("steel", steelAdmin, epc2, [], { ...withIgnored(epc2), keepIgnoreFields: false });
    await (await contracts.accessGrants.connect(steelAdmin).grantAccess(oem.orgId, ScopeKind.Item, lost.key, PURPOSE, 0, 0, expiry)).wait();
    const mismatch = await running.oem!.call("fetch-event", { peer: steel.peerId, hash: lost.hashId });
    expect(mismatch).toMatchObject({ ok: false, kind: "misbehaviour", altered: false });
    expect(mismatch.reason as string).toMatch(/leaving out ex:scanner: the sender's copy lacks the ignoreFields/);
    expect(await heldEvents("oem", lost.hashId)).toEqual([]);
    const status = (await running.oem!.call("status")).status as { p2p: { banned: string[]; misbehaviour: { peer: string; altered: boolean }[] } };
    expect(status.p2p.banned).not.toContain(steel.peerId);
    expect(status.p2p.misbehaviour.at(-1)).toMatchObject({ peer: steel.peerId, altered: false });
    expect(await running.oem!.call("fetch-event", { peer: steel.peerId, hash: declared.hashId })).toMatchObject({ ok: true });
  });

  it("catches a node that serves a reading and an event altered on its disk, stores nothing from it, and bans it", async () => {
    await grant(castingAdmin, oem.orgId, CASTER);
    // Honest first: the grant works.
    const honest = await fetch("oem", casting.peerId, CASTER, Date.now() - 5_000, Date.now());
    expect(honest, JSON.stringify(honest)).toMatchObject({ ok: true });
    const before = (await received("oem", casting.orgId, CASTER)).length;
    const doc = await publishEvent("casting", castingAdmin, "urn:epc:id:sgtin:4012345.022222.7", []);
    await (await contracts.accessGrants.connect(castingAdmin).grantAccess(steel.orgId, ScopeKind.Item, doc.key, PURPOSE, 0, 0, (await chainNow()) + 3600)).wait();
    await running.casting!.stop();
    const altered = await alterStoredReading(casting.dataDir, CASTER);
    await alterStoredEvent(casting.dataDir, doc.recordHash);
    running.casting = await MemberProcess.start(casting);
    const answer = await fetch("oem", casting.peerId, CASTER, t0 - 5_000, Date.now());
    expect(answer).toMatchObject({ ok: false, kind: "misbehaviour", altered: true });
    // The 2.0.0 wire carries no leaf hashes, so an altered reading shows as a proof that does not lead to the anchored root.
    expect(answer.reason as string).toMatch(new RegExp(`window ${altered} of node ${casting.wallet.address}: proof-invalid`, "i"));
    expect((await received("oem", casting.orgId, CASTER)).length).toBe(before);
    const status = (await running.oem!.call("status")).status as { p2p: { banned: string[]; misbehaviour: { peer: string; altered: boolean }[] } };
    expect(status.p2p.banned).toEqual([casting.peerId]);
    expect(status.p2p.misbehaviour.at(-1)).toMatchObject({ peer: casting.peerId, altered: true });
    // Banned: disconnected, and refused when it dials again.
    expect(await eventually(async () => !((await running.oem!.call("status")).peers as { peerId: string }[]).some((p) => p.peerId === casting.peerId), 15_000, 200)).toBe(true);
    const retry = await fetch("oem", casting.peerId, CASTER, t0 - 5_000, Date.now());
    expect(retry).toMatchObject({ ok: false, kind: "error" });

    // The altered document: its hash no longer matches what was asked for and recorded on chain.
    const forged = await running.steel!.call("fetch-event", { peer: casting.peerId, hash: doc.hashId });
    expect(forged).toMatchObject({ ok: false, kind: "misbehaviour", altered: true });
    expect(forged.reason as string).toMatch(new RegExp(`hashes to .* not to the requested ${doc.hashId.replace(/[?.]/g, "\\$&")}`));
    expect(await heldEvents("steel", doc.hashId)).toEqual([]);
  }, 120_000);

  it("a follower stopped while its partner anchors catches up after restart", async () => {
    await grant(steelAdmin, oem.orgId, FURNACE); // a whole-stream grant again
    // Following: announcements of new anchors bring steel's readings without being asked.
    expect(await eventually(async () => (await received("oem", steel.orgId, FURNACE)).some((r) => r.sourceTime > Date.now() - 5_000), 60_000, 300)).toBe(true);
    await running.oem!.stop();
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 3_000)); // steel keeps measuring and anchoring
    const anchoredWhileAway = await eventually(async () => ((await running.steel!.call("status")).status as { lastAnchor?: { anchoredAt: number } }).lastAnchor!.anchoredAt * 1000 > stoppedAt, 10_000, 200);
    expect(anchoredWhileAway).toBe(true);
    // ... and publishes an event that concerns the OEM.
    const epc = "urn:epc:id:sgtin:4012345.011111.1003";
    await (await contracts.accessGrants.connect(steelAdmin).grantAccess(oem.orgId, ScopeKind.Item, itemKey(epc), PURPOSE, 0, 0, (await chainNow()) + 3600)).wait();
    const missed = await publishEvent("steel", steelAdmin, epc, [oem.orgId]);
    running.oem = await MemberProcess.start(oem);
    expect(await eventually(async () => (await received("oem", steel.orgId, FURNACE)).some((r) => r.sourceTime > stoppedAt + 2_000), 60_000, 300)).toBe(true);
    expect(await eventually(async () => (await heldEvents("oem", missed.hashId)).length === 1, 20_000, 200)).toBe(true);
    // Nothing missing: the sequence numbers received from steel run without a gap.
    // The ban of the tampering node outlived the restart.
    const after = await running.oem!.call("status");
    expect((after.status as { p2p: { banned: string[] } }).p2p.banned).toEqual([casting.peerId]);
    expect((after.peers as { peerId: string }[]).map((p) => p.peerId)).not.toContain(casting.peerId);
    const seqs = (await received("oem", steel.orgId, FURNACE)).map((r) => r.seq);
    expect(seqs.length).toBeGreaterThan(40);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
  }, 240_000);

  it("refuses again once the grant expired (chain time)", async () => {
    await grant(steelAdmin, oem.orgId, FURNACE, { expiresIn: 30 });
    const recent = () => fetch("oem", steel.peerId, FURNACE, Date.now() - 5_000, Date.now());
    const ok = await recent();
    expect(ok, JSON.stringify(ok)).toMatchObject({ ok: true });
    await provider.send("evm_increaseTime", [60]);
    await provider.send("evm_mine", []);
    expect(await eventually(async () => (await recent()).code === "not-granted", 5_000, 200)).toBe(true);
  });

  it("disconnects the peer of a suspended organisation within seconds", async () => {
    const peersOf = async (who: string) => ((await running[who]!.call("status")).peers as { peerId: string }[]).map((p) => p.peerId);
    expect(await eventually(async () => (await peersOf("steel")).includes(oem.peerId), 10_000, 200)).toBe(true);
    const c = contracts.consortium;
    await (await c.connect(steelAdmin).propose(ProposalKind.Suspend, proposalData.suspend(oem.orgId))).wait();
    const id = await c.proposalCount();
    const t = Date.now();
    // The OEM, the subject, does not vote: steel and casting are 2 of the 3 voters, the quorum.
    await (await c.connect(castingAdmin).vote(id, true)).wait();
    expect(await c.isActiveOrg(oem.orgId)).toBe(false);
    expect(await eventually(async () => !(await peersOf("steel")).includes(oem.peerId), 8_000, 100)).toBe(true);
    expect(Date.now() - t).toBeLessThan(8_000);
    // And it stays out: a fetch from the suspended member's node is refused at connection.
    expect(await fetch("oem", steel.peerId, FURNACE, t0, Date.now())).toMatchObject({ ok: false });
  });
});
