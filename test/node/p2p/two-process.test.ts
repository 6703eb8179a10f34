/**
 * Member nodes in separate processes (test/node/p2p/peer-process.ts, run with tsx), real libp2p
 * connections over 127.0.0.1, and a consortium on a throwaway anvil: admission, grants and
 * revocation, a tampering node, and disconnection on suspension, all across process boundaries.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { multiaddr } from "@multiformats/multiaddr";
import { peerIdFromString } from "@libp2p/peer-id";
import { encodeBytes32String } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProposalKind, proposalData } from "../../../lib/consortium.ts";
import { ScopeKind } from "../../../lib/registry.ts";
import { MembershipGate } from "../../../node/p2p/gater.ts";
import { type Host, createHost, peerIdOfKeyFile } from "../../../node/p2p/host.ts";
import { FetchClient, FetchRefusedError, PeerMisbehaviourError, type ProvenReading, streamScopeKey } from "../../../node/p2p/protocol.ts";
import { jsonCodec } from "./anchored-store.ts";
import { type AnvilConsortium, startAnvilConsortium } from "./chain.ts";
import { eventually, tempDir } from "./helpers.ts";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const STREAM = "furnace-1/temperature";
const PURPOSE = encodeBytes32String("QUALITY_CLAIM");

interface PeerProcess {
  child: ChildProcess;
  peerId: string;
  addr: string;
}

describe("peer network across processes", () => {
  const tmp = tempDir("tm-p2p-procs-");
  const children: ChildProcess[] = [];
  const hosts: Host[] = [];
  let chain: AnvilConsortium;
  let start: number;
  let honest: PeerProcess;
  let dishonest: PeerProcess;
  let oem: Host;
  let client: FetchClient;
  const stored: ProvenReading[][] = [];
  const reported: string[] = [];
  const key = (name: string) => path.join(tmp.dir, `${name}.key`);

  async function spawnPeer(keyName: string, windowStart: number, tamper = false): Promise<PeerProcess> {
    const args = [
      path.join(repo, "test/node/p2p/peer-process.ts"),
      "--rpc", chain.anvil.url,
      "--deployment", path.join(tmp.dir, "deployment.json"),
      "--key", key(keyName),
      "--account", chain.orgs.steel.signer.address,
      "--owner-org", String(chain.orgs.steel.id),
      "--start", String(windowStart),
      ...(tamper ? ["--tamper"] : []),
    ];
    const child = spawn(path.join(repo, "node_modules/.bin/tsx"), args, { cwd: repo, stdio: ["pipe", "pipe", "pipe"] });
    children.push(child);
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`peer process did not start: ${stderr}`)), 30_000);
      createInterface({ input: child.stdout! }).once("line", (l) => {
        clearTimeout(timer);
        resolve(l);
      });
      child.once("exit", (code) => reject(new Error(`peer process exited with ${code}: ${stderr}`)));
    });
    const ready = JSON.parse(line) as { peerId: string; addrs: string[] };
    return { child, peerId: ready.peerId, addr: ready.addrs[0]! };
  }

  beforeAll(async () => {
    const [steelId, steelBadId, oemId] = await Promise.all(["steel", "steel-bad", "oem"].map((k) => peerIdOfKeyFile(key(k))));
    chain = await startAnvilConsortium({ steel: [steelId!, steelBadId!], oem: [oemId!] }, path.join(tmp.dir, "deployment.json"));
    const block = await chain.provider.getBlock("latest");
    start = block!.timestamp * 1000 - 60_000;
    // One after the other: both anchor with the steel account, whose windows follow each other.
    honest = await spawnPeer("steel", start);
    dishonest = await spawnPeer("steel-bad", start + 5_000, true);

    const gate = new MembershipGate(chain.contracts.consortium, { ttlMs: 1_000 });
    oem = await createHost({ keyFile: key("oem"), listen: ["/ip4/127.0.0.1/tcp/0"], connectionGater: gate.gater() });
    hosts.push(oem);
    client = new FetchClient(oem, {
      consortium: chain.contracts.consortium,
      dataAnchors: chain.contracts.dataAnchors,
      codec: jsonCodec,
      store: async (_peer, readings) => void stored.push(readings),
      onMisbehaviour: (peer) => void reported.push(peer),
    });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(hosts.map((h) => h.stop()));
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.stdin!.end(); // the peer process stops when its stdin closes
          }),
      ),
    );
    await chain?.stop();
    chain?.provider.destroy();
    tmp.remove();
  });

  it("refuses an unregistered peer at connection", async () => {
    const stranger = await createHost({ keyFile: key("stranger"), listen: ["/ip4/127.0.0.1/tcp/0"] });
    hosts.push(stranger);
    await expect(stranger.services.ping.ping(multiaddr(honest.addr))).rejects.toThrow();
    expect(await eventually(() => stranger.getConnections().length === 0, 3_000)).toBe(true);
    // The member next to it gets through to the same process.
    expect(await oem.services.ping.ping(multiaddr(honest.addr))).toBeGreaterThanOrEqual(0);
  });

  it("answers not-granted, then the readings once granted, then not-granted after revocation", async () => {
    const peer = peerIdFromString(honest.peerId);
    const range = [start, start + 5_000] as const;
    const refused = await client.fetchReadings(peer, STREAM, ...range).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FetchRefusedError);
    expect((refused as FetchRefusedError).refusal.error).toBe("not-granted");

    const grants = chain.contracts.accessGrants.connect(chain.orgs.steel.signer);
    const expiry = (await chain.provider.getBlock("latest"))!.timestamp + 3600;
    await (await grants.grantAccess(chain.orgs.oem.id, ScopeKind.DataStream, streamScopeKey(STREAM), PURPOSE, 0, 0, expiry)).wait();
    const { readings } = await client.fetchReadings(peer, STREAM, ...range);
    expect(readings.map((r) => jsonCodec.identify(r.bytes).sourceTime)).toEqual(Array.from({ length: 10 }, (_, i) => start + i * 100));
    expect(stored.at(-1)).toBe(readings);

    const id = await grants.grantIdOf(chain.orgs.steel.id, chain.orgs.oem.id, streamScopeKey(STREAM));
    await (await grants.revokeAccess(id)).wait();
    const again = await client.fetchReadings(peer, STREAM, ...range).catch((e: unknown) => e);
    expect((again as FetchRefusedError).refusal?.error).toBe("not-granted");
  });

  it("catches a node that alters a reading it serves, and stores nothing from it", async () => {
    const grants = chain.contracts.accessGrants.connect(chain.orgs.steel.signer);
    const expiry = (await chain.provider.getBlock("latest"))!.timestamp + 3600;
    await (await grants.grantAccess(chain.orgs.oem.id, ScopeKind.DataStream, streamScopeKey(STREAM), PURPOSE, 0, 0, expiry)).wait();
    const count = stored.length;
    const err = await client.fetchReadings(multiaddr(dishonest.addr), STREAM, start, start + 10_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerMisbehaviourError);
    expect((err as PeerMisbehaviourError).reason).toMatch(/does not verify against anchor 2/);
    expect(reported).toEqual([dishonest.peerId]);
    expect(stored).toHaveLength(count);
  });

  it("disconnects a peer within seconds of its organisation's suspension", async () => {
    const peer = peerIdFromString(honest.peerId);
    if (oem.getConnections(peer).length === 0) await oem.dial(multiaddr(honest.addr));
    expect(oem.getConnections(peer).length).toBeGreaterThan(0);
    const t0 = Date.now();
    // Steel proposes, the regulator approves: 2 of 3 active organisations.
    await chain.pass(ProposalKind.Suspend, proposalData.suspend(chain.orgs.oem.id), [chain.orgs.steel.signer, chain.orgs.regulator.signer]);
    expect(await eventually(() => oem.getConnections(peer).length === 0, 8_000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(8_000);
    await expect(oem.services.ping.ping(multiaddr(honest.addr))).rejects.toThrow();
  });
});
