/**
 * Restoring the node's own EPCIS event documents from the copies partners received (issue 18;
 * `npm run node -- repair --from-partners`, after the readings: node/ingest/repair.ts).
 *
 * The chain says what the organisation made: every Provenance record emits `Recorded` with its
 * organisation and record hash (`ownRecords`). A record whose own event the store no longer holds
 * (`missingDocuments`; not one a capture job still unfinished will store when the node starts)
 * names a document that is lost here; a partner that received it (the
 * document was shared: announced, granted, fetched) holds a copy in its EventStore, and hands it
 * back over node/p2p/return-fetch.ts to this organisation only.
 *
 * Nothing a partner sends is trusted: each document's record hash is recomputed from the event,
 * its @context and ignoreFields (node/p2p/documents.ts identitiesOf), must be one this node asked
 * for in that request, and Provenance must hold it as recorded by this node's own organisation
 * (`recordOf`). A partner whose answer fails (an altered document, another organisation's, one
 * never recorded, one given twice, a malformed answer) is reported and banned (`onLie`) and asked
 * nothing more; what it sent that verified stays, being exact. Each verified document is stored
 * back as an own event in one atomic batch with its indexes (EventStore.putOwn), with its
 * original context and ignoreFields, so it hashes as recorded and the node serves it again.
 *
 * What cannot come back: a document never shared with a partner reached (only this node ever
 * held it). It stays listed as lost with its record hash; the chain still proves its hash.
 * Limit: a document whose capturer declared ignoreFields can be handed back with other values in
 * those fields (they are outside the hash by that declaration); nothing on chain tells them apart.
 */
import type { Provider } from "ethers";
import { Provenance__factory } from "../../lib/contracts/types/index.js";
import { RecordKind } from "../../lib/registry.ts";
import type { EventVerifier } from "../p2p/fetch-client.ts";
import { type EventDocument, identitiesOf } from "../p2p/documents.ts";
import type { Refusal } from "../p2p/protocol.ts";
import { type DocumentsAnswer, type DocumentsRequest, MAX_RETURN_DOCUMENTS, ReturnAnswerError } from "../p2p/return-fetch.ts";
import { WireError } from "../p2p/wire.ts";
import { unfinishedCaptureHashes } from "./capture.ts";
import type { EventStore } from "./store.ts";

/** One Provenance record of the organisation. */
export interface OwnRecord {
  recordId: string;
  /** The bytes32 the record carries (0x, lower case): the event's CBV 2.0 hash or declaration hash. */
  recordHash: string;
  /** RecordKind name. */
  kind: string;
}

/** A partner that may hold documents the organisation shared with it. */
export interface DocumentPartner {
  peer: string;
  org: number;
  askDocuments(request: DocumentsRequest): Promise<DocumentsAnswer | Refusal>;
}

export interface DocumentRefetchOptions {
  /** This node's organisation: the one whose records the documents must be. */
  ownOrg: number;
  partners: DocumentPartner[];
  /** The Provenance record of `recordHash` made by `orgId` (node/p2p/documents.ts chainEventVerifier). */
  recordOf: EventVerifier["recordOf"];
  /** A partner's answer failed verification: report and ban it. */
  onLie(peer: string, reason: string): Promise<void>;
  log(line: string): void;
}

export interface DocumentRefetchReport {
  restored: { recordHash: string; hashId: string; recordId: string; kind: string; from: string }[];
  /** Documents still lost: held by no partner reached (never shared, or the partners that hold them not reachable). */
  lost: (OwnRecord & { reason: string })[];
  lied: { peer: string; reason: string }[];
  refused: { peer: string; reason: string }[];
}

/** Blocks per `Recorded` log query. */
const LOG_STEP = 10_000;

/** Every Provenance record organisation `org` made since `fromBlock` (the deployment's block), in record order. */
export async function ownRecords(provider: Provider, provenance: string, org: number, fromBlock: number): Promise<OwnRecord[]> {
  const p = Provenance__factory.connect(provenance, provider);
  const head = await provider.getBlockNumber();
  const out: OwnRecord[] = [];
  for (let from = fromBlock; from <= head; from += LOG_STEP) {
    for (const log of await p.queryFilter(p.filters.Recorded(undefined, org), from, Math.min(head, from + LOG_STEP - 1))) {
      const kind = Number(log.args.kind);
      out.push({ recordId: log.args.recordId.toString(), recordHash: log.args.eventHash.toLowerCase(), kind: RecordKind[kind] ?? String(kind) });
    }
  }
  return out;
}

/**
 * The records whose own event `store` does not hold (or holds unreadable), each hash once; not
 * those of a capture job still unfinished (recorded, then the node stopped before storing them):
 * the job stores them when the node starts.
 */
export async function missingDocuments(store: EventStore, records: readonly OwnRecord[]): Promise<OwnRecord[]> {
  const pending = await unfinishedCaptureHashes(store);
  const out = new Map<string, OwnRecord>();
  for (const r of records) {
    if (pending.has(r.recordHash) || out.has(r.recordHash)) continue;
    const held = await store.bySid("o" + r.recordHash.slice(2)).catch(() => undefined);
    if (held === undefined) out.set(r.recordHash, r);
  }
  return [...out.values()];
}

