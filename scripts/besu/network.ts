/**
 * Writes a complete Besu QBFT network for the founding organisations:
 *
 *   <out>/genesis.json          the network's genesis (identical copy in every node bundle)
 *   <out>/network.json          public summary: chain, Consortium address, validators, enode URLs
 *   <out>/SECRETS.txt, .gitignore   which files are secrets, and keeping them out of git
 *   <out>/nodes/<org>/          one bundle per node, to hand to the company that runs it:
 *       config.toml  genesis.json  static-nodes.json  node.json (public identity)
 *       key.pub      key (secret, 0600; absent when the company keeps its own key)
 *       libp2p.key   (secret, 0600; the member node's libp2p identity, when not supplied)
 *
 * Re-running keeps every existing key (a node's key is its identity in Consortium), so the same
 * organisations file gives the same genesis.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import { getAddress, toQuantity } from "ethers";
import { type FounderInit, ZERO_ADDRESS } from "../../lib/consortium.ts";
import { besuConfigToml, staticNodesJson } from "./config.ts";
import { sortValidators } from "./extradata.ts";
import { type BesuGenesis, buildGenesis } from "./genesis.ts";
import {
  type NodePublicIdentity,
  besuKeyFileContents,
  besuPublicKeyFileContents,
  enodeUrl,
  generateLibp2pIdentity,
  generateNodeKey,
  libp2pIdentityFromProtobuf,
  readBesuKeyFile,
  writeSecretFile,
} from "./keys.ts";
import type { NetworkSpec, NodeSpec, OrgSpec } from "./orgs.ts";
import { type GenesisAccount, predeployConsortium } from "./predeploy.ts";
import { TracemeshError } from "../../lib/errors.ts";

export interface GenerateOptions {
  outDir: string;
  /** Write the onchain permissioning options into config.toml (Besu up to 25.5). Default true. */
  permissioning?: boolean;
  artifactsDir?: string;
}

export type KeySource = "generated" | "kept" | "company";

export interface GeneratedNode {
  org: string;
  dir: string;
  validator: boolean;
  enodeId: string;
  enodeUrl: string;
  /** Address of the node key; the QBFT validator address when `validator`. */
  nodeAddress: string;
  peerId: string;
  nodeKey: KeySource;
  libp2pKey: KeySource;
  rpcUrl: string;
}

export interface GeneratedNetwork {
  outDir: string;
  chainId: number;
  consortiumAddress: string;
  implementationAddress: string;
  /** Validator addresses in Besu's order (as in the genesis extraData). */
  validators: string[];
  nodes: GeneratedNode[];
  genesis: BesuGenesis;
  warnings: string[];
}

export class NetworkGenerationError extends TracemeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("invalid-config", message, options);
  }
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

interface ResolvedNode {
  org: OrgSpec;
  spec: NodeSpec;
  dir: string;
  identity: NodePublicIdentity;
  nodeKey: KeySource;
  peerId: string;
  libp2pKey: KeySource;
}

/** The node key of one node: the company's public key, a key kept from an earlier run, or a new one. */
export async function resolveNodeKey(spec: NodeSpec, dir: string): Promise<{ identity: NodePublicIdentity; source: KeySource }> {
  const keyFile = path.join(dir, "key");
  if (existsSync(keyFile)) {
    const kept = await readBesuKeyFile(keyFile);
    if (spec.publicKey && spec.publicKey.enodeId !== kept.enodeId) {
      throw new NetworkGenerationError(
        `${keyFile} does not belong to the publicKey given for ${spec.dir}: remove the stale key file or fix the organisations file`,
      );
    }
    return { identity: { publicKey: kept.publicKey, enodeId: kept.enodeId, address: kept.address }, source: "kept" };
  }
  if (spec.publicKey) return { identity: spec.publicKey, source: "company" };
  const key = generateNodeKey();
  await writeSecretFile(keyFile, besuKeyFileContents(key));
  return { identity: { publicKey: key.publicKey, enodeId: key.enodeId, address: key.address }, source: "generated" };
}

