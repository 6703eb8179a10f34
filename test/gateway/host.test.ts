/**
 * The Host a request names (issue 12, finding 5): sign-in domains, links and Digital Link
 * redirects come from it, so only the configured public hosts (and loopback ones on a gateway
 * listening on loopback) are answered; anything else is a 400 problem naming the host.
 */
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGateway } from "../../gateway/app.ts";
import { type TestGateway, startTestGateway } from "../helpers/gateway.ts";

let gw: TestGateway;
let proxied: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
  proxied = await startTestGateway({ chain: gw.chain, gateway: { publicHost: ["https://gw.atlas.example", "gw.atlas.internal:8443"] } });
});
afterAll(async () => {
  await proxied?.stop();
  await gw?.stop();
});

/** A GET with a Host header of our choosing (fetch sets its own). */
function get(target: TestGateway, path: string, host: string, accept = "application/json") {
  return new Promise<{ status: number; type: string; location?: string; body: Record<string, unknown> }>((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port: target.server.port, path, headers: { host, accept } }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString("utf8")));
      res.on("end", () =>
        resolve({
          status: res.statusCode!,
          type: String(res.headers["content-type"] ?? ""),
          location: res.headers.location,
          body: text.startsWith("{") ? (JSON.parse(text) as Record<string, unknown>) : {},
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

const ADDRESS = "0x1111111111111111111111111111111111111111";

describe("Host validation", () => {
  it("never issues a sign-in challenge naming a foreign domain", async () => {
    const res = await get(gw, `/auth/challenge?address=${ADDRESS}`, "evil.example");
    expect(res.status).toBe(400);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toMatch(/does not answer for host "evil.example"/);
    const local = await get(gw, `/auth/challenge?address=${ADDRESS}`, `localhost:${gw.server.port}`);
    expect(local.status).toBe(200);
    expect(local.body.message).toMatch(new RegExp(`^localhost:${gw.server.port} wants you to sign in`));
  });

  it("never redirects a browser to a foreign host from the Digital Link resolver", async () => {
    const res = await get(gw, "/01/09506000134352/21/SN-1", "evil.example", "text/html");
    expect(res.status).toBe(400);
    expect(res.location).toBeUndefined();
  });

  it("answers a malformed Host with 400, not 500", async () => {
    for (const host of ["a b", "evil.example/path", "user@evil.example", "evil.example:99999", "[zz]"]) {
      const res = await get(gw, "/01/09506000134352/21/SN-1", host, "text/html");
      expect(res.status, host).toBe(400);
      expect(res.type).toMatch(/^application\/problem\+json/);
      expect(String(res.body.detail)).toMatch(/Host|host/);
    }
  });

  it("answers only the configured public hosts, naming the first in sign-in messages", async () => {
    for (const host of ["gw.atlas.example", "GW.Atlas.Example", "gw.atlas.internal:8443", `127.0.0.1:${proxied.server.port}`]) {
      const res = await get(proxied, `/auth/challenge?address=${ADDRESS}`, host);
      expect(res.status, host).toBe(200);
      expect(res.body.message).toMatch(/^gw\.atlas\.example wants you to sign in/);
    }
    for (const host of ["evil.example", "gw.atlas.example.evil.example", "gw.atlas.internal:8444"]) {
      expect((await get(proxied, `/auth/challenge?address=${ADDRESS}`, host)).status, host).toBe(400);
    }
  });

  it("refuses to listen beyond loopback without a public host", async () => {
    const open = createGateway(gw.services, { log: "silent" });
    await expect(open.listen(0, "0.0.0.0")).rejects.toThrow(/without a publicHost/);
    // Nothing was bound: the refusal comes before listening.
  });

  it("refuses a public host that is not one", () => {
    for (const publicHost of ["gw example", "user@gw.example", "https://gw.example/path", "gw.example:0"]) {
      expect(() => createGateway(gw.services, { log: "silent", publicHost }), publicHost).toThrow(/is not a host\[:port\] or an origin/);
    }
  });
});
