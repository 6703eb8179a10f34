/**
 * A separate indexer process for the crash test: indexes the deployment one block per range and
 * prints `block N` after each committed block, until it is killed or reaches the head.
 * Usage: node --import tsx test/node/indexer/indexer-child.ts <rpc url> <deployment.json> <index dir>
 */
import { readDeployment } from "../../../lib/deployment.ts";
import { rpcProvider } from "../../../node/chain/client.ts";
import { Indexer } from "../../../node/indexer/index.ts";

const [url, deploymentFile, dir] = process.argv.slice(2);
if (!url || !deploymentFile || !dir) {
  console.error("usage: indexer-child.ts <rpc url> <deployment.json> <index dir>");
  process.exit(2);
}
const deployment = readDeployment(deploymentFile);
const indexer = await Indexer.open({
  provider: rpcProvider(url, deployment.chainId),
  deployment,
  store: dir,
  maxRange: 1,
  onBlock: (n) => process.stdout.write(`block ${n}\n`),
});
process.stdout.write(`start ${indexer.indexedBlock}\n`);
await indexer.sync();
process.stdout.write("done\n");
await indexer.stop();
process.exit(0);
