/**
 * lib/credentials/selective-disclosure.ts against a real chain: a test lab issues a mill
 * certificate as an SD-JWT bound to the mill's account, the mill discloses only the grade and the
 * tensile test result to a customer; every presentation has the one on-chain id, and hostile
 * presentations (a disclosure from another certificate, a replay for another challenge, an
 * altered claim, a revoked certificate, ...) are refused naming their fault.
 */
import { NonceManager, type SigningKey, getBytes, sha256, id as textHash, toUtf8Bytes } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredentialError, TRACEMESH_CREDENTIALS_CONTEXT, VC_V2_CONTEXT, credentialHash, decodeCredential, signCompactJws, verifyCredential } from "../../lib/credentials.ts";
import {
  type SelectiveVerification,
  issueSelectiveCredential,
  presentSelectiveCredential,
  selectiveCredentialId,
  verifySelectiveDisclosure,
} from "../../lib/credentials/selective-disclosure.ts";
import { batchKey } from "../../lib/identifiers/canonical.ts";
import { RevocationReason } from "../../lib/registry.ts";
import { type ChainOrg, type TestChain, startTestChain } from "../helpers/gateway.ts";

const SCOPE = textHash("EN10204-3.1");
const heat = (lot: string) => `https://id.gs1.org/01/09506000134352/10/${lot}`;
const DISCLOSABLE = ["credentialSubject.grade", "credentialSubject.tensileTest", "credentialSubject.customer", "credentialSubject.chemistry"];
const VERIFIER = { nonce: "challenge-4f1c", domain: "buyer.example" };

/** An EN 10204 3.1 mill certificate: grade, tensile test, the customer and the full chemistry. */
const millCertificate = (lot: string, tensile = "pass") => ({
  "@context": [VC_V2_CONTEXT, TRACEMESH_CREDENTIALS_CONTEXT, { "@vocab": "https://tracemesh.dev/ns/mill#" }],
  type: ["VerifiableCredential", "InspectionCertificate"],
  issuer: { name: "Certa Test Lab" },
  validFrom: new Date(Date.now() - 3600_000).toISOString(),
  credentialSubject: {
    id: heat(lot),
    grade: "S355J2",
    tensileTest: { result: tensile, tensileStrengthMPa: 512 },
    customer: "Pump Works Ltd",
    chemistry: { C: 0.18, Mn: 1.42, Si: 0.31, P: 0.012, S: 0.008 },
  },
});

let chain: TestChain;
let lab: ChainOrg;
let mill: ChainOrg;
let chainId: number;
const sd: Record<"good" | "other" | "revoked", string> = { good: "", other: "", revoked: "" };

async function issueOnChain(sdJwt: string, lot: string): Promise<string> {
  const id = selectiveCredentialId(sdJwt);
  await (await lab.contracts.certificates.connect(new NonceManager(lab.signer)).issue(id, batchKey(heat(lot)), SCOPE, 0, 0)).wait();
  return id;
}

const verify = (input: unknown, verifier = VERIFIER): Promise<SelectiveVerification> =>
  verifySelectiveDisclosure(input, lab.contracts, { chainId, ...verifier });
const present = (sdJwt: string, disclose = ["credentialSubject.grade", "credentialSubject.tensileTest"], verifier = VERIFIER) =>
  presentSelectiveCredential(sdJwt, mill.signer.signingKey, { disclose, ...verifier });

/** The parts of a presentation: issuer JWT, disclosures, key binding. */
const split = (p: string) => {
  const parts = p.split("~");
  return { jwt: parts[0]!, disclosures: parts.slice(1, -1), kb: parts.at(-1)! };
};
const join = (jwt: string, disclosures: string[], kb = "") => [jwt, ...disclosures, kb].join("~");
/** A key binding JWT over `body` (everything up to the last ~), as a holder (or a forger) would sign it. */
const bind = (body: string, key: SigningKey, verifier = VERIFIER) =>
  body +
  signCompactJws({ typ: "kb+jwt", alg: "ES256K" }, { iat: Math.floor(Date.now() / 1000), aud: verifier.domain, nonce: verifier.nonce, sd_hash: Buffer.from(getBytes(sha256(toUtf8Bytes(body)))).toString("base64url") }, key);
const claimOf = (d: string) => JSON.parse(Buffer.from(d, "base64url").toString("utf8")) as [string, string, unknown];

