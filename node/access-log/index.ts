/** The owner's tamper-evident log of partners' reads of its data. */
export {
  type AccessAnswerReads,
  type AccessLogCheck,
  type AccessLogEntry,
  type AccessLogEntryV1,
  type AccessLogHead,
  type AccessRead,
  type AccessSubject,
  type PreparedEntry,
  type StoredEntry,
  AccessLog,
  canonicalEntry,
  entryHash,
  entryHashV1,
  prepareEntry,
  storedText,
} from "./store.ts";
export { AccessRecorder, type ServedRead, REGULATOR_PURPOSE } from "./record.ts";
