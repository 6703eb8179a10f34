/**
 * The member tool on AccessGrants and Certificates against a real chain: grant, check, revoke;
 * accredit, issue, status valid, revoke, status revoked; key files (plain and encrypted); and a
 * refusal by the contract itself, decoded into its custom error.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { NonceManager, SigningKey, Wallet, encryptKeystoreJson, keccak256, toUtf8Bytes } from "ethers";
import { issueCredential } from "../../lib/credentials.ts";
import { issueSelectiveCredential, selectiveCredentialId } from "../../lib/credentials/selective-disclosure.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccessGrants__factory, Provenance__factory } from "../../lib/contracts/types/index.js";
import { createGateway } from "../../gateway/app.ts";
import { chainServices } from "../../gateway/services.ts";
import { AccessLog, AccessRecorder } from "../../node/access-log/index.ts";
import { RegulatorScope } from "../../lib/access.ts";
import { canonicalIdentifier, itemKey } from "../../lib/identifiers/canonical.ts";
import { proveKeysCalls } from "../../lib/namespaces.ts";
import { DEMO_ORGS } from "../../scripts/demo/consortium.ts";
import { type TestChain, type TmOptions, type TmResult, ORGS, startChain, tm as runTm } from "./harness.ts";

let chain: TestChain;
const outputs: string[] = [];

async function tm(args: string[], opts?: TmOptions): Promise<TmResult> {
  const r = await runTm(chain, args, opts);
  outputs.push(r.stdout, r.stderr);
  return r;
}

const hash = (text: string) => keccak256(toUtf8Bytes(text));
const ITEM = "urn:epc:id:sgtin:4012345.011111.1001";
const SCOPE = "EN10204-3.1";
const OEM_PREFIX = DEMO_ORGS.find((o) => o.key === "oem")!.site.companyPrefix;
const KEYSTORE_PASSWORD = "correct horse battery staple";

let steelKeyFile: string;
let labKeystore: string;

beforeAll(async () => {
  chain = await startChain();
  steelKeyFile = chain.keyFile("steel", ORGS.steel.key);
  // A low scrypt cost keeps the test fast; decryption reads the cost from the file.
  const json = await encryptKeystoreJson(new Wallet(ORGS.lab.key), KEYSTORE_PASSWORD, { scrypt: { N: 1 << 10 } });
  labKeystore = path.join(chain.dir, "lab.json");
  writeFileSync(labKeystore, json, { mode: 0o600 });
});

afterAll(async () => {
  await chain?.stop();
});

describe("access grants", () => {
  let grantId: string;

  it("grants an organisation access to an item and its genealogy, by identifier text", async () => {
    const r = await tm([
      "grant",
      "Atlas Motors",
      "--scope",
      "item-genealogy",
      "--key",
      ITEM,
      "--purpose",
      "QUALITY_CLAIM",
      "--expires",
      "+30d",
      "--key-file",
      steelKeyFile,
      "--json",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const g = r.json<{
      grantId: string;
      version: number;
      owner: number;
      grantee: number;
      scope: string;
      scopeKey: string;
      purpose: string;
    }>();
    expect(g).toMatchObject({
      version: 1,
      owner: ORGS.steel.id,
      grantee: ORGS.oem.id,
      scope: "item-genealogy",
      scopeKey: hash(ITEM),
      purpose: hash("QUALITY_CLAIM"),
    });
    const grants = AccessGrants__factory.connect(chain.deployment.contracts.accessGrants, chain.provider);
    expect(g.grantId).toBe(await grants.grantIdOf(ORGS.steel.id, ORGS.oem.id, hash(ITEM)));
    grantId = g.grantId;
  });

  it("checks it: the grantee may read, another organisation may not", async () => {
    const [yes, no] = await Promise.all([
      tm(["grants", "check", "4", "1", ITEM]),
      tm(["grants", "check", "Jiangnan Precision Castings", "Nordstahl Steel Mill", ITEM, "--json"]),
    ]);
    expect(yes.code).toBe(0);
    expect(yes.stdout).toContain(`allowed: Atlas Motors (#4) may read the data of Nordstahl Steel Mill (#1) about "${ITEM}"`);
    expect(yes.stdout).toMatch(/granted until .* \(in (29d 23h|30d)\), item-genealogy/);
    expect(no.code).toBe(0);
    expect(no.json()).toMatchObject({
      allowed: false,
      grant: null,
      reason: "Nordstahl Steel Mill (#1) has never granted Jiangnan Precision Castings (#2) access to this scope",
    });
  });

  it("lets only the owner revoke it, then the check says no", async () => {
    const before = await chain.provider.getTransactionCount(ORGS.oem.address);
    const notOwner = await tm(["revoke-grant", grantId], { key: ORGS.oem.key });
    expect(notOwner.code).toBe(1);
    expect(notOwner.stderr).toContain(
      `grant ${grantId} was given by Nordstahl Steel Mill (#1); only it can revoke it, not Atlas Motors (#4)`,
    );
    expect(await chain.provider.getTransactionCount(ORGS.oem.address)).toBe(before);

    const revoked = await tm(["revoke-grant", grantId, "--key-file", steelKeyFile]);
    expect(revoked.code).toBe(0);
    expect(revoked.stderr).toMatch(
      new RegExp(`^sent: revoke grant ${grantId}; waiting for transaction 0x[0-9a-f]{64} to be mined\n$`),
    );
    expect(revoked.stdout).toContain(
      `Nordstahl Steel Mill (#1) revoked grant ${grantId}: Atlas Motors (#4) may no longer read item-genealogy ${hash(ITEM)}`,
    );

    const check = await tm(["grants", "check", "4", "1", hash(ITEM), "--json"]);
    expect(check.json()).toMatchObject({ allowed: false, grant: { id: grantId, state: "revoked", revoked: true } });
  });

  it("checks a component through a genealogy grant on the product, naming the path; a later assembly by the grantee does not widen it", async () => {
    const oem = new NonceManager(new Wallet(ORGS.oem.key, chain.provider));
    const provenance = Provenance__factory.connect(chain.deployment.contracts.provenance, oem);
    // Identifiers under the OEM's registered company prefix: the deployment's namespace policy
    // refuses keys their creator has not proven (proveKeys) in the creating transaction.
    const ids = ["CASTING-1", "HOUSING-1", "PUMP-1", "LATER-1"].map((serial) => `urn:epc:id:sgtin:${OEM_PREFIX}.011111.CLI-${serial}`);
    const [casting, housing, pump, later] = ids.map((i) => itemKey(i)) as [string, string, string, string];
    const proven = (id: string, call: string, args: unknown[]) =>
      provenance.multicall([...proveKeysCalls(provenance.interface, [canonicalIdentifier(id)]), provenance.interface.encodeFunctionData(call as never, args as never)]);
    const active = hash("urn:epcglobal:cbv:disp:active");
    for (const i of [0, 2, 3]) await (await proven(ids[i]!, "commission", [itemKey(ids[i]!), active, hash(`commission:${ids[i]}`)])).wait();
    await (await proven(ids[1]!, "transform", [[casting], [housing], "0x" + "00".repeat(32), active, hash("machine")])).wait();
    await (await provenance.assemble(pump, [housing], hash("assemble"))).wait();
    const granted = await tm(["grant", "Atlas Motors", "--scope", "item-genealogy", "--key", pump, "--purpose", "QUALITY_CLAIM", "--expires", "+30d", "--key-file", steelKeyFile]);
    expect(granted.code).toBe(0);
    await (await provenance.assemble(pump, [later], hash("assemble-later"))).wait();

    const through = await tm(["grants", "check", "Atlas Motors", "Nordstahl Steel Mill", casting]);
    expect(through.code).toBe(0);
    expect(through.stdout).toContain(`allowed: Atlas Motors (#4) may read the data of Nordstahl Steel Mill (#1) about ${casting}`);
    expect(through.stdout).toContain(`through genealogy: ${pump} contains ${housing} contains ${casting}`);
    const json = (await tm(["grants", "check", "4", "1", casting, "--json"])).json<{ allowed: boolean; path: string[] }>();
    expect(json).toMatchObject({ allowed: true, path: [pump, housing, casting] });
    // The OEM assembled this one after the grant: the mill's grant does not reach it.
    const widened = (await tm(["grants", "check", "4", "1", later, "--json"])).json<{ allowed: boolean }>();
    expect(widened).toMatchObject({ allowed: false, grant: null });
    // Another organisation holds no grant on the pump.
    expect((await tm(["grants", "check", "2", "1", casting, "--json"])).json<{ allowed: boolean }>()).toMatchObject({ allowed: false });
  });

  it("grants a time range of a stream in Unix milliseconds and checks a data time against it", async () => {
    const granted = await tm(
      [
        "grant",
        "4",
        "--scope",
        "window-range",
        "--key",
        "furnace-1/temperature",
        "--purpose",
        "QUALITY_CLAIM",
        "--expires",
        "+7d",
      ].concat(["--from", "2026-01-01T00:00:00Z", "--to", "2026-01-02T00:00:00Z", "--json"]),
      { key: ORGS.steel.key },
    );
    expect(granted.code).toBe(0);
    expect(granted.json()).toMatchObject({ fromMs: Date.UTC(2026, 0, 1), toMs: Date.UTC(2026, 0, 2) });
    const [inside, outside] = await Promise.all([
      tm(["grants", "check", "4", "1", "furnace-1/temperature", "--at", "2026-01-01T12:00:00Z", "--json"]),
      tm(["grants", "check", "4", "1", "furnace-1/temperature", "--at", String(Date.UTC(2026, 0, 2))]),
    ]);
    expect(inside.json()).toMatchObject({ allowed: true, atMs: Date.UTC(2026, 0, 1, 12) });
    expect(outside.stdout).toContain("not allowed");
    expect(outside.stdout).toContain("lies outside the granted range");
  });

  it("decodes the contract's own refusal into its custom error when no local check caught it", async () => {
    const zero = "0x" + "00".repeat(32);
    const r = await tm(["grant", "4", "--scope", "item", "--key", zero, "--purpose", "QUALITY_CLAIM", "--expires", "+1d"], {
      key: ORGS.steel.key,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: the scope key is zero");
    expect(r.stderr).toContain("AccessGrants refused it before anything was sent: ZeroScopeKey()");
    expect(r.stderr).not.toMatch(/^sent: /m);
    const j = await tm(["--json", "grant", "4", "--scope", "item", "--key", zero, "--purpose", "x", "--expires", "+1d"], {
      key: ORGS.steel.key,
    });
    expect(j.errorJson()).toEqual({
      kind: "refused",
      message: "the scope key is zero",
      contract: "AccessGrants",
      error: "ZeroScopeKey",
      signature: "ZeroScopeKey()",
      args: {},
      stage: "before sending",
    });
  });
});

describe("access log", () => {
  it("shows the mill its access log from its gateway, with the hash-chain check; another organisation is refused", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tm-cli-access-log-"));
    const log = await AccessLog.open(dir);
    const services = await chainServices(chain.url, chain.deployment, { id: ORGS.steel.id, name: ORGS.steel.name });
    const recorder = new AccessRecorder(log, services.contracts.accessGrants);
    const gateway = createGateway({ ...services, accessLog: recorder }, { log: "silent", rateLimit: false });
    const http = await gateway.listen(0, "127.0.0.1");
    try {
      await recorder.record(
        { reader: ORGS.oem.id, owner: ORGS.steel.id, channel: "p2p", subject: { kind: "document", eventHash: hash("melt"), eventID: "c0001-melt" } },
        { allowed: true, via: "grant", scopeKey: hash("pump"), kind: 1, path: [hash("pump"), hash("billet")] },
      );
      // One answer that handed out two documents and the readings of one: one entry naming the three.
      await recorder.recordAll(ORGS.oem.id, "gateway", [
        { owner: ORGS.steel.id, subject: { kind: "document", eventHash: hash("cast"), eventID: "c0002-cast" }, decision: { allowed: true, via: "rule", rule: RegulatorScope.RecallEvents } },
        { owner: ORGS.steel.id, subject: { kind: "document", eventHash: hash("roll"), eventID: "c0003-roll" }, decision: { allowed: true, via: "rule", rule: RegulatorScope.RecallEvents } },
        { owner: ORGS.steel.id, subject: { kind: "readings", eventHash: hash("roll"), eventID: "c0003-roll", streams: ["mill-2/force"] }, decision: { allowed: true, via: "rule", rule: RegulatorScope.RecallEvents } },
      ]);
      const r = await tm(["access-log", "--gateway", http.url, "--key-file", steelKeyFile]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^hash chain intact: 2 entries, head [0-9a-f]{64}$/m);
      expect(r.stdout).toContain("#1 ");
      expect(r.stdout).toContain(`Atlas Motors (#4) read document c0001-melt via p2p`);
      expect(r.stdout).toContain(`allowed by grant item-genealogy on ${hash("pump")}`);
      expect(r.stdout).toMatch(/^#2 \S+ Atlas Motors \(#4\) read 2 documents, 1 set of readings via gateway$/m);
      expect(r.stdout).toMatch(/^ {4}document c0002-cast: allowed by rule regulator-\S+; purpose regulatory-oversight/m);
      expect(r.stdout).toMatch(/^ {4}document c0003-roll: allowed by rule /m);
      expect(r.stdout).toMatch(/^ {4}readings of c0003-roll \(mill-2\/force\): allowed by rule /m);
      const json = (await tm(["access-log", "--gateway", http.url, "--reader", "Atlas Motors", "--json"], { key: ORGS.steel.key })).json<{ entries: { reads: unknown[] }[]; check: { ok: boolean } }>();
      expect(json.check.ok).toBe(true);
      expect(json.entries.map((e) => e.reads.length)).toEqual([1, 3]);
      const refused = await tm(["access-log", "--gateway", http.url], { key: ORGS.oem.key });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/403.*Atlas Motors cannot read it/);
      const noKey = await tm(["access-log", "--gateway", http.url]);
      expect(noKey.code).toBe(2);
    } finally {
      await http.close();
      services.close();
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("certificates", () => {
  const CERT = "EN10204-3.1 report 4711";

  it("a regulator accredits the lab; the lab (key from an encrypted keystore) issues; status is valid", async () => {
    const accredited = await tm(["cert", "accredit", "Certa Materials Test Lab", SCOPE, "--expires", "+365d"], {
      key: ORGS.regulator.key,
    });
    expect(accredited.code).toBe(0);
    expect(accredited.stdout).toContain(
      `Market Surveillance Authority (#5) accredited Certa Materials Test Lab (#6) for "${SCOPE}" (${hash(SCOPE)}), until`,
    );

    const lab = { env: { TRACEMESH_KEY_PASSWORD: KEYSTORE_PASSWORD } };
    const [issued, unaccredited, wrongPassword] = await Promise.all([
      tm(["cert", "issue", CERT, "--subject", ITEM, "--scope", SCOPE, "--valid-until", "+730d", "--key-file", labKeystore], lab),
      tm(["cert", "issue", "ISO 9001 audit 2026", "--subject", ITEM, "--scope", "ISO9001", "--key-file", labKeystore], lab),
      tm(["cert", "issue", CERT, "--subject", ITEM, "--scope", SCOPE, "--key-file", labKeystore], {
        env: { TRACEMESH_KEY_PASSWORD: "wrong" },
      }),
    ]);
    expect(issued.code).toBe(0);
    expect(issued.stdout).toContain(`Certa Materials Test Lab (#6) issued certificate "${CERT}" (${hash(CERT)})`);
    expect(unaccredited.code).toBe(1);
    expect(unaccredited.stderr).toContain(
      `signs for Certa Materials Test Lab, which is not accredited for scope "ISO9001" (${hash("ISO9001")}) now`,
    );
    expect(wrongPassword.code).toBe(1);
    expect(wrongPassword.stderr).toContain(`cannot decrypt the keystore ${labKeystore}: wrong password`);

    const status = await tm(["cert", "status", CERT, "--json"]);
    expect(status.code).toBe(0);
    expect(status.json()).toMatchObject({
      certificate: hash(CERT),
      status: "Valid",
      issuer: { id: ORGS.lab.id, name: ORGS.lab.name },
      accreditedAtIssuance: true,
      accreditedNow: true,
      subject: hash(ITEM),
      scope: hash(SCOPE),
      revokedAt: null,
    });
  });

  it("the issuer revokes it with a reason; status is revoked; nobody else may touch it", async () => {
    const [other, revoked] = await Promise.all([
      tm(["cert", "suspend", CERT], { key: ORGS.regulator.key }),
      tm(["cert", "revoke", CERT, "--reason", "non-conformity", "--statement", "NCR-2026-17"], { key: ORGS.lab.key }),
    ]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(
      "was issued by Certa Materials Test Lab (#6); only its issuer may change it, not Market Surveillance Authority (#5)",
    );
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`revoked certificate "${CERT}" (${hash(CERT)}): non-conformity, statement "NCR-2026-17"`);

    const [text, json] = await Promise.all([tm(["cert", "status", CERT]), tm(["cert", "status", hash(CERT), "--json"])]);
    expect(text.stdout).toContain(`Certificate "${CERT}" (${hash(CERT)}): Revoked`);
    expect(text.stdout).toMatch(/revoked +\d{4}-\d\d-\d\d .*: non-conformity/);
    expect(json.json()).toMatchObject({ status: "Revoked", reason: "non-conformity", reasonHash: hash("NCR-2026-17") });
  });
});

it("no key appears in any output of this file's runs", () => {
  const all = outputs.join("\n").toLowerCase();
  expect(outputs.length).toBeGreaterThan(20);
  for (const key of [ORGS.steel.key, ORGS.oem.key, ORGS.lab.key, ORGS.regulator.key])
    expect(all).not.toContain(key.slice(2).toLowerCase());
  expect(all).not.toContain(KEYSTORE_PASSWORD);
});

describe("cert verify", () => {
  const credential = (lot: string) => ({
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    type: ["VerifiableCredential", "MillTestReportCredential"],
    issuer: { name: ORGS.lab.name },
    credentialSubject: { type: "MillTestReport", heat: lot, grade: "42CrMo4" },
  });
  const write = (name: string, jws: string) => {
    const file = path.join(chain.dir, name);
    writeFileSync(file, jws + "\n");
    return file;
  };
  const lab = () => ({ env: { TRACEMESH_KEY_PASSWORD: KEYSTORE_PASSWORD } });

  it("verifies a credential through its status entry, and refuses one whose entry names another contract", async () => {
    const key = new SigningKey(ORGS.lab.key);
    const { chainId, contracts } = chain.deployment;
    const good = write("good.jwt", await issueCredential(credential("H-1"), key, chainId, { certificates: contracts.certificates }));
    const elsewhere = write("elsewhere.jwt", await issueCredential(credential("H-2"), key, chainId, { certificates: contracts.provenance }));
    for (const file of [good, elsewhere]) {
      const issued = await tm(["cert", "issue", `@${file}`, "--subject", ITEM, "--scope", SCOPE, "--key-file", labKeystore], lab());
      expect(issued.code, issued.stderr).toBe(0);
    }
    const ok = await tm(["cert", "verify", good]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`Credential ${good}: valid`);
    expect(ok.stdout).toMatch(/ok {3}onChain: recorded as certificate/);
    const refused = await tm(["cert", "verify", elsewhere]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`status is in Certificates ${contracts.provenance}`);
    const unreadable = await tm(["cert", "verify", path.join(chain.dir, "missing.jwt")]);
    expect(unreadable.stderr).toContain("cannot read the credential file");
  });

  it("a holder presents a certificate for a verifier's challenge; the verifier checks it, a replay fails", async () => {
    const good = path.join(chain.dir, "good.jwt");
    const presented = await tm(["cert", "present", good, "--nonce", "n-4711", "--domain", "audit.example"], { key: ORGS.steel.key });
    expect(presented.code, presented.stderr).toBe(0);
    const vp = write("vp.jwt", presented.stdout.trim());
    const ok = await tm(["cert", "verify-presentation", vp, "--nonce", "n-4711", "--domain", "audit.example"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`Presentation ${vp}: valid`);
    expect(ok.stdout).toMatch(/credential 0: valid \(certificate 0x[0-9a-f]{64}\)/);
    const replay = await tm(["cert", "verify-presentation", vp, "--nonce", "n-other", "--domain", "audit.example"]);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toMatch(/FAIL challenge: made for challenge "n-4711", not this verifier's/);
    const noNonce = await tm(["cert", "present", good, "--domain", "audit.example"], { key: ORGS.steel.key });
    expect(noNonce.stderr).toContain("needs --nonce");
  });

  it("a holder discloses chosen claims of an SD-JWT certificate; the verifier sees only those, a replay for another challenge fails", async () => {
    const { chainId, contracts } = chain.deployment;
    const holder = new Wallet(ORGS.steel.key).address;
    const mill = { ...credential("H-SD"), credentialSubject: { ...credential("H-SD").credentialSubject, customer: "Pump Works Ltd", carbon: 0.18 } };
    const sd = write(
      "mill.sd-jwt",
      await issueSelectiveCredential(mill, new SigningKey(ORGS.lab.key), chainId, {
        certificates: contracts.certificates,
        holder,
        disclosable: ["credentialSubject.grade", "credentialSubject.customer", "credentialSubject.carbon"],
      }),
    );
    const issued = await tm(["cert", "issue", `@${sd}`, "--subject", ITEM, "--scope", SCOPE, "--key-file", labKeystore], lab());
    expect(issued.code, issued.stderr).toBe(0);
    expect(issued.stdout).toContain(selectiveCredentialId(readFileSync(sd, "utf8")));

    const presented = await tm(["cert", "present", sd, "--nonce", "n-sd", "--domain", "buyer.example", "--disclose", "credentialSubject.grade"], { key: ORGS.steel.key });
    expect(presented.code, presented.stderr).toBe(0);
    const shown = write("shown.sd-jwt", presented.stdout.trim());
    const ok = await tm(["cert", "verify", shown, "--nonce", "n-sd", "--domain", "buyer.example"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`Selective disclosure ${shown}: valid (certificate ${selectiveCredentialId(readFileSync(sd, "utf8"))}), holder ${holder}`);
    expect(ok.stdout).toContain('disclosed credentialSubject.grade = "42CrMo4"');
    expect(ok.stdout).toContain("hidden    2 claim(s) of credentialSubject");
    expect(ok.stdout).not.toContain("Pump Works");

    const replay = await tm(["cert", "verify", shown, "--nonce", "n-other", "--domain", "buyer.example"]);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toMatch(/FAIL keyBinding: wrong nonce: made for challenge "n-sd"/);
    const unbound = await tm(["cert", "verify", shown]);
    expect(unbound.stderr).toContain("needs --nonce");
    const notMine = await tm(["cert", "present", sd, "--nonce", "n", "--domain", "d", "--disclose", "credentialSubject.grade"], { key: ORGS.oem.key });
    expect(notMine.stderr).toContain(`this credential is bound to the holder ${holder}`);
    const unknownClaim = await tm(["cert", "present", sd, "--nonce", "n", "--domain", "d", "--disclose", "credentialSubject.heat"], { key: ORGS.steel.key });
    expect(unknownClaim.stderr).toContain("not disclosable in this credential: credentialSubject.heat");
  });
});
