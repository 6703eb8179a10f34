/**
 * The OPC UA trust list as operators handle it, on a PKI folder in node-opcua's layout (the one
 * OPCUACertificateManager and most OPC UA stacks use):
 *
 *   <pki>/own/certs/client_certificate.pem   this client's certificate (created on first start)
 *   <pki>/own/private/private_key.pem        its private key (never leaves the folder)
 *   <pki>/trusted/certs/                     peers' certificates that are trusted
 *   <pki>/rejected/                          peers' certificates seen and refused, "CN[thumbprint].pem"
 *
 * A peer certificate never seen before is refused and put in `rejected/`; `trust` moves it to
 * `trusted/certs/` (a file move any tool or person could make; node-opcua picks it up on its next
 * connect, or at once where it watches the folder). The same command serves the other side: a
 * server whose PKI folder has this layout trusts our client the same way.
 * Loads no OPC UA library: the command line stays quick.
 */
import { X509Certificate, createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync } from "node:fs";
import path from "node:path";
import { UsageError } from "../../lib/errors.ts";

export interface PkiCertificate {
  /** Where the certificate file is. */
  file: string;
  /** SHA-1 of the DER bytes, lower-case hex: what OPC UA tools call the thumbprint. */
  thumbprint: string;
  subject: string;
  validTo: string;
}

export function pkiPaths(pki: string) {
  return {
    rejected: path.join(pki, "rejected"),
    trusted: path.join(pki, "trusted", "certs"),
    ownCertificate: path.join(pki, "own", "certs", "client_certificate.pem"),
  };
}

/** The command that trusts `thumbprint` in `pki`, as the adapter's messages print it. */
export function trustCommand(pki: string, thumbprint: string): string {
  return `npm run node -- opcua trust --pki ${shellQuote(pki)} ${thumbprint}`;
}

/** The certificate in `file` (PEM or DER), or an error naming the file. */
export function readCertificate(file: string): PkiCertificate & { der: Buffer } {
  const bytes = readFileSync(file);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(bytes);
  } catch (e) {
    throw new UsageError(`${file} is not an X.509 certificate (PEM or DER): ${(e as Error).message}`);
  }
  const der = cert.raw;
  return { file, der, thumbprint: createHash("sha1").update(der).digest("hex"), subject: printable(cert.subject.replace(/\n/g, ", ")), validTo: cert.validTo };
}

/** The certificates in `folder` (none when it does not exist); unreadable files are skipped. */
export function listCertificates(folder: string): PkiCertificate[] {
  if (!existsSync(folder)) return [];
  const out: PkiCertificate[] = [];
  for (const name of readdirSync(folder).sort()) {
    const file = path.join(folder, name);
    if (!/\.(pem|der|crt|cer)$/i.test(name) || !statSync(file).isFile()) continue;
    try {
      const { der: _, ...c } = readCertificate(file);
      out.push(c);
    } catch {
      // not a certificate: not ours to judge here
    }
  }
  return out;
}

/**
 * Trusts a certificate in `pki`: `which` is a thumbprint (hex, colons and case ignored; a unique
 * prefix of at least 8 digits will do) of a certificate in `rejected/`, or a certificate file
 * (e.g. one a peer's operator handed over). A rejected one is moved, a file is copied, to
 * `trusted/certs/`. Returns the trusted certificate.
 */
export function trustCertificate(pki: string, which: string): PkiCertificate {
  const { rejected, trusted } = pkiPaths(pki);
  if (!existsSync(pki)) throw new UsageError(`no PKI folder at ${pki}`);
  mkdirSync(trusted, { recursive: true });
  if (existsSync(which) && statSync(which).isFile()) {
    const cert = readCertificate(which);
    const target = path.join(trusted, `${fileLabel(cert.subject)}[${cert.thumbprint}]${path.extname(which) || ".pem"}`);
    if (path.resolve(which).startsWith(path.resolve(rejected) + path.sep)) renameSync(which, target);
    else copyFileSync(which, target);
    return { ...withoutDer(cert), file: target };
  }
  const wanted = which.replace(/:/g, "").toLowerCase();
  if (!/^[0-9a-f]{8,40}$/.test(wanted)) throw new UsageError(`"${which}" is neither a certificate file nor a thumbprint (8 to 40 hex digits)`);
  const matches = listCertificates(rejected).filter((c) => c.thumbprint.startsWith(wanted));
  if (matches.length === 0) {
    const already = listCertificates(trusted).find((c) => c.thumbprint.startsWith(wanted));
    if (already) return already;
    throw new UsageError(`no rejected certificate with thumbprint ${wanted} in ${rejected}`);
  }
  if (matches.length > 1) throw new UsageError(`thumbprint ${wanted} matches ${matches.length} rejected certificates; give more digits`);
  const cert = matches[0]!;
  const target = path.join(trusted, path.basename(cert.file));
  renameSync(cert.file, target);
  return { ...cert, file: target };
}

function withoutDer(c: PkiCertificate & { der: Buffer }): PkiCertificate {
  const { der: _, ...rest } = c;
  return rest;
}

/** A file name part from a subject's common name. */
function fileLabel(subject: string): string {
  const cn = /CN=([^,]+)/.exec(subject)?.[1] ?? "certificate";
  return cn.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 64);
}

/** A peer chooses its certificate's subject: no control characters reach logs or terminals. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
