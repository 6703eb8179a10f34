/**
 * The workbench's own views of this node's organisation: its shipments on their way in and out
 * (from the chain index), with the identifiers of their items as far as the organisation may read
 * them (visible-identifiers.ts); its devices and data streams (the node's status through
 * `services.devices`, node/devices-view.ts). Only the organisation that runs this node reads them: another
 * member gets 403, an anonymous caller 401.
 */
import type { Context } from "koa";
import type { DevicesAnswer } from "../../lib/api/devices.ts";
import type { MyShipmentsAnswer, ShipmentAnswer } from "../../lib/api/shipments.ts";
import type { IndexQueries } from "../../node/indexer/queries.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { badRequest, forbidden, requireService } from "../errors.ts";
import { bearer, json, problem } from "../openapi.ts";
import { visibleIdentifiers } from "../visible-identifiers.ts";
import { orgNames } from "./trace.ts";

const MAX_SHIPMENTS = 200;

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

export const paths: OpenApiPaths = {
  "/workbench/devices": {
    get: {
      summary: "This organisation's devices and data streams: state, reading rate, late or skewed readings, last anchored window and anchoring lag (owner only)",
      tags: ["workbench"],
      security: bearer,
      responses: {
        "200": json("{ node, at, devices, streams, windows, lastAnchor, anchoringLagS, anchoring, skewedReadings }", {
          type: "object",
          required: ["node", "at", "devices", "streams", "windows", "lastAnchor", "anchoringLagS", "anchoring", "skewedReadings"],
          properties: {
            devices: { type: "array", items: { type: "object", required: ["device", "state", "readings", "gaps", "perMinute"] } },
            streams: { type: "array", items: { type: "object", required: ["stream", "readings", "perMinute", "late", "ahead", "maxLateMs", "maxAheadMs"] } },
            windows: { type: "object", properties: { closed: { type: "integer" }, anchored: { type: "integer" }, pending: { type: "integer" } } },
            lastAnchor: { type: ["object", "null"] },
            anchoringLagS: { type: ["integer", "null"] },
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
