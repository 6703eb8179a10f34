/**
 * The node status as `node status` prints it (node/daemon.ts formatStatus), from a hand-made
 * status: the readings line names store-and-forward (historical) readings apart from skewed ones;
 * a LOST line names the runs of windows recorded on chain as lost before they were anchored.
 */
import { describe, expect, it } from "vitest";
import { type NodeStatus, formatStatus } from "../../../node/daemon.ts";

const status = {
  node: "0x" + "ab".repeat(20),
  organisation: "Foundry",
  running: true,
  pid: 4242,
  updatedAt: Date.parse("2026-12-06T03:00:00Z"),
  startedAt: Date.parse("2026-12-06T02:00:00Z"),
  readingsStored: 1200,
  ingest: { pendingReadings: 0, waitingWrites: 0, skewedReadings: 4, historicalReadings: 37, timing: [] },
  windows: { closed: 3, anchored: 3, pending: 0, open: { sequence: 4, readings: 10 } },
  anchoring: { state: "idle", attempts: 0 },
  lastAnchor: null,
  adapters: [],
} as unknown as NodeStatus;

describe("node status", () => {
  it("prints the store-and-forward readings beside the skewed ones", () => {
    const readings = formatStatus(status, true).split("\n").find((l) => l.startsWith("readings"));
    expect(readings).toContain("4 with source time off (late or device clock ahead); 37 delivered late from devices' store and forward");
  });

  it("prints a LOST line naming the runs of windows recorded on chain as lost", () => {
    const lost = { windows: 3, runs: [{ fromSequence: 3, toSequence: 4, detectedAt: 1 }, { fromSequence: 7, toSequence: 7, detectedAt: 2 }] };
    const withLost = { ...status, anchoring: { ...status.anchoring, lost } } as NodeStatus;
    expect(formatStatus(withLost, true)).toMatch(/^LOST {8}3 window\(s\) lost from the store before they were anchored, recorded on chain as lost: #3\.\.#4, #7$/m);
    expect(formatStatus(status, true)).not.toMatch(/^LOST/m);
  });
});
