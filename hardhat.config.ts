import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatIgnitionEthers from "@nomicfoundation/hardhat-ignition-ethers";
import hardhatTypechain from "@nomicfoundation/hardhat-typechain";
import { configVariable, defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);
const root = path.dirname(fileURLToPath(import.meta.url));

// Hardhat cannot download compilers on our machines, so the compiler is the `solc` npm package
// (soljson, pinned in package.json); Hardhat needs its absolute path and exact version.
const solcVersion: string = (require("solc/package.json") as { version: string }).version;

// Cancun is what Besu, GoQuorum and every EVM we target run; the Besu genesis generator uses the
// same fork so bytecode and chain agree (see scripts/besu).
export const EVM_VERSION = "cancun";

export default defineConfig({
  plugins: [hardhatEthers, hardhatTypechain, hardhatIgnitionEthers],
  solidity: {
    version: solcVersion,
    path: require.resolve("solc/soljson.js"),
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: { enabled: true, runs: 200 },
      // Storage layouts in the build info: test/contracts/storage-layout.test.ts checks every
      // upgradeable contract against the committed layouts with OpenZeppelin's upgrades-core.
      outputSelection: { "*": { "*": ["storageLayout"] } },
    },
  },
  paths: {
    sources: "./contracts",
    tests: "./test",
  },
  typechain: {
    // One shared home for the generated contract bindings: node, gateway and scripts import them
    // from lib/contracts.
    outDir: path.join(root, "lib/contracts/types"),
  },
  networks: {
    // An in-process EDR chain for tests (vitest calls network.create()).
    default: {
      type: "edr-simulated",
      chainType: "l1",
      hardfork: EVM_VERSION,
      allowUnlimitedContractSize: false,
    },
    // The local demo chain started by `npm start` (anvil with persisted state).
    localhost: {
      type: "http",
      chainType: "l1",
      url: "http://127.0.0.1:8545",
    },
    // Any EVM JSON-RPC chain, e.g. a Besu QBFT network: TRACEMESH_RPC_URL and
    // TRACEMESH_DEPLOYER_KEY come from the environment or Hardhat's keystore, never the repo.
    consortium: {
      type: "http",
      chainType: "l1",
      url: configVariable("TRACEMESH_RPC_URL"),
      accounts: [configVariable("TRACEMESH_DEPLOYER_KEY")],
    },
  },
});
