/**
 * Certificates commands: accredit and de-accredit certifiers (regulators), issue, suspend,
 * reinstate, revoke and supersede certificates (their issuer), status and verify (anyone), and
 * present certificates to a verifier (holders), whole or only chosen claims (selective disclosure,
 * lib/credentials/selective-disclosure.ts), and verify presentations (verifiers).
 */
import { ZeroHash } from "ethers";
import { OrgStatus, Role } from "../../lib/consortium.ts";
import { CHECK_NAMES, CredentialError, jwsOfInput, verifyCredential } from "../../lib/credentials.ts";
import { PRESENTATION_CHECK_NAMES, signPresentation, verifyPresentation as verifyVp } from "../../lib/credentials/presentation.ts";
import {
  type SelectiveVerification,
  SELECTIVE_CHECK_NAMES,
  presentSelectiveCredential,
  sdJwtOfInput,
  verifySelectiveDisclosure,
} from "../../lib/credentials/selective-disclosure.ts";
import { CertificateState, CertificateStatus, type RevocationReason } from "../../lib/registry.ts";
import type { Handler, Invocation, Run } from "./handler.ts";
import { certStateName, certStatusName, formatTime, isoTime, orgStatusName, reasonName, relativeTime } from "./describe.ts";
import { Refusal, UsageError } from "./output.ts";
import * as parse from "./parse.ts";
import type { Session } from "./session.ts";

type CertRecord = Awaited<ReturnType<Session["contracts"]["certificates"]["certificate"]>>;

/** Whether the accreditation record of `orgId` for `scope` is live now (what issuing needs). */
async function accreditedNow(s: Session, orgId: number, scope: string, now: number): Promise<boolean> {
  const { certificates } = s.contracts;
  const n = await certificates.accreditationPeriodCount(orgId, scope);
  if (n === 0n) return false;
  const p = await certificates.accreditationPeriod(orgId, scope, n - 1n);
  return p.withdrawnBy === 0n && (p.expiresAt === 0n || BigInt(now) < p.expiresAt);
}

async function existing(s: Session, id: parse.Identifier): Promise<CertRecord> {
  const cert = await s.contracts.certificates.certificate(id.hex);
  if (Number(cert.state) === CertificateState.None) {
    throw new Refusal(`certificate ${parse.showId(id)} was never issued`, { certificate: id.hex, check: "UnknownCertificate" });
  }
  return cert;
}

function requireIssuer(s: Session, id: parse.Identifier, cert: CertRecord, me: { org: { id: number } }): void {
  if (Number(cert.issuer) !== me.org.id) {
    throw new Refusal(
      `certificate ${parse.showId(id)} was issued by ${s.org(Number(cert.issuer))}; only its issuer may change it, not ${s.org(me.org.id)}`,
      { issuer: Number(cert.issuer), check: "NotIssuer" },
    );
  }
}

function requireState(id: parse.Identifier, cert: CertRecord, allowed: CertificateState[], action: string): void {
  const state = Number(cert.state) as CertificateState;
  if (!allowed.includes(state)) {
    throw new Refusal(`certificate ${parse.showId(id)} is ${certStateName(state)}, so it cannot be ${action}`, {
      state: certStateName(state),
      check: "InvalidTransition",
    });
  }
}

async function requireAccredited(
  s: Session,
  me: { address: string; org: { id: number; name: string } },
  scope: parse.Identifier,
  now: number,
) {
  if (!(await accreditedNow(s, me.org.id, scope.hex, now))) {
    throw new Refusal(
      `account ${me.address} signs for ${me.org.name}, which is not accredited for scope ${parse.showId(scope)} now; a regulator accredits it with \`tm cert accredit\``,
      { orgId: me.org.id, scope: scope.hex, check: "NotAccredited" },
    );
  }
}

interface Window {
  subject: parse.Identifier;
  scope: parse.Identifier;
  validFrom: number;
  validUntil: number;
}

