/**
 * Reading the member tool's argument values, formatting durations, and scrubbing the key.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { SigningKey, keccak256, toUtf8Bytes } from "ethers";
import { describe, expect, it } from "vitest";
import { Role } from "../../lib/consortium.ts";
import { RevocationReason, ScopeKind } from "../../lib/registry.ts";
import { formatDuration } from "../../scripts/cli/describe.ts";
import { UsageError, addSecret, redact } from "../../scripts/cli/output.ts";
import * as parse from "../../scripts/cli/parse.ts";
import { credentialHash, envelope, signCredential } from "../../lib/credentials.ts";

const NOW = Date.UTC(2026, 2, 1) / 1000; // 2026-03-01T00:00:00Z

describe("identifiers", () => {
  it("takes 0x + 64 hex digits as the key and hashes any other text with keccak256", () => {
    const hex = "0x" + "Ab".repeat(32);
    expect(parse.identifier("--key", hex)).toEqual({ hex: hex.toLowerCase() });
    const text = "urn:epc:id:sgtin:4012345.011111.1001";
    expect(parse.identifier("--key", text)).toEqual({ hex: keccak256(toUtf8Bytes(text)), text });
  });

  it("refuses short hex (a likely typo) and empty values", () => {
    expect(() => parse.identifier("--key", "0xabc")).toThrow(/not 32 bytes/);
    expect(() => parse.identifier("--key", "")).toThrow(UsageError);
  });
});

describe("certificate ids", () => {
  it("takes @FILE as a credential and uses its credential hash, as the gateway does", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tm-cred-"));
    // LOCAL TEST KEY: fixed and public, for this test only.
    const jws = signCredential(
      { "@context": ["https://www.w3.org/ns/credentials/v2"], type: ["VerifiableCredential"], issuer: "x", credentialSubject: { grade: "316" } },
      new SigningKey("0x" + "22".repeat(32)),
      31337,
    );
    writeFileSync(path.join(dir, "c.jwt"), jws + "\n");
    writeFileSync(path.join(dir, "c.json"), JSON.stringify(envelope(jws)));
    writeFileSync(path.join(dir, "plain.json"), JSON.stringify({ credentialSubject: {} }));
    const id = credentialHash(jws);
    expect(parse.certificateId("<certId>", "@" + path.join(dir, "c.jwt")).hex).toBe(id);
    expect(parse.certificateId("<certId>", "@" + path.join(dir, "c.json")).hex).toBe(id);
    expect(() => parse.certificateId("<certId>", "@" + path.join(dir, "plain.json"))).toThrow(/not a secured credential/);
    expect(() => parse.certificateId("<certId>", "@" + path.join(dir, "missing"))).toThrow(/cannot read the credential file/);
    expect(parse.certificateId("<certId>", "MTR 4711")).toEqual(parse.identifier("<certId>", "MTR 4711"));
  });
});

describe("times", () => {
  it("reads relative times against the chain's clock", () => {
    expect(parse.time("--expires", "+30d", NOW)).toBe(NOW + 30 * 86_400);
    expect(parse.time("--expires", "+12h", NOW)).toBe(NOW + 12 * 3600);
    expect(parse.time("--expires", "+2w", NOW)).toBe(NOW + 14 * 86_400);
    expect(parse.time("--expires", "-90m", NOW)).toBe(NOW - 5400);
  });

  it("reads ISO dates (midnight UTC), date-times and Unix seconds", () => {
    expect(parse.time("--expires", "2026-03-31", NOW)).toBe(Date.UTC(2026, 2, 31) / 1000);
    expect(parse.time("--expires", "2026-03-31T12:30:00Z", NOW)).toBe(Date.UTC(2026, 2, 31, 12, 30) / 1000);
    expect(parse.time("--expires", "1790000000", NOW)).toBe(1_790_000_000);
  });

  it("reads data times in Unix milliseconds", () => {
    expect(parse.timeMs("--from", "2026-01-01T00:00:00Z", NOW * 1000)).toBe(Date.UTC(2026, 0, 1));
    expect(parse.timeMs("--from", "1767225600000", NOW * 1000)).toBe(1_767_225_600_000);
    expect(parse.timeMs("--from", "+1h", NOW * 1000)).toBe(NOW * 1000 + 3_600_000);
  });

  it("refuses anything else as a usage error", () => {
    for (const bad of ["tomorrow", "30d", "2026-13-45", "+3y", ""]) {
      expect(() => parse.time("--expires", bad, NOW), bad).toThrow(UsageError);
    }
  });
});

describe("durations and quorums", () => {
  it("reads durations in s, m, h, d, w", () => {
    expect(parse.duration("--voting-period", "3600")).toBe(3600);
    expect(parse.duration("--voting-period", "90m")).toBe(5400);
    expect(parse.duration("--voting-period", "2d")).toBe(172_800);
    expect(() => parse.duration("--voting-period", "two days")).toThrow(UsageError);
  });

  it("reads quorums in basis points or percent", () => {
    expect(parse.quorum("6000")).toBe(6000);
    expect(parse.quorum("60%")).toBe(6000);
    expect(parse.quorum("50.01%")).toBe(5001);
    expect(() => parse.quorum("most")).toThrow(UsageError);
  });

  it("prints durations with their two largest units", () => {
    expect(formatDuration(86_400)).toBe("1d");
    expect(formatDuration(86_400 + 3 * 3600 + 60)).toBe("1d 3h");
    expect(formatDuration(90)).toBe("1m 30s");
    expect(formatDuration(0)).toBe("0s");
  });
});

describe("words", () => {
  it("reads roles by name (and the demo's aliases), one or several", () => {
    expect(parse.role("Regulator")).toBe(Role.Regulator);
    expect(parse.role("oem")).toBe(Role.Manufacturer);
    expect(parse.roles(["supplier,certifier", "supplier"])).toEqual([Role.Supplier, Role.Certifier]);
    expect(() => parse.role("wizard")).toThrow(/unknown role "wizard"/);
    // Names of the lookup object's inherited members are no roles either.
    for (const inherited of ["constructor", "toString", "__proto__"]) expect(() => parse.role(inherited)).toThrow(/unknown role/);
  });

  it("reads scope kinds, reasons, votes and proposal ids", () => {
    expect(parse.scopeKind("item-genealogy")).toBe(ScopeKind.ItemWithGenealogy);
    expect(parse.scopeKind("window-range")).toBe(ScopeKind.AnchorWindowRange);
    expect(parse.reason("non-conformity")).toBe(RevocationReason.NonConformity);
    expect(parse.reason(undefined)).toBe(RevocationReason.Unspecified);
    expect(() => parse.reason("boredom")).toThrow(UsageError);
    expect([parse.yesNo("yes"), parse.yesNo("No")]).toEqual([true, false]);
    expect(parse.proposalId("#12")).toBe(12n);
    expect(() => parse.proposalId("0")).toThrow(UsageError);
  });
});

describe("redaction", () => {
  it("scrubs a registered key with or without 0x, in any letter case", () => {
    const key = "0x" + "5f".repeat(32);
    addSecret(key);
    const text = `a ${key} b ${key.slice(2).toUpperCase()} c`;
    expect(redact(text)).toBe("a [redacted] b [redacted] c");
    expect(redact("nothing secret")).toBe("nothing secret");
  });
});
