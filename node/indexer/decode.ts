/**
 * Decoding the logs of the five Tracemesh contracts with the typed bindings' ABIs. Events this
 * version does not know (a later contract version's) decode to undefined and are skipped.
 */
import { type EventFragment, type Interface, type Result, getAddress } from "ethers";
import {
  AccessGrants__factory,
  Certificates__factory,
  Consortium__factory,
  DataAnchors__factory,
  IdentifierNamespaces__factory,
  Provenance__factory,
} from "../../lib/contracts/types/index.js";
import type { ContractAddresses } from "../../lib/deployment.ts";

export type ContractName = keyof ContractAddresses;

export interface RawLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  logIndex: string;
}

/** Where an event happened. */
export interface EventContext {
  block: number;
  time: number;
  tx: string;
  logIndex: number;
}

const INTERFACES: Record<ContractName, Interface> = {
  consortium: Consortium__factory.createInterface(),
  provenance: Provenance__factory.createInterface(),
  certificates: Certificates__factory.createInterface(),
  accessGrants: AccessGrants__factory.createInterface(),
  dataAnchors: DataAnchors__factory.createInterface(),
  identifierNamespaces: IdentifierNamespaces__factory.createInterface(),
};

/** A decoded event: its name and arguments. */
export interface DecodedEvent {
  name: string;
  args: Result;
}

/**
 * Decodes the logs of the five contracts; unknown addresses or topics answer undefined. Topic
 * hashes are computed once here (ethers' parseLog would hash every event signature per log).
 */
export class EventDecoder {
  private readonly byAddress = new Map<string, ContractName>();
  private readonly byTopic = new Map<string, EventFragment>();

  constructor(addresses: ContractAddresses) {
    for (const [name, address] of Object.entries(addresses) as [ContractName, string][]) {
      this.byAddress.set(getAddress(address).toLowerCase(), name);
    }
    for (const [name, iface] of Object.entries(INTERFACES) as [ContractName, Interface][]) {
      iface.forEachEvent((fragment) => this.byTopic.set(`${name}:${fragment.topicHash}`, fragment));
    }
  }

  get addresses(): string[] {
    return [...this.byAddress.keys()];
  }

  decode(log: RawLog): { contract: ContractName; event: DecodedEvent } | undefined {
    const contract = this.byAddress.get(log.address.toLowerCase());
    if (!contract) return undefined;
    const fragment = this.byTopic.get(`${contract}:${log.topics[0]}`);
    if (!fragment) return undefined;
    try {
      return { contract, event: { name: fragment.name, args: INTERFACES[contract].decodeEventLog(fragment, log.data, log.topics) } };
    } catch {
      // A topic we know with data we cannot decode: a later contract version's event.
      return undefined;
    }
  }
}
