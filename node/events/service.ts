/**
 * The node's EPCIS events as one service (the gateway's `events` slot, and the p2p layer's
 * source and sink of events): capture acceptance and jobs, the store, visibility, the readings
 * bound to an event, and the announcement of captured events to the member parties they name.
 */
import path from "node:path";
import type { Provider, Signer } from "ethers";
import { type AccessChecker, ChainAccessChecker } from "../../lib/access.ts";
import type { Deployment } from "../../lib/deployment.ts";
import { OfflineContexts } from "../../lib/epcis/contexts.ts";
import { type EpcisValidator, type ValidatorOptions, createEpcisValidator } from "../../lib/epcis/validate.ts";
import type { ChainClient } from "../chain/client.ts";
import type { ProofService } from "../ingest/proofs.ts";
import { acceptDocument } from "./accept.ts";
import { announceCaptures } from "./announce.ts";
import { CaptureService, type CaptureServiceOptions, type CaptureJob } from "./capture.ts";
import { type BoundStream, boundReadings } from "./readings.ts";
import type { ReadingBinding } from "../../lib/epcis/readings.ts";
import { RecordWatch } from "./records.ts";
import { EventRecorder, type EventRecorderOptions } from "./recorder.ts";
import { EventStore } from "./store.ts";
import { EventVisibility, type VisibilityOptions } from "./visibility.ts";

/** Default events per captured document: one document is one transaction, which must fit a block. */
export const DEFAULT_MAX_CAPTURE_EVENTS = 100;

export interface EventsService {
  /** The organisation this node captures for. */
  organisation: number;
  /** Most events one captured document may hold (its transaction must fit a block's gas limit). */
  maxCaptureEvents: number;
  store: EventStore;
  /** Capture jobs (state, listing); documents enter through `accept`. */
  capture: CaptureService;
  visibility: EventVisibility;
  /** Re-verifies own events' records on chain (records.ts). */
  records: RecordWatch;
  /**
   * Capture, end to end: checks `owner` is this node's organisation and the document can be
   * recorded (accept.ts), then answers its job (capture.ts), recorded in the background and
   * announced to the member parties its events name. Throws CaptureForbiddenError or
   * CaptureRejectedError (TracemeshErrors, lib/errors.ts).
   */
  accept(doc: unknown, owner: number): Promise<{ job: CaptureJob; replay: boolean }>;
  /** The readings `bindings` name, each with its proof (readings.ts). Throws TooManyReadingsError. */
  boundReadings(proofs: Pick<ProofService, "proveRun" | "proveReading" | "windowsBetween" | "node">, bindings: readonly ReadingBinding[]): Promise<BoundStream[]>;
}

export interface EventsServiceOptions {
  /** The node's data directory; events live in <dataDir>/events. */
  dataDir: string;
  /** The event store when the node has opened it already (its peer network shares it); not closed by close(). */
  store?: EventStore;
  deployment: Deployment;
  client: ChainClient;
  /** The node's signing account (connected or not). */
  signer: Signer;
  /** Read-only provider for visibility checks (default: the client's). */
  provider?: Provider;
  validator?: EpcisValidator | ValidatorOptions;
  /** Offline JSON-LD contexts, or the path of the EPCIS context file. */
  contexts?: OfflineContexts | string;
  /** Default: a ChainAccessChecker over AccessGrants (its cache is cleared by grant events). */
  access?: AccessChecker;
  resolveParty?: EventRecorderOptions["resolveParty"];
  /** Tells member organisations a captured event names them (the peer network's announcement); none when absent. */
  announce?: (hashId: string, organisations: number[]) => Promise<void>;
  log?: (message: string) => void;
  /** Where genealogy grants are walked (node/events/visibility.ts): the chain index. */
  genealogy?: VisibilityOptions["genealogy"];
  /** Where the shipments a record made are found (node/events/visibility.ts): the chain index. */
  shipments?: VisibilityOptions["shipments"];
  capture?: CaptureServiceOptions;
  /** Default DEFAULT_MAX_CAPTURE_EVENTS (about 120,000 gas per event: 100 events stay well inside a 30M block). */
  maxCaptureEvents?: number;
  /** How often own events' records are re-verified, ms (records.ts; default 600,000; 0: at start only). */
  recordCheckMs?: number;
}

export interface OpenEvents extends EventsService {
  close(): Promise<void>;
}

/** Opens the event store, starts the capture worker (resuming unfinished jobs) and the access cache's watch. */
export async function openEvents(o: EventsServiceOptions): Promise<OpenEvents> {
  const provider = o.provider ?? o.client.provider;
  const validator = o.validator !== undefined && "validate" in o.validator ? o.validator : createEpcisValidator((o.validator as ValidatorOptions | undefined) ?? {});
  const contexts = o.contexts instanceof OfflineContexts ? o.contexts : OfflineContexts.load(o.contexts);
  const ownsStore = o.store === undefined;
  const store = o.store ?? (await EventStore.open(path.join(o.dataDir, "events")));
  let unwatch: (() => Promise<void>) | undefined;
  try {
    const recorder = new EventRecorder({ client: o.client, signer: o.signer, provenance: o.deployment.contracts.provenance, ...(o.resolveParty ? { resolveParty: o.resolveParty } : {}) });
    const organisation = await recorder.organisation();
    let access = o.access;
    if (access === undefined) {
      const checker = new ChainAccessChecker(o.deployment.contracts, provider);
      unwatch = await checker.watch();
      access = checker;
    }
    const visibility = new EventVisibility({ access, provider, provenance: o.deployment.contracts.provenance, ...(o.genealogy ? { genealogy: o.genealogy } : {}), ...(o.shipments ? { shipments: o.shipments } : {}) });
    const capture = new CaptureService(store, recorder, o.capture);
    // A store write failing in the worker (a full disk) ends neither it nor the process: say so, the job is tried again.
    capture.on("worker-error", ({ captureID, error }: { captureID: string; error: unknown }) =>
      (o.log ?? ((m: string) => console.log(`[events] ${m}`)))(`capture job ${captureID}: ${error instanceof Error ? error.message : String(error)}; the job stays queued and is tried again`),
    );
    if (o.announce) announceCaptures(capture, store, { resolveParty: (p) => o.resolveParty?.(p), announce: o.announce, log: o.log ?? ((m) => console.log(`[events] ${m}`)) });
    await capture.start();
    const records = new RecordWatch(store, provider, o.deployment.contracts.provenance, { intervalMs: o.recordCheckMs ?? 600_000, ...(o.log ? { log: o.log } : {}) });
    records.start();
    const maxCaptureEvents = o.maxCaptureEvents ?? DEFAULT_MAX_CAPTURE_EVENTS;
    return {
      organisation,
      maxCaptureEvents,
      store,
      capture,
      visibility,
      records,
      accept: async (doc, owner) => {
        await capture.checkOwner(owner);
        const { document, recordHashes } = await acceptDocument(doc, { validator, contexts, maxEvents: maxCaptureEvents });
        return capture.submit(document, owner, recordHashes);
      },
      boundReadings: (proofs, bindings) => boundReadings(proofs, bindings),
      close: async () => {
        await capture.stop();
        await records.stop();
        await unwatch?.();
        if (ownsStore) await store.close();
      },
    };
  } catch (e) {
    await unwatch?.();
    if (ownsStore) await store.close();
    throw e;
  }
}
