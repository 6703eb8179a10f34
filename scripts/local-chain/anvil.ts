/**
 * Anvil, the local EVM, on 127.0.0.1: the one way the project starts it, for the demo chain
 * (`npm start`), the Besu generator (which runs Consortium's initializer in it), the node's local
 * chains, benchmarks and tests. The platform binary is spawned directly (not the npm wrapper
 * script), so stopping it by its pid stops the EVM itself and never leaves an orphan.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "../../lib/retry.ts";

const require = createRequire(import.meta.url);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The anvil executable: $ANVIL_BIN, else @foundry-rs/anvil's platform binary, else its wrapper. */
export function anvilBinary(): string {
  if (process.env.ANVIL_BIN) return process.env.ANVIL_BIN;
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  try {
    const bin = require.resolve(`@foundry-rs/anvil-${process.platform}-${arch}/bin/anvil${process.platform === "win32" ? ".exe" : ""}`);
    if (existsSync(bin)) return bin;
  } catch {
    // Not installed for this platform: fall back to the wrapper, which forwards SIGTERM.
  }
  return path.join(repoRoot, "node_modules/.bin/anvil");
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RunningAnvil {
  url: string;
  port: number;
  pid: number;
  /** Settles when anvil exits, however it stopped. */
  exited: Promise<void>;
  /** Stops anvil (SIGTERM: it writes its state file first, when it has one). */
  stop(): Promise<void>;
}

export interface AnvilStartOptions {
  /** Listen on this port; by default a free one (retried if it is taken meanwhile). */
  port?: number;
  timeoutMs?: number;
  /**
   * Run in a process group of its own: a terminal's Ctrl-C to the caller's group does not reach
   * it, so the caller decides when the chain stops (the demo stops it last). It is still killed
   * when the caller exits.
   */
  ownProcessGroup?: boolean;
}

/** True when a JSON-RPC node answers at `url`. */
export async function rpcReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(1000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill("SIGTERM");
    });
}

/**
 * Starts anvil with `args` (host and port are set here) and waits until it answers JSON-RPC.
 * On a free port of its choosing it retries on another port if that one was taken meanwhile.
 */
export async function startAnvil(args: readonly string[], options: AnvilStartOptions = {}): Promise<RunningAnvil> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < (options.port === undefined ? 3 : 1); attempt++) {
    const port = options.port ?? (await freePort());
    const child = spawn(anvilBinary(), ["--host", "127.0.0.1", "--port", String(port), ...args], {
      stdio: ["ignore", "ignore", "pipe"],
      detached: options.ownProcessGroup === true,
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.once("error", (e) => {
      lastError = e;
    });
    const url = `http://127.0.0.1:${port}`;
    const stop = stopper(child);
    const onExit = () => child.kill("SIGKILL");
    process.once("exit", onExit);
    const deadline = Date.now() + timeoutMs;
    let gone = false;
    void exited.then(() => {
      gone = true;
      process.off("exit", onExit);
    });
    while (Date.now() < deadline && !gone) {
      if (await rpcReady(url)) {
        return {
          url,
          port,
          pid: child.pid!,
          exited,
          stop: async () => {
            await stop();
            process.off("exit", onExit);
          },
        };
      }
      await sleep(100);
    }
    await stop();
    lastError ??= new Error(
      gone ? `anvil exited during start-up: ${stderr.trim() || "no output"}` : `anvil did not answer on ${url} within ${timeoutMs} ms`,
    );
    if (!/address already in use|os error 98/i.test(stderr)) break;
  }
  throw lastError ?? new Error("anvil failed to start");
}
