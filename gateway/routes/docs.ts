/**
 * GET /openapi.json and a browsable page at /docs (swagger-ui-dist from node_modules, no CDN;
 * its start-up script is a file, not inline, so the strict CSP holds).
 */
import { createReadStream } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { GatewayRouter, OpenApiPaths, RouteContext } from "../context.ts";
import { notFound } from "../errors.ts";

const require = createRequire(import.meta.url);
const uiDir = path.dirname(require.resolve("swagger-ui-dist/package.json"));
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css",
  "swagger-ui-bundle.js": "application/javascript",
  "swagger-ui-standalone-preset.js": "application/javascript",
  "favicon-32x32.png": "image/png",
  "favicon-16x16.png": "image/png",
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tracemesh gateway API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

/** CSP hash of the inline style swagger-ui-dist 5.35.0 applies (test/gateway/docs-browser.test.ts catches a change). */
const SWAGGER_UI_STYLE = "sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w=";

const INIT = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout" });
`;

export function register(router: GatewayRouter, { openapi }: RouteContext): void {
  router.get("/openapi.json", (ctx) => {
    ctx.body = openapi;
  });
  router.get("/docs", (ctx) => {
    // Swagger UI injects one fixed stylesheet; allow exactly that one (by hash), nothing inline else.
    const csp = ctx.response.get("Content-Security-Policy");
    if (csp) ctx.set("Content-Security-Policy", csp.replace("style-src 'self'", `style-src 'self' '${SWAGGER_UI_STYLE}'`));
    ctx.type = "text/html";
    ctx.body = PAGE;
  });
  router.get("/docs/:file", (ctx) => {
    const file = ctx.params.file!;
    if (file === "init.js") {
      ctx.type = "application/javascript";
      ctx.body = INIT;
      return;
    }
    const type = ASSETS[file];
    if (!type) throw notFound(`/docs/${file} is not part of the API page`);
    ctx.type = type;
    ctx.set("Cache-Control", "public, max-age=86400");
    ctx.body = createReadStream(path.join(uiDir, file));
  });
}

export const paths: OpenApiPaths = {
  "/openapi.json": {
    get: {
      summary: "This OpenAPI 3.1 document",
      tags: ["operations"],
      responses: { "200": { description: "The document", content: { "application/json": { schema: { type: "object" } } } } },
    },
  },
  "/docs": {
    get: {
      summary: "Browsable API documentation (Swagger UI)",
      tags: ["operations"],
      responses: { "200": { description: "HTML page", content: { "text/html": { schema: { type: "string" } } } } },
    },
  },
  "/docs/{file}": {
    get: {
      summary: "Assets of the documentation page",
      tags: ["operations"],
      parameters: [{ name: "file", in: "path", required: true, schema: { type: "string" } }],
      responses: {
        "200": { description: "The asset" },
        "404": { description: "Not an asset of the page", content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } },
      },
    },
  },
};
