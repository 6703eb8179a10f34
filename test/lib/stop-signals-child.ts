/**
 * A process for test/lib/stop-signals.test.ts: installs the stop-signal handlers; its clean stop
 * takes STOP_MS and prints "stopped cleanly". `--supervised` runs it as the demo runs a member;
 * REJECT_WHILE_STOPPING leaves a rejected promise unhandled during the stop; PEER_STREAM_FAULT
 * throws, from a timer, the error libp2p's muxer throws when it writes to a stream a peer closed.
 */
import { handleFatalErrors, handleStopSignals } from "../../lib/stop-signals.ts";

const stopMs = Number(process.env.STOP_MS ?? 300);
// The member process installs both: one policy for failures nobody handled.
handleFatalErrors((m) => console.log(m));
handleStopSignals({
  supervised: process.argv.includes("--supervised"),
  log: (m) => console.log(m),
  stop: async () => {
    // What ethers does on a subscription's teardown when the chain is gone: a failure nobody awaits.
    if (process.env.REJECT_WHILE_STOPPING) void Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:8545"));
    await new Promise((r) => setTimeout(r, stopMs));
    console.log("stopped cleanly");
  },
  force: () => console.log("forced"),
});
// Keeps running until stopped.
setInterval(() => {}, 1000);
console.log("ready");
// A failure nobody awaits while running: fatal.
if (process.env.REJECT_WHILE_RUNNING) setTimeout(() => void Promise.reject(new Error("a bug nobody handled")), 100);
// What yamux throws from a microtask when the peer's connection closed under it: not fatal.
if (process.env.PEER_STREAM_FAULT)
  setTimeout(() => {
    throw Object.assign(new Error("Cannot write to a stream that is closed"), { name: "StreamStateError" });
  }, 100);
