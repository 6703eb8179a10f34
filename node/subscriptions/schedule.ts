/**
 * GS1 EPCIS query schedules (QueryScheduleSubscription `schedule`, or the WebSocket handshake's
 * `second`, `minute`, `hour`, `dayOfMonth`, `month`, `dayOfWeek`): cron-like, each field a comma
 * list of numbers and ranges (`5`, `0,30`, `[1-5]` or `1-5`). A field left out matches any value,
 * except that `second` defaults to 0 and, when `second` is left out, `minute` defaults to 0 once a
 * coarser field is given (so `{hour: "1", minute: "5"}` runs once, at 01:05:00, as GS1's example
 * means). Times are UTC.
 */
import { TracemeshError } from "../../lib/errors.ts";

export const SCHEDULE_FIELDS = ["second", "minute", "hour", "dayOfMonth", "month", "dayOfWeek"] as const;
export type ScheduleField = (typeof SCHEDULE_FIELDS)[number];
export type Schedule = Partial<Record<ScheduleField, string>>;

const RANGES: Record<ScheduleField, [number, number]> = { second: [0, 59], minute: [0, 59], hour: [0, 23], dayOfMonth: [1, 31], month: [1, 12], dayOfWeek: [1, 7] };

export class ScheduleError extends TracemeshError {
  constructor(message: string) {
    super("invalid-query", message);
  }
}

/** The values a field allows, or undefined for any. */
function parseField(field: ScheduleField, text: string): Set<number> {
  const [lo, hi] = RANGES[field];
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const m = /^\s*\[?\s*(\d{1,2})\s*(?:-\s*(\d{1,2}))?\s*\]?\s*$/.exec(part);
    if (!m) throw new ScheduleError(`schedule ${field} "${text}": expected numbers and ranges such as 5, 0,30 or [1-5]`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a < lo || b > hi || a > b) throw new ScheduleError(`schedule ${field} "${text}": values run from ${lo} to ${hi}`);
    for (let v = a; v <= b; v++) out.add(v);
  }
  return out;
}

export interface CompiledSchedule {
  readonly schedule: Schedule;
  /** Whether the schedule fires in the UTC second of `ms`. */
  matches(ms: number): boolean;
}

/** Checks a schedule object; throws ScheduleError naming the bad field. */
export function compileSchedule(input: unknown): CompiledSchedule {
  if (input === null || typeof input !== "object" || Array.isArray(input)) throw new ScheduleError("schedule must be an object of second, minute, hour, dayOfMonth, month, dayOfWeek");
  const raw = input as Record<string, unknown>;
  const unknown = Object.keys(raw).filter((k) => !(SCHEDULE_FIELDS as readonly string[]).includes(k));
  if (unknown.length > 0) throw new ScheduleError(`schedule has unknown field ${unknown.join(", ")} (allowed: ${SCHEDULE_FIELDS.join(", ")})`);
  const schedule: Schedule = {};
  for (const f of SCHEDULE_FIELDS) {
    const v = raw[f];
    if (v === undefined) continue;
    if (typeof v !== "string" && typeof v !== "number") throw new ScheduleError(`schedule ${f} must be a string such as "5" or "0,30"`);
    schedule[f] = String(v);
  }
  if (Object.keys(schedule).length === 0) throw new ScheduleError("schedule names no field: give at least one of second, minute, hour, dayOfMonth, month, dayOfWeek");
  const sets = Object.fromEntries(SCHEDULE_FIELDS.map((f) => [f, schedule[f] === undefined ? undefined : parseField(f, schedule[f])])) as Record<ScheduleField, Set<number> | undefined>;
  sets.second ??= new Set([0]);
  const coarser = ["hour", "dayOfMonth", "month", "dayOfWeek"].some((f) => schedule[f as ScheduleField] !== undefined);
  if (schedule.second === undefined && schedule.minute === undefined && coarser) sets.minute = new Set([0]);
  return {
    schedule,
    matches: (ms) => {
      const d = new Date(ms);
      const values: Record<ScheduleField, number> = {
        second: d.getUTCSeconds(),
        minute: d.getUTCMinutes(),
        hour: d.getUTCHours(),
        dayOfMonth: d.getUTCDate(),
        month: d.getUTCMonth() + 1,
        dayOfWeek: d.getUTCDay() === 0 ? 7 : d.getUTCDay(),
      };
      return SCHEDULE_FIELDS.every((f) => sets[f] === undefined || sets[f].has(values[f]));
    },
  };
}
