/**
 * Every upgradeable contract keeps the storage layout of its deployed version: the current sources'
 * layouts (OpenZeppelin upgrades-core, from Hardhat's build info) against the committed ones in
 * contracts/storage-layouts/. A change that reorders, retypes or removes a state variable, or
 * changes an ERC-7201 namespace, fails here before an upgrade proposal could corrupt a proxy.
 */
import type { StorageLayout } from "@openzeppelin/upgrades-core";
import { beforeAll, describe, expect, it } from "vitest";
import { UPGRADEABLE_CONTRACTS, committedLayout, currentLayouts, layoutIncompatibilities } from "../../scripts/storage-layouts.ts";

describe("storage layouts of the upgradeable contracts", () => {
  let current: Record<string, StorageLayout>;

  beforeAll(() => {
    current = currentLayouts({
      ...UPGRADEABLE_CONTRACTS,
      ConsortiumV2: "test/ConsortiumV2.sol",
      ConsortiumActions: "ConsortiumActions.sol",
      BesuPermissioning: "BesuPermissioning.sol",
    });
  }, 120_000);

  it.each(Object.keys(UPGRADEABLE_CONTRACTS))("%s can replace its deployed version", (name) => {
    expect(layoutIncompatibilities(committedLayout(name), current[name]!)).toBe("");
  });

  it("ERC-7201 namespaces are part of the check (ConsortiumBound's slot in every governed contract)", () => {
    for (const name of ["Provenance", "Certificates", "AccessGrants", "DataAnchors"]) {
      expect(Object.keys(committedLayout(name).namespaces ?? {})).toContain("erc7201:tracemesh.storage.ConsortiumBound");
    }
  });

  it("the codes Consortium runs by delegatecall see exactly its state variables", () => {
    // Type ids carry AST ids, which differ between compilation jobs: compare them without.
    const slots = (name: string) => current[name]!.storage.map((v) => [v.label, v.slot, v.offset, v.type.replace(/\)\d+_/g, ")_")]);
    expect(slots("ConsortiumActions")).toEqual(slots("Consortium"));
    expect(slots("BesuPermissioning")).toEqual(slots("Consortium"));
  });

  it("an appended state variable is compatible (the test-only ConsortiumV2)", () => {
    expect(layoutIncompatibilities(committedLayout("Consortium"), current.ConsortiumV2!)).toBe("");
  });

  it("a variable inserted before the deployed ones is refused", () => {
    const deployed = committedLayout("Consortium");
    const inserted: StorageLayout = structuredClone(deployed);
    inserted.storage = [{ ...inserted.storage[6]!, label: "inserted", slot: "0" }, ...inserted.storage.map((v) => ({ ...v, slot: String(Number(v.slot) + 1) }))];
    expect(layoutIncompatibilities(deployed, inserted)).toMatch(/inserted/);
  });

  it("a retyped variable and a changed namespace are refused", () => {
    const deployed = committedLayout("Provenance");
    const retyped: StorageLayout = structuredClone(deployed);
    retyped.storage[0] = { ...retyped.storage[0]!, type: "t_bool" };
    retyped.types = { ...retyped.types, t_bool: { label: "bool", numberOfBytes: "1" } };
    expect(layoutIncompatibilities(deployed, retyped)).not.toBe("");

    const moved: StorageLayout = structuredClone(deployed);
    const [ns] = Object.keys(moved.namespaces ?? {});
    moved.namespaces = { ...moved.namespaces, [ns!]: moved.namespaces![ns!]!.map((v) => ({ ...v, slot: String(BigInt(v.slot ?? 0) + 1n) })) };
    expect(layoutIncompatibilities(deployed, moved)).not.toBe("");
  });
});
