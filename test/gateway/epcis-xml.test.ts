/**
 * The EPCIS XML binding end to end: a real anvil chain, the OEM's node and its gateway on 127.0.0.1.
 * Every GS1 XML example (EPCIS 2.0, the 1.2 examples of GS1's XSLT, and the XML twins of the hash
 * reference) is captured as application/xml or text/xml and either recorded, with the reference
 * hashes and its JSON twin's, or refused with a 400 naming the element; each recorded event reads
 * back in both bindings (JSON-LD, and XML by Accept) hashing to its eventID.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalIdentifier } from "../../lib/identifiers/canonical.ts";
import { declaredIgnoreFields, documentEventHashes, eventHash } from "../../lib/epcis/event-hash.ts";
import { createEpcisValidator } from "../../lib/epcis/validate.ts";
import { parseEpcisXml } from "../../lib/epcis/xml.ts";
import { ChainClient } from "../../node/chain/client.ts";
import type { CaptureJob } from "../../node/events/capture.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { NOT_CAPTURABLE, REFERENCE_XML_QUIRKS } from "../helpers/epcis-xml-fixtures.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";

const FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/epcis/", import.meta.url));
const SCHEMA = path.join(FIXTURES, "EPCIS-JSON-Schema.json");
const validator = createEpcisValidator({ schemaPath: SCHEMA });
type Doc = Record<string, unknown>;
type Job = CaptureJob & { replay?: boolean };

const xmlFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? xmlFiles(path.join(dir, d.name)) : d.name.endsWith(".xml") ? [path.join(dir, d.name)] : []))
    .sort();

/** Accepted, then refused whole by the node's recording rules (as the same events in JSON would be), naming the event. */
const NODE_REFUSED: Record<string, RegExp> = {
  "XML/AssociationEvent/AssociationEventExamples.xml": /declares erroneous event 3 of the same document/,
  "XML/Mimasu/Example-associatonEvent-sensor.xml": /declares erroneous event 3 of the same document/,
  "XSL/1.2/XML/AssociationEvent.xml": /declares erroneous event 3 of the same document/,
};

let chain: TestChain;
let gw: TestGateway;
let events: OpenEvents;
let dir: string;
let oem: string;

beforeAll(async () => {
  chain = await startTestChain();
  dir = mkdtempSync(path.join(tmpdir(), "tracemesh-epcis-xml-"));
  const provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1 });
  provider.pollingInterval = 100;
  const partyOf = new Map([
    [canonicalIdentifier("urn:epc:id:pgln:4012345.00000"), chain.orgs.steel.id],
    [canonicalIdentifier("urn:epc:id:pgln:0614141.00000"), chain.orgs.oem.id],
  ]);
  events = await openEvents({
    dataDir: dir,
    deployment: chain.deployment,
    client: new ChainClient(provider, { pollMs: 25 }),
    signer: new Wallet(chain.orgs.oem.accounts[1]!.privateKey, provider),
    validator: { schemaPath: SCHEMA },
    contexts: path.join(FIXTURES, "epcis-context.jsonld"),
    resolveParty: (party) => partyOf.get(party),
    announce: async () => {},
    capture: { retryBaseMs: 50, retryMaxMs: 200 },
  });
  gw = await startTestGateway({ chain, node: "oem", services: { events }, gateway: { rateLimit: false } });
  oem = await gw.signIn("oem");
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await events?.close();
  await chain?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function finished(res: Response): Promise<Job> {
  expect(res.status, await res.clone().text()).toBe(202);
  const { replay } = (await res.json()) as Job;
  const location = res.headers.get("location")!;
  for (const deadline = Date.now() + 90_000; Date.now() < deadline; ) {
    const job = (await (await gw.request(location, { token: oem })).json()) as Job;
    if (!job.running) return { ...job, replay: replay === true };
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`capture ${location} did not finish`);
}

const post = (body: string, type: string) => gw.request("/capture", { method: "POST", token: oem, body, headers: { "content-type": type } });
const eventsOf = (qd: Doc): Doc[] => (((qd["epcisBody"] as Doc)["queryResults"] as Doc)["resultsBody"] as Doc)["eventList"] as Doc[];

