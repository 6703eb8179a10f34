/**
 * The EPCIS 2.0 REST bindings end to end: a real anvil chain with the consortium, the OEM's node
 * (event store on LevelDB on disk, capture worker signing with its own account), its gateway on
 * 127.0.0.1, partners signing in with their on-chain accounts.
 *
 * Shows: every GS1 EPCIS example captured and read back (by eventID and by EPC, equal after
 * normalisation), CBV 2.0 hash IDs of the capture results equal to the reference vectors, state
 * changes, observations and corrections on chain, refusals that leave chain and store unchanged
 * (schema-invalid, partly invalid, malformed, oversized, chain-refused, hash taken by another
 * organisation), replays, paging with tamper-checked tokens, and visibility through grants.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Wallet, id as keccakId } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalIdentifier, itemKey } from "../../lib/identifiers/canonical.ts";
import { errorDeclarationHash } from "../../lib/epcis/declaration.ts";
import { declaredIgnoreFields, documentEventHashes, documentEventList, eventPreHash } from "../../lib/epcis/event-hash.ts";
import { createEpcisValidator } from "../../lib/epcis/validate.ts";
import { RecordKind, ScopeKind } from "../../lib/registry.ts";
import { Anchorer } from "../../node/chain/anchorer.ts";
import { AnchorChain, ChainClient } from "../../node/chain/client.ts";
import { IngestPipeline } from "../../node/ingest/pipeline.ts";
import { ProofService } from "../../node/ingest/proofs.ts";
import { IngestStore } from "../../node/ingest/store.ts";
import type { Reading } from "../../lib/reading.ts";
import { type ReadingProof, contractAnchorView, verifyReading } from "../../lib/verify-reading.ts";
import type { CaptureJob } from "../../node/events/capture.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";
import { AccessLog, AccessRecorder } from "../../node/access-log/index.ts";

const FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/epcis/", import.meta.url));
const SCHEMA = path.join(FIXTURES, "EPCIS-JSON-Schema.json");
const CONTEXT = path.join(FIXTURES, "epcis-context.jsonld");
const validator = createEpcisValidator({ schemaPath: SCHEMA });

function jsonldFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? jsonldFiles(path.join(dir, d.name)) : d.name.endsWith(".jsonld") ? [path.join(dir, d.name)] : []))
    .sort();
}

type Doc = Record<string, unknown>;
type Job = CaptureJob & { replay?: boolean };
const enc = encodeURIComponent;
const EPCIS_CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

let chain: TestChain;
let gw: TestGateway;
let events: OpenEvents;
let dir: string;
let oem: string;
let client: ChainClient;
let nodeSigner: Wallet;
/** What the node announced to partners (the peer network's announcement, recorded). */
const announced: { hashId: string; organisations: number[] }[] = [];
let eventTime = Date.UTC(2024, 4, 1, 8);

/** A document of our own events, each at a distinct later time. */
function doc(...evs: Doc[]): Doc {
  return {
    "@context": [EPCIS_CTX, { ex: "https://ns.example.com/tracemesh/", tm: "https://tracemesh.dev/ns/epcis/" }],
    type: "EPCISDocument",
    schemaVersion: "2.0",
    creationDate: new Date().toISOString(),
    epcisBody: { eventList: evs.map((e) => ({ eventTime: new Date((eventTime += 60_000)).toISOString(), eventTimeZoneOffset: "+00:00", ...e })) },
  };
}

const OEM_GTIN = "urn:epc:id:sgtin:0614141.112345";
let serial = 0;
const freshEpc = () => `${OEM_GTIN}.T${++serial}`;

async function capture(body: Doc | string, token = oem, headers: Record<string, string> = {}): Promise<Response> {
  return gw.request("/capture", {
    method: "POST",
    token,
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/ld+json", ...headers },
  });
}

async function finished(res: Response, token = oem): Promise<Job> {
  expect(res.status, await res.clone().text()).toBe(202);
  const { replay } = (await res.json()) as Job;
  const location = res.headers.get("location")!;
  expect(location).toMatch(/^\/capture\/[0-9a-z]+$/);
  // Generous under load: the worker waits for a receipt per document.
  for (const deadline = Date.now() + 90_000; Date.now() < deadline; ) {
    const r = await gw.request(location, { token });
    expect(r.status, await r.clone().text()).toBe(200);
    const job = (await r.json()) as Job;
    if (!job.running) return { ...job, replay: replay === true };
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`capture ${location} did not finish`);
}

async function recorded(body: Doc | string): Promise<Job> {
  const job = await finished(await capture(body));
  expect(job.errors, JSON.stringify(job.errors)).toEqual([]);
  expect(job.success).toBe(true);
  return job;
}

async function getJson(p: string, token = oem): Promise<{ status: number; body: Doc; link: string | null }> {
  const r = await gw.request(p, { token });
  return { status: r.status, body: (await r.json()) as Doc, link: r.headers.get("link") };
}

