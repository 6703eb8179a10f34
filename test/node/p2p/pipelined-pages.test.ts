/**
 * Pipelined pages (FetchClient.fetchReadingPages, as follows fetch): the next page of a stream is
 * asked for while the current one is verified and stored, yet pages are stored strictly in
 * order, completely, and within the server's per-connection stream cap (several streams at once
 * against a server that takes two requests at a time). A lie in page 2 while page 3 is already
 * in flight stores nothing past page 1, reports the peer as having altered data, and page 3's
 * answer is thrown away unjudged. Two real libp2p hosts over `/tracemesh/fetch/2.0.0`, a window of
 * three streams, each larger than two pages.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccessChecker } from "../../../lib/access.ts";
import type { Reading } from "../../../lib/reading.ts";
import type { AnchorView } from "../../../lib/verify-reading.ts";
import { IngestPipeline } from "../../../node/ingest/pipeline.ts";
import { ProofService } from "../../../node/ingest/proofs.ts";
import { IngestStore } from "../../../node/ingest/store.ts";
import { IngestReadingSource } from "../../../node/p2p/ingest-source.ts";
import { FetchClient, PeerMisbehaviourError, type VerifiedReadings } from "../../../node/p2p/fetch-client.ts";
import { type ReadingSource, serveFetch } from "../../../node/p2p/fetch-server.ts";
import { type Host, createHost } from "../../../node/p2p/host.ts";
import { FETCH_PROTOCOL, FETCH_PROTOCOL_V1, type ReadingQuery } from "../../../node/p2p/protocol.ts";

const NODE = "0x" + "cd".repeat(20);
const STREAMS = ["press-1/force", "press-2/force", "press-3/force"];
const PER_STREAM = 12_000;
const PAGE = 5_000; // three pages a stream: seqs 1..5000, 5001..10000, 10001..12000
const t0 = Date.now() - 60_000;

let dir: string;
let store: IngestStore;
let source: IngestReadingSource;
let chain: AnchorView;
const hosts: Host[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "tm-pipelined-"));
  store = await IngestStore.open(dir);
  const pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 9), { windowMs: 3_600_000 });
  const reading = (stream: string, i: number): Reading => ({ stream, metric: "force", unit: "kN", value: 100 + i / 4, sourceTime: t0 + i, quality: "good" });
  for (let i = 0; i < PER_STREAM; i += 1000) {
    await pipeline.write(STREAMS.flatMap((s) => Array.from({ length: 1000 }, (_, k) => reading(s, i + k))));
  }
  await pipeline.stop();
  const window = (await store.window(1))!;
  for (const s of STREAMS) expect(window.runs.find((r) => r.stream === s)?.count).toBe(PER_STREAM);
  const anchoredAt = Math.ceil(window.toTimeMs / 1000) + 1;
  await store.markAnchored([{ sequence: 1, txHash: "0x" + "22".repeat(32), anchoredAt }]);
  chain = {
    getAnchor: async (node, seq) =>
      node.toLowerCase() === NODE && seq === 1n ? { root: window.root, fromTimeMs: window.fromTimeMs, toTimeMs: window.toTimeMs, anchoredAt, leafCount: window.leafCount } : undefined,
  };
  source = new IngestReadingSource(store, new ProofService(store, NODE), { clockToleranceMs: 60_000 });
  for (const name of ["owner", "partner"]) hosts.push(await createHost({ keyFile: path.join(dir, `${name}.key`), listen: ["/ip4/127.0.0.1/tcp/0"] }));
}, 60_000);

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Resolves when `check` holds (polled), or after `ms` either way: the caller asserts on what it needs. */
async function until(check: () => boolean, ms = 5_000): Promise<void> {
  for (const end = Date.now() + ms; !check() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 5));
}

/** The owner's server on a fresh protocol handler, over `readings`; every request it received, as "stream@afterSeq". */
async function serve(readings: ReadingSource, maxInboundStreams: number): Promise<Set<string>> {
  const asked = new Set<string>();
  const owner = hosts[0]!;
  await owner.unhandle([FETCH_PROTOCOL, FETCH_PROTOCOL_V1]);
  await serveFetch(owner, {
    orgOf: async () => 1,
    // Both hosts are the owner's organisation: access is decided as the owner's.
    access: { isAllowed: async () => false, isAllowedAt: async () => false, grantKind: async () => undefined } satisfies AccessChecker,
    ownerOrg: 1,
    maxReadings: PAGE,
    maxInboundStreams,
    readings: {
      readings: (q: ReadingQuery) => {
        asked.add(`${q.stream}@${q.afterSeq}`);
        return readings.readings(q);
      },
      windows: (s) => readings.windows(s),
      streams: () => readings.streams(),
    },
  });
  return asked;
}

