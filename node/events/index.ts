/** The member node's EPCIS events: store, recorder, capture jobs, visibility, bound readings. */
export { type AcceptanceRules, type AcceptedDocument, CaptureRejectedError, acceptDocument } from "./accept.ts";
export { announceCaptures, partiesOf } from "./announce.ts";
export { CaptureForbiddenError, CaptureService, type CaptureJob, type CaptureState, documentRecordHashes } from "./capture.ts";
export { CaptureRefusedError, type EventError, EventRecorder, type EventRecorderOptions, type EventResult, type RecordedHow } from "./recorder.ts";
export { type BoundReading, type BoundStream, TooManyReadingsError, boundReadings } from "./readings.ts";
export { DEFAULT_MAX_CAPTURE_EVENTS, type EventsService, type EventsServiceOptions, type OpenEvents, openEvents } from "./service.ts";
export {
  type ChainRef,
  type EventOrigin,
  type EventQuery,
  EventQueryError,
  EventStore,
  type NewEvent,
  PageTokenError,
  type QueryOptions,
  type QueryPage,
  type StoredEvent,
  eventTimeMs,
} from "./store.ts";
export { EventVisibility, type VisibilityOptions } from "./visibility.ts";
export { ReceivedEventError, type VerifiedEvent, verifyReceivedEvent } from "./verify.ts";
