/**
 * Consortium predeployed in the genesis `alloc`: the implementation and its TracemeshProxy at fixed
 * addresses, with the storage that Consortium.initialize really wrote.
 *
 * Nothing is hand-computed. In a throwaway anvil (cancun, like the contracts and the genesis):
 *  1. the implementation is deployed by an ordinary transaction (its constructor disables
 *     initializers and deploys the two codes it delegates to, ConsortiumActions and
 *     BesuPermissioning), then its runtime code is moved to the fixed implementation address. UUPS
 *     keeps `address(this)` of the implementation in an immutable (`__self`), so that one word is
 *     rewritten at the offsets solc reports in `immutableReferences`, and nothing else. The
 *     delegated codes stay where the implementation created them (its immutables name those
 *     addresses, which depend only on the throwaway chain's deployer and nonce, so the genesis is
 *     reproducible) and go into `alloc` as they are;
 *  2. the proxy is deployed by an ordinary transaction with `initialize(founders, quorum, period)`
 *     as its init call, which runs the initializer against the relocated implementation;
 *  3. the proxy's code and storage are moved to the fixed Consortium address (its state holds no
 *     address of its own: the ERC-1967 slot points at the fixed implementation);
 *  4. the relocated contract is checked through its ABI (validators, enodes, accounts, the UUPS
 *     guard), then `anvil_dumpState` gives the code, storage and nonce that go into `alloc`.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { Contract, ContractFactory, type InterfaceAbi, JsonRpcProvider, getAddress, toBeHex, toQuantity, zeroPadValue } from "ethers";
import type { FounderInit } from "../../lib/consortium.ts";
import type { Consortium } from "../../lib/contracts/types/index.js";
import { EVM_VERSION } from "./evm.ts";
import { startAnvil } from "../local-chain/anvil.ts";
import { TracemeshError } from "../../lib/errors.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** keccak256("eip1967.proxy.implementation") - 1 (ERC-1967). */
export const ERC1967_IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";

interface Artifact {
  contractName: string;
  abi: InterfaceAbi;
  bytecode: string;
  deployedBytecode: string;
  immutableReferences?: Record<string, { start: number; length: number }[]>;
}

export class ArtifactsMissingError extends TracemeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("invalid-config", message, options);
  }
}

export async function loadArtifact(name: string, artifactsDir = path.join(repoRoot, "artifacts")): Promise<Artifact> {
  const file = path.join(artifactsDir, "contracts", `${name}.sol`, `${name}.json`);
  try {
    return JSON.parse(await readFile(file, "utf8")) as Artifact;
  } catch {
    throw new ArtifactsMissingError(`${file} not found: compile the contracts first (npm run build)`);
  }
}

/**
 * An account in a genesis `alloc`, in the hex form Besu and geth-style loaders both read. No
 * "comment" field: Besu tolerates one, but strict loaders (anvil, geth) refuse unknown fields.
 */
export interface GenesisAccount {
  balance: string;
  nonce?: string;
  code?: string;
  storage?: Record<string, string>;
}

export interface PredeployInput {
  founders: FounderInit[];
  quorumBps: number;
  votingPeriodSeconds: number;
  chainId: number;
  consortiumAddress: string;
  implementationAddress: string;
  /** Validator addresses that getValidators() must answer, in registration order. */
  expectedValidators: string[];
  artifactsDir?: string;
}

export interface Predeployed {
  alloc: Record<string, GenesisAccount>;
  /** Byte offsets of the `address(this)` immutable rewritten in the implementation's runtime code. */
  patchedImmutableOffsets: number[];
}

type DumpedAccount = { nonce: number | string; balance: string; code: string; storage: Record<string, string> };

async function dumpAccounts(provider: JsonRpcProvider): Promise<Record<string, DumpedAccount>> {
  const raw: string = await provider.send("anvil_dumpState", []);
  const bytes = Buffer.from(raw.slice(2), "hex");
  // anvil gzips the dump (magic 1f 8b); accept a plain JSON dump too.
  const text = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString("utf8") : bytes.toString("utf8");
  const state = JSON.parse(text) as { accounts: Record<string, DumpedAccount> };
  const out: Record<string, DumpedAccount> = {};
  for (const [a, acc] of Object.entries(state.accounts)) out[a.toLowerCase()] = acc;
  return out;
}

const word = (hex: string) => zeroPadValue(toBeHex(BigInt(hex)), 32);

/** Storage as 32-byte words, sorted by slot, zero words dropped: a stable genesis for stable input. */
function sortedStorage(storage: Record<string, string>): Record<string, string> {
  const words = Object.entries(storage)
    .map(([k, v]) => [word(k), word(v)] as const)
    .filter(([, v]) => BigInt(v) !== 0n)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(words);
}

/** Replaces the immutable `from` (an address word) by `to` at solc's reported offsets. */
export function relocateImmutables(
  runtimeCode: string,
  immutableReferences: Artifact["immutableReferences"],
  from: string,
  to: string,
): { code: string; offsets: number[] } {
  const code = Buffer.from(runtimeCode.slice(2), "hex");
  const fromWord = Buffer.from(zeroPadValue(from, 32).slice(2), "hex");
  const toWord = Buffer.from(zeroPadValue(to, 32).slice(2), "hex");
  const offsets: number[] = [];
  for (const refs of Object.values(immutableReferences ?? {})) {
    for (const { start, length } of refs) {
      if (length !== 32) continue;
      const current = code.subarray(start, start + 32);
      if (current.equals(fromWord)) {
        toWord.copy(code, start);
        offsets.push(start);
      }
    }
  }
  return { code: `0x${code.toString("hex")}`, offsets };
}