/** The certificate's subject, scope and validity as given; times are resolved once the chain's clock is known. */
function certWindow(inv: Invocation): (now: number) => Window {
  const subject = parse.identifier("--subject", parse.required(inv.values, "subject", inv.command));
  const scope = parse.identifier("--scope", parse.required(inv.values, "scope", inv.command));
  const fromText = parse.str(inv.values, "valid-from");
  const untilText = parse.str(inv.values, "valid-until");
  const at = (now: number) => ({
    validFrom: fromText !== undefined ? parse.time("--valid-from", fromText, now) : now,
    validUntil: untilText !== undefined ? parse.time("--valid-until", untilText, now) : 0,
  });
  at(0); // syntax
  return (now) => {
    const { validFrom, validUntil } = at(now);
    if (validUntil !== 0 && validUntil <= validFrom) {
      throw new UsageError(
        `--valid-until (${formatTime(validUntil)}) must be after --valid-from (${formatTime(validFrom)})`,
        inv.command,
      );
    }
    return { subject, scope, validFrom, validUntil };
  };
}

function checkNotEnded(w: Window, now: number): void {
  if (w.validUntil !== 0 && w.validUntil <= now) {
    throw new Refusal(
      `the validity would end at ${formatTime(w.validUntil)}, which is already past (chain time ${formatTime(now)})`,
      {
        check: "ValidityAlreadyEnded",
      },
    );
  }
}

async function requireUnused(s: Session, id: parse.Identifier): Promise<void> {
  const cert = await s.contracts.certificates.certificate(id.hex);
  if (Number(cert.state) !== CertificateState.None) {
    throw new Refusal(`certificate ${parse.showId(id)} is already recorded (issued by ${s.org(Number(cert.issuer))})`, {
      certificate: id.hex,
      check: "CertificateExists",
    });
  }
}

const txLine = (sent: { hash: string; blockNumber: number }) => `  transaction ${sent.hash} (block ${sent.blockNumber})`;

export const accredit: Handler = (inv) => {
  const scope = parse.identifier("<scope>", inv.positionals[1]);
  const expiresText = parse.str(inv.values, "expires");
  if (expiresText !== undefined) parse.time("--expires", expiresText, 0);
  return async (s) => {
    const now = await s.now();
    const expiresAt = expiresText !== undefined ? parse.time("--expires", expiresText, now) : 0;
    const me = await s.requireRole(inv.command, Role.Regulator, "accredit certifiers");
    const certifier = await s.resolveOrg(inv.positionals[0], "<certifier>");
    if (certifier.id === me.org.id)
      throw new Refusal(`${s.org(me.org.id)} cannot accredit itself`, { check: "SelfAccreditation" });
    if (certifier.status !== OrgStatus.Active) {
      throw new Refusal(`${s.org(certifier.id)} is ${orgStatusName(certifier.status)}: only an active member can be accredited`, {
        orgId: certifier.id,
        check: "OrgNotActive",
      });
    }
    if ((certifier.roles & (1n << BigInt(Role.Certifier))) === 0n) {
      throw new Refusal(
        `${s.org(certifier.id)} does not hold the Certifier role, so it cannot be accredited (the consortium grants roles: tm propose grant-role)`,
        {
          orgId: certifier.id,
          check: "NotACertifier",
        },
      );
    }
    if (expiresAt !== 0 && expiresAt <= now) {
      throw new Refusal(`the expiry ${formatTime(expiresAt)} is not after the chain's time ${formatTime(now)}`, {
        check: "ExpiryNotInFuture",
      });
    }
    const wasLive = await accreditedNow(s, certifier.id, scope.hex, now);
    const sent = await s.send(inv.command, "Certificates", `accredit ${s.org(certifier.id)} for ${parse.showId(scope)}`, (c) =>
      c.certificates.accredit(certifier.id, scope.hex, expiresAt),
    );
    const until = expiresAt === 0 ? "open-ended" : `until ${formatTime(expiresAt)} (${relativeTime(expiresAt, now)})`;
    return {
      text: [
        wasLive
          ? `${s.org(me.org.id)} changed the expiry of the accreditation of ${s.org(certifier.id)} for ${parse.showId(scope)}: ${until}`
          : `${s.org(me.org.id)} accredited ${s.org(certifier.id)} for ${parse.showId(scope)}, ${until}`,
        txLine(sent),
      ].join("\n"),
      json: {
        certifier: certifier.id,
        scope: scope.hex,
        scopeText: scope.text ?? null,
        expiresAt: isoTime(expiresAt),
        renewed: wasLive,
        tx: sent.hash,
        block: sent.blockNumber,
      },
    };
  };
};

