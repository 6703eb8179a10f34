/**
 * lib/api holds the gateway's HTTP answers as types shared by the gateway, the explorer (in the
 * browser) and lib/gateway-client.ts. It must stay type-only: any runtime statement there would
 * be bundled into the explorer and could pull Node-only code after it.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../lib/api");

/** The JavaScript a module compiles to, without comments and the empty-module marker. */
function emitted(source: string): string {
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true, removeComments: true } }).outputText;
  return js.replace(/export \{\};?/g, "").trim();
}

describe("lib/api", () => {
  it("tells a module with runtime code from a type-only one (the check can fail)", () => {
    expect(emitted('import type { A } from "./a.ts";\nexport interface B { a: A }\nexport type C = B;\n')).toBe("");
    expect(emitted('import { x } from "node:fs";\nexport const y = x;\n')).not.toBe("");
  });

  it("is types only, so the explorer bundles nothing from it", () => {
    const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) expect(emitted(readFileSync(path.join(dir, f), "utf8")), f).toBe("");
  });
});
