/**
 * Re-fetching a node's lost readings from its partners (issue 18): real member processes on a real
 * anvil chain, the steel mill measuring two streams, the OEM following both, the lab following
 * one; the Rogue castings node an in-process host that serves the return protocol with lies.
 *
 * - Partners answer only the node's own organisation: another member, a member naming the node's
 *   organisation in its request, and a peer of no member are refused, and the refusals counted.
 * - The mill's store loses three windows (two whole, one in part); `repair --from-partners`:
 *   with only the lab and the liar reachable, the windows stay lost (the lab holds one stream; the
 *   liar is banned and its ban kept), exit 1 naming the stream no partner returned; killed
 *   mid-restore, no window is presented whole that is not; run again with the OEM back, every
 *   window is restored, and `audit` verifies every reading against the chain.
 * - Each kind of lie (altered value, a reading left out, readings of a window not asked for, the
 *   same readings twice) is caught against the anchored root, on a copy of the damaged store.
 */
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createHost } from "../../../node/p2p/host.ts";
import { JsonRpcProvider, NonceManager, Wallet, encodeBytes32String } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { streamScopeKey } from "../../../lib/access.ts";
import { connectContracts } from "../../../lib/deployment.ts";
import { ScopeKind } from "../../../lib/registry.ts";
import { cachedAnchorView, contractAnchorView } from "../../../lib/verify-reading.ts";
import { devKey } from "../../../scripts/local-chain/local-chain.ts";
import { ProofService } from "../../../node/ingest/proofs.ts";
import { type Partner, refetchWindows } from "../../../node/ingest/refetch.ts";
import { salvageCheck } from "../../../node/ingest/repair.ts";
import { IngestStore } from "../../../node/ingest/store.ts";
import { loseWindows } from "../ingest/support/disk-fault.ts";
import { IngestReadingSource } from "../../../node/p2p/ingest-source.ts";
import type { NodeStatus } from "../../../node/daemon.ts";
import { nodeMetrics } from "../../../node/metrics.ts";
import type { P2pStatus } from "../../../node/p2p/network.ts";
import type { ReadingItem } from "../../../node/p2p/protocol.ts";
import { RETURN_PROTOCOL, type ReturnRequest, askReturn, parseReturnRequest } from "../../../node/p2p/return-fetch.ts";
import { decodeJson, readFrame, writeFrame } from "../../../node/p2p/protocol.ts";
import { encodeAnswer } from "../../../node/p2p/wire.ts";
import { peerIdFromString } from "@libp2p/peer-id";
import { eventually, tempDir } from "./helpers.ts";
import { type Consortium, type Member, MemberProcess } from "./members.ts";
import { repairFromPartners, setUpReturnConsortium, stopReturnTest, withReceived, withStore } from "./return-setup.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const FURNACE = "furnace-1/temperature";
const PRESS = "press-2/temperature";
/** Windows the mill loses: the first two whole (record, leaves, readings), the third its readings only. */
const LOST = [4, 5, 6];

