/**
 * Delivery across tiers (issue 19): real member processes (member/main.ts: node, peer network,
 * chain index, gateway) on one anvil chain, each reading through its own gateway what other
 * organisations' nodes hold:
 *   supplier   (Delta Machining) machines a housing while its Modbus coolant unit streams, builds
 *              it into a pump, grants the OEM the pump with its genealogy, and recalls a valve
 *   oem        (Atlas Motors) reads the housing's documents and bound readings, verified, through
 *              its gateway; the valve it holds no grant for stays withheld
 *   regulator  (Market Surveillance Authority) reads the valve's recall
 * and every read served over the peer network is in the supplier's access log with channel p2p. The
 * OEM's access request for the valve, made on its own gateway, is passed on to the supplier's node.
 * With Chromium and the built explorer, the OEM's explorer shows the delivered step and readings
 * verified (screenshots in reports/screenshots/crosstier-*).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { JsonRpcProvider, NonceManager, Wallet, encodeBytes32String } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccessLogEntry } from "../../../lib/api/access-log.ts";
import type { AccessRequestAnswer } from "../../../lib/api/grants.ts";
import type { MyShipmentsAnswer } from "../../../lib/api/shipments.ts";
import type { GenealogyAnswer, HistoryAnswer } from "../../../lib/api/trace.ts";
import type { EventReadingsAnswer } from "../../../lib/api/readings.ts";
import { Role } from "../../../lib/consortium.ts";
import { type TracemeshContracts, connectContracts } from "../../../lib/deployment.ts";
import { GatewayClient, GatewayError } from "../../../lib/gateway-client.ts";
import { itemKey } from "../../../lib/identifiers/canonical.ts";
import { ScopeKind } from "../../../lib/registry.ts";
import { contractAnchorView, verifyReading } from "../../../lib/verify-reading.ts";
import { devKey } from "../../../scripts/local-chain/local-chain.ts";
import { deviceConfigs } from "../../../node/simulator/configs.ts";
import { type Simulator, startSimulator } from "../../../node/simulator/index.ts";
import { EXPLORER_DIST, hasChromium, launchBrowser, openPage, screenshot } from "../../explorer/browser.ts";
import { eventually, tempDir } from "./helpers.ts";
import { type Consortium, type Member, setUpConsortium } from "./members.ts";

const ROOT = path.resolve(import.meta.dirname, "../../..");
const FIXTURES = path.join(ROOT, "../shared/fixtures/epcis");
const EPCIS_CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
const GTIN = "urn:epc:id:sgtin:0614141.112345";
/** The OEM's GS1 party, in every member's directory of shipment destinations. */
const OEM_PARTY = "https://id.gs1.org/417/9521001000017";
const PURPOSE = encodeBytes32String("QUALITY_CLAIM");
const epcKey = (epc: string) => itemKey(epc);

/** A running member/main.ts process with its gateway. */
interface RunningMember {
  member: Member;
  proc: ChildProcess;
  output: string;
  url: string;
  client: GatewayClient;
}