const eventList = (qd: Doc): Doc[] => ((qd["epcisBody"] as Doc)["queryResults"] as Doc)["resultsBody"] ? (((qd["epcisBody"] as Doc)["queryResults"] as Doc)["resultsBody"] as Doc)["eventList"] as Doc[] : [];

/** Pre-hash of an event as published in a query document (its embedded context, the document's ignoreFields). */
const publishedPreHash = (qd: Doc, e: Doc, ignoreFields: string[]) => eventPreHash(e, { context: qd["@context"], ignoreFields });

const recordCount = () => chain.orgs.oem.contracts.provenance.recordCount();
async function storedCount(): Promise<number> {
  let n = 0;
  for await (const _ of events.store.db.keys({ gte: "ev\u0000", lt: "ev\u0000\uffff" })) n++;
  return n;
}

beforeAll(async () => {
  chain = await startTestChain();
  dir = mkdtempSync(path.join(tmpdir(), "tracemesh-epcis-"));
  const provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1 });
  provider.pollingInterval = 100;
  const partyOf = new Map([
    [canonicalIdentifier("urn:epc:id:pgln:4012345.00000"), chain.orgs.steel.id],
    [canonicalIdentifier("urn:epc:id:pgln:0614141.00000"), chain.orgs.oem.id],
  ]);
  client = new ChainClient(provider, { pollMs: 25 });
  // The node signs with the OEM's second account; the first one is the test's (grants).
  nodeSigner = new Wallet(chain.orgs.oem.accounts[1]!.privateKey, provider);
  events = await openEvents({
    dataDir: dir,
    deployment: chain.deployment,
    client,
    signer: nodeSigner,
    validator: { schemaPath: SCHEMA },
    contexts: CONTEXT,
    resolveParty: (party) => partyOf.get(party),
    announce: async (hashId, organisations) => void announced.push({ hashId, organisations }),
    capture: { retryBaseMs: 50, retryMaxMs: 200 },
  });
  // The test polls capture jobs and reads back every example: far beyond a partner's rate limit.
  gw = await startTestGateway({ chain, node: "oem", services: { events }, gateway: { rateLimit: false } });
  oem = await gw.signIn("oem");
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await events?.close();
  await chain?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("capturing the GS1 EPCIS examples", () => {
  const files = [...jsonldFiles(path.join(FIXTURES, "JSON")), ...jsonldFiles(path.join(FIXTURES, "event-hash/examples"))];
  const jobs = new Map<string, Job>();

  it("captures every example document, each whole in one transaction, with the reference CBV 2.0 hash IDs", async () => {
    expect(files.length).toBe(69);
    let vectors = 0;
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      const job = await finished(await capture(text));
      expect(job.errors, `${f}: ${JSON.stringify(job.errors)}`).toEqual([]);
      expect(job.success, f).toBe(true);
      jobs.set(f, job);
      const results = job.results!;
      const d = JSON.parse(text) as Doc;
      expect(results.map((r) => r.index)).toEqual(documentEventList(d).map((_, i) => i));
      // Our own hash of the document agrees; and where GS1's reference lists hash IDs, they match.
      expect(results.map((r) => r.hashId)).toEqual(documentEventHashes(d).map((h) => h.hashId));
      const hashes = f.replace(/\.jsonld$/, ".hashes");
      if (existsSync(hashes)) {
        const expected = readFileSync(hashes, "utf8").split("\n").filter((l) => l !== "");
        expect(results.map((r) => r.hashId), path.basename(f)).toEqual(expected);
        vectors += expected.length;
      }
      // Every event's hash is on chain (a state change, an observation, a correction), or was already.
      const sent = results.filter((r) => r.tx !== undefined);
      expect(new Set(sent.map((r) => r.tx)).size).toBeLessThanOrEqual(1);
      for (const r of results) {
        if (r.how === "duplicate") continue;
        expect(r.recordId, `${f} #${r.index}`).toBeDefined();
        expect(await chain.orgs.oem.contracts.provenance.recordOfEvent(r.recordHash)).toBe(BigInt(r.recordId!));
      }
    }
    expect(vectors).toBe(43); // every line of the 22 .hashes files beside a JSON-LD example
    const all = [...jobs.values()].flatMap((j) => j.results!);
    // Documents with the same events (e.g. Example 9.6.1 with a comment) answer the first capture.
    expect([...jobs.values()].filter((j) => j.replay).length).toBeGreaterThan(0);
    // The examples exercise every way of recording: Example 9.6.2, a lot received by quantity, is a
    // state change (Provenance's receiveLot); the rest observe or correct.
    expect(new Set(all.map((r) => r.how))).toEqual(new Set(["state-change", "observation", "correction", "already-recorded", "duplicate"]));
    const declared = all.filter((r) => r.how === "correction");
    expect(declared.length).toBeGreaterThan(0);
    for (const r of declared) expect(r.kind).toBe("Correction");
  }, 240_000);

  it("reads every captured event back by its eventID and by its EPCs, equal after normalisation, as valid query documents", async () => {
    expect(jobs.size).toBe(69);
    let checked = 0;
    for (const [f, job] of jobs) {
      const d = JSON.parse(readFileSync(f, "utf8")) as Doc;
      const ignoreFields = declaredIgnoreFields(d);
      const list = documentEventList(d) as Doc[];
      for (const r of job.results!) {
        const original = list[r.index]!;
        const want = eventPreHash(original, { context: d["@context"], ignoreFields });
        const declaration = original["errorDeclaration"] !== undefined;
        const same = (qd: Doc) => eventList(qd).find((e) => publishedPreHash(qd, e, ignoreFields) === want && (e["errorDeclaration"] !== undefined) === declaration);

        const byId = await getJson(`/events/${enc(r.eventID ?? r.hashId)}`);
        expect(byId.status, `${path.basename(f)} #${r.index}`).toBe(200);
        expect(validator.validate(byId.body).errors).toEqual([]);
        const found = same(byId.body);
        expect(found, `${path.basename(f)} #${r.index} by eventID`).toBeDefined();
        if (!job.replay && r.how !== "already-recorded" && r.how !== "duplicate") {
          // Stored from this very document (not a replay of one with the same events): identical
          // but for what the node adds.
          const { "@context": _c, eventID, ...rest } = found!;
          const { eventID: declaredId, ...origRest } = original;
          expect(rest, `${path.basename(f)} #${r.index} (${r.how})`).toEqual(origRest);
          expect(eventID).toBe(declaredId ?? r.hashId);
        }
        const epc = [original["parentID"], ...((original["epcList"] ?? original["childEPCs"] ?? original["inputEPCList"] ?? []) as string[])].find(
          (x): x is string => typeof x === "string",
        );
        if (epc !== undefined) {
          const byEpc = await getJson(`/epcs/${enc(epc)}/events?perPage=1000`);
          expect(byEpc.status).toBe(200);
          expect(same(byEpc.body), `${path.basename(f)} #${r.index} by EPC ${epc}`).toBeDefined();
        }
        checked++;
      }
    }
    expect(checked).toBe(56 + 43); // the events of the 47 GS1 examples and of the 22 hash-vector documents
  }, 240_000);

  it("answers the GS1 query parameters from the indexes", async () => {
    const q = async (query: string) => eventList((await getJson(`/events?${query}&perPage=1000`)).body);
    // Example 9.6.1's shipping event, by EPC URI and by the same EPC as a Digital Link.
    const byUri = await q(`MATCH_epc=${enc("urn:epc:id:sgtin:0614141.107346.2017")}`);
    const byDl = await q(`MATCH_epc=${enc(canonicalIdentifier("urn:epc:id:sgtin:0614141.107346.2017"))}`);
    expect(byUri.length).toBeGreaterThan(0);
    expect(byDl.map((e) => e["eventID"])).toEqual(byUri.map((e) => e["eventID"]));
    // A pattern matches every serial of the class.
    expect((await q(`MATCH_epc=${enc("urn:epc:idpat:sgtin:0614141.107346.*")}`)).length).toBeGreaterThanOrEqual(byUri.length);
    for (const e of await q("EQ_bizStep=shipping")) expect(String(e["bizStep"])).toMatch(/shipping$/);
    for (const e of await q("eventType=AssociationEvent")) expect(e["type"]).toBe("AssociationEvent");
    expect((await q("eventType=AssociationEvent")).length).toBeGreaterThanOrEqual(9);
    for (const e of await q("EXISTS_errorDeclaration=true")) expect(e["errorDeclaration"]).toBeDefined();
    const transformed = await q(`MATCH_inputEPC=${enc("urn:epc:id:sgtin:4012345.011122.25")}`);
    expect(transformed.length).toBeGreaterThan(0);
    for (const e of transformed) expect(e["type"]).toBe("TransformationEvent");
    const inRange = await q(`GE_eventTime=${enc("2005-04-03T00:00:00Z")}&LT_eventTime=${enc("2005-04-05T00:00:00Z")}`);
    expect(inRange.length).toBeGreaterThan(0);
    for (const e of inRange) {
      const t = Date.parse(String(e["eventTime"]));
      expect(t >= Date.parse("2005-04-03T00:00:00Z") && t < Date.parse("2005-04-05T00:00:00Z")).toBe(true);
    }
    const bizStep = await getJson("/bizSteps/receiving/events?perPage=1000");
    expect(eventList(bizStep.body).length).toBeGreaterThan(0);
    for (const e of eventList(bizStep.body)) expect(String(e["bizStep"])).toMatch(/receiving$/);
    // Unknown and malformed parameters are refused with the reason.
    const unknown = await getJson("/events?EQ_fooBar=1");
    expect(unknown.status).toBe(400);
    expect(String(unknown.body["detail"])).toMatch(/EQ_fooBar/);
    expect((await getJson("/events?GE_eventTime=yesterday")).status).toBe(400);
    expect((await getJson("/events?perPage=0")).status).toBe(400);
  });
});

