/** lib/config-reader: one schema, every problem with its field, paths against the file's folder. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Static, Type } from "@sinclair/typebox";
import { afterAll, describe, expect, it } from "vitest";
import { type CheckOptions, ConfigError, FilePath, checkConfig, readJsonFile } from "../../lib/config-reader.ts";

const Schema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    store: FilePath(),
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 8080 }),
    token: Type.Optional(Type.String({ minLength: 32, secret: true, problem: "must be a token of at least 32 characters" })),
    devices: Type.Array(Type.Object({ id: Type.String({ minLength: 1 }), endpoint: Type.String({ pattern: "^opc\\.tcp://", problem: "must be an opc.tcp:// URL" }) }, { additionalProperties: false }), { default: [] }),
    names: Type.Record(Type.String(), Type.Integer({ minimum: 1 }), { default: {} }),
  },
  { additionalProperties: false },
);

const issues = (raw: unknown, options: Partial<CheckOptions<Static<typeof Schema>>> = {}) => {
  try {
    checkConfig(Schema, raw, { baseDir: "/etc/tm", ...options });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error("accepted");
};

describe("checkConfig", () => {
  it("fills defaults and resolves file paths against the config's folder, leaving the input alone", () => {
    const raw = { name: "oem", store: "./data/db" };
    expect(checkConfig(Schema, raw, { baseDir: "/etc/tm" })).toEqual({ name: "oem", store: "/etc/tm/data/db", port: 8080, devices: [], names: {} });
    expect(raw).toEqual({ name: "oem", store: "./data/db" });
    expect(checkConfig(Schema, { name: "oem", store: "/var/db" }, { baseDir: "/etc/tm" }).store).toBe("/var/db");
  });

  it("lists every problem with its field path, and never repeats a secret", () => {
    const found = issues({
      name: "",
      port: 0,
      token: "s3cr3t",
      devices: [{ id: "a", endpoint: "opc.tcp://x" }, { id: "b", endpoint: "http://x", extra: 1 }],
      names: { "urn:epc:id:sgln:1.2.3": 0 },
    }, { at: "edge" });
    expect(found).toEqual(
      expect.arrayContaining([
        "edge.store: must be a non-empty path (got nothing)",
        'edge.name: must be a non-empty string (got "")',
        "edge.port: must be an integer from 1 to 65535 (got 0)",
        "edge.token: must be a token of at least 32 characters",
        'edge.devices[1].endpoint: must be an opc.tcp:// URL (got "http://x")',
        "edge.devices[1].extra: unknown setting (allowed: id, endpoint)",
        'edge.names["urn:epc:id:sgln:1.2.3"]: must be an integer of at least 1 (got 0)',
      ]),
    );
    expect(found).toHaveLength(7);
    // One error model: a config error is a TracemeshError with a stable code.
    expect(() => checkConfig(Schema, {}, { baseDir: "/" })).toThrow(expect.objectContaining({ code: "invalid-config", name: "ConfigError" }));
    expect(found.join("\n")).not.toContain("s3cr3t");
  });

  it("runs the rules across fields once the schema holds, or in the same pass when asked", () => {
    const rules = (c: { name: string; port: number }, problem: (field: string, text: string) => void) => {
      if (c.name === "oem" && c.port < 1024) problem("port", "must be 1024 or above for the oem");
      problem("name", "is taken");
    };
    expect(issues({ name: "oem", store: "d", port: 80 }, { rules })).toEqual(["port: must be 1024 or above for the oem", "name: is taken"]);
    // Schema problems first; the rules wait for a valid config...
    expect(issues({ name: "", store: "d", port: 80 }, { rules })).toEqual(['name: must be a non-empty string (got "")']);
    // ...unless asked to run anyway, when a field the schema named is not named twice.
    expect(issues({ name: "", store: "d", port: 80 }, { rules, rulesOnInvalid: true })).toEqual(['name: must be a non-empty string (got "")']);
    expect(issues({ name: "oem", store: "", port: 80 }, { rules, rulesOnInvalid: true })).toEqual([
      'store: must be a non-empty path (got "")',
      "port: must be 1024 or above for the oem",
      "name: is taken",
    ]);
  });
});

describe("readJsonFile", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "tm-config-reader-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a file and gives its folder; names a missing or broken file", () => {
    const file = path.join(dir, "ok.json");
    writeFileSync(file, '{ "name": "oem" }');
    expect(readJsonFile(file)).toEqual({ raw: { name: "oem" }, file, dir });
    expect(() => readJsonFile(path.join(dir, "none.json"), "member configuration")).toThrow(/^invalid member configuration .*none\.json:\n {2}- cannot read the file: it does not exist/);
    writeFileSync(path.join(dir, "broken.json"), "{ name: 1 }");
    expect(() => readJsonFile(path.join(dir, "broken.json"))).toThrow(/broken\.json:\n {2}- not valid JSON/);
  });
});