describe("re-fetching lost readings from partners", { timeout: 600_000 }, () => {
  const tmp = tempDir("tm-p2p-return-");
  let cons: Consortium;
  let provider: JsonRpcProvider;
  const running: Record<string, MemberProcess> = {};
  let steel: Member, oem: Member, lab: Member, rogue: Member;
  let node: string;
  /** The mill's genuine items of every anchored window, per stream, taken before the loss. */
  const genuine = new Map<string, ReadingItem[]>();
  let liar: Awaited<ReturnType<typeof createHost>> | undefined;

  const received = async (who: string, stream: string) => (await running[who]!.call("received", { org: steel.orgId, stream })).readings as { seq: number; window: number }[];
  const p2pOf = async (who: string) => ((await running[who]!.call("status")).status as { p2p: P2pStatus }).p2p;

  beforeAll(async () => {
    // The mill knows where its partners listen (it needs them when it asks its readings back).
    cons = await setUpReturnConsortium(
      tmp.dir,
      [
        { name: "steel", org: "Northern Steel Mill", keyIndex: 1, devices: ["furnace-1", "press-2"] },
        { name: "oem", org: "Atlas Motors", keyIndex: 2 },
        { name: "lab", org: "Hanse Test Lab", keyIndex: 3 },
        { name: "rogue", org: "Rogue Castings", keyIndex: 4 },
      ],
      "steel",
      (m) => ({
        ...(m.name === "oem" ? { follow: [FURNACE, PRESS].map((stream) => ({ organisation: "Northern Steel Mill", stream })) } : {}),
        ...(m.name === "lab" ? { follow: [{ organisation: "Northern Steel Mill", stream: FURNACE }] } : {}),
      }),
    );
    ({ steel, oem, lab, rogue } = cons.members as Record<"steel" | "oem" | "lab" | "rogue", Member>);
    provider = new JsonRpcProvider(cons.chain.url, undefined, { staticNetwork: true, batchMaxCount: 1 });
    const contracts = connectContracts(cons.deployment.contracts, provider);
    for (const p of await Promise.all([steel, oem, lab].map((m) => MemberProcess.start(m)))) running[p.member.name] = p;
    node = running.steel!.ready.node;
    const admin = new NonceManager(new Wallet(devKey(steel.keyIndex + 4), provider));
    const expiry = (await provider.getBlock("latest"))!.timestamp + 7 * 24 * 3600;
    for (const [grantee, stream] of [
      [oem, FURNACE],
      [oem, PRESS],
      [lab, FURNACE],
    ] as const) {
      await (await contracts.accessGrants.connect(admin).grantAccess(grantee.orgId, ScopeKind.DataStream, streamScopeKey(stream), encodeBytes32String("QA"), 0, 0, expiry)).wait();
    }
  }, 300_000);

  afterAll(() => stopReturnTest({ liar, running, provider, cons, tmp }));

  it("partners hand a node's readings back to its own organisation only, counting every refusal", async () => {
    // Both followers hold the lost windows (and one past them, so they are anchored and fetched).
    const holds = async (who: string, stream: string) => (await received(who, stream)).some((r) => r.window > LOST.at(-1)!);
    expect(await eventually(async () => (await holds("oem", FURNACE)) && (await holds("oem", PRESS)) && (await holds("lab", FURNACE)), 120_000, 500)).toBe(true);

    const ask = (host: Parameters<typeof askReturn>[0], request: Record<string, unknown>) =>
      askReturn(host, peerIdFromString(oem.peerId), { v: 1, type: "return", node, stream: FURNACE, fromWindow: LOST[0]!, toWindow: LOST.at(-1)!, ...request } as ReturnRequest);
    // Another member (the rogue castings node, registered to its own organisation).
    const other = await createHost({ keyFile: path.join(rogue.dir, "p2p.key"), listen: ["/ip4/127.0.0.1/tcp/0"] });
    try {
      await other.dial((await import("@multiformats/multiaddr")).multiaddr(oem.addr));
      const refused = await ask(other, {});
      expect(refused).toMatchObject({ error: "not-granted" });
      expect((refused as { detail: string }).detail).toContain(`anchored by organisation ${steel.orgId}, not by organisation ${rogue.orgId}`);
      // Claiming the mill's organisation in the request changes nothing: the request names none.
      expect(await ask(other, { org: steel.orgId })).toMatchObject({ error: "bad-request" });
      // Nothing of windows the mill never anchored.
      expect(await ask(other, { fromWindow: 1_000_000, toWindow: 1_000_000 })).toMatchObject({ error: "not-found" });
    } finally {
      await other.stop();
    }
    // A peer of no member is not even let in.
    const stranger = await createHost({ keyFile: path.join(tmp.dir, "stranger.key"), listen: ["/ip4/127.0.0.1/tcp/0"] });
    try {
      await expect(ask(stranger, {})).rejects.toThrow();
    } finally {
      await stranger.stop();
    }
    expect(await eventually(async () => {
      const { returns } = await p2pOf("oem");
      return (returns.refused["not-granted"] ?? 0) >= 1 && (returns.refused["bad-request"] ?? 0) >= 1 && (returns.refused["not-found"] ?? 0) >= 1 && returns.served === 0;
    }, 10_000)).toBe(true);
    expect(parseReturnRequest({ v: 1, type: "return", node, stream: FURNACE, fromWindow: 5, toWindow: 4 })).toMatch(/fromWindow <= toWindow/);
  });

  it("the mill loses three windows; they come back only whole and verified, liars banned", async () => {
    await running.steel!.stop();
    delete running.steel;
    const db = path.join(steel.dataDir, "db");
    // Before the loss: the mill's genuine answers (for the liar), and a copy for the lies below.
    {
      const store = await IngestStore.open(db);
      const source = new IngestReadingSource(store, new ProofService(store, node), { clockToleranceMs: 2_000, maxWindowsPerAnswer: 1_000_000 });
      for (const stream of [FURNACE, PRESS]) genuine.set(stream, (await source.readings({ stream, from: 0, to: Number.MAX_SAFE_INTEGER, afterSeq: 0, limit: 1_000_000 })).items);
      await store.close();
    }
    await loseWindows(db, LOST.slice(0, 2), LOST.slice(2));
    cpSync(db, path.join(tmp.dir, "damaged-copy"), { recursive: true });

    // The liar: answers for the mill's readings with one value altered.
    liar = await createHost({ keyFile: path.join(rogue.dir, "p2p.key"), listen: [`/ip4/127.0.0.1/tcp/${rogue.port}`] });
    await liar.handle(RETURN_PROTOCOL, async (stream) => {
      const r = decodeJson(await readFrame(stream, 16_384)) as ReturnRequest;
      const items = structuredClone(itemsFor(r));
      if (items[0]?.kind === "run") items[0].readings[0]!.value = (items[0].readings[0]!.value as number) + 1;
      await writeFrame(stream, encodeAnswer({ type: "readings", items, more: false }), 4 << 20);
      await stream.close();
    });

    // The OEM away: the lab (one stream) and the liar only.
    await running.oem!.stop();
    delete running.oem;
    const first = await repairCli();
    expect(first.status, first.stdout + first.stderr).toBe(1);
    expect(first.stdout).toMatch(new RegExp(`BANNED ${rogue.peerId}: .*reading-altered|BANNED ${rogue.peerId}: .*proof-invalid`));
    for (const w of LOST) expect(first.stdout).toMatch(new RegExp(`LOST window ${w}: .*no partner returned streams ${PRESS}`));
    expect(first.stdout).toContain(`from partners: 0 window(s) restored, 3 still damaged`);
    // The ban is kept with the reports, so it holds when the mill starts again.
    const reports = await withReceived(steel.dataDir, (r) => r.reports());
    expect(reports).toEqual([expect.objectContaining({ peer: rogue.peerId, altered: true })]);

    // The OEM back; the refetch killed as soon as it restores its first window.
    running.oem = await MemberProcess.start(oem);
    await eventually(async () => (await p2pOf("oem")).peers.length > 0, 30_000, 300);
    await killedAtFirstRestore();
    const { damaged } = await withStore(db, (s) => salvageCheck(s));
    // Whatever the kill left: a window the store presents is whole, the others are still reported lost.
    expect(damaged.every((d) => LOST.includes(d.sequence))).toBe(true);
    for (const w of LOST.filter((x) => !damaged.some((d) => d.sequence === x))) await expectWhole(db, w);
    // ... and one not restored is as the loss left it: no record where it had none, no readings.
    for (const { sequence: w } of damaged) {
      await withStore(db, async (s) => {
        if (LOST.slice(0, 2).includes(w)) expect(await s.window(w), `window ${w}`).toBeUndefined();
        for await (const _ of s.chunks(w)) expect.fail(`window ${w} holds readings though it was not restored whole`);
      });
    }
    console.log(`killed mid-restore: ${LOST.length - damaged.length} of ${LOST.length} windows restored before the kill`);

    const second = await repairCli();
    expect(second.status, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toMatch(/window\(s\) restored, 0 still damaged/);
    const audit = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "node/cli.ts"), "audit", "--config", steel.configFile], { cwd: ROOT, encoding: "utf8" });
    expect(audit.status, audit.stdout + audit.stderr).toBe(0);
    expect(audit.stdout).toMatch(/, 0 failed/);
    // Every reading the mill anchored in those windows is back, with the seqs it had.
    for (const w of LOST) await expectWhole(db, w);
  });

  it("catches every kind of lie against the anchored root, and restores from an honest partner after", async () => {
    const anchors = cachedAnchorView(contractAnchorView(connectContracts(cons.deployment.contracts, provider).dataAnchors));
    const honest: Partner = { peer: "honest", org: oem.orgId, ask: async (r) => ({ items: itemsFor(r), more: false }) };
    const lying = (peer: string, change: (items: ReadingItem[], r: ReturnRequest) => ReadingItem[]): Partner => ({
      peer,
      org: rogue.orgId,
      ask: async (r) => ({ items: change(structuredClone(itemsFor(r)), r), more: false }),
    });
    const runOf = (items: ReadingItem[]) => items.find((i) => i.kind === "run" && i.readings.length >= 3) as Extract<ReadingItem, { kind: "run" }>;
    const lies: [Partner, RegExp][] = [
      [
        lying("altered", (items) => {
          runOf(items).readings[1]!.value = 0;
          return items;
        }),
        /proof-invalid|reading-altered/,
      ],
      [
        lying("missing", (items) => {
          const run = runOf(items);
          run.readings.splice(1, 1);
          run.proof.seqs.splice(1, 1);
          run.proof.salts.splice(1, 1);
          return items;
        }),
        /proof-invalid/,
      ],
      [lying("extra", (items, r) => [...items, ...genuine.get(r.stream)!.filter((i) => i.proof.window === 2)]), /window 2, outside the windows/],
      [lying("padded", (items) => [...items, items[0]!]), /already gave|returned twice/],
    ];
    for (const [partner, reason] of lies) {
      const dir = path.join(tmp.dir, `copy-${partner.peer}`);
      cpSync(path.join(tmp.dir, "damaged-copy"), dir, { recursive: true });
      const banned: string[] = [];
      const report = await withStore(dir, (s) =>
        refetchWindows(s, LOST, { node, anchors, partners: [partner, honest], onLie: async (peer) => void banned.push(peer), log: () => undefined }),
      );
      expect(report.lied, partner.peer).toEqual([{ peer: partner.peer, reason: expect.stringMatching(reason) }]);
      expect(banned).toEqual([partner.peer]);
      // The honest partner completes what the liar did not; the store checks out whole.
      expect(report.restored.map((w) => w.window)).toEqual(LOST);
      expect((await withStore(dir, (s) => salvageCheck(s))).damaged).toEqual([]);
    }
  });

  it("completes a window from partners reachable at different times, each holding one stream", async () => {
    const anchors = cachedAnchorView(contractAnchorView(connectContracts(cons.deployment.contracts, provider).dataAnchors));
    const holding = (stream: string): Partner => ({ peer: `holds ${stream}`, org: oem.orgId, ask: async (r) => ({ items: r.stream === stream ? itemsFor(r) : [], more: false }) });
    const dir = path.join(tmp.dir, "copy-apart");
    const keepDir = path.join(tmp.dir, "kept-apart");
    cpSync(path.join(tmp.dir, "damaged-copy"), dir, { recursive: true });
    const refetch = (partner: Partner, windows = LOST) => withStore(dir, (s) => refetchWindows(s, windows, { node, anchors, partners: [partner], onLie: async () => expect.fail("no one lied"), keepDir, log: () => undefined }));

    const first = await refetch(holding(FURNACE));
    expect(first.restored).toEqual([]);
    expect(first.lost.map((w) => [w.window, w.streamsNotReturned])).toEqual(LOST.map((w) => [w, [PRESS]]));
    expect(readdirSync(keepDir).sort()).toEqual(LOST.map((w) => `window-${w}.json`).sort());
    // A kept file is no authority: changed, the window it would complete is refused whole, and asked again.
    const kept = path.join(keepDir, `window-${LOST[0]}.json`);
    const leaves = JSON.parse(readFileSync(kept, "utf8")) as [number, string, string, number][];
    leaves[0]![1] = leaves[1]![1];
    writeFileSync(kept, JSON.stringify(leaves));

    const second = await refetch(holding(PRESS));
    expect(second.restored.map((w) => w.window)).toEqual(LOST.slice(1));
    expect(second.lost).toEqual([expect.objectContaining({ window: LOST[0], reason: expect.stringMatching(/not the anchored/) })]);
    const third = await refetch(holding(FURNACE), [LOST[0]!]);
    expect(third.restored.map((w) => w.window)).toEqual([LOST[0]]);
    expect(readdirSync(keepDir)).toEqual([]);
    expect((await withStore(dir, (s) => salvageCheck(s))).damaged).toEqual([]);
  });

  it("counts return requests served and refused in the node's metrics", async () => {
    const status = { p2p: { returns: { served: 2, refused: { "not-granted": 3, "not-member": 1 } } } } as unknown as NodeStatus;
    const registry = nodeMetrics({ status: () => status, streamReadings: () => new Map(), chainHead: async () => null });
    const text = await registry.getSingleMetricAsString("tracemesh_node_return_requests_total");
    expect(text).toContain('tracemesh_node_return_requests_total{outcome="served"} 2');
    expect(text).toContain('tracemesh_node_return_requests_total{outcome="not-granted"} 3');
    expect(text).toContain('tracemesh_node_return_requests_total{outcome="not-member"} 1');
  });

  /** Window `w` of the store in `db` holds exactly the readings the mill had anchored in it. */
  async function expectWhole(db: string, w: number): Promise<void> {
    const expected = [FURNACE, PRESS].flatMap((stream) => genuine.get(stream)!.filter((i) => i.proof.window === w).flatMap((i) => (i.kind === "run" ? i.proof.seqs.map((seq) => `${stream}#${seq}`) : [])));
    expect(expected.length).toBeGreaterThan(0);
    const record = await withStore(db, (s) => s.window(w));
    const got = record!.runs.flatMap((r) => Array.from({ length: r.count }, (_, k) => `${r.stream}#${r.firstSeq + k}`));
    expect(got.sort(), `window ${w}`).toEqual(expected.sort());
  }

  /** The genuine items a truthful partner holds for `r`. */
  function itemsFor(r: ReturnRequest): ReadingItem[] {
    return (genuine.get(r.stream) ?? []).filter((i) => i.proof.window >= r.fromWindow && i.proof.window <= r.toWindow && (i.kind === "run" ? i.proof.seqs[0]! : i.proof.seq) > (r.afterSeq ?? 0));
  }

  const repairCli = () => repairFromPartners(steel.configFile);

  /** Runs the refetch and SIGKILLs it when it reports its first window restored (or lets it end). */
  async function killedAtFirstRestore(): Promise<void> {
    await repairFromPartners(steel.configFile, (line, kill) => {
      if (/window \d+ restored/.test(line)) kill();
    });
  }
});
