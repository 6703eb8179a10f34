/**
 * Records a validated EPCIS document on Provenance as ONE transaction (Provenance.multicall), so
 * the document is on chain whole or not at all.
 *
 * Per event, in document order (first rule that applies):
 *  1. the same record hash earlier in the document        -> "duplicate" (nothing sent; e.g. two
 *                                                              events equal but for ignoreFields)
 *  2. the record hash already on chain, by this org        -> "already-recorded" (nothing sent)
 *     ... by another organisation                           -> the document is refused
 *  3. an error declaration (errorDeclaration present): its record hash is the declaration hash
 *     (lib/epcis/declaration.ts); the declared event (same CBV hash) is
 *       recorded by this org                                -> correct(recordId, declarationHash)
 *       recorded by another org                             -> refused (only the author corrects)
 *       not on chain                                        -> observe(keys, declarationHash)
 *  4. lib/epcis/events.ts maps the event to no state change -> observe(keys, eventHash), with the
 *                                                              mapping's reason
 *  5. the state change needs items (or a lot) the registry does not know, none of them
 *     (e.g. GS1 examples about EPCs never commissioned here) -> observe(keys, eventHash)
 *     ... some known, some not                              -> refused, naming the unknown ones
 *  6. otherwise                                             -> the mapped Provenance call
 *
 * Identifier namespaces (contracts/IdentifierNamespaces.sol): a call that creates keys (commission,
 * transform) and an observation naming items not on chain carry `proveKeys` calls for those keys
 * (lib/namespaces.ts), nested with the call in one multicall, so the chain sees the organisation's
 * prefix; items of another organisation's prefix, or of none under the default policy, are refused.
 * An observation of items on chain is recorded only by a party to them (owner, custodian, consignee).
 *
 * The whole batch is preflighted with eth_call first; a refusal is decoded (lib/revert.ts) and
 * pinned to its event by bisecting the batch, so the error names the event and the reason.
 */
import { type Interface, type Provider, type Signer, ZeroHash } from "ethers";
import { type Provenance, Provenance__factory, IConsortium__factory } from "../../lib/contracts/types/index.js";
import { declaredIgnoreFields, documentEventList } from "../../lib/epcis/event-hash.ts";
import { isErrorDeclaration, recordIdentityOf } from "../../lib/epcis/record-hash.ts";
import { type Consignee, type EpcisEvent, type ProvenanceAction, provenanceActionsOf, toEpcisEvent } from "../../lib/epcis/events.ts";
import { type EventSubjects, subjectsOf } from "../../lib/epcis/subjects.ts";
import { canonicalBatchIdentifier, canonicalItemIdentifier, keyOfCanonical } from "../../lib/identifiers/canonical.ts";
import { IdentifierError } from "../../lib/identifiers/gs1-keys.ts";
import { proveKeysCalls } from "../../lib/namespaces.ts";
import { decodeCustomError } from "../../lib/revert.ts";
import { RecordKind, lotUnitBytes } from "../../lib/registry.ts";
import type { CapturedEvent, RecordedHow, RefusedEvent } from "../../lib/api/capture.ts";
import type { ChainClient } from "../chain/client.ts";
import { ChainUnavailableError } from "../chain/errors.ts";
import { TracemeshError } from "../../lib/errors.ts";

/** How an event was recorded. */
export type { RecordedHow };

/** One recorded event, as a capture job reports it (the HTTP API shape, lib/api/capture.ts). */
export type EventResult = CapturedEvent;

/** Why an event (or, at index -1, the document) was refused. */
export type EventError = RefusedEvent;

/** The document cannot be recorded; nothing was sent. */
export class CaptureRefusedError extends TracemeshError {
  constructor(readonly errors: EventError[]) {
    super("capture-refused", errors.map((e) => `event ${e.index}${e.eventID ? ` (${e.eventID})` : ""}: ${e.message}`).join("; "));
  }
}

export interface EventRecorderOptions {
  client: ChainClient;
  /** The node's signing account. */
  signer: Signer;
  /** Provenance's address. */
  provenance: string;
  /**
   * The member organisation of a shipment's consignee (a canonical party or location Digital
   * Link, lib/identifiers/canonical.ts), from the node's directory; undefined when it is not a member.
   */
  resolveParty?: (canonicalId: string) => number | undefined | Promise<number | undefined>;
}

/** One event of a document as planned. */
interface Planned {
  index: number;
  typed: EpcisEvent;
  eventID?: string;
  hashId: string;
  recordHash: string;
  how: RecordedHow;
  call?: { name: string; data: string };
  note?: string;
  existing?: { recordId: bigint; kind: string };
  corrects?: bigint;
}

