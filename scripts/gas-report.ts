/**
 * `npm run gas`: gas per operation of the Tracemesh contracts on an in-process chain, deployed
 * through the same Ignition module as every real network, next to a baseline that stores the
 * full EPCIS event on chain, and the deployed code size of each contract against the EIP-170
 * limit. Prints the tables and rewrites them in README.md between the `gas:start` / `gas:end`
 * markers.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { ContractTransactionResponse } from "ethers";
import { id, toUtf8Bytes } from "ethers";
import { network } from "hardhat";
import TracemeshModule from "../ignition/modules/Tracemesh.ts";
import { connectContracts } from "../lib/deployment.ts";
import { batchKey, canonicalIdentifier, itemKey } from "../lib/identifiers/canonical.ts";
import { proveKeysCalls } from "../lib/namespaces.ts";
import { lotUnitBytes } from "../lib/registry.ts";
import { DEMO_ORGS, demoFounders, demoPrefixGrants, peerOnlyNode } from "./demo/consortium.ts";

const root = path.resolve(import.meta.dirname, "..");
const fixture = path.resolve(root, "../shared/fixtures/epcis/JSON/Example_9.6.1-ObjectEvent.jsonld");

const conn = await network.create();
const { ethers } = conn;
const signers = await ethers.getSigners();
const signerOf = (key: string) => signers[DEMO_ORGS.find((o) => o.key === key)!.accountIndex]!;

const deployed = await conn.ignition.deploy(TracemeshModule, {
  displayUi: false,
  // Each organisation with its GS1 Company Prefix and one node identity, as in the demo.
  parameters: {
    Tracemesh: {
      founders: demoFounders(Object.fromEntries(DEMO_ORGS.map((o) => [o.key, [peerOnlyNode(`12D3KooWGas${o.key}`)]]))) as never,
      prefixes: demoPrefixGrants() as never,
    },
  },
});
const addresses = {
  consortium: await deployed.consortium.getAddress(),
  provenance: await deployed.provenance.getAddress(),
  certificates: await deployed.certificates.getAddress(),
  accessGrants: await deployed.accessGrants.getAddress(),
  dataAnchors: await deployed.dataAnchors.getAddress(),
};
const c = connectContracts(addresses, ethers.provider);
const orgId = async (key: string) => Number(await c.consortium.orgOf(signerOf(key).address));

let counter = 0;
// Items and lots under the steel mill's registered prefix; every creating call carries its proofs.
const steelPrefix = DEMO_ORGS.find((o) => o.key === "steel")!.site.companyPrefix;
const identifier = (label: string) => `urn:epc:id:sgtin:${steelPrefix}.011111.${label}-${counter++}`;
const eventHash = () => id(`event-${counter++}`);
const ACTIVE = id("urn:epcglobal:cbv:disp:active");

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  return receipt!.gasUsed;
}

const rows: [string, bigint, string][] = [];
const steel = c.provenance.connect(signerOf("steel"));

const call = (name: string, args: unknown[]) => c.provenance.interface.encodeFunctionData(name as never, args as never);
const proofs = (...ids: string[]) => proveKeysCalls(c.provenance.interface, ids.map((i) => canonicalIdentifier(i)));

const singleId = identifier("single");
const single = itemKey(singleId);
rows.push([
  "Provenance: commission one item",
  await gasOf(steel.multicall([...proofs(singleId), call("commission", [single, ACTIVE, eventHash()])])),
  "per transaction, with its namespace proof",
]);

const batchIds = Array.from({ length: 100 }, () => identifier("batch"));
const batch = batchIds.map((i) => itemKey(i));
const lot = `urn:epc:class:lgtin:${steelPrefix}.011111.LOT-1`;
const batchGas = await gasOf(
  steel.multicall([...proofs(...batchIds, lot), call("commissionBatch", [batchKey(lot), batch, ACTIVE, eventHash()])]),
);
rows.push(["Provenance: commission a batch of 100", batchGas / 100n, `per item (${batchGas} for 100, with proofs)`]);

const foundryId = await orgId("foundry");
rows.push(["Provenance: ship one item", await gasOf(steel.ship([single], foundryId, true, eventHash())), "by the custodian"]);
rows.push([
  "Provenance: receive one item",
  await gasOf(c.provenance.connect(signerOf("foundry")).receiveShipment([single], eventHash())),
  "by the consignee",
]);

// A lot held by quantity (no serials): 1,000 kg commissioned, 400 shipped, 300 received, 100 withdrawn.
const quantityLotId = `urn:epc:class:lgtin:${steelPrefix}.011111.LOT-Q`;
const quantityLot = batchKey(quantityLotId);
const KGM = lotUnitBytes("KGM");
rows.push([
  "Provenance: commission a lot by quantity",
  await gasOf(steel.multicall([...proofs(quantityLotId), call("commissionLot", [quantityLot, 1000, KGM, ACTIVE, eventHash()])])),
  "first quantity of a lot, with its namespace proof",
]);
rows.push(["Provenance: ship a lot quantity", await gasOf(steel.shipLot(quantityLot, 400, KGM, foundryId, eventHash())), "part of what the sender holds"]);
const steelId = await orgId("steel");
rows.push([
  "Provenance: receive a lot quantity",
  await gasOf(c.provenance.connect(signerOf("foundry")).receiveLot(quantityLot, steelId, 300, KGM, eventHash())),
  "by the consignee, less than shipped (the rest stays in transit)",
]);
rows.push([
  "Provenance: withdraw a lot quantity in transit",
  await gasOf(steel.cancelLotShipment(quantityLot, foundryId, 100, KGM, eventHash())),
  "cancelLotShipment, by the sender: what was not received",
]);

const inputs = batch.slice(0, 10);
rows.push([
  "Provenance: transform 10 -> 1",
  await (async () => {
    const output = identifier("casting");
    return gasOf(steel.multicall([...proofs(output), call("transform", [inputs, [itemKey(output)], `0x${"0".repeat(64)}`, ACTIVE, eventHash()])]));
  })(),
  "inputs consumed, output created",
]);

rows.push([
  "Provenance: observe an event",
  await gasOf(steel.observe([batch[50]!], eventHash())),
  "the hash of an event that changes no registry state, by a party",
]);
const documentCalls = Array.from({ length: 10 }, (_, i) => call("observe", [[batch[60 + i]!], eventHash()]));
const documentGas = await gasOf(steel.multicall(documentCalls));
rows.push(["Provenance: one EPCIS document of 10 events", documentGas / 10n, `per event (${documentGas} for 10, multicall)`]);

const scope = id("EN10204-3.1");
const labId = await orgId("lab");
await (await c.certificates.connect(signerOf("regulator")).accredit(labId, scope, 0)).wait();
const now = (await ethers.provider.getBlock("latest"))!.timestamp;
rows.push([
  "Certificates: issue a certificate",
  await gasOf(c.certificates.connect(signerOf("lab")).issue(id("credential-1"), single, scope, now, now + 365 * 86400)),
  "by an accredited certifier",
]);

const oemId = await orgId("oem");
rows.push([
  "AccessGrants: grant access",
  await gasOf(c.accessGrants.connect(signerOf("steel")).grantAccess(oemId, 1, single, id("audit"), 0, 0, now + 30 * 86400)),
  "item with genealogy, 30 days",
]);

const nowMs = BigInt(now) * 1000n;
rows.push([
  "DataAnchors: anchor a window",
  await gasOf(c.dataAnchors.connect(signerOf("steel")).anchor(1, id("root-1"), `0x${"0".repeat(64)}`, nowMs - 1000n, nowMs, 50_000)),
  "first window of an account (binds it to its node)",
]);
rows.push([
  "DataAnchors: anchor the next window",
  await gasOf(c.dataAnchors.connect(signerOf("steel")).anchor(2, id("root-2"), id("root-1"), nowMs, nowMs + 0n + 1n, 50_000)),
  "any later window (chained)",
]);

const documentBytes = toUtf8Bytes(JSON.stringify(JSON.parse(readFileSync(fixture, "utf8"))));
const store = await ethers.deployContract("FullRecordStore");
const fullGas = await gasOf(store.connect(signerOf("steel")).store(id("full"), documentBytes) as Promise<ContractTransactionResponse>);
rows.push([
  "Baseline: the full EPCIS document on chain",
  fullGas,
  `${documentBytes.length} bytes (GS1 example 9.6.1), storage only`,
]);

/** Runtime code size of each deployed contract, read from the chain (the implementations behind the proxies). */
const IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";
const codeSize = async (address: string) => (await ethers.provider.getCode(address)).length / 2 - 1;
const implementationOf = async (proxy: string) => `0x${(await ethers.provider.getStorage(proxy, IMPLEMENTATION_SLOT)).slice(26)}`;
const sizes: [string, number, string][] = [
  ["Consortium", await codeSize(await implementationOf(addresses.consortium)), "entry points, voting, views"],
  ["ConsortiumActions", await codeSize(await c.consortium.actions()), "what each proposal kind checks and changes (delegatecall)"],
  ["BesuPermissioning", await codeSize(await c.consortium.besuPermissioning()), "validators, node and transaction checks (delegatecall)"],
  ["Provenance", await codeSize(await implementationOf(addresses.provenance)), ""],
  ["Certificates", await codeSize(await implementationOf(addresses.certificates)), ""],
  ["AccessGrants", await codeSize(await implementationOf(addresses.accessGrants)), ""],
  ["DataAnchors", await codeSize(await implementationOf(addresses.dataAnchors)), ""],
  ["IdentifierNamespaces", await codeSize(await implementationOf(await c.provenance.namespaces())), "prefixes registered to their holders"],
  ["TracemeshProxy", await codeSize(addresses.consortium), "in front of each of the six above"],
];
await conn.close();

