/**
 * `npm run bench [-- [NAME] [--flag value ...]]`: runs the benchmarks whose name contains NAME
 * (all when omitted); flags go to each benchmark (see its file for them).
 *
 *   npm run bench                         every benchmark with its defaults
 *   npm run bench -- ingest --duration 600
 *   npm run bench -- p2p --readings 200000
 *   npm run bench -- gateway --quick
 *   npm run bench -- proofs --quick
 *   npm run bench -- retention --readings 1000000
 */
const BENCHES: { name: string; describe: string; load: () => Promise<{ run(args: string[]): Promise<void> }> }[] = [
  {
    name: "ingest",
    describe: "readings through normalise, hash, LevelDB, windows, trees and anchoring on a local chain; proofs; Merkle build vs @openzeppelin/merkle-tree",
    load: () => import("./ingest.ts"),
  },
  {
    name: "p2p",
    describe: "readings between two member nodes over libp2p, every proof verified against the chain; share of time spent verifying",
    load: () => import("./p2p.ts"),
  },
  {
    name: "proofs",
    describe: "cold single-reading proofs from the node's reading store opened afresh, each checked against its window's root",
    load: () => import("./proofs.ts"),
  },
  {
    name: "retention",
    describe: "bytes on disk per million readings before and after retention, the archive's size, and per day at a given rate",
    load: () => import("./retention.ts"),
  },
  {
    name: "gateway",
    describe: "traceability queries (item history, 6-tier genealogy) through the gateway and its chain index, against scanning chain logs with eth_getLogs",
    load: () => import("./gateway.ts"),
  },
];

const args = process.argv.slice(2);
const filter = args[0] !== undefined && !args[0].startsWith("--") ? args.shift()! : "";
const selected = BENCHES.filter((b) => b.name.includes(filter));
if (selected.length === 0) {
  console.error(`no benchmark matches "${filter}"; there are: ${BENCHES.map((b) => b.name).join(", ")}`);
  process.exit(2);
}
for (const b of selected) {
  console.log(`\n== bench ${b.name}: ${b.describe}\n`);
  await (await b.load()).run(args);
}
process.exit(0);
