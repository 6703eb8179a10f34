/**
 * Follows (follows.ts) run fire-and-forget on announcements and connections: a failure outside a
 * fetch (the received store cannot read a cursor) must end as the follow's error, never as an
 * unhandled rejection, which a member process treats as fatal (lib/stop-signals.ts).
 */
import { afterEach, beforeEach, expect, it } from "vitest";
import { Follows, type FollowsOptions } from "../../../node/p2p/follows.ts";

const PEER = "12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5";

let escaped: unknown[] = [];
const onEscape = (e: unknown) => void escaped.push(e);
beforeEach(() => {
  escaped = [];
  process.on("unhandledRejection", onEscape);
});
afterEach(() => void process.off("unhandledRejection", onEscape));

it("a follow whose cursor cannot be read logs the failure instead of rejecting unhandled", async () => {
  const logged: string[] = [];
  const received = {
    count: async () => 0,
    unverifiable: async () => [],
    cursor: async () => {
      throw new Error("Database is not open");
    },
  };
  const follows = new Follows({
    host: { getConnections: () => [] },
    gate: { orgOf: async () => 3 },
    client: {},
    received,
    provider: {},
    dataAnchors: {},
    catchUpFromMs: 60_000,
    log: (m: string) => logged.push(m),
  } as unknown as FollowsOptions);
  await follows.add(3, "furnace-1/temperature");

  follows.syncOrg(3, PEER); // as an announcement or a connection starts it: nobody awaits it
  await new Promise((r) => setTimeout(r, 50));
  expect(escaped).toEqual([]);
  await follows.stop();
  expect(follows.status()[0]?.lastError).toBe("Database is not open");
  expect(logged.some((m) => m.includes("Database is not open"))).toBe(true);
});
