import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SigningKey, Wallet, computeAddress, getBytes, hexlify } from "ethers";
import {
  KeyFormatError,
  besuKeyFileContents,
  besuPublicKeyFileContents,
  enodeUrl,
  generateLibp2pIdentity,
  generateNodeKey,
  isBase58PeerId,
  libp2pIdentityFromProtobuf,
  libp2pIdentityFromSeed,
  nodeIdentityFromPublicKey,
  nodeKeyFromPrivateKey,
  readBesuKeyFile,
  writeSecretFile,
} from "../../scripts/besu/keys.ts";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "tracemesh-keys-"));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe("Besu node keys", () => {
  it("derive the enode id and validator address exactly as ethers' SigningKey / computeAddress do", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const k = BigInt(hexlify(bytes));
        if (k === 0n || k >= N) return; // not a secp256k1 key
        const sk = new SigningKey(hexlify(bytes));
        const key = nodeKeyFromPrivateKey(hexlify(bytes));
        expect(key.enodeId).toBe(sk.publicKey.slice(4).toLowerCase());
        expect(key.enodeId).toMatch(/^[0-9a-f]{128}$/);
        expect(key.publicKey).toBe(`0x${key.enodeId}`);
        expect(key.address).toBe(computeAddress(sk.publicKey));
        expect(key.address).toBe(new Wallet(hexlify(bytes)).address);
      }),
      { numRuns: 50 },
    );
  });

  it("generates distinct random keys whose identities match ethers", () => {
    const a = generateNodeKey();
    const b = generateNodeKey();
    expect(a.privateKey).not.toBe(b.privateKey);
    for (const k of [a, b]) {
      expect(k.address).toBe(computeAddress(k.privateKey));
      expect(k.enodeId).toBe(new SigningKey(k.privateKey).publicKey.slice(4));
    }
  });

  it("accepts a company's public key in each usual form and refuses points off the curve", () => {
    const key = generateNodeKey();
    const forms = [
      key.publicKey,
      key.enodeId,
      `0x04${key.enodeId}`,
      key.enodeId.toUpperCase(),
      SigningKey.computePublicKey(key.privateKey, true),
    ];
    for (const f of forms) expect(nodeIdentityFromPublicKey(f)).toEqual({ publicKey: key.publicKey, enodeId: key.enodeId, address: key.address });
    expect(() => nodeIdentityFromPublicKey(`0x${"11".repeat(64)}`)).toThrow(KeyFormatError);
    expect(() => nodeIdentityFromPublicKey("0x1234")).toThrow(/64 bytes/);
    expect(() => nodeIdentityFromPublicKey("zz")).toThrow(/hex/);
    expect(() => nodeKeyFromPrivateKey(`0x${"00".repeat(32)}`)).toThrow(/secp256k1/);
    expect(() => nodeKeyFromPrivateKey(`0x${"ff".repeat(32)}`)).toThrow(/secp256k1/);
    expect(() => nodeKeyFromPrivateKey("0x12")).toThrow(/32 bytes/);
  });

  it("writes Besu's key file format (one line of 0x hex) with mode 0600, and never overwrites a key", async () => {
    const key = generateNodeKey();
    const file = path.join(dir, "key");
    await writeSecretFile(file, besuKeyFileContents(key));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const text = await readFile(file, "utf8");
    expect(text).toMatch(/^0x[0-9a-f]{64}$/);
    expect(text).toBe(key.privateKey);
    expect(await readBesuKeyFile(file)).toEqual(key);
    await expect(writeSecretFile(file, besuKeyFileContents(generateNodeKey()))).rejects.toThrow(/EEXIST/);
    expect(await readFile(file, "utf8")).toBe(key.privateKey);
    expect(besuPublicKeyFileContents(key)).toBe(key.publicKey);
  });

  it("reads key files as Besu does: a trailing newline is fine, anything but one line is not", async () => {
    const key = generateNodeKey();
    const ok = path.join(dir, "key-newline");
    await writeFile(ok, `${key.privateKey}\n`);
    expect((await readBesuKeyFile(ok)).address).toBe(key.address);
    const bad = path.join(dir, "key-two-lines");
    await writeFile(bad, `${key.privateKey}\n${key.privateKey}\n`);
    await expect(readBesuKeyFile(bad)).rejects.toThrow(/exactly one line/);
  });

  it("formats enode URLs, bracketing IPv6 hosts", () => {
    const id = "ab".repeat(64);
    expect(enodeUrl(id, "10.0.0.1", 30303)).toBe(`enode://${id}@10.0.0.1:30303`);
    expect(enodeUrl(id, "2001:db8::1", 30303)).toBe(`enode://${id}@[2001:db8::1]:30303`);
  });
});

describe("libp2p identities of member nodes", () => {
  // libp2p specs, peer-ids/peer-ids.md "Test vectors": the Ed25519 PrivateKey and PublicKey protobufs.
  const SPEC_PRIVATE =
    "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
  const SPEC_PUBLIC = "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";

  it("encodes keys like the libp2p spec's Ed25519 test vector", () => {
    const seed = getBytes(`0x${SPEC_PRIVATE.slice(8, 72)}`);
    const id = libp2pIdentityFromSeed(seed);
    expect(Buffer.from(id.privateKeyProtobuf).toString("hex")).toBe(SPEC_PRIVATE);
    // Identity multihash (0x00, length 0x24) of the public key protobuf, base58btc.
    expect(id.peerId).toMatch(/^12D3KooW/);
    expect(isBase58PeerId(id.peerId)).toBe(true);
    expect(libp2pIdentityFromProtobuf(getBytes(`0x${SPEC_PRIVATE}`))).toEqual(id);
    expect(SPEC_PRIVATE.endsWith(SPEC_PUBLIC.slice(8))).toBe(true);
  });

  it("round-trips generated identities and refuses corrupted ones", () => {
    const id = generateLibp2pIdentity();
    expect(libp2pIdentityFromProtobuf(id.privateKeyProtobuf).peerId).toBe(id.peerId);
    const corrupted = Uint8Array.from(id.privateKeyProtobuf);
    corrupted[corrupted.length - 1]! ^= 1;
    expect(() => libp2pIdentityFromProtobuf(corrupted)).toThrow(/does not match/);
    expect(() => libp2pIdentityFromProtobuf(Uint8Array.from([0x08, 0x02, 0x12, 0x00]))).toThrow(/Ed25519/);
  });

  it("recognises canonical peer ids and refuses look-alikes", () => {
    expect(isBase58PeerId("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")).toBe(true); // spec's sha2-256 example
    expect(isBase58PeerId("12D3KooWsteel")).toBe(false);
    expect(isBase58PeerId("")).toBe(false);
    expect(isBase58PeerId("0OIl")).toBe(false);
  });
});
