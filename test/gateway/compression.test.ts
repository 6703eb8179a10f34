/**
 * The gateway's compression of answers sent as they are (gateway/compression.ts, onTheFly): what
 * is compressed and what never is (small answers, event streams, refused codings), and a route's
 * own entity tag kept distinct per coding. Kept answers and the explorer's files: answer-cache.test.ts.
 */
import type { AddressInfo } from "node:net";
import { PassThrough } from "node:stream";
import Koa from "koa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onTheFly } from "../../gateway/compression.ts";

describe("onTheFly", () => {
  let url = "";
  let close = () => {};
  const big = { text: "traceability ".repeat(400) };
  beforeAll(async () => {
    const app = new Koa();
    app.use(onTheFly());
    app.use((ctx) => {
      if (ctx.path === "/big") ctx.body = big;
      else if (ctx.path === "/small") ctx.body = { ok: true };
      else if (ctx.path === "/tagged") {
        ctx.set("ETag", '"abc"');
        ctx.body = big;
      } else if (ctx.path === "/events") {
        ctx.type = "text/event-stream";
        const stream = new PassThrough();
        ctx.body = stream;
        stream.end(`data: ${"x".repeat(4000)}\n\n`);
      }
    });
    const server = app.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close());

  const get = async (path: string, acceptEncoding: string) => {
    // fetch decodes the body as any client does; the headers say what went on the wire.
    const res = await fetch(url + path, { headers: { "accept-encoding": acceptEncoding } });
    return { res, body: Buffer.from(await res.arrayBuffer()) };
  };

  it("compresses a large JSON answer for a client that asks, never a small one, and always says it varies", async () => {
    const gz = await get("/big", "gzip");
    expect([gz.res.headers.get("content-encoding"), gz.res.headers.get("vary")]).toEqual(["gzip", "Accept-Encoding"]);
    const small = await get("/small", "gzip");
    expect([small.res.headers.get("content-encoding"), small.res.headers.get("vary"), small.body.toString()]).toEqual([null, "Accept-Encoding", '{"ok":true}']);
    expect((await get("/big", "identity")).res.headers.get("content-encoding")).toBeNull();
    // Nothing acceptable: identity, not an error.
    const refused = await get("/big", "*;q=0");
    expect([refused.res.status, refused.res.headers.get("content-encoding"), JSON.parse(refused.body.toString())]).toEqual([200, null, big]);
  });

  it("leaves event streams as they are, and gives a route's entity tag the coding's suffix", async () => {
    const events = await get("/events", "gzip, br");
    expect([events.res.headers.get("content-encoding"), events.body.toString().startsWith("data: x")]).toEqual([null, true]);
    const tagged = await get("/tagged", "gzip");
    expect([tagged.res.headers.get("content-encoding"), tagged.res.headers.get("etag")]).toEqual(["gzip", '"abc-gzip"']);
    expect(JSON.parse(tagged.body.toString())).toEqual(big);
    expect((await get("/tagged", "identity")).res.headers.get("etag")).toBe('"abc"');
  });
});
