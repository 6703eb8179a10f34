/**
 * Property-based fuzzing of every route in the OpenAPI document (issue 12): thousands of
 * malformed requests (bad JSON, deep nesting, huge numbers, wrong types, unicode, path tricks,
 * header abuse, forged tokens) against a real gateway with its chain, index, event, subscription,
 * grant and statement services (and a node with no devices yet for /workbench/devices, which reads no input).
 * No answer may be a 5xx, the gateway must keep running, and every refusal must be a
 * problem+json whose detail names the fault. Bounded: a fixed number of runs, well under a minute.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { connectContracts } from "../../lib/deployment.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Indexer } from "../../node/indexer/index.ts";
import { indexService } from "../../node/indexer/service.ts";
import { AccessLog, AccessRecorder } from "../../node/access-log/index.ts";
import { ChainClient } from "../../node/chain/client.ts";
import { type OpenEvents, openEvents } from "../../node/events/service.ts";
import { SubscriptionService } from "../../node/subscriptions/service.ts";
import { StatementStore } from "../../node/certificates/statements.ts";
import { PassportChoiceStore } from "../../node/passport/choices.ts";
import { AccessRequestStore } from "../../node/passport/access-requests.ts";
import { AccessRequestRelay } from "../../node/p2p/access-requests.ts";
import { organisationGrants } from "../../lib/access-grants.ts";
import { Wallet } from "ethers";
import type { DevicesAnswer } from "../../lib/api/devices.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";

const FIXTURES = path.resolve(import.meta.dirname, "../../../shared/fixtures/epcis");
let tc: TestChain;
let indexer: Indexer;
let events: OpenEvents;
let gw: TestGateway;
let dir: string;
let accessLog: AccessLog;
let subscriptions: SubscriptionService;
/** A node that has not read a device yet, as GET /workbench/devices answers for it. */
const idleNode = (): DevicesAnswer => ({
  node: "0x00000000000000000000000000000000000000aa",
  at: Date.now(),
  devices: [],
  streams: [],
  windows: { closed: 0, anchored: 0, pending: 0 },
  lastAnchor: null,
  anchoringLagS: null,
  anchoring: { state: "idle" },
  skewedReadings: 0,
  historicalReadings: 0,
});
let token: string;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

beforeAll(async () => {
  tc = await startTestChain();
  dir = mkdtempSync(path.join(tmpdir(), "tm-fuzz-"));
  indexer = await Indexer.open({ provider: tc.provider, deployment: tc.deployment, store: path.join(dir, "index") });
  await indexer.sync();
  events = await openEvents({
    dataDir: dir,
    deployment: tc.deployment,
    client: new ChainClient(tc.provider),
    signer: tc.orgs.oem.signer,
    provider: tc.provider,
    validator: { schemaPath: path.join(FIXTURES, "EPCIS-JSON-Schema.json") },
    contexts: path.join(FIXTURES, "epcis-context.jsonld"),
    access: indexService(indexer).access,
  });
  accessLog = await AccessLog.open(path.join(dir, "access-log"));
  // No webhook destination is allowed: fuzzed subscriptions are refused before any delivery.
  subscriptions = await SubscriptionService.open(path.join(dir, "subscriptions"), events.store, indexService(indexer).queries, { log: () => {} });
  const oem = tc.orgs.oem;
  const grants = organisationGrants({
    owner: oem.id,
    contracts: oem.contracts,
    address: tc.deployment.contracts.accessGrants,
    provider: tc.provider,
    client: new ChainClient(tc.provider, { pollMs: 25 }),
    signer: new Wallet(oem.accounts.at(-1)!.privateKey, tc.provider),
  });
  gw = await startTestGateway({
    chain: tc,
    node: "oem",
    services: { index: indexService(indexer), events, subscriptions, grants, devices: idleNode, statements: await StatementStore.open(path.join(dir, "statements")), passportChoices: await PassportChoiceStore.open(path.join(dir, "passport-choices")), accessRequests: await AccessRequestStore.open(path.join(dir, "access-requests")), accessRelay: noMakerNodes(oem.id), accessLog: new AccessRecorder(accessLog, gw0Contracts()) },
    gateway: { rateLimit: false, rpc: { rateLimit: { max: 1_000_000, durationMs: 60_000 } }, challengeLimits: { perClient: 1_000_000 } },
  });
  token = await gw.signIn("oem");
}, 120_000);

/** A relay of access requests that reaches no maker's node (none is registered here): requests passed on are answered 503. */
function noMakerNodes(selfOrg: number): AccessRequestRelay {
  return new AccessRequestRelay({ host: { dialProtocol: () => Promise.reject(new Error("no peer network in this test")) }, selfOrg, peersOf: async () => [] });
}

