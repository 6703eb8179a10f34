/**
 * Identifier namespaces: only the holder of a prefix creates keys under it, and only a party
 * records an observation (issue 12: key squatting and event-hash squatting). IdentifierNamespaces'
 * governance setters are called as the Consortium proxy (impersonated), which is what a passed
 * proposal does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { network } from "hardhat";
import type { ContractTransactionResponse, Interface, Signer } from "ethers";
import { ZeroHash, hexlify, id, toUtf8Bytes } from "ethers";
import type { IdentifierNamespaces, Provenance } from "../../lib/contracts/types/index.js";
import { batchKey, canonicalIdentifier, itemKey, keyProofOfCanonical } from "../../lib/identifiers/canonical.ts";
import { NamespacePolicy, prefixGrant, proveKeysCalls } from "../../lib/namespaces.ts";
import { type ConsortiumFixture, type Conn, type OrgKey, deployConsortium, deployProvenance, expectRevert } from "../helpers/fixture.ts";

const DISP = id("https://ref.gs1.org/cbv/Disp-active");
let counter = 0;
const ev = () => id(`namespaces-event:${++counter}`);
/** GS1 Company Prefixes of the test organisations. */
const GCP = { steel: "4012345", foundry: "4098765" } as const;
const sgtin = (gcp: string, serial: string) => `urn:epc:id:sgtin:${gcp}.${"0".repeat(12 - gcp.length)}1.${serial}`;
const lgtin = (gcp: string, lot: string) => `urn:epc:class:lgtin:${gcp}.${"0".repeat(12 - gcp.length)}2.${lot}`;
const bytes = (s: string) => hexlify(toUtf8Bytes(s));

