/**
 * The gateway benchmark: traceability queries from the chain index against answering the same
 * questions by scanning chain logs, in the same run, on the same chain.
 *
 * Setup (on anvil with the Tracemesh contracts): filler items commissioned in batches (each batch
 * then named by one observation record) until the chain holds at least --events Provenance events, a --tiers deep genealogy (every item made from
 * --fanin items of the tier below: transformations, the top tier an assembly) recorded with
 * Provenance.multicall, and one item shipped back and forth between two members for a long
 * history. Every record of the shipped item and of the filler batches carries the CBV 2.0 hash of
 * a real EPCIS event, and the member's event store (node/events, opened as a member opens it, with
 * its access checker watching the chain) holds those documents: its own, and the partner's
 * received under the partner's grant. The indexer builds its LevelDB index from the chain
 * (timed), and a real gateway serves index and documents on 127.0.0.1.
 *
 * Measured with autocannon (in a process of its own, load-generator.ts, so the load generator
 * shares neither the gateway's process nor its event loop), through the real HTTP routes as a
 * partner's request meets them: a real token checked, the organisation's rate limit counted, one
 * access-log entry per answer naming the other organisation's documents it hands out (entries per
 * answer printed; the log's hash chain verified at the end). After a warm-up pass, with
 * the machine's load average (as `uptime` prints it) and the cores each side used beside every
 * figure:
 * Every request asks as a partner's client does: Accept-Encoding `br, gzip, deflate` (Node's fetch,
 * undici, over https), so answers travel compressed; bytes per answer on the wire are printed.
 *   GET /items/{id}/history                      the shipped item's history, with its documents
 *   the same, Accept-Encoding: identity          uncompressed (--only identity, with the genealogy
 *                                                uncompressed too; not in the default set)
 *   the same with If-None-Match                  a client holding the answer: 304, no body
 *   GET /items/{id}/history, distinct items      a different filler item each request (never cached)
 *   GET /items/{id}/genealogy?direction=backward the top item's whole genealogy (all tiers)
 *   the same genealogy, built each request         another `limit` each request: never cached
 * Each answer is checked once as the explorer receives it: every document present, marked
 * verified, and its CBV hash recomputed by the client equal to the chain's.
 * Baseline: the same answers computed by a client from eth_getLogs against the same anvil, using
 * the node's topic filters as well as it can (one query per tier and edge kind, OR-ed topics), at
 * the same concurrency for the same time; it skips the HTTP layer, which favours it.
 *
 * Targets (issue 13) are printed as ratios: measured over target req/s, target over measured p99.
 *
 * Flags:
 *   --events N       Provenance events to put on chain at least (default 100000)
 *   --tiers N        genealogy depth (default 6); --fanin N inputs per item (default 3)
 *   --hops N         shipments of the history item (default 20: 40 records)
 *   --duration S     seconds per measurement (default 5; eight measurements, four each way)
 *   --connections N  concurrent requests (default 10)
 *   --quick          10,000 events, 2 s per measurement: a smoke run
 *   --only LIST      measure only these, comma-separated: history, conditional (the same with
 *                    If-None-Match: 304 answers), distinct, genealogy, rebuilt, identity (history
 *                    and genealogy uncompressed)
 *   --profile DIR    write a CPU profile of the gateway's process for each measured run (not the
 *                    warm-up, not the setup) to DIR/<measurement>.cpuprofile (Chrome DevTools)
 *   --keep           keep the index directory and print its path
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
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
import { eventHash as cbvEventHash } from "../../lib/epcis/event-hash.ts";
import { recordHashOf } from "../../lib/epcis/record-hash.ts";
import { itemKey as keyOfIdentifier } from "../../lib/identifiers/canonical.ts";
import { ScopeKind } from "../../lib/registry.ts";
import { openEvents } from "../../node/events/service.ts";
import { AccessLog, AccessRecorder } from "../../node/access-log/index.ts";
import { DEFAULT_RATE_LIMITS } from "../../gateway/ratelimit.ts";
import type { NewEvent } from "../../node/events/store.ts";
import { useFixtureEpcisFiles } from "../epcis-files.ts";
import { type LoadGenerator, startLoadGenerator } from "./load-generator.ts";

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))))] ?? 0;
const ZERO = "0x" + "00".repeat(32);
const DISP = id("urn:epcglobal:cbv:disp:active");

/** What a partner's client sends: Node's fetch (undici) over https, as a member's gateway is reached. */
const PARTNER_ACCEPT_ENCODING = "br, gzip, deflate";

