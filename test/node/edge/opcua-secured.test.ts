/**
 * The OPC UA adapter against a secured node-opcua server, set up as a plant would: only
 * SignAndEncrypt endpoints (Basic256Sha256, Aes128_Sha256_RsaOaep), no anonymous sessions, a user
 * name and password, and a server trust list that accepts no unknown client. Both sides' trust is
 * handled as operators do it: each refuses the other's unknown certificate and files it under its
 * PKI folder's rejected/, and `opcua trust` (the node's command line) moves it to trusted/.
 * Certificates and keys live in this test's temporary folder only; they are made once per file.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { DataType, MessageSecurityMode, OPCUACertificateManager, OPCUAServer, SecurityPolicy, Variant, type UAVariable } from "node-opcua";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseDeviceConfig, type OpcUaDeviceConfig } from "../../../node/edge/config.ts";
import { OpcUaAdapter } from "../../../node/edge/opcua.ts";
import { listCertificates, pkiPaths, trustCertificate } from "../../../node/edge/opcua-trust.ts";
import { TestSink, statusLog, waitFor } from "./helpers.ts";

const run = promisify(execFile);
const USER = "line-operator";
const PASSWORD = "correct horse battery";

let dir: string;
let serverPki: string;
let clientPki: string;
let server: OPCUAServer;
let serverCertificates: OPCUACertificateManager;
let force: UAVariable;
let endpoint: string;
let adapter: OpcUaAdapter | undefined;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "tracemesh-opcua-sec-"));
  serverPki = path.join(dir, "server-pki");
  clientPki = path.join(dir, "client-pki");
  serverCertificates = new OPCUACertificateManager({ rootFolder: serverPki, automaticallyAcceptUnknownCertificate: false });
  await serverCertificates.initialize();
  server = new OPCUAServer({
    host: "127.0.0.1",
    hostname: "127.0.0.1",
    port: 0,
    serverCertificateManager: serverCertificates,
    securityModes: [MessageSecurityMode.SignAndEncrypt],
    securityPolicies: [SecurityPolicy.Basic256Sha256, SecurityPolicy.Aes128_Sha256_RsaOaep],
    allowAnonymous: false,
    userManager: { isValidUser: (user: string, password: string) => user === USER && password === PASSWORD },
    serverCapabilities: { minSupportedSampleRate: 0 },
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace!;
  const ns = addressSpace.getOwnNamespace();
  const press = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: "Press1", nodeId: "s=Press1" });
  force = ns.addVariable({ componentOf: press, browseName: "Force", nodeId: "s=Press1.Force", dataType: "Double", minimumSamplingInterval: 0 });
  force.setValueFromSource(new Variant({ dataType: DataType.Double, value: 12.5 }));
  await server.start();
  endpoint = `opc.tcp://127.0.0.1:${server.endpoints[0]!.port}`;
}, 120_000);

afterAll(async () => {
  await adapter?.stop();
  await server?.shutdown();
  await serverCertificates?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await adapter?.stop();
  adapter = undefined;
});

function config(over: Partial<OpcUaDeviceConfig> = {}): OpcUaDeviceConfig {
  return parseDeviceConfig({
    kind: "opcua",
    device: "press-1",
    endpoint,
    securityMode: "SignAndEncrypt",
    securityPolicy: "Basic256Sha256",
    pkiFolder: clientPki,
    userName: USER,
    password: PASSWORD,
    publishingIntervalMs: 50,
    samplingIntervalMs: 10,
    reconnect: { initialDelayMs: 100, maxDelayMs: 400, jitter: 0.1 },
    nodes: [{ nodeId: "ns=1;s=Press1.Force", stream: "press-1/force", metric: "force", unit: "kN" }],
    ...over,
  }) as OpcUaDeviceConfig;
}

async function start(cfg: OpcUaDeviceConfig, sink = new TestSink()) {
  const log = statusLog();
  const lines: string[] = [];
  adapter = new OpcUaAdapter(cfg, { sink, onStatus: log.onStatus, log: (l) => lines.push(l) });
  await adapter.start();
  return { adapter, sink, log, lines };
}

/** The node's own command line, as an operator runs it. */
async function opcuaCli(args: string[]): Promise<string> {
  const { stdout } = await run("node", ["--import", "tsx", "node/cli.ts", "opcua", ...args], { cwd: process.cwd() });
  return stdout;
}
const trustCli = (pki: string, which: string) => opcuaCli(["trust", "--pki", pki, which]);

