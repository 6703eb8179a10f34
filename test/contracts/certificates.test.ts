import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { network } from "hardhat";
import type { Result } from "ethers";
import { ZeroHash, id as keccakText } from "ethers";
import type { Certificates } from "../../lib/contracts/types/index.js";
import { ProposalKind, Role, proposalData } from "../../lib/consortium.ts";
import {
  type Conn,
  type ConsortiumFixture,
  type TestOrg,
  deployBound,
  describeConsortiumBinding,
  deployConsortium,
  expectRevert,
  expectEvents,
  normalise,
  setNextTime,
  blockTime,
  increaseTime,
  now,
  passProposal,
  reinstateOrg,
  removeOrg,
  suspendOrg,
} from "../helpers/fixture.ts";
import { CertificateState as State, CertificateStatus as Status, RevocationReason as Reason } from "../../lib/registry.ts";


const EN10204 = keccakText("EN10204-3.1");
const ISO9001 = keccakText("ISO9001");
const CE = keccakText("CE");
const DAY = 24 * 3600;

let counter = 0;
/** A fresh credential hash, item key or statement hash per call. */
const fresh = (label: string) => keccakText(`${label}:${++counter}`);

describe("Certificates", () => {
  let conn: Conn;
  let fx: ConsortiumFixture;
  let certs: Certificates;
  let lab: TestOrg; // accredited certifier
  let auditor: TestOrg; // a second certification body (granted the Certifier role below)
  let regulator: TestOrg;
  let steel: TestOrg;

  const asLab = () => certs.connect(lab.signer);
  const asRegulator = () => certs.connect(regulator.signer);

  /** Issues a certificate from `org` valid from now for a year, returning its id and subject. */
  async function issued(org: TestOrg = lab, scope = EN10204, validUntil?: number) {
    const id = fresh("credential");
    const subject = fresh("item");
    const until = validUntil ?? (await now(conn)) + 365 * DAY;
    await (await certs.connect(org.signer).issue(id, subject, scope, 0, until)).wait();
    return { id, subject };
  }

  async function statusOf(id: string): Promise<[Status, boolean, boolean]> {
    const [s, atIssuance, nowAccredited] = await certs.status(id);
    return [Number(s) as Status, atIssuance, nowAccredited];
  }

  beforeAll(async () => {
    conn = await network.create();
    fx = await deployConsortium(conn);
    ({ lab, auditor, regulator, steel } = fx.orgs);
    certs = await deployBound<Certificates>(conn, "Certificates", await fx.consortium.getAddress());
    await passProposal(fx, ProposalKind.GrantRole, proposalData.grantRole(auditor.id, Role.Certifier));
    await (await asRegulator().accredit(lab.id, EN10204, 0)).wait();
    await (await asRegulator().accredit(auditor.id, EN10204, 0)).wait();
  });
  afterAll(async () => conn.close());

  describeConsortiumBinding("Certificates", () => ({ conn, fx, contract: certs }));

  describe("accreditation", () => {
    it("accredits a certifier for a scope and records the period", async () => {
      const t = (await now(conn)) + 10;
      const expiresAt = t + 30 * DAY;
      await setNextTime(conn, t);
      await expectEvents(asRegulator().accredit(lab.id, ISO9001, expiresAt), certs, "AccreditationGranted", [
        lab.id,
        ISO9001,
        regulator.id,
        0,
        t,
        expiresAt,
      ]);
      expect(await certs.accreditationPeriodCount(lab.id, ISO9001)).toBe(1n);
      const p = await certs.accreditationPeriod(lab.id, ISO9001, 0);
      expect([p.from, p.expiresAt, p.withdrawnAt, p.accreditedBy, p.withdrawnBy]).toEqual([
        BigInt(t),
        BigInt(expiresAt),
        0n,
        BigInt(regulator.id),
        0n,
      ]);
      expect(await certs.isAccredited(lab.id, ISO9001)).toBe(true);
      expect(await certs.wasAccredited(lab.id, ISO9001, t)).toBe(true);
      expect(await certs.wasAccredited(lab.id, ISO9001, t - 1)).toBe(false);
    });

    it("re-accrediting a live accreditation changes only its expiry", async () => {
      const scope = fresh("scope");
      await (await asRegulator().accredit(lab.id, scope, (await now(conn)) + DAY)).wait();
      const from = (await certs.accreditationPeriod(lab.id, scope, 0)).from;
      // Extend to open-ended, then shorten again: still one period, same start.
      await expectEvents(asRegulator().accredit(lab.id, scope, 0), certs, "AccreditationGranted", [
        lab.id,
        scope,
        regulator.id,
        0,
        from,
        0,
      ]);
      const shorter = (await now(conn)) + 3600;
      await expectEvents(asRegulator().accredit(lab.id, scope, shorter), certs, "AccreditationGranted", [
        lab.id,
        scope,
        regulator.id,
        0,
        from,
        shorter,
      ]);
      expect(await certs.accreditationPeriodCount(lab.id, scope)).toBe(1n);
      expect((await certs.accreditationPeriod(lab.id, scope, 0)).expiresAt).toBe(BigInt(shorter));
    });

    it("an expired accreditation lapses; accrediting again opens a new period", async () => {
      const scope = fresh("scope");
      await (await asRegulator().accredit(lab.id, scope, (await now(conn)) + 100)).wait();
      const first = await certs.accreditationPeriod(lab.id, scope, 0);
      await increaseTime(conn, 200);
      expect(await certs.isAccredited(lab.id, scope)).toBe(false);
      await expectRevert(asRegulator().deaccredit(lab.id, scope), certs, "NotAccredited", [lab.id, scope]);
      await (await asRegulator().accredit(lab.id, scope, 0)).wait();
      expect(await certs.accreditationPeriodCount(lab.id, scope)).toBe(2n);
      const second = await certs.accreditationPeriod(lab.id, scope, 1);
      expect(await certs.isAccredited(lab.id, scope)).toBe(true);
      // History: before, during, at the exclusive expiry, in the gap, in the second period.
      expect(await certs.wasAccredited(lab.id, scope, first.from - 1n)).toBe(false);
      expect(await certs.wasAccredited(lab.id, scope, first.from)).toBe(true);
      expect(await certs.wasAccredited(lab.id, scope, first.expiresAt - 1n)).toBe(true);
      expect(await certs.wasAccredited(lab.id, scope, first.expiresAt)).toBe(false);
      expect(await certs.wasAccredited(lab.id, scope, second.from - 1n)).toBe(false);
      expect(await certs.wasAccredited(lab.id, scope, second.from)).toBe(true);
      expect(await certs.wasAccredited(lab.id, scope, second.from + 10n * BigInt(DAY))).toBe(true);
    });

    it("de-accredits: the withdrawal's second still counts, later ones do not", async () => {
      const scope = fresh("scope");
      await (await asRegulator().accredit(lab.id, scope, 0)).wait();
      const t = (await now(conn)) + 50;
      await setNextTime(conn, t);
      await expectEvents(asRegulator().deaccredit(lab.id, scope), certs, "AccreditationWithdrawn", [
        lab.id,
        scope,
        regulator.id,
        0,
        t,
      ]);
      const p = await certs.accreditationPeriod(lab.id, scope, 0);
      expect([p.withdrawnAt, p.withdrawnBy]).toEqual([BigInt(t), BigInt(regulator.id)]);
      expect(await certs.isAccredited(lab.id, scope)).toBe(false);
      expect(await certs.wasAccredited(lab.id, scope, t)).toBe(true);
      expect(await certs.wasAccredited(lab.id, scope, t + 1)).toBe(false);
      await expectRevert(asRegulator().deaccredit(lab.id, scope), certs, "NotAccredited", [lab.id, scope]);
      // Re-accreditation opens a second period; history keeps the gap.
      await (await asRegulator().accredit(lab.id, scope, 0)).wait();
      const second = await certs.accreditationPeriod(lab.id, scope, 1);
      expect(await certs.wasAccredited(lab.id, scope, second.from - 1n)).toBe(second.from - 1n <= BigInt(t));
      expect(await certs.wasAccredited(lab.id, scope, second.from)).toBe(true);
      expect(await certs.isAccredited(lab.id, scope)).toBe(true);
    });

    it("answers history by binary search over many periods", async () => {
      const scope = fresh("scope");
      const spans: [bigint, bigint][] = [];
      for (let i = 0; i < 5; i++) {
        await (await asRegulator().accredit(auditor.id, scope, 0)).wait();
        await increaseTime(conn, 10);
        await (await asRegulator().deaccredit(auditor.id, scope)).wait();
        const p = await certs.accreditationPeriod(auditor.id, scope, i);
        spans.push([p.from, p.withdrawnAt]);
        await increaseTime(conn, 10);
      }
      for (const [from, to] of spans) {
        expect(await certs.wasAccredited(auditor.id, scope, from - 1n)).toBe(false);
        expect(await certs.wasAccredited(auditor.id, scope, from)).toBe(true);
        expect(await certs.wasAccredited(auditor.id, scope, (from + to) / 2n)).toBe(true);
        expect(await certs.wasAccredited(auditor.id, scope, to)).toBe(true);
        expect(await certs.wasAccredited(auditor.id, scope, to + 1n)).toBe(false);
      }
    });

    it("knows nothing of organisations or scopes never accredited", async () => {
      expect(await certs.isAccredited(steel.id, EN10204)).toBe(false);
      expect(await certs.wasAccredited(steel.id, EN10204, await now(conn))).toBe(false);
      expect(await certs.accreditationPeriodCount(99, EN10204)).toBe(0n);
      await expect(certs.accreditationPeriod(steel.id, EN10204, 0)).rejects.toThrow();
    });

    it("refuses callers that are not regulators", async () => {
      await expectRevert(certs.connect(fx.outsider).accredit(lab.id, CE, 0), certs, "NotActiveMember", [
        fx.outsider.address,
      ]);
      await expectRevert(asLab().accredit(lab.id, CE, 0), certs, "MissingRole", [lab.id, Role.Regulator]);
      await expectRevert(certs.connect(fx.outsider).deaccredit(lab.id, EN10204), certs, "NotActiveMember", [
        fx.outsider.address,
      ]);
      await expectRevert(asLab().deaccredit(lab.id, EN10204), certs, "MissingRole", [lab.id, Role.Regulator]);
    });

    it("refuses bad accreditation requests", async () => {
      await expectRevert(asRegulator().accredit(regulator.id, CE, 0), certs, "SelfAccreditation", [regulator.id]);
      await expectRevert(asRegulator().accredit(lab.id, ZeroHash, 0), certs, "ZeroScope");
      await expectRevert(asRegulator().accredit(99, CE, 0), certs, "OrgNotActive", [99]);
      await expectRevert(asRegulator().accredit(0, CE, 0), certs, "OrgNotActive", [0]);
      await expectRevert(asRegulator().accredit(steel.id, CE, 0), certs, "NotACertifier", [steel.id]);
      const t = (await now(conn)) + 5;
      await setNextTime(conn, t);
      await expectRevert(asRegulator().accredit(lab.id, CE, t), certs, "ExpiryNotInFuture", [t, t]);
      await expectRevert(asRegulator().accredit(lab.id, CE, 1), certs, "ExpiryNotInFuture");
      await expectRevert(asRegulator().deaccredit(steel.id, CE), certs, "NotAccredited", [steel.id, CE]);
    });
  });

  describe("issuing", () => {
    it("issues a certificate for a subject and lists it", async () => {
      const id = fresh("credential");
      const subject = fresh("batch");
      const validFrom = (await now(conn)) - DAY; // a report about material produced earlier
      const validUntil = validFrom + 2 * 365 * DAY;
      const receipt = await expectEvents(
        asLab().issue(id, subject, EN10204, validFrom, validUntil),
        certs,
        "CertificateIssued",
        [id, subject, lab.id, EN10204, validFrom, validUntil],
      );
      const issuedAt = await blockTime(conn, receipt);
      const c = await certs.certificate(id);
      // Typechain types the struct as a tuple; at run time it is an ethers Result.
      expect((c as unknown as Result).toObject()).toEqual({
        issuer: BigInt(lab.id),
        state: BigInt(State.Active),
        reason: 0n,
        issuedAt: BigInt(issuedAt),
        validFrom: BigInt(validFrom),
        validUntil: BigInt(validUntil),
        suspendedAt: 0n,
        revokedAt: 0n,
        subject,
        scope: EN10204,
        reasonHash: ZeroHash,
        supersededBy: ZeroHash,
        supersedes: ZeroHash,
      });
      expect(await statusOf(id)).toEqual([Status.Valid, true, true]);
      expect(await certs.certificateCountOf(subject)).toBe(1n);
      expect(await certs.certificatesOf(subject, 0, 10)).toEqual([id]);
    });

    it("issues open-ended certificates that never expire", async () => {
      const id = fresh("credential");
      await (await asLab().issue(id, fresh("item"), EN10204, 0, 0)).wait();
      await increaseTime(conn, 20 * 365 * DAY);
      expect((await statusOf(id))[0]).toBe(Status.Valid);
    });

    it("refuses outsiders, non-certifiers and certifiers without accreditation for the scope", async () => {
      const subject = fresh("item");
      await expectRevert(
        certs.connect(fx.outsider).issue(fresh("c"), subject, EN10204, 0, 0),
        certs,
        "NotActiveMember",
        [fx.outsider.address],
      );
      await expectRevert(certs.connect(steel.signer).issue(fresh("c"), subject, EN10204, 0, 0), certs, "MissingRole", [
        steel.id,
        Role.Certifier,
      ]);
      await expectRevert(asLab().issue(fresh("c"), subject, CE, 0, 0), certs, "NotAccredited", [lab.id, CE]);
    });

    it("refuses malformed certificates", async () => {
      const id = fresh("credential");
      const subject = fresh("item");
      const t = await now(conn);
      await expectRevert(asLab().issue(ZeroHash, subject, EN10204, 0, 0), certs, "ZeroCertificateId");
      await expectRevert(asLab().issue(id, ZeroHash, EN10204, 0, 0), certs, "ZeroSubject");
      await expectRevert(asLab().issue(id, subject, ZeroHash, 0, 0), certs, "ZeroScope");
      await expectRevert(asLab().issue(id, subject, EN10204, t + 100, t + 100), certs, "InvalidValidityWindow", [
        t + 100,
        t + 100,
      ]);
      await expectRevert(asLab().issue(id, subject, EN10204, t + 100, t + 50), certs, "InvalidValidityWindow", [
        t + 100,
        t + 50,
      ]);
      await setNextTime(conn, t + 10);
      await expectRevert(asLab().issue(id, subject, EN10204, 0, t + 10), certs, "ValidityAlreadyEnded", [
        t + 10,
        t + 10,
      ]);
      await (await asLab().issue(id, subject, EN10204, 0, 0)).wait();
      // The same credential cannot be recorded twice, not even by another certifier.
      await expectRevert(asLab().issue(id, subject, EN10204, 0, 0), certs, "CertificateExists", [id]);
      await expectRevert(certs.connect(auditor.signer).issue(id, subject, EN10204, 0, 0), certs, "CertificateExists", [
        id,
      ]);
    });
  });

  describe("status", () => {
    it("is Unknown for ids never issued", async () => {
      expect(await statusOf(fresh("nothing"))).toEqual([Status.Unknown, false, false]);
      const c = await certs.certificate(fresh("nothing"));
      expect([c.issuer, c.state, c.issuedAt]).toEqual([0n, 0n, 0n]);
    });

    it("moves NotYetValid -> Valid -> Expired with time", async () => {
      const t = await now(conn);
      const id = fresh("credential");
      await (await asLab().issue(id, fresh("item"), EN10204, t + 1000, t + 2000)).wait();
      expect(await statusOf(id)).toEqual([Status.NotYetValid, true, true]);
      await setNextTime(conn, t + 1000);
      await conn.provider.request({ method: "evm_mine", params: [] });
      expect((await statusOf(id))[0]).toBe(Status.Valid); // validFrom is inclusive
      await setNextTime(conn, t + 1999);
      await conn.provider.request({ method: "evm_mine", params: [] });
      expect((await statusOf(id))[0]).toBe(Status.Valid);
      await increaseTime(conn, 1); // validUntil is exclusive
      expect(await statusOf(id)).toEqual([Status.Expired, true, true]);
    });

    it("Suspended takes precedence over the validity window", async () => {
      const t = await now(conn);
      const future = fresh("credential");
      await (await asLab().issue(future, fresh("item"), EN10204, t + 1000, t + 2000)).wait();
      await (await asLab().suspend(future, Reason.UnderInvestigation, ZeroHash)).wait();
      expect((await statusOf(future))[0]).toBe(Status.Suspended);
      await increaseTime(conn, 5000);
      expect((await statusOf(future))[0]).toBe(Status.Suspended);
      await (await asLab().reinstate(future)).wait();
      expect((await statusOf(future))[0]).toBe(Status.Expired);
    });

    it("Superseded takes precedence over Suspended and Expired; Revoked over everything", async () => {
      const t = await now(conn);
      const { id } = await issued(lab, EN10204, t + 100);
      await (await asLab().suspend(id, Reason.NonConformity, ZeroHash)).wait();
      const next = fresh("credential");
      await (await asLab().supersede(id, next, fresh("item"), EN10204, 0, 0)).wait();
      expect((await statusOf(id))[0]).toBe(Status.Superseded);
      await increaseTime(conn, 200);
      expect((await statusOf(id))[0]).toBe(Status.Superseded);
      await (await asLab().revoke(id, Reason.Fraud, ZeroHash)).wait();
      expect((await statusOf(id))[0]).toBe(Status.Revoked);
      expect((await statusOf(next))[0]).toBe(Status.Valid);
    });

    it("tells accreditation at issuance apart from accreditation now", async () => {
      const scope = fresh("scope");
      await (await asRegulator().accredit(lab.id, scope, 0)).wait();
      const { id } = await issued(lab, scope);
      expect(await statusOf(id)).toEqual([Status.Valid, true, true]);
      await (await asRegulator().deaccredit(lab.id, scope)).wait();
      // De-accreditation does not invalidate what was issued; the verifier sees both facts.
      expect(await statusOf(id)).toEqual([Status.Valid, true, false]);
      await (await asRegulator().accredit(lab.id, scope, 0)).wait();
      expect(await statusOf(id)).toEqual([Status.Valid, true, true]);
    });

    it("counts a certificate issued in the same block as the withdrawal as issued under accreditation", async () => {
      const scope = fresh("scope");
      await (await asRegulator().accredit(lab.id, scope, 0)).wait();
      const id = fresh("credential");
      await conn.provider.request({ method: "evm_setAutomine", params: [false] });
      try {
        const issueTx = await asLab().issue(id, fresh("item"), scope, 0, 0);
        const withdrawTx = await asRegulator().deaccredit(lab.id, scope);
        await conn.provider.request({ method: "evm_mine", params: [] });
        const [a, b] = [await issueTx.wait(), await withdrawTx.wait()];
        expect(a!.blockNumber).toBe(b!.blockNumber);
      } finally {
        await conn.provider.request({ method: "evm_setAutomine", params: [true] });
      }
      expect(await statusOf(id)).toEqual([Status.Valid, true, false]);
      // ...whereas issuing after the withdrawal in that same second is refused.
      await expectRevert(asLab().issue(fresh("c"), fresh("item"), scope, 0, 0), certs, "NotAccredited", [
        lab.id,
        scope,
      ]);
    });

    it("reports an accreditation that expired after issuance", async () => {
      const scope = fresh("scope");
      await (await asRegulator().accredit(lab.id, scope, (await now(conn)) + 100)).wait();
      const { id } = await issued(lab, scope, 0);
      await increaseTime(conn, 200);
      expect(await statusOf(id)).toEqual([Status.Valid, true, false]);
    });
  });

  describe("suspend and reinstate", () => {
    it("suspends with a reason and reinstates", async () => {
      const { id, subject } = await issued();
      const statement = fresh("statement");
      const receipt = await expectEvents(
        asLab().suspend(id, Reason.UnderInvestigation, statement),
        certs,
        "CertificateSuspended",
        [id, subject, lab.id, Reason.UnderInvestigation, statement],
      );
      let c = await certs.certificate(id);
      expect([c.state, c.reason, c.reasonHash, c.suspendedAt]).toEqual([
        BigInt(State.Suspended),
        BigInt(Reason.UnderInvestigation),
        statement,
        BigInt(await blockTime(conn, receipt)),
      ]);
      expect((await statusOf(id))[0]).toBe(Status.Suspended);

      await expectEvents(asLab().reinstate(id), certs, "CertificateReinstated", [id, subject, lab.id]);
      c = await certs.certificate(id);
      expect([c.state, c.reason, c.reasonHash]).toEqual([BigInt(State.Active), 0n, ZeroHash]);
      expect(c.suspendedAt).toBe(BigInt(await blockTime(conn, receipt))); // the last suspension stays on record
      expect((await statusOf(id))[0]).toBe(Status.Valid);
    });

    it("refuses unknown certificates, other certifiers and outsiders", async () => {
      const { id } = await issued();
      const nothing = fresh("nothing");
      await expectRevert(asLab().suspend(nothing, Reason.Unspecified, ZeroHash), certs, "UnknownCertificate", [
        nothing,
      ]);
      await expectRevert(asLab().reinstate(nothing), certs, "UnknownCertificate", [nothing]);
      await expectRevert(certs.connect(auditor.signer).suspend(id, Reason.Unspecified, ZeroHash), certs, "NotIssuer", [
        id,
        lab.id,
        auditor.id,
      ]);
      await expectRevert(
        certs.connect(fx.outsider).suspend(id, Reason.Unspecified, ZeroHash),
        certs,
        "NotActiveMember",
        [fx.outsider.address],
      );
      await (await asLab().suspend(id, Reason.Unspecified, ZeroHash)).wait();
      await expectRevert(certs.connect(auditor.signer).reinstate(id), certs, "NotIssuer", [id, lab.id, auditor.id]);
      await expectRevert(certs.connect(fx.outsider).reinstate(id), certs, "NotActiveMember", [fx.outsider.address]);
      // A non-certifier cannot vouch for anything, so it fails on its role first.
      await expectRevert(certs.connect(steel.signer).reinstate(id), certs, "MissingRole", [steel.id, Role.Certifier]);
    });

    it("refuses transitions from the wrong state", async () => {
      const { id } = await issued();
      await expectRevert(asLab().reinstate(id), certs, "InvalidTransition", [id, State.Active]);
      await (await asLab().suspend(id, Reason.Unspecified, ZeroHash)).wait();
      await expectRevert(asLab().suspend(id, Reason.Unspecified, ZeroHash), certs, "InvalidTransition", [
        id,
        State.Suspended,
      ]);
    });

    it("a de-accredited issuer may still suspend but no longer reinstate", async () => {
      const scope = fresh("scope");
      await (await asRegulator().accredit(lab.id, scope, 0)).wait();
      const { id } = await issued(lab, scope);
      await (await asRegulator().deaccredit(lab.id, scope)).wait();
      await (await asLab().suspend(id, Reason.NonConformity, ZeroHash)).wait();
      await expectRevert(asLab().reinstate(id), certs, "NotAccredited", [lab.id, scope]);
      expect((await statusOf(id))[0]).toBe(Status.Suspended);
    });
  });

  describe("revoke", () => {
    it("revokes an active certificate for good, with a reason", async () => {
      const { id, subject } = await issued();
      const statement = fresh("statement");
      const receipt = await expectEvents(asLab().revoke(id, Reason.Fraud, statement), certs, "CertificateRevoked", [
        id,
        subject,
        lab.id,
        Reason.Fraud,
        statement,
      ]);
      const c = await certs.certificate(id);
      expect([c.state, c.reason, c.reasonHash, c.revokedAt]).toEqual([
        BigInt(State.Revoked),
        BigInt(Reason.Fraud),
        statement,
        BigInt(await blockTime(conn, receipt)),
      ]);
      expect((await statusOf(id))[0]).toBe(Status.Revoked);
      // Final: nothing brings it back or changes it.
      await expectRevert(asLab().revoke(id, Reason.Fraud, statement), certs, "InvalidTransition", [id, State.Revoked]);
      await expectRevert(asLab().suspend(id, Reason.Fraud, statement), certs, "InvalidTransition", [id, State.Revoked]);
      await expectRevert(asLab().reinstate(id), certs, "InvalidTransition", [id, State.Revoked]);
      await expectRevert(asLab().supersede(id, fresh("c"), subject, EN10204, 0, 0), certs, "InvalidTransition", [
        id,
        State.Revoked,
      ]);
    });

    it("revokes a suspended certificate", async () => {
      const { id } = await issued();
      await (await asLab().suspend(id, Reason.UnderInvestigation, ZeroHash)).wait();
      await (await asLab().revoke(id, Reason.NonConformity, ZeroHash)).wait();
      expect((await certs.certificate(id)).reason).toBe(BigInt(Reason.NonConformity));
      expect((await statusOf(id))[0]).toBe(Status.Revoked);
    });

    it("a de-accredited issuer may still revoke", async () => {
      const scope = fresh("scope");
      await (await asRegulator().accredit(lab.id, scope, 0)).wait();
      const { id } = await issued(lab, scope);
      await (await asRegulator().deaccredit(lab.id, scope)).wait();
      await (await asLab().revoke(id, Reason.KeyCompromise, ZeroHash)).wait();
      expect(await statusOf(id)).toEqual([Status.Revoked, true, false]);
    });

    it("refuses unknown certificates, other certifiers and outsiders", async () => {
      const { id } = await issued();
      const nothing = fresh("nothing");
      await expectRevert(asLab().revoke(nothing, Reason.Unspecified, ZeroHash), certs, "UnknownCertificate", [nothing]);
      await expectRevert(certs.connect(auditor.signer).revoke(id, Reason.Fraud, ZeroHash), certs, "NotIssuer", [
        id,
        lab.id,
        auditor.id,
      ]);
      await expectRevert(certs.connect(regulator.signer).revoke(id, Reason.Fraud, ZeroHash), certs, "NotIssuer", [
        id,
        lab.id,
        regulator.id,
      ]);
      await expectRevert(certs.connect(fx.outsider).revoke(id, Reason.Fraud, ZeroHash), certs, "NotActiveMember", [
        fx.outsider.address,
      ]);
      expect((await statusOf(id))[0]).toBe(Status.Valid);
    });
  });

  describe("supersede", () => {
    it("replaces a certificate with a new one that points back", async () => {
      const { id, subject } = await issued();
      const newId = fresh("credential");
      const t = await now(conn);
      const tx = asLab().supersede(id, newId, subject, EN10204, t, t + 365 * DAY);
      const receipt = await expectEvents(tx, certs, "CertificateSuperseded", [id, newId, lab.id]);
      // The replacement's own CertificateIssued is in the same transaction.
      const issuedLogs = receipt.logs
        .map((l) => certs.interface.parseLog(l))
        .filter((l) => l?.name === "CertificateIssued")
        .map((l) => normalise([...l!.args]));
      expect(issuedLogs).toEqual([normalise([newId, subject, lab.id, EN10204, t, t + 365 * DAY])]);

      const old = await certs.certificate(id);
      const replacement = await certs.certificate(newId);
      expect([old.state, old.supersededBy, old.supersedes]).toEqual([BigInt(State.Superseded), newId, ZeroHash]);
      expect([replacement.state, replacement.supersedes, replacement.supersededBy, replacement.issuer]).toEqual([
        BigInt(State.Active),
        id,
        ZeroHash,
        BigInt(lab.id),
      ]);
      expect(await statusOf(id)).toEqual([Status.Superseded, true, true]);
      expect(await statusOf(newId)).toEqual([Status.Valid, true, true]);
      expect(await certs.certificatesOf(subject, 0, 10)).toEqual([id, newId]);
    });

    it("supersedes a suspended certificate, possibly correcting subject and scope", async () => {
      await (await asRegulator().accredit(lab.id, ISO9001, 0)).wait();
      const { id, subject } = await issued();
      await (await asLab().suspend(id, Reason.IssuedInError, ZeroHash)).wait();
      const newId = fresh("credential");
      const corrected = fresh("item");
      await (await asLab().supersede(id, newId, corrected, ISO9001, 0, 0)).wait();
      expect((await statusOf(id))[0]).toBe(Status.Superseded);
      const c = await certs.certificate(newId);
      expect([c.subject, c.scope]).toEqual([corrected, ISO9001]);
      expect(await certs.certificatesOf(subject, 0, 10)).toEqual([id]);
      expect(await certs.certificatesOf(corrected, 0, 10)).toEqual([newId]);
    });

    it("refuses to supersede twice, or by another party", async () => {
      const { id, subject } = await issued();
      const newId = fresh("credential");
      const nothing = fresh("nothing");
      await expectRevert(asLab().supersede(nothing, newId, subject, EN10204, 0, 0), certs, "UnknownCertificate", [
        nothing,
      ]);
      await expectRevert(
        certs.connect(auditor.signer).supersede(id, newId, subject, EN10204, 0, 0),
        certs,
        "NotIssuer",
        [id, lab.id, auditor.id],
      );
      await expectRevert(
        certs.connect(fx.outsider).supersede(id, newId, subject, EN10204, 0, 0),
        certs,
        "NotActiveMember",
        [fx.outsider.address],
      );
      await expectRevert(
        certs.connect(steel.signer).supersede(id, newId, subject, EN10204, 0, 0),
        certs,
        "MissingRole",
        [steel.id, Role.Certifier],
      );
      await (await asLab().supersede(id, newId, subject, EN10204, 0, 0)).wait();
      await expectRevert(asLab().supersede(id, fresh("c"), subject, EN10204, 0, 0), certs, "InvalidTransition", [
        id,
        State.Superseded,
      ]);
      await expectRevert(asLab().suspend(id, Reason.Unspecified, ZeroHash), certs, "InvalidTransition", [
        id,
        State.Superseded,
      ]);
      await expectRevert(asLab().reinstate(id), certs, "InvalidTransition", [id, State.Superseded]);
    });

    it("checks the replacement like any issuance", async () => {
      const { id, subject } = await issued();
      const t = await now(conn);
      await expectRevert(asLab().supersede(id, id, subject, EN10204, 0, 0), certs, "CertificateExists", [id]);
      await expectRevert(asLab().supersede(id, ZeroHash, subject, EN10204, 0, 0), certs, "ZeroCertificateId");
      await expectRevert(asLab().supersede(id, fresh("c"), ZeroHash, EN10204, 0, 0), certs, "ZeroSubject");
      await expectRevert(asLab().supersede(id, fresh("c"), subject, ZeroHash, 0, 0), certs, "ZeroScope");
      await expectRevert(
        asLab().supersede(id, fresh("c"), subject, EN10204, t + 9, t + 5),
        certs,
        "InvalidValidityWindow",
        [t + 9, t + 5],
      );
      await expectRevert(asLab().supersede(id, fresh("c"), subject, EN10204, 0, 1), certs, "ValidityAlreadyEnded");
      await expectRevert(asLab().supersede(id, fresh("c"), subject, CE, 0, 0), certs, "NotAccredited", [lab.id, CE]);
      expect((await statusOf(id))[0]).toBe(Status.Valid);
    });

    it("refuses a de-accredited issuer", async () => {
      const scope = fresh("scope");
      await (await asRegulator().accredit(lab.id, scope, 0)).wait();
      const { id, subject } = await issued(lab, scope);
      await (await asRegulator().deaccredit(lab.id, scope)).wait();
      await expectRevert(asLab().supersede(id, fresh("c"), subject, scope, 0, 0), certs, "NotAccredited", [
        lab.id,
        scope,
      ]);
    });
  });

  describe("certificates of a subject", () => {
    it("pages through a subject's certificates in issuance order", async () => {
      const subject = fresh("batch");
      const ids = [fresh("c"), fresh("c"), fresh("c")];
      for (const [i, id] of ids.entries()) {
        await (await certs.connect(i === 1 ? auditor.signer : lab.signer).issue(id, subject, EN10204, 0, 0)).wait();
      }
      expect(await certs.certificateCountOf(subject)).toBe(3n);
      expect(await certs.certificatesOf(subject, 0, 2)).toEqual(ids.slice(0, 2));
      expect(await certs.certificatesOf(subject, 2, 10)).toEqual(ids.slice(2));
      expect(await certs.certificatesOf(subject, 1, 1)).toEqual([ids[1]]);
      expect(await certs.certificatesOf(subject, 0, 0)).toEqual([]);
      expect(await certs.certificatesOf(subject, 3, 1)).toEqual([]);
      expect(await certs.certificatesOf(subject, 10, 2n ** 255n)).toEqual([]);
      expect(await certs.certificatesOf(subject, 1, 2n ** 256n - 1n)).toEqual(ids.slice(1));
      expect(await certs.certificateCountOf(fresh("nothing"))).toBe(0n);
    });
  });

  describe("membership", () => {
    it("a certifier that lost its role may still withdraw trust but not vouch", async () => {
      const { id } = await issued(auditor);
      const other = await issued(auditor);
      await passProposal(fx, ProposalKind.RevokeRole, proposalData.revokeRole(auditor.id, Role.Certifier));
      const asAuditor = certs.connect(auditor.signer);
      await expectRevert(asAuditor.issue(fresh("c"), fresh("item"), EN10204, 0, 0), certs, "MissingRole", [
        auditor.id,
        Role.Certifier,
      ]);
      await (await asAuditor.suspend(id, Reason.Unspecified, ZeroHash)).wait();
      await expectRevert(asAuditor.reinstate(id), certs, "MissingRole", [auditor.id, Role.Certifier]);
      await expectRevert(asAuditor.supersede(id, fresh("c"), fresh("item"), EN10204, 0, 0), certs, "MissingRole", [
        auditor.id,
        Role.Certifier,
      ]);
      await (await asAuditor.revoke(other.id, Reason.HolderRequest, ZeroHash)).wait();
      expect((await statusOf(other.id))[0]).toBe(Status.Revoked);
      await expectRevert(asRegulator().accredit(auditor.id, CE, 0), certs, "NotACertifier", [auditor.id]);
      await passProposal(fx, ProposalKind.GrantRole, proposalData.grantRole(auditor.id, Role.Certifier));
      await (await asAuditor.reinstate(id)).wait();
    });

    it("a suspended certifier can neither issue nor change anything, and is not accredited meanwhile", async () => {
      const { id, subject } = await issued();
      const suspendedOne = await issued();
      await (await asLab().suspend(suspendedOne.id, Reason.Unspecified, ZeroHash)).wait();
      await suspendOrg(fx, "lab");
      const who = [lab.signer.address];
      await expectRevert(asLab().issue(fresh("c"), subject, EN10204, 0, 0), certs, "NotActiveMember", who);
      await expectRevert(asLab().suspend(id, Reason.Unspecified, ZeroHash), certs, "NotActiveMember", who);
      await expectRevert(asLab().reinstate(suspendedOne.id), certs, "NotActiveMember", who);
      await expectRevert(asLab().revoke(id, Reason.Unspecified, ZeroHash), certs, "NotActiveMember", who);
      await expectRevert(asLab().supersede(id, fresh("c"), subject, EN10204, 0, 0), certs, "NotActiveMember", who);
      await expectRevert(asRegulator().accredit(lab.id, EN10204, 0), certs, "OrgNotActive", [lab.id]);
      expect(await certs.isAccredited(lab.id, EN10204)).toBe(false);
      expect(await statusOf(id)).toEqual([Status.Valid, true, false]);
      // A regulator may still withdraw the accreditation of a suspended certifier.
      const scope = fresh("scope");
      await reinstateOrg(fx, "lab");
      await (await asRegulator().accredit(lab.id, scope, 0)).wait();
      await suspendOrg(fx, "lab");
      await (await asRegulator().deaccredit(lab.id, scope)).wait();
      await reinstateOrg(fx, "lab");
      expect(await statusOf(id)).toEqual([Status.Valid, true, true]);
      await (await asLab().revoke(id, Reason.Unspecified, ZeroHash)).wait();
    });

    it("a suspended regulator cannot accredit or de-accredit", async () => {
      await suspendOrg(fx, "regulator");
      const who = [regulator.signer.address];
      await expectRevert(asRegulator().accredit(lab.id, CE, 0), certs, "NotActiveMember", who);
      await expectRevert(asRegulator().deaccredit(lab.id, EN10204), certs, "NotActiveMember", who);
      await reinstateOrg(fx, "regulator");
      await (await asRegulator().accredit(lab.id, CE, 0)).wait();
      expect(await certs.isAccredited(lab.id, CE)).toBe(true);
    });

    it("a removed certifier can no longer revoke", async () => {
      const { id } = await issued(auditor);
      await removeOrg(fx, "auditor");
      await expectRevert(
        certs.connect(auditor.signer).revoke(id, Reason.Unspecified, ZeroHash),
        certs,
        "NotActiveMember",
        [auditor.signer.address],
      );
      expect(await statusOf(id)).toEqual([Status.Valid, true, false]);
    });
  });

  describe("upgrades", () => {
    it("only Consortium upgrades, through a passed proposal, and state survives", async () => {
      const { id } = await issued();
      const impl = await conn.ethers.deployContract("Certificates");
      await expectRevert(asLab().upgradeToAndCall(await impl.getAddress(), "0x"), certs, "UpgradeNotByConsortium", [
        lab.signer.address,
      ]);
      await passProposal(
        fx,
        ProposalKind.Upgrade,
        proposalData.upgrade(await certs.getAddress(), await impl.getAddress()),
      );
      const slot = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc"; // ERC-1967 implementation
      const stored = await conn.ethers.provider.getStorage(await certs.getAddress(), slot);
      expect(`0x${stored.slice(26)}`).toBe((await impl.getAddress()).toLowerCase());
      expect((await statusOf(id))[0]).toBe(Status.Valid);
      expect(await certs.isAccredited(lab.id, EN10204)).toBe(true);
    });
  });
});
