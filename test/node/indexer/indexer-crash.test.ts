/**
 * Crash safety: an indexer process is killed (SIGKILL, no chance to clean up) at arbitrary points
 * while it writes, several times over; every restart continues from its checkpoint, and the end
 * result equals a fresh index of the same chain: no block half-applied, missed or applied twice.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { IndexStore, Indexer } from "../../../node/indexer/index.ts";
import { expectIndexEqualsChain, expectSameIndex } from "../../helpers/index-compare.ts";
import { IndexQueries } from "../../../node/indexer/queries.ts";
import { type StoryChain, type StoryKeys, playStory, startStoryChain } from "../../helpers/story.ts";

const root = path.resolve(import.meta.dirname, "..", "..", "..");
let s: StoryChain;
let keys: StoryKeys;
let work: string;

beforeAll(async () => {
  s = await startStoryChain();
  keys = await playStory(s);
  work = mkdtempSync(path.join(tmpdir(), "tm-crash-"));
  writeFileSync(path.join(work, "deployment.json"), JSON.stringify(s.deployment));
});
afterAll(async () => {
  await s?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Runs the child indexer until it has committed `blocks` more blocks (then SIGKILL) or finished. */
function runChild(dir: string, blocks: number): Promise<{ start: number; last: number; finished: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "test/node/indexer/indexer-child.ts"), s.chain.url, path.join(work, "deployment.json"), dir], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let start = -1;
    let last = -1;
    let seen = 0;
    let finished = false;
    let stderr = "";
    let buffer = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith("start ")) start = Number(line.slice(6));
        if (line === "done") finished = true;
        if (line.startsWith("block ")) {
          last = Number(line.slice(6));
          // Killed right after a commit was reported: the next block is then mid-flight.
          if (++seen === blocks) child.kill("SIGKILL");
        }
      }
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (signal === "SIGKILL" || code === 0) resolve({ start, last, finished });
      else reject(new Error(`indexer child exited with ${code}: ${stderr}`));
    });
  });
}

it("survives being killed mid-write again and again", async () => {
  const dir = path.join(work, "index");
  const runs: { start: number; last: number; finished: boolean }[] = [];
  for (const blocks of [3, 7, 1, 11, 5]) {
    const r = await runChild(dir, blocks);
    runs.push(r);
    if (r.finished) break;
    // Between kills the index is consistent: its checkpoint is at or after the last reported block.
    const store = await IndexStore.open(dir);
    const cp = await store.checkpoint();
    await store.close();
    expect(cp!.number).toBeGreaterThanOrEqual(r.last);
  }
  expect(runs.length).toBeGreaterThan(2);
  // Each run resumed where the previous one's index stood (never from the start again).
  for (let i = 1; i < runs.length; i++) expect(runs[i]!.start).toBeGreaterThanOrEqual(runs[i - 1]!.last);
  const resumed = await Indexer.open({ provider: s.provider, deployment: s.deployment, store: dir });
  await resumed.sync();
  const fresh = await Indexer.open({ provider: s.provider, deployment: s.deployment, store: path.join(work, "fresh") });
  await fresh.sync();
  expect(resumed.checkpoint).toEqual(fresh.checkpoint);
  await expectSameIndex(resumed.store, fresh.store);
  await expectIndexEqualsChain(new IndexQueries(resumed.store), s.view, keys);
  await resumed.stop();
  await fresh.stop();
}, 180_000);
