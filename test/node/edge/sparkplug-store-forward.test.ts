/**
 * Sparkplug B store and forward, end to end: the simulator's edge node is configured for our
 * primary host, so it publishes nothing until the node's STATE birth and stores what changes;
 * then it is born and delivers the stored values as is_historical metrics (newest first, which
 * the spec allows). The node ingests them through its real pipeline and store: each keeps its
 * historical flag in its committed bytes (visible in its proof), each stream gets them in the
 * order of their own timestamps, and none counts as a late reading.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect, type MqttClient } from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeReading } from "../../../lib/canonical-reading.ts";
import { leafHash } from "../../../lib/merkle.ts";
import type { Reading } from "../../../lib/reading.ts";
import { SparkplugAdapter } from "../../../node/edge/sparkplug.ts";
import { IngestPipeline } from "../../../node/ingest/pipeline.ts";
import { ProofService } from "../../../node/ingest/proofs.ts";
import { IngestStore } from "../../../node/ingest/store.ts";
import { startSimulator, type Simulator } from "../../../node/simulator/index.ts";
import { tightening } from "../../../node/simulator/models.ts";
import type { SimEdgeNode } from "../../../node/simulator/sparkplug.ts";
import { waitFor } from "./helpers.ts";

const SEED = 5;
const GROUP = "Plant";
const NODE = "Assembly2";
const HOST = "tracemesh-oem";
const ANGLE = `${GROUP}/${NODE}/Tightening1/Angle`;
const TICK_MS = 200;
const HELD_TICKS = 30;
const TOLERANCE_MS = 2_000;

let dir: string;
let store: IngestStore;
let pipeline: IngestPipeline;
let sim: Simulator;
let edge: SimEdgeNode;
let probe: MqttClient;
let adapter: SparkplugAdapter | undefined;
const fromEdge: string[] = [];
/** What the adapter handed to the pipeline, in order. */
const delivered: Reading[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "tracemesh-spb-saf-"));
  store = await IngestStore.open(dir);
  pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 3), { windowMs: 60_000, clockToleranceMs: TOLERANCE_MS });
  // The held ticks end about now: what the edge node stores is up to HELD_TICKS * TICK_MS old.
  sim = await startSimulator({ seed: SEED, manual: true, tickMs: TICK_MS, startTime: Date.now() - HELD_TICKS * TICK_MS, opcua: false, modbus: false, mqtt: { group: GROUP, edgeNode: NODE, primaryHostId: HOST } });
  edge = sim.sparkplug as SimEdgeNode;
  probe = connect(sim.endpoints.mqtt as string, { clientId: "saf-probe" });
  await new Promise<void>((resolve) => probe.once("connect", () => resolve()));
  probe.on("message", (topic) => fromEdge.push(topic));
  await probe.subscribeAsync(`spBv1.0/${GROUP}/+/${NODE}/#`);
}, 30_000);

