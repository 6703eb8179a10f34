/**
 * Organisation names in running text (explorer messages in English, CLI output): a name ending in
 * s must not come out as "Atlas Motors's". The words are written "the node of {org}" instead of a
 * possessive built on a name, so every name reads well; this keeps the texts that way.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { translator } from "../../explorer/src/messages.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
/** A possessive 's right after a placeholder ({org}'s) or an interpolated name (${…}'s). */
const BUILT_POSSESSIVE = /\}'s\b/;

describe("possessives built on organisation names", () => {
  it("the explorer's access messages name an organisation ending in s without a possessive 's", () => {
    const t = translator("en");
    const org = "Atlas Motors";
    for (const key of ["access.declined", "access.elsewhere", "access.passedOn", "access.unreachable"] as const) {
      const text = t(key, { org });
      expect(text, key).toContain(org);
      expect(text, key).not.toContain(`${org}'s`);
    }
    expect(t("access.passedOn", { org })).toBe("Passed on to the node of Atlas Motors, which keeps it; you see more once Atlas Motors approves.");
  });

  it("the Chinese messages keep their own possessive (的)", () => {
    expect(translator("zh")("access.passedOn", { org: "Atlas Motors" })).toContain("Atlas Motors 的节点");
  });

  it("no English explorer message and no CLI text builds a possessive on a name", () => {
    const en = readFileSync(path.join(ROOT, "explorer/src/messages.ts"), "utf8").split("\nconst zh")[0]!;
    const offending = en.split("\n").filter((l) => BUILT_POSSESSIVE.test(l));
    const cli = readdirSync(path.join(ROOT, "scripts/cli")).filter((f) => f.endsWith(".ts"));
    for (const f of cli) offending.push(...readFileSync(path.join(ROOT, "scripts/cli", f), "utf8").split("\n").filter((l) => BUILT_POSSESSIVE.test(l)).map((l) => `${f}: ${l.trim()}`));
    expect(offending).toEqual([]);
  });
});
