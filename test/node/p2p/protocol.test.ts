/**
 * `/tracemesh/fetch` (protocol.ts, fetch-server.ts, fetch-client.ts) between real libp2p hosts against real Consortium, AccessGrants and
 * DataAnchors (in-process chain): what a lying peer can send and how the client answers each lie,
 * and what a malformed or oversized request gets from a real server.
 * (Serving the node's real store, grants over time and tampering across processes:
 * members.test.ts.)
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { encodeBytes32String, keccak256, toUtf8Bytes } from "ethers";
import { network } from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChainAccessChecker, streamScopeKey } from "../../../lib/access.ts";
import { encodeReading } from "../../../lib/canonical-reading.ts";
import type { AccessGrants, DataAnchors } from "../../../lib/contracts/types/index.js";
import { MerkleTree, siblingsToHex } from "../../../lib/merkle.ts";
import type { Reading } from "../../../lib/reading.ts";
import { ScopeKind } from "../../../lib/registry.ts";
import type { ReadingProof, ReadingRangeProof } from "../../../lib/verify-reading.ts";
import { MembershipGate } from "../../../node/p2p/gater.ts";
import { type Host, createHost } from "../../../node/p2p/host.ts";
import { FetchClient, FetchRefusedError, PeerMisbehaviourError, type VerifiedReadings, orgAnchorView } from "../../../node/p2p/fetch-client.ts";
import { serveFetch } from "../../../node/p2p/fetch-server.ts";
import {
  FETCH_PROTOCOL,
  FETCH_PROTOCOL_V1,
  type FetchResponse,
  type OneItem,
  type ReadingItem,
  type RunItem,
  encodeJson,
  grantIdOf,
  parseRequest,
  readFrame,
  writeFrame,
} from "../../../node/p2p/protocol.ts";
import { decodeAnswer, encodeAnswer } from "../../../node/p2p/wire.ts";
import { type Conn, type ConsortiumFixture, deployBound, deployConsortium, increaseTime, now } from "../../helpers/fixture.ts";
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

/** One window from `start`: five readings of STREAM (seq first..first + 4), then two of OTHER. */
function makeWindow(start: number, first = 1): Window {
  const at = (t: number) => ({ sourceTime: t, receivedTime: t + 10 });
  const readings: Reading[] = [
    ...Array.from({ length: 5 }, (_, i): Reading => ({ stream: STREAM, metric: "temperature", unit: "Cel", value: 1480 + i, ...at(start + i * 100), quality: "good" })),
    ...Array.from({ length: 2 }, (_, i): Reading => ({ stream: OTHER, metric: "doorOpen", value: i === 0, ...at(start + i * 100 + 50), quality: "good" })),
  ];
  const seqs = [first, first + 1, first + 2, first + 3, first + 4, first, first + 1];
  const salts = readings.map(() => randomBytes(16));
  const tree = MerkleTree.fromLeaves(readings.map((r, i) => encodeReading(r, seqs[i]!, salts[i]!)));
  return { readings, seqs, salts, tree };
}

/** Anchors `w` as window `sequence` (after `prev`) of `anchors`' signer. */
async function anchorWindow(anchors: DataAnchors, w: Window, start: number, sequence = 1, prev?: Window): Promise<void> {
  await (await anchors.anchor(sequence, hex(w.tree.root), hex(prev ? prev.tree.root : Buffer.alloc(32)), start, start + 1000, w.readings.length)).wait();
}

