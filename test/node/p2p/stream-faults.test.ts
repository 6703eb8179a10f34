/**
 * A member process makes any uncaught exception or unawaited rejection fatal (lib/stop-signals.ts),
 * so a peer that resets streams, hangs up or goes away while this node answers must never make
 * a stream error (StreamStateError "Cannot write to a stream that is closed", reset, EOF) escape
 * the fetch and peers protocol handlers (fetch-server.ts, discovery.ts). Real libp2p hosts over
 * TCP; the server answers with frames large enough to hit yamux back-pressure, so the fault lands
 * while its handler is inside writeFrame / onDrain / close.
 */
import path from "node:path";
import type { Libp2p, Stream } from "@libp2p/interface";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { PeerDiscovery } from "../../../node/p2p/discovery.ts";
import { serveFetch } from "../../../node/p2p/fetch-server.ts";
import { type Host, createHost } from "../../../node/p2p/host.ts";
import { FETCH_PROTOCOL, encodeJson, readFrame, writeFrame } from "../../../node/p2p/protocol.ts";
import { decodeAnswer } from "../../../node/p2p/wire.ts";
import { tempDir } from "./helpers.ts";

const LISTEN = ["/ip4/127.0.0.1/tcp/0"];
const CERTIFICATE = "0x" + "ab".repeat(32);
/** An answer of a few MB: far beyond yamux's initial 256 KiB window, so the writer waits on drain. */
const BIG = "x".repeat(3 * 1024 * 1024);

const tmp = tempDir("tm-stream-faults-");
afterAll(() => tmp.remove());

let keys = 0;
const newHost = () => createHost({ keyFile: path.join(tmp.dir, `peer-${keys++}.key`), listen: LISTEN });

/** What escaped to the process while a case ran. */
let escaped: unknown[] = [];
const onEscape = (e: unknown) => void escaped.push(e);
beforeEach(() => {
  escaped = [];
  process.on("uncaughtException", onEscape);
  process.on("unhandledRejection", onEscape);
});
afterEach(() => {
  process.off("uncaughtException", onEscape);
  process.off("unhandledRejection", onEscape);
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fetch server answering every statement request with BIG; counts the failures it saw. */
async function bigServer(): Promise<{ host: Host; errors: unknown[] }> {
  const host = await newHost();
  const errors: unknown[] = [];
  await serveFetch(host, {
    orgOf: async () => 1,
    access: {} as never, // statements are decided without grants
    ownerOrg: 2,
    statements: { get: async () => BIG },
    maxFrameBytes: 8 * 1024 * 1024,
    maxInboundStreams: 16,
    timeoutMs: 5_000,
    onError: (e) => errors.push(e),
  });
  return { host, errors };
}

/** Opens `n` statement requests from `client` to `server` without reading the answers; each settles quietly. */
async function openRequests(client: Libp2p, server: Libp2p, n: number) {
  const streams = await Promise.all(Array.from({ length: n }, () => client.dialProtocol(server.getMultiaddrs()[0]!, FETCH_PROTOCOL)));
  for (const s of streams) {
    await writeFrame(s, encodeJson({ v: 1, type: "statement", certificate: CERTIFICATE }), 1024);
    await s.close();
  }
  return streams;
}

/** The server still answers a well-behaved client in full. */
async function stillServes(server: Libp2p): Promise<void> {
  const client = await newHost();
  try {
    const [s] = await openRequests(client, server, 1);
    const frame = await readFrame(s!, 8 * 1024 * 1024);
    expect(decodeAnswer(frame, "")).toEqual({ type: "statement", text: BIG });
  } finally {
    await client.stop();
  }
}

/**
 * Opens six big requests from a fresh asker, lets the server get inside writeFrame (waiting for
 * window updates), then applies the asker-side `fault`. Nothing may escape, and the server must
 * still answer a well-behaved asker in full. Returns the failures the server's handler saw.
 */
async function faultMidAnswer(fault: (client: Host, server: Host, streams: Stream[]) => Promise<void> | void): Promise<unknown[]> {
  const { host: server, errors } = await bigServer();
  const client = await newHost();
  try {
    const streams = await openRequests(client, server, 6);
    await pause(50);
    await fault(client, server, streams);
    await pause(300);
    expect(escaped).toEqual([]);
    await stillServes(server);
  } finally {
    await client.stop();
    await server.stop();
  }
  expect(escaped).toEqual([]);
  return errors;
}

describe("stream faults while answering", () => {
  it("the asker resets its streams while the server writes its answers", async () => {
    const errors = await faultMidAnswer((_client, _server, streams) => {
      for (const s of streams) s.abort(new Error("asker gave up"));
    });
    expect(errors.length).toBeGreaterThan(0); // the handler saw the reset and aborted its stream
  });

  it("the asker hangs up the connection mid-answer", async () => {
    await faultMidAnswer((client, server) => client.hangUp(server.peerId).then(() => undefined));
  });

  it("the asker's process goes away mid-answer (its connection aborted)", async () => {
    await faultMidAnswer((client) => {
      for (const c of client.getConnections()) c.abort(new Error("process killed"));
    });
  });

  it("the serving node hangs up and stops while it answers (its own side of the race)", async () => {
    const { host: server } = await bigServer();
    const client = await newHost();
    try {
      const streams = await openRequests(client, server, 6);
      const reads = streams.map((s) => readFrame(s, 8 * 1024 * 1024).catch((e: unknown) => e));
      await pause(50);
      await server.hangUp(client.peerId);
      await server.stop();
      const results = await Promise.all(reads);
      expect(results.every((r) => r instanceof Error || r instanceof Uint8Array)).toBe(true);
      await pause(300);
      expect(escaped).toEqual([]);
    } finally {
      await client.stop();
      await server.stop();
    }
  });

  it("peers protocol: an asker that connects, asks and vanishes at once, many times over", async () => {
    const server = await newHost();
    const discovery = new PeerDiscovery(server, { isBanned: () => false } as never, {} as never, { bootstrap: [], timeoutMs: 2_000 });
    await discovery.serve();
    try {
      for (let i = 0; i < 5; i++) {
        const client = await newHost();
        const s = await client.dialProtocol(server.getMultiaddrs()[0]!, "/tracemesh/peers/1.0.0");
        if (i % 2 === 0) s.abort(new Error("gone"));
        else for (const c of client.getConnections()) c.abort(new Error("gone"));
        await client.stop();
      }
      await pause(300);
      expect(escaped).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
