/**
 * Helpers for the peer-network tests: real peer identities registered in a real Consortium
 * through governance, and hosts that stop with the test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { id, keccak256, toUtf8Bytes } from "ethers";
import { ProposalKind, proposalData } from "../../../lib/consortium.ts";
import { peerIdOfKeyFile } from "../../../node/p2p/host.ts";
import { type ConsortiumFixture, type OrgKey, passProposal } from "../../helpers/fixture.ts";

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A node identity (unique enode and validator) for a real libp2p peer id. */
export function nodeFor(peerId: string) {
  const enodeId = (keccak256(toUtf8Bytes(`a:${peerId}`)) + keccak256(toUtf8Bytes(`b:${peerId}`)).slice(2)).slice(2);
  return { peerId, enodeId, enodeHost: "127.0.0.1", enodePort: 30303, validator: "0x" + id(`v:${peerId}`).slice(26) };
}

/** Registers the peer id of `keyFile` (created if missing) as a node of `org`, by a passed proposal. */
export async function registerPeer(fx: ConsortiumFixture, org: OrgKey, keyFile: string): Promise<string> {
  const peerId = await peerIdOfKeyFile(keyFile);
  await passProposal(fx, ProposalKind.AddNode, proposalData.addNode(fx.orgs[org].id, nodeFor(peerId)));
  return peerId;
}

/** Polls `check` until it is true or `timeoutMs` passes; returns whether it became true. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}
