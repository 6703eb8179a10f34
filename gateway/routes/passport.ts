/**
 * The maker's choice of extra fields on its items' public passports (lib/passport-fields.ts):
 * GET /passport/{id}/fields shows the maker what each field would say and which are chosen;
 * PUT /passport/{id}/fields sets the choice. Both are for the organisation that runs this node
 * and made the item (registered it on chain) only: another member gets 403 (also a maker asking
 * another member's gateway), anonymous callers and bad tokens 401. The choice is kept by this
 * node (node/passport/choices.ts); GET /passport/{id} (public.ts) adds the chosen fields, and
 * only those, computed here from this node's own data.
 */
import type { Context } from "koa";
import type { PassportFieldsAnswer } from "../../lib/api/trace.ts";
import { parseIdentifier } from "../../lib/identifiers/canonical.ts";
import { PASSPORT_FIELDS, type PassportField, isPassportField } from "../../lib/passport-fields.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { badRequest, forbidden, notFound, requireService } from "../errors.ts";
import { requireFreshIndex } from "../index-freshness.ts";
import { bearer, json, jsonBody, problem } from "../openapi.ts";
import type { EventsService, GatewayServices, IndexService } from "../services.ts";
import { type Subject, parseSubject } from "./trace.ts";

type Queries = IndexService["queries"];

/** The organisation that registered an item or batch (the first record's), or 0 when the chain never saw it. */
export async function makerOf(q: Queries, key: string): Promise<number> {
  const first = (await q.history(key, { limit: 1 }))[0]?.org;
  if (first !== undefined) return first;
  return (await q.item(key))?.ownerOrg ?? (await q.batch(key))?.owner ?? 0;
}

/** An ILMD or master data value by its CBV attribute name, whatever prefix spells it (cbvmda:, urn:epcglobal:cbv:mda:, gs1:, https://gs1.org/voc/). */
function attribute(record: Readonly<Record<string, unknown>> | undefined, ...names: string[]): string | null {
  for (const [k, v] of Object.entries(record ?? {})) {
    const local = k.split(/[:/#]/).pop();
    if (local !== undefined && names.includes(local) && (typeof v === "string" || typeof v === "number") && String(v).trim() !== "") return String(v).trim().slice(0, 500);
  }
  return null;
}

/**
 * What each passport field says for `identifier`, from the data `org` (this node's organisation,
 * the maker) holds: its master data of the product and its own commissioning event. A field this
 * node holds nothing for is null.
 */
export async function passportFieldValues(events: EventsService | undefined, identifier: string, org: number): Promise<Record<PassportField, string | null>> {
  const values: Record<PassportField, string | null> = { productName: null, productDescription: null, productionDate: null, lot: null, countryOfOrigin: null };
  const parsed = parseIdentifier(identifier);
  values.lot = parsed.qualifiers.find((q) => q.ai === "10")?.value ?? null;
  if (events === undefined) return values;
  const product =
    parsed.primary.ai === "01" ? (await events.store.masterData("EPCClass", { ids: [`https://id.gs1.org/01/${parsed.primary.value}`] })).find((e) => e.owner === org) : undefined;
  values.productName = attribute(product?.attributes, "name");
  values.productDescription = attribute(product?.attributes, "descriptionShort", "description", "tradeItemDescription");
  const commissioning = (await events.store.query({ anyEpc: [identifier], bizStep: ["commissioning"] }, { perPage: 1, filter: (e) => e.owner === org })).events[0]?.event;
  const ilmd = commissioning?.["ilmd"] as Record<string, unknown> | undefined;
  values.lot ??= attribute(ilmd, "lotNumber");
  const eventTime = typeof commissioning?.["eventTime"] === "string" ? commissioning["eventTime"].slice(0, 10) : null;
  values.productionDate = attribute(ilmd, "productionDate") ?? eventTime;
  values.countryOfOrigin = attribute(ilmd, "countryOfOrigin") ?? attribute(product?.attributes, "countryOfOrigin");
  return values;
}

/**
 * The fields the maker chose for `subject`, with their values, as GET /passport/{id} serves them:
 * only when this node's organisation made it and the visitor brought its identifier (a key alone
 * names no lot, and this node would otherwise reveal it); empty otherwise.
 */
export async function publicPassportFields(services: GatewayServices, subject: Subject, maker: number): Promise<Partial<Record<PassportField, string>>> {
  if (services.passportChoices === undefined || subject.identifier === undefined || maker !== services.organisation.id) return {};
  const choice = await services.passportChoices.get(subject.key);
  if (choice === undefined || choice.fields.length === 0) return {};
  const values = await passportFieldValues(services.events, subject.identifier, maker);
  const out: Partial<Record<PassportField, string>> = {};
  for (const f of choice.fields) if (values[f] !== null) out[f] = values[f];
  return out;
}

export function register(router: GatewayRouter, { services, auth, readJson, options }: RouteContext): void {
  /** The subject, once the caller is shown to be this node's organisation and its maker. */
  const ownSubject = async (ctx: Context): Promise<Subject> => {
    const caller = ctx.state.caller!;
    if (caller.orgId !== services.organisation.id) {
      throw forbidden(`this gateway sets passports for ${services.organisation.name}'s items only; ${caller.orgName} must use its own member's gateway`);
    }
    const subject = parseSubject(String(ctx.params.id));
    if (subject.identifier === undefined) throw badRequest("name the item by its identifier (GS1 Digital Link or EPC URI), not its key: the passport's fields are computed from it");
    const index = await requireFreshIndex(services, requireService(services.index, "chain index"), options.maxIndexLagBlocks);
    const maker = await makerOf(index.queries, subject.key);
    if (maker === 0) throw notFound(`no item or batch ${subject.identifier} on chain`);
    if (maker !== caller.orgId) throw forbidden(`${subject.identifier} was registered by another organisation; only its maker chooses what its passport shows`);
    return subject;
  };
  const answer = async (subject: Subject): Promise<PassportFieldsAnswer> => {
    const store = requireService(services.passportChoices, "passport choices");
    const choice = await store.get(subject.key);
    return {
      identifier: subject.identifier!,
      chosen: choice?.fields ?? [],
      values: await passportFieldValues(services.events, subject.identifier!, services.organisation.id),
      ...(choice?.updatedAt ? { updatedAt: choice.updatedAt } : {}),
    };
  };

  router.get("/passport/:id/fields", auth.requireOrg(), async (ctx) => {
    const subject = await ownSubject(ctx);
    ctx.set("Cache-Control", "no-store");
    ctx.body = await answer(subject);
  });

  router.put("/passport/:id/fields", auth.requireOrg(), async (ctx) => {
    const subject = await ownSubject(ctx);
    const store = requireService(services.passportChoices, "passport choices");
    const body = await readJson(ctx);
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("the body must be a JSON object { fields: [...] }");
    const extra = Object.keys(body).filter((k) => k !== "fields");
    if (extra.length > 0) throw badRequest(`unknown field${extra.length > 1 ? "s" : ""} ${extra.map((k) => `\`${k}\``).join(", ")}`);
    const fields = (body as { fields?: unknown }).fields;
    if (!Array.isArray(fields) || fields.length > PASSPORT_FIELDS.length) throw badRequest(`\`fields\` must be a list of at most ${PASSPORT_FIELDS.length} of ${PASSPORT_FIELDS.join(", ")}`);
    const wrong = fields.filter((f) => !isPassportField(f));
    if (wrong.length > 0) throw badRequest(`\`fields\` names ${wrong.map((f) => JSON.stringify(f)).join(", ")}; a passport field is one of ${PASSPORT_FIELDS.join(", ")}`);
    // Kept in the catalogue's order, each once.
    await store.put(subject.key, { fields: PASSPORT_FIELDS.filter((f) => fields.includes(f)), updatedAt: new Date(options.clock()).toISOString() });
    ctx.set("Cache-Control", "no-store");
    ctx.body = await answer(subject);
  });
}

