/**
 * Tamper evidence: after the node stopped, one stored reading is altered directly in LevelDB on
 * disk. Verification (the audit, a single proof, and `cli.ts audit`) names exactly that reading
 * as altered; every other reading still verifies. Altering a window's stored leaf hashes instead
 * is caught as proofs that no longer lead to the anchored root.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { JsonRpcProvider } from "ethers";
import { Level } from "level";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeReading } from "../../../lib/canonical-reading.ts";
import { DataAnchors__factory } from "../../../lib/contracts/types/index.js";
import type { Reading } from "../../../lib/reading.ts";
import { type AnchorView, contractAnchorView, verifyReading } from "../../../lib/verify-reading.ts";
import { loadConfig } from "../../../node/config.ts";
import { startNode } from "../../../node/daemon.ts";
import { ProofService } from "../../../node/ingest/proofs.ts";
import { IngestStore, keys, parseChunk, sectionRecords } from "../../../node/ingest/store.ts";
import { type NodeEnv, ROOT, nodeEnv } from "./support/env.ts";

describe("tampering with stored readings", () => {
  let env: NodeEnv;
  let provider: JsonRpcProvider;
  let view: AnchorView;
  let windows = 0;

  beforeAll(async () => {
    env = await nodeEnv();
    provider = new JsonRpcProvider(env.chain.url, undefined, { staticNetwork: true });
    view = contractAnchorView(DataAnchors__factory.connect(env.deployment.contracts.dataAnchors, provider));
    const node = await startNode(loadConfig(env.configFile), { log: () => {} });
    for (let w = 0; w < 3; w++) {
      for (let i = 0; i < 4; i++) {
        const batch: Reading[] = Array.from({ length: 30 }, (_, k) => ({
          stream: `mill-${k % 3}/vibration`,
          metric: "vibration",
          unit: "mm/s",
          value: w * 1000 + i * 30 + k,
          sourceTime: Date.now(),
          quality: "good",
        }));
        await node.pipeline.write(batch);
      }
      await node.pipeline.closeWindow();
      await new Promise((r) => setTimeout(r, 5));
    }
    await node.anchorer.anchoredUpTo(3);
    await node.stop();
    windows = 3;
  });
  afterAll(async () => {
    provider?.destroy();
    await env?.cleanup();
  });

  /** Opens the node's LevelDB directly (no node code) and changes one record of window 2. */
  async function alterReading(): Promise<{ stream: string; seq: number; before: Reading }> {
    const db = new Level<Buffer, Buffer>(path.join(env.dataDir, "db"), { keyEncoding: "buffer", valueEncoding: "buffer" });
    await db.open();
    try {
      const key = keys.chunk(2, 1);
      const value = Buffer.from((await db.get(key)) as Buffer);
      const section = parseChunk(value).sections[1]!;
      const record = sectionRecords(value, section)[2]!;
      const { reading, seq } = decodeReading(record);
      // The value is the record's last 8 bytes (a float64): make it a little larger.
      const at = record.byteOffset - value.byteOffset + record.length - 8;
      value.writeDoubleBE(value.readDoubleBE(at) + 0.5, at);
      await db.put(key, value);
      return { stream: reading.stream, seq, before: reading };
    } finally {
      await db.close();
    }
  }

  it("names the one altered reading; every other reading still verifies", async () => {
    const before = await (async () => {
      const store = await IngestStore.open(path.join(env.dataDir, "db"));
      try {
        return await new ProofService(store, env.node).audit(view);
      } finally {
        await store.close();
      }
    })();
    expect(before.failures).toEqual([]);
    expect(before.windows).toBe(windows);

    const altered = await alterReading();

    const store = await IngestStore.open(path.join(env.dataDir, "db"));
    try {
      const proofs = new ProofService(store, env.node);
      const report = await proofs.audit(view);
      expect(report.failures).toHaveLength(1);
      expect(report.failures[0]).toMatchObject({ window: 2, stream: altered.stream, seq: altered.seq, reason: "reading-altered" });
      expect(report.verified).toBe(before.verified - 1);

      const proven = (await proofs.proveReading(altered.stream, altered.seq))!;
      expect(proven.reading.value).toBe((altered.before.value as number) + 0.5);
      expect(await verifyReading(proven.reading, proven.proof, view)).toMatchObject({ ok: false, reason: "reading-altered" });
      // The original reading, with the same proof, is what was anchored.
      expect(await verifyReading(altered.before, proven.proof, view)).toEqual({ ok: true });
    } finally {
      await store.close();
    }

    // The command line says the same, and exits non-zero.
    const cli = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "node/cli.ts"), "audit", "--config", env.configFile], { cwd: ROOT, encoding: "utf8" });
    expect(cli.status, cli.stderr).toBe(1);
    expect(cli.stdout).toContain(`FAILED ${altered.stream} #${altered.seq} (window 2`);
    expect(cli.stdout).toContain("reading-altered");
    expect(cli.stdout.match(/^FAILED/gm)).toHaveLength(1);
  });

  it("catches altered leaf hashes as proofs that no longer lead to the anchored root", async () => {
    const db = new Level<Buffer, Buffer>(path.join(env.dataDir, "db"), { keyEncoding: "buffer", valueEncoding: "buffer" });
    await db.open();
    const key = keys.leafPage(3, 0);
    const page = Buffer.from((await db.get(key)) as Buffer);
    page[40]! ^= 0x01; // leaf 1 of window 3
    await db.put(key, page);
    await db.close();

    const store = await IngestStore.open(path.join(env.dataDir, "db"));
    try {
      const report = await new ProofService(store, env.node).audit(view, { from: 3, to: 3 });
      // Every proof that passes through the altered leaf fails. The reading at leaf 1 itself still
      // verifies: its path never uses its own stored hash, and its bytes are the anchored ones.
      expect(report.failures.length).toBe(report.readings - 1);
      expect(new Set(report.failures.map((f) => f.reason))).toEqual(new Set(["proof-invalid"]));
      expect(report.failures.some((f) => f.index === 1)).toBe(false);
    } finally {
      await store.close();
    }
  });
});
