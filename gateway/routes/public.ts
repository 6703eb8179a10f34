/**
 * What anyone may read without signing in, besides certificate verification and the resolver:
 *
 * - the public passport behind every QR code, GET /passport/{id}: for one item or batch the
 *   caller already names, its status, its maker (who registered it; not who holds it now), whether a
 *   recall reaches it (and whether an item or a batch was recalled) and the status of its
 *   certificates (public on the certificate routes already). The identifier echoed is the one the
 *   caller brought. Nothing else: no EPCIS document, no component, no recall-cause identifier or
 *   recalling organisation (that would name the maker's suppliers), no holdings; those stay
 *   behind sign-in and grants (trace.ts, recall.ts). Beyond these, the fields its maker chose to
 *   show (`fields`, passport.ts), served only by the maker's own member node.
 * - the member directory, GET /consortium/members: each member's name, roles and status. Accounts,
 *   node identities, proposals and votes stay on GET /consortium, for members.
 */
import { STATUS_NAMES } from "../../lib/credentials.ts";
import { PASSPORT_FIELDS } from "../../lib/passport-fields.ts";
import type { PassportAnswer, PassportCertificateAnswer, PublicMemberAnswer } from "../../lib/api/trace.ts";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { notFound, requireService } from "../errors.ts";
import { requireFreshIndex } from "../index-freshness.ts";
import { json, problem } from "../openapi.ts";
import { makerOf, publicPassportFields } from "./passport.ts";
import { parseSubject } from "./trace.ts";

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

export function register(router: GatewayRouter, { services, options }: RouteContext): void {
  router.get("/consortium/members", async (ctx) => {
    const index = requireService(services.index, "chain index");
    await requireFreshIndex(services, index, options.maxIndexLagBlocks);
    ctx.body = (await index.queries.members()).map((m) => ({ id: m.id, name: m.name, roles: m.roleNames, status: m.statusName })) satisfies PublicMemberAnswer[];
  });

  router.get("/passport/:id", async (ctx) => {
    const index = requireService(services.index, "chain index");
    await requireFreshIndex(services, index, options.maxIndexLagBlocks);
    const q = index.queries;
    const subject = parseSubject(String(ctx.params.id));
    const item = subject.kind === "batch" ? undefined : await q.item(subject.key);
    const batch = item ? undefined : await q.batch(subject.key);
    if (!item && !batch) throw notFound(`no item or batch ${subject.identifier ?? subject.key} on chain`);
    const org = async (id: number) => (id === 0 ? null : { id, name: (await q.member(id))?.name ?? `organisation ${id}` });
    const causes = await q.recallCauses(subject.key);
    const certificates: PassportCertificateAnswer[] = [];
    const sources: [string, "item" | "batch"][] = item ? [[subject.key, "item"], ...(item.batch ? [[item.batch, "batch"] as [string, "batch"]] : [])] : [[subject.key, "batch"]];
    for (const [key, of] of sources) {
      for (const c of await q.certificatesOf(key)) {
        certificates.push({ id: c.id, state: STATUS_NAMES[c.status], scope: c.scope, issuer: await org(c.issuer), validFrom: iso(c.validFrom), validUntil: c.validUntil === 0 ? null : iso(c.validUntil), of });
      }
    }
    const makerId = await makerOf(q, subject.key);
    const fields = await publicPassportFields(services, subject, makerId);
    ctx.set("Cache-Control", "no-store");
    ctx.body = {
      kind: item ? "item" : "batch",
      key: subject.key,
      ...(subject.identifier !== undefined ? { identifier: subject.identifier } : {}),
      ...(item ? { status: item.statusName } : {}),
      // Who registered it (the maker whose label it carries), not who holds it now: a visitor who
      // knows a component's serial must not learn its maker's customers.
      maker: await org(makerId),
      // What kind of subject was recalled, never who recalled it: that would name a supplier of
      // the item's maker to anyone who scans it.
      recall: { state: await q.recallState(subject.key, causes), causes: causes.map((c) => ({ kind: c.kind })) },
      certificates,
      ...(Object.keys(fields).length > 0 ? { fields } : {}),
    } satisfies PassportAnswer;
  });
}

export const paths: OpenApiPaths = {
  "/consortium/members": {
    get: {
      summary: "The consortium's members (no sign-in): name, roles and status of each; proposals and votes are on /consortium, for members",
      tags: ["traceability"],
      responses: {
        "200": json("The members", {
          type: "array",
          items: { type: "object", required: ["id", "name", "roles", "status"], properties: { id: { type: "integer" }, name: { type: "string" }, roles: { type: "array", items: { type: "string" } }, status: { type: "string" } } },
        }),
        "503": problem("This node runs no chain index, or its index stopped or trails the chain (Retry-After)"),
      },
    },
  },
  "/passport/{id}": {
    get: {
      summary: "Public passport of an item or batch (no sign-in): status, maker, recall state and certificate status",
      tags: ["traceability"],
      parameters: [{ name: "id", in: "path", required: true, description: "URL-encoded GS1 Digital Link, EPC URI or 0x item key", schema: { type: "string" } }],
      responses: {
        "200": json("The passport", {
          type: "object",
          required: ["kind", "key", "maker", "recall", "certificates"],
          properties: {
            kind: { enum: ["item", "batch"] },
            key: { type: "string" },
            identifier: { type: "string" },
            status: { type: "string" },
            maker: { $ref: "#/components/schemas/Organisation" },
            recall: { type: "object", properties: { state: { enum: ["recalled", "in-scope", "clear"] }, causes: { type: "array", items: { type: "object" } } } },
            certificates: { type: "array", items: { type: "object" } },
            fields: { type: "object", description: "the extra fields its maker chose to show (PASSPORT_FIELDS), from the maker's own member node only", properties: Object.fromEntries(PASSPORT_FIELDS.map((f) => [f, { type: "string" }])) },
          },
        }),
        "400": problem("Malformed id"),
        "404": problem("The chain never saw this item"),
        "503": problem("This node runs no chain index, or its index stopped or trails the chain (Retry-After)"),
      },
    },
  },
};
