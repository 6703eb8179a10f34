/**
 * Repairing a node's damaged data directory (`npm run node -- repair --config FILE`, issue 18).
 *
 * A LevelDB store whose files were damaged (a disk fault, a truncated table or log) fails to open
 * or to read; the node then refuses to start and names this command. Repair runs, with the node
 * stopped:
 *   1. LevelDB's own repair (RepairDB) on every LevelDB store of the data directory: it rebuilds
 *      the store's manifest from the table and log files that still read, and sets the damaged
 *      ones aside in the store's `lost/` folder;
 *   2. a salvage check of the reading store: every closed window is checked against its own
 *      record (its readings present, each hashing to its leaf, the leaves to the window's root;
 *      the block index of a window whose leaves give its root is written again where it differs),
 *      so what was lost is known by window and stream, and whether the chain holds the window's
 *      anchor (the readings' fingerprints stay provable on chain; the readings themselves do not);
 *   3. a report, printed and kept as `<dataDir>/repair-<time>.json`.
 * The node then starts and serves what remains; a proof of a lost reading answers "not held".
 *
 * With `--from-partners` (`refetchFromPartners`), the lost windows are then asked back from the
 * partners that followed the node's streams (node/p2p/return-fetch.ts), every returned reading
 * verified against the node's own anchored root before a window is written back whole
 * (refetch.ts); what remains lost is reported by window, with its missing leaves and streams.
 * Then the node's own EPCIS event documents: those its organisation recorded on chain that the
 * event store no longer holds are asked back from the partners that received them, each verified
 * against the organisation's own record before it is stored again (node/events/refetch.ts); what
 * no partner holds (never shared) is reported lost by record hash.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Level } from "level";
import { decodeReading } from "../../lib/canonical-reading.ts";
import { MerkleTree, leafHash } from "../../lib/merkle.ts";
import { connectContracts, readDeployment } from "../../lib/deployment.ts";
import { cachedAnchorView, contractAnchorView } from "../../lib/verify-reading.ts";
import { rpcProvider } from "../chain/client.ts";
import { ConfigError, type NodeConfig } from "../config.ts";
import { type DocumentRefetchReport, missingDocuments, ownRecords, refetchDocuments } from "../events/refetch.ts";
import { EventStore } from "../events/store.ts";
import { chainEventVerifier } from "../p2p/documents.ts";
import { startReturnSession } from "../p2p/return-fetch.ts";
import { type RefetchReport, refetchWindows } from "./refetch.ts";
import { IngestStore, parseChunk, sectionRecords } from "./store.ts";

/** Exit status of a process that cannot start because a store is damaged (sysexits' EX_DATAERR): restarting it will not help. */
export const EXIT_DATA_DAMAGED = 65;

/** The command an operator runs on a damaged data directory (named in the refusal to start). */
export const repairCommand = (configFile: string | undefined, fromPartners = false) =>
  `npm run node -- repair --config ${configFile ?? "<the node's config file>"}${fromPartners ? " --from-partners" : ""}`;

/**
 * A store opened or read with LevelDB reporting damage: the node refuses to start with this.
 * `partners`: the node has a peer network, so the repair can also ask partners for what was lost.
 */
export class StoreDamagedError extends Error {
  constructor(what: string, detail: string, configFile: string | undefined, options?: ErrorOptions & { partners?: boolean }) {
    super(
      `${what} is damaged (${detail}). Run \`${repairCommand(configFile, options?.partners)}\` with the node stopped; it repairs the store, salvages what reads and reports what was lost` +
        (options?.partners ? ", then asks its partners for their verified copies of what was lost (readings of the streams they follow, event documents shared with them)" : ""),
      options,
    );
  }
}

/**
 * Whether `e` (or what caused it) is LevelDB saying the store's files are damaged: a corruption,
 * or a table file that cannot be read (a truncated table reads as "Invalid argument"). Tables are
 * only read, never written in place, so a full disk or a permission problem is not taken for it.
 */
