/** Shared pieces for the edge adapter tests: a recording sink, waiting, status capture. */
import type { Reading, ReadingSink } from "../../../lib/reading.ts";
import type { AdapterStatus } from "../../../node/edge/adapter.ts";

/** Records what it is given; can be made slow (`delayMs`) or failing (`failures`). */
export class TestSink implements ReadingSink {
  readonly readings: Reading[] = [];
  readonly batches: number[] = [];
  delayMs = 0;
  /** The next `failures` writes reject. */
  failures = 0;
  writesInFlight = 0;
  maxWritesInFlight = 0;

  async write(readings: readonly Reading[]): Promise<void> {
    this.writesInFlight++;
    this.maxWritesInFlight = Math.max(this.maxWritesInFlight, this.writesInFlight);
    try {
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      if (this.failures > 0) {
        this.failures--;
        throw new Error("disk full");
      }
      this.batches.push(readings.length);
      this.readings.push(...readings);
    } finally {
      this.writesInFlight--;
    }
  }

  of(stream: string): Reading[] {
    return this.readings.filter((r) => r.stream === stream);
  }

  last(stream: string): Reading | undefined {
    const all = this.of(stream);
    return all[all.length - 1];
  }
}

/** Poll `fn` until it returns something truthy; fail with `what` after `timeoutMs`. */
export async function waitFor<T>(fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Collects every status an adapter reports. */
export function statusLog(): { all: AdapterStatus[]; onStatus: (s: AdapterStatus) => void; states: () => string[] } {
  const all: AdapterStatus[] = [];
  return {
    all,
    onStatus: (s) => all.push(s),
    states: () => all.map((s) => s.state).filter((s, i, a) => i === 0 || a[i - 1] !== s),
  };
}

/** Handles and timers the process holds, by kind: to check that stop() leaves none behind. */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}