describe("OPC UA SignAndEncrypt with certificates and a user login", () => {
  it("refuses the untrusted server, trusts it by command; the server refuses the client until its operator trusts it; then readings flow", async () => {
    const own = pkiPaths(clientPki).ownCertificate;
    expect(existsSync(own)).toBe(false);
    const sink = new TestSink();
    const { adapter: a, lines } = await start(config(), sink);
    // The client's certificate is made on first start, in its PKI folder.
    expect(existsSync(own)).toBe(true);
    await waitFor(() => /not trusted/.test(a.status().detail ?? ""), "the untrusted server reported", 20_000);
    const rejected = pkiPaths(clientPki).rejected;
    const [serverCert] = listCertificates(rejected);
    expect(a.status()).toMatchObject({ state: "disconnected", readings: 0 });
    expect(a.status().detail).toContain(`it was put in ${rejected}`);
    expect(a.status().detail).toContain(`npm run node -- opcua trust --pki ${clientPki} ${serverCert!.thumbprint}`);
    expect(lines.filter((l) => l.includes("not trusted"))).toHaveLength(1);

    const listed = await opcuaCli(["list", "--pki", clientPki]);
    expect(listed).toContain(`rejected (${rejected}): \n  ${serverCert!.thumbprint}  ${serverCert!.subject}`);
    expect(await trustCli(clientPki, serverCert!.thumbprint)).toContain(`trusted ${serverCert!.subject}`);
    expect(listCertificates(rejected)).toEqual([]);
    expect(listCertificates(path.join(clientPki, "trusted", "certs")).map((c) => c.thumbprint)).toEqual([serverCert!.thumbprint]);

    // Our side is satisfied; the server's own trust list does not know this client yet.
    await waitFor(() => /server refused the secure channel/.test(a.status().detail ?? ""), "the server refusing the client's certificate", 20_000);
    const clientCert = listCertificates(path.dirname(own))[0]!;
    expect(a.status().detail).toContain(`this client's certificate ${own} (thumbprint ${clientCert.thumbprint})`);
    expect(a.status().readings).toBe(0);
    // The server filed it in its rejected folder; its operator trusts it with the same command on the server's PKI folder.
    const serverRejected = listCertificates(path.join(serverPki, "rejected"));
    expect(serverRejected.map((c) => c.thumbprint)).toEqual([clientCert.thumbprint]);
    await trustCli(serverPki, clientCert.thumbprint);

    await waitFor(() => a.status().state === "connected", "the secured session", 30_000);
    await waitFor(() => sink.of("press-1/force").some((r) => r.value === 12.5), "the first reading");
    force.setValueFromSource(new Variant({ dataType: DataType.Double, value: 17.25 }));
    await waitFor(() => sink.of("press-1/force").some((r) => r.value === 17.25), "a change, through the subscription");
    expect(sink.last("press-1/force")).toMatchObject({ metric: "force", unit: "kN", quality: "good" });
    expect(server.currentSessionCount).toBe(1);
  }, 90_000);

  it("works with Aes128_Sha256_RsaOaep too, once both sides trust each other", async () => {
    const sink = new TestSink();
    const { adapter: a } = await start(config({ securityPolicy: "Aes128_Sha256_RsaOaep" }), sink);
    await waitFor(() => a.status().state === "connected", "the Aes128_Sha256_RsaOaep session", 20_000);
    await waitFor(() => sink.of("press-1/force").length > 0, "a reading");
  }, 60_000);

  it("a wrong password, an anonymous session and an unsecured channel are refused, each said plainly", async () => {
    const wrong = await start(config({ password: "guess" }));
    await waitFor(() => /refused the login/.test(wrong.adapter.status().detail ?? ""), "the refused login", 20_000);
    expect(wrong.adapter.status().detail).toMatch(new RegExp(`the server refused the login of user "${USER}" \\(Bad\\w+\\): check userName and password`));
    expect(wrong.adapter.status().detail).not.toContain("guess");
    await wrong.adapter.stop();

    const { userName: _u, password: _p, ...anonymous } = config();
    const anon = await start(anonymous as OpcUaDeviceConfig);
    await waitFor(() => /anonymous/.test(anon.adapter.status().detail ?? ""), "the refused anonymous session", 20_000);
    expect(anon.adapter.status().detail).toMatch(/the server refuses an anonymous session \(no anonymous user token policy on its endpoint\): configure userName and password/);
    await anon.adapter.stop();

    const plain = await start(config({ securityMode: "None", securityPolicy: "None" }));
    await waitFor(() => /offers no endpoint/.test(plain.adapter.status().detail ?? ""), "the unsecured channel refused", 20_000);
    expect(plain.adapter.status().detail).toMatch(/^the server offers no endpoint with securityMode None and securityPolicy None: configure one it offers/);
    expect(plain.adapter.status().readings).toBe(0);
    expect(server.currentSessionCount).toBe(0);
  }, 90_000);
});

