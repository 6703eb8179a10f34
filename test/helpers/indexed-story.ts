/**
 * A test chain (test/helpers/gateway.ts) with the story's view of it, what a test writes on it,
 * and a chain index of the result in a temporary folder, synced: the setup of gateway tests that
 * read the index (the workbench routes). The gateway in front of it is the test's own.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Indexer } from "../../node/indexer/index.ts";
import { type TestChain, startTestChain } from "./gateway.ts";
import { type StoryChain, storyOn } from "./story.ts";

export interface IndexedStory {
  tc: TestChain;
  story: StoryChain;
  indexer: Indexer;
  /** Stops the index, the story's provider and the chain, and removes the index folder. */
  stop(): Promise<void>;
}

/** Starts a chain, runs `write` on it, then indexes everything up to the latest block. */
export async function startIndexedStory(write: (story: StoryChain) => Promise<unknown>): Promise<IndexedStory> {
  const tc = await startTestChain();
  const story = storyOn(tc);
  const dir = mkdtempSync(path.join(tmpdir(), "tm-indexed-story-"));
  const stop = async () => {
    await indexer?.stop();
    await story.stop();
    await tc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  let indexer: Indexer | undefined;
  try {
    await write(story);
    indexer = await Indexer.open({ provider: story.provider, deployment: tc.deployment, store: dir });
    await indexer.sync();
  } catch (e) {
    await stop();
    throw e;
  }
  return { tc, story, indexer, stop };
}