export function isStoreDamage(e: unknown): boolean {
  for (let x = e as { code?: string; cause?: unknown; message?: string } | undefined, depth = 0; x && depth < 5; x = x.cause as typeof x, depth++) {
    const message = x.message ?? "";
    if (x.code === "LEVEL_CORRUPTION" || /\bCorruption\b/.test(message)) return true;
    if (x.code === "LEVEL_IO_ERROR" && /\.(ldb|sst)\b/.test(message) && !/No space left|Permission denied|Too many open files/i.test(message)) return true;
  }
  return false;
}

/** One closed window the salvage found incomplete. */
export interface DamagedWindow {
  sequence: number;
  /** Readings the window's record says it holds (unknown when the record itself is lost). */
  expected?: number;
  /** Readings still present and matching their leaves. */
  intact: number;
  /** Streams with readings missing. */
  streams: string[];
  /** The chain holds the window's anchor (as this store last saw): its fingerprints stay provable. */
  anchored: boolean;
  problem: string;
}

/** Readings of a stream lost with windows whose record is gone: the gap between the runs that remain. */
export interface LostRange {
  stream: string;
  fromSeq: number;
  toSeq: number;
}

export interface RepairReport {
  dataDir: string;
  at: string;
  /** Every LevelDB store repaired, and the files LevelDB set aside in its lost/ folder. */
  stores: { dir: string; lostFiles: string[] }[];
  /** `blockRootsRestored`: leaf pages whose block roots (the block index) were written again from their leaves. */
  windows: { closed: number; intact: number; damaged: DamagedWindow[]; blockRootsRestored: number };
  readings: { intact: number; lost: number; lostRanges: LostRange[] };
  /** What the repair could not do (yet): the operator's next steps. */
  left: string[];
  /** Where the report was written. */
  file?: string;
}

/** LevelDB store directories under `dir` (a CURRENT file marks one). */
function levelStores(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (existsSync(path.join(dir, "CURRENT"))) return [dir];
  return readdirSync(dir)
    .map((name) => path.join(dir, name))
    .filter((p) => statSync(p).isDirectory())
    .flatMap(levelStores);
}

const lostFiles = (dir: string) => (existsSync(path.join(dir, "lost")) ? readdirSync(path.join(dir, "lost")) : []);

/** Checks every closed window of the reading store against its own record (see the header). */
export async function salvageCheck(store: IngestStore): Promise<{ closed: number; damaged: DamagedWindow[]; intact: number; lost: number; lostRanges: LostRange[]; blockRootsRestored: number }> {
  const head = await store.head();
  const lastAnchored = await store.lastAnchored();
  const damaged: DamagedWindow[] = [];
  let intact = 0;
  let lost = 0;
  let blockRootsRestored = 0;
  // Per stream, the sequence number its next run should start at: a later run starting past it
  // means the runs between sat in windows whose record is lost.
  const nextSeq = new Map<string, number>();
  const lostRanges: LostRange[] = [];
  for (let w = 1; w <= head.lastClosed; w++) {
    const anchored = w <= lastAnchored;
    let record;
    try {
      record = await store.window(w);
    } catch (e) {
      damaged.push({ sequence: w, intact: 0, streams: [], anchored, problem: `its record does not read: ${(e as Error).message}` });
      continue;
    }
    if (record === undefined) {
      damaged.push({ sequence: w, intact: 0, streams: [], anchored, problem: "its record is lost" });
      continue;
    }
    for (const run of record.runs) {
      const expected = nextSeq.get(run.stream) ?? 1;
      if (run.firstSeq > expected) lostRanges.push({ stream: run.stream, fromSeq: expected, toSeq: run.firstSeq - 1 });
      nextSeq.set(run.stream, run.firstSeq + run.count);
    }
    let leaves: Buffer | undefined;
    try {
      leaves = await store.leaves(w);
    } catch {
      leaves = undefined;
    }
    const tree = leaves && leaves.length === record.leafCount * 32 ? MerkleTree.fromLeafHashes(leaves) : undefined;
    const treeOk = tree !== undefined && "0x" + tree.root.toString("hex") === record.root;
    // The block index (store format 2) derives from the leaves: what a lost table took of it, or
    // what no longer matches them, is written again.
    if (treeOk) blockRootsRestored += await store.restoreBlockRoots(w).catch(() => 0);
    // Readings found in the window's chunks that match their leaf, per stream.
    const found = new Map<string, number>();
    let problem: string | undefined = treeOk ? undefined : "its leaf hashes are lost or do not give its root";
    try {
      for await (const { value } of store.chunks(w)) {
        for (const section of parseChunk(value).sections) {
          const run = record.runs.find((r) => r.stream === section.stream);
          sectionRecords(value, section).forEach((bytes, k) => {
            const seq = section.firstSeq + k;
            const index = run ? run.leafStart + (seq - run.firstSeq) : -1;
            decodeReading(bytes);
            if (run && tree && treeOk && index >= run.leafStart && index < run.leafStart + run.count && leafHash(bytes).equals(tree.leaf(index))) {
              found.set(section.stream, (found.get(section.stream) ?? 0) + 1);
            }
          });
        }
      }
    } catch (e) {
      problem = `its readings do not read: ${(e as Error).message}`;
    }
    const good = [...found.values()].reduce((a, b) => a + b, 0);
    intact += good;
    if (good === record.leafCount && problem === undefined) continue;
    lost += record.leafCount - good;
    damaged.push({
      sequence: w,
      expected: record.leafCount,
      intact: good,
      streams: record.runs.filter((r) => (found.get(r.stream) ?? 0) < r.count).map((r) => r.stream),
      anchored,
      problem: problem ?? `${record.leafCount - good} of its ${record.leafCount} readings are lost`,
    });
  }
  // Runs after the last intact record: up to the stream's next sequence number after the last closed window.
  for (const [stream, next] of await store.closedNextSeqs()) {
    const expected = nextSeq.get(stream) ?? 1;
    if (next > expected) lostRanges.push({ stream, fromSeq: expected, toSeq: next - 1 });
  }
  // The streams each record-less window lost are those with a gap (which window held which part is gone with the records).
  const gapStreams = [...new Set(lostRanges.map((r) => r.stream))];
  for (const d of damaged) if (d.expected === undefined) d.streams = gapStreams;
  lost += lostRanges.reduce((n, r) => n + r.toSeq - r.fromSeq + 1, 0);
  return { closed: head.lastClosed, damaged, intact, lost, lostRanges, blockRootsRestored };
}

