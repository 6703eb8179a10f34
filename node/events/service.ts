/**
 * The node's EPCIS events as one service (the gateway's `events` slot, and the p2p layer's
 * source and sink of events): store, capture jobs, validation, offline contexts, visibility.
 */
import path from "node:path";
import type { Provider, Signer } from "ethers";
import { type AccessChecker, ChainAccessChecker } from "../../lib/access.ts";
import type { Deployment } from "../../lib/deployment.ts";
import { OfflineContexts } from "../../lib/epcis/contexts.ts";
import { type EpcisValidator, type ValidatorOptions, createEpcisValidator } from "../../lib/epcis/validate.ts";
import type { ChainClient } from "../chain/client.ts";
import { CaptureService, type CaptureServiceOptions } from "./capture.ts";
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
  capture: CaptureService;
  validator: EpcisValidator;
  contexts: OfflineContexts;
  visibility: EventVisibility;
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
  /** Where genealogy grants are walked (node/events/visibility.ts): the chain index. */
  genealogy?: VisibilityOptions["genealogy"];
  capture?: CaptureServiceOptions;
  /** Default DEFAULT_MAX_CAPTURE_EVENTS (about 120,000 gas per event: 100 events stay well inside a 30M block). */
  maxCaptureEvents?: number;
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
    const visibility = new EventVisibility({ access, provider, provenance: o.deployment.contracts.provenance, ...(o.genealogy ? { genealogy: o.genealogy } : {}) });
    const capture = new CaptureService(store, recorder, o.capture);
    await capture.start();
    return {
      organisation,
      maxCaptureEvents: o.maxCaptureEvents ?? DEFAULT_MAX_CAPTURE_EVENTS,
      store,
      capture,
      validator,
      contexts,
      visibility,
      close: async () => {
        await capture.stop();
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
