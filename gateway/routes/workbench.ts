/**
 * The workbench's own views of this node's organisation: its shipments on their way in and out
 * (from the chain index), with the identifiers of their items as far as the organisation may read
 * them (visible-identifiers.ts); its devices and data streams (the node's status through
 * `services.devices`, node/devices-view.ts); its items (lib/workbench/stock.ts: the ones its own
 * events brought into its hands) a page at a time, searched and filtered by their chain status
 * here, so a list of thousands never travels whole; its lots held by quantity (quantity on hand
 * per lot, and lot quantities in transit in and out, from the chain index; for a lot on its way in,
 * the sender's party GLNs from this node's directory of parties, so the receiver need not type
 * one). Only the organisation that runs this node reads them: another member gets 403, an
 * anonymous caller 401.
 */
import { createHash } from "node:crypto";
import type { Context } from "koa";
import type { DevicesAnswer } from "../../lib/api/devices.ts";
import type { IncomingLotAnswer, LotInTransitAnswer, MyLotsAnswer } from "../../lib/api/lots.ts";
import type { MyShipmentsAnswer, ShipmentAnswer } from "../../lib/api/shipments.ts";
import type { MyItem, MyItemsAnswer } from "../../lib/api/stock.ts";
import { itemKey } from "../../lib/identifiers/canonical.ts";
import { itemsOfEvents } from "../../lib/workbench/stock.ts";
import type { IndexQueries } from "../../node/indexer/queries.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { badRequest, forbidden, requireService } from "../errors.ts";
import { bearer, json, problem } from "../openapi.ts";
import { visibleIdentifiers } from "../visible-identifiers.ts";
import { itemBody, orgNames } from "./trace.ts";

const MAX_SHIPMENTS = 200;
const MAX_ITEMS_PER_PAGE = 1000;
/** Chain statuses the item list filters by (ItemAnswer.status). */
const ITEM_STATUSES = ["active", "inTransit", "consumed", "assembled"] as const;

