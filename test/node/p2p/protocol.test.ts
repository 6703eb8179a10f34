/**
 * `/tracemesh/fetch` between real libp2p hosts against real Consortium, AccessGrants and
 * DataAnchors (in-process chain): what a lying peer can send and how the client answers each lie,
 * and what a malformed or oversized request gets from a real server.
 * (Serving the node's real store, grants over time and tampering across processes:
 * members.test.ts.)
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { encodeBytes32String } from "ethers";
import { network } from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChainAccessChecker, streamScopeKey } from "../../../lib/access.ts";
import { encodeReading } from "../../../lib/canonical-reading.ts";
import type { AccessGrants, DataAnchors } from "../../../lib/contracts/types/index.js";
import { MerkleTree, siblingsToHex } from "../../../lib/merkle.ts";
import type { Reading } from "../../../lib/reading.ts";
import { ScopeKind } from "../../../lib/registry.ts";
import type { ReadingRangeProof } from "../../../lib/verify-reading.ts";
import { MembershipGate } from "../../../node/p2p/gater.ts";
import { type Host, createHost } from "../../../node/p2p/host.ts";
import {
  FETCH_PROTOCOL,
  FetchClient,
  FetchRefusedError,
  type FetchResponse,
  PeerMisbehaviourError,
  type ReadingItem,
  type RunItem,
  type VerifiedReadings,
  encodeJson,
  grantIdOf,
  orgAnchorView,
  parseRequest,
  readFrame,
  serveFetch,
  writeFrame,
} from "../../../node/p2p/protocol.ts";
import { type Conn, type ConsortiumFixture, deployBound, deployConsortium, now } from "../../helpers/fixture.ts";
import { registerPeer, tempDir } from "./helpers.ts";

const LISTEN = ["/ip4/127.0.0.1/tcp/0"];
const STREAM = "furnace-1/temperature";
const OTHER = "furnace-1/door";
const hex = (b: Uint8Array) => "0x" + Buffer.from(b).toString("hex");

interface Window {
  readings: Reading[];
  seqs: number[];
  salts: Buffer[];
  tree: MerkleTree;
}

/** One window: five readings of STREAM (seq 1..5), then two of OTHER. */
function makeWindow(start: number): Window {
  const readings: Reading[] = [
    ...Array.from({ length: 5 }, (_, i): Reading => ({ stream: STREAM, metric: "temperature", unit: "Cel", value: 1480 + i, sourceTime: start + i * 100, quality: "good" })),
    ...Array.from({ length: 2 }, (_, i): Reading => ({ stream: OTHER, metric: "doorOpen", value: i === 0, sourceTime: start + i * 100 + 50, quality: "good" })),
  ];
  const seqs = [1, 2, 3, 4, 5, 1, 2];
  const salts = readings.map(() => randomBytes(16));
  const tree = MerkleTree.fromLeaves(readings.map((r, i) => encodeReading(r, seqs[i]!, salts[i]!)));
  return { readings, seqs, salts, tree };
}

/** Anchors `w` as window 1 of `anchors`' signer. */
async function anchorWindow(anchors: DataAnchors, w: Window, start: number): Promise<void> {
  await (await anchors.anchor(1, hex(w.tree.root), hex(Buffer.alloc(32)), start, start + 1000, w.readings.length)).wait();
}

/** The run [start, end) of `w` as a range-proof item of node `node`, window 1. */
function runOf(w: Window, node: string, start: number, end: number): RunItem {
  const proof: ReadingRangeProof = {
    version: 1,
    node,
    window: 1,
    seqs: w.seqs.slice(start, end),
    salts: w.salts.slice(start, end).map(hex),
    leafHashes: Array.from({ length: end - start }, (_, k) => hex(w.tree.leaf(start + k))),
    start,
    end,
    leafCount: w.tree.leafCount,
    siblings: siblingsToHex(w.tree.rangeProof(start, end).siblings),
  };
  return { kind: "run", readings: w.readings.slice(start, end), proof };
}

