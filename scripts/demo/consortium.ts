/**
 * The demo consortium: a steel mill, a casting supplier, a machining shop, an OEM, a regulator
 * and an accredited test lab, each with its own demo signing account.
 */
import { Role, roleMask, type FounderInit } from "../../lib/consortium.ts";
import { demoWallet } from "./accounts.ts";

export interface DemoOrg {
  key: string;
  name: string;
  roles: Role[];
  /** Index of the organisation's account in the demo mnemonic. */
  accountIndex: number;
}

/** Account 0 deploys; it belongs to no organisation afterwards. */
export const DEPLOYER_INDEX = 0;

export const DEMO_ORGS: DemoOrg[] = [
  { key: "steel", name: "Nordstahl Steel Mill", roles: [Role.Supplier], accountIndex: 1 },
  { key: "foundry", name: "Jiangnan Precision Castings", roles: [Role.Supplier], accountIndex: 2 },
  { key: "machining", name: "Delta Machining Works", roles: [Role.Supplier], accountIndex: 3 },
  { key: "oem", name: "Atlas Motors", roles: [Role.Manufacturer], accountIndex: 4 },
  { key: "regulator", name: "Market Surveillance Authority", roles: [Role.Regulator, Role.Auditor], accountIndex: 5 },
  { key: "lab", name: "Certa Materials Test Lab", roles: [Role.Certifier], accountIndex: 6 },
];

export function demoFounders(): FounderInit[] {
  return DEMO_ORGS.map((o) => ({
    name: o.name,
    roles: roleMask(...o.roles),
    accounts: [demoWallet(o.accountIndex).address],
    nodes: [],
  }));
}
