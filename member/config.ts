/**
 * The member's configuration file: the node's (node/config.ts) with two more sections.
 *
 *   "gateway": { "host": "127.0.0.1", "port": 8601, "publicHost": "trace.example.com",
 *                "explorer": true, "tokenSecretFile": "./gateway-secret" },   // all optional
 *   "parties": { "https://id.gs1.org/417/9521001000010": "Nordstahl Steel Mill" }
 *
 * `parties` is the node's directory of shipment destinations: the GS1 party or location (as a
 * Digital Link or EPC URI) a partner's EPCIS events name, and the member organisation (name or id)
 * it stands for. Shipping to a party not listed is refused with a clear error. The node commands
 * (node/cli.ts) read the same file and skip these two sections (MEMBER_SECTIONS).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { canonicalIdentifier } from "../lib/identifiers/canonical.ts";
import { ConfigError, type NodeConfig, parseConfig } from "../node/config.ts";

export interface GatewaySettings {
  host: string;
  port: number;
  publicHost?: string;
  /** Serve the built explorer (explorer/dist) under /explorer/. */
  explorer: boolean;
  /** Token signing secret; random per process when absent (tokens then end with the process). */
  tokenSecretFile?: string;
}

export interface MemberConfig {
  node: NodeConfig;
  gateway: GatewaySettings;
  /** Canonical party/location identifier -> organisation name or id. */
  parties: Map<string, string | number>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Reads and validates a member configuration. Throws ConfigError naming every problem. */
export function loadMemberConfig(file: string): MemberConfig {
  const abs = path.resolve(file);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(abs, "utf8"));
  } catch (e) {
    throw new ConfigError([`cannot read it as JSON: ${(e as Error).message}`], abs);
  }
  if (!isObj(raw)) throw new ConfigError(["the configuration must be a JSON object"], abs);
  const { gateway: g = {}, parties: p = {}, ...nodePart } = raw;
  const problems: string[] = [];
  let node: NodeConfig | undefined;
  try {
    node = parseConfig(nodePart, path.dirname(abs), abs);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
  const gateway: GatewaySettings = { host: "127.0.0.1", port: 8601, explorer: true };
  if (!isObj(g)) problems.push("gateway must be an object");
  else {
    for (const k of Object.keys(g)) {
      if (!["host", "port", "publicHost", "explorer", "tokenSecretFile"].includes(k)) problems.push(`gateway.${k}: unknown setting (allowed: host, port, publicHost, explorer, tokenSecretFile)`);
    }
    const check = (ok: boolean, problem: string) => ok || (problems.push(problem), false);
    if (g.host !== undefined && check(typeof g.host === "string" && g.host !== "", "gateway.host must be a host name or address")) gateway.host = g.host as string;
    if (g.port !== undefined && check(Number.isInteger(g.port) && (g.port as number) >= 0 && (g.port as number) <= 65535, `gateway.port must be a TCP port (got ${JSON.stringify(g.port)})`))
      gateway.port = g.port as number;
    if (g.publicHost !== undefined && check(typeof g.publicHost === "string", "gateway.publicHost must be a string")) gateway.publicHost = g.publicHost as string;
    if (g.explorer !== undefined && check(typeof g.explorer === "boolean", "gateway.explorer must be true or false")) gateway.explorer = g.explorer as boolean;
    if (g.tokenSecretFile !== undefined && check(typeof g.tokenSecretFile === "string", "gateway.tokenSecretFile must be a path"))
      gateway.tokenSecretFile = path.resolve(path.dirname(abs), g.tokenSecretFile as string);
  }
  const parties = new Map<string, string | number>();
  if (!isObj(p)) problems.push("parties must be an object of identifier -> organisation");
  else {
    for (const [id, org] of Object.entries(p)) {
      let canonical: string;
      try {
        canonical = canonicalIdentifier(id);
      } catch (e) {
        problems.push(`parties: ${JSON.stringify(id)} is not a GS1 party or location identifier: ${(e as Error).message}`);
        continue;
      }
      if ((typeof org === "string" && org !== "") || (Number.isInteger(org) && (org as number) > 0)) parties.set(canonical, org as string | number);
      else problems.push(`parties[${JSON.stringify(id)}] must be an organisation name or id (got ${JSON.stringify(org)})`);
    }
  }
  if (problems.length > 0 || node === undefined) throw new ConfigError(problems, abs);
  return { node, gateway, parties };
}
