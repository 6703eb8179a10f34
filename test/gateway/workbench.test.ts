/**
 * The workbench's own routes. GET /workbench/shipments: an organisation's shipments in and out
 * from the chain index, grouped per ship record with what became of each item. GET
 * /workbench/devices: its devices and streams from its node's status (node/devices-view.ts: rates
 * over the last minute, late and ahead readings, last anchored window, anchoring lag). Only the
 * organisation that runs the gateway reads them: anonymous callers get 401, another member (even
 * signed in at this gateway) 403, and a bad `limit` is named.
 */
import { id } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevicesAnswer } from "../../lib/api/devices.ts";
import type { MyShipmentsAnswer } from "../../lib/api/shipments.ts";
import type { NodeStatus } from "../../node/daemon.ts";
import type { GatewayServices } from "../../gateway/services.ts";
import { recordDecision } from "../../gateway/visible-identifiers.ts";
import { devicesView } from "../../node/devices-view.ts";
import { indexService } from "../../node/indexer/service.ts";
import { type TestGateway, startTestGateway } from "../helpers/gateway.ts";
import { type IndexedStory, startIndexedStory } from "../helpers/indexed-story.ts";
import { done, eventHash, key, ORG_ID, playStory } from "../helpers/story.ts";

let chain: IndexedStory;
let foundry: TestGateway;

/** A node as the view reads it: one press sensor and its stream, counts and clock moved by the test. */
const clock = { now: 1_000_000 };
const counts = { device: 0, stream: 0 };
const nodeStatus = (): NodeStatus =>
  ({
    running: true,
    pid: 1,
    startedAt: 1_000_000 - 120_000,
    updatedAt: clock.now,
    organisation: "foundry",
    node: "0x00000000000000000000000000000000000000aa",
    dataDir: "/tmp/x",
    readingsStored: counts.stream,
    windows: { closed: 7, anchored: 6, pending: 1, open: null },
    lastAnchor: { sequence: 6, anchoredAt: Math.floor(clock.now / 1000) - 42, txHash: "0x" + "ab".repeat(32) },
    anchoring: { state: "idle", attempts: 0 },
    ingest: { pendingReadings: 0, waitingWrites: 0, skewedReadings: 3, historicalReadings: 5, timing: [{ stream: "press-1/force", late: 2, ahead: 1, maxLateMs: 9_000, maxAheadMs: 4_000, lastLagMs: 9_000 }], commits: 1 },
    adapters: [{ device: "press-1", state: "connected", readings: counts.device, gaps: 0 }],
  }) as unknown as NodeStatus;
const devices = devicesView({ status: nodeStatus, streamReadings: () => new Map([["press-1/force", counts.stream]]) }, () => clock.now);

beforeAll(async () => {
  chain = await startIndexedStory(async (story) => {
    await playStory(story);
    // One shipment still on its way: the foundry's second casting, to the OEM.
    await done(story.as.foundry.provenance.ship([key("CAST-2")], ORG_ID.oem, true, id("ship-cast2-to-oem")));
  });
  foundry = await startTestGateway({ chain: chain.tc, node: "foundry", services: { index: indexService(chain.indexer), devices } });
}, 240_000);

afterAll(async () => {
  await foundry?.stop();
  await chain?.stop();
});

describe("GET /workbench/shipments", () => {
  it("lists the foundry's shipments in and out, newest first, with each item's state", async () => {
    const res = await foundry.request("/workbench/shipments", { token: await foundry.signIn("foundry") });
    expect(res.status).toBe(200);
    const a = (await res.json()) as MyShipmentsAnswer;
    expect(a.organisation.id).toBe(ORG_ID.foundry);
    // In: the mill's two coils (one received, one cancelled), newest first.
    expect(a.incoming.map((s) => [s.from?.id, s.to?.id, s.items.map((i) => [i.key, i.state]), s.open])).toEqual([
      [ORG_ID.steel, ORG_ID.foundry, [[key("COIL-2"), "cancelled"]], 0],
      [ORG_ID.steel, ORG_ID.foundry, [[key("COIL-1"), "received"]], 0],
    ]);
    // Out: the casting on its way to the OEM, then the one the machining shop received.
    expect(a.outgoing.map((s) => [s.to?.id, s.items.map((i) => [i.key, i.state]), s.open])).toEqual([
      [ORG_ID.oem, [[key("CAST-2"), "in-transit"]], 1],
      [ORG_ID.machining, [[key("CAST-1"), "received"]], 0],
    ]);
    expect(a.outgoing[0]!.record).toBeGreaterThan(a.outgoing[1]!.record);
    expect(a.outgoing[0]!.time).toBeGreaterThan(0);
    // No documents at this node: the keys are named, the identifiers are not guessed.
    expect(a.outgoing[0]!.items[0]!.identifier).toBeNull();
    const one = (await (await foundry.request("/workbench/shipments?limit=1", { token: await foundry.signIn("foundry") })).json()) as MyShipmentsAnswer;
    expect([one.incoming.length, one.outgoing.length]).toEqual([1, 1]);
  });

  it("refuses anonymous callers, other members and a malformed limit", async () => {
    const anonymous = await foundry.request("/workbench/shipments");
    expect(anonymous.status).toBe(401);
    // The OEM, to whom the casting is on its way, still may not list the foundry's shipments.
    for (const who of ["oem", "steel"] as const) {
      const res = await foundry.request("/workbench/shipments", { token: await foundry.signIn(who) });
      expect(res.status).toBe(403);
      expect(JSON.stringify(await res.json())).not.toContain(key("CAST-2").slice(2, 20));
    }
    for (const bad of ["0", "201", "x", "1&limit=2"]) {
      const res = await foundry.request(`/workbench/shipments?limit=${bad}`, { token: await foundry.signIn("foundry") });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { detail: string }).detail).toMatch(/`limit` must be one integer from 1 to 200/);
    }
  });
});