/**
 * LevelDB's repair takes no lock: a store another process holds open must not be repaired under
 * it. Opening takes the lock first, so a lock error means someone holds it (a damaged store may
 * fail to open for other reasons, which is what repair is for).
 */
async function refuseIfInUse(dir: string): Promise<void> {
  const probe = new Level(dir);
  try {
    await probe.open({ createIfMissing: false });
  } catch (e) {
    const detail = String((e as { cause?: Error }).cause?.message ?? (e as Error).message);
    if (/lock/i.test(detail)) throw new Error(`${dir} is in use by another process (${detail}): stop the node before repairing`, { cause: e });
  } finally {
    await probe.close().catch(() => undefined);
  }
}

/**
 * Repairs every LevelDB store in `dataDir` (the node must be stopped: LevelDB's lock refuses
 * otherwise), checks what the reading store still holds, and writes the report beside.
 */
export async function repairDataDir(dataDir: string): Promise<RepairReport> {
  const stores: RepairReport["stores"] = [];
  for (const dir of levelStores(dataDir)) {
    await refuseIfInUse(dir);
    const before = new Set(lostFiles(dir));
    await (Level as unknown as { repair(location: string): Promise<void> }).repair(dir);
    stores.push({ dir: path.relative(dataDir, dir) || ".", lostFiles: lostFiles(dir).filter((f) => !before.has(f)) });
  }
  const store = await IngestStore.open(path.join(dataDir, "db"));
  let check;
  try {
    check = await salvageCheck(store);
  } finally {
    await store.close();
  }
  const left: string[] = [];
  const unanchoredLost = check.damaged.filter((d) => !d.anchored).map((d) => d.sequence);
  if (check.damaged.length > 0) {
    left.push(
      "fetch back from partners the copies they hold of the lost readings (streams " +
        [...new Set(check.damaged.flatMap((d) => d.streams))].join(", ") +
        "): partners that follow them keep verified copies; `npm run node -- repair --config FILE --from-partners` asks them back, verified against the chain",
    );
  }
  // Which event documents a damaged event store lost only the chain can say (the organisation's records).
  // (A store that is missing whole is not named: a node without the peer network never had one.)
  const events = stores.find((st) => st.dir === "events");
  if (events !== undefined && events.lostFiles.length > 0) {
    left.push(
      `the event store set damaged files aside (${events.lostFiles.join(", ")}): \`npm run node -- repair --config FILE --from-partners\` finds the organisation's records on chain whose documents it lacks and asks them back from the partners they were shared with, verified against the chain`,
    );
  }
  if (unanchoredLost.length > 0) {
    left.push(`windows ${unanchoredLost.join(", ")} were lost before they were anchored: when it starts, the node records them on chain as lost (DataAnchors WindowsLost, shown by \`audit\` and the status) and anchors on after them; restore them from a backup before starting if one holds them`);
  }
  const report: RepairReport = {
    dataDir,
    at: new Date().toISOString(),
    stores,
    windows: { closed: check.closed, intact: check.closed - check.damaged.length, damaged: check.damaged, blockRootsRestored: check.blockRootsRestored },
    readings: { intact: check.intact, lost: check.lost, lostRanges: check.lostRanges },
    left,
  };
  const file = path.join(dataDir, `repair-${report.at.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
  return { ...report, file };
}

/** The report as the CLI prints it. */
export function formatRepairReport(r: RepairReport): string {
  const lines = [
    `repaired ${r.stores.length} LevelDB store(s) in ${r.dataDir}`,
    ...r.stores.map((s) => `  ${s.dir}: ${s.lostFiles.length === 0 ? "nothing set aside" : `set aside in lost/: ${s.lostFiles.join(", ")}`}`),
    `reading store: ${r.windows.closed} closed windows, ${r.windows.intact} intact, ${r.windows.damaged.length} damaged; ${r.readings.intact} readings intact, ${r.readings.lost} lost`,
    ...(r.windows.blockRootsRestored > 0 ? [`  block index of ${r.windows.blockRootsRestored} leaf page(s) written again from their leaves`] : []),
    ...r.readings.lostRanges.map((g) => `  LOST readings ${g.stream} #${g.fromSeq}..#${g.toSeq}`),
    ...r.windows.damaged.map((d) => `  LOST window ${d.sequence}: ${d.problem}${d.streams.length > 0 ? ` (streams ${d.streams.join(", ")})` : ""}; ${d.anchored ? "anchored: its fingerprints stay on chain" : "not anchored"}`),
    ...r.left.map((l) => `left to do: ${l}`),
  ];
  if (r.file) lines.push(`report kept in ${r.file}`);
  return lines.join("\n");
}

