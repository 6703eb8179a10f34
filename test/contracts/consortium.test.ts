import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { network } from "hardhat";
import { ProposalKind, Role, proposalData } from "../../lib/consortium.ts";
import { type ConsortiumFixture, type Conn, deployConsortium, expectRevert, suspendOrg } from "../helpers/fixture.ts";

describe("Consortium (smoke)", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  beforeAll(async () => {
    conn = await network.create();
    fx = await deployConsortium(conn);
  });
  afterAll(async () => conn.close());

  it("answers membership views for founders", async () => {
    const { consortium, orgs, outsider } = fx;
    expect(await consortium.isActiveMember(orgs.steel.signer.address)).toBe(true);
    expect(await consortium.isActiveMember(outsider.address)).toBe(false);
    expect(await consortium.hasRole(orgs.lab.id, Role.Certifier)).toBe(true);
    expect(await consortium.isMemberPeer(orgs.oem.peerId)).toBe(true);
    expect((await consortium.getValidators()).length).toBe(8);
  });

  it("suspends through governance and refuses outsiders", async () => {
    await suspendOrg(fx, "auditor");
    expect(await fx.consortium.isActiveOrg(fx.orgs.auditor.id)).toBe(false);
    await expectRevert(
      fx.consortium.connect(fx.outsider).propose(ProposalKind.Suspend, proposalData.suspend(1)),
      fx.consortium,
      "NotActiveMember",
      [fx.outsider.address],
    );
  });
});