describe("recording on Provenance", () => {
  it("records state changes, in one transaction per document, with per-event results", async () => {
    const [a, b] = [freshEpc(), freshEpc()];
    const job = await recorded(
      doc(
        { type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [a, b] },
        { type: "ObjectEvent", action: "OBSERVE", bizStep: "inspecting", disposition: "conformant", epcList: [a] },
        { type: "ObjectEvent", action: "OBSERVE", bizStep: "shipping", epcList: [b], destinationList: [{ type: "owning_party", destination: "urn:epc:id:pgln:4012345.00000" }] },
        { type: "ObjectEvent", action: "OBSERVE", epcList: [a] },
      ),
    );
    const r = job.results!;
    expect(r.map((x) => [x.how, x.call, x.kind])).toEqual([
      ["state-change", "commissionBatch", "Commission"],
      ["state-change", "inspect", "Inspect"],
      ["state-change", "ship", "Ship"],
      ["observation", "observe", "Observation"],
    ]);
    expect(new Set(r.map((x) => x.tx)).size).toBe(1);
    expect(r.map((x) => Number(x.recordId))).toEqual([0, 1, 2, 3].map((i) => Number(r[0]!.recordId) + i));
    expect(r[3]!.note).toMatch(/changes nothing Provenance records/);
    const prov = chain.orgs.oem.contracts.provenance;
    expect(Number((await prov.itemState(itemKey(b))).consigneeOrg)).toBe(chain.orgs.steel.id);
    expect(Number((await prov.record(BigInt(r[3]!.recordId!))).kind)).toBe(RecordKind.Observation);
  });

  it("announces a captured event to the member parties it names, and no other event", async () => {
    const [a, b] = [freshEpc(), freshEpc()];
    const steelParty = "urn:epc:id:pgln:4012345.00000";
    const job = await recorded(
      doc(
        { type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [a, b] },
        { type: "ObjectEvent", action: "OBSERVE", bizStep: "shipping", epcList: [b], destinationList: [{ type: "owning_party", destination: steelParty }] },
        // A party no member stands for is nobody to tell.
        { type: "ObjectEvent", action: "OBSERVE", epcList: [a], sourceList: [{ type: "owning_party", source: "urn:epc:id:pgln:9999999.00000" }] },
      ),
    );
    const [commissioned, shipped, observed] = job.results!.map((r) => r.hashId);
    const deadline = Date.now() + 10_000;
    while (!announced.some((x) => x.hashId === shipped) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    expect(announced.filter((x) => x.hashId === shipped)).toEqual([{ hashId: shipped, organisations: [chain.orgs.steel.id] }]);
    expect(announced.some((x) => x.hashId === commissioned || x.hashId === observed)).toBe(false);
  });

  it("refuses a document the chain refuses, whole, naming the event and the reason; nothing recorded or stored", async () => {
    const [a, b] = [freshEpc(), freshEpc()];
    await recorded(doc({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [a] }));
    const before = [await recordCount(), await storedCount()];
    const job = await finished(
      await capture(
        doc(
          { type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [b] },
          // a is active, not in transit to us: Provenance refuses to receive it.
          { type: "ObjectEvent", action: "OBSERVE", bizStep: "receiving", epcList: [a] },
        ),
      ),
    );
    expect(job.success).toBe(false);
    expect(job.errors).toHaveLength(1);
    expect(job.errors[0]).toMatchObject({ index: 1 });
    expect(job.errors[0]!.message).toBe(`Provenance.receiveShipment refused: InvalidStatus(${canonicalIdentifier(a)}, 1)`);
    expect([await recordCount(), await storedCount()]).toEqual(before);
    expect((await chain.orgs.oem.contracts.provenance.itemState(itemKey(b))).exists).toBe(false);
  });

  it("refuses state changes it cannot express: unknown consignee, partly unknown items, unlisted disassembly", async () => {
    const [a, b] = [freshEpc(), freshEpc()];
    await recorded(doc({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [a] }));
    const before = await recordCount();
    const unknownParty = await finished(
      await capture(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "shipping", epcList: [a], destinationList: [{ type: "owning_party", destination: "urn:epc:id:pgln:9999999.00000" }] })),
    );
    expect(unknownParty.errors[0]!.message).toBe(`shipping destination ${canonicalIdentifier("urn:epc:id:pgln:9999999.00000")} is not a member organisation in this node's directory`);
    const partly = await finished(await capture(doc({ type: "ObjectEvent", action: "OBSERVE", bizStep: "inspecting", epcList: [a, b] })));
    expect(partly.errors[0]!.message).toBe(`inspect: the registry does not know ${canonicalIdentifier(b)} (the other items of the event are registered)`);
    const unlisted = await finished(await capture(doc({ type: "AggregationEvent", action: "DELETE", parentID: a })));
    expect(unlisted.errors[0]!.message).toMatch(/DELETE without childEPCs/);
    expect(await recordCount()).toBe(before);
    // A malformed reading binding is refused at the door.
    const badBinding = await capture(doc({ type: "ObjectEvent", action: "OBSERVE", epcList: [a], "tm:readings": [{ "tm:stream": "x", "tm:startTime": "2024-01-01T00:00:00Z", "tm:endTime": "2023-01-01T00:00:00Z" }] }));
    expect(badBinding.status).toBe(400);
    expect(((await badBinding.json()) as { detail: string }).detail).toMatch(/endTime must be after startTime/);
  });

  // Another organisation's record of the same hash no longer blocks an event (records are per
  // organisation, test/node/events/squatting.test.ts); what refuses this one is the chain's state.
  it("refuses commissioning an item another organisation already commissioned under the same event hash, and declarations of others' events", async () => {
    const d = doc({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: ["urn:epc:id:sgtin:4012345.011111.S1"] });
    const [h] = documentEventHashes(d);
    // The steel mill recorded this very event first.
    await (await chain.orgs.steel.contracts.provenance.commission(itemKey("urn:epc:id:sgtin:4012345.011111.S1"), keccakId("https://ref.gs1.org/cbv/Disp-active"), h!.digest)).wait();
    const before = await recordCount();
    const job = await finished(await capture(d));
    expect(job.success).toBe(false);
    expect(job.errors[0]!.message).toMatch(/Provenance\.commission refused: ItemExists/);
    const ev = (d["epcisBody"] as Doc)["eventList"] as Doc[];
    const declaring = doc({ ...ev[0]!, eventTime: ev[0]!["eventTime"], errorDeclaration: { declarationTime: new Date().toISOString(), reason: "incorrect_data" } });
    const job2 = await finished(await capture(declaring));
    expect(job2.success).toBe(false);
    expect(job2.errors[0]!.message).toMatch(/only its author can correct it/);
    expect(await recordCount()).toBe(before);
  });

  it("records an error declaration as a correction of the declared record, under its declaration hash", async () => {
    const a = freshEpc();
    const original = doc({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [a], eventID: `urn:uuid:0d0e0f00-0000-4000-8000-${String(serial).padStart(12, "0")}` });
    const first = await recorded(original);
    const ev = ((original["epcisBody"] as Doc)["eventList"] as Doc[])[0]!;
    const declaration = { ...ev, errorDeclaration: { declarationTime: new Date().toISOString(), reason: "incorrect_data", correctiveEventIDs: ["urn:uuid:11111111-2222-4333-8444-555555555555"] } };
    const d: Doc = { ...original, epcisBody: { eventList: [declaration] } };
    const job = await recorded(d);
    const r = job.results![0]!;
    expect(r).toMatchObject({ how: "correction", call: "correct", kind: "Correction", corrects: first.results![0]!.recordId, hashId: first.results![0]!.hashId });
    expect(r.recordHash).toBe(errorDeclarationHash(declaration, { context: d["@context"] }));
    const rec = await chain.orgs.oem.contracts.provenance.record(BigInt(r.recordId!));
    expect([Number(rec.kind), rec.corrects, rec.eventHash]).toEqual([RecordKind.Correction, BigInt(first.results![0]!.recordId!), r.recordHash]);
    // The event and its declaration, both under the eventID; the declaration alone by EXISTS_errorDeclaration.
    const both = eventList((await getJson(`/events/${enc(String(ev["eventID"]))}`)).body);
    expect(both.map((e) => e["errorDeclaration"] !== undefined)).toEqual([false, true]);
    const declared = eventList((await getJson(`/events?EXISTS_errorDeclaration=true&MATCH_epc=${enc(a)}`)).body);
    expect(declared).toHaveLength(1);
  });

  it("answers a replayed document with its earlier job, sending nothing; a different document is a new job", async () => {
    const d = doc({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [freshEpc()] });
    const first = await recorded(d);
    const count = await recordCount();
    const again = await capture({ ...d, creationDate: new Date().toISOString() });
    expect(again.status).toBe(202);
    const body = (await again.json()) as Job;
    expect(body.replay).toBe(true);
    expect(body.captureID).toBe(first.captureID);
    expect(again.headers.get("location")).toBe(`/capture/${first.captureID}`);
    expect(await recordCount()).toBe(count);
    const listed = await getJson("/capture?perPage=2");
    // A list, as GS1 shapes GET /capture (it was { captureJobs: [...] }).
    expect(Array.isArray(listed.body)).toBe(true);
    expect((listed.body as unknown as Job[])[0]!.captureID).toBe(first.captureID);
    expect(listed.link).toMatch(/rel="next"/);
  });
});

