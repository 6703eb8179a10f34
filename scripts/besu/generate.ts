/**
 * Besu QBFT network generator.
 *
 *   tsx scripts/besu/generate.ts --orgs orgs.json --out DIR [--no-permissioning]
 *   tsx scripts/besu/generate.ts join --network DIR --org new-org.json --out DIR2 [--org-id N]
 *   (or: npm run besu:generate -- ...)
 *
 * Prints only public information (enode URLs, addresses, peer ids, paths). Private keys go to
 * 0600 files and are never printed. See scripts/besu/README.md.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { OrgsFileError, loadOrgsFile } from "./orgs.ts";

const USAGE = `Usage:
  tsx scripts/besu/generate.ts --orgs <orgs.json> --out <dir> [--no-permissioning]
      Writes a new network for the founding organisations: genesis.json, network.json and one
      bundle per node under <dir>/nodes/. Existing node keys in <dir> are kept.

  tsx scripts/besu/generate.ts join --network <dir> --org <org.json> --out <dir> [--org-id <n>]
      Prepares a member joining later: its node bundle and admission.json with the Consortium
      proposals that admit it (--org-id, once Admit has executed, adds the AddNode proposals).

Options:
  --orgs <file>          founding organisations (see scripts/besu/README.md, example-orgs.json)
  --org <file>           one organisation entry, same fields as in the organisations file
  --network <dir>        output directory of the network's generator run
  --out <dir>            where to write
  --org-id <n>           the joining organisation's id in Consortium
  --no-permissioning     leave Besu's onchain permissioning options out of config.toml
                         (for Besu releases after 25.5, which removed them)
  -h, --help             this text`;

const KEY_NOTE: Record<string, string> = {
  generated: "new key (secret, 0600)",
  kept: "existing key kept",
  company: "company holds the private key",
};

type Values = {
  orgs?: string;
  org?: string;
  network?: string;
  out?: string;
  "org-id"?: string;
  "no-permissioning"?: boolean;
  help?: boolean;
};

function usageError(message: string): number {
  console.error(`error: ${message}\n\n${USAGE}`);
  return 2;
}

async function generate(values: Values): Promise<number> {
  if (!values.orgs || !values.out) return usageError("--orgs and --out are required");
  const spec = await loadOrgsFile(values.orgs);
  for (const w of spec.warnings) console.error(`warning: ${w}`);
  // Loaded only for a valid file: it pulls in the Hardhat config (EVM version) and ethers' contracts.
  const { generateNetwork } = await import("./network.ts");
  const net = await generateNetwork(spec, { outDir: values.out, permissioning: !values["no-permissioning"] });
  console.log(`Besu QBFT network written to ${net.outDir}`);
  console.log(`  chain id        ${net.chainId}`);
  console.log(`  Consortium      ${net.consortiumAddress} (implementation ${net.implementationAddress})`);
  console.log(`  validators      ${net.validators.join(", ")}`);
  for (const n of net.nodes) {
    console.log(`  ${n.org} -> nodes/${n.dir}`);
    console.log(`      ${n.validator ? "validator" : "node     "} ${n.nodeAddress}  (${KEY_NOTE[n.nodeKey]})`);
    console.log(`      enode     ${n.enodeUrl}`);
    console.log(`      peer id   ${n.peerId}  (${n.libp2pKey === "company" ? "given" : KEY_NOTE[n.libp2pKey]})`);
  }
  console.log("Node keys are secrets: see SECRETS.txt before sending each nodes/<org> bundle to its organisation.");
  return 0;
}

async function join(values: Values): Promise<number> {
  if (!values.network || !values.org || !values.out) return usageError("join needs --network, --org and --out");
  let orgId: number | undefined;
  if (values["org-id"] !== undefined) {
    orgId = Number(values["org-id"]);
    if (!Number.isInteger(orgId) || orgId < 1 || orgId > 0xffffffff) return usageError("--org-id must be a positive integer");
  }
  let orgInput: unknown;
  try {
    orgInput = JSON.parse(await readFile(values.org, "utf8"));
  } catch (e) {
    throw new OrgsFileError(values.org, [`cannot read it as JSON (${(e as Error).message})`]);
  }
  const { prepareJoin } = await import("./join.ts");
  const admission = await prepareJoin(orgInput, {
    networkDir: values.network,
    outDir: values.out,
    orgId,
    permissioning: !values["no-permissioning"],
  });
  console.log(`Joining member ${admission.organisation}: bundle and admission.json written to ${path.resolve(values.out)}`);
  console.log(`  1. a member sends to ${admission.consortium}: propose(Admit, ...) calldata ${admission.admit.calldata.slice(0, 18)}... (admission.json)`);
  console.log("  2. members vote until the quorum executes it; the new organisation id is in the OrgAdmitted event");
  for (const n of admission.nodes) {
    console.log(`  node ${n.dir}: enode ${n.node.enodeId.slice(0, 16)}... validator ${n.node.validator} peer ${n.node.peerId}`);
    if (!n.addNode) console.log("     re-run with --org-id <id> to get its AddNode proposal");
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const command = argv[0] === "join" ? "join" : "generate";
  let values: Values;
  try {
    ({ values } = parseArgs({
      args: command === "join" ? argv.slice(1) : argv,
      options: {
        orgs: { type: "string" },
        org: { type: "string" },
        network: { type: "string" },
        out: { type: "string" },
        "org-id": { type: "string" },
        "no-permissioning": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    return usageError((e as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    return command === "join" ? await join(values) : await generate(values);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
