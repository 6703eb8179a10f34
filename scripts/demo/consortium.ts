/**
 * The demo consortium: a steel mill, a casting supplier, a machining shop, an OEM, the regulator,
 * and the test lab the regulator accredits (a separate organisation: a regulator does not
 * accredit itself), each with its own demo signing account, and one member node each.
 */
import { Role, roleMask, type FounderInit, type NodeIdentityInit, ZERO_ADDRESS } from "../../lib/consortium.ts";
import { prefixGrant } from "../../lib/namespaces.ts";
import { demoWallet } from "./accounts.ts";
import type { Site } from "./story.ts";

/** Which simulated plant-floor devices an organisation's node reads. */
export type DemoDevices = "furnace" | "coolant" | "machining-line" | "assembly-line";

export interface DemoOrg {
  key: "steel" | "foundry" | "machining" | "oem" | "regulator" | "lab";
  name: string;
  roles: Role[];
  /** Index of the organisation's account in the demo mnemonic (people sign in with it). */
  accountIndex: number;
  /** Index of the account its member node signs with (anchors, captured events). */
  nodeAccountIndex: number;
  /** GS1 company prefix (952xxxx: GS1's range for demonstrations) and site location reference. */
  site: Site;
  devices: DemoDevices[];
}

/** Account 0 deploys; it belongs to no organisation afterwards. */
export const DEPLOYER_INDEX = 0;

export const DEMO_ORGS: DemoOrg[] = [
  { key: "steel", name: "Nordstahl Steel Mill", roles: [Role.Supplier], accountIndex: 1, nodeAccountIndex: 11, site: { companyPrefix: "9521001", location: "00001" }, devices: ["furnace"] },
  { key: "foundry", name: "Jiangnan Precision Castings", roles: [Role.Supplier], accountIndex: 2, nodeAccountIndex: 12, site: { companyPrefix: "9521002", location: "00001" }, devices: ["coolant"] },
  { key: "machining", name: "Delta Machining Works", roles: [Role.Supplier], accountIndex: 3, nodeAccountIndex: 13, site: { companyPrefix: "9521003", location: "00001" }, devices: ["machining-line"] },
  { key: "oem", name: "Atlas Motors", roles: [Role.Manufacturer], accountIndex: 4, nodeAccountIndex: 14, site: { companyPrefix: "9521004", location: "00001" }, devices: ["assembly-line"] },
  { key: "regulator", name: "Market Surveillance Authority", roles: [Role.Regulator, Role.Auditor], accountIndex: 5, nodeAccountIndex: 15, site: { companyPrefix: "9521005", location: "00001" }, devices: [] },
  { key: "lab", name: "Certa Materials Test Lab", roles: [Role.Certifier], accountIndex: 6, nodeAccountIndex: 16, site: { companyPrefix: "9521006", location: "00001" }, devices: [] },
];

/** The stream each producing organisation binds to its process step; the OEM follows the suppliers'. */
export const STEP_STREAMS: Partial<Record<DemoOrg["key"], string>> = {
  steel: "furnace-1/temperature",
  foundry: "coolant-1/supplyTemperature",
  machining: "Tracemesh/machining/CNC1/Spindle/Load",
  oem: "Tracemesh/oem/Tightening1/Torque",
};

/**
 * What each supplier lets the OEM read, and the OEM follows (keeps a verified copy of): the mill
 * its whole furnace record, since the OEM's quality needs the melt temperature, its phase and the
 * heat number that tie it to a heat, and its product carbon footprint the furnace's energy (its
 * power); the others their step stream. A partner's copy is also what a member gets its lost
 * readings back from (`repair --from-partners`), and a window comes back only whole: a stream no
 * partner follows would leave every window holding it lost.
 */
export const SHARED_WITH_OEM: Record<"steel" | "foundry" | "machining", string[]> = {
  steel: ["furnace-1/temperature", "furnace-1/power", "furnace-1/heat", "furnace-1/phase"],
  foundry: [STEP_STREAMS.foundry!],
  machining: [STEP_STREAMS.machining!],
};

export const demoOrg = (key: DemoOrg["key"]): DemoOrg => DEMO_ORGS.find((o) => o.key === key)!;

/** A node identity with only a libp2p peer id (the demo runs no Besu). */
export const peerOnlyNode = (peerId: string): NodeIdentityInit => ({ peerId, enodeId: "", enodeHost: "", enodePort: 0, validator: ZERO_ADDRESS });

/** Each organisation's GS1 Company Prefix, registered to it at deployment (ids follow DEMO_ORGS' order). */
export function demoPrefixGrants(): { prefix: string; orgId: number }[] {
  return DEMO_ORGS.map((o, i) => prefixGrant(o.site.companyPrefix, i + 1));
}

/**
 * The founders for the Ignition module. With `nodes`, each organisation also gets its member
 * node's signing account and its node identities.
 */
export function demoFounders(nodes?: Partial<Record<DemoOrg["key"], NodeIdentityInit[]>>): FounderInit[] {
  return DEMO_ORGS.map((o) => ({
    name: o.name,
    roles: roleMask(...o.roles),
    accounts: nodes ? [demoWallet(o.accountIndex).address, demoWallet(o.nodeAccountIndex).address] : [demoWallet(o.accountIndex).address],
    nodes: nodes?.[o.key] ?? [],
  }));
}
