/**
 * Consortium as Hyperledger Besu calls it: raw eth_calls with the exact calldata Besu builds.
 *
 * - getValidators(): org.hyperledger.besu.consensus.qbft.validator.ValidatorContractController
 *   (web3j FunctionEncoder, no arguments; decodes the answer as DynamicArray<Address>).
 * - connectionAllowed(string,string,uint16): org.hyperledger.besu.ethereum.permissioning.
 *   NodeSmartContractV2PermissioningController.createPayload: web3j FunctionEncoder with the node id
 *   as EnodeURL.getNodeId().toUnprefixedHexString() (128 lowercase hex digits, no 0x), the host as
 *   enodeUrl.toURI().getHost() (an IP literal, IPv6 in brackets; Besu asks a second time with the
 *   DNS name), and getListeningPortOrZero(). Besu releases before the DNS retry sent the host as
 *   encodeIp(): "0x" + hex of the IP string's bytes. It checks both ends of every connection and
 *   accepts only a 32-byte ABI true or false; anything else (a revert included) is an error.
 * - transactionAllowed(address,address,uint256,uint256,uint256,bytes): org.hyperledger.besu.
 *   ethereum.permissioning.TransactionSmartContractPermissioningController.createPayload, a hand
 *   encoder: sender, target (zero for contract creation), value, gas price (Bytes32.ZERO when the
 *   transaction has none, e.g. EIP-1559), gas limit, offset 192, payload length, payload, then
 *   `32 - length % 32` zero bytes: a whole extra zero word when the length is a multiple of 32
 *   (including an empty payload). checkTransactionResult throws unless the output is exactly 32 bytes.
 */
import fc from "fast-check";
import { ZeroAddress, concat, dataLength, getAddress, getBytes, hexlify, id, toBeHex, toUtf8Bytes, zeroPadValue } from "ethers";
import { network } from "hardhat";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BESU_SELECTORS, ProposalKind, proposalData } from "../../lib/consortium.ts";
import type { Consortium } from "../../lib/contracts/types/index.js";
import { IBesuPermissioning__factory } from "../../lib/contracts/types/index.js";
import {
  type ConsortiumFixture,
  type Conn,
  deployConsortium,
  passProposal,
  reinstateOrg,
  removeOrg,
  suspendOrg,
  chainSnapshot,
} from "../helpers/fixture.ts";

const TRUE = "0x" + "00".repeat(31) + "01";
const FALSE = "0x" + "00".repeat(32);
const MAX_UINT256 = (1n << 256n) - 1n;

const word = (v: bigint | number) => toBeHex(v, 32);
const addressWord = (a: string) => zeroPadValue(a, 32);

/** web3j TypeEncoder.encodeString: length word, then UTF-8 bytes right-padded to a multiple of 32. */
function web3jString(s: string): string {
  const bytes = toUtf8Bytes(s);
  const padded = new Uint8Array(Math.ceil(bytes.length / 32) * 32);
  padded.set(bytes);
  return concat([word(bytes.length), padded]);
}

/** NodeSmartContractV2PermissioningController.createPayload via web3j FunctionEncoder.encode. */
function besuConnectionPayload(enodeId: string, host: string, port: number): string {
  const first = web3jString(enodeId);
  const headWords = 3 * 32;
  return concat([BESU_SELECTORS.connectionAllowed, word(headWords), word(headWords + dataLength(first)), word(port), first, web3jString(host)]);
}

interface BesuTx {
  sender: string;
  to?: string; // absent for contract creation
  value?: bigint;
  gasPrice?: bigint; // absent for EIP-1559 transactions
  gasLimit?: bigint;
  payload?: string;
}

/** TransactionSmartContractPermissioningController.createPayload, byte for byte. */
function besuTransactionPayload(tx: BesuTx): string {
  const payload = getBytes(tx.payload ?? "0x");
  const padding = new Uint8Array(32 - (payload.length % 32));
  return concat([
    BESU_SELECTORS.transactionAllowed,
    addressWord(tx.sender),
    addressWord(tx.to ?? ZeroAddress),
    word(tx.value ?? 0n),
    word(tx.gasPrice ?? 0n),
    word(tx.gasLimit ?? 21_000n),
    word(192),
    word(payload.length),
    payload,
    padding,
  ]);
}

