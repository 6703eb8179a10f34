/**
 * A demo member that refuses to start because its store is damaged (exit 65): `npm start` leaves
 * it out and runs the others, so that its repair can get back from them what they hold of its
 * data; what the demo then says names the repair and how to start the member again.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT_DATA_DAMAGED } from "../../node/ingest/repair.ts";
import { MemberStartError, damagedMemberAdvice, planMembers } from "../../scripts/demo/members.ts";

const demoDir = path.join(process.cwd(), ".demo");
const mill = planMembers(demoDir, { chain: 8545, gatewayBase: 8601, p2pBase: 8701 }).find((p) => p.org.key === "steel")!;

describe("a demo member whose store is damaged", () => {
  it("is told apart from other start failures by its exit status", () => {
    expect(new MemberStartError(mill, EXIT_DATA_DAMAGED, "exited (65)").storeDamaged).toBe(true);
    for (const code of [1, 2, 70]) expect(new MemberStartError(mill, code, `exited (${code})`).storeDamaged, `exit ${code}`).toBe(false);
  });

  it("is left out with the repair from partners named, while the others run, and how to start it again", () => {
    const advice = damagedMemberAdvice(mill);
    expect(advice).toMatch(/^Nordstahl Steel Mill: its store is damaged, so it is not started; the other members go on/);
    expect(advice).toContain("`npm run node -- repair --config .demo/steel/member.json --from-partners`");
    expect(advice).toContain("`npm run member -- --config .demo/steel/member.json`");
    expect(advice).toContain("its log: .demo/steel/member.log");
    // A demo directory elsewhere is named in full.
    const elsewhere = planMembers("/var/tmp/plant-demo", { chain: 8545, gatewayBase: 8601, p2pBase: 8701 }).find((p) => p.org.key === "steel")!;
    expect(damagedMemberAdvice(elsewhere)).toContain("`npm run node -- repair --config /var/tmp/plant-demo/steel/member.json --from-partners`");
  });
});
