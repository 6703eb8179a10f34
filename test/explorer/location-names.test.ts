/**
 * The explorer speaking in location names: api.ts `locationNames` asks the gateway's master data
 * route for the spellings a page holds and maps the canonical answers back to them; describeEvent
 * uses a name when one is known. (The route itself: test/gateway/master-data.test.ts.)
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { locationNames, saveSession } from "../../explorer/src/api.ts";
import { describeEvent } from "../../explorer/src/describe-event.ts";
import { translator } from "../../explorer/src/messages.ts";
import { canonicalIdentifier } from "../../lib/identifiers/canonical.ts";

const SITE = "urn:epc:id:sgln:0614141.00001.0";
afterEach(() => {
  vi.unstubAllGlobals();
  saveSession(undefined);
});

describe("location names in the explorer", () => {
  it("asks for the canonical identifiers and answers by the spellings asked, skipping what is not a GS1 identifier", async () => {
    saveSession({ token: "t", expiresAt: new Date(Date.now() + 60_000).toISOString() } as Parameters<typeof saveSession>[0]);
    const asked: string[] = [];
    vi.stubGlobal("fetch", async (url: string) => {
      asked.push(url);
      return new Response(JSON.stringify({ names: { [canonicalIdentifier(SITE)]: "Assembly plant" } }), { headers: { "content-type": "application/ld+json" } });
    });
    expect(await locationNames([SITE, "not an identifier", SITE])).toEqual({ [SITE]: "Assembly plant" });
    expect(asked).toEqual([`/vocabularies/BusinessLocation?EQ_name=${encodeURIComponent(canonicalIdentifier(SITE))}`]);
  });

  it("asks nothing when signed out, and gives up quietly when the gateway refuses", async () => {
    const fetch = vi.fn(async () => new Response("{}", { status: 500, headers: { "content-type": "application/json" } }));
    vi.stubGlobal("fetch", fetch);
    expect(await locationNames([SITE])).toEqual({});
    expect(fetch).not.toHaveBeenCalled();
    saveSession({ token: "t", expiresAt: new Date(Date.now() + 60_000).toISOString() } as Parameters<typeof saveSession>[0]);
    expect(await locationNames([SITE])).toEqual({});
  });

  it("describes the place by its name when one is known", () => {
    const event = { type: "ObjectEvent", action: "OBSERVE", eventTime: "2024-01-01T00:00:00Z", epcList: [], bizLocation: { id: SITE } };
    const t = translator("en");
    expect(describeEvent(event, t, "en", (v) => v, (id) => (id === SITE ? "Assembly plant" : undefined)).where.join(" ")).toContain("Assembly plant");
    expect(describeEvent(event, t, "en", (v) => v).where.join(" ")).not.toContain("Assembly plant");
  });
});