describe("fetch protocol: lying peers and malformed requests", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  let grants: AccessGrants;
  let anchors: DataAnchors;
  const tmp = tempDir("tm-p2p-fetch-");
  const hosts: Host[] = [];
  const stops: (() => Promise<void>)[] = [];
  let start: number;
  let steelWindow: Window;
  let steelNode: string;
  let oemNode: string;
  let liar: Host;
  let server: Host;
  let oem: Host;
  let client: FetchClient;
  /** What the liar answers next. */
  let next: unknown;
  const stored: VerifiedReadings[] = [];
  const reported: { peer: string; reason: string; altered: boolean }[] = [];

  async function host(key: string): Promise<Host> {
    const gate = new MembershipGate(fx.consortium, { ttlMs: 500, pollMs: 200 });
    const h = await createHost({ keyFile: path.join(tmp.dir, key), listen: LISTEN, connectionGater: gate.gater() });
    hosts.push(h);
    stops.push(await gate.watch(h));
    return h;
  }

  beforeAll(async () => {
    conn = (await network.create()) as Conn;
    fx = await deployConsortium(conn);
    const address = await fx.consortium.getAddress();
    grants = await deployBound<AccessGrants>(conn, "AccessGrants", address);
    anchors = await deployBound<DataAnchors>(conn, "DataAnchors", address);
    for (const [org, key] of [["steel", "liar.key"], ["steel", "server.key"], ["oem", "oem.key"]] as const) await registerPeer(fx, org, path.join(tmp.dir, key));
    start = (await now(conn)) * 1000 - 60_000;
    steelNode = fx.orgs.steel.signer.address;
    oemNode = fx.orgs.oem.signer.address;
    steelWindow = makeWindow(start);
    await anchorWindow(anchors.connect(fx.orgs.steel.signer), steelWindow, start);
    await anchorWindow(anchors.connect(fx.orgs.oem.signer), steelWindow, start); // the same data, anchored by another organisation

    liar = await host("liar.key");
    await liar.handle(FETCH_PROTOCOL, async (stream) => {
      await readFrame(stream, 1 << 20);
      await writeFrame(stream, encodeJson(next), 1 << 22);
      await stream.close();
    });
    const gate = new MembershipGate(fx.consortium, { ttlMs: 500 });
    const access = new ChainAccessChecker({ accessGrants: await grants.getAddress(), consortium: address }, fx.deployer, { ttlMs: 0 });
    server = await host("server.key");
    await serveFetch(server, {
      orgOf: (p) => gate.orgOf(p),
      access,
      ownerOrg: fx.orgs.steel.id,
      maxFrameBytes: 1024,
      readings: {
        readings: async () => ({ items: [runOf(steelWindow, steelNode, 0, 5)], more: false }),
        windows: async () => [],
        streams: async () => [STREAM, OTHER],
      },
    });
    oem = await host("oem.key");
    client = new FetchClient(oem, {
      selfOrg: fx.orgs.oem.id,
      orgOf: (p) => gate.orgOf(p),
      anchors: orgAnchorView(anchors),
      storeReadings: async (b) => void stored.push(b),
      onMisbehaviour: (peer, reason, altered) => void reported.push({ peer, reason, altered }),
    });
  }, 120_000);

  afterAll(async () => {
    for (const s of stops) await s();
    await Promise.all(hosts.map((h) => h.stop()));
    tmp.remove();
  });

  const ask = (answer: unknown, q: { from?: number; to?: number; afterSeq?: number; limit?: number } = {}) => {
    next = answer;
    return client.fetchReadings(liar.getMultiaddrs()[0]!, { stream: STREAM, from: q.from ?? start, to: q.to ?? start + 1000, ...(q.afterSeq !== undefined ? { afterSeq: q.afterSeq } : {}), ...(q.limit ? { limit: q.limit } : {}) });
  };
  const lie = async (answer: unknown, q: Parameters<typeof ask>[1] = {}) => {
    const before = stored.length;
    const err = await ask(answer, q).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerMisbehaviourError);
    expect(stored).toHaveLength(before);
    expect(reported.at(-1)?.peer).toBe(liar.peerId.toString());
    return err as PeerMisbehaviourError;
  };
  const readingsAnswer = (items: ReadingItem[], extra: Record<string, unknown> = {}): FetchResponse => ({ type: "readings", items, more: false, ...extra });

  it("stores an honest answer, with the grant it names only when that is the grant from the peer's organisation to ours", async () => {
    const key = streamScopeKey(STREAM);
    const real = { id: grantIdOf(fx.orgs.steel.id, fx.orgs.oem.id, key), scopeKey: key, kind: ScopeKind.DataStream };
    const ok = await ask(readingsAnswer([runOf(steelWindow, steelNode, 0, 5)], { grant: real }));
    expect(ok).toMatchObject({ count: 5, lastSeq: 5, ownerOrg: fx.orgs.steel.id, grant: real });
    expect(stored.at(-1)).toBe(ok);
    const forged = await ask(readingsAnswer([runOf(steelWindow, steelNode, 0, 5)], { grant: { ...real, id: grantIdOf(fx.orgs.steel.id, fx.orgs.lab.id, key) } }));
    expect(forged.grant).toBeUndefined();
  });

  it("rejects an altered value, a forged proof and a reading of another stream, and reports the peer", async () => {
    const run = runOf(steelWindow, steelNode, 0, 5);
    const altered = structuredClone(run);
    (altered.readings[2] as { value: number }).value += 25;
    const e1 = await lie(readingsAnswer([altered]));
    expect(e1.reason).toMatch(/reading-altered: reading 2/);
    expect(e1.altered).toBe(true);

    const forged = structuredClone(run);
    forged.proof.siblings[0] = hex(randomBytes(32));
    expect((await lie(readingsAnswer([forged]))).reason).toMatch(/proof-invalid/);

    const other = runOf(steelWindow, steelNode, 5, 7); // verifies, but is not what was asked for
    expect((await lie(readingsAnswer([other]))).reason).toMatch(/is of stream furnace-1\/door, not furnace-1\/temperature/);
  });

  it("rejects replayed pages, readings outside the range asked for, and more than the limit", async () => {
    const run = runOf(steelWindow, steelNode, 0, 5);
    expect((await lie(readingsAnswer([run]), { afterSeq: 3 })).reason).toMatch(/seq 1 is not after 3/);
    expect((await lie(readingsAnswer([run]), { to: start + 250 })).reason).toMatch(/source time .* outside/);
    const tooMany = await lie(readingsAnswer([run]), { limit: 2 });
    expect(tooMany.reason).toMatch(/sent 5 readings, the limit was 2/);
    expect(tooMany.altered).toBe(false);
  });

  it("rejects data anchored by another organisation, and data of a window not on chain (without calling it altered)", async () => {
    const foreign = runOf(steelWindow, oemNode, 0, 5); // the oem's identical window 1
    expect((await lie(readingsAnswer([foreign]))).reason).toMatch(new RegExp(`anchored by organisation ${fx.orgs.oem.id}, not by the serving peer's ${fx.orgs.steel.id}`));
    const unanchored = runOf(steelWindow, steelNode, 0, 5);
    unanchored.proof.window = 2;
    const e = await lie(readingsAnswer([unanchored]));
    expect(e.reason).toMatch(/window-not-anchored/);
    expect(e.altered).toBe(false);
  });

  it("rejects answers of the wrong shape", async () => {
    expect((await lie("hello")).reason).toMatch(/not an object/);
    expect((await lie({ type: "windows", windows: [] })).reason).toMatch(/answered a readings request with windows/);
    expect((await lie({ type: "readings", items: "all of them" })).reason).toMatch(/items is not a list/);
    expect((await lie(readingsAnswer([{ kind: "many" } as never]))).reason).toMatch(/malformed item/);
    expect((await lie({ type: "events", events: [{ hash: "x", at: 1 }] }).catch((e: unknown) => e))).toBeInstanceOf(PeerMisbehaviourError);
  });

  it("answers malformed, unsupported and oversized requests with typed refusals", async () => {
    const refusal = async (request: unknown) => {
      const res = (await client.request(server.getMultiaddrs()[0]!, request as never)) as { error?: string; detail?: string };
      return res;
    };
    expect(await refusal({ v: 2, type: "readings" })).toMatchObject({ error: "bad-request", detail: "unsupported request version 2" });
    expect(await refusal({ v: 1, type: "delete", stream: STREAM })).toMatchObject({ error: "bad-request" });
    expect(await refusal({ v: 1, type: "readings", stream: STREAM, from: 10, to: 5 })).toMatchObject({ error: "bad-request", detail: "from and to must be Unix ms with from < to" });
    expect(await refusal({ v: 1, type: "event", hash: "0x1234" })).toMatchObject({ error: "bad-request" });
    expect(await refusal({ v: 1, type: "event", hash: "0x" + "ab".repeat(32) })).toMatchObject({ error: "unsupported" });
    expect(await refusal({ v: 1, type: "list", scope: { kind: "stream", stream: "x".repeat(300) } })).toMatchObject({ error: "bad-request" });
    expect(await refusal({ v: 1, type: "readings", stream: "x".repeat(3000), from: 0, to: 1 })).toMatchObject({ error: "too-large" });

    // Not JSON at all.
    const stream = await oem.dialProtocol(server.getMultiaddrs()[0]!, FETCH_PROTOCOL);
    await writeFrame(stream, Buffer.from([0xff, 0xfe, 0x00]), 1024);
    const raw = JSON.parse(Buffer.from(await readFrame(stream, 4096)).toString()) as { error: string };
    expect(raw.error).toBe("bad-request");

    // No grant: a typed refusal the client raises as FetchRefusedError; the answer too large for the server's frame: too-large.
    const err = await client.fetchReadings(server.getMultiaddrs()[0]!, { stream: STREAM, from: start, to: start + 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchRefusedError);
    expect((err as FetchRefusedError).code).toBe("not-granted");
    const expiry = (await now(conn)) + 3600;
    await (await grants.connect(fx.orgs.steel.signer).grantAccess(fx.orgs.oem.id, ScopeKind.DataStream, streamScopeKey(STREAM), encodeBytes32String("QA"), 0, 0, expiry)).wait();
    const big = await client.fetchReadings(server.getMultiaddrs()[0]!, { stream: STREAM, from: start, to: start + 1000 }).catch((e: unknown) => e);
    expect((big as FetchRefusedError).code).toBe("too-large");
    expect(await client.listStreams(server.getMultiaddrs()[0]!)).toEqual([STREAM]);
  });

  it("parses requests strictly", () => {
    expect(parseRequest(null)).toBe("request is not an object");
    expect(parseRequest([])).toBe("request is not an object");
    expect(parseRequest({ v: 1, type: "readings", stream: STREAM, from: 0, to: 1, limit: 0 })).toBe("limit must be a positive integer");
    expect(parseRequest({ v: 1, type: "readings", stream: STREAM, from: 0, to: 1, afterSeq: -1 })).toBe("afterSeq must be a sequence number");
    expect(parseRequest({ v: 1, type: "list" })).toBe("list needs a scope");
    expect(parseRequest({ v: 1, type: "list", scope: { kind: "events", since: 5 } })).toEqual({ v: 1, type: "list", scope: { kind: "events", since: 5 } });
    expect(parseRequest({ v: 1, type: "event", hash: `ni:///sha-256;${"0".repeat(64)}?ver=CBV2.0` })).toMatchObject({ type: "event" });
  });
});
