/**
 * The running node's admin channel: how the node commands (node/cli.ts `proof`, `audit`) reach a
 * node that holds its data directory. LevelDB admits one process, so while a node or member runs,
 * the commands ask it instead of opening the store themselves.
 *
 * Transport: a Unix domain socket at `<dataDir>/admin/node.sock`, never a TCP port, so nothing
 * off the machine can reach it. Authentication is the operating system's: the `admin` directory
 * is created owner-only (0700) and the socket 0600, so only the account that runs the node (the
 * one that can read its key and data anyway) can connect. Each connection carries one request,
 * a JSON line of at most 4 KiB, and gets one JSON answer: `{ "ok": true, "result": ... }` or
 * `{ "ok": false, "error": "..." }`. The channel reads only; it never signs or writes.
 */
import { chmodSync, mkdirSync, rmSync, statSync } from "node:fs";
import { type Server, type Socket, connect, createServer } from "node:net";
import path from "node:path";
import { TracemeshError } from "../lib/errors.ts";

export type AdminRequest = { command: "status" } | { command: "proof"; stream: string; seq: number } | { command: "audit" };

export type AdminAnswer = { ok: true; result: unknown } | { ok: false; error: string };

/** What the node answers with. */
export interface AdminHandlers {
  status(): unknown;
  proof(stream: string, seq: number): Promise<unknown>;
  audit(): Promise<unknown>;
}

const MAX_REQUEST_BYTES = 4096;

/** The socket of the node whose data directory is `dataDir`. */
export function adminSocketPath(dataDir: string): string {
  return path.join(dataDir, "admin", "node.sock");
}

/** Parses one request line; throws naming what is wrong. */
export function parseAdminRequest(line: string): AdminRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new Error("the request is not a JSON object");
  }
  const r = raw as Record<string, unknown> | null;
  if (r === null || typeof r !== "object" || Array.isArray(r)) throw new Error("the request is not a JSON object");
  switch (r["command"]) {
    case "status":
    case "audit":
      return { command: r["command"] };
    case "proof":
      if (typeof r["stream"] !== "string" || r["stream"] === "") throw new Error("proof needs a stream");
      if (!Number.isSafeInteger(r["seq"]) || (r["seq"] as number) < 1) throw new Error("proof needs seq, a positive integer");
      return { command: "proof", stream: r["stream"], seq: r["seq"] as number };
    default:
      throw new Error(`unknown command ${JSON.stringify(r["command"])} (status, proof, audit)`);
  }
}

export interface AdminServer {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Serves the admin channel. Call it only while holding the data directory (after LevelDB opened):
 * a socket left by a node that crashed is then stale and replaced.
 */
export async function serveAdmin(dataDir: string, handlers: AdminHandlers): Promise<AdminServer> {
  const socketPath = adminSocketPath(dataDir);
  const dir = path.dirname(socketPath);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700); // also when it existed with wider rights
  const uid = process.getuid?.();
  if (uid !== undefined && statSync(dir).uid !== uid) throw new Error(`${dir} belongs to another user; the admin channel is not served`);
  rmSync(socketPath, { force: true });
  const server: Server = createServer((socket) => handle(socket, handlers));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  chmodSync(socketPath, 0o600);
  return {
    path: socketPath,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function handle(socket: Socket, handlers: AdminHandlers): void {
  let buffered = "";
  let answered = false;
  const answer = (a: AdminAnswer) => {
    if (answered) return;
    answered = true;
    socket.end(JSON.stringify(a) + "\n");
  };
  socket.setEncoding("utf8");
  socket.setTimeout(10_000, () => socket.destroy());
  socket.on("error", () => socket.destroy());
  socket.on("data", (chunk: string) => {
    if (answered) return;
    buffered += chunk;
    if (buffered.length > MAX_REQUEST_BYTES) return answer({ ok: false, error: `the request exceeds ${MAX_REQUEST_BYTES} bytes` });
    const nl = buffered.indexOf("\n");
    if (nl < 0) return;
    socket.setTimeout(0); // an audit may take a while; the request has arrived
    let request: AdminRequest;
    try {
      request = parseAdminRequest(buffered.slice(0, nl));
    } catch (e) {
      return answer({ ok: false, error: (e as Error).message });
    }
    const run = async (): Promise<unknown> => {
      switch (request.command) {
        case "status":
          return handlers.status();
        case "proof":
          return handlers.proof(request.stream, request.seq);
        case "audit":
          return handlers.audit();
      }
    };
    run().then(
      (result) => answer({ ok: true, result: result ?? null }),
      (e: Error) => answer({ ok: false, error: e.message }),
    );
  });
}

/** No node answers on the channel (none runs, or it runs without one). */
export class AdminUnavailableError extends TracemeshError {
  constructor(socketPath: string, cause: Error) {
    super("unavailable", `no running node answers on ${socketPath} (${(cause as NodeJS.ErrnoException).code ?? cause.message})`, { cause });
  }
}

/** Asks the running node of `dataDir`. Throws AdminUnavailableError when none answers, Error with its refusal otherwise. */
export async function askAdmin(dataDir: string, request: AdminRequest, timeoutMs = 600_000): Promise<unknown> {
  const socketPath = adminSocketPath(dataDir);
  const text = await new Promise<string>((resolve, reject) => {
    let data = "";
    let connected = false;
    const socket = connect(socketPath, () => {
      connected = true;
      socket.write(JSON.stringify(request) + "\n");
    });
    socket.setEncoding("utf8");
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`the node did not answer within ${timeoutMs} ms`)));
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("end", () => resolve(data));
    socket.on("error", (e: Error) => reject(connected ? e : new AdminUnavailableError(socketPath, e)));
  });
  let answer: AdminAnswer;
  try {
    answer = JSON.parse(text) as AdminAnswer;
  } catch {
    throw new Error(`the node answered something that is not JSON: ${text.slice(0, 200)}`);
  }
  if (!answer.ok) throw new Error(`the node refused: ${answer.error}`);
  return answer.result;
}