beforeAll(async () => {
  chain = await startTestChain();
  chainId = chain.chain.chainId;
  ({ lab, steel: mill } = chain.orgs);
  await (await chain.orgs.regulator.contracts.certificates.accredit(lab.id, SCOPE, 0)).wait();
  const options = { certificates: chain.deployment.contracts.certificates, holder: mill.signer.address, disclosable: DISCLOSABLE };
  const key = lab.signer.signingKey;
  sd.good = await issueSelectiveCredential(millCertificate("HEAT-1"), key, chainId, options);
  sd.other = await issueSelectiveCredential(millCertificate("HEAT-2", "fail"), key, chainId, options);
  sd.revoked = await issueSelectiveCredential(millCertificate("HEAT-3"), key, chainId, options);
  await issueOnChain(sd.good, "HEAT-1");
  await issueOnChain(sd.other, "HEAT-2");
  const revoked = await issueOnChain(sd.revoked, "HEAT-3");
  await (await lab.contracts.certificates.revoke(revoked, RevocationReason.NonConformity, textHash("retest failed"))).wait();
}, 120_000);
afterAll(async () => {
  await chain?.stop();
});

describe("issuing a selectively disclosable certificate", () => {
  it("hides the disclosable claims behind digests and keeps context, type, issuer, validity, status and subject id in clear", () => {
    const { header, credential } = decodeCredential(split(sd.good).jwt);
    expect(header).toMatchObject({ alg: "ES256K", typ: "vc+sd-jwt", cty: "vc" });
    const subject = credential.credentialSubject as Record<string, unknown>;
    expect(Object.keys(subject).sort()).toEqual(["_sd", "id"]);
    expect(subject._sd).toHaveLength(4);
    expect(credential).toMatchObject({ _sd_alg: "sha-256", cnf: { kid: `did:pkh:eip155:${chainId}:${mill.signer.address}#blockchainAccountId` } });
    expect(credential.credentialStatus).toMatchObject({ type: "TracemeshCertificateStatus", chainId });
    expect(JSON.stringify(credential)).not.toContain("Pump Works");
    expect(split(sd.good).disclosures).toHaveLength(4);
  });

  it.each([
    ["a claim outside credentialSubject", ["validFrom"], /not a claim path under credentialSubject/],
    ["the subject id", ["credentialSubject.id"], /credentialSubject.id stays visible/],
    ["a claim the credential lacks", ["credentialSubject.hardness"], /has no claim credentialSubject.hardness/],
    ["nothing", [], /at least one disclosable claim/],
  ])("refuses to make %s disclosable", async (_, disclosable, message) => {
    await expect(
      issueSelectiveCredential(millCertificate("HEAT-9"), lab.signer.signingKey, chainId, { certificates: chain.deployment.contracts.certificates, holder: mill.signer.address, disclosable }),
    ).rejects.toThrow(message);
  });

  it("checks the whole credential against the data model before issuing", async () => {
    const bad = { ...millCertificate("HEAT-9"), validUntil: "2020-01-01T00:00:00Z" };
    await expect(
      issueSelectiveCredential(bad, lab.signer.signingKey, chainId, { certificates: chain.deployment.contracts.certificates, holder: mill.signer.address, disclosable: DISCLOSABLE }),
    ).rejects.toThrow(CredentialError);
  });
});

describe("presenting chosen claims", () => {
  it("discloses the grade and the tensile test only, and the verifier sees the rest is hidden", async () => {
    const v = await verify(await present(sd.good));
    expect(v.problems).toEqual([]);
    expect(v.verdict).toBe("valid");
    expect(v.disclosed.map((d) => d.path).sort()).toEqual(["credentialSubject.grade", "credentialSubject.tensileTest"]);
    expect(v.disclosed.find((d) => d.path === "credentialSubject.tensileTest")?.value).toEqual({ result: "pass", tensileStrengthMPa: 512 });
    expect(v.hidden).toEqual([{ path: "credentialSubject", count: 2 }]);
    expect(JSON.stringify(v.credential)).not.toMatch(/Pump Works|chemistry|customer/);
    expect(v.holder).toBe(mill.signer.address);
    expect(v.checks.status.ok).toBe(true);
    expect(v.checks.subject.ok).toBe(true);
  });

  it("keeps the one on-chain certificate id whatever is disclosed", async () => {
    const onlyGrade = await verify(await present(sd.good, ["credentialSubject.grade"]));
    const everything = await verify(await present(sd.good, DISCLOSABLE));
    const nothing = await verify(await present(sd.good, []));
    const id = credentialHash(split(sd.good).jwt);
    for (const v of [onlyGrade, everything, nothing]) {
      expect(v.verdict).toBe("valid");
      expect(v.id).toBe(id);
    }
    expect(everything.hidden).toEqual([]);
    expect(nothing.disclosed).toEqual([]);
  });

  it("lets only the bound holder present, and only disclosable claims", async () => {
    await expect(presentSelectiveCredential(sd.good, lab.signer.signingKey, { disclose: [], ...VERIFIER })).rejects.toThrow(/bound to the holder/);
    await expect(present(sd.good, ["credentialSubject.id"])).rejects.toThrow(/not disclosable in this credential: credentialSubject.id/);
  });
});