describe("refusing bad documents at the door", () => {
  it("refuses schema-invalid, partly invalid, malformed, unresolvable and oversized documents; nothing recorded or stored", async () => {
    const before = [await recordCount(), await storedCount()];
    const good = { type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [freshEpc()] };

    const invalid = await capture(doc({ type: "ObjectEvent", action: "ADD", epcList: [freshEpc()], eventTime: "yesterday" }));
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get("content-type")).toMatch(/application\/problem\+json/);
    const problem = (await invalid.json()) as { detail: string; errors: { path: string; message: string }[] };
    expect(problem.errors.some((e) => e.path === "/epcisBody/eventList/0/eventTime")).toBe(true);
    expect(problem.detail).toMatch(/nothing was recorded/);

    // One bad event refuses the whole document.
    const partly = await capture(doc(good, { type: "ObjectEvent", action: "SHOUT", epcList: [freshEpc()] }));
    expect(partly.status).toBe(400);
    const pp = (await partly.json()) as { errors: { path: string }[] };
    expect(pp.errors.every((e) => e.path.startsWith("/epcisBody/eventList/1"))).toBe(true);

    const badEpc = await capture(doc({ ...good, epcList: ["urn:epc:id:sgtin:0614141.112345.X", "urn:epc:id:sgtin:0614141.11234"] }));
    expect(badEpc.status).toBe(400);

    const malformed = await capture('{"type": "EPCISDocument", "epcisBody": ');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { detail: string }).detail).toMatch(/not valid JSON/);

    const remote = await capture({ ...doc(good), "@context": [EPCIS_CTX, "https://evil.example.com/context.jsonld"] });
    expect(remote.status).toBe(400);
    expect(((await remote.json()) as { detail: string }).detail).toMatch(/cannot be resolved offline/);

    const wrongType = await gw.request("/capture", { method: "POST", token: oem, body: "eventTime=now", headers: { "content-type": "text/plain" } });
    expect(wrongType.status).toBe(415);
    const notEpcisXml = await gw.request("/capture", { method: "POST", token: oem, body: "<epcis/>", headers: { "content-type": "application/xml" } });
    expect(notEpcisXml.status).toBe(400);
    expect(((await notEpcisXml.json()) as { detail: string }).detail).toMatch(/is not an EPCIS document/);

    const big = JSON.stringify(doc(good)).replace('"epcisBody"', `"ex:padding": "${"x".repeat(5 * 1024 * 1024)}", "epcisBody"`);
    const oversized = await capture(big);
    expect(oversized.status).toBe(413);

    const many = await capture(doc(...Array.from({ length: events.maxCaptureEvents + 1 }, (_, i) => ({ type: "ObjectEvent", action: "OBSERVE", epcList: [`${OEM_GTIN}.M${i}`] }))));
    expect(many.status).toBe(413);
    expect(((await many.json()) as { detail: string }).detail).toMatch(/at most 100 per capture/);

    const rollbackOnly = await capture(doc(good), oem, { "GS1-Capture-Error-Behaviour": "proceed" });
    expect(rollbackOnly.status).toBe(400);

    expect([await recordCount(), await storedCount()]).toEqual(before);
  });

  it("lets only the node's own organisation capture, and only signed-in callers in", async () => {
    const d = doc({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [freshEpc()] });
    const steel = await gw.signIn("steel");
    expect((await capture(d, steel)).status).toBe(403);
    expect((await gw.request("/capture", { method: "POST", body: JSON.stringify(d), headers: { "content-type": "application/json" } })).status).toBe(401);
    expect((await gw.request("/events")).status).toBe(401);
    // Another organisation does not see this node's capture jobs.
    const job = await recorded(d);
    expect((await getJson(`/capture/${job.captureID}`, steel)).status).toBe(404);
  });
});