describe("GET /workbench/devices", () => {
  it("shows each device's state and rate, each stream's rate and timing, the last anchored window and the lag", async () => {
    const token = await foundry.signIn("foundry");
    const read = async () => (await (await foundry.request("/workbench/devices", { token })).json()) as DevicesAnswer;
    // First look: 240 readings in the two minutes since the node started.
    counts.device = counts.stream = 240;
    let a = await read();
    expect(a.devices).toEqual([{ device: "press-1", state: "connected", readings: 240, gaps: 0, perMinute: 120 }]);
    expect(a.streams).toEqual([{ stream: "press-1/force", readings: 240, perMinute: 120, late: 2, ahead: 1, maxLateMs: 9_000, maxAheadMs: 4_000 }]);
    expect(a).toMatchObject({ windows: { closed: 7, anchored: 6, pending: 1 }, lastAnchor: { sequence: 6 }, anchoringLagS: 42, anchoring: { state: "idle" }, skewedReadings: 3, historicalReadings: 5 });
    // A minute later, 30 more: the rate is the last minute's, not the average since the start.
    clock.now += 60_000;
    counts.device = counts.stream = 270;
    a = await read();
    expect([a.devices[0]!.perMinute, a.streams[0]!.perMinute]).toEqual([30, 30]);
  });

  it("refuses anonymous callers and other members", async () => {
    expect((await foundry.request("/workbench/devices")).status).toBe(401);
    for (const who of ["oem", "steel"] as const) {
      const res = await foundry.request("/workbench/devices", { token: await foundry.signIn(who) });
      expect(res.status).toBe(403);
      expect(await res.text()).not.toContain("press-1");
    }
  });
});

describe("the gateway's decision on a partner's shipping record (lib/access.ts, the consignee's right)", () => {
  /** Whether `reader` may read the document of `owner`'s record of event `label`, decided at this gateway from its index. */
  const decide = async (reader: number, owner: number, label: string) => {
    const index = indexService(chain.indexer);
    const hash = label === "ship-cast2-to-oem" ? id(label) : eventHash(label);
    const record = await index.queries.recordOfEventBy(hash, owner);
    expect(record, label).toBeDefined();
    return recordDecision({ index } as unknown as GatewayServices, index.queries, reader, { ...record!, via: record!.keys[0]! });
  };

  it("gives the consignee the shipping document of a shipment in transit or received, and nothing once cancelled", async () => {
    expect(await decide(ORG_ID.oem, ORG_ID.foundry, "ship-cast2-to-oem")).toEqual({ allowed: true, via: "consignee" });
    expect(await decide(ORG_ID.foundry, ORG_ID.steel, "ship-coil1")).toEqual({ allowed: true, via: "consignee" });
    // Cancelled: the sender withdrew what it disclosed.
    expect(await decide(ORG_ID.foundry, ORG_ID.steel, "ship-coil2")).toEqual({ allowed: false });
  });

  it("gives a third member, an anonymous caller and the consignee's reach into earlier records nothing", async () => {
    expect(await decide(ORG_ID.steel, ORG_ID.foundry, "ship-cast2-to-oem")).toEqual({ allowed: false });
    expect(await decide(ORG_ID.machining, ORG_ID.foundry, "ship-cast2-to-oem")).toEqual({ allowed: false });
    expect(await decide(0, ORG_ID.foundry, "ship-cast2-to-oem")).toEqual({ allowed: false });
    // The steel mill's coil commissioning, before it was shipped to the foundry: not the foundry's.
    expect(await decide(ORG_ID.foundry, ORG_ID.steel, "commission-coils")).toEqual({ allowed: false });
  });
});
