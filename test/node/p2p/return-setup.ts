/**
 * What the tests of handing a node's own data back (node/p2p/return-fetch.ts: readings in
 * return-fetch.test.ts, event documents in return-documents.test.ts) share: a consortium whose
 * repairing member knows where every partner listens, `repair --from-partners` run as the
 * operator runs it, and the stopped node's stores opened for a look.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { EventStore } from "../../../node/events/store.ts";
import { IngestStore } from "../../../node/ingest/store.ts";
import { ReceivedStore } from "../../../node/p2p/received-store.ts";
import { type Consortium, type Member, type MemberSpec, setUpConsortium } from "./members.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");

/**
 * A consortium of `specs` on a fresh anvil where member `owner` (the one that loses data) lists
 * every other member as a bootstrap address and each of them lists `owner`; membership and grant
 * caches are short so the test sees chain changes at once. `more` adds to a member's p2p section.
 */
export function setUpReturnConsortium(dir: string, specs: MemberSpec[], owner: string, more: (m: Member) => Record<string, unknown> = () => ({})): Promise<Consortium> {
  return setUpConsortium(dir, specs, [], (m, all) => ({
    bootstrap: all.filter((o) => o.name !== m.name && (m.name === owner || o.name === owner)).map((o) => o.addr),
    membershipTtlMs: 1_000,
    grantCacheMs: 300,
    syncIntervalMs: 500,
    timeoutMs: 20_000,
    ...more(m),
  }));
}

/** Everything a return test started, stopped in order: the in-process liar, the member processes, the provider, the chain, the folder. */
export async function stopReturnTest(started: {
  liar: { stop(): void | Promise<void> } | undefined;
  running: Record<string, { stop(): Promise<unknown> }>;
  provider: { destroy(): void } | undefined;
  cons: Consortium | undefined;
  tmp: { remove(): void };
}): Promise<void> {
  await started.liar?.stop();
  await Promise.all(Object.values(started.running).map((p) => p.stop()));
  started.provider?.destroy();
  await started.cons?.chain.stop();
  started.tmp.remove();
}

/**
 * `npm run node -- repair --config FILE --from-partners`, run apart (spawned, not spawnSync: a
 * test's in-process liar answers from this process). `onLine` sees each stdout line as it comes.
 */
export async function repairFromPartners(configFile: string, onLine?: (line: string, kill: () => void) => void): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "node/cli.ts"), "repair", "--config", configFile, "--from-partners"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let partial = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    partial += d.toString();
    const lines = partial.split("\n");
    partial = lines.pop()!;
    for (const line of lines) onLine?.(line, () => child.kill("SIGKILL"));
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const status = await new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { status, stdout, stderr };
}

const opened =
  <S extends { close(): Promise<void> }>(open: (dir: string) => Promise<S>) =>
  async <T>(dir: string, use: (s: S) => Promise<T>): Promise<T> => {
    const store = await open(dir);
    try {
      return await use(store);
    } finally {
      await store.close();
    }
  };

/** Uses the reading store in `dir` (a stopped node's `<dataDir>/db`, or a copy). */
export const withStore = opened((dir) => IngestStore.open(dir));
/** Uses the received store of the stopped node with data directory `dataDir`. */
export const withReceived = <T>(dataDir: string, use: (s: ReceivedStore) => Promise<T>) => opened((dir) => ReceivedStore.open(dir))(path.join(dataDir, "received"), use);
/** Uses the event store in `dir` (a stopped node's `<dataDir>/events`, or a fresh one). */
export const withEvents = opened((dir) => EventStore.open(dir));