describe("published events re-hash to their eventID", () => {
  it("serves an event with its own @context with the document's prefixes it uses", async () => {
    const epc = freshEpc();
    const d = doc({ "@context": [{ own: "https://own.example.com/" }], type: "ObjectEvent", action: "OBSERVE", epcList: [epc], "ex:lot": "L1", "own:shift": "night" });
    const job = await recorded(d);
    const hashId = job.results![0]!.hashId;
    expect(hashId).toBe(documentEventHashes(d)[0]!.hashId);
    const served = await getJson(`/events/${enc(hashId)}`);
    expect(served.status).toBe(200);
    // Anyone: the served document alone, no ignoreFields, no knowledge of the captured document.
    const e = eventList(served.body)[0]!;
    expect(eventPreHash(e, { context: served.body["@context"] })).toBe(documentEventHashes(d)[0]!.preHash);
  });
});

describe("paging", () => {
  it("pages through a query with opaque, tamper-checked tokens bound to the query and the caller", async () => {
    const place = "urn:epc:id:sgln:0614141.00777.0";
    const evs = Array.from({ length: 25 }, (_, i) => ({ type: "ObjectEvent", action: "OBSERVE", epcList: [`${OEM_GTIN}.P${i}`], bizLocation: { id: place } }));
    await recorded(doc(...evs));
    const seen: string[] = [];
    let next: string | undefined = `/events?EQ_bizLocation=${enc(place)}&perPage=10`;
    let pages = 0;
    let token = "";
    while (next) {
      const page = await getJson(next);
      expect(page.status).toBe(200);
      pages++;
      const list = eventList(page.body);
      seen.push(...list.map((e) => (e["epcList"] as string[])[0]!));
      next = page.link ? /^<([^>]+)>; rel="next"$/.exec(page.link)![1] : undefined;
      if (next) token = new URL(next, "http://x").searchParams.get("nextPageToken")!;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(evs.map((e) => e.epcList[0]));
    // Tampered, foreign to the query, or presented by another organisation: refused.
    const [body, mac] = token.split(".");
    const tampered = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, "base64url").toString()), a: "0" })).toString("base64url");
    expect((await getJson(`/events?EQ_bizLocation=${enc(place)}&perPage=10&nextPageToken=${tampered}.${mac}`)).status).toBe(400);
    expect((await getJson(`/events?EQ_bizLocation=${enc(place)}&perPage=5&nextPageToken=${token}`)).status).toBe(400);
    expect((await getJson(`/events?EQ_bizLocation=${enc(place)}&perPage=10&nextPageToken=${token}`, await gw.signIn("steel"))).status).toBe(400);
    expect((await getJson(`/events?EQ_bizLocation=${enc(place)}&perPage=10&nextPageToken=garbage`)).status).toBe(400);
  });
});