afterAll(async () => {
  agent.destroy();
  await gw?.stop();
  await subscriptions?.close();
  await indexer?.stop();
  await events?.close();
  await accessLog?.close();
  await tc?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The chain's contracts for the access recorder (read only). */
const gw0Contracts = () => connectContracts(tc.deployment.contracts, tc.provider).accessGrants;

interface Answer {
  status: number;
  type: string;
  text: string;
}

/** A raw HTTP request: paths, Host and headers exactly as given (fetch would normalise them). */
function send(method: string, rawPath: string, headers: Record<string, string>, body?: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port: gw.server.port, method, path: rawPath, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

// ------------------------------------------------------------------ generators

/** Path segments: identifiers gone wrong, traversal, encodings, unicode, sizes. */
const segment = fc.oneof(
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.string({ unit: "grapheme", maxLength: 20 }).map(encodeURIComponent),
  fc.constantFrom("..", "%2e%2e", "%2F", "%00", "%", "%ZZ", "%E0%A4%A", ".", "~", "%C0%AF", "0x", "0x" + "ab".repeat(32), "0x" + "ab".repeat(33), "-1", "1e309", "NaN"),
  fc.constantFrom("urn:epc:id:sgtin:0614141.112345.400", "urn:epc:id:sgtin:", "https%3A%2F%2Fid.gs1.org%2F01%2F09506000134352", "09506000134352", "0950600013435"),
  fc.integer({ min: 1, max: 5000 }).map((n) => "9".repeat(n)),
  fc.uint8Array({ maxLength: 40 }).map((b) => "0x" + Buffer.from(b).toString("hex")),
);

/** Fills an OpenAPI path template's parameters (and sometimes tacks on more). */
const pathFor = (template: string) =>
  fc
    .tuple(fc.array(segment, { minLength: 4, maxLength: 4 }), fc.array(segment, { maxLength: 3 }), fc.boolean())
    .map(([values, extra, more]) => {
      let i = 0;
      const filled = template.replace(/\{[^}]+\}/g, () => values[i++ % values.length]!);
      return more && extra.length > 0 ? `${filled}/${extra.join("/")}` : filled;
    });

const queryString = (declared: string[]) =>
  fc
    .array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...(declared.length > 0 ? declared : ["x"])), fc.string({ maxLength: 12 })),
        fc.oneof(segment, fc.constant(""), fc.string({ maxLength: 30 }).map(encodeURIComponent)),
      ),
      { maxLength: 4 },
    )
    .map((pairs) => (pairs.length === 0 ? "" : "?" + pairs.map(([k, v]) => `${encodeURIComponent(k)}=${v}`).join("&")));

/** Bodies: wrong JSON types, huge numbers, deep nesting, broken text, near-EPCIS documents. */
const nested = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth);
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.constantFrom(
    "",
    "{",
    "nul",
    '{"a":1,}',
    "1e999999",
    "123456789012345678901234567890123456789",
    '"\\ud800"',
    "[]",
    "{}",
    "null",
    '{"__proto__":{"polluted":true}}',
    '{"constructor":{"prototype":{"x":1}}}',
    nested(5000, "[", "]"),
    nested(2000, '{"a":', "}").replace(/}$/, "1}".slice(0, 1)),
    '{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"data":"0x00"},"latest"]}',
    '{"jsonrpc":"2.0","id":{},"method":"eth_getLogs","params":[{"fromBlock":"0x0","toBlock":"0xffffffffffffffff"}]}',
    '{"message":"x","signature":"0x' + "1".repeat(130) + '"}',
    '{"to":"0x0000000000000000000000000000000000000000","data":"0x12345678"}',
    '{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"x","epcisBody":{"eventList":[{"type":"ObjectEvent"}]}}',
  ),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 25 }).map((a) => JSON.stringify(a)),
  fc.string({ unit: "binary", maxLength: 200 }),
);

const forgedToken = fc.oneof(
  fc.constant(undefined),
  fc.constant("valid"),
  fc.constantFrom(
    "Bearer ",
    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIweDAwIiwib3JnIjoxfQ.",
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIweDAwIiwib3JnIjoxLCJvcmdOYW1lIjoiWCIsInJvbGVzIjpbXX0.AAAA",
    "Basic dXNlcjpwYXNz",
    "Bearer " + "a".repeat(8000),
    "bearer x y z",
  ),
  fc.string({ maxLength: 60 }).map((s) => "Bearer " + s.replace(/[\r\n]/g, "")),
);