function client(o: { store: (b: VerifiedReadings) => Promise<void>; orgOf?: () => Promise<number>; misbehaved?: (peer: string, reason: string, altered: boolean) => void; maxRequestsPerPeer?: number }) {
  return new FetchClient(hosts[1]!, {
    selfOrg: 1,
    orgOf: o.orgOf ?? (async () => 1),
    anchors: { getAnchor: chain.getAnchor, orgOfAnchor: async (node, seq) => ((await chain.getAnchor(node, BigInt(seq))) ? 1 : undefined) },
    storeReadings: o.store,
    ...(o.misbehaved ? { onMisbehaviour: o.misbehaved } : {}),
    ...(o.maxRequestsPerPeer ? { maxRequestsPerPeer: o.maxRequestsPerPeer } : {}),
  });
}

const seqsOf = (b: VerifiedReadings) => b.items.flatMap((i) => (i.kind === "run" ? i.proof.seqs : [i.proof.seq]));

describe("pipelined pages", () => {
  it("store several streams' pages in order and completely, each next page asked for before the current one is stored, within the server's stream cap", async () => {
    const asked = await serve(source, 2);
    const stored = new Map<string, number[]>(STREAMS.map((s) => [s, []]));
    let askedAheadOfStore = 0;
    const c = client({
      maxRequestsPerPeer: 2,
      store: async (b) => {
        // The next page's request reaches the server while this page is still being stored.
        if (b.more) {
          await until(() => asked.has(`${b.stream}@${b.lastSeq}`));
          if (asked.has(`${b.stream}@${b.lastSeq}`)) askedAheadOfStore++;
        }
        stored.get(b.stream)!.push(...seqsOf(b));
      },
    });
    const owner = hosts[0]!.getMultiaddrs()[0]!;
    const pages = await Promise.all(
      STREAMS.map(async (stream) => {
        const got: VerifiedReadings[] = [];
        for await (const page of c.fetchReadingPages(owner, { stream, from: t0, to: t0 + PER_STREAM, limit: PAGE })) got.push(page);
        return got;
      }),
    );
    for (const [k, stream] of STREAMS.entries()) {
      expect(pages[k]!.map((p) => p.count)).toEqual([5_000, 5_000, 2_000]);
      expect(stored.get(stream)).toEqual(Array.from({ length: PER_STREAM }, (_, i) => i + 1));
      const values = pages[k]!.flatMap((p) => p.items.flatMap((i) => (i.kind === "run" ? i.readings : [i.reading]))).map((r) => r.value);
      expect(values).toEqual(Array.from({ length: PER_STREAM }, (_, i) => 100 + i / 4));
    }
    // Pages 1 and 2 of each stream were stored with the next one already asked for.
    expect(askedAheadOfStore).toBe(STREAMS.length * 2);
  }, 60_000);

  it("stores nothing past page 1 when page 2 is a lie and page 3 is already in flight, and reports the peer", async () => {
    const [stream] = STREAMS as [string];
    const asked = await serve(
      {
        readings: async (q) => {
          const page = await source.readings(q);
          if (q.stream === stream && q.afterSeq === PAGE) {
            // Page 2 with one value altered after its proof was made.
            const [first, ...rest] = page.items;
            if (first?.kind !== "run") throw new Error("expected a run");
            return { ...page, items: [{ ...first, readings: first.readings.map((r, k) => (k === 7 ? { ...r, value: (r.value as number) + 1 } : r)) }, ...rest] };
          }
          return page;
        },
        windows: (s) => source.windows(s),
        streams: () => source.streams(),
      },
      4,
    );
    const stored: VerifiedReadings[] = [];
    const reports: { reason: string; altered: boolean }[] = [];
    let takes = 0;
    let page3InFlight = false;
    const c = client({
      store: async (b) => void stored.push(b),
      // Asked once per answer taken, before verifying it: page 2's verification waits until page 3 has reached the server.
      orgOf: async () => {
        if (++takes === 2) {
          await until(() => asked.has(`${stream}@${2 * PAGE}`));
          page3InFlight = asked.has(`${stream}@${2 * PAGE}`);
        }
        return 1;
      },
      misbehaved: (_peer, reason, altered) => void reports.push({ reason, altered }),
    });
    const owner = hosts[0]!.getMultiaddrs()[0]!;
    const got: VerifiedReadings[] = [];
    const fetching = (async () => {
      for await (const page of c.fetchReadingPages(owner, { stream, from: t0, to: t0 + PER_STREAM, limit: PAGE })) got.push(page);
    })();
    await expect(fetching).rejects.toThrow(PeerMisbehaviourError);
    expect(page3InFlight).toBe(true);
    await new Promise((r) => setTimeout(r, 300)); // page 3's answer, had it been kept, would be stored by now
    expect(got.map(seqsOf)).toEqual([Array.from({ length: PAGE }, (_, i) => i + 1)]);
    expect(stored.map(seqsOf)).toEqual([Array.from({ length: PAGE }, (_, i) => i + 1)]);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ altered: true });
    expect(reports[0]!.reason).toMatch(/item 0: window 1 of node .*: proof-invalid/);
  }, 60_000);
});