export const deaccredit: Handler = (inv) => {
  const scope = parse.identifier("<scope>", inv.positionals[1]);
  return async (s) => {
    const me = await s.requireRole(inv.command, Role.Regulator, "withdraw accreditations");
    const certifier = await s.resolveOrg(inv.positionals[0], "<certifier>");
    if (!(await accreditedNow(s, certifier.id, scope.hex, await s.now()))) {
      throw new Refusal(`${s.org(certifier.id)} is not accredited for ${parse.showId(scope)}, so there is nothing to withdraw`, {
        check: "NotAccredited",
      });
    }
    const sent = await s.send(
      inv.command,
      "Certificates",
      `withdraw the accreditation of ${s.org(certifier.id)} for ${parse.showId(scope)}`,
      (c) => c.certificates.deaccredit(certifier.id, scope.hex),
    );
    return {
      text: [`${s.org(me.org.id)} withdrew the accreditation of ${s.org(certifier.id)} for ${parse.showId(scope)}`, txLine(sent)].join(
        "\n",
      ),
      json: {
        certifier: certifier.id,
        scope: scope.hex,
        scopeText: scope.text ?? null,
        withdrawn: true,
        tx: sent.hash,
        block: sent.blockNumber,
      },
    };
  };
};

export const issue: Handler = (inv) => {
  const id = parse.certificateId("<certId>", inv.positionals[0]);
  const window = certWindow(inv);
  return async (s) => {
    const now = await s.now();
    const w = window(now);
    const me = await s.requireRole(inv.command, Role.Certifier, "issue certificates");
    await requireUnused(s, id);
    checkNotEnded(w, now);
    await requireAccredited(s, me, w.scope, now);
    const sent = await s.send(inv.command, "Certificates", `issue certificate ${parse.showId(id)}`, (c) =>
      c.certificates.issue(id.hex, w.subject.hex, w.scope.hex, w.validFrom, w.validUntil),
    );
    return {
      text: [
        `${s.org(me.org.id)} issued certificate ${parse.showId(id)}`,
        `  subject  ${parse.showId(w.subject)}`,
        `  scope    ${parse.showId(w.scope)}`,
        `  valid    from ${formatTime(w.validFrom)}${w.validUntil ? ` until ${formatTime(w.validUntil)}` : ", no end"}`,
        txLine(sent),
      ].join("\n"),
      json: {
        certificate: id.hex,
        certificateText: id.text ?? null,
        issuer: me.org.id,
        subject: w.subject.hex,
        scope: w.scope.hex,
        validFrom: isoTime(w.validFrom),
        validUntil: isoTime(w.validUntil),
        tx: sent.hash,
        block: sent.blockNumber,
      },
    };
  };
};