/** The load average as `uptime` prints it (1, 5, 15 minutes). */
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");

interface Measured {
  /** Load average when the measurement ended. */
  load: string;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  /** Through the gateway: cores used by its process and by the load generator's, and its event loop's busy share. */
  cpu?: { gateway: number; loopBusy: number; generator: number };
  /** Through the gateway: bytes received per answer (headers and body, as on the wire). */
  wireBytes?: number;
  /** Through the gateway: access-log entries written per answer during the measured run (one per answer that hands out a partner's document). */
  loggedPerAnswer?: number;
}

/** One measurement through the gateway: where and how to ask, and what to watch while it runs. */
interface Run {
  url: string;
  token: string;
  seconds: number;
  connections: number;
  /** Paths to ask in turn (distinct-request.cjs), instead of `url`'s path every time. */
  pathsFile?: string;
  profile?: Profiler;
  /** Sent as If-None-Match (answers expected 304). */
  ifNoneMatch?: string;
  /** Sent as Accept-Encoding; the partner's client's by default. */
  acceptEncoding?: string;
  /** The owner's access log, whose entries are counted over the measured run. */
  log?: AccessLog;
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

/**
 * autocannon against one URL, in the load generator's own process (load-generator.ts), after a
 * warm-up pass of a second. With `pathsFile`, each request asks for the next path listed there
 * (distinct-request.cjs). Charges CPU time to each side: this process (the gateway, index and
 * event store) and the load generator, and the share of time the gateway's event loop was busy,
 * so a figure says which side was the limit.
 */
async function cannon(generator: LoadGenerator, { url, token, seconds, connections, pathsFile, profile, ifNoneMatch, log, acceptEncoding = PARTNER_ACCEPT_ENCODING }: Run): Promise<Measured> {
  const options = {
    url,
    connections,
    workers: 1,
    headers: { authorization: `Bearer ${token}`, "accept-encoding": acceptEncoding, ...(ifNoneMatch ? { "if-none-match": ifNoneMatch } : {}) },
    // Either hook also keeps autocannon from decoding the answers' bytes (lean-client.cjs).
    requests: [{ setupRequest: path.join(import.meta.dirname, pathsFile ? "distinct-request.cjs" : "lean-client.cjs") }],
  };
  const env: Record<string, string> = pathsFile ? { TRACEMESH_BENCH_PATHS: pathsFile, TRACEMESH_BENCH_START: String(Math.floor((JSON.parse(readFileSync(pathsFile, "utf8")) as unknown[]).length / 2)) } : {};
  await generator.run({ options: { ...options, duration: 1 }, env });
  const logged = async () => (log ? (await log.head()).seq : 0);
  const measure = async () => {
    // Every measurement starts from a collected heap: the setup's garbage (or the previous run's)
    // would otherwise be collected during whichever run comes first.
    collectGarbage();
    const before = await logged();
    const cpu = process.cpuUsage();
    const loop = performance.eventLoopUtilization();
    const r = await generator.run({ options: { ...options, duration: seconds }, env: { ...env, TRACEMESH_BENCH_START: "0" } });
    const used = process.cpuUsage(cpu);
    return { r, gatewayCpu: (used.user + used.system) / 1000 / r.wallMs, loopBusy: performance.eventLoopUtilization(loop).utilization, entries: (await logged()) - before };
  };
  const { r, gatewayCpu, loopBusy, entries } = await (profile ? profile(measure) : measure());
  // A conditional request is answered 304 (the client's copy is current); any other request 200.
  const expected = ifNoneMatch ? "3xx" : "2xx";
  if (r.statuses[expected] !== r.requests) console.log(`    answers by status: ${JSON.stringify(r.statuses)}`);
  return { load: load(), rps: r.rps, p50: r.p50, p99: r.p99, requests: r.requests, errors: r.errors - (ifNoneMatch ? (r.statuses["3xx"] ?? 0) : 0), wireBytes: r.bytes / Math.max(1, r.requests), cpu: { gateway: gatewayCpu, loopBusy, generator: r.cpuMs / r.wallMs }, ...(log ? { loggedPerAnswer: entries / Math.max(1, r.requests) } : {}) };
}

/** A full garbage collection, as `--expose-gc` would give (the bench runs without the flag). */
const collectGarbage: () => void = (() => {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
})();

/** Runs a measurement under the CPU profiler (this process: the gateway, index and event store). */
type Profiler = <T>(measure: () => Promise<T>) => Promise<T>;

function profilerTo(dir: string, name: string): Profiler {
  return async (measure) => {
    mkdirSync(dir, { recursive: true });
    const session = new Session();
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
    try {
      return await measure();
    } finally {
      const { profile } = await session.post("Profiler.stop");
      writeFileSync(path.join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
    }
  };
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
  return { load: load(), rps: times.length / elapsed, p50: percentile(times, 50), p99: percentile(times, 99), requests: times.length, errors };
}

const DOC_CONTEXT = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"];

/**
 * An item's history as the explorer receives it: every record carries its document, marked
 * verified, and the CBV hash the client recomputes from it equals the chain's (timed).
 */
async function historyAsExplorer(url: string, init: RequestInit): Promise<{ entries: { recordId: number; eventHash: string }[]; verifyMs: number; bytes: number; wire: string }> {
  // fetch decodes the answer as the browser does; Content-Length is what travelled.
  const res = await fetch(url, init);
  const wire = `${res.headers.get("content-length") ?? "?"} bytes ${res.headers.get("content-encoding") ?? "identity"}`;
  const text = await res.text();
  const answer = JSON.parse(text) as { entries: { recordId: number; eventHash: string; verified?: boolean; document: Record<string, unknown> | null }[] };
  const t = performance.now();
  for (const e of answer.entries) {
    if (e.document === null || e.verified !== true) throw new Error(`record ${e.recordId} of ${url} came without a verified document`);
    if (recordHashOf(e.document, { context: DOC_CONTEXT }).toLowerCase() !== e.eventHash.toLowerCase()) throw new Error(`record ${e.recordId}: the document does not hash to the chain's event hash`);
  }
  return { entries: answer.entries, verifyMs: performance.now() - t, bytes: Buffer.byteLength(text), wire };
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
      only: { type: "string" },
      profile: { type: "string" },
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
  const MEASUREMENTS = ["history", "conditional", "distinct", "genealogy", "rebuilt", "identity"];
  const only = typeof values.only === "string" ? values.only.split(",").map((s) => s.trim()) : MEASUREMENTS.filter((m) => m !== "identity");
  const unknown = only.filter((m) => !MEASUREMENTS.includes(m));
  if (unknown.length > 0) throw new Error(`--only: unknown measurement ${unknown.join(", ")}; known: ${MEASUREMENTS.join(", ")}`);
  const profileDir = typeof values.profile === "string" ? path.resolve(values.profile) : undefined;
  const profiled = (name: string) => (profileDir ? profilerTo(profileDir, name) : undefined);
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), load average ${load()}`);
  console.log(`run: >= ${fmt(targetEvents)} events, ${tiers}-tier genealogy with fan-in ${fanin}, ${hops} shipments, ${seconds} s per measurement, ${connections} connections`);

  const dir = mkdtempSync(path.join(tmpdir(), "tracemesh-gwbench-"));
  const chain = await startAnvil();
  const provider = rpcProvider(chain.url, chain.chainId);
  provider.pollingInterval = 50;
  let indexer: Indexer | undefined;
  let close: (() => Promise<void>) | undefined;
  let closeEvents: (() => Promise<void>) | undefined;
  let accessLog: AccessLog | undefined;
  let generator: LoadGenerator | undefined;
  try {
    const [millKey, foundryKey] = [devKey(1), devKey(2)];
    const deployment = await deployLocal(chain.url, devKey(0), [
      { name: "Bench Mill", roles: [Role.Supplier], accounts: [new Wallet(millKey).address] },
      { name: "Bench Foundry", roles: [Role.Supplier], accounts: [new Wallet(foundryKey).address] },
    ], { namespacePolicy: NamespacePolicy.Unchecked }); // the bench writes registry keys directly
    const millWallet = new NonceManager(new Wallet(millKey, provider));
    const mill = connectContracts(deployment.contracts, millWallet).provenance;
    const foundryContracts = connectContracts(deployment.contracts, new NonceManager(new Wallet(foundryKey, provider)));
    const foundry = foundryContracts.provenance;
    let seq = 0;
    const ev = () => id(`bench-event:${seq++}`);
    const itemKey = (label: string) => id(`bench-item:${label}`);

    // Documents: a real EPCIS event per record of the history items; its CBV hash goes on chain,
    // the event into the member's store (the mill's own; the foundry's as received from it).
    const dlOf = (serial: string) => `https://id.gs1.org/01/09506000134352/21/${serial}`;
    const travelledLink = dlOf("TRAVELLED");
    const travelled = keyOfIdentifier(travelledLink);
    const documents: NewEvent[] = [];
    const documented = (owner: 1 | 2, bizStep: string, epcs: string[]): string => {
      const event = {
        type: "ObjectEvent",
        eventTime: new Date(Date.UTC(2026, 0, 1) + documents.length * 1000).toISOString(),
        eventTimeZoneOffset: "+00:00",
        epcList: epcs,
        action: bizStep === "commissioning" ? "ADD" : "OBSERVE",
        bizStep,
        disposition: "active",
        readPoint: { id: "urn:epc:id:sgln:9506000134352.0.1" },
      };
      const h = cbvEventHash(event, { context: DOC_CONTEXT });
      const origin: NewEvent["origin"] =
        owner === 1 ? { kind: "own", captureId: `bench-${documents.length}` } : { kind: "received", peerId: "bench-partner", org: 2, grant: { scopeKey: travelled }, receivedAt: new Date().toISOString() };
      documents.push({ hashId: h.hashId, recordHash: h.digest, context: DOC_CONTEXT, owner, origin, event });
      return h.digest;
    };

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
    await send(mill.commission(travelled, DISP, documented(1, "commissioning", [travelledLink])));
    for (let h = 0; h < hops; h++) {
      const [from, to, fromOrg, toOrg] = h % 2 === 0 ? ([mill, foundry, 1, 2] as const) : ([foundry, mill, 2, 1] as const);
      await send(from.ship([travelled], toOrg, true, documented(fromOrg, "shipping", [travelledLink])));
      await send(to.receiveShipment([travelled], documented(toOrg, "receiving", [travelledLink])));
    }
    // The foundry lets the mill read its records of the item (its documents then show as granted).
    await send(foundryContracts.accessGrants.grantAccess(1, ScopeKind.Item, travelled, id("BENCH"), 0, 0, Math.floor(Date.now() / 1000) + 30 * 86_400));

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
    const fillerKeys: string[] = [];
    for (let n = 0; events < targetEvents; n++) {
      const keys = Array.from({ length: BATCH }, (_, i) => itemKey(`filler-${n}-${i}`));
      fillerKeys.push(...keys);
      const named = [0, 1, 2].map((i) => dlOf(`F${n}-${i}`));
      await send(mill.commissionBatch(id(`bench-lot:${n}`), keys, DISP, documented(1, "commissioning", named), BIG));
      await send(mill.observe(keys, documented(1, "inspecting", named), BIG));
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

    // --- the member's event store with the documents, opened as a member opens it.
    useFixtureEpcisFiles(path.resolve(import.meta.dirname, "..", ".."));
    const index = indexService(indexer);
    const memberEvents = await openEvents({ dataDir: dir, deployment, client, signer: new Wallet(millKey, provider), provider, genealogy: index.queries, log: () => undefined });
    closeEvents = () => memberEvents.close();
    const own = documents.filter((d) => d.origin.kind === "own");
    for (let i = 0; i < own.length; i += 500) await memberEvents.store.putOwn(own.slice(i, i + 500));
    for (const d of documents) if (d.origin.kind === "received") await memberEvents.store.putReceived({ ...d, origin: d.origin });
    console.log(`  documents: ${fmt(documents.length)} EPCIS events in the member's store (${fmt(documents.length - own.length)} received from the partner)`);

    // --- the gateway, and a token through the real sign-in.
    const services: GatewayServices = {
      organisation: { id: 1, name: "Bench Mill" },
      chainId: chain.chainId,
      deployment,
      provider,
      contracts: connectContracts(deployment.contracts, provider),
      index,
      events: memberEvents,
    };
    // As a partner's request meets it: the token checked and the organisation's rate limit counted
    // on every request (its limit raised above what the bench sends: the default caps one
    // organisation at 200 a second), and each answer that hands out another organisation's
    // documents logged as one access-log entry naming them, on disk before the answer leaves.
    accessLog = await AccessLog.open(path.join(dir, "access-log"));
    services.accessLog = new AccessRecorder(accessLog, services.contracts.accessGrants);
    const gateway = createGateway(services, { log: "silent", rateLimit: { organisation: { max: 100_000_000, durationMs: 60_000 }, anonymous: DEFAULT_RATE_LIMITS.anonymous } });
    const server = await gateway.listen(0, "127.0.0.1");
    close = server.close;
    const token = await new GatewayClient(server.url, new Wallet(millKey)).bearer();
    const run = { token, seconds, connections, log: accessLog };

    // --- the same answers both ways, checked once before timing.
    const scanner = new LogScanner(chain.url, deployment);
    const historyUrl = `${server.url}/items/${travelled}/history`;
    const genealogyUrl = `${server.url}/items/${top}/genealogy?direction=backward&limit=10000`;
    const auth = { headers: { authorization: `Bearer ${token}`, "accept-encoding": PARTNER_ACCEPT_ENCODING } };
    const viaIndex = await historyAsExplorer(historyUrl, auth);
    const viaLogs = await scanner.history(travelled);
    if (JSON.stringify(viaIndex.entries.map((e) => [e.recordId, e.eventHash])) !== JSON.stringify(viaLogs.map((e) => [e.recordId, e.eventHash]))) {
      throw new Error("the index and the log scan disagree on the item's history");
    }
    const pathsFile = path.join(dir, "distinct-paths.json");
    writeFileSync(pathsFile, JSON.stringify(fillerKeys.map((k) => `/items/${k}/history`)));
    const sampleFiller = fillerKeys[Math.floor(fillerKeys.length / 2)]!;
    const distinctSample = await historyAsExplorer(`${server.url}/items/${sampleFiller}/history`, auth);
    const graphAnswer = await fetch(genealogyUrl, auth);
    const graphWire = `${graphAnswer.headers.get("content-length") ?? "?"} bytes ${graphAnswer.headers.get("content-encoding") ?? "identity"}`;
    const graphText = await graphAnswer.text();
    const graph = JSON.parse(graphText) as { nodes: unknown[]; edges: unknown[]; truncated: boolean };
    const scanned = await scanner.backward(top);
    if (graph.nodes.length !== genealogyNodes || scanned.nodes !== genealogyNodes || graph.edges.length !== scanned.edges || graph.truncated) {
      throw new Error(`the genealogies disagree: index ${graph.nodes.length} nodes/${graph.edges.length} edges, log scan ${scanned.nodes}/${scanned.edges}, expected ${genealogyNodes} nodes`);
    }
    console.log(`  answers agree: history of ${viaLogs.length} records, genealogy of ${fmt(genealogyNodes)} items and ${fmt(scanned.edges)} edges (${fmt(Buffer.byteLength(graphText))} bytes, ${graphWire} on the wire)`);
    console.log(`  documents verified as the explorer does (CBV hash recomputed by the client): ${viaIndex.entries.length} in ${fmt(viaIndex.verifyMs, 1)} ms for the shipped item (${fmt(viaIndex.bytes)} bytes, ${viaIndex.wire} on the wire); ${distinctSample.entries.length} per filler item (${fmt(distinctSample.bytes)} bytes, ${distinctSample.wire})`);

    // --- timing.
    generator = startLoadGenerator();
    // Targets of issue 13: req/s at least, p99 ms at most, and at least 100x the log scan.
    const results: { name: string; idx: Measured; logs: Measured; target?: { rps: number; p99: number } }[] = [];
    const baseline = async (task: () => Promise<unknown>) => {
      await loop(task, 1, connections); // warm-up
      return loop(task, seconds, connections);
    };
    if (only.includes("history")) {
      console.log(`  measuring item history, repeated (${seconds} s each way) ...`);
      results.push({
        name: `item history (${viaLogs.length} records, documents), repeated`,
        idx: await cannon(generator, { ...run, url: historyUrl, profile: profiled("history") }),
        logs: await baseline(() => scanner.history(travelled)),
        target: { rps: 10_000, p99: 2 },
      });
    }
    if (only.includes("identity")) {
      console.log(`  measuring item history, repeated, uncompressed (${seconds} s each way) ...`);
      results.push({
        name: `item history (${viaLogs.length} records, documents), repeated, identity`,
        idx: await cannon(generator, { ...run, url: historyUrl, profile: profiled("identity"), acceptEncoding: "identity" }),
        logs: await baseline(() => scanner.history(travelled)),
      });
      console.log(`  measuring ${tiers}-tier genealogy, uncompressed (${seconds} s each way) ...`);
      results.push({
        name: `${tiers}-tier genealogy (${fmt(genealogyNodes)} items), repeated, identity`,
        idx: await cannon(generator, { ...run, url: genealogyUrl, profile: profiled("genealogy-identity"), acceptEncoding: "identity" }),
        logs: await baseline(() => scanner.backward(top)),
      });
    }
    if (only.includes("conditional")) {
      // A client that keeps the answer and asks with its ETag: 304 without the body, the token,
      // rate limit and access log as for a 200.
      const etag = (await fetch(historyUrl, auth)).headers.get("etag");
      if (!etag) throw new Error("the history answer carries no ETag");
      console.log(`  measuring item history, repeated with If-None-Match (${seconds} s each way) ...`);
      results.push({
        name: `item history (${viaLogs.length} records, documents), If-None-Match (304)`,
        idx: await cannon(generator, { ...run, url: historyUrl, profile: profiled("conditional"), ifNoneMatch: etag }),
        logs: await baseline(() => scanner.history(travelled)),
        target: { rps: 10_000, p99: 2 },
      });
    }
    if (only.includes("distinct")) {
      console.log(`  measuring item history, a distinct item each request (${seconds} s each way) ...`);
      let nextFiller = 0;
      results.push({
        name: `item history (${distinctSample.entries.length} records, documents), distinct items`,
        idx: await cannon(generator, { ...run, url: server.url, pathsFile, profile: profiled("distinct") }),
        logs: await baseline(() => scanner.history(fillerKeys[nextFiller++ % fillerKeys.length]!)),
        target: { rps: 2_000, p99: 10 },
      });
    }
    if (only.includes("genealogy")) {
      console.log(`  measuring ${tiers}-tier genealogy (${seconds} s each way) ...`);
      results.push({
        name: `${tiers}-tier genealogy (${fmt(genealogyNodes)} items), repeated`,
        idx: await cannon(generator, { ...run, url: genealogyUrl, profile: profiled("genealogy") }),
        logs: await baseline(() => scanner.backward(top)),
        target: { rps: 2_000, p99: 10 },
      });
    }
    if (only.includes("rebuilt")) {
      // The same genealogy built afresh each request (a new block invalidates every kept answer): each
      // request asks with another `limit` above the graph's size, so the answer is the same and never cached.
      const rebuiltPaths = path.join(dir, "genealogy-paths.json");
      writeFileSync(rebuiltPaths, JSON.stringify(Array.from({ length: 5000 }, (_, i) => `/items/${top}/genealogy?direction=backward&limit=${10_000 - i}`)));
      console.log(`  measuring ${tiers}-tier genealogy built each request (${seconds} s each way) ...`);
      results.push({
        name: `${tiers}-tier genealogy (${fmt(genealogyNodes)} items), built each request`,
        idx: await cannon(generator, { ...run, url: server.url, pathsFile: rebuiltPaths, profile: profiled("rebuilt") }),
        logs: await baseline(() => scanner.backward(top)),
      });
    }
    if (profileDir) console.log(`  CPU profiles of the measured runs in ${profileDir}`);

    const rows = [["query", "way", "req/s", "p50 ms", "p99 ms", "requests", "errors", "cores: gateway (loop busy) / load gen", "log entries / answer", "bytes / answer on the wire", "load avg (1 5 15 min)"]];
    const targetRows = [["query", "req/s / target", "target p99 / p99", "vs eth_getLogs / 100x", "load avg (1 5 15 min)"]];
    for (const { name, idx, logs, target } of results) {
      const cores = idx.cpu ? `${fmt(idx.cpu.gateway, 2)} (${fmt(idx.cpu.loopBusy * 100)}%) / ${fmt(idx.cpu.generator, 2)}` : "";
      const logged = idx.loggedPerAnswer === undefined ? "" : fmt(idx.loggedPerAnswer, 2);
      const wire = idx.wireBytes === undefined ? "" : fmt(idx.wireBytes);
      rows.push([name, "gateway + index", fmt(idx.rps, 1), fmt(idx.p50, 1), fmt(idx.p99, 1), fmt(idx.requests), fmt(idx.errors), cores, logged, wire, idx.load]);
      rows.push(["", "eth_getLogs scan", fmt(logs.rps, 1), fmt(logs.p50, 1), fmt(logs.p99, 1), fmt(logs.requests), fmt(logs.errors), "", "", "", logs.load]);
      rows.push(["", "ratio", `${fmt(idx.rps / logs.rps, 1)}x`, `${fmt(logs.p50 / Math.max(idx.p50, 0.001), 1)}x`, `${fmt(logs.p99 / Math.max(idx.p99, 0.001), 1)}x`, "", "", "", "", "", ""]);
      targetRows.push([
        name,
        target ? `${fmt(idx.rps / target.rps, 2)} (${fmt(target.rps)})` : "no target",
        target ? `${fmt(target.p99 / Math.max(idx.p99, 0.001), 2)} (${target.p99} ms)` : "no target",
        `${fmt(idx.rps / logs.rps / 100, 2)}`,
        idx.load,
      ]);
    }
    console.log(`\n${fmt(progress.events)} indexed events, ${fmt(head)} blocks, ${connections} connections, ${seconds} s per measurement after a 1 s warm-up`);
    console.log(table(rows));
    console.log("ratios: requests/s gateway over scan; latency scan over gateway (higher is better for the index)");
    console.log("\ntargets (issue 13): 1.00 or more meets the target");
    console.log(table(targetRows));
    // The log the runs wrote is checked whole: every entry chained and hashed as written.
    const started = performance.now();
    const check = await accessLog.verify();
    console.log(
      check.ok
        ? `\naccess log: ${fmt(check.entries)} entries, hash chain intact (verified in ${fmt((performance.now() - started) / 1000, 1)} s)`
        : `\naccess log: HASH CHAIN BROKEN at entry ${check.seq}: ${check.problem}`,
    );
  } finally {
    generator?.stop();
    await close?.();
    await closeEvents?.();
    await accessLog?.close();
    await indexer?.stop();
    provider.destroy();
    await chain.stop();
    if (values.keep) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
