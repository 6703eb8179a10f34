/**
 * Reading stores in temporary folders for ingest tests: what a test opens is closed, and the
 * folders it made are removed, after it (a store reopened on a kept folder closes too).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach } from "vitest";
import { IngestStore } from "../../../../node/ingest/store.ts";

export function storesPerTest(prefix: string) {
  const dirs: string[] = [];
  const stores: IngestStore[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  /** A fresh temporary folder, removed after the test. */
  const tempDir = (): string => {
    const d = mkdtempSync(path.join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  /** The store in `dir` (a fresh folder when none is given), closed after the test. */
  const openStore = async (dir = tempDir()): Promise<IngestStore> => {
    const store = await IngestStore.open(dir);
    stores.push(store);
    return store;
  };
  return { tempDir, openStore };
}
