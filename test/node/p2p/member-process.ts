/**
 * A member node as its own process for the peer-network tests: the real daemon (node/daemon.ts:
 * LevelDB store, ingest pipeline, anchorer, peer network from the config's `p2p` section) fed by
 * a synthetic device that writes one reading of `<device>/temperature` every `intervalMs`.
 *
 * Control: JSON lines on stdin, answers as JSON lines on stdout (same `id`). The first line out is
 * `{ ready: true, peerId, addrs, node }`. The process stops cleanly when stdin closes or on SIGTERM.
 *   { id, cmd: "fetch", peer, stream, from, to, afterSeq?, limit? }   every page of the range
 *       -> { id, ok: true, count, pages, lastSeq, grant, items } | { id, ok: false, kind, code?, reason }
 *   { id, cmd: "list", peer, stream? }        windows of a stream, or the streams granted
 *   { id, cmd: "received", org, stream }      what the received store holds
 *   { id, cmd: "status" }                     the node's status (with p2p)
 *   { id, cmd: "own-event", event, context, ignoreFields?, keepIgnoreFields?, partners }
 *                                             stores an own event (recorded on chain by the test) and
 *                                             announces it; keepIgnoreFields: false stores it without
 *                                             them (as nodes did before documents carried them)
 *   { id, cmd: "fetch-event", peer, hash }    -> { id, ok: true, hashId, recordKind, grant } | refusal | misbehaviour
 *   { id, cmd: "events", hash }               what the event store holds under a hash (own and received)
 *
 *   tsx test/node/p2p/member-process.ts --config FILE
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { multiaddr } from "@multiformats/multiaddr";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Reading } from "../../../lib/reading.ts";
import { loadConfig } from "../../../node/config.ts";
import { type EdgeModule, startNode } from "../../../node/daemon.ts";
import type { AdapterContext, AdapterStatus, EdgeAdapter } from "../../../node/edge/adapter.ts";
import { identitiesOf } from "../../../node/p2p/documents.ts";
import { FetchRefusedError, PeerMisbehaviourError } from "../../../node/p2p/fetch-client.ts";

interface Device {
  name: string;
  intervalMs: number;
}

/** A device that measures a furnace temperature every `intervalMs` until stopped. */
const syntheticEdge: EdgeModule<Device> = {
  parseDeviceConfig(raw) {
    const d = raw as Partial<Device>;
    if (typeof d.name !== "string" || typeof d.intervalMs !== "number") throw new Error("name and intervalMs are required");
    return { name: d.name, intervalMs: d.intervalMs };
  },
  createAdapter(config: Device, ctx: AdapterContext): EdgeAdapter {
    let status: AdapterStatus = { device: config.name, state: "connecting", readings: 0, gaps: 0 };
    let timer: NodeJS.Timeout | undefined;
    let n = 0;
    return {
      device: config.name,
      async start() {
        status = { ...status, state: "connected" };
        timer = setInterval(() => {
          const reading: Reading = { stream: `${config.name}/temperature`, metric: "temperature", unit: "Cel", value: 1480 + (n++ % 40), sourceTime: Date.now(), quality: "good" };
          ctx.sink.write([reading]).then(
            () => (status = { ...status, readings: status.readings + 1 }),
            () => undefined,
          );
        }, config.intervalMs);
      },
      async stop() {
        clearInterval(timer);
        status = { ...status, state: "stopped" };
      },
      status: () => status,
    };
  },
};

const { values } = parseArgs({ options: { config: { type: "string" } } });

async function main(): Promise<void> {
  const node = await startNode(loadConfig(values.config!), { edge: syntheticEdge as EdgeModule, log: (m) => process.stderr.write(`${m}\n`), stopGraceMs: 2000 });
  const p2p = node.p2p!;
  const out = (v: unknown) => process.stdout.write(JSON.stringify(v) + "\n");
  const target = (peer: string) => (peer.startsWith("/") ? multiaddr(peer) : peerIdFromString(peer));

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await node.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());

  const handle = async (line: string) => {
    const c = JSON.parse(line) as Record<string, unknown> & { id: number; cmd: string };
    try {
      switch (c.cmd) {
        case "fetch": {
          // Every page of the range.
          let afterSeq = (c.afterSeq as number | undefined) ?? 0;
          let count = 0;
          let pages = 0;
          const kinds = new Set<string>();
          for (;;) {
            const r = await p2p.fetchReadings(target(c.peer as string), {
              stream: c.stream as string,
              from: c.from as number,
              to: c.to as number,
              afterSeq,
              ...(c.limit !== undefined ? { limit: c.limit as number } : {}),
            });
            count += r.count;
            pages++;
            afterSeq = r.lastSeq;
            for (const i of r.items) kinds.add(i.kind);
            if (!r.more) return out({ id: c.id, ok: true, count, pages, lastSeq: r.lastSeq, grant: r.grant, items: [...kinds] });
          }
        }
        case "list": {
          const windows = c.stream ? await p2p.client.listWindows(target(c.peer as string), c.stream as string) : undefined;
          const streams = c.stream ? undefined : await p2p.client.listStreams(target(c.peer as string));
          return out({ id: c.id, ok: true, windows, streams });
        }
        case "received": {
          const readings = await p2p.received.readings(c.org as number, c.stream as string);
          return out({ id: c.id, ok: true, readings: readings.map((r) => ({ seq: r.seq, sourceTime: r.reading.sourceTime, value: r.reading.value, window: r.window, origin: r.origin, ownProof: r.proof !== undefined })) });
        }
        case "own-event": {
          const ignoreFields = (c.ignoreFields as string[] | undefined) ?? [];
          const doc = { event: c.event as Record<string, unknown>, context: c.context, ignoreFields };
          const ids = identitiesOf(doc);
          const org = (await node.chain.activeOrg()) as number;
          const kept = c.keepIgnoreFields === false || ignoreFields.length === 0 ? {} : { ignoreFields };
          await node.events!.putOwn([{ ...ids, context: doc.context, ...kept, owner: org, origin: { kind: "own", captureId: "test" }, event: doc.event }]);
          await p2p.announceEvent(ids.hashId, c.partners as number[]);
          return out({ id: c.id, ok: true, ...ids });
        }
        case "fetch-event": {
          const r = await p2p.fetchEvent(target(c.peer as string), c.hash as string);
          return out({ id: c.id, ok: true, hashId: r.hashId, recordHash: r.recordHash, recordKind: r.recordKind, grant: r.grant });
        }
        case "events": {
          const held = await node.events!.get(c.hash as string);
          return out({ id: c.id, ok: true, events: held.map((e) => ({ sid: e.sid, hashId: e.hashId, owner: e.owner, origin: e.origin, chain: e.chain, event: e.event, ignoreFields: e.ignoreFields })) });
        }
        case "status":
          return out({ id: c.id, ok: true, status: node.status(), peers: await p2p.peers() });
        default:
          return out({ id: c.id, ok: false, kind: "error", reason: `unknown command ${c.cmd}` });
      }
    } catch (e) {
      if (e instanceof FetchRefusedError) return out({ id: c.id, ok: false, kind: "refused", code: e.code, reason: e.refusal.detail });
      if (e instanceof PeerMisbehaviourError) return out({ id: c.id, ok: false, kind: "misbehaviour", altered: e.altered, reason: e.reason });
      return out({ id: c.id, ok: false, kind: "error", reason: (e as Error).message });
    }
  };
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (line) => void handle(line));
  rl.on("close", () => void stop());
  out({ ready: true, peerId: p2p.host.peerId.toString(), addrs: p2p.host.getMultiaddrs().map(String), node: node.address });
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
