/** How a stored EPCIS event is handed out (query results, item histories, the peer network's answers). */

/** The event as handed out: its declared eventID, or its CBV 2.0 hash ID when it declared none. */
export function publishedEvent(e: { event: Record<string, unknown>; hashId: string }): Record<string, unknown> {
  return e.event["eventID"] === undefined ? { ...e.event, eventID: e.hashId } : e.event;
}
