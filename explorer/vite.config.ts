/**
 * Builds the explorer into explorer/dist (served by the gateway under /explorer/). Everything the
 * page needs is bundled: at run time it talks to the gateway only.
 */
import path from "node:path";
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

export default defineConfig({
  root: here,
  plugins: [abiOnlyArtifacts],
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
