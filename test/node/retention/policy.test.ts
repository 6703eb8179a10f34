/**
 * The retention section of the node config (node/retention/policy.ts): defaults, which rule a
 * stream follows, and bad policies refused by the config reader with the field named.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../../node/config.ts";
import { keepMsOf, keepMsOfFollowed, resolveFollowedNames } from "../../../node/retention/policy.ts";

const DAY = 86_400_000;
const base = () => ({
  organisation: "Delta Machining",
  dataDir: "./data",
  chain: { rpcUrl: "http://127.0.0.1:8545", deployment: "./deployment.json", keyEnv: "NODE_KEY" },
});

function problems(retention: unknown): string[] {
  try {
    parseConfig({ ...base(), retention }, "/etc/tracemesh");
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("retention policy in the node config", () => {
  it("is absent unless configured, and fills its defaults (archive beside the data)", () => {
    expect(parseConfig(base(), "/etc/tracemesh").retention).toBeUndefined();
    expect(parseConfig({ ...base(), retention: {} }, "/etc/tracemesh").retention).toEqual({
      rules: [],
      followed: [],
      archiveDir: "/etc/tracemesh/data/archive",
      intervalMs: 3_600_000,
      windowsPerSegment: 1000,
    });
    const c = parseConfig({ ...base(), retention: { archiveDir: "/srv/archive", streams: [{ stream: "a/b", keepDays: 0.5 }, { stream: "a/*", keepDays: "forever" }] } }, "/etc/tracemesh");
    expect(c.retention).toMatchObject({ archiveDir: "/srv/archive", rules: [{ stream: "a/b", keepMs: DAY / 2 }, { stream: "a/*" }] });
  });

  it("the first matching rule decides; a stream no rule matches is kept forever", () => {
    const rules = parseConfig(
      { ...base(), retention: { streams: [{ stream: "spindle-1/load", keepDays: "forever" }, { stream: "spindle-*", keepDays: 7 }, { stream: "*", keepDays: 90 }] } },
      "/x",
    ).retention!.rules;
    expect(keepMsOf(rules, "spindle-1/load")).toBeUndefined();
    expect(keepMsOf(rules, "spindle-2/load")).toBe(7 * DAY);
    expect(keepMsOf(rules, "furnace-1/temperature")).toBe(90 * DAY);
    expect(keepMsOf(rules.slice(0, 2), "furnace-1/temperature")).toBeUndefined();
  });

  it("followed streams: the first rule matching the owner organisation and the stream decides; no match keeps them forever", async () => {
    const configured = parseConfig(
      { ...base(), retention: { followed: [{ organisation: 3, stream: "furnace-*", keepDays: 30 }, { organisation: "*", stream: "*", keepDays: 365 }] } },
      "/x",
    ).retention!;
    // Numeric ids and "*" need no lookup.
    const followed = (await resolveFollowedNames(configured, () => Promise.reject(new Error("no name to look up")))).followed!;
    expect(keepMsOfFollowed(followed, 3, "furnace-1/temperature")).toBe(30 * DAY);
    expect(keepMsOfFollowed(followed, 4, "furnace-1/temperature")).toBe(365 * DAY);
    expect(keepMsOfFollowed(followed, 3, "press-1/force")).toBe(365 * DAY);
    expect(keepMsOfFollowed(followed.slice(0, 1), 4, "furnace-1/temperature")).toBeUndefined();
  });

  it("followed rules may name the owner as registered in the Consortium: names resolve once, an unknown one is named", async () => {
    const retention = parseConfig(
      {
        ...base(),
        retention: {
          followed: [
            { organisation: "Northern Steel Mill", stream: "furnace-*", keepDays: 30 },
            { organisation: 4, stream: "*", keepDays: 7 },
            { organisation: "*", stream: "*", keepDays: 365 },
          ],
        },
      },
      "/x",
    ).retention!;
    const registry = new Map([["Northern Steel Mill", 1]]);
    const asked: string[] = [];
    const idOf = async (name: string) => (asked.push(name), registry.get(name));
    const followed = (await resolveFollowedNames(retention, idOf)).followed!;
    expect(followed).toEqual([{ organisation: 1, stream: "furnace-*", keepMs: 30 * DAY }, { organisation: 4, stream: "*", keepMs: 7 * DAY }, { stream: "*", keepMs: 365 * DAY }]);
    expect(asked).toEqual(["Northern Steel Mill"]);
    expect(keepMsOfFollowed(followed, 1, "furnace-1/temperature")).toBe(30 * DAY);

    // Unknown names (here a near miss and another partner) are all named, with their rule.
    const typo = { ...retention, followed: [{ organisation: "northern steel mill", stream: "*" }, { organisation: 2, stream: "a/*" }, { organisation: "Nowhere Ltd", stream: "*" }] };
    const refused = await resolveFollowedNames(typo, idOf, "/etc/tracemesh/node.json").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).problems).toEqual([
      'retention.followed[0].organisation: no organisation named "northern steel mill" in the Consortium (names are matched exactly)',
      'retention.followed[2].organisation: no organisation named "Nowhere Ltd" in the Consortium (names are matched exactly)',
    ]);
  });

  it("refuses a bad policy, naming the field", () => {
    const cases: [unknown, RegExp][] = [
      [[], /^retention: must be an object with streams, archiveDir/],
      [{ keep: 3 }, /^retention.keep: unknown setting \(allowed: streams, archiveDir, intervalMs, windowsPerSegment, followed\)/],
      [{ followed: [{ organisation: " ", stream: "a/*", keepDays: 1 }] }, /^retention.followed\[0\].organisation: must be the owner organisation's numeric id or registered name in the Consortium, or "\*"/],
      [{ followed: [{ organisation: 1.5, stream: "a/*", keepDays: 1 }] }, /^retention.followed\[0\].organisation: /],
      [{ followed: [{ organisation: 0, stream: "a/*", keepDays: 1 }] }, /^retention.followed\[0\].organisation: /],
      [{ followed: [{ organisation: 3, stream: "a*b", keepDays: 1 }] }, /^retention.followed\[0\].stream: must be a stream id, or a prefix ending in \*/],
      [{ followed: [{ organisation: 3, stream: "a/b", keepDays: 0 }] }, /^retention.followed\[0\].keepDays: must be a number of days above 0/],
      [{ followed: [{ stream: "a/b", keepDays: 1 }] }, /^retention.followed\[0\].organisation: /],
      [{ followed: [{ organisation: 3, stream: "a/*", keepDays: 1 }, { organisation: 3, stream: "a/*", keepDays: 2 }] }, /^retention.followed\[1\]: repeats the organisation and stream of retention.followed\[0\]/],
      [{ streams: [{ stream: "a/b", keepDays: 0 }] }, /^retention.streams\[0\].keepDays: must be a number of days above 0 \(at most 36500\), or "forever"/],
      [{ streams: [{ stream: "a/b", keepDays: "7" }] }, /^retention.streams\[0\].keepDays: must be a number of days/],
      [{ streams: [{ stream: "a/b", keepDays: -1 }] }, /^retention.streams\[0\].keepDays: /],
      [{ streams: [{ stream: "a*b", keepDays: 1 }] }, /^retention.streams\[0\].stream: must be a stream id, or a prefix ending in \*/],
      [{ streams: [{ stream: "", keepDays: 1 }] }, /^retention.streams\[0\].stream: /],
      [{ streams: [{ keepDays: 1 }] }, /^retention.streams\[0\].stream: /],
      [{ streams: [{ stream: "a/b", days: 1 }] }, /^retention.streams\[0\]/],
      [{ streams: { stream: "a" } }, /^retention.streams: must be a list of \{ stream, keepDays \} rules/],
      [{ intervalMs: 10 }, /^retention.intervalMs: must be a whole number of milliseconds from 1000/],
      [{ windowsPerSegment: 0 }, /^retention.windowsPerSegment: must be a whole number of windows/],
      [{ archiveDir: "" }, /^retention.archiveDir: must be a non-empty path/],
      [{ streams: [{ stream: "a/*", keepDays: 1 }, { stream: "a/*", keepDays: 2 }] }, /^retention.streams\[1\].stream: repeats the pattern of retention.streams\[0\] \("a\/\*"\)/],
    ];
    for (const [retention, pattern] of cases) {
      const found = problems(retention);
      expect(found.some((p) => pattern.test(p)), `${JSON.stringify(retention)} -> ${JSON.stringify(found)}`).toBe(true);
    }
  });
});
