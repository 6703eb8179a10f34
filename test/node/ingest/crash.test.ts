/**
 * Crash recovery: the node runs as a child process (support/synthetic-node.ts) against anvil and
 * is killed with SIGKILL at random points of ingestion, and right after it broadcast an anchor
 * transaction, then restarted. Afterwards every reading it acknowledged must be stored with its
 * value and provable against the chain, sequence numbers must have no holes, and the node's
 * anchors must form one unbroken chain (1..n, each naming its predecessor's root).
 */
import path from "node:path";
import { JsonRpcProvider, ZeroHash } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeReading } from "../../../lib/canonical-reading.ts";
import { DataAnchors__factory } from "../../../lib/contracts/types/index.js";
import { cachedAnchorView, contractAnchorView, verifyReading } from "../../../lib/verify-reading.ts";
import { ProofService } from "../../../node/ingest/proofs.ts";
import { IngestStore, parseChunk, sectionRecords } from "../../../node/ingest/store.ts";
import { type Ack, type NodeEnv, nodeEnv, runSyntheticNode } from "./support/env.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("crash recovery: kill -9 during ingestion and anchoring", () => {
  let env: NodeEnv;
  beforeAll(async () => {
    env = await nodeEnv();
  });
  afterAll(async () => env?.cleanup());

  it("keeps every acknowledged reading provable and the anchor chain unbroken across SIGKILLs", async () => {
    const acks: Ack[] = [];
    // Kills at random moments (ingesting, closing windows, anchoring), right at start-up
    // (during recovery), and right after an anchor transaction was broadcast but before the node
    // recorded it.
    const rounds: ({ after: number } | { crashAfterSends: number })[] = [
      { after: 300 + Math.random() * 900 },
      { crashAfterSends: 1 },
      { after: Math.random() * 100 },
      { crashAfterSends: 2 },
    ];
    let killedWithSends = 0;
    const logs: string[] = [];
    for (const round of rounds) {
      const args = "crashAfterSends" in round ? ["--crash-after-sends", String(round.crashAfterSends)] : [];
      const child = runSyntheticNode(env.configFile, args);
      await child.waitFor(/^ready /);
      if ("after" in round) {
        await sleep(round.after);
        child.proc.kill("SIGKILL");
      }
      const exit = await child.exited;
      expect(exit.signal, child.stderr()).toBe("SIGKILL");
      if ("crashAfterSends" in round) killedWithSends++;
      acks.push(...child.acks);
      logs.push(child.stderr());
    }
    expect(killedWithSends).toBe(2);

    const last = runSyntheticNode(env.configFile, ["--drain-after", "600"]);
    const drained = await last.waitFor(/^drained /);
    expect((await last.exited).code).toBe(0);
    acks.push(...last.acks);
    logs.push(last.stderr());
    // Each kill between broadcast and record left an anchored window the store had not marked:
    // a later run found it on chain and marked it instead of sending it again.
    const reconciled = logs.join("\n").match(/reconciled: windows \d+\.\.\d+ were already anchored/g) ?? [];
    expect(reconciled.length).toBeGreaterThanOrEqual(2);
    const [, closed, anchored] = drained.split(" ").map(Number);
    expect(anchored).toBe(closed);
    expect(acks.length).toBeGreaterThan(1000);

    const store = await IngestStore.open(path.join(env.dataDir, "db"));
    const provider = new JsonRpcProvider(env.chain.url, undefined, { staticNetwork: true });
    try {
      const head = await store.head();
      expect(head.lastClosed).toBe(closed);

      // Everything stored, window by window, and every stream's sequence without holes.
      const stored = new Map<string, number>();
      const seqsOf = new Map<string, number[]>();
      for (let w = 1; w <= head.lastClosed; w++) {
        for await (const { value } of store.chunks(w)) {
          for (const section of parseChunk(value).sections) {
            for (const bytes of sectionRecords(value, section)) {
              const { reading, seq } = decodeReading(bytes);
              stored.set(`${reading.stream}#${seq}`, reading.value as number);
              const list = seqsOf.get(reading.stream) ?? [];
              list.push(seq);
              seqsOf.set(reading.stream, list);
            }
          }
        }
      }
      expect(stored.size).toBe(head.readingsClosed);
      for (const [stream, seqs] of seqsOf) {
        expect(seqs, stream).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      }

      // Every acknowledged reading is stored with the value that was acknowledged.
      const missing = acks.filter((a) => stored.get(`${a.stream}#${a.seq}`) !== a.value);
      expect(missing.slice(0, 5)).toEqual([]);

      // Every stored reading verifies against the chain (lib/verify-reading.ts), and a sample of
      // acknowledged readings through the per-reading proof path as well.
      const anchors = DataAnchors__factory.connect(env.deployment.contracts.dataAnchors, provider);
      const view = cachedAnchorView(contractAnchorView(anchors));
      const proofs = new ProofService(store, env.node);
      const audit = await proofs.audit(view);
      expect(audit.failures).toEqual([]);
      expect(audit.unanchored).toEqual([]);
      expect(audit.verified).toBe(stored.size);
      for (let k = 0; k < 25; k++) {
        const a = acks[Math.floor(Math.random() * acks.length)]!;
        const proven = (await proofs.proveReading(a.stream, a.seq))!;
        expect(proven.reading.value).toBe(a.value);
        expect(await verifyReading(proven.reading, proven.proof, view)).toEqual({ ok: true });
      }

      // The anchor chain: sequences 1..n, once each, in order, each naming its predecessor's
      // root, each root the node's own window root.
      expect(Number(await anchors.lastSequence(env.node))).toBe(head.lastClosed);
      const events = await anchors.queryFilter(anchors.filters.WindowAnchored(env.node), 0);
      expect(events.map((e) => Number(e.args.sequence))).toEqual(Array.from({ length: head.lastClosed }, (_, i) => i + 1));
      let prev = ZeroHash;
      for (const e of events) {
        expect(e.args.prevRoot).toBe(prev);
        const local = (await store.window(Number(e.args.sequence)))!;
        expect(e.args.root).toBe(local.root);
        expect(Number(e.args.fromTimeMs)).toBe(local.fromTimeMs);
        prev = e.args.root;
      }
    } finally {
      provider.destroy();
      await store.close();
    }
  }, 120_000);
});
