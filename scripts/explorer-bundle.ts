/**
 * Builds the explorer with vite and measures what a browser loads: the first load (the entry
 * chunk and every chunk it imports statically, which is the shell and the landing page) and, for
 * each page loaded on its first visit, what that page adds. Libraries only some pages need
 * (cytoscape for genealogy, jsqr for scanning, uplot for charts) must load when first used, never
 * with a page. scripts/build-explorer.ts prints these figures; test/explorer/first-load.test.ts
 * holds them to their bounds.
 */
import path from "node:path";
import { gzipSync } from "node:zlib";
import { type InlineConfig, type Plugin, type Rolldown, build } from "vite";

const root = path.resolve(import.meta.dirname, "..");

/** At most this much JavaScript before the first page shows. */
export const FIRST_LOAD_BOUND = { bytes: 350 * 1024, gzipBytes: 120 * 1024 };
/**
 * Pages a scanned QR code or a shared link opens directly: their deep-link load (first load plus
 * the page) stays under FIRST_LOAD_BOUND too. The chain client (ethers) and credential checks load
 * after such a page has shown.
 */
export const DIRECT_LOAD_PAGES = [path.join("pages", "Item.tsx"), path.join("pages", "Certificate.tsx")] as const;
/** Packages that must load on first use only. */
export const LOADED_WHEN_USED = ["cytoscape", "jsqr", "uplot"] as const;

export interface Load {
  bytes: number;
  gzipBytes: number;
  files: string[];
  /** LOADED_WHEN_USED packages this load carries (must be none). */
  eager: string[];
}

export interface ExplorerBundle {
  firstLoad: Load;
  /** Per page (source path under explorer/src/pages): the first load plus what the page imports statically. */
  pages: Record<string, Load>;
  chunks: { file: string; bytes: number; gzipBytes: number }[];
}

type Chunk = Rolldown.OutputChunk;

function packageOf(moduleId: string): string | undefined {
  return /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(moduleId)?.[1];
}

function measure(chunks: Map<string, Chunk>, starts: Chunk[]): Load {
  const seen = new Set<string>();
  const visit = (c: Chunk) => {
    if (seen.has(c.fileName)) return;
    seen.add(c.fileName);
    for (const f of c.imports) {
      const next = chunks.get(f);
      if (next !== undefined) visit(next);
    }
  };
  starts.forEach(visit);
  const files = [...seen].sort();
  const loaded = files.map((f) => chunks.get(f) as Chunk);
  // Modules that render code (a stylesheet import renders none in a JavaScript chunk).
  const packages = new Set(loaded.flatMap((c) => Object.entries(c.modules).flatMap(([id, m]) => (m.renderedLength > 0 ? [packageOf(id)] : []))));
  return {
    bytes: loaded.reduce((n, c) => n + Buffer.byteLength(c.code), 0),
    gzipBytes: loaded.reduce((n, c) => n + gzipSync(c.code).length, 0),
    files,
    eager: LOADED_WHEN_USED.filter((p) => packages.has(p)),
  };
}

/** Builds the explorer (into explorer/dist unless `outDir` says otherwise) and measures it. */
export async function buildExplorer(options: { outDir?: string; plugins?: Plugin[] } = {}): Promise<ExplorerBundle> {
  const config: InlineConfig = {
    configFile: path.join(root, "explorer", "vite.config.ts"),
    logLevel: "warn",
    plugins: options.plugins,
    build: options.outDir === undefined ? undefined : { outDir: options.outDir, emptyOutDir: true },
  };
  const result = await build(config);
  const outputs = Array.isArray(result) ? result : [result];
  const all = outputs.flatMap((o) => ("output" in o ? o.output : [])).filter((o): o is Chunk => o.type === "chunk");
  const chunks = new Map(all.map((c) => [c.fileName, c]));
  const entry = all.filter((c) => c.isEntry);
  if (entry.length === 0) throw new Error("the explorer build produced no entry chunk");
  const pages: Record<string, Load> = {};
  for (const c of all) {
    const src = c.facadeModuleId === null ? undefined : path.relative(path.join(root, "explorer", "src"), c.facadeModuleId);
    if (c.isDynamicEntry && src?.startsWith("pages") === true) pages[src] = measure(chunks, [...entry, c]);
  }
  return {
    firstLoad: measure(chunks, entry),
    pages,
    chunks: all.map((c) => ({ file: c.fileName, bytes: Buffer.byteLength(c.code), gzipBytes: gzipSync(c.code).length })).sort((a, b) => b.bytes - a.bytes),
  };
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

/** The figures as the build prints them. */
export function describeBundle(b: ExplorerBundle): string {
  const line = (name: string, l: Load) => `  ${name.padEnd(26)} ${kb(l.bytes).padStart(10)} ${kb(l.gzipBytes).padStart(10)} gzip${l.eager.length > 0 ? `  EAGER: ${l.eager.join(", ")}` : ""}`;
  return [
    `[explorer] first load (bound ${kb(FIRST_LOAD_BOUND.bytes)}, ${kb(FIRST_LOAD_BOUND.gzipBytes)} gzip):`,
    line("shell + landing page", b.firstLoad),
    "[explorer] first load when a deep link opens a page:",
    ...Object.entries(b.pages).map(([p, l]) => line(p + ((DIRECT_LOAD_PAGES as readonly string[]).includes(p) ? " (bound)" : ""), l)),
    "[explorer] chunks:",
    ...b.chunks.map((c) => `  ${c.file.padEnd(40)} ${kb(c.bytes).padStart(10)} ${kb(c.gzipBytes).padStart(10)} gzip`),
  ].join("\n");
}
