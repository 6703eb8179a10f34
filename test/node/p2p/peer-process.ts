/**
 * A member node's peer-network side as its own process, for tests across real processes:
 * loads its key file, joins the consortium of a deployment record (gated by membership), anchors
 * one window of furnace readings with its organisation's account, and serves them over the fetch
 * protocol (altered, with --tamper). Prints one JSON line `{ peerId, addrs }` once ready; exits
 * when stdin closes (its parent is gone) or on SIGTERM.
 *
 *   tsx test/node/p2p/peer-process.ts --rpc URL --deployment FILE --key FILE --account ADDR
 *     --owner-org N --start MS [--tamper]
 */
import { parseArgs } from "node:util";
import { connectContracts, readDeployment } from "../../../lib/deployment.ts";
import { MembershipGate } from "../../../node/p2p/gater.ts";
import { createHost } from "../../../node/p2p/host.ts";
import { serveFetch } from "../../../node/p2p/protocol.ts";
import { AnchoredMemoryStore, TamperingStore, furnaceReadings } from "./anchored-store.ts";
import { fastProvider } from "./chain.ts";

const { values } = parseArgs({
  options: {
    rpc: { type: "string" },
    deployment: { type: "string" },
    key: { type: "string" },
    account: { type: "string" },
    "owner-org": { type: "string" },
    start: { type: "string" },
    tamper: { type: "boolean", default: false },
  },
});

async function main(): Promise<void> {
  const provider = fastProvider(values.rpc!);
  const c = connectContracts(readDeployment(values.deployment!).contracts, provider);
  const signer = await provider.getSigner(values.account!);
  const store = new AnchoredMemoryStore();
  await store.anchorWindow(c.dataAnchors.connect(signer), furnaceReadings(Number(values.start), 10));

  const gate = new MembershipGate(c.consortium, { ttlMs: 1_000, pollMs: 200 });
  const host = await createHost({ keyFile: values.key!, listen: ["/ip4/127.0.0.1/tcp/0"], connectionGater: gate.gater() });
  const stopWatch = await gate.watch(host);
  await serveFetch(host, {
    consortium: c.consortium,
    accessGrants: c.accessGrants,
    ownerOrg: Number(values["owner-org"]),
    store: values.tamper ? new TamperingStore(store) : store,
  });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    stopWatch();
    await host.stop();
    provider.destroy();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.stdin.on("end", () => void stop());
  process.stdin.on("close", () => void stop());
  process.stdin.resume();
  process.stdout.write(JSON.stringify({ peerId: host.peerId.toString(), addrs: host.getMultiaddrs().map(String) }) + "\n");
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