/** EIP-170: the largest runtime code a contract may have. */
const CODE_SIZE_LIMIT = 24_576;
const commissionGas = rows[0]![1];
const table = [
  "| operation | gas | note |",
  "| --- | ---: | --- |",
  ...rows.map(([op, gas, note]) => `| ${op} | ${gas.toLocaleString("en-US")} | ${note} |`),
  "",
  `Storing the full event instead of its hash costs ${(Number(fullGas) / Number(commissionGas)).toFixed(1)}x the gas of ` +
    "commissioning an item with all its custody state, and would put a partner's data in every member's ledger.",
  "",
  "| contract | deployed size (bytes) | of the 24,576-byte limit | note |",
  "| --- | ---: | ---: | --- |",
  ...sizes.map(([name, size, note]) => `| ${name} | ${size.toLocaleString("en-US")} | ${((100 * size) / CODE_SIZE_LIMIT).toFixed(1)}% | ${note} |`),
].join("\n");

console.log(table);
const readmePath = path.join(root, "README.md");
const readme = readFileSync(readmePath, "utf8");
const updated = readme.replace(/<!-- gas:start -->[\s\S]*<!-- gas:end -->/, `<!-- gas:start -->\n${table}\n<!-- gas:end -->`);
if (updated !== readme) writeFileSync(readmePath, updated);
