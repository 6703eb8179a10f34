/**
 * A member node's folder for a benchmark, laid out as an operator's: the deployment, the node's
 * key (owner-only), a data folder and node.json naming them. The benches then start the node from
 * that config like `npm start` would.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Deployment } from "../../lib/deployment.ts";
import { type NodeConfig, loadConfig } from "../../node/config.ts";

export interface NodeFolder {
  deployment: Deployment;
  rpcUrl: string;
  /** The node's chain key (an account of its organisation). */
  nodeKey: string;
  organisation: string;
  /** The data folder's name inside `dir`. */
  dataDir: string;
  windowMs: number;
  /** More of node.json (p2p, retention, ...). */
  more?: Record<string, unknown>;
}

/** Writes the folder into `dir` and returns the node's config, read back as the node reads it. */
export function writeNodeFolder(dir: string, f: NodeFolder): NodeConfig {
  writeFileSync(path.join(dir, "deployment.json"), JSON.stringify(f.deployment));
  writeFileSync(path.join(dir, "node.key"), f.nodeKey);
  chmodSync(path.join(dir, "node.key"), 0o600);
  mkdirSync(path.join(dir, f.dataDir));
  writeFileSync(
    path.join(dir, "node.json"),
    JSON.stringify({
      organisation: f.organisation,
      dataDir: `./${f.dataDir}`,
      chain: { rpcUrl: f.rpcUrl, deployment: "./deployment.json", keyFile: "./node.key" },
      window: { durationMs: f.windowMs },
      devices: [],
      ...f.more,
    }),
  );
  return loadConfig(path.join(dir, "node.json"));
}
