/**
 * Node identities for the Besu network: the secp256k1 node key (whose public key is the enode id
 * and whose address is the QBFT validator address) and the member node's libp2p Ed25519 identity.
 *
 * Formats follow the clients, not our taste:
 * - Besu `key` file: one line, the 32-byte private key as 0x-prefixed hex. Besu reads it with
 *   `Files.readAllLines` + `Bytes32.fromHexString` and writes it the same way
 *   (hyperledger/besu crypto/algorithms/src/main/java/org/hyperledger/besu/crypto/KeyPairUtil.java).
 *   The private key is not encrypted (Besu docs, public-networks/concepts/node-keys).
 * - `key.pub`: the 64-byte uncompressed public key without the 0x04 prefix, 0x-prefixed, as
 *   `besu public-key export` prints it.
 * - Enode id: the public key as 128 hex digits without 0x; enode URL `enode://<id>@<host>:<port>`
 *   (Besu docs, public-networks/concepts/node-keys#enode-url).
 * - Node address = validator address: last 20 bytes of keccak256(public key) (Besu docs,
 *   node-keys#node-address; "For QBFT validators, node addresses are validator addresses",
 *   private-networks/how-to/configure/consensus/qbft).
 * - libp2p: PrivateKey/PublicKey protobufs and identity-multihash peer ids as in the libp2p spec
 *   (libp2p/specs peer-ids/peer-ids.md): Ed25519 private key data = seed || public key (64 bytes).
 */
import { createPrivateKey, createPublicKey, randomBytes } from "node:crypto";
import { chmod, open, readFile } from "node:fs/promises";
import { computeAddress, decodeBase58, encodeBase58, getBytes, hexlify, SigningKey, toBeArray } from "ethers";
import { TracemeshError } from "../../lib/errors.ts";

/** A node's public identity: safe to print, commit and send to other members. */
export interface NodePublicIdentity {
  /** 0x + 128 hex: uncompressed secp256k1 public key without the 0x04 prefix. */
  publicKey: string;
  /** 128 lowercase hex digits, no 0x: the enode id Besu and Consortium use. */
  enodeId: string;
  /** EIP-55 address of the node key: the node's QBFT validator address. */
  address: string;
}

/** A generated or loaded node key. `privateKey` is a secret: write it to a 0600 file, never print it. */
export interface NodeKeyPair extends NodePublicIdentity {
  privateKey: string;
}

export class KeyFormatError extends TracemeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("invalid-config", message, options);
  }
}

const HEX = /^[0-9a-fA-F]*$/;
/** Order of the secp256k1 group: valid private keys are 1..n-1. */
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function strip0x(s: string): string {
  return s.startsWith("0x") || s.startsWith("0X") ? s.slice(2) : s;
}

function identityFromUncompressed(uncompressed: string): NodePublicIdentity {
  // SigningKey.computePublicKey yields 0x04 || X || Y.
  const body = uncompressed.slice(4).toLowerCase();
  return { publicKey: `0x${body}`, enodeId: body, address: computeAddress(uncompressed) };
}

/** Identity of a secp256k1 private key (32 bytes, hex with or without 0x). */
export function nodeKeyFromPrivateKey(privateKey: string): NodeKeyPair {
  const hex = strip0x(privateKey.trim());
  if (hex.length !== 64 || !HEX.test(hex)) {
    throw new KeyFormatError("a node private key must be 32 bytes of hex (64 hex digits, optional 0x)");
  }
  const scalar = BigInt(`0x${hex}`);
  if (scalar === 0n || scalar >= SECP256K1_N) {
    throw new KeyFormatError("the node private key is not a valid secp256k1 scalar (0 < key < n)");
  }
  const publicKey = new SigningKey(`0x${hex}`).publicKey;
  return { ...identityFromUncompressed(publicKey), privateKey: `0x${hex.toLowerCase()}` };
}

/**
 * Identity of a secp256k1 public key, as a company may send it when it keeps its own node key:
 * 64 bytes (Besu's `public-key export` form, with or without 0x), 65 bytes with the 0x04 prefix,
 * or 33 bytes compressed. Points not on the curve are refused.
 */
export function nodeIdentityFromPublicKey(publicKey: string): NodePublicIdentity {
  let hex = strip0x(publicKey.trim());
  if (!HEX.test(hex)) throw new KeyFormatError("a node public key must be hex");
  if (hex.length === 128) hex = `04${hex}`;
  if (hex.length !== 130 && hex.length !== 66) {
    throw new KeyFormatError(
      "a node public key must be 64 bytes (128 hex digits, as `besu public-key export` prints it), " +
        "65 bytes starting with 04, or 33 bytes compressed",
    );
  }
  let uncompressed: string;
  try {
    uncompressed = SigningKey.computePublicKey(`0x${hex}`, false);
  } catch {
    throw new KeyFormatError("the node public key is not a point on secp256k1");
  }
  return identityFromUncompressed(uncompressed);
}

/** A fresh node key from the operating system's CSPRNG. */
export function generateNodeKey(): NodeKeyPair {
  for (;;) {
    const candidate = randomBytes(32);
    try {
      return nodeKeyFromPrivateKey(hexlify(candidate));
    } catch {
      // Zero or >= the curve order: astronomically unlikely, draw again.
    }
  }
}

/** Contents of Besu's `key` file: a single line of 0x-prefixed hex, as Besu itself writes it. */
export function besuKeyFileContents(key: NodeKeyPair): string {
  return key.privateKey;
}

/** Contents of `key.pub`, as `besu public-key export` writes it. */
export function besuPublicKeyFileContents(id: NodePublicIdentity): string {
  return id.publicKey;
}