const fieldsAnswer = json("The fields chosen and what each would say (null: this node holds nothing for it)", {
  type: "object",
  required: ["identifier", "chosen", "values"],
  properties: {
    identifier: { type: "string" },
    chosen: { type: "array", items: { enum: [...PASSPORT_FIELDS] } },
    values: { type: "object", properties: Object.fromEntries(PASSPORT_FIELDS.map((f) => [f, { type: ["string", "null"] }])) },
    updatedAt: { type: "string", format: "date-time" },
  },
});
const idParameter = { name: "id", in: "path", required: true, description: "URL-encoded GS1 Digital Link or EPC URI of an item or batch this organisation made", schema: { type: "string" } };
const denied = {
  "400": problem("Malformed id (or a bare key), or a malformed body"),
  "401": problem("No token, or an expired or invalid one"),
  "403": problem("The caller is not the organisation that runs this node, or it did not make the item"),
  "404": problem("The chain never saw this item"),
  "503": problem("This node keeps no passport choices, or its chain index trails the chain"),
};

export const paths: OpenApiPaths = {
  "/passport/{id}/fields": {
    get: {
      summary: "The extra fields this organisation shows on the public passport of an item it made, and what each would say (the maker only)",
      tags: ["traceability"],
      security: bearer,
      parameters: [idParameter],
      responses: { "200": fieldsAnswer, ...denied },
    },
    put: {
      summary: "Chooses the extra fields the public passport of an item this organisation made shows (the maker only, on its own member's gateway)",
      tags: ["traceability"],
      security: bearer,
      parameters: [idParameter],
      requestBody: jsonBody({ type: "object", required: ["fields"], additionalProperties: false, properties: { fields: { type: "array", maxItems: PASSPORT_FIELDS.length, items: { enum: [...PASSPORT_FIELDS] } } } }),
      responses: { "200": fieldsAnswer, ...denied },
    },
  },
};
