/**
 * The gateway benchmark: traceability queries from the chain index against answering the same
 * questions by scanning chain logs, in the same run, on the same chain.
 *
 * Setup (on anvil with the Tracemesh contracts): filler items commissioned in batches (each batch
 * then named by one observation record) until the chain holds at least --events Provenance events, a --tiers deep genealogy (every item made from
 * --fanin items of the tier below: transformations, the top tier an assembly) recorded with
 * Provenance.multicall, and one item shipped back and forth for a long history. The indexer builds
 * its LevelDB index from the chain (timed), and a real gateway serves it on 127.0.0.1.
 *
 * Measured with autocannon (in a worker thread, so the load generator does not share the
 * gateway's event loop), through the real HTTP routes with a real token:
 *   GET /items/{id}/history                      the shipped item's history
 *   GET /items/{id}/genealogy?direction=backward the top item's whole genealogy (all tiers)
 * Baseline: the same answers computed by a client from eth_getLogs against the same anvil, using
 * the node's topic filters as well as it can (one query per tier and edge kind, OR-ed topics), at
 * the same concurrency for the same time; it skips the HTTP layer, which favours it.
 *
 * Flags:
 *   --events N       Provenance events to put on chain at least (default 100000)
 *   --tiers N        genealogy depth (default 6); --fanin N inputs per item (default 3)
 *   --hops N         shipments of the history item (default 20: 40 records)
 *   --duration S     seconds per measurement (default 5; four measurements)
 *   --connections N  concurrent requests (default 10)
 *   --quick          10,000 events, 2 s per measurement: a smoke run
 *   --keep           keep the index directory and print its path
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { type ContractTransactionResponse, NonceManager, Wallet, id } from "ethers";
import { Role } from "../../lib/consortium.ts";
import { Provenance__factory } from "../../lib/contracts/types/index.js";
import { type Deployment, connectContracts } from "../../lib/deployment.ts";
import { NamespacePolicy } from "../../lib/namespaces.ts";
import { ChainClient, rpcProvider } from "../../node/chain/client.ts";
import { deployLocal, devKey, startAnvil } from "../local-chain/local-chain.ts";
import { createGateway } from "../../gateway/app.ts";
import { EventDecoder, type RawLog } from "../../node/indexer/decode.ts";
import { Indexer } from "../../node/indexer/index.ts";
import { indexService } from "../../node/indexer/service.ts";
import type { GatewayServices } from "../../gateway/services.ts";
import { GatewayClient } from "../../lib/gateway-client.ts";

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))))] ?? 0;
const ZERO = "0x" + "00".repeat(32);
const DISP = id("urn:epcglobal:cbv:disp:active");

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = "+" + widths.map((w) => "-".repeat(w + 2)).join("+") + "+";
  const out = [line];
  rows.forEach((r, i) => {
    out.push("| " + r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join(" | ") + " |");
    if (i === 0) out.push(line);
  });
  out.push(line);
  return out.join("\n");
}

/** autocannon against one URL, in a worker thread. */
async function cannon(url: string, token: string, seconds: number, connections: number): Promise<Measured> {
  const r = await autocannon({ url, connections, duration: seconds, workers: 1, headers: { authorization: `Bearer ${token}` } });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, requests: r.requests.total, errors: r.errors + r.non2xx };
}

/** Runs `task` with `connections` concurrent loops for `seconds`, timing each call. */
async function loop(task: () => Promise<unknown>, seconds: number, connections: number): Promise<Measured> {
  const times: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await task();
          times.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  return { rps: times.length / elapsed, p50: percentile(times, 50), p99: percentile(times, 99), requests: times.length, errors };
}

// ---------------------------------------------------------------- baseline: scanning chain logs

const provenanceInterface = Provenance__factory.createInterface();
const topic = (name: "Assembled" | "ItemCreated" | "Recorded" | "Transformed") => provenanceInterface.getEvent(name).topicHash;
const pad32 = (n: number | bigint) => "0x" + BigInt(n).toString(16).padStart(64, "0");

/**
 * The baseline: a client that answers from the chain's logs alone. It gets the same fast paths
 * the indexer has (the platform's fetch and JSON parser, a precomputed topic table), so the
 * comparison measures scanning against indexing, not two decoders.
 */
class LogScanner {
  private readonly decoder: EventDecoder;

  constructor(
    private readonly url: string,
    private readonly deployment: Deployment,
  ) {
    this.decoder = new EventDecoder(deployment.contracts);
  }