function withdrawTrust(inv: Invocation, action: "suspend" | "revoke"): Run {
  const id = parse.certificateId("<certId>", inv.positionals[0]);
  const reason = parse.reason(parse.str(inv.values, "reason"));
  const statementText = parse.str(inv.values, "statement");
  const statement = statementText !== undefined ? parse.identifier("--statement", statementText) : undefined;
  return async (s) => {
    const me = await s.requireActive(inv.command, `${action} certificates`);
    const cert = await existing(s, id);
    requireIssuer(s, id, cert, me);
    if (action === "suspend") requireState(id, cert, [CertificateState.Active], "suspended (only an active certificate can be)");
    else
      requireState(id, cert, [CertificateState.Active, CertificateState.Suspended, CertificateState.Superseded], "revoked again");
    const reasonHash = statement?.hex ?? ZeroHash;
    const sent = await s.send(
      inv.command,
      "Certificates",
      `${action} certificate ${parse.showId(id)} (${reasonName(reason)})`,
      (c) =>
        action === "suspend"
          ? c.certificates.suspend(id.hex, reason, reasonHash)
          : c.certificates.revoke(id.hex, reason, reasonHash),
    );
    const done = action === "suspend" ? "suspended" : "revoked";
    return {
      text: [
        `${s.org(me.org.id)} ${done} certificate ${parse.showId(id)}: ${reasonName(reason)}${statement ? `, statement ${parse.showId(statement)}` : ""}`,
        txLine(sent),
      ].join("\n"),
      json: { certificate: id.hex, state: done, reason: reasonName(reason), reasonHash, tx: sent.hash, block: sent.blockNumber },
    };
  };
}

export const suspend: Handler = (inv) => withdrawTrust(inv, "suspend");
export const revoke: Handler = (inv) => withdrawTrust(inv, "revoke");

export const reinstate: Handler = (inv) => {
  const id = parse.certificateId("<certId>", inv.positionals[0]);
  return async (s) => {
    const me = await s.requireRole(inv.command, Role.Certifier, "reinstate certificates");
    const cert = await existing(s, id);
    requireIssuer(s, id, cert, me);
    requireState(id, cert, [CertificateState.Suspended], "reinstated (only a suspended certificate can be)");
    await requireAccredited(s, me, { hex: cert.scope }, await s.now());
    const sent = await s.send(inv.command, "Certificates", `reinstate certificate ${parse.showId(id)}`, (c) =>
      c.certificates.reinstate(id.hex),
    );
    return {
      text: [`${s.org(me.org.id)} reinstated certificate ${parse.showId(id)}`, txLine(sent)].join("\n"),
      json: { certificate: id.hex, state: "active", tx: sent.hash, block: sent.blockNumber },
    };
  };
};

export const supersede: Handler = (inv) => {
  const id = parse.certificateId("<certId>", inv.positionals[0]);
  const newId = parse.certificateId("<newCertId>", inv.positionals[1]);
  const window = certWindow(inv);
  return async (s) => {
    const now = await s.now();
    const w = window(now);
    const me = await s.requireRole(inv.command, Role.Certifier, "supersede certificates");
    const cert = await existing(s, id);
    requireIssuer(s, id, cert, me);
    requireState(
      id,
      cert,
      [CertificateState.Active, CertificateState.Suspended],
      "superseded (only an active or suspended certificate can be)",
    );
    await requireUnused(s, newId);
    checkNotEnded(w, now);
    await requireAccredited(s, me, w.scope, now);
    const sent = await s.send(inv.command, "Certificates", `supersede ${parse.showId(id)} with ${parse.showId(newId)}`, (c) =>
      c.certificates.supersede(id.hex, newId.hex, w.subject.hex, w.scope.hex, w.validFrom, w.validUntil),
    );
    return {
      text: [`${s.org(me.org.id)} superseded certificate ${parse.showId(id)} with ${parse.showId(newId)}`, txLine(sent)].join(
        "\n",
      ),
      json: { certificate: id.hex, supersededBy: newId.hex, tx: sent.hash, block: sent.blockNumber },
    };
  };
};