describe("capturing GS1's XML examples", () => {
  const files = [...xmlFiles(path.join(FIXTURES, "XML")), ...xmlFiles(path.join(FIXTURES, "XSL/1.2/XML")), ...xmlFiles(path.join(FIXTURES, "event-hash/examples"))];
  const recorded = new Map<string, Job>();

  it("records each, whole, with the reference hashes and its JSON twin's, or refuses it naming the element", async () => {
    expect(files.length).toBe(59);
    let n = 0;
    for (const f of files) {
      const rel = path.relative(FIXTURES, f);
      const text = readFileSync(f, "utf8");
      const res = await post(text, n++ % 2 === 0 ? "application/xml" : "text/xml; charset=utf-8");
      if (NOT_CAPTURABLE[rel]) {
        expect(res.status, `${rel}: ${await res.clone().text()}`).toBe(400);
        expect(((await res.json()) as { detail: string }).detail, rel).toMatch(NOT_CAPTURABLE[rel]);
        continue;
      }
      const job = await finished(res);
      if (NODE_REFUSED[rel]) {
        expect(job.success, rel).toBe(false);
        expect(JSON.stringify(job.errors), rel).toMatch(NODE_REFUSED[rel]);
        continue;
      }
      expect(job.errors, `${rel}: ${JSON.stringify(job.errors)}`).toEqual([]);
      expect(job.success, rel).toBe(true);
      recorded.set(rel, job);
      const hashIds = job.results!.map((r) => r.hashId);
      expect(hashIds, rel).toEqual(documentEventHashes(parseEpcisXml(text)).map((h) => h.hashId));
      const base = f.replace(/\.xml$/, "");
      if (existsSync(`${base}.hashes`)) {
        const expected = readFileSync(`${base}.hashes`, "utf8").split("\n").filter((l) => l !== "");
        hashIds.forEach((h, i) => expect(h === expected[i], `${rel}#${i}`).toBe(!REFERENCE_XML_QUIRKS.has(`${path.basename(base)}#${i}`)));
      }
      if (existsSync(`${base}.jsonld`)) {
        // The JSON twin is the same events: the node answers it with the XML capture's hashes.
        const twin = await finished(await post(readFileSync(`${base}.jsonld`, "utf8"), "application/ld+json"));
        expect(twin.results!.map((r) => r.hashId), `${rel} JSON twin`).toEqual(hashIds);
      }
    }
    expect(recorded.size).toBe(files.length - Object.keys(NOT_CAPTURABLE).length - Object.keys(NODE_REFUSED).length);
  }, 400_000);

  it("reads every recorded event back as JSON-LD and as XML (Accept), each re-hashing to its hash ID", async () => {
    let checked = 0;
    for (const [rel, job] of recorded) {
      // Fields the captured document declared left out of its hashes (as test/gateway/epcis.test.ts reads back).
      const ignoreFields = declaredIgnoreFields(parseEpcisXml(readFileSync(path.join(FIXTURES, rel), "utf8")));
      for (const r of job.results!) {
        const url = `/events/${encodeURIComponent(r.eventID ?? r.hashId)}`;
        const json = await gw.request(url, { token: oem });
        expect(json.status, `${rel} #${r.index}`).toBe(200);
        expect(json.headers.get("content-type")).toMatch(/^application\/ld\+json/);
        const qd = (await json.json()) as Doc;
        expect(validator.validate(qd).errors).toEqual([]);
        const xml = await gw.request(url, { token: oem, headers: { accept: "application/xml" } });
        expect(xml.status).toBe(200);
        expect(xml.headers.get("content-type")).toMatch(/^application\/xml/);
        const fromXml = parseEpcisXml(await xml.text());
        expect(fromXml["type"]).toBe("EPCISQueryDocument");
        for (const d of [qd, fromXml]) {
          const hashes = eventsOf(d).map((e) => eventHash(e, { context: d["@context"], ignoreFields }).hashId);
          expect(hashes, `${rel} #${r.index}`).toContain(r.hashId);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(60);
  }, 300_000);

  it("answers a query in XML when asked, JSON-LD otherwise", async () => {
    const asXml = await gw.request("/events?eventType=ObjectEvent&perPage=5", { token: oem, headers: { accept: "text/xml" } });
    expect(asXml.status).toBe(200);
    expect(asXml.headers.get("content-type")).toMatch(/^text\/xml/);
    const body = await asXml.text();
    expect(body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<epcisq:EPCISQueryDocument xmlns:epcisq="urn:epcglobal:epcis-query:xsd:2"/);
    expect(eventsOf(parseEpcisXml(body))).toHaveLength(5);
    const asAny = await gw.request("/events?perPage=1", { token: oem, headers: { accept: "*/*" } });
    expect(asAny.headers.get("content-type")).toMatch(/^application\/ld\+json/);
  });
});

describe("refusing bad XML at the door; nothing recorded", () => {
  const wrap = (inner: string, prolog = "") =>
    `<?xml version="1.0"?>${prolog}<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2024-01-01T00:00:00Z"><EPCISBody><EventList>${inner}</EventList></EPCISBody></epcis:EPCISDocument>`;
  const event = (extra = "") =>
    `<ObjectEvent><eventTime>2024-06-01T00:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset><epcList><epc>urn:epc:id:sgtin:0614141.112345.X1</epc></epcList><action>OBSERVE</action>${extra}</ObjectEvent>`;

  it("400 naming the element for schema-invalid XML, 400 for DTDs and entities, 415 for other types", async () => {
    const before = await chain.orgs.oem.contracts.provenance.recordCount();
    const cases: [string, RegExp][] = [
      [wrap(event("<bogus/>")), /\/EPCISDocument\/EPCISBody\/EventList\/ObjectEvent\/bogus "bogus" is not an element of ObjectEvent/],
      [wrap(event().replace("<action>OBSERVE</action>", "")), /ObjectEvent has no action/],
      [wrap(event(), '<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'), /DTDs and entity declarations are not accepted/],
      [wrap(event("<x:e xmlns:x=\"urn:x\">&xxe;</x:e>")), /not well-formed XML/],
      [wrap(event()).replace("</EventList>", ""), /not well-formed XML/],
      ["<epcis/>", /is not an EPCIS document/],
    ];
    for (const [body, why] of cases) {
      const res = await post(body, "application/xml");
      expect(res.status, body).toBe(400);
      const problem = (await res.json()) as { detail: string; errors?: { path: string }[] };
      expect(problem.detail).toMatch(why);
      expect(problem.errors?.length).toBeGreaterThan(0);
    }
    // The size limit is readRaw's, shared with JSON (test/gateway/epcis.test.ts sends the oversized document; lib/epcis/xml.ts checks maxBytes itself).
    expect((await post(wrap(event()), "text/plain")).status).toBe(415);
    expect(await chain.orgs.oem.contracts.provenance.recordCount()).toBe(before);
  });

  it("lets only the node's own organisation capture XML", async () => {
    const steel = await gw.signIn("steel");
    expect((await gw.request("/capture", { method: "POST", token: steel, body: wrap(event()), headers: { "content-type": "application/xml" } })).status).toBe(403);
    expect((await gw.request("/capture", { method: "POST", body: wrap(event()), headers: { "content-type": "application/xml" } })).status).toBe(401);
  });
});
