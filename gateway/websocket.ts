/**
 * HTTP upgrades (WebSocket handshakes) go through the same Koa app as every request, so a
 * WebSocket route is authenticated, limited and answered with problems like any other: the
 * upgrade request is handed to the app with a response bound to its socket. A route that accepts
 * the upgrade takes the socket (`acceptWebSocket`); otherwise the app's answer (401, 404, ...) is
 * written and the socket closed.
 */
import { type IncomingMessage, type Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Context } from "koa";
import { type WebSocket, WebSocketServer } from "ws";

const HEAD = Symbol("upgrade head");
type UpgradeRequest = IncomingMessage & { [HEAD]?: Buffer };

/**
 * Serves `server`'s upgrade requests with the app's request handler. Answers the function that
 * closes the sockets taken by upgrades (the server's own close waits for them: call it on stop).
 */
export function serveUpgrades(server: Server, handler: (req: IncomingMessage, res: ServerResponse) => void): () => void {
  const taken = new Set<Duplex>();
  server.on("upgrade", (req: UpgradeRequest, socket: Duplex, head: Buffer) => {
    req[HEAD] = head;
    taken.add(socket);
    socket.once("close", () => taken.delete(socket));
    const res = new ServerResponse(req);
    res.assignSocket(socket as never);
    res.once("finish", () => socket.destroy());
    handler(req, res);
  });
  return () => {
    for (const s of taken) s.destroy();
  };
}

const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

/** Whether the request asks for a WebSocket (and came through serveUpgrades). */
export const wantsWebSocket = (ctx: Context): boolean => ctx.get("upgrade").toLowerCase() === "websocket" && (ctx.req as UpgradeRequest)[HEAD] !== undefined;

/** Completes the handshake; Koa leaves the socket to the WebSocket from here on. */
export function acceptWebSocket(ctx: Context): Promise<WebSocket> {
  const req = ctx.req as UpgradeRequest;
  ctx.respond = false;
  ctx.res.detachSocket(req.socket);
  return new Promise((resolve) => wss.handleUpgrade(req, req.socket, req[HEAD]!, resolve));
}
