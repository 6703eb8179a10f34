/**
 * What a disk fault does to a node's reading store, for the repair tests: windows whose keys are
 * gone (as when LevelDB's repair sets the damaged table files holding them aside), and a garbled
 * manifest (LevelDB then refuses to open the store; its repair rebuilds the manifest from the
 * table and log files, losing nothing they hold).
 */
import { randomBytes } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { IngestStore, keys } from "../../../../node/ingest/store.ts";

/** Removes the windows `whole` entirely (record, locator, page roots, leaf pages, readings), and of `readingsOnly` the readings. */
export async function loseWindows(db: string, whole: readonly number[], readingsOnly: readonly number[] = []): Promise<void> {
  const store = await IngestStore.open(db);
  try {
    const ops: { type: "del"; key: Buffer }[] = [];
    const under = async (gte: Buffer, lt: Buffer) => {
      for await (const key of store.db.keys({ gte, lt })) ops.push({ type: "del", key });
    };
    for (const w of [...whole, ...readingsOnly]) await under(keys.chunk(w, 0), keys.chunk(w + 1, 0));
    for (const w of whole) {
      ops.push({ type: "del", key: keys.window(w) }, { type: "del", key: keys.locator(w) }, { type: "del", key: keys.pageRoots(w) });
      await under(keys.leafPage(w, 0), keys.leafPage(w + 1, 0));
    }
    await store.write(ops);
  } finally {
    await store.close();
  }
}

/** Overwrites the LevelDB store's current manifest in `dir` with random bytes of the same size. */
export function garbleManifest(dir: string): void {
  const manifest = path.join(dir, readFileSync(path.join(dir, "CURRENT"), "utf8").trim());
  writeFileSync(manifest, randomBytes(statSync(manifest).size));
}
