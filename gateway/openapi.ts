/**
 * The gateway's OpenAPI 3.1 document: shared components here, and each route module's `paths`
 * (gateway/routes/<area>.ts, listed in routes/index.ts) merged in. A test compares it with the router's registered routes,
 * so a route without documentation, or documentation without a route, fails the build.
 *
 * The documented query parameters of an operation are also enforced: a request with a query
 * parameter its operation does not declare gets 400 (see app.ts), unless the operation sets
 * `x-open-query: true` (e.g. EPCIS queries whose parameter names are open-ended).
 */
import type { OpenApiPaths, RouteModule } from "./context.ts";

/** `{ $ref }` to a problem response, for route modules' `responses`. */
export const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
});

/** JSON response with an inline or referenced schema. */
export const json = (description: string, schema: Record<string, unknown> = { type: "object" }) => ({
  description,
  content: { "application/json": { schema } },
});

/** A required JSON request body with an inline or referenced schema. */
export const jsonBody = (schema: Record<string, unknown>) => ({ required: true, content: { "application/json": { schema } } });

export const bearer = [{ bearerAuth: [] }];

export type OpenApiDocument = Record<string, unknown> & { paths: OpenApiPaths };

export function buildOpenApi(routeModules: Record<string, RouteModule>, version = "0.1.0"): OpenApiDocument {
  const paths: OpenApiPaths = {};
  for (const [name, mod] of Object.entries(routeModules)) {
    for (const [path, item] of Object.entries(mod.paths)) {
      const existing = paths[path];
      if (existing) {
        for (const method of Object.keys(item)) {
          if (method in existing) throw new Error(`OpenAPI: ${method.toUpperCase()} ${path} is documented twice (again by ${name})`);
        }
      }
      paths[path] = { ...existing, ...item };
    }
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Tracemesh gateway",
      version,
      description:
        "HTTP API of a Tracemesh member node: sign-in with an organisation's on-chain account (EIP-4361), certificates (W3C VC 2.0), GS1 Digital Link resolution, read-only chain access, EPCIS 2.0 (capture, queries, top-level identifier lists, master data vocabularies; deviations from GS1's OpenAPI document in lib/epcis/README.md) and traceability queries. Errors are RFC 9457 problem details.",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "From POST /auth/token" },
      },
      schemas: {
        Problem: {
          type: "object",
          required: ["type", "title", "status", "detail"],
          properties: {
            type: { type: "string" },
            title: { type: "string" },
            status: { type: "integer" },
            detail: { type: "string", description: "what was wrong, in words" },
          },
        },
        Linkset: {
          type: "object",
          description: "RFC 9264 linkset: link relation types (URIs) to arrays of target links",
          required: ["linkset"],
          properties: {
            linkset: {
              type: "array",
              items: { type: "object", required: ["anchor"], properties: { anchor: { type: "string" } }, additionalProperties: { type: "array" } },
            },
          },
        },
        JsonRpcRequest: {
          type: "object",
          required: ["jsonrpc", "method"],
          properties: { jsonrpc: { const: "2.0" }, id: {}, method: { type: "string" }, params: { type: "array" } },
        },
        Organisation: {
          type: "object",
          required: ["id", "name"],
          properties: { id: { type: "integer" }, name: { type: "string" } },
        },
      },
    },
  };
}

/** The OpenAPI path template of a @koa/router path: `:id` and `*rest` become `{id}`, `{rest}`. */
export function openApiPathOf(routerPath: string): string {
  return routerPath.replace(/[:*]([A-Za-z_][A-Za-z0-9_]*)/g, "{$1}");
}