export interface DocumentPlan {
  /** The node's organisation. */
  org: number;
  events: Planned[];
}

const KIND_NAMES = Object.keys(RecordKind).filter((k) => Number.isNaN(Number(k)));
const kindName = (k: bigint | number) => KIND_NAMES[Number(k)] ?? `Kind${Number(k)}`;

/** The keys an action requires to exist, and whether they are batches. */
function requiredKeys(a: ProvenanceAction): { keys: string[]; ids: string[]; batch: boolean } {
  switch (a.op) {
    case "commission":
    case "commissionLot":
    case "correct":
      return { keys: [], ids: [], batch: false };
    case "shipLot":
    case "receiveLot":
    case "cancelLotShipment":
      return { keys: [a.batch.key], ids: [a.batch.identifier], batch: true };
    case "transform":
      return { keys: [...a.inputs.keys], ids: [...a.inputs.identifiers], batch: false };
    case "assemble":
      return { keys: [a.parent.key, ...a.children.keys], ids: [a.parent.identifier, ...a.children.identifiers], batch: false };
    case "disassemble":
      return { keys: [a.parent.key], ids: [a.parent.identifier], batch: false };
    case "recallBatch":
      return { keys: [a.batch.key], ids: [a.batch.identifier], batch: true };
    default:
      return { keys: [...a.keys], ids: [...a.identifiers], batch: false };
  }
}

/** Keys an action creates (so later events of the same document find them). */
function createdKeys(a: ProvenanceAction): string[] {
  if (a.op === "commission") return [...a.keys, ...(a.batch ? [a.batch.key] : [])];
  if (a.op === "commissionLot") return [a.batch.key];
  if (a.op === "transform") return [...a.outputs.keys, ...(a.outputBatch ? [a.outputBatch.key] : [])];
  return [];
}

/** Canonical identifiers of the keys an action creates, whose namespaces the call must prove. */
function createdIdentifiers(a: ProvenanceAction): string[] {
  if (a.op === "commission") return [...a.identifiers, ...(a.batch ? [a.batch.identifier] : [])];
  if (a.op === "commissionLot") return [a.batch.identifier];
  if (a.op === "transform") return [...a.outputs.identifiers, ...(a.outputBatch ? [a.outputBatch.identifier] : [])];
  return [];
}

/** The canonical identifier behind each item and batch key an event names. */
function identifiersByKey(subjects: EventSubjects): Map<string, string> {
  const out = new Map<string, string>();
  const values = [...Object.values(subjects.epcs).flat(), ...Object.values(subjects.classes).flat()];
  for (const value of values) {
    for (const canonical of [canonicalItemIdentifier, canonicalBatchIdentifier]) {
      try {
        const c = canonical(value);
        out.set(keyOfCanonical(c), c);
      } catch (e) {
        if (!(e instanceof IdentifierError)) throw e;
      }
    }
  }
  return out;
}

export class EventRecorder {
  private readonly reader: Provenance;
  private orgId: number | undefined;

  constructor(private readonly options: EventRecorderOptions) {
    this.reader = Provenance__factory.connect(options.provenance, options.client.provider);
  }

  get provider(): Provider {
    return this.options.client.provider;
  }

  /** The organisation the node's account acts for (asked once; 0 = none active). */
  async organisation(): Promise<number> {
    if (this.orgId !== undefined && this.orgId !== 0) return this.orgId;
    try {
      const consortium = IConsortium__factory.connect(await this.reader.consortium(), this.provider);
      const [org] = await consortium.activeOrgOf(await this.options.signer.getAddress());
      this.orgId = Number(org);
      return this.orgId;
    } catch (e) {
      throw unavailable(e, "reading the node's organisation");
    }
  }

