/**
 * The one error catalogue: every code maps to an HTTP status and a p2p refusal; errors raised
 * anywhere keep their code through the gateway's problem mapping.
 */
import { describe, expect, it } from "vitest";
import { toProblem } from "../../gateway/errors.ts";
import { ERROR_CATALOGUE, TracemeshError, codeOfStatus, isErrorCode, specOf } from "../../lib/errors.ts";
import { EventHashError } from "../../lib/epcis/event-hash.ts";
import { ChainUnavailableError } from "../../node/chain/errors.ts";
import { CaptureForbiddenError } from "../../node/events/capture.ts";
import { TooManyReadingsError } from "../../node/events/readings.ts";
import { FetchRefusedError, PeerMisbehaviourError } from "../../node/p2p/fetch-client.ts";

describe("error catalogue", () => {
  it("gives every code a client or server status and a known refusal", () => {
    const refusals = new Set(["not-member", "not-granted", "not-found", "bad-request", "too-large", "unsupported", "unavailable"]);
    for (const [code, spec] of Object.entries(ERROR_CATALOGUE)) {
      expect(spec.status, code).toBeGreaterThanOrEqual(400);
      expect(spec.status, code).toBeLessThan(600);
      expect(refusals.has(spec.refusal), code).toBe(true);
      expect(code).toMatch(/^[a-z]+(-[a-z0-9]+)*$/);
    }
  });

  it("maps generic statuses to codes of that status", () => {
    for (const status of [400, 401, 403, 404, 405, 406, 409, 413, 415, 429, 503]) {
      expect(ERROR_CATALOGUE[codeOfStatus(status)].status).toBe(status);
    }
    expect(codeOfStatus(502)).toBe("internal");
  });

  it("gives every p2p refusal the same code as the catalogue entry it stands for", () => {
    for (const refusal of ["not-member", "not-granted", "not-found", "bad-request", "too-large", "unsupported", "unavailable"] as const) {
      expect(isErrorCode(refusal), refusal).toBe(true);
      expect(ERROR_CATALOGUE[refusal].refusal, refusal).toBe(refusal);
      expect(new FetchRefusedError("p", { error: refusal, detail: "d" }).code).toBe(refusal);
    }
  });

  it("keeps the subclass name and code of errors raised by components", () => {
    const e = new EventHashError("no eventTime");
    expect(e).toBeInstanceOf(TracemeshError);
    expect(e.name).toBe("EventHashError");
    expect(specOf(e)).toMatchObject({ code: "invalid-event-hash", status: 400, refusal: "bad-request" });
    expect(specOf(new Error("boom"))).toMatchObject({ code: "internal", status: 500 });
    expect(isErrorCode("not-granted")).toBe(true);
    expect(isErrorCode("toString")).toBe(false);
  });

  it("answers each component error with its catalogue status, never a 500", () => {
    const cases: [Error, number, string][] = [
      [new EventHashError("bad"), 400, "invalid-event-hash"],
      [new CaptureForbiddenError("not yours"), 403, "capture-forbidden"],
      [new TooManyReadingsError(10), 413, "too-many-readings"],
      [new FetchRefusedError("12D3KooW", { error: "not-granted", detail: "no grant" }), 403, "not-granted"],
      [new PeerMisbehaviourError("12D3KooW", "root mismatch"), 502, "peer-misbehaved"],
      [new ChainUnavailableError("the chain did not answer eth_call", { cause: new Error("ECONNREFUSED") }), 503, "chain-unavailable"],
    ];
    for (const [err, status, code] of cases) {
      const { problem, internal } = toProblem(err);
      expect(internal, code).toBe(false);
      expect(problem.status, code).toBe(status);
      expect(problem.type, code).toBe(`https://tracemesh.dev/problems/${code}`);
      expect(problem.detail).toBe(err.message);
      if (status === 503) expect(problem.headers["Retry-After"]).toBeDefined();
    }
    expect(toProblem(new Error("secret detail"))).toMatchObject({ internal: true, problem: { status: 500 } });
  });
});
