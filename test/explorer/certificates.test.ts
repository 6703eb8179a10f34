/**
 * A regulator checks certificates in the explorer (real Chromium, real gateway, real chain):
 * a valid one shows green with its issuer accredited then and now, a revoked one shows red with
 * its reason, a superseded one points to its replacement; the page's own on-chain check agrees;
 * the QR code on the page decodes to the link it claims. Certificates are seeded through the
 * contracts, as the certifier and the regulator would.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { NonceManager, SigningKey, keccak256, toUtf8Bytes } from "ethers";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRACEMESH_CREDENTIALS_CONTEXT, VC_V2_CONTEXT, credentialHash, signCredential } from "../../lib/credentials.ts";
import { signPresentation } from "../../lib/credentials/presentation.ts";
import { itemKey } from "../../lib/identifiers/canonical.ts";
import { RevocationReason } from "../../lib/registry.ts";
import { StatementStore } from "../../node/certificates/statements.ts";
import { Indexer } from "../../node/indexer/index.ts";
import { indexService } from "../../node/indexer/service.ts";
import { type TestChain, type TestGateway, startTestChain, startTestGateway } from "../helpers/gateway.ts";
import { EXPLORER_DIST, PHONE, SKIP_MESSAGE, decodeQr, hasChromium, inPage, launchBrowser, openPage, overflowsHorizontally, screenshot } from "./browser.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const SCOPE = keccak256(toUtf8Bytes("EN10204-3.1"));
const PART = "https://id.gs1.org/01/09520123456788/21/HEAT-7781-001";
const credentialId = (label: string) => keccak256(toUtf8Bytes(`credential:${label}`));

/** An EN 10204 3.1 inspection certificate as the lab would sign it (VC 2.0, VC-JOSE). */
const millCertificate = (heat: string) => ({
  "@context": [VC_V2_CONTEXT, TRACEMESH_CREDENTIALS_CONTEXT],
  type: ["VerifiableCredential", "InspectionCertificate"],
  issuer: { name: "Certa Test Lab" },
  validFrom: new Date(Date.now() - 3600_000).toISOString(),
  credentialSubject: { id: PART, standard: "EN 10204 3.1", heat, tensileStrengthMPa: 612 },
});

