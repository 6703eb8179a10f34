import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { network } from "hardhat";
import type { Result } from "ethers";
import { AbiCoder, ZeroHash, id as keccakText, keccak256 } from "ethers";
import type { AccessGrants } from "../../lib/contracts/types/index.js";
import { ProposalKind, proposalData } from "../../lib/consortium.ts";
import {
  type Conn,
  type ConsortiumFixture,
  type TestOrg,
  deployBound,
  describeConsortiumBinding,
  deployConsortium,
  expectRevert,
  expectEvents,
  setNextTime,
  increaseTime,
  now,
  passProposal,
  reinstateOrg,
  removeOrg,
  suspendOrg,
} from "../helpers/fixture.ts";
import { ScopeKind } from "../../lib/registry.ts";


const QUALITY_CLAIM = keccakText("QUALITY_CLAIM");
const RECALL = keccakText("RECALL_INVESTIGATION");
const DAY = 24 * 3600;

let counter = 0;
/** A fresh item key, batch key or stream id hash per call. */
const fresh = (label: string) => keccakText(`${label}:${++counter}`);

/** The grant id as any off-chain party computes it. */
const grantId = (owner: number, grantee: number, scopeKey: string) =>
  keccak256(AbiCoder.defaultAbiCoder().encode(["uint32", "uint32", "bytes32"], [owner, grantee, scopeKey]));