export interface RefetchOutcome extends RefetchReport {
  /** Damaged windows the salvage check still finds after the refetch. */
  stillDamaged: number[];
  /** The organisation's own event documents: `records` on chain, `missing` from the event store before the refetch. */
  documents: DocumentRefetchReport & { records: number; missing: number };
  file?: string;
}

/**
 * Asks partners for the windows `repaired` lost and writes back those that verify whole (the
 * node stopped; refetch.ts). Progress goes to `log`; the outcome is kept as
 * `<dataDir>/refetch-<time>.json`.
 */
export async function refetchFromPartners(config: NodeConfig, repaired: RepairReport, log: (line: string) => void): Promise<RefetchOutcome> {
  if (!config.p2p) throw new ConfigError(["p2p: --from-partners needs the node's p2p section (its peer key and where partners are found)"], config.file);
  const lost = repaired.windows.damaged.map((d) => d.sequence);
  const deployment = readDeployment(config.chain.deployment);
  const provider = rpcProvider(config.chain.rpcUrl, deployment.chainId, { callTimeoutMs: config.chain.callTimeoutMs });
  try {
    const store = await IngestStore.open(path.join(config.dataDir, "db"));
    const events = await EventStore.open(path.join(config.dataDir, "events")).catch(async (e: unknown) => {
      await store.close();
      throw e;
    });
    try {
      const node = (await store.format())?.node;
      if (node === undefined) throw new Error(`the reading store in ${config.dataDir} does not say which node it belongs to: nothing can be checked against the chain`);
      const contracts = connectContracts(deployment.contracts, provider);
      const [org] = await contracts.consortium.activeOrgOf(node);
      // What the organisation recorded on chain, and which of those documents the event store lost.
      const records = Number(org) === 0 ? [] : await ownRecords(provider, deployment.contracts.provenance, Number(org), deployment.deploymentBlock ?? 0);
      const missing = await missingDocuments(events, records);
      log(`documents: organisation ${org} made ${records.length} record(s) on chain; the event store lacks the document of ${missing.length}`);
      let report: RefetchReport = { restored: [], lost: [], lied: [], refused: [] };
      let documents: DocumentRefetchReport = { restored: [], lost: [], lied: [], refused: [] };
      if (lost.length > 0 || missing.length > 0) {
        const session = await startReturnSession({ config: config.p2p, dataDir: config.dataDir, deployment, provider, log });
        try {
          if (lost.length > 0) {
            log(`asking partners for ${lost.length} lost window(s) of node ${node}: ${lost.join(", ")}`);
            const anchors = cachedAnchorView(contractAnchorView(contracts.dataAnchors));
            report = await refetchWindows(store, lost, { node, anchors, partners: session.partners, onLie: session.onLie, keepDir: path.join(config.dataDir, "refetch-kept"), log });
          }
          if (missing.length > 0) {
            log(`documents: asking partners for ${missing.length} document(s) of organisation ${session.ownOrg}`);
            // A partner banned for lying about readings is not asked for documents.
            const partners = session.partners.filter((p) => !report.lied.some((l) => l.peer === p.peer));
            documents = await refetchDocuments(events, missing, {
              ownOrg: session.ownOrg,
              partners,
              recordOf: chainEventVerifier(provider, deployment.contracts.provenance).recordOf,
              onLie: (peer, reason) => session.onLie(peer, reason, "documents"),
              log,
            });
          }
        } finally {
          await session.stop();
        }
      }
      const after = await salvageCheck(store);
      const outcome: RefetchOutcome = { ...report, stillDamaged: after.damaged.map((d) => d.sequence), documents: { ...documents, records: records.length, missing: missing.length } };
      const file = path.join(config.dataDir, `refetch-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
      writeFileSync(file, JSON.stringify(outcome, null, 2) + "\n");
      return { ...outcome, file };
    } finally {
      await events.close();
      await store.close();
    }
  } finally {
    provider.destroy();
  }
}

/** The refetch's summary as the CLI prints it. */
export function formatRefetchReport(r: RefetchOutcome): string {
  const lines = [
    `from partners: ${r.restored.length} window(s) restored, ${r.stillDamaged.length} still damaged`,
    ...r.restored.map((w) => `  RESTORED window ${w.window}: ${w.readings} readings (${w.fromPartners} returned by partners), verified against its anchor`),
    ...r.lost.map(
      (w) =>
        `  LOST window ${w.window}: ${w.reason}` +
        (w.missing.length > 0 ? `; leaves missing ${w.missing.map(([a, b]) => (b - a === 1 ? `${a}` : `${a}..${b - 1}`)).join(", ")}` : "") +
        (w.streamsNotReturned.length > 0 ? `; no partner returned streams ${w.streamsNotReturned.join(", ")}` : ""),
    ),
    ...r.lied.map((p) => `  BANNED ${p.peer}: ${p.reason}`),
    ...r.refused.map((p) => `  not asked further: ${p.peer}: ${p.reason}`),
    `documents: ${r.documents.restored.length} restored, ${r.documents.lost.length} still lost (of ${r.documents.missing} missing; the organisation made ${r.documents.records} record(s) on chain)`,
    ...r.documents.restored.map((d) => `  RESTORED document ${d.hashId} (record ${d.recordId}, ${d.kind}, hash ${d.recordHash}) from ${d.from}, verified against the organisation's record`),
    ...r.documents.lost.map((d) => `  LOST document of record ${d.recordId} (${d.kind}, hash ${d.recordHash}): ${d.reason}`),
    ...r.documents.lied.map((p) => `  BANNED ${p.peer}: ${p.reason}`),
    ...r.documents.refused.map((p) => `  documents not asked further: ${p.peer}: ${p.reason}`),
  ];
  if (r.file) lines.push(`refetch report kept in ${r.file}`);
  return lines.join("\n");
}