export async function resolvePeerId(spec: NodeSpec, dir: string): Promise<{ peerId: string; source: KeySource }> {
  const keyFile = path.join(dir, "libp2p.key");
  if (existsSync(keyFile)) {
    const kept = libp2pIdentityFromProtobuf(new Uint8Array(await readFile(keyFile)));
    if (spec.peerId && spec.peerId !== kept.peerId) {
      throw new NetworkGenerationError(
        `${keyFile} is peer ${kept.peerId}, but the organisations file gives ${spec.peerId} for ${spec.dir}: remove one of them`,
      );
    }
    return { peerId: kept.peerId, source: "kept" };
  }
  if (spec.peerId) return { peerId: spec.peerId, source: "company" };
  const id = generateLibp2pIdentity();
  await writeSecretFile(keyFile, id.privateKeyProtobuf);
  return { peerId: id.peerId, source: "generated" };
}

export const SECRETS_NOTE = `Generated secrets: handle with care
====================================

Files named \`key\` (Besu node keys) and \`libp2p.key\` (member node libp2p identities) under
nodes/ are PRIVATE KEYS generated by scripts/besu/generate.ts. They are written with mode 0600
and are not encrypted.

- Give each node bundle (nodes/<organisation>/) to its own organisation only, over a secure
  channel, then delete the copies here; a node key controls a validator vote.
- Never commit them (the .gitignore here excludes them) and never paste them anywhere.
- An organisation that prefers to create its own key sends only the public part (key.pub /
  "publicKey" in the organisations file); no private key is generated for it.

Everything else (genesis.json, network.json, config.toml, static-nodes.json, node.json,
key.pub) is public.
`;

export const GITIGNORE = `# Private keys generated by scripts/besu/generate.ts (see SECRETS.txt)
key
libp2p.key
# Besu databases, if a node is started from its bundle here
data/
`;

