/**
 * How a long-running Tracemesh process (the demo, a member process) answers stop signals.
 *
 * The first SIGINT or SIGTERM starts a clean stop and the process exits once it is done. One
 * Ctrl-C in a terminal can arrive more than once: the terminal signals the whole process group,
 * and npm or a supervisor may pass the same signal on. A repeat within `repeatMs` is therefore the
 * same request; a signal after that is a second Ctrl-C and forces the exit.
 *
 * A promise rejection nobody awaits, or an uncaught exception, is fatal while the process runs:
 * it is logged with its stack and the process exits 70 (EX_SOFTWARE), so a supervisor restarts
 * it. Once the stop has begun it is logged instead: the stop must complete and record that it
 * did (a component torn down while the chain is already gone may fail in ways nobody awaits).
 * One exception to "fatal": a peer's stream failing inside libp2p's own muxer (yamux sends from a
 * microtask and from its message listener without catching; node/p2p catches every write of ours,
 * test/node/p2p/stream-faults.test.ts). It concerns one connection to one peer, which libp2p
 * closes; exiting on it would let any peer that hangs up at the right moment stop a member.
 * `handleFatalErrors` installs that one policy; `handleStopSignals` tells it when stopping began.
 *
 * A supervised process (a member the demo started) leaves a group SIGINT to its supervisor, which
 * stops its children in order with SIGTERM, and stops by itself when its stdin closes: the
 * supervisor is gone, however it ended.
 */

export interface StopSignalOptions {
  /** The clean stop; the process exits 0 when it resolves, 1 when it rejects. */
  stop: (why: string) => Promise<void>;
  /** Called on a second Ctrl-C before the process exits (130): end what the clean stop waits on. */
  force?: (why: string) => void;
  log?: (message: string) => void;
  /** Signals closer together than this are one request (default 1000 ms). */
  repeatMs?: number;
  /** Run under a supervisor: SIGINT is left to it, and stdin closing stops the process. */
  supervised?: boolean;
}

/** Exit status of a process ended by a programming error (sysexits' EX_SOFTWARE). */
export const EXIT_SOFTWARE = 70;

let stopping = false;

/**
 * Error names of @libp2p/interface for a stream or connection that a peer closed, reset or
 * aborted: matched by name, so lib/ stays free of libp2p.
 */
const PEER_STREAM_FAULTS: ReadonlySet<string> = new Set(["StreamStateError", "StreamResetError", "StreamAbortedError", "MuxerClosedError", "ConnectionClosedError"]);

/**
 * The one policy for failures nobody handled: fatal (logged, exit 70) while running, logged only
 * once a clean stop has begun (see the header).
 */
export function handleFatalErrors(log: (message: string) => void = (m) => console.error(m)): void {
  const failed = (kind: string) => (err: unknown) => {
    const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
    if (err instanceof Error && PEER_STREAM_FAULTS.has(err.name)) {
      log(`a peer's stream failed inside libp2p, not handled there (that connection only; not fatal): ${text}`);
      return;
    }
    if (stopping) {
      log(`while stopping, ${kind} nobody handled: ${text}`);
      return;
    }
    log(`fatal ${kind}: ${text}`);
    process.exit(EXIT_SOFTWARE);
  };
  process.on("unhandledRejection", failed("a rejection"));
  process.on("uncaughtException", failed("an exception"));
}

/** Installs the handlers. */
export function handleStopSignals(options: StopSignalOptions): void {
  const log = options.log ?? ((m: string) => console.log(m));
  const repeatMs = options.repeatMs ?? 1000;
  let firstAt: number | undefined;
  const request = (why: string) => {
    if (firstAt === undefined) {
      firstAt = Date.now();
      log(`${why}: stopping cleanly (a second Ctrl-C forces it)`);
      stopping = true;
      options.stop(why).then(
        () => process.exit(0),
        (e: unknown) => {
          log(`the clean stop failed: ${e instanceof Error ? e.message : String(e)}`);
          process.exit(1);
        },
      );
      return;
    }
    if (Date.now() - firstAt < repeatMs) return; // the same Ctrl-C, delivered again
    log(`${why} again: forcing the stop`);
    options.force?.(why);
    process.exit(130);
  };
  process.on("SIGTERM", () => request("SIGTERM"));
  if (options.supervised) {
    process.on("SIGINT", () => {
      if (firstAt === undefined) log("SIGINT: the supervisor stops this process in order");
    });
    process.stdin.on("end", () => request("the supervisor is gone (stdin closed)"));
    process.stdin.on("error", () => request("the supervisor is gone (stdin failed)"));
    process.stdin.resume();
  } else {
    process.on("SIGINT", () => request("SIGINT"));
  }
}
