/**
 * Retention policy of a member node's readings (config `retention`, issue 18): how long each
 * stream's readings stay in the node's store before they are moved to archive files.
 *
 *   "retention": {
 *     "streams": [                                   // first matching rule wins
 *       { "stream": "spindle-1/load", "keepDays": "forever" },
 *       { "stream": "spindle-*", "keepDays": 7 },     // a trailing * matches any rest
 *       { "stream": "*", "keepDays": 90 }
 *     ],
 *     "followed": [                                  // partners' streams this node follows (received)
 *       { "organisation": 3, "stream": "furnace-*", "keepDays": 30 },
 *       { "organisation": "Northern Steel Mill", "stream": "*", "keepDays": 90 },
 *       { "organisation": "*", "stream": "*", "keepDays": 365 }
 *     ],
 *     "archiveDir": "/srv/tracemesh/archive",       // default <dataDir>/archive
 *     "intervalMs": 3600000,                        // how often pruning runs (default hourly)
 *     "windowsPerSegment": 1000                     // windows per archive segment and per delete batch
 *   }
 *
 * A stream no rule matches is kept forever, and so is every reading an own EPCIS event binds
 * (lib/epcis/readings.ts): those are what a part's history points to. Only windows anchored and
 * confirmed on chain are ever pruned, so every archived reading is provable against its anchor.
 * Received readings (node/retention/received.ts) arrive verified against their anchor, with
 * their proof; `followed` rules match the owner organisation (its numeric id, or its name as
 * registered in the Consortium, resolved once at start; "*" for every partner) and the stream, first match wins, no match keeps them forever; their age is their source time.
 */
import { type Static, Type } from "@sinclair/typebox";
import { ConfigError, FilePath } from "../../lib/config-reader.ts";

const DAY_MS = 86_400_000;

const StreamPattern = Type.String({
  pattern: "^[^*]+\\*?$|^\\*$",
  minLength: 1,
  maxBytes: 255,
  problem: 'must be a stream id, or a prefix ending in * ("furnace-1/*"), or "*" for every stream',
});
const KeepDays = Type.Union([Type.Number({ exclusiveMinimum: 0, maximum: 36_500 }), Type.Literal("forever")], {
  problem: 'must be a number of days above 0 (at most 36500), or "forever"',
});

const StreamRule = Type.Object(
  { stream: StreamPattern, keepDays: KeepDays },
  { additionalProperties: false, problem: 'must be an object { stream, keepDays }, e.g. { "stream": "furnace-1/*", "keepDays": 30 }' },
);

const FollowedRule = Type.Object(
  {
    organisation: Type.Union([Type.Integer({ minimum: 1, maximum: 0xffff_ffff }), Type.String({ pattern: "\\S", maxBytes: 255 })], {
      problem: 'must be the owner organisation\'s numeric id or registered name in the Consortium, or "*" for every partner',
    }),
    stream: StreamPattern,
    keepDays: KeepDays,
  },
  { additionalProperties: false, problem: 'must be an object { organisation, stream, keepDays }, e.g. { "organisation": 3, "stream": "furnace-*", "keepDays": 30 }' },
);

export const RetentionSchema = Type.Object(
  {
    streams: Type.Array(StreamRule, { default: [], problem: "must be a list of { stream, keepDays } rules" }),
    archiveDir: Type.Optional(FilePath({ problem: "must be a non-empty path (the folder archive files are written to)" })),
    intervalMs: Type.Integer({ minimum: 1_000, maximum: 7 * DAY_MS, default: 3_600_000, problem: "must be a whole number of milliseconds from 1000 to 604800000" }),
    windowsPerSegment: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000, problem: "must be a whole number of windows from 1 to 100000" }),
    followed: Type.Array(FollowedRule, { default: [], problem: "must be a list of { organisation, stream, keepDays } rules for the partners' streams this node follows" }),
  },
  { additionalProperties: false, problem: "must be an object with streams, archiveDir, intervalMs, windowsPerSegment and followed (all optional)" },
);

export type RetentionSection = Static<typeof RetentionSchema>;

export interface RetentionRule {
  stream: string;
  /** Undefined: kept forever. */
  keepMs?: number;
}