const headerValue = fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, "?"));
const contentType = fc.oneof(
  fc.constantFrom("application/json", "application/ld+json", "application/vc+jwt", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=utf-16", "*/*", ""),
  headerValue,
);
const accept = fc.oneof(fc.constantFrom("application/json", "text/html", "application/linkset+json", "*/*", "image/png", ""), headerValue);
const host = fc.oneof(
  fc.constant("ok"),
  fc.constant("ok"),
  fc.constantFrom("evil.example", "a b", "", "localhost:0", "[::1]", "127.0.0.1:99999", "xn--80ak6aa92e.com", "localhost\t"),
);

// ------------------------------------------------------------------ the property

interface Operation {
  method: string;
  template: string;
  query: string[];
}

function operations(): Operation[] {
  const out: Operation[] = [];
  for (const [template, item] of Object.entries(gw.gateway.openapi.paths)) {
    for (const [method, op] of Object.entries(item as Record<string, { parameters?: { in: string; name: string }[] }>)) {
      if (!["get", "post", "put", "delete", "patch"].includes(method)) continue;
      out.push({ method: method.toUpperCase(), template, query: (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name) });
    }
  }
  return out;
}

/** What every answer must be: never a 5xx; a refusal is problem+json naming its fault. */
function judge(a: Answer, what: string): void {
  expect(a.status, `${what} -> ${a.status} ${a.text.slice(0, 300)}`).toBeLessThan(500);
  if (a.status >= 400) {
    expect(a.type, `${what} -> ${a.status} without problem+json: ${a.text.slice(0, 200)}`).toMatch(/^application\/problem\+json/);
    const problem = JSON.parse(a.text) as { status?: unknown; detail?: unknown; type?: unknown; tracemeshType?: unknown };
    expect(problem.status, what).toBe(a.status);
    expect(typeof problem.detail === "string" && problem.detail.length > 0, `${what}: a problem without detail`).toBe(true);
    // Every problem names its fault by a catalogue code: EPCIS routes answer GS1's epcisException
    // type (as the standard's OpenAPI document asks) with ours beside it.
    const ours = String(problem.type).startsWith("epcisException:") ? problem.tracemeshType : problem.type;
    expect(String(problem.type), what).toMatch(/^(https:\/\/tracemesh\.dev\/problems\/|epcisException:[A-Za-z]+Exception$)/);
    expect(String(ours), `${what}: ${a.text.slice(0, 200)}`).toMatch(/^https:\/\/tracemesh\.dev\/problems\/[a-z-]+$/);
  }
}

describe("fuzzing every documented route", () => {
  it("answers thousands of malformed requests without a 5xx, each refusal a problem+json naming the fault", async () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThan(15);
    const request = fc
      .constantFrom(...ops)
      .chain((op) =>
        fc.record({
          op: fc.constant(op),
          method: fc.oneof(fc.constant(op.method), fc.constant(op.method), fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")),
          path: pathFor(op.template),
          query: queryString(op.query),
          body,
          token: forgedToken,
          contentType,
          accept,
          host,
          extra: fc.dictionary(fc.constantFrom("x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "origin", "gs1-capture-error-behaviour", "if-none-match", "range", "cookie"), headerValue, { maxKeys: 3 }),
        }),
      );
    let count = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        count++;
        const headers: Record<string, string> = { ...r.extra };
        headers.host = r.host === "ok" ? `127.0.0.1:${gw.server.port}` : r.host;
        if (r.accept !== "") headers.accept = r.accept;
        if (r.token === "valid") headers.authorization = `Bearer ${token}`;
        else if (r.token !== undefined) headers.authorization = r.token;
        const withBody = r.method !== "GET" && r.method !== "HEAD";
        if (withBody && r.contentType !== "") headers["content-type"] = r.contentType;
        const rawPath = r.path + r.query;
        const answer = await send(r.method, rawPath, headers, withBody ? r.body : undefined);
        if (r.method === "HEAD") {
          expect(answer.status, `HEAD ${rawPath}`).toBeLessThan(500);
          return;
        }
        judge(answer, `${r.method} ${rawPath.slice(0, 200)} (host ${headers.host}, type ${headers["content-type"]}, auth ${String(headers.authorization).slice(0, 30)}) body ${String(r.body).slice(0, 120)}`);
      }),
      { numRuns: 3000, seed: Number(process.env.FUZZ_SEED ?? 1207), endOnFailure: true, reporter: (d) => { if (d.failed) throw new Error(`${String(d.errorInstance)}`.slice(0, 1500)); } },
    );
    expect(count).toBe(3000);
    // Still up and well.
    expect((await send("GET", "/health", { host: `127.0.0.1:${gw.server.port}` })).status).toBe(200);
  }, 120_000);
});
