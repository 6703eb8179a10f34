/**
 * A partner asks for more of an item from its OWN gateway's explorer: the foundry, signed in on the
 * foundry's explorer, opens the OEM's pump, fills the request form, and its gateway passes the
 * request on to the OEM's node over real libp2p (node/p2p/access-requests.ts). The form says it was
 * passed on; the request shows under it as pending (read back from the OEM's node); asking again
 * says it is waiting already; the OEM's Share tab lists it. Screenshot:
 * reports/screenshots/access-relay-*.png.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commission, gtin, sgtin } from "../../lib/epcis/builders.ts";
import { ProposalKind, proposalData } from "../../lib/consortium.ts";
import { accessRequestIntake } from "../../gateway/routes/access-requests.ts";
import { AccessRequestRelay, type AccessRelayService, serveAccessRequests } from "../../node/p2p/access-requests.ts";
import { MembershipGate } from "../../node/p2p/gater.ts";
import { type Host, createHost, peerIdOfKeyFile } from "../../node/p2p/host.ts";
import { AccessRequestStore } from "../../node/passport/access-requests.ts";
import { passProposal } from "../helpers/fixture.ts";
import { nodeFor } from "../node/p2p/helpers.ts";
import { SKIP_MESSAGE, hasChromium, screenshot } from "./browser.ts";
import { OEM_GLN, OEM_SITE, type WorkbenchMembers, startWorkbenchMembers } from "./workbench-members.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const PUMP = sgtin(gtin(OEM_SITE, "00007"), "PUMP-9");

describe.skipIf(!hasChromium)("a partner's request passed on from its own explorer", () => {
  let wb: WorkbenchMembers;
  let dir: string;
  let store: AccessRequestStore;
  const hosts: Host[] = [];
  let relay: AccessRelayService | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "tm-access-relay-"));
    store = await AccessRequestStore.open(path.join(dir, "requests"));
    // The foundry's relay exists once the chain (started by the workbench) has the nodes registered.
    const lazy: AccessRelayService = { submit: (m, b) => relay!.submit(m, b), mine: (m) => relay!.mine(m) };
    wb = await startWorkbenchMembers("access-relay", { oem: { accessRequests: store }, foundry: { accessRelay: lazy } });
    const chain = wb.chain;
    const keys = { oem: path.join(dir, "oem.key"), foundry: path.join(dir, "foundry.key") };
    for (const org of ["oem", "foundry"] as const) await passProposal(chain, ProposalKind.AddNode, proposalData.addNode(chain.orgs[org].id, nodeFor(await peerIdOfKeyFile(keys[org]))));
    const gate = new MembershipGate(chain.orgs.oem.contracts.consortium, { ttlMs: 60_000 });
    for (const key of [keys.oem, keys.foundry]) hosts.push(await createHost({ keyFile: key, listen: ["/ip4/127.0.0.1/tcp/0"], connectionGater: gate.gater() }));
    const [oemHost, foundryHost] = hosts as [Host, Host];
    const intake = accessRequestIntake(wb.members.oem.gw.gateway.context);
    await serveAccessRequests(oemHost, { orgOf: (p) => gate.orgOf(p), intake: () => intake });
    await foundryHost.dial(oemHost.getMultiaddrs()[0]!);
    relay = new AccessRequestRelay({ host: foundryHost, selfOrg: chain.orgs.foundry.id, peersOf: async () => [oemHost.peerId.toString()] });
    await wb.capture("oem", [commission({ time: new Date().toISOString(), at: OEM_GLN, items: [PUMP] })]);
    await wb.syncIndex();
  }, 240_000);

  afterAll(async () => {
    for (const h of hosts) await h.stop();
    await wb?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the foundry asks on its own explorer; the form says it was passed on, lists it pending, and says a second ask is waiting already", async () => {
    const w = await wb.workbench("foundry", "share");
    await w.page.goto(`${wb.members.foundry.gw.url}/explorer/#/item/${encodeURIComponent(PUMP)}`);
    const form = w.page.getByTestId("request-access");
    await form.waitFor({ timeout: 30_000 });
    expect(await w.page.getByTestId("request-access-elsewhere").count()).toBe(0);
    await form.locator('input[name="purpose"]').fill("Warranty claim W-9");
    await form.getByRole("button").click();
    const said = form.getByRole("status");
    await said.waitFor({ timeout: 30_000 });
    expect(await said.textContent()).toBe(`Passed on to the node of ${wb.chain.orgs.oem.name}, which keeps it; you see more once ${wb.chain.orgs.oem.name} approves.`);
    const mine = w.page.getByTestId("my-requests");
    await mine.locator('li[data-state="pending"]').waitFor({ timeout: 30_000 });
    expect(await mine.textContent()).toContain("Warranty claim W-9");
    const kept = await store.list();
    expect(kept.map((r) => [r.requester.id, r.subject, r.purpose])).toEqual([[wb.chain.orgs.foundry.id, PUMP, "Warranty claim W-9"]]);
    await screenshot(w.page, "access-relay-passed-on");

    await form.locator('input[name="purpose"]').fill("Warranty claim W-9, again");
    await form.getByRole("button").click();
    const alert = form.getByRole("alert");
    await alert.waitFor({ timeout: 30_000 });
    expect(await alert.textContent()).toBe("You already asked for this; the request is waiting for an answer.");
    expect(await store.list()).toHaveLength(1);
    // The browser logs the 409 it was answered (the duplicate asked for); nothing else.
    expect(w.errors).toEqual(["Failed to load resource: the server responded with a status of 409 (Conflict)"]);
    await w.page.context().close();

    // The OEM sees it among the requests made to it.
    const o = await wb.workbench("oem", "share");
    await o.page.getByTestId("access-requests").locator('li[data-state="pending"]', { hasText: "Warranty claim W-9" }).waitFor({ timeout: 30_000 });
    expect(o.errors).toEqual([]);
    await o.page.context().close();
  }, 180_000);
});