describe("visibility", () => {
  it("shows another organisation nothing without a grant, the event with one, and nothing after revocation", async () => {
    const a = freshEpc();
    const job = await recorded(doc({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [a] }));
    const hashId = job.results![0]!.hashId;
    const steel = await gw.signIn("steel");
    const look = async () => ({
      byId: (await getJson(`/events/${enc(hashId)}`, steel)).status,
      byEpc: eventList((await getJson(`/epcs/${enc(a)}/events`, steel)).body).length,
      query: eventList((await getJson(`/events?MATCH_epc=${enc(a)}`, steel)).body).length,
    });
    expect(await look()).toEqual({ byId: 404, byEpc: 0, query: 0 });

    const grants = chain.orgs.oem.contracts.accessGrants;
    const expires = Math.floor(Date.now() / 1000) + 3600;
    await (await grants.grantAccess(chain.orgs.steel.id, ScopeKind.Item, itemKey(a), keccakId("quality-audit"), 0, 0, expires)).wait();
    await expect.poll(look, { timeout: 10_000, interval: 100 }).toEqual({ byId: 200, byEpc: 1, query: 1 });
    // A grant on one item does not open events about other items.
    const other = freshEpc();
    await recorded(doc({ type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [other] }));
    expect(eventList((await getJson(`/epcs/${enc(other)}/events`, steel)).body)).toHaveLength(0);

    const grantId = await grants.grantIdOf(chain.orgs.oem.id, chain.orgs.steel.id, itemKey(a));
    await (await grants.revokeAccess(grantId)).wait();
    await expect.poll(look, { timeout: 10_000, interval: 100 }).toEqual({ byId: 404, byEpc: 0, query: 0 });
  });
});



