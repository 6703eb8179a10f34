/**
 * Organisation names in node configs (p2p.follow, retention.followed) resolve to their ids through
 * the Consortium's registry, once at start: the registry is the one source of who is called what.
 */
import type { Consortium } from "../../lib/contracts/types/index.js";

/** The id of the organisation registered under exactly `name`, undefined when none is. */
export async function orgIdByName(consortium: Consortium, name: string): Promise<number | undefined> {
  const count = Number(await consortium.orgCount());
  for (let id = 1; id <= count; id++) {
    const [registered] = await consortium.org(id);
    if (registered === name) return id;
  }
  return undefined;
}
