/**
 * The member node's libp2p host: TCP + Noise + Yamux, with identify, ping and gossipsub, under the node's
 * persistent Ed25519 identity. The identity is the peer id registered for the organisation in
 * Consortium, so it must survive restarts: it lives in a key file (protobuf-encoded private key,
 * mode 0600) created on first start.
 */
import { mkdirSync, readFileSync, writeFileSync, chmodSync, statSync } from "node:fs";
import path from "node:path";
import { gossipsub } from "@libp2p/gossipsub";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import { identify } from "@libp2p/identify";
import type { ConnectionGater, PrivateKey } from "@libp2p/interface";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { createLibp2p } from "libp2p";

export interface HostOptions {
  /** Where the node's private key lives; created (mode 0600) when missing. */
  keyFile: string;
  /** Multiaddrs to listen on, e.g. ["/ip4/127.0.0.1/tcp/0"]. */
  listen: string[];
  /** Multiaddrs told to peers instead of the listen addresses (behind NAT, a DNS name). */
  announce?: string[];
  /** Admission control; see gater.ts. Without one every peer is admitted (tests of the host only). */
  connectionGater?: ConnectionGater;
}

/**
 * The node's private key from `keyFile`, or a new Ed25519 key written there first. Refuses a key
 * file that others can read, and a key of another type: the registered peer id is Ed25519.
 */
export async function loadOrCreateIdentity(keyFile: string): Promise<PrivateKey> {
  let bytes: Buffer | undefined;
  try {
    bytes = readFileSync(keyFile);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  if (bytes === undefined) {
    const key = await generateKeyPair("Ed25519");
    mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
    // "wx": never overwrite a key another process wrote in the meantime.
    writeFileSync(keyFile, privateKeyToProtobuf(key), { mode: 0o600, flag: "wx" });
    chmodSync(keyFile, 0o600); // the umask may have narrowed it further, never widened: be exact
    return key;
  }
  const mode = statSync(keyFile).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(`peer key file ${keyFile} is readable by others (mode ${mode.toString(8)}); chmod 600 it`);
  }
  const key = privateKeyFromProtobuf(bytes);
  if (key.type !== "Ed25519") throw new Error(`peer key file ${keyFile} holds a ${key.type} key, not Ed25519`);
  return key;
}

/** The peer id string a key file stands for (what Consortium registers as the node's peerId). */
export async function peerIdOfKeyFile(keyFile: string): Promise<string> {
  return peerIdFromPrivateKey(await loadOrCreateIdentity(keyFile)).toString();
}

export async function createHost(options: HostOptions) {
  const privateKey = await loadOrCreateIdentity(options.keyFile);
  return createLibp2p({
    privateKey,
    addresses: { listen: options.listen, ...(options.announce && options.announce.length > 0 ? { announce: options.announce } : {}) },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // Per connection: at most 64 streams of all protocols at once (the fetch protocol allows 4).
    streamMuxers: [yamux({ maxInboundStreams: 64 })],
    connectionGater: options.connectionGater,
    services: {
      identify: identify(),
      ping: ping(),
      // Announcements: signed by their publisher's peer key, relayed only between admitted peers.
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false, globalSignaturePolicy: "StrictSign", maxInboundDataLength: 64 * 1024 }),
    },
  });
}

export type Host = Awaited<ReturnType<typeof createHost>>;
