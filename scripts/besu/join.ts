/**
 * A member that joins after genesis: its node bundle, and the Consortium proposals that admit it.
 *
 * The genesis never changes. Joining is a governance decision: an existing member proposes
 * `Admit(name, roles, accounts)`, a quorum votes, then `AddNode(orgId, node)` registers the new
 * node's identities. From the block after AddNode executes, Besu's validator-contract mode picks
 * up the new validator from getValidators(), and node/account permissioning admit its enode and
 * accounts; no other member edits a file.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import { Interface, getAddress } from "ethers";
import { type NodeIdentityInit, ProposalKind, ZERO_ADDRESS, proposalData } from "../../lib/consortium.ts";
import { besuConfigToml, staticNodesJson } from "./config.ts";
import { besuPublicKeyFileContents, enodeUrl } from "./keys.ts";
import { GITIGNORE, NetworkGenerationError, SECRETS_NOTE, resolveNodeKey, resolvePeerId } from "./network.ts";
import { OrgsFileError, parseOrgs } from "./orgs.ts";
import { loadArtifact } from "./predeploy.ts";

interface NetworkJson {
  chainId: number;
  consortium: string;
  organisations: {
    name: string;
    accounts: string[];
    nodes: { dir: string; validator: boolean; enodeId: string; enodeUrl: string; peerId: string }[];
  }[];
}

export interface JoinOptions {
  /** Output directory of the network's generator run (holds network.json and genesis.json). */
  networkDir: string;
  /** Where the new member's bundle goes (nodes/<org> is created inside). */
  outDir: string;
  /** The new organisation's id once Admit has executed: adds the AddNode proposal data. */
  orgId?: number;
  permissioning?: boolean;
  artifactsDir?: string;
}

export interface ProposalCall {
  kind: keyof typeof ProposalKind;
  /** ABI-encoded arguments, as `propose(kind, data)` takes them. */
  data: string;
  /** Complete calldata of `propose(kind, data)` to the Consortium (any wallet can send it). */
  calldata: string;
}

export interface Admission {
  organisation: string;
  consortium: string;
  chainId: number;
  admit: ProposalCall;
  nodes: { dir: string; node: NodeIdentityInit; addNode?: ProposalCall }[];
}

/** Writes the joining member's node bundle(s) and `admission.json`; returns the admission. */
export async function prepareJoin(orgInput: unknown, options: JoinOptions): Promise<Admission> {
  const networkFile = path.join(options.networkDir, "network.json");
  const genesisFile = path.join(options.networkDir, "genesis.json");
  if (!existsSync(networkFile) || !existsSync(genesisFile)) {
    throw new NetworkGenerationError(`${options.networkDir} has no network.json and genesis.json: give the generator's output directory`);
  }
  const network = JSON.parse(await readFile(networkFile, "utf8")) as NetworkJson;
  const genesisText = await readFile(genesisFile, "utf8");

  // The organisation entry is checked exactly like a founder's.
  const spec = parseOrgs({ chainId: network.chainId, organisations: [orgInput] }, "new organisation");
  const org = spec.orgs[0]!;
  const problems: string[] = [];
  const taken = (what: string, value: string, where: string) => problems.push(`${what} ${value} is already registered by ${where}`);
  for (const existing of network.organisations) {
    if (existing.name.toLowerCase() === org.name.toLowerCase()) taken("name", org.name, "a member");
    for (const a of existing.accounts) if (org.accounts.includes(getAddress(a))) taken("account", a, existing.name);
  }
  if (problems.length > 0) throw new OrgsFileError("new organisation", problems);

  const existingNodes = network.organisations.flatMap((o) => o.nodes);
  const iface = new Interface((await loadArtifact("Consortium", options.artifactsDir)).abi);
  const call = (kind: keyof typeof ProposalKind, data: string): ProposalCall => ({
    kind,
    data,
    calldata: iface.encodeFunctionData("propose", [ProposalKind[kind], data]),
  });

  const admission: Admission = {
    organisation: org.name,
    consortium: getAddress(network.consortium),
    chainId: network.chainId,
    admit: call("Admit", proposalData.admit(org.name, org.roleMask, org.accounts)),
    nodes: [],
  };
  const orgDir = path.resolve(options.outDir);
  for (const nodeSpec of org.nodes) {
    const dir = path.join(orgDir, "nodes", nodeSpec.dir);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { identity } = await resolveNodeKey(nodeSpec, dir);
    const { peerId } = await resolvePeerId(nodeSpec, dir);
    const clash = existingNodes.find((n) => n.enodeId === identity.enodeId || n.peerId === peerId);
    if (clash) throw new NetworkGenerationError(`${nodeSpec.dir}: its node key or peer id is already registered (${clash.dir})`);
    const node: NodeIdentityInit = {
      peerId,
      enodeId: identity.enodeId,
      enodeHost: nodeSpec.host,
      enodePort: nodeSpec.p2pPort,
      validator: nodeSpec.validator ? identity.address : ZERO_ADDRESS,
    };
    const url = enodeUrl(identity.enodeId, nodeSpec.host, nodeSpec.p2pPort);
    await writeFile(path.join(dir, "genesis.json"), genesisText);
    await writeFile(path.join(dir, "key.pub"), `${besuPublicKeyFileContents(identity)}\n`);
    await writeFile(path.join(dir, "static-nodes.json"), staticNodesJson(existingNodes.map((n) => n.enodeUrl)));
    await writeFile(
      path.join(dir, "config.toml"),
      besuConfigToml({
        orgName: org.name,
        dir: nodeSpec.dir,
        host: nodeSpec.host,
        p2pPort: nodeSpec.p2pPort,
        rpcPort: nodeSpec.rpcPort,
        wsPort: nodeSpec.wsPort,
        validator: nodeSpec.validator,
        bootnodes: existingNodes.filter((n) => n.validator).map((n) => n.enodeUrl),
        consortiumAddress: getAddress(network.consortium),
        permissioning: options.permissioning ?? true,
        // DNS names anywhere in its enode URLs or its own host need Besu's DNS support.
        dnsEnabled: [nodeSpec.host, ...existingNodes.map((n) => new URL(n.enodeUrl).hostname.replace(/^\[|\]$/g, ""))].some(
          (h) => isIP(h) === 0,
        ),
      }),
    );
    await writeFile(
      path.join(dir, "node.json"),
      `${JSON.stringify(
        {
          organisation: org.name,
          accounts: org.accounts,
          validator: nodeSpec.validator,
          validatorAddress: nodeSpec.validator ? identity.address : null,
          nodeAddress: identity.address,
          enodeId: identity.enodeId,
          enodeUrl: url,
          peerId,
          rpcUrl: `http://127.0.0.1:${nodeSpec.rpcPort}`,
          wsUrl: `ws://127.0.0.1:${nodeSpec.wsPort}`,
          consortium: getAddress(network.consortium),
          chainId: network.chainId,
        },
        null,
        2,
      )}\n`,
    );
    admission.nodes.push({
      dir: nodeSpec.dir,
      node,
      ...(options.orgId !== undefined ? { addNode: call("AddNode", proposalData.addNode(options.orgId, node)) } : {}),
    });
  }
  await writeFile(path.join(orgDir, "admission.json"), `${JSON.stringify(admission, null, 2)}\n`);
  await writeFile(path.join(orgDir, "SECRETS.txt"), SECRETS_NOTE);
  await writeFile(path.join(orgDir, ".gitignore"), GITIGNORE);
  return admission;
}