describe("hostile presentations are refused, naming the fault", () => {
  const cases: [string, () => Promise<unknown>, "format" | "signature" | "disclosures" | "keyBinding" | "status", RegExp][] = [
    [
      "a disclosure taken from another certificate (its failed tensile test), bound by the holder itself",
      async () => {
        const mine = split(await present(sd.good));
        const foreign = split(sd.other).disclosures.find((d) => claimOf(d)[1] === "tensileTest")!;
        const disclosures = [...mine.disclosures.filter((d) => claimOf(d)[1] !== "tensileTest"), foreign];
        return bind(join(mine.jwt, disclosures), mill.signer.signingKey);
      },
      "disclosures",
      /unknown digest: the disclosure of "tensileTest".*tampered, or from another credential/,
    ],
    ["a presentation replayed for another challenge", () => present(sd.good, undefined, { nonce: "an-older-challenge", domain: VERIFIER.domain }), "keyBinding", /wrong nonce/],
    ["a presentation made for another verifier", () => present(sd.good, undefined, { nonce: VERIFIER.nonce, domain: "rival.example" }), "keyBinding", /wrong audience/],
    [
      "an altered claim (the failed test turned into a pass)",
      async () => {
        const p = split(await present(sd.other));
        const disclosures = p.disclosures.map((d) => {
          const [salt, name, value] = claimOf(d);
          return name === "tensileTest" ? Buffer.from(JSON.stringify([salt, name, { ...(value as object), result: "pass" }])).toString("base64url") : d;
        });
        return join(p.jwt, disclosures, p.kb);
      },
      "disclosures",
      /unknown digest: the disclosure of "tensileTest"/,
    ],
    [
      "a disclosure removed after the holder signed",
      async () => {
        const p = split(await present(sd.good));
        return join(p.jwt, p.disclosures.slice(1), p.kb);
      },
      "keyBinding",
      /sd_hash does not match/,
    ],
    [
      "a digest altered in the issuer-signed payload",
      async () => {
        const p = split(await present(sd.good));
        const [h, payload, sig] = p.jwt.split(".");
        const claims = JSON.parse(Buffer.from(payload!, "base64url").toString("utf8")) as { credentialSubject: { _sd: string[] } };
        claims.credentialSubject._sd[0] = "A".repeat(43);
        return join(`${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${sig}`, p.disclosures, p.kb);
      },
      "signature",
      /not made by/,
    ],
    [
      "a presentation without key binding",
      async () => {
        const p = split(await present(sd.good));
        return join(p.jwt, p.disclosures);
      },
      "keyBinding",
      /no key binding JWT/,
    ],
    [
      "a key binding signed by someone other than the holder",
      async () => {
        const p = split(await present(sd.good));
        return bind(join(p.jwt, p.disclosures), lab.signer.signingKey);
      },
      "keyBinding",
      /not signed by the holder/,
    ],
    [
      "a disclosure presented twice",
      async () => {
        const p = split(await present(sd.good));
        return bind(join(p.jwt, [...p.disclosures, p.disclosures[0]!]), mill.signer.signingKey);
      },
      "disclosures",
      /presented twice/,
    ],
    ["a certificate revoked on chain", () => present(sd.revoked), "status", /revoked on chain \(non-conformity\)/],
    ["a malformed disclosure", async () => join(split(sd.good).jwt, ["bm90IGpzb24"]), "format", /disclosure 1 is not a base64url JSON array/],
  ];

  it.each(cases)("%s", async (_, make, check, message) => {
    const v = await verify(await make());
    expect(v.verdict).toBe("invalid");
    expect(v.checks[check].ok).toBe(false);
    expect(v.checks[check].detail).toMatch(message);
    expect(v.problems.join("\n")).toMatch(message);
  });

  it("refuses the issuer-signed JWT alone as a whole (vc+jwt) credential", async () => {
    const v = await verifyCredential(split(sd.good).jwt, lab.contracts, { chainId });
    expect(v.checks.format.detail).toMatch(/typ is vc\+sd-jwt, expected vc\+jwt/);
  });

  it("refuses a stale key binding", async () => {
    const v = await verifySelectiveDisclosure(await present(sd.good), lab.contracts, { chainId, ...VERIFIER, nowMs: Date.now() + 3600_000 });
    expect(v.checks.keyBinding.detail).toMatch(/stale/);
  });
});

it("tells a verifier who sends a selective disclosure to the whole-credential check what it is", async () => {
  const v = await verifyCredential(await present(sd.good), lab.contracts, { chainId });
  expect(v.checks.format.detail).toContain("this is a selective disclosure (SD-JWT, vc+sd-jwt)");
});
