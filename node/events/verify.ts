/**
 * Checks an EPCIS event received from a partner against the chain before it is stored
 * (`EventStore.putReceived`): its record hash is recomputed from the event and its document's
 * @context (the CBV 2.0 hash, or the declaration hash of an error declaration), and Provenance
 * must hold a record with that hash made by the organisation the event is said to belong to
 * (`recordOfEventBy`: a record of the same hash by anyone else does not count).
 * Nothing the sender says about the event is taken on trust.
 */
import type { Provider } from "ethers";
import { Provenance__factory } from "../../lib/contracts/types/index.js";
import { recordIdentityOf } from "../../lib/epcis/record-hash.ts";
import { RecordKind } from "../../lib/registry.ts";
import type { ChainRef } from "./store.ts";
import { TracemeshError } from "../../lib/errors.ts";

export class ReceivedEventError extends TracemeshError {
  constructor(message: string) {
    super("peer-misbehaved", message);
  }
}

export interface VerifiedEvent {
  hashId: string;
  recordHash: string;
  chain: ChainRef;
}

/**
 * The hashes and on-chain record of `event` if the chain holds it as recorded by `owner`;
 * throws ReceivedEventError naming what does not match.
 */
export async function verifyReceivedEvent(
  provider: Provider,
  provenance: string,
  event: Record<string, unknown>,
  context: unknown,
  owner: number,
  ignoreFields: readonly string[] = [],
): Promise<VerifiedEvent> {
  const options = { context, ignoreFields };
  const h = recordIdentityOf(event, options);
  const recordHash = h.recordHash;
  const registry = Provenance__factory.connect(provenance, provider);
  // The owner's own record: another organisation's record of the same hash (a squatter's) proves nothing.
  const recordId = await registry.recordOfEventBy(recordHash, owner);
  if (recordId === 0n) throw new ReceivedEventError(`event ${h.hashId} is not recorded on chain by organisation ${owner} (record hash ${recordHash}): it was altered or never recorded`);
  const record = await registry.record(recordId);
  if (Number(record.orgId) !== owner)
    throw new ReceivedEventError(`event ${h.hashId} was recorded by organisation ${Number(record.orgId)} (record ${recordId}), not by organisation ${owner}`);
  return { hashId: h.hashId, recordHash, chain: { recordId: recordId.toString(), kind: RecordKind[Number(record.kind)] ?? String(record.kind) } };
}
