import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { network } from "hardhat";
import { id as keccakText } from "ethers";
import type { AccessGrants } from "../../lib/contracts/types/index.js";
import { ChainAccessChecker, type GenealogyLink, type GenealogySource, RegulatorScope, mayReadEvent, mayReadItem, mayReadStream, streamScopeKey } from "../../lib/access.ts";
import { RecordKind, ScopeKind } from "../../lib/registry.ts";
import { type Conn, type ConsortiumFixture, type TestOrg, deployBound, deployConsortium, now, reinstateOrg, suspendOrg } from "../helpers/fixture.ts";

const PURPOSE = keccakText("QUALITY_CLAIM");
const DAY = 24 * 3600;
let counter = 0;
const fresh = (label: string) => keccakText(`${label}:${++counter}`);

describe("lib/access: the read-access rule over AccessGrants", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  let grants: AccessGrants;
  let steel: TestOrg;
  let oem: TestOrg;
  let foundry: TestOrg;
  let checker: ChainAccessChecker;
  /** A checker whose cache never expires on its own, to show that only invalidation refreshes it. */
  let sticky: ChainAccessChecker;

  const grant = async (grantee: TestOrg, kind: ScopeKind, scopeKey: string, from = 0, to = 0) =>
    (await grants.connect(steel.signer).grantAccess(grantee.id, kind, scopeKey, PURPOSE, from, to, (await now(conn)) + 30 * DAY)).wait();

  beforeAll(async () => {
    conn = await network.create();
    fx = await deployConsortium(conn);
    ({ steel, oem, foundry } = fx.orgs);
    grants = await deployBound<AccessGrants>(conn, "AccessGrants", await fx.consortium.getAddress());
    const addresses = { accessGrants: await grants.getAddress(), consortium: await fx.consortium.getAddress() };
    checker = new ChainAccessChecker(addresses, conn.ethers.provider, { ttlMs: 0 });
    sticky = new ChainAccessChecker(addresses, conn.ethers.provider, { ttlMs: Number.MAX_SAFE_INTEGER });
  });
  afterAll(async () => conn.close());

  it("an organisation reads its own data without any grant", async () => {
    expect(await mayReadItem(checker, steel.id, steel.id, { key: fresh("item") })).toEqual({ allowed: true, via: "owner" });
    expect(await mayReadStream(checker, steel.id, steel.id, "furnace-1/temp", 0, 10)).toEqual({ allowed: true, via: "owner" });
  });

  it("an item is covered by a grant on itself, on its batch, or with genealogy on an item it went into", async () => {
    const [item, batch, product, other] = [fresh("item"), fresh("batch"), fresh("product"), fresh("other")];
    const scope = { key: item, batchKey: batch, containedIn: [other, product] };
    expect(await mayReadItem(checker, oem.id, steel.id, scope)).toEqual({ allowed: false });

    await grant(oem, ScopeKind.ItemWithGenealogy, product);
    expect(await mayReadItem(checker, oem.id, steel.id, scope)).toEqual({ allowed: true, via: "grant", scopeKey: product, kind: ScopeKind.ItemWithGenealogy });
    // The same grant says nothing to another organisation.
    expect(await mayReadItem(checker, foundry.id, steel.id, scope)).toEqual({ allowed: false });

    await grant(foundry, ScopeKind.Batch, batch);
    expect(await mayReadItem(checker, foundry.id, steel.id, scope)).toMatchObject({ allowed: true, scopeKey: batch, kind: ScopeKind.Batch });

    await grant(foundry, ScopeKind.Item, item);
    expect(await mayReadItem(checker, foundry.id, steel.id, scope)).toMatchObject({ allowed: true, scopeKey: item, kind: ScopeKind.Item });
  });

  it("a plain Item grant on a product does not reach its components, and a Batch-kind key must be the item's batch", async () => {
    const [component, product] = [fresh("component"), fresh("product")];
    await grant(oem, ScopeKind.Item, product);
    expect(await mayReadItem(checker, oem.id, steel.id, { key: component, containedIn: [product] })).toEqual({ allowed: false });
    // A Batch grant named by the item's own key is not an item grant.
    await grant(oem, ScopeKind.Batch, component);
    expect(await mayReadItem(checker, oem.id, steel.id, { key: component })).toEqual({ allowed: false });
  });

  /**
   * A genealogy the test writes by hand: links (item went into product, in which block, recorded
   * by whom) and the blocks in which grants were issued, as the chain index would answer them.
   */
  function genealogy(links: GenealogyLink[], issued: Record<string, number>, recalled: string[] = []): GenealogySource {
    return {
      linksUp: async (keys) => keys.map((k) => links.filter((l) => l.from === k)),
      grantIssuedBlock: async (_owner, _grantee, scopeKey) => issued[scopeKey],
      inRecallScope: async (key) => recalled.includes(key),
    };
  }

  it("a genealogy grant reaches every component transitively, and names the path", async () => {
    const [casting, housing, pump] = [fresh("casting"), fresh("housing"), fresh("pump")];
    // The foundry cast it, the machining shop machined it, the OEM (the grantee) assembled the pump: all before the grant.
    const links = [
      { from: casting, to: housing, block: 10, recordedBy: foundry.id },
      { from: housing, to: pump, block: 20, recordedBy: oem.id },
    ];
    expect(await mayReadItem(checker, oem.id, steel.id, { key: casting, genealogy: genealogy(links, { [pump]: 30 }) })).toEqual({ allowed: false });
    await grant(oem, ScopeKind.ItemWithGenealogy, pump);
    const source = genealogy(links, { [pump]: 30 });
    expect(await mayReadItem(checker, oem.id, steel.id, { key: casting, genealogy: source })).toEqual({
      allowed: true,
      via: "grant",
      scopeKey: pump,
      kind: ScopeKind.ItemWithGenealogy,
      path: [pump, housing, casting],
    });
    expect(await mayReadItem(checker, oem.id, steel.id, { key: housing, genealogy: source })).toMatchObject({ allowed: true, path: [pump, housing] });
    // Another organisation holds no such grant; and the index alone never grants: a grant it knows but the chain does not is no grant.
    expect(await mayReadItem(checker, foundry.id, steel.id, { key: casting, genealogy: source })).toEqual({ allowed: false });
    const unknown = fresh("pump");
    expect(await mayReadItem(checker, oem.id, steel.id, { key: casting, genealogy: genealogy([...links, { from: housing, to: unknown, block: 5, recordedBy: oem.id }], { [unknown]: 30 }) })).toEqual({
      allowed: false,
    });
  });

  it("a grantee cannot widen a genealogy grant: links it or a third party adds later do not count, the grantor's own do", async () => {
    const [pump, later, byThird, byGrantor, sameBlock] = [fresh("pump"), fresh("later"), fresh("third"), fresh("grantor"), fresh("same")];
    await grant(oem, ScopeKind.ItemWithGenealogy, pump);
    const source = genealogy(
      [
        { from: later, to: pump, block: 31, recordedBy: oem.id }, // the grantee's own assembly after the grant
        { from: byThird, to: pump, block: 40, recordedBy: foundry.id }, // a third party's later link
        { from: sameBlock, to: pump, block: 30, recordedBy: oem.id }, // in the grant's own block: not known before it
        { from: byGrantor, to: pump, block: 50, recordedBy: steel.id }, // the grantor links it itself
      ],
      { [pump]: 30 },
    );
    for (const k of [later, byThird, sameBlock]) expect(await mayReadItem(checker, oem.id, steel.id, { key: k, genealogy: source }), k).toEqual({ allowed: false });
    expect(await mayReadItem(checker, oem.id, steel.id, { key: byGrantor, genealogy: source })).toMatchObject({ allowed: true, path: [pump, byGrantor] });
    // A later link on the way up cuts the path even when the first step was known.
    const [casting, housing, pump2] = [fresh("casting"), fresh("housing"), fresh("pump")];
    await grant(oem, ScopeKind.ItemWithGenealogy, pump2);
    const cut = genealogy(
      [
        { from: casting, to: housing, block: 10, recordedBy: foundry.id },
        { from: housing, to: pump2, block: 99, recordedBy: oem.id },
      ],
      { [pump2]: 30 },
    );
    expect(await mayReadItem(checker, oem.id, steel.id, { key: casting, genealogy: cut })).toEqual({ allowed: false });
  });

  it("a document is readable only where every item it names is; regulators read what the consortium's rule says", async () => {
    const [a, b] = [fresh("a"), fresh("b")];
    await grant(oem, ScopeKind.Item, a);
    expect(await mayReadEvent(checker, oem.id, steel.id, { subjects: [{ key: a }] })).toMatchObject({ allowed: true, scopeKey: a });
    expect(await mayReadEvent(checker, oem.id, steel.id, { subjects: [{ key: a }, { key: b }] })).toEqual({ allowed: false });
    expect(await mayReadEvent(checker, oem.id, steel.id, { subjects: [] })).toEqual({ allowed: false });
    expect(await mayReadEvent(checker, steel.id, steel.id, { subjects: [] })).toEqual({ allowed: true, via: "owner" });
    const { regulator } = fx.orgs;
    // The default rule: recall, inspection and disposition events, and items in a recall scope.
    expect(await mayReadEvent(checker, regulator.id, steel.id, { subjects: [{ key: b }], recordKind: RecordKind.RecallBatch })).toEqual({ allowed: true, via: "rule", rule: RegulatorScope.RecallEvents });
    expect(await mayReadEvent(checker, regulator.id, steel.id, { subjects: [{ key: b }], recordKind: RecordKind.Inspect })).toMatchObject({ rule: RegulatorScope.InspectionEvents });
    expect(await mayReadEvent(checker, regulator.id, steel.id, { subjects: [{ key: b }], recordKind: RecordKind.Disposition })).toMatchObject({ rule: RegulatorScope.DispositionEvents });
    expect(await mayReadEvent(checker, regulator.id, steel.id, { subjects: [{ key: b }], recordKind: RecordKind.Ship })).toEqual({ allowed: false });
    const recalled = genealogy([], {}, [b]);
    expect(await mayReadEvent(checker, regulator.id, steel.id, { subjects: [{ key: b, genealogy: recalled }], recordKind: RecordKind.Ship })).toMatchObject({ rule: RegulatorScope.RecallScopeItems });
    expect(await mayReadEvent(checker, regulator.id, steel.id, { subjects: [{ key: b, genealogy: recalled }, { key: a, genealogy: recalled }], recordKind: RecordKind.Ship })).toEqual({ allowed: false });
    // The same rule gives a non-regulator nothing.
    expect(await mayReadEvent(checker, foundry.id, steel.id, { subjects: [{ key: b, genealogy: recalled }], recordKind: RecordKind.Recall })).toEqual({ allowed: false });
  });

  it("streams: a DataStream grant covers any range, a range grant only ranges inside it", async () => {
    const [whole, ranged] = ["mill/ladle-1/temp", "mill/furnace-2/temp"];
    await grant(oem, ScopeKind.DataStream, streamScopeKey(whole));
    expect(await mayReadStream(checker, oem.id, steel.id, whole, 0, 1e15)).toMatchObject({ allowed: true, kind: ScopeKind.DataStream });

    await grant(oem, ScopeKind.AnchorWindowRange, streamScopeKey(ranged), 1000, 2000);
    expect(await mayReadStream(checker, oem.id, steel.id, ranged, 1000, 2000)).toMatchObject({ allowed: true, kind: ScopeKind.AnchorWindowRange });
    expect(await mayReadStream(checker, oem.id, steel.id, ranged, 1500, 1600)).toMatchObject({ allowed: true });
    expect(await mayReadStream(checker, oem.id, steel.id, ranged, 999, 1500)).toEqual({ allowed: false });
    expect(await mayReadStream(checker, oem.id, steel.id, ranged, 1500, 2001)).toEqual({ allowed: false });
    expect(await mayReadStream(checker, oem.id, steel.id, ranged, 1500, 1500)).toEqual({ allowed: false });
  });

  it("a cached answer is dropped when the chain revokes the grant or suspends the organisation", async () => {
    const item = fresh("item");
    await grant(oem, ScopeKind.Item, item);
    const stopWatching = await sticky.watch();
    try {
      expect(await mayReadItem(sticky, oem.id, steel.id, { key: item })).toMatchObject({ allowed: true });

      const grantId = await grants.grantIdOf(steel.id, oem.id, item);
      await (await grants.connect(steel.signer).revokeAccess(grantId)).wait();
      await expect.poll(async () => (await mayReadItem(sticky, oem.id, steel.id, { key: item })).allowed, { timeout: 15_000, interval: 200 }).toBe(false);

      await grant(oem, ScopeKind.Item, item);
      await expect.poll(async () => (await mayReadItem(sticky, oem.id, steel.id, { key: item })).allowed, { timeout: 15_000, interval: 200 }).toBe(true);

      await suspendOrg(fx, "oem");
      await expect.poll(async () => (await mayReadItem(sticky, oem.id, steel.id, { key: item })).allowed, { timeout: 15_000, interval: 200 }).toBe(false);
      await reinstateOrg(fx, "oem");
    } finally {
      await stopWatching();
    }
  });
});
