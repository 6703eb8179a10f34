/**
 * The GS1 identifier (Digital Link) of an on-chain key, as far as one caller may see it. The chain
 * holds only keys (hashes); identifiers live in EPCIS documents off chain. A key is named only
 * where this node holds a document recorded about it that the caller may read (the one access
 * rule, node/events visibility), so a page never learns a serial or lot through a side door.
 */
import { toEpcisEvent } from "../lib/epcis/events.ts";
import { subjectsOf } from "../lib/epcis/subjects.ts";
import { batchKey, itemKey } from "../lib/identifiers/canonical.ts";
import type { IndexQueries } from "../node/indexer/queries.ts";
import type { GatewayServices } from "./services.ts";

/** Records of one key looked at, at most (its commissioning comes first). */
const RECORDS_PER_KEY = 20;

const keyOfValue = (value: string, key: string): boolean => {
  for (const f of [itemKey, batchKey]) {
    try {
      if (f(value).toLowerCase() === key) return true;
    } catch {
      // not an identifier of this kind
    }
  }
  return false;
};

/** A lookup for one caller (memoised per key for one response): the identifier, or undefined. */
export function visibleIdentifiers(services: GatewayServices, q: IndexQueries, caller: number): (key: string) => Promise<string | undefined> {
  const memo = new Map<string, Promise<string | undefined>>();
  const lookup = async (key: string): Promise<string | undefined> => {
    const store = services.events?.store;
    const visibility = services.events?.visibility;
    if (!store || !visibility) return undefined;
    for (const record of await q.history(key, { limit: RECORDS_PER_KEY })) {
      for (const stored of await store.recordedAs(record.eventHash)) {
        if (stored.recordHash.toLowerCase() !== record.eventHash.toLowerCase()) continue;
        if (!(await visibility.mayRead(stored, caller)).allowed) continue;
        let values: string[];
        try {
          const s = subjectsOf(toEpcisEvent(stored.event));
          values = [...Object.values(s.epcs).flat(), ...Object.values(s.classes).flat()];
        } catch {
          continue;
        }
        const found = values.find((v) => keyOfValue(v, key));
        if (found !== undefined) return found;
      }
    }
    return undefined;
  };
  return (key: string) => {
    const k = key.toLowerCase();
    if (!memo.has(k)) memo.set(k, lookup(k));
    return memo.get(k)!;
  };
}