export const status: Handler = (inv) => {
  const id = parse.certificateId("<certId>", inv.positionals[0]);
  return async (s) => {
    await s.loadNames();
    const { certificates } = s.contracts;
    const [[current, atIssuance, accNow], cert, now] = await Promise.all([
      certificates.status(id.hex),
      certificates.certificate(id.hex),
      s.now(),
    ]);
    const st = Number(current) as CertificateStatus;
    if (st === CertificateStatus.Unknown) {
      return {
        text: `Certificate ${parse.showId(id)}: Unknown (never issued on this chain)`,
        json: { certificate: id.hex, status: "Unknown" },
      };
    }
    const yn = (b: boolean) => (b ? "yes" : "no");
    const reason = Number(cert.reason) as RevocationReason;
    const lines = [
      `Certificate ${parse.showId(id)}: ${certStatusName(st)}`,
      `  issuer    ${s.org(Number(cert.issuer))}; accredited for its scope at issuance: ${yn(atIssuance)}, now: ${yn(accNow)}`,
      `  subject   ${cert.subject}`,
      `  scope     ${cert.scope}`,
      `  issued    ${formatTime(cert.issuedAt)}`,
      `  valid     from ${formatTime(cert.validFrom)}${cert.validUntil ? ` until ${formatTime(cert.validUntil)} (${relativeTime(cert.validUntil, now)})` : ", no end"}`,
    ];
    if (st === CertificateStatus.Suspended) lines.push(`  suspended ${formatTime(cert.suspendedAt)}: ${reasonName(reason)}`);
    if (st === CertificateStatus.Revoked) lines.push(`  revoked   ${formatTime(cert.revokedAt)}: ${reasonName(reason)}`);
    if (cert.reasonHash !== ZeroHash) lines.push(`  statement ${cert.reasonHash}`);
    if (cert.supersedes !== ZeroHash) lines.push(`  replaces  ${cert.supersedes}`);
    if (cert.supersededBy !== ZeroHash) lines.push(`  replaced by ${cert.supersededBy}`);
    return {
      text: lines.join("\n"),
      json: {
        certificate: id.hex,
        status: certStatusName(st),
        issuer: { id: Number(cert.issuer), name: s.orgName(Number(cert.issuer)) },
        accreditedAtIssuance: atIssuance,
        accreditedNow: accNow,
        subject: cert.subject,
        scope: cert.scope,
        issuedAt: isoTime(cert.issuedAt),
        validFrom: isoTime(cert.validFrom),
        validUntil: isoTime(cert.validUntil),
        suspendedAt: isoTime(cert.suspendedAt),
        revokedAt: isoTime(cert.revokedAt),
        reason: st === CertificateStatus.Suspended || st === CertificateStatus.Revoked ? reasonName(reason) : null,
        reasonHash: cert.reasonHash === ZeroHash ? null : cert.reasonHash,
        supersedes: cert.supersedes === ZeroHash ? null : cert.supersedes,
        supersededBy: cert.supersededBy === ZeroHash ? null : cert.supersededBy,
      },
    };
  };
};

const mark = (ok: boolean | null) => (ok === true ? "ok  " : ok === false ? "FAIL" : "-   ");

/** A selective disclosure's verification in words: every check, what was disclosed, what stays hidden. */
function selectiveLines(file: string, v: SelectiveVerification): string[] {
  return [
    `Selective disclosure ${file}: ${v.verdict}${v.id ? ` (certificate ${v.id})` : ""}${v.holder ? `, holder ${v.holder}` : ""}`,
    ...SELECTIVE_CHECK_NAMES.map((n) => `  ${mark(v.checks[n].ok)} ${n}: ${v.checks[n].detail}`),
    ...v.disclosed.map((d) => `  disclosed ${d.path} = ${JSON.stringify(d.value)}`),
    ...v.hidden.map((h) => `  hidden    ${h.count} claim(s) of ${h.path}`),
  ];
}

/**
 * `tm cert verify FILE [--nonce --domain]`: the same verification as the gateway's and the
 * explorer's; a selective disclosure (SD-JWT) is verified for the challenge and domain given.
 */