describe("readings bound to events", () => {
  it("serves the readings an event names with proofs that verify against the anchors on chain", async () => {
    // The OEM node's own ingest: a real reading store, one window, anchored by the node's account.
    const store = await IngestStore.open(path.join(dir, "ingest"));
    const pipeline = await IngestPipeline.open(store, Buffer.alloc(32, 7), { windowMs: 3_600_000 });
    const anchorer = new Anchorer(store, pipeline, await AnchorChain.create(client, chain.deployment.contracts.dataAnchors, nodeSigner), { retry: { minMs: 20, maxMs: 100 } });
    pipeline.on("window", () => anchorer.notify());
    await anchorer.start();
    try {
      const t0 = Date.now();
      const temp = (i: number): Reading => ({ stream: "furnace-1/temperature", metric: "temperature", unit: "Cel", value: 840 + i, sourceTime: t0 + i * 50, quality: "good" });
      const force = (i: number): Reading => ({ stream: "press-2/force", metric: "force", unit: "kN", value: 120 + i, sourceTime: t0 + i * 50, quality: "good" });
      await pipeline.write(Array.from({ length: 20 }, (_, i) => [temp(i), force(i)]).flat());
      await pipeline.closeWindow();
      await anchorer.anchoredUpTo(1);
      gw.services.proofs = new ProofService(store, nodeSigner.address);

      const iso = (ms: number) => new Date(ms).toISOString();
      const part = freshEpc();
      const job = await recorded(
        doc(
          { type: "ObjectEvent", action: "ADD", bizStep: "commissioning", epcList: [part] },
          {
            type: "ObjectEvent",
            action: "OBSERVE",
            bizStep: "inspecting",
            epcList: [part],
            // The heat treatment's temperatures from reading 5 to 14, and the press force over all of them.
            "tm:readings": [{ "tm:stream": "furnace-1/temperature", "tm:startTime": iso(t0 + 250), "tm:endTime": iso(t0 + 750) }],
            sensorElementList: [{ sensorMetadata: { startTime: iso(t0), endTime: iso(t0 + 1000), "tm:stream": "press-2/force" }, sensorReport: [{ type: "gs1:Force", value: 120, uom: "KNT" }] }],
          },
        ),
      );
      const inspected = job.results![1]!;
      const res = await getJson(`/events/${enc(inspected.hashId)}/readings`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      // The owner, so the explorer knows whose access log tells who read these readings.
      expect(res.body["owner"]).toBe(chain.orgs.oem.id);
      const streams = res.body["streams"] as { stream: string; node: string; readings: { reading: Reading; proof: ReadingProof; anchor: { sequence: number; tx?: string; root?: string } }[] }[];
      expect(streams.map((x) => [x.stream, x.readings.length])).toEqual([
        ["furnace-1/temperature", 10],
        ["press-2/force", 20],
      ]);
      expect(streams[0]!.readings.map((r) => r.reading.value)).toEqual(Array.from({ length: 10 }, (_, i) => 845 + i));
      const anchors = contractAnchorView(chain.orgs.oem.contracts.dataAnchors);
      const receipt = await store.anchorReceipt(1);
      for (const s of streams)
        for (const r of s.readings) {
          expect(await verifyReading(r.reading, r.proof, anchors)).toEqual({ ok: true });
          expect(r.anchor).toMatchObject({ sequence: 1, tx: receipt!.txHash, root: (await store.window(1))!.root });
        }
      // A reading changed on the way is caught by the same check.
      const r0 = streams[0]!.readings[0]!;
      expect(await verifyReading({ ...r0.reading, value: 999 }, r0.proof, anchors)).toMatchObject({ ok: false, reason: "reading-altered" });

      // Partners see the readings only with the event: nothing without a grant.
      const steel = await gw.signIn("steel");
      expect((await getJson(`/events/${enc(inspected.hashId)}/readings`, steel)).status).toBe(404);
      // With a grant on the part, the mill reads them, and the OEM's access log says so.
      const logDir = path.join(dir, "access-log");
      const log = await AccessLog.open(logDir);
      gw.services.accessLog = new AccessRecorder(log, chain.orgs.oem.contracts.accessGrants);
      try {
        const expires = Math.floor(Date.now() / 1000) + 3600;
        await (await chain.orgs.oem.contracts.accessGrants.grantAccess(chain.orgs.steel.id, ScopeKind.Item, itemKey(part), keccakId("heat-treatment-audit"), 0, 0, expires)).wait();
        const granted = await getJson(`/events/${enc(inspected.hashId)}/readings`, steel);
        expect(granted.status).toBe(200);
        // Who read the owner's data is the owner's alone to see.
        expect(granted.body).not.toHaveProperty("readers");
        expect(await log.entries()).toMatchObject([
          {
            reader: chain.orgs.steel.id,
            owner: chain.orgs.oem.id,
            channel: "gateway",
            reads: [
              {
                subject: { kind: "readings", eventHash: inspected.recordHash, streams: ["furnace-1/temperature", "press-2/force"] },
                allowedBy: `grant item on ${itemKey(part)}`,
                purpose: keccakId("heat-treatment-audit"),
              },
            ],
          },
        ]);
        expect((await log.entries())[0]!.reads).toHaveLength(1);
        // The OEM reading its own readings is not a partner's read; it sees the mill's read of them.
        const own = await getJson(`/events/${enc(inspected.hashId)}/readings`);
        expect(await log.entries()).toHaveLength(1);
        expect(own.body["readers"]).toEqual(await log.entries());
      } finally {
        delete gw.services.accessLog;
        await log.close();
      }
      // An event that names no readings has none.
      const none = await getJson(`/events/${enc(job.results![0]!.hashId)}/readings`);
      expect(none.body["streams"]).toEqual([]);
    } finally {
      delete gw.services.proofs;
      await anchorer.stop();
      await pipeline.stop();
      await store.close();
    }
  });
});