class Lie extends Error {}
/** The partner refused, or could not be asked (transport): no lie, but nothing more is asked of it. */
class NotAnswered extends Error {}

/** Asks partners for the documents of `missing` and stores back those that verify; see the header. */
export async function refetchDocuments(store: EventStore, missing: readonly OwnRecord[], o: DocumentRefetchOptions): Promise<DocumentRefetchReport> {
  const report: DocumentRefetchReport = { restored: [], lost: [], lied: [], refused: [] };
  const todo = new Map(missing.map((r) => [r.recordHash, r]));
  for (const partner of o.partners) {
    if (todo.size === 0) break;
    try {
      let asking = [...todo.keys()];
      while (asking.length > 0) {
        const request: DocumentsRequest = { v: 1, type: "documents", recordHashes: asking.slice(0, MAX_RETURN_DOCUMENTS) };
        let answer: DocumentsAnswer | Refusal;
        try {
          answer = await partner.askDocuments(request);
        } catch (e) {
          if (e instanceof ReturnAnswerError || e instanceof WireError) throw new Lie(e.message);
          throw new NotAnswered((e as Error).message);
        }
        if ("error" in answer) throw new NotAnswered(`refused: ${answer.error}: ${answer.detail}`);
        // Each answer must cover at least one hash, or asking again would never end.
        if (!Number.isSafeInteger(answer.answered) || answer.answered < 1 || answer.answered > request.recordHashes.length) {
          throw new Lie(`the answer says it covers ${answer.answered} of the ${request.recordHashes.length} record hashes asked`);
        }
        const covered = new Set(request.recordHashes.slice(0, answer.answered));
        const given = new Set<string>();
        for (const doc of answer.documents) await restore(store, doc, covered, given, todo, partner, o, report);
        asking = asking.slice(answer.answered);
      }
    } catch (e) {
      if (e instanceof Lie) {
        report.lied.push({ peer: partner.peer, reason: e.message });
        o.log(`documents: BANNED ${partner.peer} (organisation ${partner.org}): ${e.message}`);
        await o.onLie(partner.peer, e.message);
      } else if (e instanceof NotAnswered) {
        report.refused.push({ peer: partner.peer, reason: e.message });
        o.log(`documents: ${partner.peer} (organisation ${partner.org}): ${e.message}`);
      } else throw e; // the node's own store or chain failing is no partner's doing
    }
  }
  for (const r of todo.values()) report.lost.push({ ...r, reason: "held by no partner reached (a document never shared is held by no one else)" });
  return report;
}

/** Verifies one returned document against the request and the chain, and stores it as an own event. Throws Lie. */
async function restore(
  store: EventStore,
  doc: unknown,
  covered: ReadonlySet<string>,
  given: Set<string>,
  todo: Map<string, OwnRecord>,
  partner: DocumentPartner,
  o: DocumentRefetchOptions,
  report: DocumentRefetchReport,
): Promise<void> {
  let ids: { hashId: string; recordHash: string };
  try {
    ids = identitiesOf(doc);
  } catch (e) {
    throw new Lie(`returned something that is not an EPCIS event document: ${(e as Error).message}`);
  }
  const recordHash = ids.recordHash.toLowerCase();
  if (!covered.has(recordHash)) throw new Lie(`returned a document hashing to ${recordHash}, not one of the record hashes asked (altered, another organisation's, or never recorded)`);
  if (given.has(recordHash)) throw new Lie(`returned the document of ${recordHash} twice in one answer`);
  given.add(recordHash);
  const record = await o.recordOf(recordHash, o.ownOrg);
  if (record === undefined || record.orgId !== o.ownOrg) throw new Lie(`returned document ${ids.hashId}, which Provenance does not hold as recorded by organisation ${o.ownOrg}`);
  if (!todo.has(recordHash)) return; // restored from an earlier answer of this partner
  const d = doc as EventDocument;
  const eventID = typeof d.event["eventID"] === "string" ? d.event["eventID"] : undefined;
  await store.putOwn([
    {
      hashId: ids.hashId,
      recordHash,
      ...(eventID ? { eventID } : {}),
      context: d.context,
      ...(d.ignoreFields?.length ? { ignoreFields: d.ignoreFields } : {}),
      owner: o.ownOrg,
      // The capture job that recorded it was lost with the store.
      origin: { kind: "own", captureId: "", restored: { peerId: partner.peer, org: partner.org, at: new Date().toISOString() } },
      chain: { recordId: record.recordId.toString(), kind: record.kind },
      event: d.event,
    },
  ]);
  todo.delete(recordHash);
  report.restored.push({ recordHash, hashId: ids.hashId, recordId: record.recordId.toString(), kind: record.kind, from: partner.peer });
  o.log(`documents: restored ${ids.hashId} (record ${record.recordId}, ${record.kind}) from ${partner.peer}, verified against the organisation's record`);
}
