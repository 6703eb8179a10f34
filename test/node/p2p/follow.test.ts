/**
 * A follow never stalls on data that does not verify for an honest reason. Two member processes:
 * the steel mill measures and anchors its furnace, the OEM follows the stream. The chain stops
 * mining for a while, and when it resumes its clock has jumped, so the windows the mill closed
 * during the stall are anchored more than DataAnchors' 300 s after they ended ("anchored-late").
 * The OEM skips exactly those windows, records each with its reason, keeps following the windows
 * after them, and neither reports nor bans the honest mill.
 */
import { JsonRpcProvider, NonceManager, Wallet, encodeBytes32String } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { streamScopeKey } from "../../../lib/access.ts";
import { type TracemeshContracts, connectContracts } from "../../../lib/deployment.ts";
import { ScopeKind } from "../../../lib/registry.ts";
import { devKey } from "../../../scripts/local-chain/local-chain.ts";
import type { P2pStatus } from "../../../node/p2p/network.ts";
import { ReceivedStore } from "../../../node/p2p/received-store.ts";
import { eventually, tempDir } from "./helpers.ts";
import { type Consortium, type Member, MemberProcess, setUpConsortium } from "./members.ts";

const FURNACE = "furnace-1/temperature";

describe("a follow across windows anchored late", () => {
  const tmp = tempDir("tm-p2p-follow-");
  let cons: Consortium;
  let provider: JsonRpcProvider;
  let contracts: TracemeshContracts;
  const running: Record<string, MemberProcess> = {};
  let steel: Member;
  let oem: Member;

  const p2pOf = async (who: string) => ((await running[who]!.call("status")).status as { p2p: P2pStatus }).p2p;
  const follow = async () => (await p2pOf("oem")).follows[0]!;
  const received = async () => (await running.oem!.call("received", { org: steel.orgId, stream: FURNACE })).readings as { seq: number; sourceTime: number }[];

  beforeAll(async () => {
    cons = await setUpConsortium(
      tmp.dir,
      [
        { name: "steel", org: "Northern Steel Mill", keyIndex: 1, devices: ["furnace-1"] },
        { name: "oem", org: "Atlas Motors", keyIndex: 2 },
      ],
      [],
      (m, all) => ({
        bootstrap: m.name === "steel" ? [] : all.filter((o) => o.name === "steel").map((o) => o.addr),
        membershipTtlMs: 1_000,
        grantCacheMs: 300,
        syncIntervalMs: 500,
        timeoutMs: 30_000,
        ...(m.name === "oem" ? { follow: [{ organisation: "Northern Steel Mill", stream: FURNACE }] } : {}),
      }),
    );
    ({ steel, oem } = cons.members as Record<"steel" | "oem", Member>);
    provider = new JsonRpcProvider(cons.chain.url, undefined, { staticNetwork: true, batchMaxCount: 1 });
    contracts = connectContracts(cons.deployment.contracts, provider);
    const started = await Promise.all([steel, oem].map((m) => MemberProcess.start(m)));
    for (const p of started) running[p.member.name] = p;
    const steelAdmin = new NonceManager(new Wallet(devKey(steel.keyIndex + 4), provider));
    const expiry = (await provider.getBlock("latest"))!.timestamp + 7 * 24 * 3600;
    await (await contracts.accessGrants.connect(steelAdmin).grantAccess(oem.orgId, ScopeKind.DataStream, streamScopeKey(FURNACE), encodeBytes32String("QA"), 0, 0, expiry)).wait();
  }, 240_000);

  afterAll(async () => {
    await Promise.all(Object.values(running).map((p) => p.stop()));
    provider?.destroy();
    await cons?.chain.stop();
    tmp.remove();
  });

  it("skips the late windows with their reason, keeps following after them, and blames nobody", async () => {
    expect(await eventually(async () => (await follow()).received > 0, 60_000, 300)).toBe(true);

    // The chain stalls for 25 s, then resumes 285 s ahead: what the mill closed in the first ten
    // seconds of the stall is anchored more than 300 s after its end; later windows are in time.
    await provider.send("evm_setAutomine", [false]);
    const stalledAt = Date.now();
    await new Promise((r) => setTimeout(r, 25_000));
    await provider.send("evm_increaseTime", [285]);
    await provider.send("evm_setAutomine", [true]);
    await provider.send("evm_mine", []);
    const resumedAt = Date.now();

    // The follow moves past the late windows and receives readings measured after the stall.
    expect(await eventually(async () => (await received()).some((r) => r.sourceTime > resumedAt + 2_000), 90_000, 500)).toBe(true);
    const f = await follow();
    expect(f.unverifiable).toBeGreaterThan(0);
    expect(f.lastUnverifiable).toMatch(/anchored-late/);
    expect(f.lastError).toBeUndefined();
    const p2p = await p2pOf("oem");
    expect(p2p.misbehaviour).toEqual([]);
    expect(p2p.banned).toEqual([]);
    expect(((await running.oem!.call("status")).peers as { peerId: string }[]).map((p) => p.peerId)).toContain(steel.peerId);

    // Every sequence number is accounted for: received and verified, or in a window recorded with its reason.
    await running.oem!.stop();
    delete running.oem;
    const store = await ReceivedStore.open(`${oem.dataDir}/received`);
    try {
      const skipped = await store.unverifiable(steel.orgId, FURNACE);
      expect(skipped.length).toBe(f.unverifiable);
      for (const u of skipped) {
        expect(u).toMatchObject({ reason: "anchored-late", peer: steel.peerId, owner: steel.orgId, stream: FURNACE });
      }
      const seqs = [...(await store.readings(steel.orgId, FURNACE)).map((r) => r.seq), ...skipped.flatMap((u) => Array.from({ length: u.lastSeq - u.firstSeq + 1 }, (_, k) => u.firstSeq + k))].sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
      // The late windows are the stalled ones: measured during the stall, not after it.
      const readings = await store.readings(steel.orgId, FURNACE);
      expect(readings.some((r) => r.reading.sourceTime > stalledAt + 1_000 && r.reading.sourceTime < stalledAt + 5_000)).toBe(false);
    } finally {
      await store.close();
    }
  }, 240_000);
});
