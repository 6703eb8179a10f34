/** The owner's tamper-evident log of partners' reads of its data. */
export { type AccessLogCheck, type AccessLogEntry, type AccessLogHead, type AccessRead, type AccessSubject, AccessLog, entryHash } from "./store.ts";
export { AccessRecorder, REGULATOR_PURPOSE } from "./record.ts";