  /** Works out, against the chain's current state, what recording `doc` takes. Throws CaptureRefusedError. */
  async plan(doc: Record<string, unknown>): Promise<DocumentPlan> {
    const org = await this.organisation();
    const context = doc["@context"];
    const ignoreFields = declaredIgnoreFields(doc);
    const options = { context, ignoreFields };
    const iface = this.reader.interface;
    const errors: EventError[] = [];
    const planned: Planned[] = [];
    const seen = new Map<string, number>();
    const created = new Set<string>();
    const labels = new Map<string, string>(); // key -> identifier, for messages
    const raw = documentEventList(doc);

    try {
      for (let index = 0; index < raw.length; index++) {
        const typed = toEpcisEvent(raw[index], index);
        const h = recordIdentityOf(typed.raw, options, index);
        const declaration = isErrorDeclaration(typed.raw);
        const recordHash = h.recordHash;
        const base = { index, typed, ...(typed.eventID ? { eventID: typed.eventID } : {}), hashId: h.hashId, recordHash };
        const refuse = (message: string) => errors.push({ index, ...(typed.eventID ? { eventID: typed.eventID } : {}), hashId: h.hashId, message });
        const subjects = subjectsOf(typed);
        const observeKeys = [...subjects.itemKeys, ...subjects.batchKeys];
        const observe = async (note: string): Promise<Planned> => {
          // Items not on chain (nor created earlier in the document) are observed under the
          // organisation's namespace: prove them.
          const ids = identifiersByKey(subjects);
          ids.forEach((id, key) => labels.set(key, id));
          const unknown: string[] = [];
          for (const key of observeKeys) {
            if (created.has(key) || (await this.reader.itemState(key)).exists || (await this.reader.batchState(key)).exists) continue;
            const id = ids.get(key);
            if (id !== undefined) unknown.push(id);
          }
          return { ...base, how: "observation", call: this.withProofs("observe", iface.encodeFunctionData("observe", [observeKeys, recordHash]), unknown), note };
        };

        const dup = seen.get(recordHash);
        if (dup !== undefined) {
          planned.push({ ...base, how: "duplicate", note: `the same event as event ${dup} of this document (identical ${declaration ? "declaration" : "CBV 2.0"} hash)` });
          continue;
        }
        seen.set(recordHash, index);

        // Only this organisation's own record makes a replay: another's record of the same hash
        // (a competitor's, through its own goods) does not block ours (Provenance.recordOfEventBy).
        const existing = await this.reader.recordOfEventBy(recordHash, org);
        if (existing !== 0n) {
          const r = await this.reader.record(existing);
          planned.push({ ...base, how: "already-recorded", existing: { recordId: existing, kind: kindName(r.kind) } });
          continue;
        }

        if (declaration) {
          if (seen.has(h.digest)) {
            refuse(`declares erroneous event ${seen.get(h.digest)} of the same document: capture the declaration in a later document`);
            continue;
          }
          const declared = await this.reader.recordOfEventBy(h.digest, org);
          const other = declared === 0n ? await this.reader.recordOfEvent(h.digest) : 0n;
          if (other !== 0n) {
            const r = await this.reader.record(other);
            refuse(`declares event ${h.hashId} erroneous, which organisation ${Number(r.orgId)} recorded (record ${other}); only its author can correct it`);
          } else if (declared === 0n) {
            planned.push(await observe("error declaration of an event not recorded on this chain: recorded as an observation under its declaration hash"));
          } else {
            planned.push({
                ...base,
                how: "correction",
                corrects: declared,
                call: { name: "correct", data: iface.encodeFunctionData("correct", [declared, recordHash]) },
              });
          }
          continue;
        }

        const m = provenanceActionsOf(typed, options);
        if (!m.recorded) {
          planned.push(await observe(m.reason));
          continue;
        }
        const a = m.action;
        const req = requiredKeys(a);
        req.keys.forEach((key, i) => labels.set(key, req.ids[i]!));
        if (req.keys.length > 0) {
          const exists = await Promise.all(
            req.keys.map(async (key) => created.has(key) || (req.batch ? (await this.reader.batchState(key)).exists : (await this.reader.itemState(key)).exists)),
          );
          const unknown = req.ids.filter((_, i) => !exists[i]);
          if (unknown.length === req.keys.length) {
            planned.push(await observe(`${a.op}: names ${req.batch ? "a lot" : "items"} not registered on this chain (${unknown.join(", ")})`));
            continue;
          }
          if (unknown.length > 0) {
            refuse(`${a.op}: the registry does not know ${unknown.join(", ")} (the other items of the event are registered)`);
            continue;
          }
        }
        const encoded = await this.encode(a, recordHash, refuse);
        if (encoded === undefined) continue;
        const newIdentifiers = createdIdentifiers(a);
        newIdentifiers.forEach((id) => labels.set(keyOfCanonical(id), id));
        const call = this.withProofs(encoded.name, encoded.data, newIdentifiers);
        createdKeys(a).forEach((key) => created.add(key));
        planned.push({ ...base, how: "state-change", call });
      }
    } catch (e) {
      if (e instanceof CaptureRefusedError) throw e;
      if (isCallError(e)) throw unavailable(e, "planning the document");
      throw e;
    }
    if (errors.length > 0) throw new CaptureRefusedError(errors);
    const plan = { org, events: planned };
    await this.preflight(plan, labels);
    return plan;
  }

