/**
 * Builds the explorer (explorer/dist) unless the build is newer than every source it is made from
 * (explorer/ and lib/), so `npm start` does not rebuild, or empty dist/ under a running gateway,
 * when nothing changed. `--force` always builds. A build prints what the browser loads per page.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { buildExplorer, describeBundle } from "./explorer-bundle.ts";

const root = path.resolve(import.meta.dirname, "..");
const built = path.join(root, "explorer", "dist", "index.html");

/** The newest modification time under `dir`, skipping build output and dependencies. */
function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "dist" || entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const p = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return latest;
}

const sources = Math.max(newest(path.join(root, "explorer")), newest(path.join(root, "lib")));
if (!process.argv.includes("--force") && existsSync(built) && statSync(built).mtimeMs >= sources) {
  console.log("[explorer] build is up to date");
} else {
  console.log("[explorer] building explorer/dist");
  console.log(describeBundle(await buildExplorer()));
}