export async function generateNetwork(spec: NetworkSpec, options: GenerateOptions): Promise<GeneratedNetwork> {
  const outDir = path.resolve(options.outDir);
  const permissioning = options.permissioning ?? true;
  await mkdir(path.join(outDir, "nodes"), { recursive: true });

  // Identities first: keys are created once and then kept for good.
  const nodes: ResolvedNode[] = [];
  for (const org of spec.orgs) {
    for (const node of org.nodes) {
      const dir = path.join(outDir, "nodes", node.dir);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const key = await resolveNodeKey(node, dir);
      const peer = await resolvePeerId(node, dir);
      nodes.push({ org, spec: node, dir, identity: key.identity, nodeKey: key.source, peerId: peer.peerId, libp2pKey: peer.source });
    }
  }
  const seen = new Map<string, string>();
  for (const n of nodes) {
    for (const k of [`enode ${n.identity.enodeId}`, `peer ${n.peerId}`]) {
      const prev = seen.get(k);
      if (prev) throw new NetworkGenerationError(`nodes ${prev} and ${n.spec.dir} share the same ${k.split(" ")[0]} identity`);
      seen.set(k, n.spec.dir);
    }
  }

  const founders: FounderInit[] = spec.orgs.map((org) => ({
    name: org.name,
    roles: org.roleMask,
    accounts: org.accounts,
    nodes: nodes
      .filter((n) => n.org === org)
      .map((n) => ({
        peerId: n.peerId,
        enodeId: n.identity.enodeId,
        enodeHost: n.spec.host,
        enodePort: n.spec.p2pPort,
        validator: n.spec.validator ? n.identity.address : ZERO_ADDRESS,
      })),
  }));
  // Consortium.getValidators() answers in node registration order: founders, then their nodes.
  const registrationOrder = nodes.filter((n) => n.spec.validator).map((n) => n.identity.address);

  const predeployed = await predeployConsortium({
    founders,
    quorumBps: spec.governance.quorumBps,
    votingPeriodSeconds: spec.governance.votingPeriodSeconds,
    chainId: spec.chainId,
    consortiumAddress: spec.consortiumAddress,
    implementationAddress: spec.implementationAddress,
    expectedValidators: registrationOrder,
    artifactsDir: options.artifactsDir,
  });

  const alloc: Record<string, GenesisAccount> = { ...predeployed.alloc };
  if (spec.founderBalanceWei > 0n) {
    for (const org of spec.orgs) {
      for (const account of org.accounts) {
        const key = account.toLowerCase();
        if (alloc[key]) throw new NetworkGenerationError(`founder account ${account} collides with a predeployed contract`);
        alloc[key] = { balance: toQuantity(spec.founderBalanceWei) };
      }
    }
  }

  const genesis = buildGenesis({
    chainId: spec.chainId,
    blockPeriodSeconds: spec.consensus.blockPeriodSeconds,
    requestTimeoutSeconds: spec.consensus.requestTimeoutSeconds,
    epochLength: spec.consensus.epochLength,
    gasLimit: spec.gasLimit,
    validators: registrationOrder,
    consortiumAddress: spec.consortiumAddress,
    alloc,
  });
  const genesisText = json(genesis);

  const urls = new Map(nodes.map((n) => [n, enodeUrl(n.identity.enodeId, n.spec.host, n.spec.p2pPort)]));
  const dnsEnabled = nodes.some((n) => isIP(n.spec.host) === 0);
  const generated: GeneratedNode[] = [];
  for (const n of nodes) {
    const others = nodes.filter((m) => m !== n);
    await writeFile(path.join(n.dir, "genesis.json"), genesisText);
    await writeFile(path.join(n.dir, "key.pub"), `${besuPublicKeyFileContents(n.identity)}\n`);
    await writeFile(path.join(n.dir, "static-nodes.json"), staticNodesJson(others.map((m) => urls.get(m)!)));
    await writeFile(
      path.join(n.dir, "config.toml"),
      besuConfigToml({
        orgName: n.org.name,
        dir: n.spec.dir,
        host: n.spec.host,
        p2pPort: n.spec.p2pPort,
        rpcPort: n.spec.rpcPort,
        wsPort: n.spec.wsPort,
        validator: n.spec.validator,
        bootnodes: others.filter((m) => m.spec.validator).map((m) => urls.get(m)!),
        consortiumAddress: getAddress(spec.consortiumAddress),
        permissioning,
        dnsEnabled,
      }),
    );
    const g: GeneratedNode = {
      org: n.org.name,
      dir: n.spec.dir,
      validator: n.spec.validator,
      enodeId: n.identity.enodeId,
      enodeUrl: urls.get(n)!,
      nodeAddress: n.identity.address,
      peerId: n.peerId,
      nodeKey: n.nodeKey,
      libp2pKey: n.libp2pKey,
      rpcUrl: `http://127.0.0.1:${n.spec.rpcPort}`,
    };
    generated.push(g);
    await writeFile(
      path.join(n.dir, "node.json"),
      json({
        organisation: g.org,
        accounts: n.org.accounts,
        validator: g.validator,
        validatorAddress: g.validator ? g.nodeAddress : null,
        nodeAddress: g.nodeAddress,
        enodeId: g.enodeId,
        enodeUrl: g.enodeUrl,
        peerId: g.peerId,
        rpcUrl: g.rpcUrl,
        wsUrl: `ws://127.0.0.1:${n.spec.wsPort}`,
        consortium: getAddress(spec.consortiumAddress),
        chainId: spec.chainId,
      }),
    );
  }

  const validators = sortValidators(registrationOrder);
  await writeFile(path.join(outDir, "genesis.json"), genesisText);
  await writeFile(
    path.join(outDir, "network.json"),
    json({
      chainId: spec.chainId,
      consortium: getAddress(spec.consortiumAddress),
      consortiumImplementation: getAddress(spec.implementationAddress),
      validatorContractFromBlock: genesis.config.transitions.qbft[0]!.block,
      validators,
      governance: spec.governance,
      organisations: spec.orgs.map((org) => ({
        name: org.name,
        roles: org.roleMask.toString(),
        accounts: org.accounts,
        nodes: generated.filter((g) => g.org === org.name).map(({ nodeKey: _k, libp2pKey: _l, ...pub }) => pub),
      })),
    }),
  );
  await writeFile(path.join(outDir, "SECRETS.txt"), SECRETS_NOTE);
  await writeFile(path.join(outDir, ".gitignore"), GITIGNORE);

  return {
    outDir,
    chainId: spec.chainId,
    consortiumAddress: getAddress(spec.consortiumAddress),
    implementationAddress: getAddress(spec.implementationAddress),
    validators,
    nodes: generated,
    genesis,
    warnings: spec.warnings,
  };
}
