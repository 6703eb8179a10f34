/**
 * The explorer's first load, and a direct load of the item and certificate pages (a scanned QR
 * code), stay under their bound (350 KB of JavaScript, 120 KB gzipped), and the libraries only
 * some pages need (cytoscape, jsqr, uplot) load on first use, never with a page.
 * Builds the explorer into a temporary directory; a second build with cytoscape imported eagerly
 * shows the check catches exactly that.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Plugin } from "vite";
import { afterAll, describe, expect, it } from "vitest";
import { DIRECT_LOAD_PAGES, FIRST_LOAD_BOUND, buildExplorer } from "../../scripts/explorer-bundle.ts";

const root = path.resolve(import.meta.dirname, "..", "..");
const dirs: string[] = [];
const outDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "tm-explorer-"));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("explorer first load", () => {
  it("carries the shell and landing page under the bound, and no page carries cytoscape, jsqr or uplot", async () => {
    const dir = outDir();
    const bundle = await buildExplorer({ outDir: dir });
    expect(bundle.firstLoad.bytes).toBeLessThanOrEqual(FIRST_LOAD_BOUND.bytes);
    expect(bundle.firstLoad.gzipBytes).toBeLessThanOrEqual(FIRST_LOAD_BOUND.gzipBytes);
    expect(bundle.firstLoad.eager).toEqual([]);
    expect(Object.keys(bundle.pages)).toEqual(expect.arrayContaining([path.join("pages", "Item.tsx"), path.join("pages", "Readings.tsx")]));
    for (const [page, load] of Object.entries(bundle.pages)) expect({ page, eager: load.eager }).toEqual({ page, eager: [] });
    // A page opened straight from a QR code loads under the same bound (ethers and credential checks come after it shows).
    for (const page of DIRECT_LOAD_PAGES) {
      const load = bundle.pages[page];
      expect(load, page).toBeDefined();
      expect(load!.bytes, `${page} bytes`).toBeLessThanOrEqual(FIRST_LOAD_BOUND.bytes);
      expect(load!.gzipBytes, `${page} gzip bytes`).toBeLessThanOrEqual(FIRST_LOAD_BOUND.gzipBytes);
    }
    // The contracts come as ABIs, without their deployment bytecode.
    const assets = path.join(dir, "assets");
    const code = readdirSync(assets)
      .filter((f) => f.endsWith(".js"))
      .map((f) => readFileSync(path.join(assets, f), "utf8"))
      .join("\n");
    for (const name of ["Consortium", "Provenance", "Certificates", "AccessGrants", "DataAnchors"]) {
      const artifact = JSON.parse(readFileSync(path.join(root, "artifacts", "contracts", `${name}.sol`, `${name}.json`), "utf8")) as { abi: unknown[]; bytecode: string };
      expect(code.includes(artifact.bytecode.slice(200, 400)), `${name} bytecode in the bundle`).toBe(false);
      expect(artifact.abi.length).toBeGreaterThan(0);
    }
  }, 120_000);

  it("fails a build that imports cytoscape eagerly", async () => {
    const eagerCytoscape: Plugin = {
      name: "test-eager-cytoscape",
      enforce: "pre",
      transform(code, id) {
        if (!id.endsWith(path.join("explorer", "src", "main.tsx"))) return undefined;
        return { code: `import eagerCytoscape from "cytoscape";\n${code}\n(globalThis as Record<string, unknown>).eagerCytoscape = eagerCytoscape;\n`, map: null };
      },
    };
    const bundle = await buildExplorer({ outDir: outDir(), plugins: [eagerCytoscape] });
    expect(bundle.firstLoad.eager).toEqual(["cytoscape"]);
    expect(bundle.firstLoad.bytes).toBeGreaterThan(FIRST_LOAD_BOUND.bytes);
  }, 120_000);
});
