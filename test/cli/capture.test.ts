/**
 * `tm capture` and `tm import` against a real member gateway and chain: a document from standard
 * input or a file (JSON-LD or XML) is captured and its job followed; a spreadsheet with a bad row
 * is refused whole with the row named and nothing captured; a good XLSX is registered page by page
 * and its labels written. Without a key, with another member's key, or for items one does not
 * hold, the tool says why and exits non-zero.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Wallet } from "ethers";
import { PDFDocument } from "pdf-lib";
import writeXlsx from "write-excel-file/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CaptureJobAnswer } from "../../lib/api/capture.ts";
import { commission, epcisDocument, gln, gtin, party, sgtin, ship } from "../../lib/epcis/builders.ts";
import { canonicalIdentifier, itemKey } from "../../lib/identifiers/canonical.ts";
import { ChainClient } from "../../node/chain/client.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";
import { tm } from "./harness.ts";

const FIXTURES = fileURLToPath(new URL("../../../shared/fixtures/epcis/", import.meta.url));
const SITE = { companyPrefix: "9521002", location: "00001" };
const GLN = gln(SITE);
const GTIN = gtin(SITE, "00021");
const OEM_GLN = gln({ companyPrefix: "9521004", location: "00001" });

describe("tm capture and tm import", () => {
  let chain: TestChain;
  let gw: TestGateway;
  let events: OpenEvents;
  let provider: JsonRpcProvider;
  let dir: string;
  const key = () => chain.orgs.foundry.signer.privateKey;
  const run = (args: string[], o: { key?: string; stdin?: string } = { key: "" }) => tm(undefined, [...args, "--gateway", gw.url], { ...(o.key ? { key: o.key } : {}), ...(o.stdin !== undefined ? { stdin: o.stdin } : {}) });
  const jobs = async () => (await (await gw.request("/capture", { token: await gw.signIn("foundry") })).json()) as CaptureJobAnswer[];
  const onChain = async (id: string) => chain.orgs.foundry.contracts.provenance.custodianOf(itemKey(id)).catch(() => 0n);

  beforeAll(async () => {
    chain = await startTestChain();
    dir = mkdtempSync(path.join(tmpdir(), "tm-cli-capture-"));
    provider = new JsonRpcProvider(chain.chain.url, chain.chain.chainId, { staticNetwork: true, batchMaxCount: 1, cacheTimeout: -1 });
    provider.pollingInterval = 50;
    const parties = new Map([[canonicalIdentifier(party(OEM_GLN)), chain.orgs.oem.id]]);
    events = await openEvents({
      dataDir: path.join(dir, "foundry"),
      deployment: chain.deployment,
      client: new ChainClient(provider, { pollMs: 25 }),
      signer: new Wallet(chain.orgs.foundry.accounts.at(-1)!.privateKey, provider),
      validator: { schemaPath: path.join(FIXTURES, "EPCIS-JSON-Schema.json") },
      contexts: path.join(FIXTURES, "epcis-context.jsonld"),
      resolveParty: (p) => parties.get(p),
      capture: { retryBaseMs: 50, retryMaxMs: 200 },
    });
    gw = await startTestGateway({ chain, node: "foundry", services: { events }, gateway: { rateLimit: false } });
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await events?.close();
    provider?.destroy();
    await chain?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("captures a JSON-LD document from standard input and follows its job to the chain", async () => {
    const item = sgtin(GTIN, "STDIN-1");
    const doc = epcisDocument([commission({ time: "2026-12-01T08:00:00Z", at: GLN, items: [item] })], "2026-12-01T08:00:00Z");
    const r = await run(["capture", "-"], { key: key(), stdin: JSON.stringify(doc) });
    expect(r.stderr).toMatch(/capture job \S+ (pending|running|succeeded)/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/captured 1 event\(s\) as job \S+\n {2}#0 state-change \(commission\) ni:\/\/\/sha-256;/);
    expect(await onChain(item)).toBe(BigInt(chain.orgs.foundry.id));
    // The same document again: the gateway answers the earlier capture, nothing is recorded twice.
    const again = await run(["capture", "-", "--json"], { key: key(), stdin: JSON.stringify(doc) });
    expect(again.code).toBe(0);
    expect(again.json<CaptureJobAnswer>().replay).toBe(true);
  });

  it("captures EPCIS XML from a file; a refused event is named and the exit code says so", async () => {
    const item = sgtin(GTIN, "XML-1");
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2026-12-01T08:00:00Z">
  <EPCISBody><EventList><ObjectEvent>
    <eventTime>2026-12-01T08:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset>
    <epcList><epc>${item}</epc></epcList><action>ADD</action><bizStep>commissioning</bizStep><disposition>active</disposition>
  </ObjectEvent></EventList></EPCISBody>
</epcis:EPCISDocument>`;
    const file = path.join(dir, "commission.xml");
    writeFileSync(file, xml);
    const r = await run(["capture", file], { key: key() });
    expect(r.stderr + r.stdout).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(await onChain(item)).toBe(BigInt(chain.orgs.foundry.id));
    // Shipping to a party this node's directory does not know is refused, with the reason.
    const stray = path.join(dir, "stray.json");
    writeFileSync(stray, JSON.stringify(epcisDocument([ship({ time: "2026-12-01T09:00:00Z", at: GLN, to: gln({ companyPrefix: "9521009", location: "00001" }), items: [item] })], "2026-12-01T09:00:00Z")));
    const refused = await run(["capture", stray], { key: key() });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/was not recorded: event 0: shipping destination https:\/\/id\.gs1\.org\/417\/\d+ is not a member organisation/);
  });

  it("refuses a sheet with a bad row whole, naming it, and captures nothing", async () => {
    const before = (await jobs()).length;
    const file = path.join(dir, "bad.csv");
    writeFileSync(file, `gtin,serial,lot,production_date,location\n${GTIN},S-1,L1,2026-11-30,${GLN}\n${GTIN},S 2,L1,2026-11-30,${GLN}\n`);
    const r = await run(["import", file], { key: key() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('row 3, serial: serial number (AI 21) "S 2" contains " ", which is not in the GS1 character set 82');
    expect(r.stderr).toContain("nothing was captured");
    expect(await jobs()).toHaveLength(before);
  });

  it("registers an XLSX sheet in pages with progress and writes its labels", async () => {
    const rows = Array.from({ length: 30 }, (_, i) => [{ value: Number(GTIN) }, { value: `X-${i + 1}` }, { value: "L9" }, { value: "2026-11-30" }, { value: Number(GLN) }]);
    const buffer = await writeXlsx([["gtin", "serial", "lot", "production_date", "location"].map((value) => ({ value })), ...rows] as never).toBuffer();
    const file = path.join(dir, "items.xlsx");
    writeFileSync(file, buffer);
    const labels = path.join(dir, "labels.svg");
    const r = await run(["import", file, "--labels", labels, "--size", "99x38"], { key: key() });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("registered 30 of 30 items");
    expect(r.stdout).toContain("registered 30 items from");
    expect(await onChain(sgtin(GTIN, "X-30"))).toBe(BigInt(chain.orgs.foundry.id));
    // 2 x 7 labels per sheet: three sheets.
    const sheets = [1, 2, 3].map((n) => readFileSync(labels.replace(/\.svg$/, `-${n}.svg`), "utf8"));
    expect(sheets.map((s) => s.match(/<g data-label=/g)?.length)).toEqual([14, 14, 2]);
    expect(sheets[0]).toContain(`>(21)X-1</text>`);
  });

  it("writes the labels of a sheet as one PDF when the file is named .pdf", async () => {
    const file = path.join(dir, "pdf.csv");
    writeFileSync(file, ["gtin,serial,lot,production_date,location", ...Array.from({ length: 26 }, (_, i) => `${GTIN},P-${i + 1},L9,2026-11-30,${GLN}`)].join("\n") + "\n");
    const labels = path.join(dir, "labels.pdf");
    const r = await run(["import", file, "--labels", labels], { key: key() });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`labels: ${labels}`);
    // 3 x 8 labels per A4 page: two pages in one file (their drawing is checked in test/lib/workbench/labels-pdf.test.ts).
    const pdf = await PDFDocument.load(readFileSync(labels));
    expect(pdf.getPages().map((p) => p.getSize())).toEqual([1, 2].map(() => ({ width: expect.closeTo(595.28, 1), height: expect.closeTo(841.89, 1) })));
  });

  it("registers 10,000 items from one sheet (50 to 70 s on a busy 2-core machine)", async () => {
    const file = path.join(dir, "ten-thousand.csv");
    writeFileSync(file, ["gtin,serial,lot,production_date,location", ...Array.from({ length: 10_000 }, (_, i) => `${GTIN},T-${i + 1},L10K,2026-11-30,${GLN}`)].join("\n") + "\n");
    const r = await run(["import", file], { key: key() });
    expect(r.stderr).toContain("registered 10000 of 10000 items");
    expect(r.code).toBe(0);
    expect(await onChain(sgtin(GTIN, "T-10000"))).toBe(BigInt(chain.orgs.foundry.id));
  }, 600_000);

  it("without a key, or with another member's, nothing is captured", async () => {
    const file = path.join(dir, "one.json");
    writeFileSync(file, JSON.stringify(epcisDocument([commission({ time: "2026-12-01T10:00:00Z", at: GLN, items: [sgtin(GTIN, "K-1")] })], "2026-12-01T10:00:00Z")));
    const none = await run(["capture", file]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/signs in at the gateway as your organisation: give --key-file FILE, or set TRACEMESH_KEY/);
    const other = await run(["capture", file], { key: chain.orgs.oem.signer.privateKey });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/refused .*one.json: POST \/capture: 403 Forbidden: this node captures events for Precision Castings only/);
    expect(await onChain(sgtin(GTIN, "K-1"))).toBe(0n);
  });
});