  async logs(topics: (string | string[] | null)[]): Promise<RawLog[]> {
    const filter = { address: this.deployment.contracts.provenance, fromBlock: "0x" + this.deployment.deploymentBlock.toString(16), toBlock: "latest", topics };
    const res = await fetch(this.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_getLogs", params: [filter] }) });
    const body = (await res.json()) as { result?: RawLog[]; error?: { message: string } };
    if (!body.result) throw new Error(`eth_getLogs failed: ${body.error?.message}`);
    return body.result;
  }

  private args(log: RawLog) {
    const d = this.decoder.decode(log);
    if (!d) throw new Error("undecodable log");
    return d.event.args;
  }

  /** The item's records (Recorded events of every record that names it), in order. */
  async history(key: string): Promise<{ recordId: number; kind: number; org: number; eventHash: string; block: number; tx: string }[]> {
    const [asFirst, asParent] = await Promise.all([this.logs([null, key]), this.logs([topic("Assembled"), null, key])]);
    const ids = new Set<bigint>();
    for (const l of [...asFirst, ...asParent]) {
      const args = this.args(l);
      if ("recordId" in args.toObject()) ids.add(args.getValue("recordId") as bigint);
    }
    if (ids.size === 0) return [];
    const recorded = await this.logs([topic("Recorded"), [...ids].map(pad32)]);
    return recorded
      .map((l) => {
        const a = this.args(l);
        return { recordId: Number(a.recordId), kind: Number(a.kind), org: Number(a.orgId), eventHash: a.eventHash as string, block: Number(l.blockNumber), tx: l.transactionHash };
      })
      .sort((a, b) => a.recordId - b.recordId);
  }

  /** Everything the item came from: per tier, one query per edge kind over the whole chain. */
  async backward(root: string): Promise<{ nodes: number; edges: number }> {
    const seen = new Set([root]);
    let edges = 0;
    let frontier = [root];
    while (frontier.length > 0) {
      const [created, assembled] = await Promise.all([this.logs([topic("ItemCreated"), frontier]), this.logs([topic("Assembled"), null, frontier])]);
      const next: string[] = [];
      const add = (k: string) => {
        edges++;
        if (!seen.has(k)) {
          seen.add(k);
          next.push(k);
        }
      };
      for (const l of assembled) add(this.args(l).child as string);
      const recordIds = [...new Set(created.map((l) => l.topics[3]!))];
      if (recordIds.length > 0) {
        const transformed = await this.logs([topic("Transformed"), recordIds]);
        const wanted = new Set(frontier);
        for (const l of transformed) {
          const a = this.args(l);
          if ((a.outputs as string[]).some((o) => wanted.has(o))) for (const i of a.inputs as string[]) add(i);
        }
      }
      frontier = next;
    }
    return { nodes: seen.size, edges };
  }
}

// ---------------------------------------------------------------- the run

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: "string" },
      tiers: { type: "string", default: "6" },
      fanin: { type: "string", default: "3" },
      hops: { type: "string", default: "20" },
      duration: { type: "string" },
      connections: { type: "string", default: "10" },
      quick: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      // The other benchmarks' flags pass through `npm run bench` too.
    },
    strict: false,
  });
  const quick = values.quick === true;
  const targetEvents = Number(values.events ?? (quick ? 10_000 : 100_000));
  const tiers = Number(values.tiers);
  const fanin = Number(values.fanin);
  const hops = Number(values.hops);
  const seconds = Number(values.duration ?? (quick ? 2 : 5));
  const connections = Number(values.connections);
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`run: >= ${fmt(targetEvents)} events, ${tiers}-tier genealogy with fan-in ${fanin}, ${hops} shipments, ${seconds} s per measurement, ${connections} connections`);

  const dir = mkdtempSync(path.join(tmpdir(), "tracemesh-gwbench-"));
  const chain = await startAnvil();
  const provider = rpcProvider(chain.url, chain.chainId);
  provider.pollingInterval = 50;
  let indexer: Indexer | undefined;
  let close: (() => Promise<void>) | undefined;
  try {
    const [millKey, foundryKey] = [devKey(1), devKey(2)];
    const deployment = await deployLocal(chain.url, devKey(0), [
      { name: "Bench Mill", roles: [Role.Supplier], accounts: [new Wallet(millKey).address] },
      { name: "Bench Foundry", roles: [Role.Supplier], accounts: [new Wallet(foundryKey).address] },
    ], { namespacePolicy: NamespacePolicy.Unchecked }); // the bench writes registry keys directly
    const millWallet = new NonceManager(new Wallet(millKey, provider));
    const mill = connectContracts(deployment.contracts, millWallet).provenance;
    const foundry = connectContracts(deployment.contracts, new NonceManager(new Wallet(foundryKey, provider))).provenance;
    let seq = 0;
    const ev = () => id(`bench-event:${seq++}`);
    const itemKey = (label: string) => id(`bench-item:${label}`);

    // Transactions go one after another, each confirmed by polling its receipt (ChainClient):
    // anvil mines on arrival and then stays still, which ethers' block-driven wait() can miss.
    // Large ones carry their gas limit, so they are not executed twice.
    const client = new ChainClient(provider, { pollMs: 10 });
    const send = async (tx: Promise<ContractTransactionResponse>) => {
      const r = await client.confirmed((await tx).hash);
      if (r.status !== 1) throw new Error("a setup transaction failed");
    };
    const BIG = { gasLimit: 29_000_000 };

    // --- the genealogy: tier 0 raw items, each higher item transformed from `fanin` below; the top assembled.
    const t0 = performance.now();
    let tier: string[] = Array.from({ length: fanin ** tiers }, (_, i) => itemKey(`t0-${i}`));
    for (let i = 0; i < tier.length; i += 400) await send(mill.commissionBatch(ZERO, tier.slice(i, i + 400), DISP, ev(), BIG));
    for (let t = 1; t < tiers; t++) {
      const next = Array.from({ length: tier.length / fanin }, (_, i) => itemKey(`t${t}-${i}`));
      const calls = next.map((out, i) => provenanceInterface.encodeFunctionData("transform", [tier.slice(i * fanin, (i + 1) * fanin), [out], ZERO, DISP, ev()]));
      for (let i = 0; i < calls.length; i += 50) await send(mill.multicall(calls.slice(i, i + 50), BIG));
      tier = next;
    }
    const top = itemKey(`t${tiers}-0`);
    await send(mill.commission(top, DISP, ev()));
    await send(mill.assemble(top, tier, ev()));
    const genealogyNodes = (fanin ** (tiers + 1) - 1) / (fanin - 1);
    console.log(`  genealogy: ${fmt(genealogyNodes)} items over ${tiers} tiers (+ the top), ${fmt((performance.now() - t0) / 1000, 1)} s`);

    // --- the history item: shipped back and forth.
    const travelled = itemKey("travelled");
    await send(mill.commission(travelled, DISP, ev()));
    for (let h = 0; h < hops; h++) {
      const [from, to, toOrg] = h % 2 === 0 ? [mill, foundry, 2] : [foundry, mill, 1];
      await send(from.ship([travelled], toOrg, true, ev()));
      await send(to.receiveShipment([travelled], ev()));
    }

    // --- filler until the chain holds enough events: batches of items commissioned (a batch call),
    // each followed by one observation record naming all of them.
    // Counted with the platform's fetch: ethers decodes a response of megabytes slowly.
    const eventsSoFar = async () => {
      const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_getLogs", params: [{ address: deployment.contracts.provenance, fromBlock: "0x0", toBlock: "latest" }] });
      const res = await fetch(chain.url, { method: "POST", headers: { "content-type": "application/json" }, body });
      return ((await res.json()) as { result: unknown[] }).result.length;
    };
    let events = await eventsSoFar();
    const t1 = performance.now();
    const BATCH = 400;
    let lastReport = performance.now();
    for (let n = 0; events < targetEvents; n++) {
      const keys = Array.from({ length: BATCH }, (_, i) => itemKey(`filler-${n}-${i}`));
      await send(mill.commissionBatch(id(`bench-lot:${n}`), keys, DISP, ev(), BIG));
      await send(mill.observe(keys, ev(), BIG));
      events += 2 * BATCH + 3;
      if (performance.now() - lastReport > 5000 || events >= targetEvents) {
        lastReport = performance.now();
        console.log(`  chain: ${fmt(events)} Provenance events (${fmt(events / ((performance.now() - t1) / 1000))}/s)`);
      }
    }
    events = await eventsSoFar();
    const head = await provider.getBlockNumber();
    console.log(`  chain: ${fmt(events)} Provenance events in ${fmt(head)} blocks, ${fmt((performance.now() - t0) / 1000, 1)} s in all`);

    // --- the index.
    const t2 = performance.now();
    let lastIndexReport = performance.now();
    indexer = await Indexer.open({
      provider,
      deployment,
      store: path.join(dir, "index"),
      onProgress: (p) => {
        if (performance.now() - lastIndexReport > 5000) {
          lastIndexReport = performance.now();
          console.log(`  index: block ${fmt(p.indexedBlock)} of ${fmt(p.head)}, ${fmt(p.events)} events`);
        }
      },
    });
    const progress = await indexer.sync();
    const indexSeconds = (performance.now() - t2) / 1000;
    console.log(`  index: ${fmt(progress.events)} events indexed in ${fmt(indexSeconds, 1)} s (${fmt(progress.events / indexSeconds)} events/s)`);

    // --- the gateway, and a token through the real sign-in.
    const services: GatewayServices = {
      organisation: { id: 1, name: "Bench Mill" },
      chainId: chain.chainId,
      deployment,
      provider,
      contracts: connectContracts(deployment.contracts, provider),
      index: indexService(indexer),
    };
    const gateway = createGateway(services, { log: "silent", rateLimit: false });
    const server = await gateway.listen(0, "127.0.0.1");
    close = server.close;
    const token = await new GatewayClient(server.url, new Wallet(millKey)).bearer();

    // --- the same answers both ways, checked once before timing.
    const scanner = new LogScanner(chain.url, deployment);
    const historyUrl = `${server.url}/items/${travelled}/history`;
    const genealogyUrl = `${server.url}/items/${top}/genealogy?direction=backward&limit=10000`;
    const auth = { headers: { authorization: `Bearer ${token}` } };
    const viaIndex = (await (await fetch(historyUrl, auth)).json()) as { entries: { recordId: number; eventHash: string }[] };
    const viaLogs = await scanner.history(travelled);
    if (JSON.stringify(viaIndex.entries.map((e) => [e.recordId, e.eventHash])) !== JSON.stringify(viaLogs.map((e) => [e.recordId, e.eventHash]))) {
      throw new Error("the index and the log scan disagree on the item's history");
    }
    const graph = (await (await fetch(genealogyUrl, auth)).json()) as { nodes: unknown[]; edges: unknown[]; truncated: boolean };
    const scanned = await scanner.backward(top);
    if (graph.nodes.length !== genealogyNodes || scanned.nodes !== genealogyNodes || graph.edges.length !== scanned.edges || graph.truncated) {
      throw new Error(`the genealogies disagree: index ${graph.nodes.length} nodes/${graph.edges.length} edges, log scan ${scanned.nodes}/${scanned.edges}, expected ${genealogyNodes} nodes`);
    }
    console.log(`  answers agree: history of ${viaLogs.length} records, genealogy of ${fmt(genealogyNodes)} items and ${fmt(scanned.edges)} edges`);

    // --- timing.
    const results: [string, Measured, Measured][] = [];
    console.log(`  measuring item history (${seconds} s each way) ...`);
    results.push([`item history (${viaLogs.length} records)`, await cannon(historyUrl, token, seconds, connections), await loop(() => scanner.history(travelled), seconds, connections)]);
    console.log(`  measuring ${tiers}-tier genealogy (${seconds} s each way) ...`);
    results.push([`${tiers}-tier genealogy (${fmt(genealogyNodes)} items)`, await cannon(genealogyUrl, token, seconds, connections), await loop(() => scanner.backward(top), seconds, connections)]);

    const rows = [["query", "way", "req/s", "p50 ms", "p99 ms", "requests", "errors"]];
    for (const [name, idx, logs] of results) {
      rows.push([name, "gateway + index", fmt(idx.rps, 1), fmt(idx.p50, 1), fmt(idx.p99, 1), fmt(idx.requests), fmt(idx.errors)]);
      rows.push(["", "eth_getLogs scan", fmt(logs.rps, 1), fmt(logs.p50, 1), fmt(logs.p99, 1), fmt(logs.requests), fmt(logs.errors)]);
      rows.push(["", "ratio", `${fmt(idx.rps / logs.rps, 1)}x`, `${fmt(logs.p50 / Math.max(idx.p50, 0.001), 1)}x`, `${fmt(logs.p99 / Math.max(idx.p99, 0.001), 1)}x`, "", ""]);
    }
    console.log(`\n${fmt(progress.events)} indexed events, ${fmt(head)} blocks, ${connections} connections, ${seconds} s per measurement`);
    console.log(table(rows));
    console.log("ratios: requests/s gateway over scan; latency scan over gateway (higher is better for the index)");
  } finally {
    await close?.();
    await indexer?.stop();
    provider.destroy();
    await chain.stop();
    if (values.keep) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
