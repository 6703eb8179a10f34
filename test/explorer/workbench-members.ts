/**
 * What the workbench's browser tests share: two members, the foundry and the OEM, each with its
 * own gateway (serving the built explorer) and event store, on one real chain and chain index, and
 * a Chromium browser; a page signed in through the explorer's own sign-in and opened on a workbench
 * tab; and capture through POST /capture, waited for until the job ends.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Wallet } from "ethers";
import type { Browser } from "playwright-core";
import { expect } from "vitest";
import type { CaptureJobAnswer } from "../../lib/api/capture.ts";
import { organisationGrants } from "../../lib/access-grants.ts";
import { epcisDocument, gln, party } from "../../lib/epcis/builders.ts";
import { canonicalIdentifier } from "../../lib/identifiers/canonical.ts";
import { ChainClient } from "../../node/chain/client.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { Indexer } from "../../node/indexer/index.ts";
import { indexService } from "../../node/indexer/service.ts";
import { type TestChain, type TestGateway, type TestGatewayOptions, startTestChain, startTestGateway } from "../helpers/gateway.ts";
import { EXPLORER_DIST, type PHONE, type WatchedPage, launchBrowser, openPage } from "./browser.ts";

const FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/epcis/", import.meta.url));
export const FOUNDRY_SITE = { companyPrefix: "9521002", location: "00001" };
export const OEM_SITE = { companyPrefix: "9521004", location: "00001" };
export const FOUNDRY_GLN = gln(FOUNDRY_SITE);
export const OEM_GLN = gln(OEM_SITE);

export type Who = "foundry" | "oem";
export interface Member {
  gw: TestGateway;
  events: OpenEvents;
  token: string;
}

export interface WorkbenchMembers {
  chain: TestChain;
  browser: Browser;
  members: Record<Who, Member>;
  /** `who`'s explorer, signed in through the page, on the workbench tab `tab`. */
  workbench(who: Who, tab: string, viewport?: typeof PHONE): Promise<WatchedPage>;
  /** Captures `events` as `who` through POST /capture and waits for the job to succeed. */
  capture(who: Who, events: unknown[]): Promise<void>;
  /** Brings the shared chain index up to the chain's head now (for tests that let it trail). */
  syncIndex(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts both members; `services` adds service slots to a member's gateway (e.g. the foundry's
 * devices); `grants`: the members whose gateways write grants (POST/DELETE /grants, approvals),
 * each from an account of its own (the last one captures, with its own nonces); `indexPollMs`
 * sets how often the chain index follows the chain (a long one lets a test keep it trailing
 * until `syncIndex`).
 */
export async function startWorkbenchMembers(
  name: string,
  services: Partial<Record<Who, TestGatewayOptions["services"]>> = {},
  options: { grants?: Who[]; indexPollMs?: number } = {},
): Promise<WorkbenchMembers> {
  if (!existsSync(EXPLORER_DIST)) throw new Error(`${EXPLORER_DIST} is missing: run npm run explorer:build`);
  const chain = await startTestChain();
  const dir = mkdtempSync(path.join(tmpdir(), `tm-explorer-${name}-`));
  const provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
  provider.pollingInterval = 50;
  const indexer = await Indexer.open({ provider, deployment: chain.deployment, store: path.join(dir, "index"), pollMs: options.indexPollMs ?? 100 });
  indexer.start();
  // Each member's directory of parties: the GLNs the workbench ships to.
  const partyOf = new Map([
    [canonicalIdentifier(party(FOUNDRY_GLN)), chain.orgs.foundry.id],
    [canonicalIdentifier(party(OEM_GLN)), chain.orgs.oem.id],
  ]);
  const client = new ChainClient(provider, { pollMs: 25 });
  const members = {} as Record<Who, Member>;
  for (const org of ["foundry", "oem"] as const) {
    const events = await openEvents({
      dataDir: path.join(dir, org),
      deployment: chain.deployment,
      client,
      signer: new Wallet(chain.orgs[org].accounts.at(-1)!.privateKey, provider),
      validator: { schemaPath: path.join(FIXTURES, "EPCIS-JSON-Schema.json") },
      contexts: path.join(FIXTURES, "epcis-context.jsonld"),
      resolveParty: (p) => partyOf.get(p),
      capture: { retryBaseMs: 50, retryMaxMs: 200 },
      genealogy: indexService(indexer).queries,
    });
    const partyGlns = (id: number) => [...partyOf].filter(([, of]) => of === id).map(([party]) => party.slice(-13));
    const { contracts, accounts, id } = chain.orgs[org];
    const grants = options.grants?.includes(org)
      ? { grants: organisationGrants({ owner: id, contracts, address: chain.deployment.contracts.accessGrants, provider, client, signer: new Wallet(accounts[0]!.privateKey, provider) }) }
      : {};
    const gw = await startTestGateway({ chain, node: org, services: { events, index: indexService(indexer), partyGlns, ...grants, ...services[org] }, gateway: { explorerDir: EXPLORER_DIST, rateLimit: false } });
    members[org] = { gw, events, token: await gw.signIn(org) };
  }
  const browser = await launchBrowser();
  return {
    chain,
    browser,
    members,
    async workbench(who, tab, viewport) {
      const url = members[who].gw.url;
      const w = await openPage(browser, url, viewport);
      await w.page.goto(`${url}/explorer/#/signin`);
      await w.page.getByLabel("Demo private key (printed by npm start)").fill(chain.orgs[who].signer.privateKey);
      await w.page.getByRole("button", { name: "Sign in with the demo key" }).click();
      await w.page.getByTestId("signed-in").waitFor();
      await w.page.getByRole("link", { name: "Workbench" }).click();
      await w.page.goto(`${url}/explorer/#/workbench/${tab}`);
      return w;
    },
    async capture(who, events) {
      const { gw, token } = members[who];
      const res = await gw.request("/capture", { method: "POST", token, body: JSON.stringify(epcisDocument(events as never, new Date().toISOString())), headers: { "content-type": "application/ld+json" } });
      let job = (await res.json()) as CaptureJobAnswer;
      for (let i = 0; i < 600 && (job.state === "pending" || job.state === "running"); i++) {
        await new Promise((r) => setTimeout(r, 50));
        job = (await (await gw.request(`/capture/${job.captureID}`, { token })).json()) as CaptureJobAnswer;
      }
      expect(job.state).toBe("succeeded");
    },
    async syncIndex() {
      await indexer.sync();
    },
    async stop() {
      await browser.close();
      for (const m of Object.values(members)) {
        await m.gw.stop();
        await m.events.close();
      }
      await indexer.stop();
      provider.destroy();
      await chain.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
