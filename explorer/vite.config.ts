/**
 * Builds the explorer into explorer/dist (served by the gateway under /explorer/). Everything the
 * page needs is bundled: at run time it talks to the gateway only.
 */
import { readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";
import { type Plugin, defineConfig } from "vite";

const here = import.meta.dirname;

/** The page reads contract artifacts for their ABIs only: the deployment bytecode stays out. */
const abiOnlyArtifacts: Plugin = {
  name: "tracemesh-abi-only-artifacts",
  enforce: "pre",
  transform(code, id) {
    if (!/[\\/]artifacts[\\/]contracts[\\/].*\.json$/.test(id)) return undefined;
    return { code: JSON.stringify({ abi: (JSON.parse(code) as { abi: unknown }).abi }), map: null };
  },
};

/**
 * Each text file of the build also written gzipped (.gz) and in brotli (.br), compressed once at
 * the highest sensible level: the gateway (koa-static) sends these to clients that accept them.
 */
const precompressed = (): Plugin => {
  let outDir = "";
  return {
    name: "tracemesh-precompressed",
    apply: "build",
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    async closeBundle() {
      const files = (await readdir(outDir, { recursive: true })).filter((f) => /\.(?:js|css|html|svg|json|txt)$/.test(f));
      await Promise.all(
        files.map(async (f) => {
          const file = path.join(outDir, f);
          const bytes = await readFile(file);
          if (bytes.length < 1024) return; // the gateway's own threshold: smaller files go as they are
          await writeFile(`${file}.gz`, await promisify(gzip)(bytes, { level: 9 }));
          await writeFile(`${file}.br`, await promisify(brotliCompress)(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }));
        }),
      );
    },
  };
};

export default defineConfig({
  root: here,
  plugins: [abiOnlyArtifacts, precompressed()],
  base: "/explorer/",
  // Shared lib/ code picks its browser primitives through package.json "imports" (#platform).
  resolve: {
    conditions: ["browser", "module", "import", "default"],
    // lib/credentials.ts checks known signers with node:crypto; the browser gets the same check
    // over ethers (src/shims/node-crypto.ts). No other Node built-in may reach the bundle.
    alias: [{ find: /^node:crypto$/, replacement: path.join(here, "src/shims/node-crypto.ts") }],
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: path.join(here, "dist"),
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 1500,
    assetsInlineLimit: 0,
  },
  logLevel: "warn",
});