/** A rule for received readings: the owner organisation's id (undefined: every partner). */
export interface FollowedRetentionRule extends RetentionRule {
  organisation?: number;
}

export interface RetentionConfig {
  rules: RetentionRule[];
  /** Rules for the readings received from followed partners' streams (node/retention/received.ts). */
  followed?: FollowedRetentionRule[];
  archiveDir: string;
  intervalMs: number;
  windowsPerSegment: number;
}

/** A followed rule as the config gives it: the owner by numeric id or by registered name. */
export interface ConfiguredFollowedRule extends RetentionRule {
  organisation?: number | string;
}

/** The retention section as configured, its organisation names not yet resolved (resolveFollowedNames). */
export interface ConfiguredRetention extends Omit<RetentionConfig, "followed"> {
  followed?: ConfiguredFollowedRule[];
}

/**
 * The retention config with each followed rule's organisation name resolved to its id through
 * `idOfName` (the Consortium's registry, at start). An unknown name is a ConfigError naming the rule.
 */
export async function resolveFollowedNames(
  r: ConfiguredRetention,
  idOfName: (name: string) => Promise<number | undefined>,
  file?: string,
): Promise<RetentionConfig> {
  const followed: FollowedRetentionRule[] = [];
  const unknown: string[] = [];
  for (const [i, rule] of (r.followed ?? []).entries()) {
    const { organisation, ...rest } = rule;
    if (typeof organisation !== "string") {
      followed.push(organisation === undefined ? rest : { ...rest, organisation });
      continue;
    }
    const id = await idOfName(organisation);
    if (id === undefined) unknown.push(`retention.followed[${i}].organisation: no organisation named ${JSON.stringify(organisation)} in the Consortium (names are matched exactly)`);
    else followed.push({ ...rest, organisation: id });
  }
  if (unknown.length > 0) throw new ConfigError(unknown, file);
  return { ...r, followed };
}

/** Rules across the section's fields: a rule that repeats an earlier pattern can never apply. */
export function retentionRules(r: RetentionSection, problem: (field: string, text: string) => void): void {
  const seen = new Map<string, number>();
  r.streams.forEach((rule, i) => {
    const first = seen.get(rule.stream);
    if (first !== undefined) problem(`retention.streams[${i}].stream`, `repeats the pattern of retention.streams[${first}] (${JSON.stringify(rule.stream)}): the first matching rule wins, so this one never applies`);
    else seen.set(rule.stream, i);
  });
  const seenFollowed = new Map<string, number>();
  r.followed.forEach((rule, i) => {
    const key = `${rule.organisation} ${rule.stream}`;
    const first = seenFollowed.get(key);
    if (first !== undefined) problem(`retention.followed[${i}]`, `repeats the organisation and stream of retention.followed[${first}]: the first matching rule wins, so this one never applies`);
    else seenFollowed.set(key, i);
  });
}

const keepMs = (keepDays: number | "forever") => (keepDays === "forever" ? {} : { keepMs: Math.round(keepDays * DAY_MS) });

export function toRetentionConfig(r: RetentionSection, archiveDir: string): ConfiguredRetention {
  return {
    rules: r.streams.map((s) => ({ stream: s.stream, ...keepMs(s.keepDays) })),
    followed: r.followed.map((f) => ({ stream: f.stream, ...(f.organisation === "*" ? {} : { organisation: f.organisation }), ...keepMs(f.keepDays) })),
    archiveDir,
    intervalMs: r.intervalMs,
    windowsPerSegment: r.windowsPerSegment,
  };
}

const matches = (pattern: string, stream: string) => (pattern.endsWith("*") ? stream.startsWith(pattern.slice(0, -1)) : stream === pattern);

/** How long `stream`'s readings stay in the store, ms; undefined: forever. */
export function keepMsOf(rules: readonly RetentionRule[], stream: string): number | undefined {
  return rules.find((r) => matches(r.stream, stream))?.keepMs;
}

/** How long readings received of organisation `owner`'s `stream` stay, ms; undefined: forever. */
export function keepMsOfFollowed(rules: readonly FollowedRetentionRule[], owner: number, stream: string): number | undefined {
  return rules.find((r) => (r.organisation === undefined || r.organisation === owner) && matches(r.stream, stream))?.keepMs;
}
