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
    const { consortium, calls } = chainOf(new Map([["member-1", 1]]));
    // A lookup budget wide enough that every unknown id reaches the chain: this measures the
    // cache itself, not the budget that would turn most of them away first.
    const gate = new MembershipGate(consortium, { ttlMs: 60_000, maxEntries: 100, unknownPeerLookups: { max: 10_000, perMs: 60_000 } });
    for (let i = 0; i < 5_000; i++) expect(await gate.isMember(`unknown-${i}`)).toBe(false);
    expect(calls.n).toBe(2 * 5_000);
    expect(gate.cachedAdmissions).toBe(0);
    expect(await gate.isMember("member-1")).toBe(true);
    expect(gate.cachedAdmissions).toBe(1);
  });

  it("with a lookup budget, a flood of unknown ids is turned away unasked past it, fills no cache, and does not hold back a member admitted before", async () => {
    const { consortium, calls } = chainOf(new Map([["member-1", 1]]));
    // A window of a minute, so a slow machine cannot open a second one during the loop.
    const gate = new MembershipGate(consortium, { ttlMs: 0, maxEntries: 100, unknownPeerLookups: { max: 20, perMs: 60_000 } });
    expect(await gate.isMember("member-1")).toBe(true);
    for (let i = 0; i < 5_000; i++) expect(await gate.isMember(`unknown-${i}`)).toBe(false);
    expect(gate.throttledLookups).toBe(5_000 - 19); // member-1 took one of the 20 lookups
    expect(calls.n).toBe(2 * 20);
    expect(gate.cachedAdmissions).toBe(0); // the TTL of 0 keeps nothing
    // The TTL of 0 forces a chain lookup; the member is never counted against the budget.
    const before = calls.n;
    expect(await gate.isMember("member-1")).toBe(true);
    expect(calls.n).toBe(before + 2);
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