export function register(router: GatewayRouter, { services, auth }: RouteContext): void {
  const me = services.organisation;
  const ownerOnly = (what: string) => async (ctx: Context, next: () => Promise<unknown>) => {
    const caller = ctx.state.caller!;
    if (caller.orgId !== me.id) throw forbidden(`the ${what} of ${me.name} are theirs alone; ${caller.orgName} cannot list them`);
    await next();
  };

  router.get("/workbench/devices", auth.requireOrg(), ownerOnly("devices and streams"), (ctx) => {
    ctx.body = requireService(services.devices, "node status")() satisfies DevicesAnswer;
  });

  router.get("/workbench/items", auth.requireOrg(), ownerOnly("items"), async (ctx) => {
    const one = (name: string) => {
      const v = ctx.query[name];
      if (Array.isArray(v)) throw badRequest(`query parameter \`${name}\` is given more than once`);
      return v;
    };
    for (const name of Object.keys(ctx.query))
      if (!["perPage", "nextPageToken", "q", "status"].includes(name)) throw badRequest(`unknown query parameter \`${name}\` (this list takes perPage, nextPageToken, q and status)`);
    const perPageText = one("perPage");
    if (perPageText !== undefined && (!/^\d+$/.test(perPageText) || Number(perPageText) < 1 || Number(perPageText) > MAX_ITEMS_PER_PAGE))
      throw badRequest(`query parameter \`perPage\` must be one integer from 1 to ${MAX_ITEMS_PER_PAGE}, got ${JSON.stringify(perPageText)}`);
    const perPage = perPageText === undefined ? 100 : Number(perPageText);
    const search = (one("q") ?? "").trim().toLowerCase();
    const status = one("status");
    if (status !== undefined && !(ITEM_STATUSES as readonly string[]).includes(status)) throw badRequest(`query parameter \`status\` must be one of ${ITEM_STATUSES.join(", ")}, got ${JSON.stringify(status)}`);
    // The token is the position in the list, bound to the search, filter and page size that made it.
    const bound = createHash("sha256").update(JSON.stringify([search, status ?? null, perPage])).digest("base64url").slice(0, 16);
    const token = one("nextPageToken");
    let from = 0;
    if (token !== undefined) {
      const m = /^i\.(\d{1,9})\.([A-Za-z0-9_-]{16})$/.exec(token);
      if (!m) throw badRequest("nextPageToken is malformed");
      if (m[2] !== bound) throw badRequest("nextPageToken belongs to a different list (q, status and perPage must stay the same)");
      from = Number(m[1]);
    }
    const store = requireService(services.events, "event store").store;
    const q = requireService(services.index, "chain index").queries;
    // The node's own events only ("o"): documents fetched from partners name their items, not ours.
    const events: Record<string, unknown>[] = [];
    let pageToken: string | undefined;
    do {
      const page = await store.query({}, { perPage: 1000, maxScan: 1_000_000, ...(pageToken !== undefined ? { nextPageToken: pageToken } : {}), filter: (e) => e.sid.startsWith("o") });
      for (const e of page.events) events.push(e.event as Record<string, unknown>);
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    const matching = itemsOfEvents(events).filter((id) => search === "" || id.toLowerCase().includes(search) || decodeURIComponent(id).toLowerCase().includes(search));
    const org = orgNames(q);
    const items: MyItem[] = [];
    let at = from;
    for (; at < matching.length && items.length < perPage; at++) {
      const identifier = matching[at]!;
      let view: Awaited<ReturnType<IndexQueries["item"]>>;
      try {
        view = await q.item(itemKey(identifier));
      } catch {
        view = undefined; // not an item identifier the chain keys
      }
      if (status !== undefined && view?.statusName !== status) continue;
      items.push({ identifier, chain: view ? await itemBody({ identifier }, view, org) : null });
    }
    ctx.body = { organisation: me, items, matching: matching.length, ...(at < matching.length ? { nextPageToken: `i.${at}.${bound}` } : {}) } satisfies MyItemsAnswer;
  });

  router.get("/workbench/lots", auth.requireOrg(), ownerOnly("lots"), async (ctx) => {
    for (const name of Object.keys(ctx.query)) throw badRequest(`unknown query parameter \`${name}\` (this list takes none)`);
    const q = requireService(services.index, "chain index").queries;
    const org = orgNames(q);
    const identifier = visibleIdentifiers(services, q, me.id);
    const named = async (lot: string) => (await identifier(lot)) ?? null;
    const [held, incoming, outgoing] = await Promise.all([q.lotHoldings(me.id), q.lotsInTransit(me.id, "in"), q.lotsInTransit(me.id, "out")]);
    const transit = (list: typeof incoming) =>
      Promise.all(list.map(async (t): Promise<LotInTransitAnswer> => ({ lot: t.batch, identifier: await named(t.batch), quantity: t.quantity, unit: t.unit, from: await org(t.from), to: await org(t.to) })));
    // The chain keeps lot quantities per sender, so a receipt names one of the sender's party GLNs,
    // which capture resolves through this same directory (config `parties`).
    const fromParties = (t: LotInTransitAnswer): string[] => (t.from === null ? [] : (services.partyGlns?.(t.from.id) ?? []));
    ctx.body = {
      organisation: me,
      holdings: await Promise.all(held.map(async (h) => ({ lot: h.batch, identifier: await named(h.batch), quantity: h.quantity, unit: h.unit }))),
      incoming: (await transit(incoming)).map((t): IncomingLotAnswer => ({ ...t, fromParties: fromParties(t) })),
      outgoing: await transit(outgoing),
    } satisfies MyLotsAnswer;
  });

  router.get("/workbench/shipments", auth.requireOrg(), ownerOnly("shipments"), async (ctx) => {
    const limitParam = ctx.query["limit"];
    if (limitParam !== undefined && (typeof limitParam !== "string" || !/^\d+$/.test(limitParam) || Number(limitParam) < 1 || Number(limitParam) > MAX_SHIPMENTS))
      throw badRequest(`query parameter \`limit\` must be one integer from 1 to ${MAX_SHIPMENTS}, got ${JSON.stringify(limitParam)}`);
    const limit = limitParam === undefined ? 50 : Number(limitParam);
    const q = requireService(services.index, "chain index").queries;
    const org = orgNames(q);
    const identifier = visibleIdentifiers(services, q, me.id);
    const answer = async (shipments: Awaited<ReturnType<IndexQueries["shipmentsOf"]>>): Promise<ShipmentAnswer[]> =>
      Promise.all(shipments.map((s) => shipmentAnswer(q, s, org, identifier)));
    const incoming = await q.shipmentsOf(me.id, "in", limit);
    // Items a partner ships here are named from the sender's documents, brought over where readable.
    await identifier.fetchMissing(incoming.flatMap((s) => s.items.map((i) => i.item)));
    ctx.body = { organisation: me, incoming: await answer(incoming), outgoing: await answer(await q.shipmentsOf(me.id, "out", limit)) } satisfies MyShipmentsAnswer;
  });
}

async function shipmentAnswer(
  q: IndexQueries,
  s: Awaited<ReturnType<IndexQueries["shipmentsOf"]>>[number],
  org: ReturnType<typeof orgNames>,
  identifier: (key: string) => Promise<string | undefined>,
): Promise<ShipmentAnswer> {
  const first = s.items[0]!;
  const record = await q.record(s.shipRecord);
  // The items in the order the shipping event named them (the index keeps them by key).
  const order = new Map(record?.keys.map((k, i) => [k.toLowerCase(), i]));
  const items = [...s.items].sort((a, b) => (order.get(a.item) ?? 0) - (order.get(b.item) ?? 0));
  return {
    record: s.shipRecord,
    time: record?.time ?? null,
    from: await org(first.from),
    to: await org(first.to),
    transfersOwnership: first.transfersOwnership,
    items: await Promise.all(items.map(async (i) => ({ key: i.item, identifier: (await identifier(i.item)) ?? null, state: i.state }))),
    open: items.filter((i) => i.state === "in-transit").length,
  };
}

const org = { anyOf: [{ $ref: "#/components/schemas/Organisation" }, { type: "null" }] };
const shipment = {
  type: "object",
  required: ["record", "time", "from", "to", "transfersOwnership", "items", "open"],
  properties: {
    record: { type: "integer", description: "the ship record" },
    time: { type: ["integer", "null"], description: "Unix s" },
    from: org,
    to: org,
    transfersOwnership: { type: "boolean" },
    items: {
      type: "array",
      items: {
        type: "object",
        required: ["key", "identifier", "state"],
        properties: {
          key: { type: "string" },
          identifier: { type: ["string", "null"], description: "GS1 Digital Link where this node holds a document about the item the organisation may read" },
          state: { enum: ["in-transit", "received", "cancelled"] },
        },
      },
    },
    open: { type: "integer", description: "items still in transit" },
  },
};

const lotQuantity = {
  lot: { type: "string", description: "the lot's key on chain" },
  identifier: { type: ["string", "null"], description: "GS1 Digital Link where this node holds a document about the lot the organisation may read" },
  quantity: { type: "string", pattern: "^[0-9]+$", description: "whole quantity, as a decimal string" },
  unit: { type: "string", description: "UN/ECE Rec 20 unit code, empty for a count" },
};
const lotInTransit = { type: "object", required: ["lot", "identifier", "quantity", "unit", "from", "to"], properties: { ...lotQuantity, from: org, to: org } };
const incomingLot = {
  ...lotInTransit,
  required: [...lotInTransit.required, "fromParties"],
  properties: {
    ...lotInTransit.properties,
    fromParties: { type: "array", items: { type: "string", pattern: "^[0-9]{13}$" }, description: "the sender's party GLNs in this node's directory of parties (what a receipt names as its sender); empty when it has none" },
  },
};

export const paths: OpenApiPaths = {
  "/workbench/lots": {
    get: {
      summary: "This organisation's lots held by quantity: quantity on hand per lot, and lot quantities in transit in and out (owner only)",
      tags: ["workbench"],
      security: bearer,
      responses: {
        "200": json("{ organisation, holdings, incoming, outgoing }", {
          type: "object",
          required: ["organisation", "holdings", "incoming", "outgoing"],
          properties: {
            organisation: { $ref: "#/components/schemas/Organisation" },
            holdings: { type: "array", items: { type: "object", required: ["lot", "identifier", "quantity", "unit"], properties: lotQuantity } },
            incoming: { type: "array", items: incomingLot },
            outgoing: { type: "array", items: lotInTransit },
          },
        }),
        "400": problem("An unknown query parameter"),
        "401": problem("No token, or an expired or invalid one"),
        "403": problem("The caller is not the organisation that runs this node"),
        "503": problem("This node has no chain index"),
      },
    },
  },
  "/workbench/items": {
    get: {
      summary: "This organisation's items (commissioned, made or received by its own events), a page at a time, searched and filtered by chain status (owner only)",
      tags: ["workbench"],
      security: bearer,
      parameters: [
        { name: "perPage", in: "query", description: "items per page", schema: { type: "integer", minimum: 1, maximum: MAX_ITEMS_PER_PAGE, default: 100 } },
        { name: "nextPageToken", in: "query", description: "from the previous page (same q, status and perPage)", schema: { type: "string" } },
        { name: "q", in: "query", description: "part of the identifier (serial, GTIN, lot), any case", schema: { type: "string" } },
        { name: "status", in: "query", description: "the item's status on chain", schema: { enum: [...ITEM_STATUSES] } },
      ],
      responses: {
        "200": json("{ organisation, items: [{ identifier, chain }], matching, nextPageToken? }", {
          type: "object",
          required: ["organisation", "items", "matching"],
          properties: {
            organisation: { $ref: "#/components/schemas/Organisation" },
            items: { type: "array", items: { type: "object", required: ["identifier", "chain"], properties: { identifier: { type: "string" }, chain: { type: ["object", "null"] } } } },
            matching: { type: "integer", description: "items the search leaves, before the status filter" },
            nextPageToken: { type: "string" },
          },
        }),
        "400": problem("Malformed perPage, status or nextPageToken, or an unknown parameter"),
        "401": problem("No token, or an expired or invalid one"),
        "403": problem("The caller is not the organisation that runs this node"),
        "503": problem("This node has no event store or chain index"),
      },
    },
  },
  "/workbench/devices": {
    get: {
      summary: "This organisation's devices and data streams: state, reading rate, late or skewed readings, last anchored window and anchoring lag (owner only)",
      tags: ["workbench"],
      security: bearer,
      responses: {
        "200": json("{ node, at, devices, streams, windows, lastAnchor, anchoringLagS, anchoring, skewedReadings, historicalReadings }", {
          type: "object",
          required: ["node", "at", "devices", "streams", "windows", "lastAnchor", "anchoringLagS", "anchoring", "skewedReadings", "historicalReadings"],
          properties: {
            devices: { type: "array", items: { type: "object", required: ["device", "state", "readings", "gaps", "perMinute"] } },
            streams: { type: "array", items: { type: "object", required: ["stream", "readings", "perMinute", "late", "ahead", "maxLateMs", "maxAheadMs"] } },
            windows: { type: "object", properties: { closed: { type: "integer" }, anchored: { type: "integer" }, pending: { type: "integer" } } },
            lastAnchor: { type: ["object", "null"] },
            anchoringLagS: { type: ["integer", "null"] },
            historicalReadings: { type: "integer" },
          },
        }),
        "401": problem("No token, or an expired or invalid one"),
        "403": problem("The caller is not the organisation that runs this node"),
        "503": problem("This gateway runs without its node's status"),
      },
    },
  },
  "/workbench/shipments": {
    get: {
      summary: "This organisation's shipments on their way in and out, with their items and what became of each (owner only)",
      tags: ["workbench"],
      security: bearer,
      parameters: [{ name: "limit", in: "query", description: "ship records per direction, newest first", schema: { type: "integer", minimum: 1, maximum: MAX_SHIPMENTS, default: 50 } }],
      responses: {
        "200": json("{ organisation, incoming, outgoing }: per ship record its sender, receiver, time and items (key, identifier where readable, state)", {
          type: "object",
          required: ["organisation", "incoming", "outgoing"],
          properties: {
            organisation: { $ref: "#/components/schemas/Organisation" },
            incoming: { type: "array", items: shipment },
            outgoing: { type: "array", items: shipment },
          },
        }),
        "400": problem("Malformed `limit`"),
        "401": problem("No token, or an expired or invalid one"),
        "403": problem("The caller is not the organisation that runs this node"),
        "503": problem("This node has no chain index"),
      },
    },
  },
};