afterAll(async () => {
  await adapter?.stop();
  await probe?.endAsync(true);
  await sim?.stop();
  await pipeline?.stop();
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("a Sparkplug edge node that stores data until its primary host is online", () => {
  it("holds everything until the STATE birth, then delivers it; the node keeps it as historical, in time order, not late", async () => {
    await sim.step(HELD_TICKS);
    expect(edge.isConnected).toBe(true);
    // No primary host yet: not a BIRTH, not a DATA message, everything stored.
    expect(fromEdge).toEqual([]);
    const stored = edge.storedValues;
    expect(stored).toBeGreaterThan(HELD_TICKS);

    const sink = { write: async (readings: readonly Reading[]) => {
      delivered.push(...readings);
      await pipeline.write(readings);
    } };
    adapter = new SparkplugAdapter({ kind: "sparkplug", device: "assembly", url: sim.endpoints.mqtt as string, group: GROUP, primaryHostId: HOST }, { sink });
    await adapter.start();
    await waitFor(() => edge.storedValues === 0 && edge.publishing, "the edge node to see the STATE birth and forward its store");
    await waitFor(() => fromEdge.length >= 3, "the BIRTHs on the wire");
    expect(fromEdge.slice(0, 3)).toEqual([`spBv1.0/${GROUP}/NBIRTH/${NODE}`, `spBv1.0/${GROUP}/DBIRTH/${NODE}/CNC1`, `spBv1.0/${GROUP}/DBIRTH/${NODE}/Tightening1`]);
    await waitFor(() => delivered.filter((r) => r.historical).length === stored, "every stored value ingested");
    // Live data after the backlog.
    await sim.step(3);
    await waitFor(() => delivered.some((r) => r.stream === ANGLE && !r.historical && r.sourceTime === sim.timeOf(HELD_TICKS + 3)), "live readings");

    // Each stream's stored values arrive in the order they were measured, and they are exactly
    // the values the edge node held (every changed angle from tick 0 to the last held tick).
    const history = delivered.filter((r) => r.stream === ANGLE && r.historical);
    const expected: { sourceTime: number; value: number }[] = [];
    for (let t = 0; t <= HELD_TICKS; t++) if (t === 0 || tightening(SEED, t).angle !== tightening(SEED, t - 1).angle) expected.push({ sourceTime: sim.timeOf(t), value: tightening(SEED, t).angle });
    expect(history.map((r) => ({ sourceTime: r.sourceTime, value: r.value }))).toEqual(expected);
    // The BIRTH's current value and the live data are not historical.
    expect(delivered.find((r) => r.stream === ANGLE)).toMatchObject({ sourceTime: sim.timeOf(HELD_TICKS) });
    expect(delivered.find((r) => r.stream === ANGLE)?.historical).toBeUndefined();

    // Much of the backlog is older than the clock tolerance: without the flag it would count as late.
    await pipeline.closeWindow();
    const received = new Map<number, number>();
    const proofs = new ProofService(store, "0x" + "cd".repeat(20));
    const run = (await proofs.proveRun(ANGLE, pipeline.lastClosed))!;
    run.readings.forEach((r, k) => received.set(run.proof.seqs[k]!, r.receivedTime!));
    const servedHistory = run.readings.filter((r) => r.historical);
    expect(servedHistory.map((r) => r.sourceTime)).toEqual(expected.map((e) => e.sourceTime));
    expect(servedHistory.filter((r) => r.receivedTime! - r.sourceTime > TOLERANCE_MS).length).toBeGreaterThan(3);
    const status = pipeline.status();
    expect(status.skewedReadings).toBe(0);
    expect(status.historicalReadings).toBe(stored);

    // The flag is part of what the leaf commits to: the served proof of a stored value shows it,
    // and the same reading without it hashes to another leaf.
    const seq = run.proof.seqs[run.readings.indexOf(servedHistory[0]!)]!;
    const proven = (await proofs.proveReading(ANGLE, seq))!;
    expect(proven.reading).toMatchObject({ historical: true, sourceTime: expected[0]!.sourceTime, value: expected[0]!.value });
    const salt = Buffer.from(proven.proof.salt.slice(2), "hex");
    expect("0x" + leafHash(encodeReading(proven.reading, seq, salt)).toString("hex")).toBe(proven.proof.leafHash);
    const { historical: _, ...unflagged } = proven.reading;
    expect("0x" + leafHash(encodeReading(unflagged, seq, salt)).toString("hex")).not.toBe(proven.proof.leafHash);
  }, 30_000);

  it("stores again while the primary host is away (STATE death), and forwards once it is back", async () => {
    await adapter!.stop();
    adapter = undefined;
    await waitFor(() => !edge.publishing, "the edge node to see the STATE death");
    const before = fromEdge.length;
    await sim.step(4);
    expect(edge.storedValues).toBeGreaterThan(0);
    // Only the NDEATH it published on the STATE death; no data while the host is away.
    expect(fromEdge.slice(before).filter((t) => t.includes("DATA"))).toEqual([]);
    const stored = edge.storedValues;
    const historical = delivered.filter((r) => r.historical).length;

    const sink = { write: async (readings: readonly Reading[]) => {
      delivered.push(...readings);
      await pipeline.write(readings);
    } };
    adapter = new SparkplugAdapter({ kind: "sparkplug", device: "assembly", url: sim.endpoints.mqtt as string, group: GROUP, primaryHostId: HOST }, { sink });
    await adapter.start();
    await waitFor(() => delivered.filter((r) => r.historical).length === historical + stored, "the second backlog ingested");
    expect(adapter.status().gaps).toBe(0);
    expect(pipeline.status().historicalReadings).toBe(historical + stored);
  }, 30_000);
});