export async function predeployConsortium(input: PredeployInput): Promise<Predeployed> {
  const consortiumArtifact = await loadArtifact("Consortium", input.artifactsDir);
  const proxyArtifact = await loadArtifact("TracemeshProxy", input.artifactsDir);
  const implAddress = getAddress(input.implementationAddress);
  const proxyAddress = getAddress(input.consortiumAddress);

  const anvil = await startAnvil([
    "--hardfork",
    EVM_VERSION,
    "--chain-id",
    String(input.chainId),
    "--gas-limit",
    "1000000000",
    "--accounts",
    "1",
  ]);
  const provider = new JsonRpcProvider(anvil.url, input.chainId, { staticNetwork: true, cacheTimeout: -1 });
  const implContractAt = (address: string) => new Contract(address, consortiumArtifact.abi, provider) as unknown as Consortium;
  try {
    const deployer = await provider.getSigner(0);

    // 1. Implementation, relocated with its `__self` immutable rewritten.
    const impl = await new ContractFactory(consortiumArtifact.abi, consortiumArtifact.bytecode, deployer).deploy();
    await impl.waitForDeployment();
    const deployedImpl = await impl.getAddress();
    const { code: implCode, offsets } = relocateImmutables(
      await provider.getCode(deployedImpl),
      consortiumArtifact.immutableReferences,
      deployedImpl,
      implAddress,
    );
    if (offsets.length === 0) throw new Error("Consortium has no `address(this)` immutable to relocate: did UUPSUpgradeable change?");
    await provider.send("anvil_setCode", [implAddress, implCode]);
    await provider.send("anvil_setNonce", [implAddress, "0x1"]);
    const implState = (await dumpAccounts(provider))[deployedImpl.toLowerCase()]!;
    for (const [slot, value] of Object.entries(implState.storage)) {
      await provider.send("anvil_setStorageAt", [implAddress, word(slot), word(value)]);
    }

    // The codes the implementation delegates to, kept at the addresses it created them at.
    const delegated = [await implContractAt(deployedImpl).actions(), await implContractAt(deployedImpl).besuPermissioning()].map((a) => getAddress(a));

    // 2. Proxy whose constructor runs the real initializer.
    const consortiumIface = new Contract(implAddress, consortiumArtifact.abi).interface;
    const initCall = consortiumIface.encodeFunctionData("initialize", [
      input.founders,
      input.quorumBps,
      input.votingPeriodSeconds,
    ]);
    const proxy = await new ContractFactory(proxyArtifact.abi, proxyArtifact.bytecode, deployer).deploy(implAddress, initCall);
    await proxy.waitForDeployment();
    const deployedProxy = await proxy.getAddress();

    // 3. Move the proxy to the fixed address.
    const proxyState = (await dumpAccounts(provider))[deployedProxy.toLowerCase()]!;
    await provider.send("anvil_setCode", [proxyAddress, proxyState.code]);
    await provider.send("anvil_setNonce", [proxyAddress, "0x1"]);
    for (const [slot, value] of Object.entries(proxyState.storage)) {
      await provider.send("anvil_setStorageAt", [proxyAddress, word(slot), word(value)]);
    }

    // 4. Check the relocated contract through its ABI before anything is written.
    const consortium = new Contract(proxyAddress, consortiumArtifact.abi, provider) as unknown as Consortium;
    const validators = (await consortium.getValidators()).map((v) => getAddress(v));
    const expected = input.expectedValidators.map((v) => getAddress(v));
    if (JSON.stringify(validators) !== JSON.stringify(expected)) {
      throw new Error(`predeployed getValidators() answered ${validators.join(", ")}, expected ${expected.join(", ")}`);
    }
    for (const f of input.founders) {
      for (const a of f.accounts) {
        if (!(await consortium.transactionAllowed(a, proxyAddress, 0, 0, 0, "0x"))) {
          throw new Error(`predeployed transactionAllowed refuses founder account ${a}`);
        }
      }
      for (const n of f.nodes) {
        if (!(await consortium.connectionAllowed(n.enodeId, n.enodeHost, n.enodePort))) {
          throw new Error(`predeployed connectionAllowed refuses founder node ${n.enodeId}`);
        }
      }
    }
    const implSlot = await provider.getStorage(proxyAddress, ERC1967_IMPLEMENTATION_SLOT);
    if (getAddress(`0x${implSlot.slice(26)}`) !== implAddress) throw new Error("ERC-1967 slot does not point at the implementation");
    // UUPS guard: the relocated implementation must recognise itself (proxiableUUID is `notDelegated`).
    const implContract = implContractAt(implAddress);
    if ((await implContract.proxiableUUID()) !== ERC1967_IMPLEMENTATION_SLOT) throw new Error("implementation's proxiableUUID is wrong");

    for (const a of delegated) {
      if ((await provider.getCode(a)) === "0x") throw new Error(`delegated code at ${a} is missing`);
    }

    const accounts = await dumpAccounts(provider);
    const entry = (address: string): GenesisAccount => {
      const acc = accounts[address.toLowerCase()]!;
      return {
        balance: "0x0",
        nonce: toQuantity(BigInt(acc.nonce)),
        code: acc.code,
        storage: sortedStorage(acc.storage),
      };
    };
    return {
      alloc: {
        [proxyAddress.toLowerCase()]: entry(proxyAddress),
        [implAddress.toLowerCase()]: entry(implAddress),
        ...Object.fromEntries(delegated.map((a) => [a.toLowerCase(), entry(a)])),
      },
      patchedImmutableOffsets: offsets,
    };
  } finally {
    provider.destroy();
    await anvil.stop();
  }
}
