/**
 * Besu QBFT network generator.
 *
 *   tsx scripts/besu/generate.ts --orgs orgs.json --out DIR [--no-permissioning]
 *   (npm run besu:generate -- --orgs orgs.json --out DIR)
 *
 * Prints only public information (enode URLs, addresses, peer ids, paths). Private keys go to
 * 0600 files and are never printed. See scripts/besu/README.md.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { OrgsFileError, loadOrgsFile } from "./orgs.ts";

const USAGE = `Usage: tsx scripts/besu/generate.ts --orgs <orgs.json> --out <dir> [--no-permissioning]

  --orgs <file>          founding organisations (see scripts/besu/README.md and example-orgs.json)
  --out <dir>            where to write genesis.json, network.json and nodes/<org>/ bundles;
                         existing node keys there are kept
  --no-permissioning     leave Besu's onchain permissioning options out of config.toml
                         (for Besu releases after 25.5, which removed them)
  -h, --help             this text`;

const KEY_NOTE: Record<string, string> = {
  generated: "new key (secret, 0600)",
  kept: "existing key kept",
  company: "company holds the private key",
};

export async function main(argv: string[]): Promise<number> {
  let values: { orgs?: string; out?: string; "no-permissioning"?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        orgs: { type: "string" },
        out: { type: "string" },
        "no-permissioning": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.orgs || !values.out) {
    console.error(`error: --orgs and --out are required\n\n${USAGE}`);
    return 2;
  }
  try {
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
  } catch (e) {
    if (e instanceof OrgsFileError) console.error(`error: ${e.message}`);
    else console.error(`error: ${(e as Error).message}`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