describe("Besu compatibility", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  let c: Consortium;
  let target: string;
  let fresh: { restore(): Promise<void> };

  beforeAll(async () => {
    conn = await network.create();
    fx = await deployConsortium(conn);
    c = fx.consortium;
    target = await c.getAddress();
    fresh = await chainSnapshot(conn);
  });
  afterAll(async () => conn.close());
  beforeEach(async () => {
    await fresh.restore();
  });

  /** A raw eth_call as Besu's TransactionSimulator makes it: no sender, no value, no gas price. */
  const rawCall = (data: string) => conn.ethers.provider.call({ to: target, data });

  /** Asserts the raw answer is exactly one ABI bool word and returns it. */
  async function rawBool(data: string): Promise<boolean> {
    const out = await rawCall(data);
    expect(dataLength(out)).toBe(32);
    expect([TRUE, FALSE]).toContain(out);
    return out === TRUE;
  }

  const connectionAllowed = (enodeId: string, host = "127.0.0.1", port = 30303) => rawBool(besuConnectionPayload(enodeId, host, port));
  /** Besu's payload with one more zero word, as a permissive client or a proxy might send. */
  const connectionAllowedTrailing = (enodeId: string, host = "127.0.0.1", port = 30303) =>
    rawBool(concat([besuConnectionPayload(enodeId, host, port), new Uint8Array(32)]));
  const transactionAllowed = (tx: BesuTx) => rawBool(besuTransactionPayload(tx));

  async function validators(data = BESU_SELECTORS.getValidators as string): Promise<string[]> {
    const out = await rawCall(data);
    return [...c.interface.decodeFunctionResult("getValidators", out)[0]].map((a: string) => getAddress(a));
  }

  describe("signatures", () => {
    it("the three selectors computed from the ABI equal the constants Besu uses", () => {
      const besu = IBesuPermissioning__factory.createInterface();
      for (const iface of [c.interface, besu]) {
        expect(iface.getFunction("getValidators")!.selector).toBe("0xb7ab4db5");
        expect(iface.getFunction("connectionAllowed")!.selector).toBe("0x45a59e5b");
        expect(iface.getFunction("transactionAllowed")!.selector).toBe("0x936421d5");
      }
      expect(id("getValidators()").slice(0, 10)).toBe(BESU_SELECTORS.getValidators);
      expect(id("connectionAllowed(string,string,uint16)").slice(0, 10)).toBe(BESU_SELECTORS.connectionAllowed);
      expect(id("transactionAllowed(address,address,uint256,uint256,uint256,bytes)").slice(0, 10)).toBe(BESU_SELECTORS.transactionAllowed);
    });

    it("are views with exactly the outputs Besu decodes", () => {
      const f = (name: "getValidators" | "connectionAllowed" | "transactionAllowed") => c.interface.getFunction(name);
      expect(f("getValidators").outputs.map((o) => o.type)).toEqual(["address[]"]);
      expect(f("connectionAllowed").outputs.map((o) => o.type)).toEqual(["bool"]);
      expect(f("transactionAllowed").outputs.map((o) => o.type)).toEqual(["bool"]);
      for (const name of ["getValidators", "connectionAllowed", "transactionAllowed"] as const) expect(f(name).stateMutability).toBe("view");
    });

    it("the hand-built payloads are Besu's: standard ABI for the node check, one extra zero word for the transaction check", () => {
      const enode = fx.orgs.oem.enodeId;
      expect(besuConnectionPayload(enode, "127.0.0.1", 30303)).toBe(c.interface.encodeFunctionData("connectionAllowed", [enode, "127.0.0.1", 30303]));
      const standard = c.interface.encodeFunctionData("transactionAllowed", [fx.orgs.oem.signer.address, ZeroAddress, 0, 0, 21_000, "0x"]);
      const besu = besuTransactionPayload({ sender: fx.orgs.oem.signer.address });
      expect(besu).toBe(standard + "00".repeat(32)); // empty payload: 32 trailing zero bytes
      const payload32 = hexlify(new Uint8Array(32).fill(7));
      const std32 = c.interface.encodeFunctionData("transactionAllowed", [fx.orgs.oem.signer.address, target, 1, 2, 3, payload32]);
      expect(besuTransactionPayload({ sender: fx.orgs.oem.signer.address, to: target, value: 1n, gasPrice: 2n, gasLimit: 3n, payload: payload32 })).toBe(
        std32 + "00".repeat(32),
      );
      const payload5 = "0x0102030405";
      const std5 = c.interface.encodeFunctionData("transactionAllowed", [fx.orgs.oem.signer.address, target, 0, 0, 21_000, payload5]);
      expect(besuTransactionPayload({ sender: fx.orgs.oem.signer.address, to: target, payload: payload5 })).toBe(std5);
    });
  });

  describe("getValidators", () => {
    it("lists exactly the active organisations' validators, in Besu's DynamicArray<Address> layout", async () => {
      const expected = Object.values(fx.orgs).map((o) => getAddress(o.validator));
      expect(await validators()).toEqual(expected);
      const out = await rawCall(BESU_SELECTORS.getValidators);
      expect(out).toBe(concat([word(32), word(expected.length), ...expected.map(addressWord)]));
      // Trailing calldata is ignored.
      expect(await validators(concat([BESU_SELECTORS.getValidators, new Uint8Array(32)]))).toEqual(expected);
    });

    it("drops a suspended or removed organisation's validator and brings a reinstated one back", async () => {
      const { lab, carrier } = fx.orgs;
      await suspendOrg(fx, "lab");
      expect(await validators()).not.toContain(getAddress(lab.validator));
      expect(await validators()).toHaveLength(7);
      await removeOrg(fx, "carrier");
      expect(await validators()).not.toContain(getAddress(carrier.validator));
      expect(await validators()).toHaveLength(6);
      await reinstateOrg(fx, "lab");
      expect(await validators()).toContain(getAddress(lab.validator));
      expect(await validators()).toHaveLength(7);
      expect(await c.activeValidatorCount()).toBe(7n);
    });

    it("follows nodes added and removed, and skips nodes without a validator", async () => {
      const { oem } = fx.orgs;
      const extra = { peerId: "12D3KooWextra", enodeId: "ab".repeat(64), enodeHost: "10.1.1.1", enodePort: 30303, validator: getAddress("0x" + "11".repeat(20)) };
      const plain = { ...extra, peerId: "12D3KooWplain", enodeId: "cd".repeat(64), validator: ZeroAddress };
      await passProposal(fx, ProposalKind.AddNode, proposalData.addNode(oem.id, extra));
      await passProposal(fx, ProposalKind.AddNode, proposalData.addNode(oem.id, plain));
      expect(await validators()).toHaveLength(9);
      expect((await validators()).at(-1)).toBe(extra.validator);
      await passProposal(fx, ProposalKind.RemoveNode, proposalData.removeNode(oem.id));
      expect(await validators()).not.toContain(getAddress(oem.validator));
      expect(await validators()).toHaveLength(8);
    });
  });

  describe("connectionAllowed", () => {
    it("allows members' nodes, whatever host form Besu sends, with or without trailing zero bytes", async () => {
      for (const o of Object.values(fx.orgs)) {
        expect(await connectionAllowed(o.enodeId)).toBe(true);
        expect(await connectionAllowedTrailing(o.enodeId)).toBe(true);
      }
      const enode = fx.orgs.steel.enodeId;
      // URI host (Besu >= 22), legacy encodeIp ("0x" + hex of "127.0.0.1"), IPv6, the DNS retry, no port.
      for (const host of ["127.0.0.1", hexlify(toUtf8Bytes("127.0.0.1")), "[0:0:0:0:0:0:0:1]", "node-1.steel.example", ""]) {
        expect(await connectionAllowed(enode, host, 0)).toBe(true);
      }
      expect(await connectionAllowed(enode, "127.0.0.1", 65535)).toBe(true);
      // Other spellings of the same key are recognised too (another client might send them).
      expect(await connectionAllowed(enode.toUpperCase())).toBe(true);
      expect(await connectionAllowed("0x" + enode)).toBe(true);
    });

    it("answers false, never reverting, for unknown and malformed enode ids", async () => {
      const enode = fx.orgs.steel.enodeId;
      const malformed = [
        "ee".repeat(64), // well-formed, unknown
        "", // empty
        enode.slice(0, 127), // one digit short
        enode + "0", // one digit long
        enode.slice(0, 126), // 63 bytes
        enode + enode, // 128 bytes
        "g" + enode.slice(1), // non-hex
        " " + enode.slice(1),
        enode.slice(0, 127) + "\u00e9", // 129 bytes of UTF-8 in 128 characters
        "0x" + enode.slice(2) + "zz",
        "0X" + enode.slice(0, 126) + "x",
        "x".repeat(130),
        "f".repeat(20_000), // huge
        "enode://" + enode + "@127.0.0.1:30303", // a whole enode URL is not an id
      ];
      for (const id of malformed) {
        expect(await connectionAllowed(id)).toBe(false);
        expect(await connectionAllowedTrailing(id)).toBe(false);
      }
    });

    it("refuses the nodes of suspended and removed organisations and removed nodes", async () => {
      const { auditor, carrier, lab } = fx.orgs;
      await suspendOrg(fx, "auditor");
      await removeOrg(fx, "carrier");
      await passProposal(fx, ProposalKind.RemoveNode, proposalData.removeNode(lab.id));
      expect(await connectionAllowed(auditor.enodeId)).toBe(false);
      expect(await connectionAllowed(carrier.enodeId)).toBe(false);
      expect(await connectionAllowed(lab.enodeId)).toBe(false);
      expect(await connectionAllowed(fx.orgs.oem.enodeId)).toBe(true);
      await reinstateOrg(fx, "auditor");
      expect(await connectionAllowed(auditor.enodeId)).toBe(true);
    });

    it("never reverts and always answers one bool word, for any strings and port (fuzzed)", async () => {
      const known = Object.values(fx.orgs).map((o) => o.enodeId);
      const enodeArb = fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.string({ unit: "grapheme", maxLength: 140 }),
        fc.stringMatching(/^[0-9a-fA-F]{120,136}$/),
        fc.stringMatching(/^0[xX][0-9a-fA-F]{128}$/),
        fc.constantFrom(...known),
      );
      await fc.assert(
        fc.asyncProperty(enodeArb, fc.string({ maxLength: 80 }), fc.integer({ min: 0, max: 65535 }), fc.boolean(), async (enode, host, port, trailing) => {
          const data = besuConnectionPayload(enode, host, port);
          const allowed = await rawBool(trailing ? concat([data, new Uint8Array(32)]) : data);
          const canonical = enode.replace(/^0[xX]/, "").toLowerCase();
          expect(allowed).toBe(/^(0[xX])?[0-9a-fA-F]{128}$/.test(enode) && known.includes(canonical));
        }),
        { numRuns: 150 },
      );
    });
  });

  describe("transactionAllowed", () => {
    it("allows every current account of an active organisation, for any target, value and gas price", async () => {
      const payload32 = hexlify(new Uint8Array(32).fill(0xab));
      for (const o of Object.values(fx.orgs)) {
        for (const acct of o.accounts) {
          expect(await transactionAllowed({ sender: acct.address })).toBe(true); // contract creation, empty payload
          expect(await transactionAllowed({ sender: acct.address, to: target, payload: payload32, gasLimit: 8_000_000n })).toBe(true);
          expect(await transactionAllowed({ sender: acct.address, to: acct.address, value: MAX_UINT256, gasPrice: MAX_UINT256, gasLimit: (1n << 63n) - 1n, payload: "0x01" })).toBe(true);
        }
      }
      // A real proposal's calldata as the payload.
      const propose = c.interface.encodeFunctionData("propose", [ProposalKind.Suspend, proposalData.suspend(8)]);
      expect(dataLength(propose) % 32).toBe(4);
      expect(await transactionAllowed({ sender: fx.orgs.oem.signer.address, to: target, payload: propose })).toBe(true);
    });

    it("answers false, never reverting, for outsiders, the zero address, suspended and removed organisations and retired accounts", async () => {
      const { auditor, carrier, steel } = fx.orgs;
      expect(await transactionAllowed({ sender: fx.outsider.address, to: target })).toBe(false);
      expect(await transactionAllowed({ sender: ZeroAddress })).toBe(false);
      expect(await transactionAllowed({ sender: fx.deployer.address })).toBe(false);
      await suspendOrg(fx, "auditor");
      await removeOrg(fx, "carrier");
      const retired = steel.accounts[1]!.address;
      await passProposal(fx, ProposalKind.RemoveAccount, proposalData.removeAccount(steel.id, retired));
      for (const sender of [auditor.signer.address, carrier.signer.address, retired]) {
        expect(await transactionAllowed({ sender })).toBe(false);
        expect(await transactionAllowed({ sender, to: target, payload: "0x" + "00".repeat(64), gasPrice: 1n })).toBe(false);
      }
      expect(await transactionAllowed({ sender: steel.signer.address })).toBe(true);
    });

    it("never reverts and always answers one bool word, for any sender, values and payload (fuzzed)", async () => {
      const members = Object.values(fx.orgs).flatMap((o) => o.accounts.map((a) => a.address));
      const addressArb = fc.oneof(fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(hexlify(b))), fc.constantFrom(...members));
      const uint256 = fc.bigInt({ min: 0n, max: MAX_UINT256 });
      await fc.assert(
        fc.asyncProperty(
          addressArb,
          fc.option(addressArb, { nil: undefined }),
          uint256,
          fc.option(uint256, { nil: undefined }),
          fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }), // Besu's gas limit is a Java long
          fc.uint8Array({ maxLength: 300 }),
          async (sender, to, value, gasPrice, gasLimit, payload) => {
            const allowed = await transactionAllowed({ sender, to, value, gasPrice, gasLimit, payload: hexlify(payload) });
            expect(allowed).toBe(members.includes(sender));
          },
        ),
        { numRuns: 150 },
      );
    });
  });
});