/** The run [start, end) of `w` as a range-proof item of node `node`, window `window`. */
function runOf(w: Window, node: string, start: number, end: number, window = 1): RunItem {
  const proof: ReadingRangeProof = {
    version: 1,
    node,
    window,
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

/** Reading `i` of `w` alone, with its own proof. */
function oneOf(w: Window, node: string, i: number, window = 1): OneItem {
  const proof: ReadingProof = {
    version: 1,
    node,
    window,
    seq: w.seqs[i]!,
    salt: hex(w.salts[i]!),
    leafHash: hex(w.tree.leaf(i)),
    index: i,
    leafCount: w.tree.leafCount,
    siblings: siblingsToHex(w.tree.proof(i).siblings),
  };
  return { kind: "one", reading: w.readings[i]!, proof };
}

/** A 2.0.0 JSON frame of anything (what a liar can send that encodeAnswer would not). */
const jsonFrame = (value: unknown) => Buffer.concat([Buffer.of(0), Buffer.from(JSON.stringify(value), "utf8")]);

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
  /** What the liar answers next: an answer (sent on the 2.0.0 wire), or raw frame bytes. */
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
    start = (await now(conn)) * 1000 - 60_000;
    steelNode = fx.orgs.steel.signer.address;
    oemNode = fx.orgs.oem.signer.address;
    steelWindow = makeWindow(start);
    await anchorWindow(anchors.connect(fx.orgs.steel.signer), steelWindow, start);
    await anchorWindow(anchors.connect(fx.orgs.oem.signer), steelWindow, start); // the same data, anchored by another organisation
    // The peers register after the first anchors: an organisation's account binds to its one registered node on first anchoring.
    for (const [org, key] of [["steel", "liar.key"], ["steel", "server.key"], ["oem", "oem.key"], ["steel", "slow.key"], ["steel", "bound.key"], ["steel", "old.key"]] as const) await registerPeer(fx, org, path.join(tmp.dir, key));

    liar = await host("liar.key");
    await liar.handle(FETCH_PROTOCOL, async (stream) => {
      await readFrame(stream, 1 << 20);
      await writeFrame(stream, next instanceof Uint8Array ? next : encodeAnswer(next as FetchResponse), 1 << 23);
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
        // Larger than its 1 KiB frame even on the compact wire (about 250 bytes a run of five).
        readings: async () => ({ items: Array.from({ length: 6 }, () => runOf(steelWindow, steelNode, 0, 5)), more: false }),
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
    // The compact wire carries no leaf hashes: an altered reading no longer leads to the anchored root.
    const e1 = await lie(readingsAnswer([altered]));
    expect(e1.reason).toMatch(/window 1 .*proof-invalid/);
    expect(e1.altered).toBe(true);

    const forged = structuredClone(run);
    forged.proof.siblings[0] = hex(randomBytes(32));
    expect((await lie(readingsAnswer([forged]))).reason).toMatch(/proof-invalid/);

    // A run names no stream on the compact wire: another stream's run is read as the stream asked
    // for and fails its proof. A reading sent alone (JSON) names its stream, which must be the one asked for.
    expect((await lie(readingsAnswer([runOf(steelWindow, steelNode, 5, 7)]))).reason).toMatch(/proof-invalid/);
    const other = oneOf(steelWindow, steelNode, 5); // verifies, but is not what was asked for
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

  it("rejects data anchored by another organisation; leaves a window its chain does not show for later, blaming nobody", async () => {
    const foreign = runOf(steelWindow, oemNode, 0, 5); // the oem's identical window 1
    expect((await lie(readingsAnswer([foreign]))).reason).toMatch(new RegExp(`anchored by organisation ${fx.orgs.oem.id}, not by the serving peer's ${fx.orgs.steel.id}`));
    // A window this node's chain does not show anchored (its view may lag the peer's): the page
    // stops there, what came before is kept, the cursor does not pass it, nobody is reported.
    const unanchored = runOf(makeWindow(start, 6), steelNode, 0, 5, 9);
    const reports = reported.length;
    const res = await ask(readingsAnswer([runOf(steelWindow, steelNode, 0, 5), unanchored], { more: true }));
    expect(res).toMatchObject({ count: 5, lastSeq: 5, more: false, unverifiable: [] });
    expect(res.pending).toMatch(/window 9 .*window-not-anchored/);
    expect(stored.at(-1)).toBe(res);
    expect(reported).toHaveLength(reports);
  });

  it("rejects a run with a reading dropped, readings reordered or page bounds moved, and malformed or oversized frames", async () => {
    const run = runOf(steelWindow, steelNode, 0, 5);
    const dropped = structuredClone(run);
    dropped.readings.splice(2, 1);
    dropped.proof.salts.splice(2, 1);
    dropped.proof.seqs = [1, 2, 3, 4];
    expect((await lie(readingsAnswer([dropped]))).reason).toMatch(/proof-invalid/);
    const reordered = structuredClone(run);
    [reordered.readings[1], reordered.readings[2]] = [reordered.readings[2]!, reordered.readings[1]!];
    [reordered.proof.salts[1], reordered.proof.salts[2]] = [reordered.proof.salts[2]!, reordered.proof.salts[1]!];
    expect((await lie(readingsAnswer([reordered]))).reason).toMatch(/proof-invalid/);
    const shifted = structuredClone(run);
    shifted.proof.start = 1;
    expect((await lie(readingsAnswer([shifted]))).reason).toMatch(/proof-invalid/);
    const beyond = structuredClone(run);
    beyond.proof.start = steelWindow.tree.leafCount - 2;
    expect((await lie(readingsAnswer([beyond]))).reason).toMatch(/does not match 5 readings in a window of 7 leaves/);

    const frame = encodeAnswer(readingsAnswer([run]));
    expect((await lie(frame.subarray(0, frame.length - 3))).reason).toMatch(/malformed answer: the frame ends inside/);
    expect((await lie(Buffer.concat([frame, Buffer.of(0)]))).reason).toMatch(/malformed answer: 1 bytes follow the last item/);
    expect((await lie(Buffer.of(7, 0))).reason).toMatch(/malformed answer: unknown answer tag 7/);
    expect((await lie(Buffer.of(1, 0, 0, 0xff, 0xff, 0x03))).reason).toMatch(/malformed answer: 65535 items cannot fit/);
    const oversized = await lie(Buffer.alloc(4 * 1024 * 1024 + 1));
    expect(oversized.reason).toMatch(/answer frame over 4194304 bytes/);
    expect(oversized.altered).toBe(false);
  });

  it("still answers the 1.1.0 wire in plain JSON, with the leaf hashes its clients need, for partners not yet updated", async () => {
    const stream = await oem.dialProtocol(server.getMultiaddrs()[0]!, FETCH_PROTOCOL_V1);
    await writeFrame(stream, encodeJson({ v: 1, type: "list", scope: { kind: "streams" } }), 1024);
    const frame = await readFrame(stream, 4096);
    expect(JSON.parse(Buffer.from(frame).toString("utf8"))).toMatchObject({ type: "streams" });

    // A run served without leaf hashes (as the node's store serves it now) gets them back on 1.1.0.
    const { leafHashes, ...lean } = runOf(steelWindow, steelNode, 0, 5).proof;
    const old = await host("old.key");
    const gate = new MembershipGate(fx.consortium, { ttlMs: 500 });
    await serveFetch(old, {
      orgOf: async (p) => ((await gate.orgOf(p)) === fx.orgs.oem.id ? fx.orgs.steel.id : 0), // the caller reads as the owner: no grant needed
      access: new ChainAccessChecker({ accessGrants: await grants.getAddress(), consortium: await fx.consortium.getAddress() }, fx.deployer, { ttlMs: 0 }),
      ownerOrg: fx.orgs.steel.id,
      readings: { readings: async () => ({ items: [{ kind: "run", readings: steelWindow.readings.slice(0, 5), proof: lean }], more: false }), windows: async () => [], streams: async () => [STREAM] },
    });
    const v1 = await oem.dialProtocol(old.getMultiaddrs()[0]!, FETCH_PROTOCOL_V1);
    await writeFrame(v1, encodeJson({ v: 1, type: "readings", stream: STREAM, from: start, to: start + 1000 }), 1024);
    const answer = JSON.parse(Buffer.from(await readFrame(v1, 1 << 20)).toString("utf8")) as { items: RunItem[] };
    expect(answer.items[0]!.proof.leafHashes).toEqual(leafHashes);
  });

  it("rejects answers of the wrong shape", async () => {
    expect((await lie("hello")).reason).toMatch(/not an object/);
    expect((await lie({ type: "windows", windows: [] })).reason).toMatch(/answered a readings request with windows/);
    expect((await lie(jsonFrame({ type: "readings", items: "all of them" }))).reason).toMatch(/items is not a list/);
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
    const raw = decodeAnswer(await readFrame(stream, 4096), STREAM) as { error: string };
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

  it("caps what one connection can hold: requests of 16 KiB at most, four at a time", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = await host("slow.key");
    await serveFetch(slow, {
      orgOf: async () => {
        await held;
        return 0;
      },
      access: new ChainAccessChecker({ accessGrants: await grants.getAddress(), consortium: await fx.consortium.getAddress() }, fx.deployer, { ttlMs: 0 }),
      ownerOrg: fx.orgs.steel.id,
    });
    const addr = slow.getMultiaddrs()[0]!;
    // A request frame over 16 KiB is refused unread, although answers may be 4 MiB.
    const big = await oem.dialProtocol(addr, FETCH_PROTOCOL);
    await writeFrame(big, encodeJson({ v: 1, type: "list", scope: { kind: "streams" }, pad: "x".repeat(20_000) }), 1 << 22);
    expect(decodeAnswer(await readFrame(big, 4096), "")).toMatchObject({ error: "too-large", detail: "request frame exceeds 16384 bytes" });
    await big.close();
    await new Promise((r) => setTimeout(r, 100));

    const list = { v: 1 as const, type: "list" as const, scope: { kind: "streams" as const } };
    const pending = Array.from({ length: 4 }, () => client.request(addr, list));
    await new Promise((r) => setTimeout(r, 300)); // the four are being answered (held)
    await expect(client.request(addr, list)).rejects.toThrow();
    release();
    for (const answer of await Promise.all(pending)) expect(answer).toMatchObject({ error: "not-member" });
  });

  it("decides readings asked for by an event by who may read that event, within what it binds, and tells the access log each read", async () => {
    const EVENT = "0x" + "ee".repeat(32);
    let oemMayRead = false;
    const queries: unknown[] = [];
    const reads: { reader: number; reads: { subject: unknown; allowed: boolean }[] }[] = [];
    const bound = await host("bound.key");
    const gate = new MembershipGate(fx.consortium, { ttlMs: 500 });
    await serveFetch(bound, {
      orgOf: (p) => gate.orgOf(p),
      access: new ChainAccessChecker({ accessGrants: await grants.getAddress(), consortium: await fx.consortium.getAddress() }, fx.deployer, { ttlMs: 0 }),
      ownerOrg: fx.orgs.steel.id,
      readings: {
        readings: async (q) => {
          queries.push(q);
          return { items: [runOf(steelWindow, steelNode, 0, 5)], more: false };
        },
        windows: async () => [],
        streams: async () => [STREAM],
      },
      documents: {
        get: async (hash) =>
          hash === EVENT
            ? {
                document: {},
                recordHash: EVENT,
                mayRead: async () => (oemMayRead ? { allowed: true, via: "grant", scopeKey: EVENT, kind: ScopeKind.ItemWithGenealogy } : { allowed: false }),
                bindings: () => [{ stream: STREAM, from: start, to: start + 1000, source: "event" as const }],
              }
            : undefined,
        concerning: async () => [],
      },
      // One call per answer, naming all it hands out.
      onRead: async (reader, served) => void reads.push({ reader, reads: served.map((r) => ({ subject: r.subject, allowed: r.decision.allowed })) }),
    });
    const addr = bound.getMultiaddrs()[0]!;
    const asked = (q: { stream?: string; from?: number; to?: number; event?: string }) =>
      client.request(addr, { v: 1, type: "readings", stream: q.stream ?? STREAM, from: q.from ?? start, to: q.to ?? start + 1000, ...(q.event !== undefined ? { event: q.event } : {}) });
    // Without leave to read the event, or outside what it binds, or of an event the node does not hold: refused, nothing read.
    expect(await asked({ event: EVENT })).toMatchObject({ error: "not-granted" });
    expect(await asked({ event: EVENT, stream: OTHER })).toMatchObject({ error: "not-granted", detail: expect.stringContaining("binds no readings") });
    oemMayRead = true;
    expect(await asked({ event: EVENT, to: start + 2000 })).toMatchObject({ error: "not-granted", detail: expect.stringContaining("binds no readings") });
    expect(await asked({ event: "0x" + "dd".repeat(32) })).toMatchObject({ error: "not-found" });
    expect(queries).toEqual([]);
    expect(reads).toEqual([]);
    // With it: answered reading by reading (each with its own proof), and the read is told to the log.
    expect(await asked({ event: EVENT })).toMatchObject({ type: "readings" });
    expect(queries).toEqual([expect.objectContaining({ stream: STREAM, each: true })]);
    expect(reads).toEqual([{ reader: fx.orgs.oem.id, reads: [{ subject: { kind: "readings", eventHash: EVENT, streams: [STREAM] }, allowed: true }] }]);
    // The event's leave does not open the stream: without `event` the stream grant decides (none here).
    expect(await asked({ stream: OTHER })).toMatchObject({ error: "not-granted" });
    expect(parseRequest({ v: 1, type: "readings", stream: STREAM, from: 0, to: 1, event: "0x12" })).toBe("event must be a CBV 2.0 event hash ID or a record hash (0x + 64 hex)");
  });

  it("takes a revocation statement only from the issuer's node and only when it hashes to the recorded hash; a lying issuer is reported", async () => {
    const TEXT = "Revoked: a re-test of the heat's samples measured 9 % elongation.\n";
    const CERT = "0x" + "cd".repeat(32);
    const recorded = { issuer: fx.orgs.steel.id, statementHash: keccak256(toUtf8Bytes(TEXT)) };
    const gate = new MembershipGate(fx.consortium, { ttlMs: 500 });
    const verifying = new FetchClient(oem, {
      selfOrg: fx.orgs.oem.id,
      orgOf: (p) => gate.orgOf(p),
      anchors: orgAnchorView(anchors),
      statements: { recordedStatement: async (id) => (id === CERT ? recorded : undefined) },
      onMisbehaviour: (peer, reason, altered) => void reported.push({ peer, reason, altered }),
    });
    next = { type: "statement", text: TEXT };
    expect(await verifying.fetchStatement(liar.getMultiaddrs()[0]!, CERT.toUpperCase().replace("0X", "0x"))).toBe(TEXT);
    // The issuer's node sends another text: refused, never returned, the peer reported as a liar.
    next = { type: "statement", text: "The heat is fine.\n" };
    const lie = await verifying.fetchStatement(liar.getMultiaddrs()[0]!, CERT).catch((e: unknown) => e);
    expect(lie).toBeInstanceOf(PeerMisbehaviourError);
    expect((lie as PeerMisbehaviourError).altered).toBe(true);
    expect((lie as PeerMisbehaviourError).message).not.toContain("The heat is fine");
    expect(reported.at(-1)).toMatchObject({ peer: liar.peerId.toString(), altered: true });
    next = { type: "statement", text: 42 };
    expect(await verifying.fetchStatement(liar.getMultiaddrs()[0]!, CERT).catch((e: unknown) => e)).toBeInstanceOf(PeerMisbehaviourError);
    // A node of another organisation than the issuer is not even asked; nor about a certificate never issued.
    await expect(verifying.fetchStatement(oem.getMultiaddrs()[0]!, CERT)).rejects.toThrow(/not a node of organisation/);
    await expect(verifying.fetchStatement(liar.getMultiaddrs()[0]!, "0x" + "ee".repeat(32))).rejects.toThrow(/never issued/);
    // A node that keeps no statement says so; a malformed id is refused.
    expect(await verifying.request(server.getMultiaddrs()[0]!, { v: 1, type: "statement", certificate: CERT })).toMatchObject({ error: "not-found" });
    expect(parseRequest({ v: 1, type: "statement", certificate: "0x12" })).toBe("certificate must be a certificate id (0x + 64 lowercase hex)");
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

  // Last: it moves the chain's clock.
  it("skips a window the owner anchored late, recording why, keeps the windows around it, and blames nobody", async () => {
    const late = makeWindow(start + 2_000, 6);
    await increaseTime(conn, 400); // window 2 is anchored more than 300 s after it ended
    await anchorWindow(anchors.connect(fx.orgs.steel.signer), late, start + 2_000, 2, steelWindow);
    const t = (await now(conn)) * 1000 - 5_000;
    const fresh = makeWindow(t, 11);
    await anchorWindow(anchors.connect(fx.orgs.steel.signer), fresh, t, 3, late);
    const reports = reported.length;
    const items = [runOf(steelWindow, steelNode, 0, 5), runOf(late, steelNode, 0, 5, 2), runOf(fresh, steelNode, 0, 5, 3)];
    const res = await ask(readingsAnswer(items), { to: t + 1_000 });
    expect(res).toMatchObject({ count: 10, lastSeq: 15, unverifiable: [{ node: steelNode, window: 2, reason: "anchored-late", firstSeq: 6, lastSeq: 10 }] });
    expect(res.items.map((i) => i.proof.window)).toEqual([1, 3]);
    expect(res.pending).toBeUndefined();
    expect(stored.at(-1)).toBe(res);
    expect(reported).toHaveLength(reports);
    // The same late window, altered: that is a lie whatever its timing.
    const altered = runOf(late, steelNode, 0, 5, 2);
    (altered.readings[0] as { value: number }).value += 1;
    expect((await lie(readingsAnswer([altered]), { to: t + 1_000 })).reason).toMatch(/window 2 .*proof-invalid/);
  });
});