export const verify: Handler = (inv) => {
  const file = inv.positionals[0]!;
  const input = parse.credentialFile("<credential-file>", file);
  const selective = sdJwtOfInput(input) !== undefined;
  const nonce = selective ? parse.required(inv.values, "nonce", inv.command) : undefined;
  const domain = selective ? parse.required(inv.values, "domain", inv.command) : undefined;
  return async (s) => {
    const nowMs = (await s.now()) * 1000;
    if (nonce !== undefined && domain !== undefined) {
      const v = await verifySelectiveDisclosure(input, s.contracts, { chainId: s.chainId, nonce, domain, nowMs });
      const lines = selectiveLines(file, v);
      if (v.verdict !== "valid") throw new Refusal(lines.join("\n"), { verification: v });
      return { text: lines.join("\n"), json: v };
    }
    const v = await verifyCredential(input, s.contracts, { chainId: s.chainId, nowMs });
    const lines = [
      `Credential ${file}: ${v.verdict}${v.id ? ` (certificate ${v.id})` : ""}`,
      ...CHECK_NAMES.map((n) => `  ${mark(v.checks[n].ok)} ${n}: ${v.checks[n].detail}`),
    ];
    if (v.verdict !== "valid") throw new Refusal(lines.join("\n"), { verification: v });
    return { text: lines.join("\n"), json: v };
  };
};

/**
 * `tm cert present FILE... --nonce --domain [--disclose PATHS]`: a presentation of the
 * certificates signed by the caller; for an SD-JWT credential, the chosen claims only (the rest
 * stay hidden), bound to the verifier's challenge by the key binding JWT.
 */
export const present: Handler = (inv) => {
  const nonce = parse.required(inv.values, "nonce", inv.command);
  const domain = parse.required(inv.values, "domain", inv.command);
  const discloseText = parse.str(inv.values, "disclose");
  const inputs = inv.positionals.map((file) => parse.credentialFile("<credential-file>", file));
  const sdJwt = inputs.length === 1 ? sdJwtOfInput(inputs[0]) : undefined;
  if (sdJwt !== undefined) {
    const disclose = (discloseText ?? "").split(",").map((p) => p.trim()).filter((p) => p !== "");
    return async (s) => {
      const wallet = s.requireWallet(inv.command);
      let presented: string;
      try {
        presented = await presentSelectiveCredential(sdJwt, wallet.signingKey, { disclose, nonce, domain, nowMs: (await s.now()) * 1000 });
      } catch (e) {
        if (e instanceof CredentialError) throw new UsageError(`<credential-file>: ${e.message}`, inv.command);
        throw e;
      }
      return { text: presented, json: { presentation: presented, holder: wallet.address, nonce, domain, disclosed: disclose } };
    };
  }
  if (discloseText !== undefined) throw new UsageError("--disclose chooses claims of one selectively disclosable credential (an SD-JWT, vc+sd-jwt)", inv.command);
  const credentials = inputs.map((input, i) => {
    try {
      return jwsOfInput(input);
    } catch (e) {
      throw new UsageError(`<credential-file>: ${inv.positionals[i]}: ${(e as Error).message}`);
    }
  });
  return async (s) => {
    const wallet = s.requireWallet(inv.command);
    const vp = signPresentation(credentials, wallet.signingKey, s.chainId, { nonce, domain, nowMs: (await s.now()) * 1000 });
    return { text: vp, json: { presentation: vp, holder: wallet.address, nonce, domain } };
  };
};

/** `tm cert verify-presentation FILE --nonce --domain`: the gateway's presentation checks, from the CLI. */
export const verifyPresentation: Handler = (inv) => {
  const nonce = parse.required(inv.values, "nonce", inv.command);
  const domain = parse.required(inv.values, "domain", inv.command);
  const file = inv.positionals[0]!;
  const input = parse.credentialFile("<presentation-file>", file);
  return async (s) => {
    const v = await verifyVp(input, s.contracts, { chainId: s.chainId, nonce, domain, nowMs: (await s.now()) * 1000 });
    const lines = [
      `Presentation ${file}: ${v.verdict}${v.holder ? ` (holder ${v.holder})` : ""}`,
      ...PRESENTATION_CHECK_NAMES.map((n) => `  ${mark(v.checks[n].ok)} ${n}: ${v.checks[n].detail}`),
      ...v.credentials.map((c, i) => `  credential ${i}: ${c.verdict}${c.id ? ` (certificate ${c.id})` : ""}`),
    ];
    if (v.verdict !== "valid") throw new Refusal(lines.join("\n"), { verification: v });
    return { text: lines.join("\n"), json: v };
  };
};