/** Starts member/main.ts on `m`'s config, with its gateway on a free port; resolves once the gateway listens. */
async function startMember(m: Member, devices: unknown[], explorer = false): Promise<RunningMember> {
  const config = JSON.parse(readFileSync(m.configFile, "utf8")) as Record<string, unknown>;
  writeFileSync(m.configFile, JSON.stringify({ ...config, devices, gateway: { host: "127.0.0.1", port: 0, explorer }, parties: { [OEM_PARTY]: "Atlas Motors" } }, null, 2));
  const proc = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "member/main.ts"), "--config", m.configFile], {
    cwd: ROOT,
    env: { ...process.env, TRACEMESH_EPCIS_SCHEMA: path.join(FIXTURES, "EPCIS-JSON-Schema.json"), TRACEMESH_EPCIS_CONTEXT: path.join(FIXTURES, "epcis-context.jsonld") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const r = { member: m, proc, output: "", url: "" } as RunningMember;
  proc.stdout!.on("data", (d: Buffer) => (r.output = (r.output + d.toString()).slice(-50_000)));
  proc.stderr!.on("data", (d: Buffer) => (r.output = (r.output + d.toString()).slice(-50_000)));
  const up = await eventually(() => /gateway (http:\/\/127\.0\.0\.1:\d+)/.test(r.output) || proc.exitCode !== null, 90_000, 100);
  const url = /gateway (http:\/\/127\.0\.0\.1:\d+)/.exec(r.output)?.[1];
  if (!up || url === undefined) throw new Error(`${m.name} did not start:\n${r.output.slice(-3000)}`);
  r.url = url;
  // Signs in with the organisation's second account (its node key signs anchors and records).
  r.client = new GatewayClient(url, new Wallet(devKey(m.keyIndex + 4)));
  return r;
}

async function stopMember(r: RunningMember | undefined): Promise<void> {
  if (!r || r.proc.exitCode !== null) return;
  r.proc.kill("SIGTERM");
  const timer = setTimeout(() => r.proc.kill("SIGKILL"), 20_000);
  await once(r.proc, "exit");
  clearTimeout(timer);
}

describe("a member's gateway delivers what its organisation may read from the owners' nodes", () => {
  const tmp = tempDir("tm-p2p-delivery-");
  let cons: Consortium;
  let sim: Simulator;
  let provider: JsonRpcProvider;
  let contracts: TracemeshContracts;
  const running: Record<string, RunningMember> = {};
  let stream: string;
  const housing = `${GTIN}.H1`;
  const pump = `${GTIN}.P1`;
  const valve = `${GTIN}.V1`;
  const casting = `${GTIN}.C1`;
  let machined: { hashId: string; recordHash: string };
  let recall: { hashId: string; recordHash: string };
  let commissioned: { hashId: string; recordHash: string };
  let assembled: { hashId: string; recordHash: string };

  const history = (who: string, epc: string, as = who) => new GatewayClient(running[who]!.url, new Wallet(devKey(cons.members[as]!.keyIndex + 4))).json<HistoryAnswer>("GET", `/items/${encodeURIComponent(epc)}/history`);
  const entryOf = (h: HistoryAnswer, recordHash: string) => h.entries.find((e) => e.eventHash === recordHash.toLowerCase());

  beforeAll(async () => {
    cons = await setUpConsortium(
      tmp.dir,
      [
        { name: "supplier", org: "Delta Machining", keyIndex: 1 },
        { name: "oem", org: "Atlas Motors", keyIndex: 2, roles: [Role.Manufacturer] },
        { name: "regulator", org: "Market Surveillance Authority", keyIndex: 3, roles: [Role.Regulator] },
      ],
      [],
      (m, all) => ({
        bootstrap: m.name === "supplier" ? [] : all.filter((o) => o.name === "supplier").map((o) => o.addr),
        membershipTtlMs: 1_000,
        grantCacheMs: 300,
        syncIntervalMs: 500,
        timeoutMs: 30_000,
      }),
    );
    provider = new JsonRpcProvider(cons.chain.url, undefined, { staticNetwork: true, batchMaxCount: 1 });
    provider.pollingInterval = 100;
    contracts = connectContracts(cons.deployment.contracts, provider);
    sim = await startSimulator({ tickMs: 100, opcua: false, mqtt: false });
    const devices = deviceConfigs(sim).map((d) => ({ ...(d as object), pollIntervalMs: 100 }));
    stream = (devices[0] as unknown as { registers: { stream: string }[] }).registers[0]!.stream;
    const t0 = Date.now();
    const [supplier, oem, regulator] = await Promise.all([startMember(cons.members.supplier!, devices), startMember(cons.members.oem!, [], existsSync(EXPLORER_DIST)), startMember(cons.members.regulator!, [])]);
    Object.assign(running, { supplier, oem, regulator });

    // The supplier's coolant readings of the machining step are anchored before it records the step.
    await new Promise((r) => setTimeout(r, 1_500));
    const t1 = Date.now();
    await eventually(async () => Number((await contracts.dataAnchors.lastSequence(cons.members.supplier!.wallet.address).catch(() => 0n)) ?? 0n) >= 4, 30_000, 200);
    const iso = (ms: number) => new Date(ms).toISOString();
    let at = Date.now() - 60_000;
    const ev = (e: Record<string, unknown>) => ({ eventTime: new Date((at += 1_000)).toISOString(), eventTimeZoneOffset: "+00:00", ...e });
    const job = await supplier.client.capture({
      "@context": [EPCIS_CTX, { tm: "https://tracemesh.dev/ns/epcis/" }],
      type: "EPCISDocument",
      schemaVersion: "2.0",
      creationDate: new Date().toISOString(),
      epcisBody: {
        eventList: [
          ev({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [housing, pump, valve] }),
          // The machining of the housing, with the coolant readings it ran under.
          ev({ type: "ObjectEvent", action: "OBSERVE", bizStep: "inspecting", epcList: [housing], "tm:readings": [{ "tm:stream": stream, "tm:startTime": iso(t0), "tm:endTime": iso(t1) }] }),
          // A casting went into the housing: a part two tiers down, named only by the supplier's documents.
          ev({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [casting] }),
          ev({ type: "AggregationEvent", action: "ADD", bizStep: "assembling", parentID: housing, childEPCs: [casting] }),
          ev({ type: "AggregationEvent", action: "ADD", bizStep: "assembling", parentID: pump, childEPCs: [housing] }),
          ev({ type: "ObjectEvent", action: "OBSERVE", disposition: "recalled", epcList: [valve] }),
        ],
      },
    });
    expect(job.state, JSON.stringify(job)).toBe("succeeded");
    const results = job.results!;
    expect(results).toHaveLength(6);
    [commissioned, machined, assembled, recall] = [results[0]!, results[1]!, results[4]!, results[5]!];
    // The supplier grants the OEM the pump with its genealogy (the housing went into it before).
    const grants = contracts.accessGrants.connect(new NonceManager(new Wallet(devKey(cons.members.supplier!.keyIndex + 4), provider)));
    const expiry = (await provider.getBlock("latest"))!.timestamp + 3600;
    await (await grants.grantAccess(cons.members.oem!.orgId, ScopeKind.ItemWithGenealogy, epcKey(pump), PURPOSE, 0, 0, expiry)).wait();
    // Every gateway's index has the records.
    for (const who of ["oem", "regulator"]) {
      let last: unknown;
      const indexed = await eventually(async () => {
        last = await history(who, valve).catch((e: Error) => e.message);
        return typeof last === "object" && (last as HistoryAnswer).entries.some((e) => e.kind === "recall");
      }, 30_000, 300);
      expect(indexed, `${who}: ${JSON.stringify(last)}`).toBe(true);
    }
    // Both ends know the grant (each index walks genealogy grants): the OEM has fetched the pump's assembly.
    // (Until the supplier's node has seen the grant it refuses, and the OEM asks again after a short while.)
    expect(await eventually(async () => (await history("oem", pump)).entries.some((e) => e.kind === "assemble" && e.document !== null), 60_000, 500)).toBe(true);
  }, 300_000);

  afterAll(async () => {
    await Promise.all(Object.values(running).map(stopMember));
    await sim?.stop();
    provider?.destroy();
    await cons?.chain.stop();
    tmp.remove();
  });

  it("the OEM's genealogy of the pump names the casting two tiers down, from the supplier's documents fetched and verified", async () => {
    const genealogy = (who: string, as = who) =>
      new GatewayClient(running[who]!.url, new Wallet(devKey(cons.members[as]!.keyIndex + 4))).json<GenealogyAnswer>("GET", `/items/${encodeURIComponent(pump)}/genealogy?direction=backward`);
    const node = (g: GenealogyAnswer, epc: string) => g.nodes.find((n) => n.key === epcKey(epc));
    // Hostile first: the OEM signed in at the regulator's gateway gets no fetch on its behalf.
    const elsewhere = await genealogy("regulator", "oem");
    expect(node(elsewhere, casting), JSON.stringify(elsewhere.nodes)).toBeDefined();
    expect(node(elsewhere, casting)!.digitalLink).toBeUndefined();
    const g = await genealogy("oem");
    expect(node(g, casting), JSON.stringify(g.nodes)).toMatchObject({ digitalLink: expect.stringMatching(/\/01\/10614141123459\/21\/C1$/), depth: 2 });
    expect(node(g, housing)).toMatchObject({ digitalLink: expect.stringMatching(/\/21\/H1$/) });
    // The document came over under the genealogy grant and sits in the supplier's access log.
    const log = await running.supplier!.client.json<{ entries: AccessLogEntry[] }>("GET", "/access-log?limit=500");
    expect(log.entries.some((e) => e.reader === cons.members.oem!.orgId && e.channel === "p2p" && e.reads.some((r) => r.subject.kind === "document"))).toBe(true);
  });

  it("the OEM reads the supplier's component event through its own gateway, verified, in a few seconds", async () => {
    const started = Date.now();
    const h = await history("oem", housing);
    const elapsed = Date.now() - started;
    const entry = entryOf(h, machined.recordHash);
    expect(entry, JSON.stringify(h.entries)).toMatchObject({ access: "granted", verified: true, eventId: expect.any(String) });
    expect(entry!.document).toMatchObject({ bizStep: expect.stringContaining("inspecting") });
    expect(entry!.grant).toMatchObject({ kind: ScopeKind.ItemWithGenealogy });
    expect(elapsed).toBeLessThan(5_000);
    // It is now held as received: the next page answers from the node's own store.
    const again = await history("oem", housing);
    expect(entryOf(again, machined.recordHash)!.document).toEqual(entry!.document);
  });

  it("the OEM gets the readings bound to the supplier's event, each with a proof that verifies against the chain", async () => {
    const answer = await running.oem!.client.json<EventReadingsAnswer>("GET", `/events/${encodeURIComponent(machined.hashId)}/readings`);
    expect(answer.recordHash).toBe(machined.recordHash);
    expect(answer.streams.map((s) => s.stream)).toEqual([stream]);
    const readings = answer.streams[0]!.readings;
    expect(readings.length).toBeGreaterThan(3);
    const anchors = contractAnchorView(contracts.dataAnchors);
    for (const r of readings) {
      expect(r.proof.node.toLowerCase()).toBe(cons.members.supplier!.wallet.address.toLowerCase());
      expect(await verifyReading(r.reading, r.proof, anchors)).toEqual({ ok: true });
    }
    const r0 = readings[0]!;
    expect(await verifyReading({ ...r0.reading, value: Number(r0.reading.value) + 1 }, r0.proof, anchors)).toMatchObject({ ok: false, reason: "reading-altered" });
  });

  it("without a grant the OEM sees the withheld record, and no node fetches for another organisation's caller", async () => {
    const h = await history("oem", valve);
    expect(h.entries.length).toBeGreaterThan(0);
    for (const e of h.entries) expect(e).toMatchObject({ access: "public-fact", document: null });
    // The OEM signed in at the regulator's gateway: that node does not ask the supplier on the OEM's behalf.
    const elsewhere = await history("regulator", housing, "oem");
    expect(entryOf(elsewhere, machined.recordHash)).toMatchObject({ access: "granted", document: null });
    // Nor does it hand out readings it would have to fetch with its own organisation's rights.
    await expect(new GatewayClient(running.regulator!.url, new Wallet(devKey(cons.members.oem!.keyIndex + 4))).json("GET", `/events/${encodeURIComponent(machined.hashId)}/readings`)).rejects.toBeInstanceOf(GatewayError);
  });

  it("the regulator reads the recall's document through its own gateway", async () => {
    const h = await history("regulator", valve);
    const entry = entryOf(h, recall.recordHash);
    expect(entry, JSON.stringify(h.entries)).toMatchObject({ access: "granted", verified: true, rule: "regulator-recall-events" });
    expect(entry!.document).toMatchObject({ disposition: expect.stringContaining("recalled") });
    // The consortium's rule also lets regulators read inspections; an assembly outside any recall's scope stays withheld.
    const housingHistory = await history("regulator", housing);
    expect(entryOf(housingHistory, machined.recordHash)).toMatchObject({ access: "granted", rule: "regulator-inspection-events", verified: true });
    expect(entryOf(housingHistory, assembled.recordHash)).toMatchObject({ access: "public-fact", document: null });
    // Holding no grant, the regulator's own gateway names the casting by its key only.
    const g = await running.regulator!.client.json<GenealogyAnswer>("GET", `/items/${encodeURIComponent(pump)}/genealogy?direction=backward`);
    const c = g.nodes.find((n) => n.key === epcKey(casting));
    expect(c, JSON.stringify(g.nodes)).toBeDefined();
    expect(c!.digitalLink).toBeUndefined();
  });

  it("every read served over the peer network is in the supplier's access log, channel p2p", async () => {
    const entries = await running.supplier!.client.json<{ entries: AccessLogEntry[] }>("GET", "/access-log?limit=1000");
    const p2p = entries.entries.filter((e) => e.channel === "p2p");
    // One entry per answered request: a document, or a page of readings.
    expect(p2p.every((e) => e.reads.length === 1)).toBe(true);
    const reads = p2p.map((e) => ({ reader: e.reader, ...e.reads[0]! }));
    const { oem, regulator } = cons.members as Record<string, Member>;
    expect(reads).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reader: oem!.orgId, subject: expect.objectContaining({ kind: "document", eventHash: machined.recordHash }), grant: expect.objectContaining({ kind: "item-genealogy" }) }),
        expect.objectContaining({ reader: oem!.orgId, subject: expect.objectContaining({ kind: "readings", eventHash: machined.recordHash, streams: [stream] }) }),
        expect.objectContaining({ reader: regulator!.orgId, subject: expect.objectContaining({ kind: "document", eventHash: recall.recordHash }), allowedBy: "rule regulator-recall-events" }),
      ]),
    );
    // Nothing that names the valve was served to the OEM, and nothing withheld to the regulator.
    const served = (reader: number) => reads.filter((e) => e.reader === reader && e.subject.kind === "document").map((e) => (e.subject as { eventHash: string }).eventHash);
    expect(served(oem!.orgId)).not.toContain(commissioned.recordHash);
    expect(served(oem!.orgId)).not.toContain(recall.recordHash);
    expect(served(regulator!.orgId)).not.toContain(assembled.recordHash);
  });

  // The explorer needs no change: the delivered documents and readings verify in the page as the OEM's own do.
  // Skipped without Chromium (SKIP_MESSAGE) or without the built explorer (vite build --config explorer/vite.config.ts).
  it.skipIf(!hasChromium || !existsSync(EXPLORER_DIST))("the OEM's explorer shows the supplier's step and its readings verified", async () => {
    const browser = await launchBrowser();
    try {
      const w = await openPage(browser, running.oem!.url);
      await w.page.goto(`${running.oem!.url}/explorer/#/signin`);
      await w.page.getByLabel("Demo private key (printed by npm start)").fill(devKey(cons.members.oem!.keyIndex + 4));
      await w.page.getByRole("button", { name: "Sign in with the demo key" }).click();
      await w.page.getByTestId("signed-in").waitFor();
      await w.page.goto(`${running.oem!.url}/explorer/#/item/${encodeURIComponent(housing)}`);
      const machining = w.page.locator(`.timeline .event[data-event-id="${machined.hashId}"] [data-badge]`);
      await expect.poll(() => machining.getAttribute("data-badge"), { timeout: 20_000 }).toBe("verified");
      await screenshot(w.page, "crosstier-oem-supplier-step");
      await w.page.locator(`.timeline .event[data-event-id="${machined.hashId}"] a.button-link`).click();
      const section = w.page.locator(`section.stream[data-stream="${stream}"]`);
      await section.waitFor({ timeout: 20_000 });
      await expect.poll(async () => Number(await section.getAttribute("data-verified")), { timeout: 20_000 }).toBeGreaterThan(3);
      expect(await section.getAttribute("data-failed")).toBe("0");
      await screenshot(w.page, "crosstier-oem-supplier-readings");
      expect(w.foreign).toEqual([]);
      expect(w.errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it("the OEM's incoming shipments name the items on their way from the supplier's shipping document, and only that document", async () => {
    const [s1, s2] = [`${GTIN}.S1`, `${GTIN}.S2`];
    let at = Date.now() - 10_000;
    const ev = (e: Record<string, unknown>) => ({ eventTime: new Date((at += 1_000)).toISOString(), eventTimeZoneOffset: "+00:00", ...e });
    const job = await running.supplier!.client.capture({
      "@context": [EPCIS_CTX],
      type: "EPCISDocument",
      schemaVersion: "2.0",
      creationDate: new Date().toISOString(),
      epcisBody: {
        eventList: [
          ev({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [s1, s2] }),
          ev({ type: "ObjectEvent", action: "OBSERVE", bizStep: "shipping", epcList: [s1, s2], destinationList: [{ type: "owning_party", destination: OEM_PARTY }] }),
        ],
      },
    });
    expect(job.state, JSON.stringify(job)).toBe("succeeded");
    const [made, shipped] = [job.results![0]!, job.results![1]!];
    // No grant on S1 or S2: the OEM names them only as their consignee, fetched from the supplier's node.
    let incoming: MyShipmentsAnswer["incoming"] = [];
    const named = await eventually(async () => {
      incoming = (await running.oem!.client.json<MyShipmentsAnswer>("GET", "/workbench/shipments")).incoming;
      return incoming.some((s) => s.items.length === 2 && s.items.every((i) => i.identifier !== null));
    }, 60_000, 500);
    expect(named, JSON.stringify(incoming)).toBe(true);
    const shipment = incoming.find((s) => s.items.some((i) => i.key === epcKey(s1)))!;
    expect(shipment.items.map((i) => [i.identifier?.replace(/^.*\/01\//, ""), i.state])).toEqual([
      ["10614141123459/21/S1", "in-transit"],
      ["10614141123459/21/S2", "in-transit"],
    ]);
    // The shipping document is readable to the OEM; the items' commissioning is not (nothing earlier).
    const oemView = await history("oem", s1);
    expect(entryOf(oemView, shipped.recordHash)).toMatchObject({ access: "granted", verified: true });
    expect(entryOf(oemView, made.recordHash)).toMatchObject({ document: null });
    expect(entryOf(oemView, made.recordHash)!.access).not.toBe("granted");
    // A third member (the regulator, at its own gateway) gets neither.
    // (Each gateway indexes the chain at its own pace: wait until the regulator's has the shipment.)
    let third: HistoryAnswer | undefined;
    await eventually(async () => {
      third = await history("regulator", s1).catch(() => undefined);
      return third !== undefined && entryOf(third, shipped.recordHash) !== undefined;
    }, 30_000, 300);
    expect(entryOf(third!, shipped.recordHash)).toMatchObject({ document: null });
    expect(entryOf(third!, shipped.recordHash)!.access).not.toBe("granted");
    // The supplier's node logged the read as the consignee's.
    const log = await running.supplier!.client.json<{ entries: AccessLogEntry[] }>("GET", "/access-log?limit=500");
    expect(log.entries.some((e) => e.reader === cons.members.oem!.orgId && e.channel === "p2p" && e.reads.some((r) => r.allowedBy === "consignee of the shipment"))).toBe(true);
  });

  it("the OEM asks for the supplier's valve on its own gateway; the request is passed on to the supplier's node and kept there as the OEM's", async () => {
    const asked = await running.oem!.client.json<AccessRequestAnswer>("POST", "/access-requests", { subject: valve, scope: "item", purpose: "Recall follow-up", days: 7 });
    expect(asked).toMatchObject({ requester: { id: cons.members.oem!.orgId }, owner: { id: cons.members.supplier!.orgId }, state: "pending" });
    const atSupplier = await running.supplier!.client.json<AccessRequestAnswer[]>("GET", "/access-requests");
    expect(atSupplier.map((r) => [r.id, r.requester.id])).toEqual([[asked.id, cons.members.oem!.orgId]]);
    const mine = await running.oem!.client.json<AccessRequestAnswer[]>("GET", `/access-requests?maker=${cons.members.supplier!.orgId}`);
    expect(mine.map((r) => r.id)).toEqual([asked.id]);
  });

  it("what the owner's node cannot deliver is shown as withheld with the reason, within the page's time", async () => {
    // The supplier inspects the pump and goes offline before the OEM ever asks for it.
    const job = await running.supplier!.client.capture({
      "@context": [EPCIS_CTX],
      type: "EPCISDocument",
      schemaVersion: "2.0",
      creationDate: new Date().toISOString(),
      epcisBody: { eventList: [{ type: "ObjectEvent", action: "OBSERVE", bizStep: "inspecting", epcList: [pump], eventTime: new Date().toISOString(), eventTimeZoneOffset: "+00:00" }] },
    });
    expect(job.state).toBe("succeeded");
    const inspected = job.results![0]!;
    await stopMember(running.supplier);
    let h: HistoryAnswer | undefined;
    expect(await eventually(async () => (h = await history("oem", pump)).entries.some((e) => e.eventHash === inspected.recordHash.toLowerCase()), 30_000, 300)).toBe(true);
    expect(entryOf(h!, inspected.recordHash)).toMatchObject({ access: "granted", document: null, unavailable: expect.stringMatching(/^owner's node (unreachable|did not deliver)/) });
    // Asked again, the page answers at once from what it remembered, and still says why.
    const started = Date.now();
    const again = await history("oem", pump);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(entryOf(again, inspected.recordHash)).toMatchObject({ document: null, unavailable: expect.stringMatching(/^owner's node/) });
    // What the OEM fetched before stays readable without the supplier.
    expect(entryOf(again, assembled.recordHash)).toMatchObject({ access: "granted", verified: true });
  });
});