describe("opcua trust: what it refuses", () => {
  it("names the problem: no such folder, not a certificate, not a thumbprint, no match", () => {
    const pki = path.join(dir, "other-pki");
    expect(() => trustCertificate(pki, "ab12cd34")).toThrow(`no PKI folder at ${pki}`);
    mkdirSync(path.join(pki, "rejected"), { recursive: true });
    const notCert = path.join(dir, "notes.pem");
    writeFileSync(notCert, "-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n");
    expect(() => trustCertificate(pki, notCert)).toThrow(`${notCert} is not an X.509 certificate`);
    expect(() => trustCertificate(pki, "../../no-such-folder/passwd")).toThrow(/neither a certificate file nor a thumbprint/);
    expect(() => trustCertificate(pki, "abc")).toThrow(/neither a certificate file nor a thumbprint/);
    expect(() => trustCertificate(pki, "ab12cd34")).toThrow(`no rejected certificate with thumbprint ab12cd34 in ${path.join(pki, "rejected")}`);
    // A certificate file handed over by a peer's operator is copied in; its thumbprint (colons, any case) then finds it trusted.
    const own = listCertificates(path.dirname(pkiPaths(clientPki).ownCertificate))[0]!;
    const trusted = trustCertificate(pki, own.file);
    expect(trusted).toMatchObject({ thumbprint: own.thumbprint, subject: own.subject });
    expect(existsSync(own.file)).toBe(true);
    const colons = own.thumbprint.toUpperCase().match(/../g)!.join(":");
    expect(trustCertificate(pki, colons).file).toBe(trusted.file);
  });
});

describe("opcua list|trust --config FILE --device ID", () => {
  it("takes the PKI folder from the device's configuration, and says plainly when there is none", async () => {
    const file = path.join(dir, "node.json");
    const device = { kind: "opcua", device: "press-1", endpoint, securityMode: "SignAndEncrypt", securityPolicy: "Basic256Sha256", pkiFolder: clientPki, nodes: [{ nodeId: "ns=1;s=Press1.Force", stream: "press-1/force", metric: "force" }] };
    const modbus = { kind: "modbus", device: "coolant-1", host: "127.0.0.1", registers: [{ address: 0, type: "int16", stream: "coolant-1/flow", metric: "flow" }] };
    writeFileSync(file, JSON.stringify({ organisation: "Test Works", dataDir: path.join(dir, "data"), chain: { rpcUrl: "http://127.0.0.1:1", deployment: path.join(dir, "deployment.json"), keyEnv: "NO_KEY_NEEDED" }, devices: [device, modbus] }));
    const listed = await opcuaCli(["list", "--config", file, "--device", "press-1"]);
    expect(listed).toContain(`trusted (${path.join(clientPki, "trusted", "certs")}): \n  `);
    await expect(opcuaCli(["list", "--config", file, "--device", "coolant-1"])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining(`${file} has no OPC UA device "coolant-1"`) });
  }, 60_000);
});