describe("AccessGrants", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  let grants: AccessGrants;
  let steel: TestOrg; // data owner
  let oem: TestOrg; // grantee
  let foundry: TestOrg;
  let carrier: TestOrg;

  const asSteel = () => grants.connect(steel.signer);

  /** Steel grants `grantee` access to a fresh scope of `kind`; returns the scope key and id. */
  async function granted(grantee: TestOrg = oem, kind = ScopeKind.Item, from = 0, to = 0, ttl = 30 * DAY) {
    const scopeKey = fresh("scope");
    const expiresAt = (await now(conn)) + ttl;
    await (await asSteel().grantAccess(grantee.id, kind, scopeKey, QUALITY_CLAIM, from, to, expiresAt)).wait();
    return { scopeKey, id: grantId(steel.id, grantee.id, scopeKey), expiresAt };
  }

  beforeAll(async () => {
    conn = await network.create();
    fx = await deployConsortium(conn);
    ({ steel, oem, foundry, carrier } = fx.orgs);
    grants = await deployBound<AccessGrants>(conn, "AccessGrants", await fx.consortium.getAddress());
  });
  afterAll(async () => conn.close());

  describeConsortiumBinding("AccessGrants", () => ({ conn, fx, contract: grants }));

  describe("grantAccess", () => {
    it("grants read access to an item and records it", async () => {
      const item = fresh("item");
      const t = (await now(conn)) + 10;
      const expiresAt = t + 7 * DAY;
      const id = grantId(steel.id, oem.id, item);
      expect(await grants.grantIdOf(steel.id, oem.id, item)).toBe(id);
      expect(await asSteel().grantAccess.staticCall(oem.id, ScopeKind.Item, item, QUALITY_CLAIM, 0, 0, expiresAt)).toBe(
        id,
      );
      await setNextTime(conn, t);
      await expectEvents(
        asSteel().grantAccess(oem.id, ScopeKind.Item, item, QUALITY_CLAIM, 0, 0, expiresAt),
        grants,
        "AccessGranted",
        [oem.id, steel.id, item, id, ScopeKind.Item, QUALITY_CLAIM, 0, 0, expiresAt, 1],
      );
      const g = await grants.grant(id);
      expect((g as unknown as Result).toObject()).toEqual({
        owner: BigInt(steel.id),
        grantee: BigInt(oem.id),
        kind: BigInt(ScopeKind.Item),
        revoked: false,
        version: 1n,
        grantedAt: BigInt(t),
        expiresAt: BigInt(expiresAt),
        from: 0n,
        to: 0n,
        revokedAt: 0n,
        scopeKey: item,
        purpose: QUALITY_CLAIM,
      });
      expect(await grants.isAllowed(oem.id, steel.id, item)).toBe(true);
      // Data time does not matter for a scope without a time range.
      expect(await grants.isAllowedAt(oem.id, steel.id, item, 0)).toBe(true);
      expect(await grants.isAllowedAt(oem.id, steel.id, item, 2n ** 64n - 1n)).toBe(true);
      // Only that direction, that grantee and that scope.
      expect(await grants.isAllowed(steel.id, oem.id, item)).toBe(false);
      expect(await grants.isAllowed(foundry.id, steel.id, item)).toBe(false);
      expect(await grants.isAllowed(oem.id, foundry.id, item)).toBe(false);
      expect(await grants.isAllowed(oem.id, steel.id, fresh("item"))).toBe(false);
    });

    it("accepts every whole-scope kind", async () => {
      for (const kind of [ScopeKind.Item, ScopeKind.ItemWithGenealogy, ScopeKind.Batch, ScopeKind.DataStream]) {
        const { scopeKey, id } = await granted(oem, kind);
        expect((await grants.grant(id)).kind).toBe(BigInt(kind));
        expect(await grants.isAllowed(oem.id, steel.id, scopeKey)).toBe(true);
      }
    });

    it("any signing account of the owner acts for the organisation", async () => {
      const second = steel.accounts[1]!;
      const scopeKey = fresh("batch");
      const expiresAt = (await now(conn)) + DAY;
      await (
        await grants.connect(second).grantAccess(oem.id, ScopeKind.Batch, scopeKey, RECALL, 0, 0, expiresAt)
      ).wait();
      const id = grantId(steel.id, oem.id, scopeKey);
      expect((await grants.grant(id)).owner).toBe(BigInt(steel.id));
      await (await asSteel().revokeAccess(id)).wait();
      expect(await grants.isAllowed(oem.id, steel.id, scopeKey)).toBe(false);
    });

    it("refuses outsiders and bad requests", async () => {
      const key = fresh("item");
      const t = await now(conn);
      const later = t + DAY;
      await expectRevert(
        grants.connect(fx.outsider).grantAccess(oem.id, ScopeKind.Item, key, QUALITY_CLAIM, 0, 0, later),
        grants,
        "NotActiveMember",
        [fx.outsider.address],
      );
      await expectRevert(
        asSteel().grantAccess(steel.id, ScopeKind.Item, key, QUALITY_CLAIM, 0, 0, later),
        grants,
        "SelfGrant",
        [steel.id],
      );
      await expectRevert(
        asSteel().grantAccess(oem.id, ScopeKind.Item, ZeroHash, QUALITY_CLAIM, 0, 0, later),
        grants,
        "ZeroScopeKey",
      );
      await expectRevert(
        asSteel().grantAccess(oem.id, ScopeKind.Item, key, ZeroHash, 0, 0, later),
        grants,
        "ZeroPurpose",
      );
      await expectRevert(
        asSteel().grantAccess(99, ScopeKind.Item, key, QUALITY_CLAIM, 0, 0, later),
        grants,
        "GranteeNotActive",
        [99],
      );
      await expectRevert(
        asSteel().grantAccess(0, ScopeKind.Item, key, QUALITY_CLAIM, 0, 0, later),
        grants,
        "GranteeNotActive",
        [0],
      );
      // Enum values beyond ScopeKind are refused by the ABI decoder.
      await expect(asSteel().grantAccess(oem.id, 5, key, QUALITY_CLAIM, 0, 0, later)).rejects.toThrow();
    });

    it("refuses an expiry that is not in the future", async () => {
      const key = fresh("item");
      const t = (await now(conn)) + 5;
      await setNextTime(conn, t);
      await expectRevert(
        asSteel().grantAccess(oem.id, ScopeKind.Item, key, QUALITY_CLAIM, 0, 0, t),
        grants,
        "ExpiryNotInFuture",
        [t, t],
      );
      await expectRevert(
        asSteel().grantAccess(oem.id, ScopeKind.Item, key, QUALITY_CLAIM, 0, 0, 0),
        grants,
        "ExpiryNotInFuture",
      );
      await expectRevert(
        asSteel().grantAccess(oem.id, ScopeKind.Item, key, QUALITY_CLAIM, 0, 0, t - 100),
        grants,
        "ExpiryNotInFuture",
      );
    });

    it("refuses time ranges that do not fit the kind", async () => {
      const key = fresh("stream");
      const later = (await now(conn)) + DAY;
      const range = ScopeKind.AnchorWindowRange;
      const plainKinds = [ScopeKind.Item, ScopeKind.ItemWithGenealogy, ScopeKind.Batch, ScopeKind.DataStream];
      // A window range needs from < to; every other kind takes no range at all.
      const unfit: [ScopeKind, number, number][] = [
        [range, 100, 100],
        [range, 200, 100],
        [range, 0, 0],
        ...plainKinds.flatMap((kind): [ScopeKind, number, number][] => [
          [kind, 1, 0],
          [kind, 0, 5],
        ]),
      ];
      for (const [kind, from, to] of unfit) {
        await expectRevert(asSteel().grantAccess(oem.id, kind, key, QUALITY_CLAIM, from, to, later), grants, "InvalidTimeRange", [kind, from, to]);
      }
    });
  });

  describe("time-ranged stream grants", () => {
    it("allow only data whose source time lies in [from, to)", async () => {
      const from = 1_700_000_000;
      const to = from + 3600;
      const { scopeKey, id } = await granted(oem, ScopeKind.AnchorWindowRange, from, to);
      const g = await grants.grant(id);
      expect([g.kind, g.from, g.to]).toEqual([BigInt(ScopeKind.AnchorWindowRange), BigInt(from), BigInt(to)]);
      expect(await grants.isAllowedAt(oem.id, steel.id, scopeKey, from - 1)).toBe(false);
      expect(await grants.isAllowedAt(oem.id, steel.id, scopeKey, from)).toBe(true);
      expect(await grants.isAllowedAt(oem.id, steel.id, scopeKey, to - 1)).toBe(true);
      expect(await grants.isAllowedAt(oem.id, steel.id, scopeKey, to)).toBe(false);
      // The whole stream is not granted, so the whole-scope question says no.
      expect(await grants.isAllowed(oem.id, steel.id, scopeKey)).toBe(false);
    });

    it("lapse at expiry like any grant", async () => {
      const { scopeKey } = await granted(oem, ScopeKind.AnchorWindowRange, 10, 20, 100);
      expect(await grants.isAllowedAt(oem.id, steel.id, scopeKey, 15)).toBe(true);
      await increaseTime(conn, 100);
      expect(await grants.isAllowedAt(oem.id, steel.id, scopeKey, 15)).toBe(false);
    });
  });

  describe("expiry", () => {
    it("a grant is allowed until, not at, its expiry", async () => {
      const scopeKey = fresh("item");
      const t = (await now(conn)) + 10;
      await setNextTime(conn, t);
      await (await asSteel().grantAccess(oem.id, ScopeKind.Item, scopeKey, QUALITY_CLAIM, 0, 0, t + 100)).wait();
      await setNextTime(conn, t + 99);
      await conn.provider.request({ method: "evm_mine", params: [] });
      expect(await grants.isAllowed(oem.id, steel.id, scopeKey)).toBe(true);
      await increaseTime(conn, 1);
      expect(await grants.isAllowed(oem.id, steel.id, scopeKey)).toBe(false);
      expect(await grants.isAllowedAt(oem.id, steel.id, scopeKey, t)).toBe(false);
    });
  });

  describe("revokeAccess", () => {
    it("revokes a grant and says so", async () => {
      const { scopeKey, id } = await granted();
      const t = (await now(conn)) + 10;
      await setNextTime(conn, t);
      await expectEvents(asSteel().revokeAccess(id), grants, "AccessRevoked", [oem.id, steel.id, scopeKey, id, 1]);
      const g = await grants.grant(id);
      expect([g.revoked, g.revokedAt, g.version]).toEqual([true, BigInt(t), 1n]);
      expect(await grants.isAllowed(oem.id, steel.id, scopeKey)).toBe(false);
      expect(await grants.isAllowedAt(oem.id, steel.id, scopeKey, 0)).toBe(false);
      await expectRevert(asSteel().revokeAccess(id), grants, "GrantAlreadyRevoked", [id]);
    });

    it("revokes a time-ranged grant", async () => {
      const { scopeKey, id } = await granted(oem, ScopeKind.AnchorWindowRange, 10, 20);
      await (await asSteel().revokeAccess(id)).wait();
      expect(await grants.isAllowedAt(oem.id, steel.id, scopeKey, 15)).toBe(false);
    });

    it("may revoke an expired grant, for the record", async () => {
      const { id } = await granted(oem, ScopeKind.Item, 0, 0, 50);
      await increaseTime(conn, 100);
      await (await asSteel().revokeAccess(id)).wait();
      expect((await grants.grant(id)).revoked).toBe(true);
    });

    it("only the owner organisation revokes", async () => {
      const { id } = await granted();
      const unknown = fresh("grant");
      await expectRevert(asSteel().revokeAccess(unknown), grants, "UnknownGrant", [unknown]);
      await expectRevert(grants.connect(oem.signer).revokeAccess(id), grants, "NotGrantOwner", [id, steel.id, oem.id]);
      await expectRevert(grants.connect(foundry.signer).revokeAccess(id), grants, "NotGrantOwner", [
        id,
        steel.id,
        foundry.id,
      ]);
      await expectRevert(grants.connect(fx.outsider).revokeAccess(id), grants, "NotActiveMember", [
        fx.outsider.address,
      ]);
      expect((await grants.grant(id)).revoked).toBe(false);
    });
  });

  describe("re-issuing", () => {
    it("restores a revoked grant under the same id with the next version", async () => {
      const { scopeKey, id } = await granted();
      await (await asSteel().revokeAccess(id)).wait();
      const expiresAt = (await now(conn)) + DAY;
      await expectEvents(
        asSteel().grantAccess(oem.id, ScopeKind.Item, scopeKey, RECALL, 0, 0, expiresAt),
        grants,
        "AccessGranted",
        [oem.id, steel.id, scopeKey, id, ScopeKind.Item, RECALL, 0, 0, expiresAt, 2],
      );
      const g = await grants.grant(id);
      expect([g.revoked, g.revokedAt, g.version, g.purpose, g.expiresAt]).toEqual([
        false,
        0n,
        2n,
        RECALL,
        BigInt(expiresAt),
      ]);
      expect(await grants.isAllowed(oem.id, steel.id, scopeKey)).toBe(true);
      await expectEvents(asSteel().revokeAccess(id), grants, "AccessRevoked", [oem.id, steel.id, scopeKey, id, 2]);
    });

    it("extends or shortens a live grant", async () => {
      const { scopeKey, id, expiresAt } = await granted(oem, ScopeKind.Batch, 0, 0, 100);
      await (
        await asSteel().grantAccess(oem.id, ScopeKind.Batch, scopeKey, QUALITY_CLAIM, 0, 0, expiresAt + 1000)
      ).wait();
      expect([(await grants.grant(id)).expiresAt, (await grants.grant(id)).version]).toEqual([
        BigInt(expiresAt + 1000),
        2n,
      ]);
      await increaseTime(conn, 200);
      expect(await grants.isAllowed(oem.id, steel.id, scopeKey)).toBe(true);
      await (
        await asSteel().grantAccess(oem.id, ScopeKind.Batch, scopeKey, QUALITY_CLAIM, 0, 0, (await now(conn)) + 10)
      ).wait();
      await increaseTime(conn, 20);
      expect(await grants.isAllowed(oem.id, steel.id, scopeKey)).toBe(false);
    });

    it("narrows a whole-stream grant to a time range and widens it back", async () => {
      const { scopeKey, id } = await granted(oem, ScopeKind.DataStream);
      const later = (await now(conn)) + DAY;
      await (
        await asSteel().grantAccess(oem.id, ScopeKind.AnchorWindowRange, scopeKey, QUALITY_CLAIM, 100, 200, later)
      ).wait();
      expect(await grants.isAllowed(oem.id, steel.id, scopeKey)).toBe(false);
      expect(await grants.isAllowedAt(oem.id, steel.id, scopeKey, 150)).toBe(true);
      expect(await grants.isAllowedAt(oem.id, steel.id, scopeKey, 250)).toBe(false);
      await (await asSteel().grantAccess(oem.id, ScopeKind.DataStream, scopeKey, QUALITY_CLAIM, 0, 0, later)).wait();
      const g = await grants.grant(id);
      expect([g.kind, g.from, g.to, g.version]).toEqual([BigInt(ScopeKind.DataStream), 0n, 0n, 3n]);
      expect(await grants.isAllowedAt(oem.id, steel.id, scopeKey, 250)).toBe(true);
    });
  });

  describe("views never revert", () => {
    it("answers false for unknown organisations, scopes and grants", async () => {
      expect(await grants.isAllowed(0, 0, ZeroHash)).toBe(false);
      expect(await grants.isAllowed(99, steel.id, fresh("x"))).toBe(false);
      expect(await grants.isAllowedAt(2 ** 32 - 1, 2 ** 32 - 1, fresh("x"), 0)).toBe(false);
      const g = await grants.grant(fresh("x"));
      expect([g.owner, g.grantee, g.version, g.expiresAt]).toEqual([0n, 0n, 0n, 0n]);
    });
  });

  describe("membership", () => {
    it("a suspended grantee loses access until reinstated", async () => {
      const { scopeKey } = await granted(carrier);
      const ranged = await granted(carrier, ScopeKind.AnchorWindowRange, 10, 20);
      await suspendOrg(fx, "carrier");
      expect(await grants.isAllowed(carrier.id, steel.id, scopeKey)).toBe(false);
      expect(await grants.isAllowedAt(carrier.id, steel.id, ranged.scopeKey, 15)).toBe(false);
      await expectRevert(
        asSteel().grantAccess(carrier.id, ScopeKind.Item, fresh("item"), QUALITY_CLAIM, 0, 0, (await now(conn)) + DAY),
        grants,
        "GranteeNotActive",
        [carrier.id],
      );
      await reinstateOrg(fx, "carrier");
      expect(await grants.isAllowed(carrier.id, steel.id, scopeKey)).toBe(true);
      expect(await grants.isAllowedAt(carrier.id, steel.id, ranged.scopeKey, 15)).toBe(true);
    });

    it("a suspended owner's grants answer false and it can neither grant nor revoke", async () => {
      const { scopeKey, id } = await granted(foundry);
      await suspendOrg(fx, "steel");
      expect(await grants.isAllowed(foundry.id, steel.id, scopeKey)).toBe(false);
      expect(await grants.isAllowedAt(foundry.id, steel.id, scopeKey, 0)).toBe(false);
      const who = [steel.signer.address];
      await expectRevert(
        asSteel().grantAccess(foundry.id, ScopeKind.Item, fresh("item"), QUALITY_CLAIM, 0, 0, (await now(conn)) + DAY),
        grants,
        "NotActiveMember",
        who,
      );
      await expectRevert(asSteel().revokeAccess(id), grants, "NotActiveMember", who);
      await reinstateOrg(fx, "steel");
      expect(await grants.isAllowed(foundry.id, steel.id, scopeKey)).toBe(true);
    });

    it("a removed grantee never regains access through old grants", async () => {
      const { scopeKey } = await granted(carrier);
      await removeOrg(fx, "carrier");
      expect(await grants.isAllowed(carrier.id, steel.id, scopeKey)).toBe(false);
    });
  });

  describe("auditability", () => {
    it("an indexer finds every grant and revocation by grantee, owner or scope", async () => {
      const from = (await conn.ethers.provider.getBlockNumber()) + 1;
      const a = await granted(oem, ScopeKind.Item);
      const b = await granted(foundry, ScopeKind.Batch);
      await (await asSteel().revokeAccess(a.id)).wait();
      await (
        await grants
          .connect(oem.signer)
          .grantAccess(foundry.id, ScopeKind.Item, b.scopeKey, RECALL, 0, 0, (await now(conn)) + DAY)
      ).wait();

      const byGrantee = await grants.queryFilter(grants.filters.AccessGranted(foundry.id), from);
      expect(byGrantee.map((e) => [Number(e.args.owner), e.args.scopeKey])).toEqual([
        [steel.id, b.scopeKey],
        [oem.id, b.scopeKey],
      ]);
      const byOwner = await grants.queryFilter(grants.filters.AccessGranted(undefined, steel.id), from);
      expect(byOwner.map((e) => e.args.id)).toEqual([a.id, b.id]);
      const byScope = await grants.queryFilter(grants.filters.AccessGranted(undefined, undefined, b.scopeKey), from);
      expect(byScope.map((e) => Number(e.args.owner))).toEqual([steel.id, oem.id]);
      const revocations = await grants.queryFilter(grants.filters.AccessRevoked(oem.id, steel.id, a.scopeKey), from);
      expect(revocations.map((e) => e.args.id)).toEqual([a.id]);
    });
  });

  describe("what regulators may read (a rule the consortium sets)", () => {
    const RECALL_EVENTS = 1;
    const INSPECTION_EVENTS = 2;
    const RECALL_SCOPE_ITEMS = 8;

    /** Calls as the Consortium proxy itself: what executing a governance proposal does. */
    async function asConsortium<T>(run: (g: AccessGrants) => Promise<T>): Promise<T> {
      const address = await fx.consortium.getAddress();
      await conn.ethers.provider.send("hardhat_impersonateAccount", [address]);
      await conn.ethers.provider.send("hardhat_setBalance", [address, "0xde0b6b3a7640000"]);
      try {
        return await run(grants.connect(await conn.ethers.getSigner(address)));
      } finally {
        await conn.ethers.provider.send("hardhat_stopImpersonatingAccount", [address]);
      }
    }

    it("by default a regulator reads recall, inspection and disposition events and recall scopes; no one else does", async () => {
      const { regulator } = fx.orgs;
      expect(Number(await grants.regulatorRule())).toBe(15);
      for (const scope of [1, 2, 4, 8, 1 | 8]) expect(await grants.regulatorMayRead(regulator.id, scope)).toBe(true);
      // Not a regulator, not a member, or no scope at all.
      expect(await grants.regulatorMayRead(oem.id, RECALL_EVENTS)).toBe(false);
      expect(await grants.regulatorMayRead(999, RECALL_EVENTS)).toBe(false);
      expect(await grants.regulatorMayRead(regulator.id, 0)).toBe(false);
    });

    it("only the Consortium sets the rule (a passed proposal); a member, even the regulator, cannot", async () => {
      const { regulator } = fx.orgs;
      await expectRevert(asSteel().setRegulatorRule(0), grants, "NotConsortium", [steel.signer.address]);
      await expectRevert(grants.connect(regulator.signer).setRegulatorRule(15), grants, "NotConsortium", [regulator.signer.address]);
      await expectRevert(asConsortium((g) => g.setRegulatorRule(16)), grants, "InvalidRegulatorRule", [16]);
      await expectEvents(asConsortium((g) => g.setRegulatorRule(RECALL_EVENTS | RECALL_SCOPE_ITEMS)), grants, "RegulatorRuleChanged", [RECALL_EVENTS | RECALL_SCOPE_ITEMS]);
      expect(Number(await grants.regulatorRule())).toBe(RECALL_EVENTS | RECALL_SCOPE_ITEMS);
      expect(await grants.regulatorMayRead(regulator.id, RECALL_EVENTS)).toBe(true);
      expect(await grants.regulatorMayRead(regulator.id, INSPECTION_EVENTS)).toBe(false);
      expect(await grants.regulatorMayRead(regulator.id, RECALL_EVENTS | INSPECTION_EVENTS)).toBe(false);
      // Zero is a decision too (not "unset"): regulators then read only what they are granted.
      await (await asConsortium((g) => g.setRegulatorRule(0))).wait();
      expect(Number(await grants.regulatorRule())).toBe(0);
      expect(await grants.regulatorMayRead(regulator.id, RECALL_EVENTS)).toBe(false);
      await (await asConsortium((g) => g.setRegulatorRule(15))).wait();
    });

    it("a suspended regulator reads nothing by the rule", async () => {
      const { regulator } = fx.orgs;
      await suspendOrg(fx, "regulator");
      expect(await grants.regulatorMayRead(regulator.id, RECALL_EVENTS)).toBe(false);
      await reinstateOrg(fx, "regulator");
      expect(await grants.regulatorMayRead(regulator.id, RECALL_EVENTS)).toBe(true);
    });
  });

  describe("upgrades", () => {
    it("only Consortium upgrades, through a passed proposal, and grants survive", async () => {
      const { scopeKey } = await granted(oem, ScopeKind.Item, 0, 0, 365 * DAY);
      const impl = await conn.ethers.deployContract("AccessGrants");
      await expectRevert(asSteel().upgradeToAndCall(await impl.getAddress(), "0x"), grants, "UpgradeNotByConsortium", [
        steel.signer.address,
      ]);
      await passProposal(
        fx,
        ProposalKind.Upgrade,
        proposalData.upgrade(await grants.getAddress(), await impl.getAddress()),
      );
      const slot = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc"; // ERC-1967 implementation
      const stored = await conn.ethers.provider.getStorage(await grants.getAddress(), slot);
      expect(`0x${stored.slice(26)}`).toBe((await impl.getAddress()).toLowerCase());
      expect(await grants.isAllowed(oem.id, steel.id, scopeKey)).toBe(true);
    });
  });
});
