/**
 * The layering shared/DESIGN.md promises, checked on every source file: the gateway reaches the
 * node only through its service interface (gateway/services.ts), so gateway/ imports no node/
 * runtime code, and node/ never imports gateway/. Neither imports member/, the process that
 * composes them. Type-only imports (`import type`, `export type ... from`, `import("...")` types)
 * are allowed: they vanish at run time. `import { type X }` is not type-only here: with
 * verbatimModuleSyntax it still loads the module.
 *
 * Imports are read with the TypeScript compiler's parser: static imports, re-exports, dynamic
 * `import()` and `require()`.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..");

/** Which top-level folders each folder must not load at run time. */
const FORBIDDEN: Record<string, readonly string[]> = {
  gateway: ["node", "member"],
  node: ["gateway", "member"],
};

interface SourceFile {
  /** Path relative to the repository root, with forward slashes. */
  file: string;
  text: string;
}

interface Violation {
  file: string;
  line: number;
  specifier: string;
}

/** The runtime imports of one file: module specifiers with their line. */
function runtimeImports(file: string, text: string): { specifier: string; line: number }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: { specifier: string; line: number }[] = [];
  const add = (node: ts.Node, spec: ts.Expression | undefined) => {
    if (spec && ts.isStringLiteralLike(spec)) out.push({ specifier: spec.text, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      if (!node.importClause?.isTypeOnly) add(node, node.moduleSpecifier);
    } else if (ts.isExportDeclaration(node)) {
      if (!node.isTypeOnly && node.moduleSpecifier) add(node, node.moduleSpecifier);
    } else if (ts.isImportEqualsDeclaration(node)) {
      if (!node.isTypeOnly && ts.isExternalModuleReference(node.moduleReference)) add(node, node.moduleReference.expression);
    } else if (ts.isCallExpression(node)) {
      const dynamicImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const requireCall = ts.isIdentifier(node.expression) && node.expression.text === "require";
      if (dynamicImport || requireCall) add(node, node.arguments[0]);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** The imports in `files` that cross a forbidden layer boundary. */
function layeringViolations(files: readonly SourceFile[]): Violation[] {
  const violations: Violation[] = [];
  for (const { file, text } of files) {
    const forbidden = FORBIDDEN[file.split("/")[0]!];
    if (!forbidden) continue;
    for (const { specifier, line } of runtimeImports(file, text)) {
      if (!specifier.startsWith(".")) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
      if (forbidden.includes(target.split("/")[0]!)) violations.push({ file, line, specifier });
    }
  }
  return violations;
}

function sources(dir: string): SourceFile[] {
  const out: SourceFile[] = [];
  for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...sources(rel));
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push({ file: rel, text: readFileSync(path.join(ROOT, rel), "utf8") });
  }
  return out;
}

describe("layering", () => {
  it("gateway/ imports no node/ runtime code, node/ never imports gateway/, neither imports member/", () => {
    const files = [...sources("gateway"), ...sources("node")];
    expect(files.length).toBeGreaterThan(50);
    const found = layeringViolations(files).map((v) => `${v.file}:${v.line} imports ${v.specifier}`);
    expect(found).toEqual([]);
  });

  it("tells runtime imports from type-only ones", () => {
    const gatewayFile = (text: string) => layeringViolations([{ file: "gateway/routes/x.ts", text }]).map((v) => v.specifier);
    // Type-only: allowed.
    expect(gatewayFile(`import type { A } from "../../node/events/store.ts";`)).toEqual([]);
    expect(gatewayFile(`export type { A } from "../../node/events/store.ts";`)).toEqual([]);
    expect(gatewayFile(`let x: import("../../node/events/store.ts").A;`)).toEqual([]);
    expect(gatewayFile(`import { x } from "../../lib/epcis/published.ts";`)).toEqual([]);
    // Runtime: refused, however written.
    expect(gatewayFile(`import { A } from "../../node/events/store.ts";`)).toEqual(["../../node/events/store.ts"]);
    expect(gatewayFile(`import { type A, b } from "../../node/x.ts";`)).toEqual(["../../node/x.ts"]);
    expect(gatewayFile(`import { type A } from "../../node/x.ts";`)).toEqual(["../../node/x.ts"]);
    expect(gatewayFile(`import * as n from "../../node/x.ts";`)).toEqual(["../../node/x.ts"]);
    expect(gatewayFile(`import "../../node/x.ts";`)).toEqual(["../../node/x.ts"]);
    expect(gatewayFile(`export { a } from "../../node/x.ts";`)).toEqual(["../../node/x.ts"]);
    expect(gatewayFile(`export * from "../../node/x.ts";`)).toEqual(["../../node/x.ts"]);
    expect(gatewayFile(`const m = await import("../../node/x.ts");`)).toEqual(["../../node/x.ts"]);
    expect(gatewayFile(`import {\n  a,\n} from "../../member/main.ts";`)).toEqual(["../../member/main.ts"]);
    // node/ never loads gateway/; naming its types is fine.
    const nodeFile = (text: string) => layeringViolations([{ file: "node/events/x.ts", text }]).map((v) => v.specifier);
    expect(nodeFile(`import { app } from "../../gateway/app.ts";`)).toEqual(["../../gateway/app.ts"]);
    expect(nodeFile(`import type { App } from "../../gateway/app.ts";`)).toEqual([]);
    expect(nodeFile(`import { x } from "../chain/client.ts";`)).toEqual([]);
  });
});
