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
import { id, keccak256, toUtf8Bytes } from "ethers";
import { network } from "hardhat";
import TracemeshModule from "../ignition/modules/Tracemesh.ts";
import { connectContracts } from "../lib/deployment.ts";
import { DEMO_ORGS, demoFounders } from "./demo/consortium.ts";

const root = path.resolve(import.meta.dirname, "..");
const fixture = path.resolve(root, "../shared/fixtures/epcis/JSON/Example_9.6.1-ObjectEvent.jsonld");

const conn = await network.create();
const { ethers } = conn;
const signers = await ethers.getSigners();
const signerOf = (key: string) => signers[DEMO_ORGS.find((o) => o.key === key)!.accountIndex]!;

const deployed = await conn.ignition.deploy(TracemeshModule, {
  displayUi: false,
  parameters: { Tracemesh: { founders: demoFounders() as never } },
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
const key = (label: string) => keccak256(toUtf8Bytes(`urn:epc:id:sgtin:4012345.011111.${label}-${counter++}`));
const eventHash = () => id(`event-${counter++}`);
const ACTIVE = id("urn:epcglobal:cbv:disp:active");

async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  return receipt!.gasUsed;
}

const rows: [string, bigint, string][] = [];
const steel = c.provenance.connect(signerOf("steel"));

const single = key("single");
rows.push(["Provenance: commission one item", await gasOf(steel.commission(single, ACTIVE, eventHash())), "per transaction"]);

const batch = Array.from({ length: 100 }, () => key("batch"));
const batchGas = await gasOf(steel.commissionBatch(id("lot-1"), batch, ACTIVE, eventHash()));
rows.push(["Provenance: commission a batch of 100", batchGas / 100n, `per item (${batchGas} for 100)`]);

const foundryId = await orgId("foundry");
rows.push(["Provenance: ship one item", await gasOf(steel.ship([single], foundryId, true, eventHash())), "by the custodian"]);
rows.push([
  "Provenance: receive one item",
  await gasOf(c.provenance.connect(signerOf("foundry")).receiveShipment([single], eventHash())),
  "by the consignee",
]);

const inputs = batch.slice(0, 10);
rows.push([
  "Provenance: transform 10 -> 1",
  await gasOf(steel.transform(inputs, [key("casting")], `0x${"0".repeat(64)}`, ACTIVE, eventHash())),
  "inputs consumed, output created",
]);

rows.push([
  "Provenance: observe an event",
  await gasOf(steel.observe([key("observed")], eventHash())),
  "the hash of an event that changes no registry state",
]);
const documentCalls = Array.from({ length: 10 }, () => c.provenance.interface.encodeFunctionData("observe", [[key("doc")], eventHash()]));
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
  "first window of a node",
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
  ["TracemeshProxy", await codeSize(addresses.consortium), "in front of each of the five above"],
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
