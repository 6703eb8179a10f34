/**
 * grantIdOf lays out abi.encode(uint32, uint32, bytes32) by hand: it must give the id the ABI
 * encoder (and so AccessGrants.grantIdOf) gives, for every edge of the ranges, and refuse input
 * the contract could not take instead of hashing something else.
 */
import { AbiCoder, keccak256 } from "ethers";
import { describe, expect, it } from "vitest";
import { grantIdOf } from "../../lib/access.ts";

const byEncoder = (owner: number, grantee: number, scopeKey: string) => keccak256(AbiCoder.defaultAbiCoder().encode(["uint32", "uint32", "bytes32"], [owner, grantee, scopeKey]));

describe("grantIdOf", () => {
  it("equals keccak256(abi.encode(uint32, uint32, bytes32)) across the ranges", () => {
    const keys = ["0x" + "00".repeat(32), "0x" + "ff".repeat(32), "0x" + "Ab".repeat(32), keccak256("0x01")];
    for (const [owner, grantee] of [[0, 0], [1, 2], [2, 1], [0xffff_ffff, 7], [65_536, 0xffff_fffe]] as const)
      for (const key of keys) expect(grantIdOf(owner, grantee, key)).toBe(byEncoder(owner, grantee, key));
  });

  it("refuses ids outside uint32 and scope keys that are not 32 bytes, naming which", () => {
    const key = keccak256("0x01");
    expect(() => grantIdOf(-1, 1, key)).toThrow(/owner must be an organisation id \(uint32\), got -1/);
    expect(() => grantIdOf(1, 2 ** 32, key)).toThrow(/grantee must be .*4294967296/);
    expect(() => grantIdOf(1.5, 1, key)).toThrow(/owner/);
    expect(() => grantIdOf(1, 1, "0x1234")).toThrow(/scopeKey must be 0x and 64 hex digits, got "0x1234"/);
    expect(() => grantIdOf(1, 1, key.slice(2) + "00")).toThrow(/scopeKey/);
  });
});