describe("identifier namespaces", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  let prov: Provenance;
  let ns: IdentifierNamespaces;
  let governance: Signer;

  const org = (k: OrgKey) => fx.orgs[k].id;
  const as = (k: OrgKey) => prov.connect(fx.orgs[k].signer);
  const mined = async (p: Promise<ContractTransactionResponse>) => (await p).wait();
  const call = (name: string, args: unknown[]) => (prov.interface as Interface).encodeFunctionData(name, args);
  const proofs = (...identifiers: string[]) => proveKeysCalls(prov.interface, identifiers.map((i) => canonicalIdentifier(i)));

  beforeAll(async () => {
    conn = await network.create();
    fx = await deployConsortium(conn);
    const consortium = await fx.consortium.getAddress();
    ({ prov, namespaces: ns } = await deployProvenance(conn, consortium, NamespacePolicy.Enforced, [
      prefixGrant(GCP.steel, fx.orgs.steel.id),
      prefixGrant(GCP.foundry, fx.orgs.foundry.id),
    ]));
    await conn.provider.request({ method: "hardhat_impersonateAccount", params: [consortium] });
    await conn.provider.request({ method: "hardhat_setBalance", params: [consortium, "0xde0b6b3a7640000"] });
    governance = await conn.ethers.getSigner(consortium);
  });
  afterAll(async () => conn.close());

  describe("registry", () => {
    it("is bootstrapped with the founders' prefixes and the GS1 schemes", async () => {
      expect(await ns.holderOfPrefix(bytes(GCP.steel))).toBe(BigInt(org("steel")));
      expect(await ns.policy()).toBe(BigInt(NamespacePolicy.Enforced));
      const head = keyProofOfCanonical(canonicalIdentifier(sgtin(GCP.steel, "S1"))).head;
      expect(head).toBe("https://id.gs1.org/01/0401234500001");
      const found = await ns.holderOf(toUtf8Bytes(head), 0);
      expect([found.holder, found.prefixLength]).toEqual([BigInt(org("steel")), 7n]);
      // A head under a lead no scheme knows belongs to nobody.
      expect((await ns.holderOf(toUtf8Bytes("https://id.gs1.org/414/4012345"), 7))[0]).toBe(0n);
    });

    it("only the consortium registers, releases and sets; prefixes stay prefix-free", async () => {
      const gov = ns.connect(governance);
      for (const k of ["steel", "oem"] as const) {
        const member = ns.connect(fx.orgs[k].signer);
        await expectRevert(member.registerPrefix(bytes("4055555"), org(k)), ns, "NotConsortium", [fx.orgs[k].signer.address]);
        await expectRevert(member.setPolicy(NamespacePolicy.Unchecked), ns, "NotConsortium", [fx.orgs[k].signer.address]);
        await expectRevert(member.releasePrefix(bytes(GCP.steel)), ns, "NotConsortium", [fx.orgs[k].signer.address]);
        await expectRevert(member.setScheme(bytes("https://id.gs1.org/8018/"), 0), ns, "NotConsortium", [fx.orgs[k].signer.address]);
      }
      await expectRevert(gov.registerPrefix(bytes(GCP.steel), org("oem")), ns, "PrefixTaken", [bytes(GCP.steel), org("steel")]);
      // Neither a longer nor a shorter prefix overlapping a registered one.
      await expectRevert(gov.registerPrefix(bytes(GCP.steel + "9"), org("oem")), ns, "PrefixOverlaps", [bytes(GCP.steel + "9"), bytes(GCP.steel)]);
      await expectRevert(gov.registerPrefix(bytes("40123"), org("oem")), ns, "PrefixOverlaps", [bytes("40123"), bytes("40123")]);
      await expectRevert(gov.registerPrefix(bytes(""), org("oem")), ns, "InvalidPrefix", ["0x"]);
      await expectRevert(gov.registerPrefix(bytes("4012345678901"), org("oem")), ns, "InvalidPrefix", [bytes("4012345678901")]);
      await expectRevert(gov.registerPrefix(bytes("4077777"), 999), ns, "InactiveOrg", [999]);
      await expectRevert(gov.setScheme(bytes("https://id.gs1.org/8018"), 0), ns, "InvalidScheme", [bytes("https://id.gs1.org/8018"), 0]);
      await mined(gov.registerPrefix(bytes("4077777"), org("oem")));
      expect(await ns.holderOfPrefix(bytes("4077777"))).toBe(BigInt(org("oem")));
      await mined(gov.releasePrefix(bytes("4077777")));
      expect(await ns.holderOfPrefix(bytes("4077777"))).toBe(0n);
      // Released, its shorter forms are free again.
      await mined(gov.registerPrefix(bytes("40777"), org("oem")));
      await mined(gov.releasePrefix(bytes("40777")));
      await expectRevert(gov.releasePrefix(bytes("40777")), ns, "PrefixNotRegistered", [bytes("40777")]);
    });
  });

  describe("key squatting", () => {
    it("a competitor can commission neither unproven keys nor keys under another's prefix", async () => {
      const serial = sgtin(GCP.steel, "HEAT-1001"); // predictable: the next serial of the mill
      const key = itemKey(serial);
      await expectRevert(as("foundry").commission(key, DISP, ev()), prov, "KeyNotProven", [key, org("foundry")]);
      await expectRevert(
        as("foundry").multicall([...proofs(serial), call("commission", [key, DISP, ev()])]),
        prov,
        "NamespaceOfOtherOrg",
        [key, org("foundry"), org("steel")],
      );
      // Lots and transformation outputs the same way.
      const lot = lgtin(GCP.steel, "L-77");
      const own = sgtin(GCP.foundry, "F-1");
      await expectRevert(
        as("foundry").multicall([...proofs(own), call("commissionBatch", [batchKey(lot), [itemKey(own)], DISP, ev()])]),
        prov,
        "KeyNotProven",
        [batchKey(lot), org("foundry")],
      );
      await mined(as("foundry").multicall([...proofs(own), call("commission", [itemKey(own), DISP, ev()])]));
      const out = sgtin(GCP.steel, "BAR-1");
      await expectRevert(as("foundry").transform([itemKey(own)], [itemKey(out)], ZeroHash, DISP, ev()), prov, "KeyNotProven", [
        itemKey(out),
        org("foundry"),
      ]);
      // The holder commissions its serial; the key is the one lib/identifiers derives.
      await mined(as("steel").multicall([...proofs(serial, lot), call("commissionBatch", [batchKey(lot), [key], DISP, ev()])]));
      expect((await prov.itemState(key)).ownerOrg).toBe(BigInt(org("steel")));
      expect((await prov.batchState(batchKey(lot))).ownerOrg).toBe(BigInt(org("steel")));
    });

    it("a proof lasts one transaction and binds the organisation that made it", async () => {
      const serial = sgtin(GCP.steel, "HEAT-2001");
      const [proof] = proofs(serial);
      await mined(as("steel").multicall([proof!]));
      await expectRevert(as("steel").commission(itemKey(serial), DISP, ev()), prov, "KeyNotProven", [itemKey(serial), org("steel")]);
      // A proof is checked against the prover's holdings before it is stored.
      await expectRevert(as("foundry").multicall([proof!]), prov, "NamespaceOfOtherOrg", [itemKey(serial), org("foundry"), org("steel")]);
      await expectRevert(as("steel").proveKeys(toUtf8Bytes("https://id.gs1.org/01/0401234500001"), 7, []), prov, "EmptyKeyList");
    });

    it("identifiers under no registered prefix: refused by default, open only by consortium setting", async () => {
      const stray = sgtin("4066666", "X-1");
      await expectRevert(
        as("oem").multicall([...proofs(stray), call("commission", [itemKey(stray), DISP, ev()])]),
        prov,
        "UnregisteredNamespace",
        [itemKey(stray), org("oem")],
      );
      await mined(ns.connect(governance).setPolicy(NamespacePolicy.OpenUnregistered));
      try {
        await mined(as("oem").multicall([...proofs(stray), call("commission", [itemKey(stray), DISP, ev()])]));
        // Registered prefixes stay protected, and unproven keys stay refused.
        const taken = sgtin(GCP.steel, "HEAT-3001");
        await expectRevert(
          as("oem").multicall([...proofs(taken), call("commission", [itemKey(taken), DISP, ev()])]),
          prov,
          "NamespaceOfOtherOrg",
          [itemKey(taken), org("oem"), org("steel")],
        );
        await expectRevert(as("oem").commission(itemKey(sgtin("4066666", "X-2")), DISP, ev()), prov, "KeyNotProven", [
          itemKey(sgtin("4066666", "X-2")),
          org("oem"),
        ]);
      } finally {
        await mined(ns.connect(governance).setPolicy(NamespacePolicy.Enforced));
      }
    });
  });

  describe("event-hash squatting", () => {
    it("a non-party cannot take an event's hash with observe, so the entitled record goes through", async () => {
      const serial = sgtin(GCP.steel, "HEAT-4001");
      const key = itemKey(serial);
      await mined(as("steel").multicall([...proofs(serial), call("commission", [key, DISP, ev()])]));
      const shipping = ev(); // the hash of steel's coming shipping event, e.g. seen in a shared draft
      // The logistics member has nothing to do with the item: refused, with or without naming it.
      await expectRevert(as("carrier").observe([key], shipping), prov, "NotPartyTo", [key, org("carrier")]);
      await expectRevert(as("carrier").observe([], shipping), prov, "ObservationNamesNothing", [org("carrier")]);
      const future = sgtin(GCP.steel, "HEAT-4002");
      await expectRevert(as("carrier").observe([itemKey(future)], shipping), prov, "NotPartyTo", [itemKey(future), org("carrier")]);
      await expectRevert(
        as("carrier").multicall([...proofs(future), call("observe", [[itemKey(future)], shipping])]),
        prov,
        "NamespaceOfOtherOrg",
        [itemKey(future), org("carrier"), org("steel")],
      );
      expect(await prov.recordOfEvent(shipping)).toBe(0n);
      // The owner records its event under that hash.
      await mined(as("steel").ship([key], org("carrier"), false, shipping));
      expect((await prov.record(await prov.recordOfEvent(shipping))).orgId).toBe(BigInt(org("steel")));
      // Now the carrier is to receive the item, so it is a party and may record observations of it.
      await mined(as("carrier").observe([key], ev()));
      // The holder observes its own not-yet-registered items by proving them.
      await mined(as("steel").multicall([...proofs(future), call("observe", [[itemKey(future)], ev()])]));
    });
  });
});
