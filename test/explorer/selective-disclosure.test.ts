/**
 * A buyer verifies a supplier's selective disclosure on the certificate page (real Chromium, real
 * gateway, real chain): the mill shows only the grade and the tensile test of its mill certificate;
 * the page checks it itself against the chain, lists the two claims and says how many stay hidden,
 * and never shows the customer or the chemistry. A disclosure from another certificate, and a
 * replay for another challenge, show red with their fault.
 */
import { existsSync } from "node:fs";
import { id as textHash } from "ethers";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRACEMESH_CREDENTIALS_CONTEXT, VC_V2_CONTEXT } from "../../lib/credentials.ts";
import { issueSelectiveCredential, presentSelectiveCredential, selectiveCredentialId } from "../../lib/credentials/selective-disclosure.ts";
import { batchKey } from "../../lib/identifiers/canonical.ts";
import { type TestGateway, startTestGateway } from "../helpers/gateway.ts";
import { EXPLORER_DIST, PHONE, SKIP_MESSAGE, hasChromium, launchBrowser, openPage, overflowsHorizontally, screenshot } from "./browser.ts";

if (!hasChromium) console.warn(SKIP_MESSAGE);

const SCOPE = textHash("EN10204-3.1");
const heat = (lot: string) => `https://id.gs1.org/01/09520123456788/10/${lot}`;
const millCertificate = (lot: string, result: string) => ({
  "@context": [VC_V2_CONTEXT, TRACEMESH_CREDENTIALS_CONTEXT, { "@vocab": "https://tracemesh.dev/ns/mill#" }],
  type: ["VerifiableCredential", "InspectionCertificate"],
  issuer: { name: "Certa Test Lab" },
  validFrom: new Date(Date.now() - 3600_000).toISOString(),
  credentialSubject: {
    id: heat(lot),
    grade: "S355J2",
    tensileTest: { result, tensileStrengthMPa: 512 },
    customer: "Pump Works Ltd",
    chemistry: { C: 0.18, Mn: 1.42, Si: 0.31 },
  },
});

describe.skipIf(!hasChromium)("selective disclosure on the certificate page in Chromium", () => {
  let gw: TestGateway;
  let browser: Browser;
  let good: string;
  let other: string;
  let id: string;
  const domain = () => new URL(gw.url).host;

  beforeAll(async () => {
    if (!existsSync(EXPLORER_DIST)) throw new Error(`${EXPLORER_DIST} is missing: run npm run explorer:build (npm test builds it)`);
    gw = await startTestGateway({ node: "oem", gateway: { explorerDir: EXPLORER_DIST } });
    const { lab, regulator, steel } = gw.chain.orgs;
    const chainId = gw.chain.chain.chainId;
    await (await regulator.contracts.certificates.accredit(lab.id, SCOPE, 0)).wait();
    const options = {
      certificates: gw.chain.deployment.contracts.certificates,
      holder: steel.signer.address,
      disclosable: ["credentialSubject.grade", "credentialSubject.tensileTest", "credentialSubject.customer", "credentialSubject.chemistry"],
    };
    good = await issueSelectiveCredential(millCertificate("HEAT-SD-1", "pass"), lab.signer.signingKey, chainId, options);
    other = await issueSelectiveCredential(millCertificate("HEAT-SD-2", "fail"), lab.signer.signingKey, chainId, options);
    id = selectiveCredentialId(good);
    await (await lab.contracts.certificates.issue(id, batchKey(heat("HEAT-SD-1")), SCOPE, 0, 0)).wait();
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
  });

  const present = (nonce: string) =>
    presentSelectiveCredential(good, gw.chain.orgs.steel.signer.signingKey, { disclose: ["credentialSubject.grade", "credentialSubject.tensileTest"], nonce, domain: domain() });

  async function verifyInPage(text: string, nonce: string, viewport?: typeof PHONE) {
    const w = await openPage(browser, gw.url, viewport);
    await w.page.goto(`${gw.url}/explorer/#/certificate`);
    await w.page.getByLabel("Selective disclosure (paste)").fill(text);
    await w.page.getByLabel("The challenge you gave the supplier (nonce)").fill(nonce);
    await w.page.getByRole("button", { name: "Verify the disclosure" }).click();
    const result = w.page.getByTestId("selective-disclosure");
    await result.waitFor({ timeout: 30_000 });
    return { w, result };
  }

  it("shows the two disclosed claims, says the rest are hidden, and never shows the customer or the chemistry", async () => {
    for (const viewport of [undefined, PHONE]) {
      const { w, result } = await verifyInPage(await present("buyer-challenge-1"), "buyer-challenge-1", viewport);
      expect(await result.getAttribute("data-verdict"), await result.innerText()).toBe("valid");
      expect(await result.getByRole("status").textContent()).toContain("The disclosed claims are genuine, made for you, and the certificate is valid.");
      const disclosed = result.getByTestId("disclosed");
      expect(await disclosed.locator("tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-path")))).toEqual([
        "credentialSubject.grade",
        "credentialSubject.tensileTest",
      ]);
      expect(await disclosed.textContent()).toContain("S355J2");
      expect(await result.getByTestId("hidden").locator("li").getAttribute("data-count")).toBe("2");
      expect(await result.getByTestId("hidden").textContent()).toContain("2 more claim(s) of credentialSubject stay hidden");
      expect(await result.getByRole("link", { name: id }).count()).toBe(1);
      for (const check of ["signature", "disclosures", "keyBinding", "onChain", "status"]) {
        expect(await result.locator(`[data-check="${check}"]`).getAttribute("data-ok"), check).toBe("true");
      }
      expect(await w.page.locator("body").innerText()).not.toMatch(/Pump Works|chemistry|1\.42/);
      await screenshot(w.page, viewport === PHONE ? "certificate-selective-disclosure-phone" : "certificate-selective-disclosure-desktop");
      if (viewport === PHONE) expect(await overflowsHorizontally(w.page)).toBe(false);
      expect(w.errors).toEqual([]);
      expect(w.foreign).toEqual([]);
      await w.page.context().close();
    }
  });

  it("shows red, naming the fault, for a disclosure from another certificate and for a replay with another challenge", async () => {
    const p = (await present("buyer-challenge-2")).split("~");
    const claim = (d: string) => (JSON.parse(Buffer.from(d, "base64url").toString("utf8")) as unknown[])[1];
    const foreign = other.split("~").find((d) => d !== "" && !d.includes(".") && claim(d) === "tensileTest")!;
    const swapped = [p[0], ...p.slice(1, -1).map((d) => (claim(d) === "tensileTest" ? foreign : d)), p.at(-1)].join("~");
    const mixed = await verifyInPage(swapped, "buyer-challenge-2");
    expect(await mixed.result.getAttribute("data-verdict")).toBe("invalid");
    expect(await mixed.result.locator('[data-check="disclosures"]').getAttribute("data-ok")).toBe("false");
    expect(await mixed.result.locator('[data-check="disclosures"]').textContent()).toContain('unknown digest: the disclosure of "tensileTest"');
    await screenshot(mixed.w.page, "certificate-selective-disclosure-foreign");
    await mixed.w.page.context().close();

    const replay = await verifyInPage(await present("an-old-challenge"), "buyer-challenge-3");
    expect(await replay.result.getAttribute("data-verdict")).toBe("invalid");
    expect(await replay.result.locator('[data-check="keyBinding"]').textContent()).toContain("wrong nonce");
    expect(await replay.result.getByRole("alert").textContent()).toContain("The selective disclosure is NOT valid.");
    await replay.w.page.context().close();
  });
});
