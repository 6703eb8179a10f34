/**
 * A capturing node behind its gateway, for EPCIS route tests: a fresh anvil chain with the
 * consortium, the OEM's event service (LevelDB in a temporary folder, signing with the OEM's second
 * account), its gateway on 127.0.0.1, and helpers to post and to wait for capture jobs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Wallet } from "ethers";
import { expect } from "vitest";
import { canonicalIdentifier } from "../../lib/identifiers/canonical.ts";
import { ChainClient } from "../../node/chain/client.ts";
import type { CaptureJob } from "../../node/events/capture.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { Indexer } from "../../node/indexer/index.ts";
import { indexService } from "../../node/indexer/service.ts";
import { PassportChoiceStore } from "../../node/passport/choices.ts";
import { type TestChain, type TestChainOptions, type TestGateway, startTestChain, startTestGateway } from "./gateway.ts";

export const EPCIS_FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/epcis/", import.meta.url));
export type Job = CaptureJob & { replay?: boolean };

export interface EventsGateway {
  chain: TestChain;
  gw: TestGateway;
  events: OpenEvents;
  /** The chain index, when asked for (`withIndex`); `sync()` it before index-backed reads. */
  indexer?: Indexer;
  /** The OEM's bearer token. */
  oem: string;
  post(path: string, body: string, contentType: string, headers?: Record<string, string>): Promise<Response>;
  /** Waits for the job a 202 names and returns it. */
  finished(res: Response): Promise<Job>;
  stop(): Promise<void>;
}

/** `withIndex`: the node also runs a chain index and keeps passport choices (GET /passport/{id} and its fields). */
export async function startEventsGateway(chainOptions: TestChainOptions = {}, { withIndex = false } = {}): Promise<EventsGateway> {
  const chain = await startTestChain(chainOptions);
  const dir = mkdtempSync(path.join(tmpdir(), "tracemesh-events-gw-"));
  const provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1 });
  provider.pollingInterval = 100;
  const partyOf = new Map([
    [canonicalIdentifier("urn:epc:id:pgln:4012345.00000"), chain.orgs.steel.id],
    [canonicalIdentifier("urn:epc:id:pgln:0614141.00000"), chain.orgs.oem.id],
  ]);
  const events = await openEvents({
    dataDir: dir,
    deployment: chain.deployment,
    client: new ChainClient(provider, { pollMs: 25 }),
    signer: new Wallet(chain.orgs.oem.accounts[1]!.privateKey, provider),
    validator: { schemaPath: path.join(EPCIS_FIXTURES, "EPCIS-JSON-Schema.json") },
    contexts: path.join(EPCIS_FIXTURES, "epcis-context.jsonld"),
    resolveParty: (party) => partyOf.get(party),
    announce: async () => {},
    capture: { retryBaseMs: 50, retryMaxMs: 200 },
  });
  const indexer = withIndex ? await Indexer.open({ provider, deployment: chain.deployment, store: path.join(dir, "index") }) : undefined;
  const more = indexer ? { index: indexService(indexer), passportChoices: await PassportChoiceStore.open(path.join(dir, "passport-choices")) } : {};
  const gw = await startTestGateway({ chain, node: "oem", services: { events, ...more }, gateway: { rateLimit: false } });
  const oem = await gw.signIn("oem");
  const post = (p: string, body: string, contentType: string, headers: Record<string, string> = {}) =>
    gw.request(p, { method: "POST", token: oem, body, headers: { "content-type": contentType, ...headers } });
  const finished = async (res: Response): Promise<Job> => {
    expect(res.status, await res.clone().text()).toBe(202);
    const { replay } = (await res.json()) as Job;
    const location = res.headers.get("location")!;
    for (const deadline = Date.now() + 90_000; Date.now() < deadline; ) {
      const job = (await (await gw.request(location, { token: oem })).json()) as Job;
      if (!job.running) return { ...job, replay: replay === true };
      await new Promise((done) => setTimeout(done, 50));
    }
    throw new Error(`capture ${location} did not finish`);
  };
  return {
    chain,
    gw,
    events,
    ...(indexer ? { indexer } : {}),
    oem,
    post,
    finished,
    stop: async () => {
      await gw.stop();
      await indexer?.stop();
      await events.close();
      await chain.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
