/**
 * No import loops in the member tool or the shared library, counting type-only and lazy
 * (`import()`) imports: a loop there means two files each need the other, so neither concept has
 * one home. The command table loads its handler modules lazily, so what handlers need from the
 * table lives in scripts/cli/handler.ts.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)"(\.{1,2}\/[^"]+)"/gm;

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.tsx?$/.test(e.name))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
    .filter((f) => !f.startsWith(path.join("lib", "contracts", "types")));
}

/** The import graph among `files` (relative paths from the repository root). */
function graphOf(files: string[]): Map<string, string[]> {
  const known = new Set(files);
  return new Map(
    files.map((f) => {
      const text = readFileSync(path.join(root, f), "utf8");
      const deps = [...text.matchAll(IMPORT)].map((m) => path.normalize(path.join(path.dirname(f), m[1]!))).filter((d) => known.has(d));
      return [f, deps];
    }),
  );
}

/** Every loop as the list of files on it (depth-first search; one loop per back edge). */
function loopsOf(graph: Map<string, string[]>): string[][] {
  const loops: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, "open");
    stack.push(f);
    for (const d of graph.get(f) ?? []) {
      if (state.get(d) === "open") loops.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return loops;
}

describe("import loops", () => {
  it("finds a loop through a lazy or type-only import (the check can fail)", () => {
    const graph = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["a.ts"]],
    ]);
    expect(loopsOf(graph)).toEqual([["a.ts", "b.ts", "a.ts"]]);
    const text = 'import type { X } from "./b.ts";\nconst b = () => import("./c.ts");\n';
    expect([...text.matchAll(IMPORT)].map((m) => m[1])).toEqual(["./b.ts", "./c.ts"]);
  });

  it("has none in scripts/cli and lib", () => {
    const graph = graphOf([...sources("scripts/cli"), ...sources("lib")]);
    expect(graph.size).toBeGreaterThan(20);
    expect(loopsOf(graph)).toEqual([]);
  });
});
