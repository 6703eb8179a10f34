/**
 * Organisation names in node configs resolve through the Consortium's registry
 * (node/chain/org-names.ts): an exact registered name gives its id, anything else none; a
 * retention.followed rule naming its owner resolves the same way, an unknown name is refused.
 */
import { network } from "hardhat";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { orgIdByName } from "../../../node/chain/org-names.ts";
import { ConfigError } from "../../../node/config.ts";
import { resolveFollowedNames } from "../../../node/retention/policy.ts";
import { type ConsortiumFixture, type Conn, deployConsortium } from "../../helpers/fixture.ts";

describe("organisation names against the Consortium's registry", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  beforeAll(async () => {
    conn = await network.create();
    fx = await deployConsortium(conn);
  });
  afterAll(async () => conn.close());

  it("gives the id of an exactly registered name, and none for a near miss or an unknown one", async () => {
    expect(await orgIdByName(fx.consortium, "Northern Steel Mill")).toBe(fx.orgs.steel.id);
    expect(await orgIdByName(fx.consortium, "Atlas Motors")).toBe(fx.orgs.oem.id);
    for (const miss of ["atlas motors", "Atlas Motors ", "Atlas", "", "Nowhere Ltd"]) expect(await orgIdByName(fx.consortium, miss), miss).toBeUndefined();
  });

  it("resolves retention.followed rules that name their owner, and refuses a name the registry does not hold", async () => {
    const idOf = (name: string) => orgIdByName(fx.consortium, name);
    const base = { rules: [], archiveDir: "/tmp/a", intervalMs: 3_600_000, windowsPerSegment: 10 };
    const resolved = await resolveFollowedNames({ ...base, followed: [{ organisation: "Atlas Motors", stream: "*", keepMs: 1000 }] }, idOf);
    expect(resolved.followed).toEqual([{ organisation: fx.orgs.oem.id, stream: "*", keepMs: 1000 }]);
    const refused = await resolveFollowedNames({ ...base, followed: [{ organisation: "Atlas Motor", stream: "*" }] }, idOf).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).problems).toEqual(['retention.followed[0].organisation: no organisation named "Atlas Motor" in the Consortium (names are matched exactly)']);
  });
});