/** Reads a Besu `key` file (exactly one non-empty line, like Besu's KeyPairUtil). */
export async function readBesuKeyFile(path: string): Promise<NodeKeyPair> {
  const text = await readFile(path, "utf8");
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  if (lines.length !== 1) throw new KeyFormatError(`${path}: a Besu key file holds exactly one line of hex`);
  try {
    return nodeKeyFromPrivateKey(lines[0]!);
  } catch (e) {
    throw new KeyFormatError(`${path}: ${(e as Error).message}`);
  }
}

/**
 * Writes a secret (private key) readable by its owner only (mode 0600). Refuses to overwrite an
 * existing file: a node key that already exists is the node's identity and must be kept.
 */
export async function writeSecretFile(path: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(path, "wx", 0o600);
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
  // The umask can only remove bits; chmod makes the mode exact whatever the umask.
  await chmod(path, 0o600);
}

/** `enode://<id>@<host>:<port>`; IPv6 literals go in brackets. */
export function enodeUrl(enodeId: string, host: string, port: number): string {
  const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return `enode://${enodeId}@${h}:${port}`;
}

// ------------------------------------------------------------------ libp2p identity

/** libp2p key type Ed25519 in the KeyType enum of the spec's protobuf. */
const LIBP2P_ED25519 = 1;

/** protobuf { Type = 1 (varint field 1), Data = bytes (field 2) } for payloads < 128 bytes. */
function keyProtobuf(type: number, data: Uint8Array): Uint8Array {
  if (data.length >= 128) throw new Error("key data too long for this encoder");
  return Uint8Array.from([0x08, type, 0x12, data.length, ...data]);
}

function parseKeyProtobuf(bytes: Uint8Array): { type: number; data: Uint8Array } {
  if (bytes.length < 4 || bytes[0] !== 0x08 || bytes[2] !== 0x12 || bytes[3] !== bytes.length - 4) {
    throw new KeyFormatError("not a libp2p key protobuf");
  }
  return { type: bytes[1]!, data: bytes.slice(4) };
}

/** The libp2p PublicKey protobuf of an Ed25519 public key. */
export function libp2pEd25519PublicKeyProtobuf(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 32) throw new KeyFormatError("an Ed25519 public key is 32 bytes");
  return keyProtobuf(LIBP2P_ED25519, publicKey);
}

/** The peer id of an Ed25519 public key: base58btc of the identity multihash of its protobuf. */
export function peerIdFromEd25519PublicKey(publicKey: Uint8Array): string {
  const pb = libp2pEd25519PublicKeyProtobuf(publicKey);
  // identity multihash: code 0x00, varint length, the bytes themselves (spec: protobuf <= 42 bytes).
  const multihash = Uint8Array.from([0x00, pb.length, ...pb]);
  return encodeBase58(multihash);
}

function ed25519PublicFromSeed(seed: Uint8Array): Uint8Array {
  // PKCS#8 wrapper of an Ed25519 seed (RFC 8410), so node:crypto derives the public key.
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
  const priv = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  const jwk = createPublicKey(priv).export({ format: "jwk" });
  return Buffer.from(jwk.x!, "base64url");
}

export interface Libp2pIdentity {
  peerId: string;
  /** The libp2p PrivateKey protobuf (secret): what libp2p implementations store on disk. */
  privateKeyProtobuf: Uint8Array;
}

/** Ed25519 libp2p identity from a 32-byte seed. */
export function libp2pIdentityFromSeed(seed: Uint8Array): Libp2pIdentity {
  if (seed.length !== 32) throw new KeyFormatError("an Ed25519 seed is 32 bytes");
  const pub = ed25519PublicFromSeed(seed);
  return {
    peerId: peerIdFromEd25519PublicKey(pub),
    privateKeyProtobuf: keyProtobuf(LIBP2P_ED25519, Uint8Array.from([...seed, ...pub])),
  };
}

export function generateLibp2pIdentity(): Libp2pIdentity {
  return libp2pIdentityFromSeed(randomBytes(32));
}

/** Reads back a libp2p Ed25519 PrivateKey protobuf and checks its embedded public key. */
export function libp2pIdentityFromProtobuf(bytes: Uint8Array): Libp2pIdentity {
  const { type, data } = parseKeyProtobuf(bytes);
  if (type !== LIBP2P_ED25519 || data.length !== 64) {
    throw new KeyFormatError("only Ed25519 libp2p keys (64-byte seed || public key) are supported");
  }
  const id = libp2pIdentityFromSeed(data.slice(0, 32));
  if (Buffer.compare(Buffer.from(id.privateKeyProtobuf), Buffer.from(bytes)) !== 0) {
    throw new KeyFormatError("the libp2p key's public half does not match its seed");
  }
  return id;
}

/**
 * Whether a string is a libp2p peer id in its canonical base58btc form: a multihash that is
 * either identity (inlined key protobuf of at most 42 bytes) or sha2-256 (0x12, 32 bytes).
 */
export function isBase58PeerId(peerId: string): boolean {
  if (!/^[1-9A-HJ-NP-Za-km-z]+$/.test(peerId)) return false;
  let bytes: Uint8Array;
  try {
    // decodeBase58 drops leading zero bytes, which base58 writes as leading "1"s.
    const ones = /^1*/.exec(peerId)![0].length;
    const rest = peerId.slice(ones);
    const body = rest === "" ? new Uint8Array() : getBytes(toBeArray(decodeBase58(rest)));
    bytes = Uint8Array.from([...new Uint8Array(ones), ...body]);
  } catch {
    return false;
  }
  if (bytes[0] === 0x12) return bytes[1] === 0x20 && bytes.length === 34;
  if (bytes[0] === 0x00) return bytes[1] === bytes.length - 2 && bytes.length - 2 <= 42 && bytes.length > 2;
  return false;
}
