/**
 * An organisation's items: the ones its own events brought into its hands (commissioned, made by a
 * transformation, received), in the order of the events given (the event store's: event time). The gateway's GET /workbench/items pages through
 * them; the chain index says what became of each.
 */
type Ev = Record<string, unknown>;

const list = (e: Ev, k: string) => (Array.isArray(e[k]) ? (e[k] as unknown[]).filter((x): x is string => typeof x === "string") : []);

/** Identifiers the organisation's own events brought into its hands, first seen first. */
export function itemsOfEvents(events: Iterable<Ev>): string[] {
  const ids = new Set<string>();
  for (const e of events) {
    const step = String(e["bizStep"] ?? "");
    if (e["type"] === "ObjectEvent" && e["action"] === "ADD" && step.endsWith("commissioning")) list(e, "epcList").forEach((i) => ids.add(i));
    else if (e["type"] === "ObjectEvent" && step.endsWith("receiving")) list(e, "epcList").forEach((i) => ids.add(i));
    else if (e["type"] === "TransformationEvent") list(e, "outputEPCList").forEach((i) => ids.add(i));
  }
  return [...ids];
}