describe.skipIf(!hasChromium)("certificate page in Chromium", () => {
  let chain: TestChain;
  let indexer: Indexer;
  const indexDir = mkdtempSync(path.join(tmpdir(), "tm-cert-explorer-"));
  let gw: TestGateway;
  /** The lab's own node, which keeps the statements of the certificates it revoked. */
  let labNode: TestGateway;
  const STATEMENT = "Certa Test Lab: the tensile test of heat H-7790 was falsified.\nThe certificate is revoked; do not use the heat on its strength.\n";
  let browser: Browser;
  let jws: { valid: string; revoked: string };
  let ids: { valid: string; revoked: string; old: string; replacement: string };

  beforeAll(async () => {
    if (!existsSync(EXPLORER_DIST)) throw new Error(`${EXPLORER_DIST} is missing: run npm run explorer:build (npm test builds it)`);
    chain = await startTestChain();
    // The chain index lists certificates by issuer (GET /certificates) and the consortium's members.
    indexer = await Indexer.open({ provider: chain.provider, deployment: chain.deployment, store: path.join(indexDir, "index") });
    gw = await startTestGateway({ chain, node: "regulator", services: { index: indexService(indexer) }, gateway: { explorerDir: EXPLORER_DIST } });
    const { lab, regulator } = gw.chain.orgs;
    const labKey = new SigningKey(lab.signer.privateKey);
    const status = { certificates: gw.chain.deployment.contracts.certificates };
    jws = { valid: signCredential(millCertificate("H-7781"), labKey, gw.chain.chain.chainId, status), revoked: signCredential(millCertificate("H-7790"), labKey, gw.chain.chain.chainId, status) };
    ids = { valid: credentialHash(jws.valid), revoked: credentialHash(jws.revoked), old: credentialId("old"), replacement: credentialId("replacement") };
    const now = BigInt(Math.floor(Date.now() / 1000));
    await (await regulator.contracts.certificates.accredit(lab.id, SCOPE, now + 365n * 86400n)).wait();
    const subject = itemKey(PART);
    // Back-to-back transactions: ethers' provider caches eth_getTransactionCount briefly.
    const c = lab.contracts.certificates.connect(new NonceManager(lab.signer));
    await (await c.issue(ids.valid, subject, SCOPE, now - 7200n, now + 180n * 86400n)).wait();
    await (await c.issue(ids.revoked, subject, SCOPE, now - 7200n, 0n)).wait();
    await (await c.revoke(ids.revoked, RevocationReason.Fraud, keccak256(toUtf8Bytes(STATEMENT)))).wait();
    await (await c.issue(ids.old, subject, SCOPE, now - 3600n, 0n)).wait();
    await (await c.supersede(ids.old, ids.replacement, subject, SCOPE, now - 60n, 0n)).wait();
    await indexer.sync();
    labNode = await startTestGateway({ chain, node: "lab", services: { index: indexService(indexer), statements: await StatementStore.open(path.join(indexDir, "statements")) }, gateway: { explorerDir: EXPLORER_DIST } });
    const kept = await labNode.request(`/certificates/${ids.revoked}/statement`, { method: "PUT", body: STATEMENT, headers: { "content-type": "text/plain" }, token: await labNode.signIn("lab") });
    if (kept.status !== 200) throw new Error(`the lab's node did not keep the statement: ${await kept.text()}`);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await labNode?.stop();
    await indexer?.stop();
    await chain?.stop();
    rmSync(indexDir, { recursive: true, force: true });
  });

  it("lets the regulator find a certificate in the issuer's list and open it: status, scope and subject", async () => {
    for (const viewport of [undefined, PHONE]) {
      const w = await openPage(browser, gw.url, viewport);
      await w.page.goto(`${gw.url}/explorer/#/certificate`);
      const list = w.page.getByTestId("cert-list");
      await list.waitFor();
      expect(await w.page.getByLabel("Issuer").locator("option:checked").textContent()).toBe("Certa Test Lab");
      // Issuance order: valid, revoked, old (superseded), its replacement.
      expect(await list.locator("li").evaluateAll((lis) => lis.map((li) => li.getAttribute("data-state")))).toEqual(["valid", "revoked", "superseded", "valid"]);
      const revoked = list.locator("li").nth(1);
      expect(await revoked.textContent()).toContain("EN 10204 3.1");
      expect(await revoked.textContent()).toContain(itemKey(PART));
      if (viewport === PHONE) expect(await overflowsHorizontally(w.page)).toBe(false);
      await screenshot(w.page, viewport === PHONE ? "certificate-list-phone" : "certificate-list-desktop");
      await revoked.getByRole("link").click();
      const cert = w.page.locator(".cert");
      await cert.waitFor();
      expect(await cert.getAttribute("data-state")).toBe("revoked");
      expect(await w.page.getByTestId("cert-scope").textContent()).toContain("EN 10204 3.1");
      expect(w.page.url()).toContain(ids.revoked);
      expect(w.errors).toEqual([]);
      await w.page.context().close();
    }
  });

  it("shows a valid certificate as valid, with the issuer accredited then and now, confirmed on chain by the page", async () => {
    const w = await openPage(browser, gw.url);
    await w.page.goto(`${gw.url}/explorer/#/certificate/${ids.valid}`);
    const cert = w.page.locator(".cert");
    await cert.waitFor();
    expect(await cert.getAttribute("data-state")).toBe("valid");
    expect(await cert.getAttribute("data-good")).toBe("yes");
    expect(await cert.locator(".cert-banner").textContent()).toContain("This certificate is valid and its issuer is accredited.");
    expect(await cert.textContent()).toContain("Certa Test Lab");
    const check = w.page.getByTestId("chain-check");
    await check.waitFor();
    expect(await check.getAttribute("data-chain-state")).toBe("valid");
    expect(await check.textContent()).toContain("agrees with the gateway");
    await screenshot(w.page, "certificate-valid-desktop");
    expect(w.foreign).toEqual([]);
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("shows a revoked certificate in red with its reason, on a phone too", async () => {
    for (const viewport of [undefined, PHONE]) {
      const w = await openPage(browser, gw.url, viewport);
      await w.page.goto(`${gw.url}/explorer/#/certificate/${ids.revoked}`);
      const cert = w.page.locator(".cert");
      await cert.waitFor();
      expect(await cert.getAttribute("data-state")).toBe("revoked");
      expect(await cert.getAttribute("data-good")).toBe("no");
      const banner = cert.getByRole("alert");
      expect(await banner.textContent()).toContain("Revoked");
      expect(await banner.textContent()).toContain("Do not rely on this certificate.");
      expect(await w.page.getByTestId("cert-reason").textContent()).toBe("fraud");
      await w.page.getByTestId("chain-check").waitFor();
      expect(await w.page.getByTestId("chain-check").getAttribute("data-chain-state")).toBe("revoked");
      // Red means red: the banner's background is the alarm colour.
      expect(await inPage(w.page, `getComputedStyle(document.querySelector(".cert [role=alert]")).backgroundColor`)).toBe("rgb(153, 27, 27)");
      if (viewport === PHONE) expect(await overflowsHorizontally(w.page)).toBe(false);
      await screenshot(w.page, viewport === PHONE ? "certificate-revoked-phone" : "certificate-revoked-desktop");
      await w.page.context().close();
    }
  });

  it("shows the revocation statement's text where the issuer's node keeps it, in English and Chinese; elsewhere says the issuer keeps it", async () => {
    for (const lang of ["en", "zh"] as const) {
      const w = await openPage(browser, labNode.url, lang === "zh" ? PHONE : undefined, lang === "zh" ? "zh-CN" : "en-GB");
      await w.page.goto(`${labNode.url}/explorer/#/certificate/${ids.revoked}`);
      const statement = w.page.getByTestId("cert-statement");
      await statement.waitFor();
      expect(await statement.getAttribute("data-status")).toBe("verified");
      expect(await statement.locator(".statement-text").textContent()).toBe(STATEMENT);
      expect(await statement.textContent()).toContain(lang === "zh" ? "撤销声明" : "Revocation statement");
      if (lang === "zh") expect(await overflowsHorizontally(w.page)).toBe(false);
      await screenshot(w.page, `certificate-statement-${lang}`);
      expect(w.errors).toEqual([]);
      await w.page.context().close();
    }
    // The regulator's node does not hold the lab's text: it says so, and shows no text.
    const w = await openPage(browser, gw.url);
    await w.page.goto(`${gw.url}/explorer/#/certificate/${ids.revoked}`);
    const elsewhere = w.page.getByTestId("cert-statement");
    await elsewhere.waitFor();
    expect(await elsewhere.getAttribute("data-status")).toBe("not-held");
    expect(await elsewhere.textContent()).not.toContain("falsified");
    await w.page.context().close();
  });

  it("points from a superseded certificate to its replacement", async () => {
    const w = await openPage(browser, gw.url);
    await w.page.goto(`${gw.url}/explorer/#/certificate/${ids.old}`);
    await w.page.locator(".cert").waitFor();
    expect(await w.page.locator(".cert").getAttribute("data-state")).toBe("superseded");
    await w.page.getByRole("link", { name: ids.replacement }).click();
    await expect.poll(() => w.page.locator(".cert").getAttribute("data-state"), { timeout: 20_000 }).toBe("valid");
    expect(w.page.url()).toContain(ids.replacement);
    await w.page.context().close();
  });

  it("says so, in red, when a certificate id was never issued", async () => {
    const w = await openPage(browser, gw.url);
    await w.page.goto(`${gw.url}/explorer/#/certificate/${credentialId("never issued")}`);
    await w.page.getByTestId("cert-missing").waitFor();
    expect(await w.page.getByTestId("cert-missing").getAttribute("role")).toBe("alert");
    expect(await w.page.locator(".cert").count()).toBe(0);
    await w.page.context().close();
  });

  it("verifies an uploaded credential in the page: genuine and valid, revoked, or tampered with", async () => {
    const w = await openPage(browser, gw.url);
    await w.page.goto(`${gw.url}/explorer/#/certificate`);
    const upload = (name: string, text: string) =>
      w.page.getByLabel("Or upload the credential file (JSON or JWT)").setInputFiles({ name, mimeType: "application/jwt", buffer: Buffer.from(text) });
    const verdict = w.page.getByTestId("verification");

    await upload("valid.jwt", jws.valid);
    await verdict.waitFor();
    expect(await verdict.getAttribute("data-verdict"), await verdict.innerText()).toBe("valid");
    expect(await verdict.locator('[data-check="signature"]').getAttribute("data-ok")).toBe("true");
    expect(await verdict.locator('[data-check="onChain"]').getAttribute("data-ok")).toBe("true");
    await screenshot(w.page, "certificate-upload-valid-desktop");

    // As JSON (an enveloped credential) and revoked on chain.
    await upload("revoked.json", JSON.stringify({ "@context": [VC_V2_CONTEXT], type: "EnvelopedVerifiableCredential", id: `data:application/vc+jwt,${jws.revoked}` }));
    await expect.poll(() => verdict.getAttribute("data-verdict"), { timeout: 20_000 }).toBe("invalid");
    expect(await verdict.locator('[data-check="status"]').getAttribute("data-ok")).toBe("false");
    // The lab's key is known by now: this signature went through the learnt-key path (in the browser, src/shims/node-crypto.ts).
    expect(await verdict.locator('[data-check="signature"]').getAttribute("data-ok")).toBe("true");
    expect(await verdict.locator(".cert").getAttribute("data-state")).toBe("revoked");

    // The payload changed after signing: a different credential, with no valid signature.
    const [h, p, sig] = jws.valid.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as { credentialSubject: { tensileStrengthMPa: number } };
    claims.credentialSubject.tensileStrengthMPa = 700;
    await upload("tampered.jwt", `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${sig}`);
    await expect.poll(() => verdict.getAttribute("data-verdict"), { timeout: 20_000 }).toBe("invalid");
    expect(await verdict.locator('[data-check="signature"]').getAttribute("data-ok")).toBe("false");
    // Verified in the page: the credential itself was never sent to the gateway.
    expect(w.bodies.join("\n")).not.toContain(p);
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("verifies a supplier's presentation in the page for the verifier's challenge and domain; a replay for another challenge fails", async () => {
    const w = await openPage(browser, gw.url);
    await w.page.goto(`${gw.url}/explorer/#/certificate`);
    const domain = new URL(gw.url).host;
    const vp = signPresentation([jws.valid], new SigningKey(gw.chain.orgs.steel.signer.privateKey), gw.chain.chain.chainId, { nonce: "n-7781", domain });
    const verify = async (nonce: string) => {
      await w.page.getByLabel("Presentation file (JWT or JSON)").setInputFiles({ name: "vp.jwt", mimeType: "application/jwt", buffer: Buffer.from(vp) });
      await w.page.getByLabel("Your challenge (nonce)").fill(nonce);
      expect(await w.page.getByLabel("Your domain").inputValue()).toBe(domain);
      await w.page.getByRole("button", { name: "Verify the presentation" }).click();
    };
    const result = w.page.getByTestId("presentation");
    await verify("n-7781");
    await result.waitFor();
    expect(await result.getAttribute("data-verdict"), await result.innerText()).toBe("valid");
    expect(await result.locator('[data-check="challenge"]').first().getAttribute("data-ok")).toBe("true");
    expect(await result.getByTestId("verification").getAttribute("data-verdict")).toBe("valid");
    await verify("n-other");
    await expect.poll(() => result.getAttribute("data-verdict"), { timeout: 20_000 }).toBe("invalid");
    expect(await result.locator('[data-check="challenge"]').first().getAttribute("data-ok")).toBe("false");
    // Verified in the page: the presentation was never sent to the gateway.
    expect(w.bodies.join("\n")).not.toContain(vp.split(".")[1]!);
    expect(w.errors).toEqual([]);
    await w.page.context().close();
  });

  it("renders a QR code that decodes to the link it shows", async () => {
    const w = await openPage(browser, gw.url);
    await w.page.goto(`${gw.url}/explorer/#/certificate/${ids.valid}`);
    const img = w.page.locator(".qr img");
    await img.waitFor();
    const link = await img.getAttribute("data-link");
    expect(link).toBeTruthy();
    expect(await decodeQr(browser, await img.screenshot())).toBe(link);
    await w.page.context().close();
  });
});