  private async encode(a: ProvenanceAction, hash: string, refuse: (m: string) => void): Promise<{ name: string; data: string } | undefined> {
    const i = this.reader.interface as Interface;
    const enc = (name: string, args: unknown[]) => ({ name, data: i.encodeFunctionData(name, args) });
    switch (a.op) {
      case "commission":
        return a.keys.length === 1 && a.batch === undefined
          ? enc("commission", [a.keys[0], a.dispositionKey, hash])
          : enc("commissionBatch", [a.batch?.key ?? ZeroHash, a.keys, a.dispositionKey, hash]);
      case "ship": {
        const to = await this.memberOf(a.consignee, "shipping destination", refuse);
        return to === undefined ? undefined : enc("ship", [a.keys, to, a.transferOwnership, hash]);
      }
      case "commissionLot":
        return enc("commissionLot", [a.batch.key, a.quantity, lotUnitBytes(a.unit), a.dispositionKey, hash]);
      case "shipLot": {
        const to = await this.memberOf(a.consignee, "shipping destination", refuse);
        return to === undefined ? undefined : enc("shipLot", [a.batch.key, a.quantity, lotUnitBytes(a.unit), to, hash]);
      }
      case "receiveLot": {
        const from = await this.memberOf(a.sender, "receiving source", refuse);
        return from === undefined ? undefined : enc("receiveLot", [a.batch.key, from, a.quantity, lotUnitBytes(a.unit), hash]);
      }
      case "cancelLotShipment": {
        const to = await this.memberOf(a.consignee, "void_shipping destination", refuse);
        return to === undefined ? undefined : enc("cancelLotShipment", [a.batch.key, to, a.quantity, lotUnitBytes(a.unit), hash]);
      }
      case "receive":
        return enc("receiveShipment", [a.keys, hash]);
      case "cancelShipment":
        return enc("cancelShipment", [a.keys, hash]);
      case "transform":
        return enc("transform", [a.inputs.keys, a.outputs.keys, a.outputBatch?.key ?? ZeroHash, a.dispositionKey, hash]);
      case "assemble":
        return enc("assemble", [a.parent.key, a.children.keys, hash]);
      case "disassemble":
        if (a.allChildren) {
          refuse("AggregationEvent DELETE without childEPCs: list the children to take out (Provenance needs their keys)");
          return undefined;
        }
        return enc("disassemble", [a.parent.key, a.children.keys, hash]);
      case "inspect":
        return enc("inspect", [a.keys, a.passed, hash]);
      case "setDisposition":
        return enc("setDisposition", [a.keys, a.dispositionKey, hash]);
      case "recall":
        return enc("recall", [a.keys, hash]);
      case "recallBatch":
        return enc("recallBatch", [a.batch.key, hash]);
      case "correct":
        // Declarations are planned before the mapping; an event without one never maps here.
        refuse("unexpected correction mapping");
        return undefined;
    }
  }

  /** The member organisation of a source or destination (possessing party, owning party, then location). */
  private async memberOf(parties: Consignee, what: string, refuse: (m: string) => void): Promise<number | undefined> {
    const party = parties.possessingParty ?? parties.owningParty ?? parties.location;
    const org = party === undefined ? undefined : await this.options.resolveParty?.(party);
    if (org !== undefined && org !== 0) return org;
    refuse(
      party === undefined
        ? `${what}: the event names no owning_party, possessing_party or location`
        : `${what} ${party} is not a member organisation in this node's directory`,
    );
    return undefined;
  }

  /** `data` preceded by the proofs of `identifiers`' namespaces, as one nested multicall. */
  private withProofs(name: string, data: string, identifiers: readonly string[]): { name: string; data: string } {
    if (identifiers.length === 0) return { name, data };
    return { name, data: this.multicallData([...proveKeysCalls(this.reader.interface as Interface, identifiers), data]) };
  }

  private multicallData(calls: readonly string[]): string {
    return (this.reader.interface as Interface).encodeFunctionData("multicall", [calls]);
  }

  /** eth_call of the batch (or its first `n` calls); the decoded refusal, or undefined when it passes. */
  private async simulate(calls: readonly string[], from: string): Promise<{ name: string; args: unknown[] } | undefined> {
    try {
      await this.provider.call({ from, to: this.options.provenance, data: this.multicallData(calls) });
      return undefined;
    } catch (e) {
      const decoded = decodeCustomError(e, this.reader.interface);
      if (decoded) return decoded;
      throw unavailable(e, "preflighting the document");
    }
  }

