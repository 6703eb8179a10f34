/**
 * The membership gate's admission cache, without a chain: a stand-in Consortium answers and
 * counts its calls. Unknown peer ids must not fill the cache (issue 12 #9: 50,000 unknown ids
 * once gave 50,000 entries), members are bounded by maxEntries, and a refusal is never kept.
 */
import { describe, expect, it } from "vitest";
import type { Consortium } from "../../../lib/contracts/types/index.js";
import { MembershipGate } from "../../../node/p2p/gater.ts";

/** A Consortium that knows the peer ids in `members` (peer id -> organisation id). */
function chainOf(members: Map<string, number>) {
  const calls = { n: 0 };
  const consortium = {
    orgOfPeer: async (peerId: string) => (calls.n++, BigInt(members.get(peerId) ?? 0)),
    isMemberPeer: async (peerId: string) => (calls.n++, members.has(peerId)),
  } as unknown as Consortium;
  return { consortium, calls };
}

describe("membership gate: the admission cache", () => {
  it("does not grow with unknown peer ids, however many knock", async () => {
    const { consortium } = chainOf(new Map([["member-1", 1]]));
    const gate = new MembershipGate(consortium, { ttlMs: 60_000, maxEntries: 100 });
    for (let i = 0; i < 5_000; i++) expect(await gate.isMember(`unknown-${i}`)).toBe(false);
    expect(gate.cachedAdmissions).toBe(0);
    expect(await gate.isMember("member-1")).toBe(true);
    expect(gate.cachedAdmissions).toBe(1);
  });

  it("holds at most maxEntries admitted peers", async () => {
    const members = new Map(Array.from({ length: 1_000 }, (_, i) => [`member-${i}`, 1 + (i % 5)] as const));
    const { consortium, calls } = chainOf(members);
    const gate = new MembershipGate(consortium, { ttlMs: 60_000, maxEntries: 100 });
    for (const id of members.keys()) expect(await gate.orgOf(id)).toBe(members.get(id));
    expect(gate.cachedAdmissions).toBe(100);
    // The most recent admissions are answered without a chain call.
    const before = calls.n;
    expect(await gate.orgOf("member-999")).toBe(members.get("member-999"));
    expect(calls.n).toBe(before);
  });

  it("keeps an admission for the TTL, but never a refusal: a peer registered a moment ago is let in at once", async () => {
    const members = new Map<string, number>();
    const { consortium, calls } = chainOf(members);
    const gate = new MembershipGate(consortium, { ttlMs: 60_000 });
    expect(await gate.isMember("newcomer")).toBe(false);
    members.set("newcomer", 4);
    expect(await gate.isMember("newcomer")).toBe(true);
    const before = calls.n;
    expect(await gate.isMember("newcomer")).toBe(true);
    expect(calls.n).toBe(before);
    // A membership event drops the admission.
    members.delete("newcomer");
    gate.invalidate();
    expect(await gate.isMember("newcomer")).toBe(false);
  });
});
