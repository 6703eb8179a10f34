import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { getAddress, hexlify } from "ethers";
import {
  QBFT_VANITY,
  decodeQbftExtraData,
  encodeQbftExtraData,
  genesisExtraData,
  sortValidators,
} from "../../scripts/besu/extradata.ts";

// Besu documentation, "Configure QBFT consensus" > "Extra data" > "Generate extra data"
// (https://besu.hyperledger.org/private-networks/how-to/configure/consensus/qbft#generate-extra-data,
// source: hyperledger/besu-docs docs/private-networks/how-to/configure/consensus/qbft.md): the four
// validators of its toEncode.json, in the order given there, and the RLP that
// `besu rlp encode --from=toEncode.json --type=QBFT_EXTRA_DATA` prints for them.
const DOC_VALIDATORS = [
  "0x4592c8e45706cc08b8f44b11e43cba0cfc5892cb",
  "0x06e23768a0f59cf365e18c2e0c89e151bcdedc70",
  "0xc5327f96ee02d7bcbc1bf1236b8c15148971e1de",
  "0xab5e7f4061c605820d3744227eed91ff8e2c8908",
];
const DOC_EXTRA_DATA =
  "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f854944592c8e45706cc08b8f44b11e43cba0cfc5892cb9406e23768a0f59cf365e18c2e0c89e151bcdedc7094c5327f96ee02d7bcbc1bf1236b8c15148971e1de94ab5e7f4061c605820d3744227eed91ff8e2c8908c080c0";

// Same page, "Genesis file" > "Block header validator selection" example genesis: a second
// four-validator vector, and the "Contract validator selection" example: no validators.
const DOC_GENESIS_VALIDATORS = [
  "0x64a702e6263b7297a96638cac6ae65e6541f4169",
  "0x3923390ad55e90c237593b3b0e401f3b08a03185",
  "0xaefdb9a738c9f433e5b6b212a6d62f6370c2f692",
  "0xc7eeb9a4e00ce683cf93039b212648e01c6c6b78",
];
const DOC_GENESIS_EXTRA_DATA =
  "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f8549464a702e6263b7297a96638cac6ae65e6541f4169943923390ad55e90c237593b3b0e401f3b08a0318594aefdb9a738c9f433e5b6b212a6d62f6370c2f69294c7eeb9a4e00ce683cf93039b212648e01c6c6b78c080c0";
const DOC_CONTRACT_MODE_EXTRA_DATA = "0xe5a00000000000000000000000000000000000000000000000000000000000000000c0c080c0";

describe("QBFT extraData", () => {
  it("encodes Besu's documented four-validator vector byte for byte", () => {
    expect(encodeQbftExtraData(DOC_VALIDATORS)).toBe(DOC_EXTRA_DATA);
  });

  it("encodes the documented genesis examples (block-header and contract selection)", () => {
    expect(encodeQbftExtraData(DOC_GENESIS_VALIDATORS)).toBe(DOC_GENESIS_EXTRA_DATA);
    expect(encodeQbftExtraData([])).toBe(DOC_CONTRACT_MODE_EXTRA_DATA);
  });

  it("writes the round as an RLP scalar (0x80), not IBFT 2.0's four bytes, with empty vote and seals", () => {
    const encoded = encodeQbftExtraData(DOC_VALIDATORS);
    expect(encoded.endsWith("c080c0")).toBe(true);
    expect(encoded).not.toContain("8400000000");
    const decoded = decodeQbftExtraData(encoded);
    expect(decoded).toEqual({
      vanity: QBFT_VANITY,
      validators: DOC_VALIDATORS.map((v) => getAddress(v)),
      vote: [],
      round: 0,
      seals: [],
    });
  });

  it("accepts checksummed input and encodes addresses as 20-byte strings", () => {
    expect(encodeQbftExtraData(DOC_VALIDATORS.map((v) => getAddress(v)))).toBe(DOC_EXTRA_DATA);
    expect(() => encodeQbftExtraData(["0x1234"])).toThrow(/not an address/);
    expect(() => encodeQbftExtraData(DOC_VALIDATORS, "0x00")).toThrow(/32 bytes/);
  });

  it("sorts validators as Besu does (unsigned byte order) in the genesis extraData", () => {
    const sorted = sortValidators(DOC_VALIDATORS);
    expect(sorted.map((v) => v.toLowerCase())).toEqual([
      "0x06e23768a0f59cf365e18c2e0c89e151bcdedc70",
      "0x4592c8e45706cc08b8f44b11e43cba0cfc5892cb",
      "0xab5e7f4061c605820d3744227eed91ff8e2c8908",
      "0xc5327f96ee02d7bcbc1bf1236b8c15148971e1de",
    ]);
    expect(decodeQbftExtraData(genesisExtraData(DOC_VALIDATORS)).validators).toEqual(sorted);
  });

  it("sorting is a byte-order permutation whatever the case and input order", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 20, maxLength: 20 }), { maxLength: 12 }), (raw) => {
        const input = raw.map((b, i) => (i % 2 ? getAddress(hexlify(b)) : hexlify(b)));
        const sorted = sortValidators(input);
        expect([...sorted].map((a) => a.toLowerCase()).sort()).toEqual(input.map((a) => a.toLowerCase()).sort());
        for (let i = 1; i < sorted.length; i++) {
          expect(Buffer.compare(Buffer.from(sorted[i - 1]!.slice(2), "hex"), Buffer.from(sorted[i]!.slice(2), "hex"))).toBeLessThanOrEqual(0);
        }
        const decoded = decodeQbftExtraData(genesisExtraData(input));
        expect(decoded.validators).toEqual(sorted);
      }),
    );
  });

  it("refuses malformed extraData", () => {
    expect(() => decodeQbftExtraData("0xc0")).toThrow(/5 items/);
    // Round written as IBFT 2.0's fixed four bytes is not QBFT's minimal scalar.
    expect(() => decodeQbftExtraData("0xe9a00000000000000000000000000000000000000000000000000000000000000000c0c08400000000c0")).toThrow(
      /minimal/,
    );
  });
});