  /** Runs the whole batch as eth_call; on a refusal, finds the first failing event by bisection. */
  private async preflight(plan: DocumentPlan, labels: Map<string, string>): Promise<void> {
    const withCall = plan.events.filter((p) => p.call !== undefined);
    if (withCall.length === 0) return;
    const from = await this.options.signer.getAddress();
    const calls = withCall.map((p) => p.call!.data);
    const failure = await this.simulate(calls, from);
    if (failure === undefined) return;
    // Prefix failure is monotone: the smallest failing prefix ends at the refused event.
    let lo = 1;
    let hi = calls.length;
    let reason = failure;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const f = await this.simulate(calls.slice(0, mid), from);
      if (f) {
        hi = mid;
        reason = f;
      } else lo = mid + 1;
    }
    const bad = withCall[lo - 1]!;
    const args = reason.args.map((x) => (typeof x === "string" && labels.has(x.toLowerCase()) ? labels.get(x.toLowerCase()) : typeof x === "bigint" ? x.toString() : x));
    throw new CaptureRefusedError([
      {
        index: bad.index,
        ...(bad.eventID ? { eventID: bad.eventID } : {}),
        hashId: bad.hashId,
        message: `Provenance.${bad.call!.name} refused: ${reason.name}(${args.map((x) => String(x)).join(", ")})`,
      },
    ]);
  }

  /**
   * Plans, preflights and sends `doc` as one transaction, and waits for its receipt. Throws
   * CaptureRefusedError (nothing recorded) or ChainUnavailableError (retry later: the plan is
   * recomputed, so a transaction that did land is found as already recorded).
   */
  async record(doc: Record<string, unknown>, signal?: AbortSignal): Promise<EventResult[]> {
    const plan = await this.plan(doc);
    const sending = plan.events.filter((p) => p.call !== undefined);
    const results = plan.events.map(
      (p): EventResult => ({
        index: p.index,
        ...(p.eventID ? { eventID: p.eventID } : {}),
        hashId: p.hashId,
        recordHash: p.recordHash,
        how: p.how,
        ...(p.call ? { call: p.call.name } : {}),
        ...(p.existing ? { recordId: p.existing.recordId.toString(), kind: p.existing.kind } : {}),
        ...(p.corrects !== undefined ? { corrects: p.corrects.toString() } : {}),
        ...(p.note ? { note: p.note } : {}),
      }),
    );
    if (sending.length === 0) return results;
    const manager = await this.options.client.managed(this.options.signer);
    const writer = Provenance__factory.connect(this.options.provenance, manager);
    let txHash: string;
    try {
      const tx = await writer.multicall(sending.map((p) => p.call!.data));
      txHash = tx.hash;
    } catch (e) {
      manager.reset();
      const decoded = decodeCustomError(e, this.reader.interface);
      // The chain changed between preflight and send (another record took a hash): plan again.
      if (decoded) throw new ChainUnavailableError(`the chain refused the document after its preflight passed (${decoded.name}); recording again`, { cause: e });
      throw unavailable(e, "sending the document");
    }
    const receipt = await this.options.client.confirmed(txHash, signal);
    if (receipt.status !== 1) throw new ChainUnavailableError(`transaction ${txHash} reverted after its preflight passed; recording again`);
    const recorded = receipt.logs
      .filter((l) => l.address.toLowerCase() === this.options.provenance.toLowerCase())
      .map((l) => this.reader.interface.parseLog(l))
      .filter((l) => l?.name === "Recorded");
    if (recorded.length !== sending.length) throw new Error(`transaction ${txHash} made ${recorded.length} records for ${sending.length} calls`);
    sending.forEach((p, i) => {
      const log = recorded[i]!;
      const r = results[plan.events.indexOf(p)]!;
      if ((log.args[2] as string).toLowerCase() !== p.recordHash.toLowerCase()) throw new Error(`transaction ${txHash}: record ${i} carries ${log.args[2]}, expected ${p.recordHash}`);
      r.recordId = (log.args[0] as bigint).toString();
      r.kind = kindName(log.args[3] as bigint);
      r.tx = txHash;
      r.block = receipt.blockNumber;
    });
    return results;
  }
}

function isCallError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && ["NETWORK_ERROR", "SERVER_ERROR", "TIMEOUT", "UNKNOWN_ERROR", "CALL_EXCEPTION", "ECONNREFUSED"].includes(code);
}

function unavailable(e: unknown, doing: string): ChainUnavailableError {
  if (e instanceof ChainUnavailableError) return e;
  const msg = (e as { shortMessage?: string; message?: string })?.shortMessage ?? (e as Error)?.message ?? String(e);
  return new ChainUnavailableError(`chain unavailable while ${doing}: ${msg}`, { cause: e });
}

