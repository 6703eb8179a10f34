/**
 * Where a failed contract call's revert data is. ethers, Hardhat's EDR and JSON-RPC nodes each
 * nest it differently (`data`, `error.data`, `info.error.data.data`, `cause`, ...), so every caller
 * that decodes custom errors (node chain client, member tool, tests) asks this one function.
 */
import type { Interface } from "ethers";

/** The revert data (0x-prefixed, at least a 4-byte selector) carried by a failure, if any. */
export function revertDataOf(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const stack: unknown[] = [err];
  while (stack.length > 0) {
    const e = stack.pop();
    if (e === null || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const rec = e as Record<string, unknown>;
    if (typeof rec.data === "string" && /^0x([0-9a-fA-F]{2})*$/.test(rec.data) && rec.data.length >= 10) return rec.data;
    for (const k of ["data", "error", "info", "cause", "revert"]) stack.push(rec[k]);
  }
  return undefined;
}

/** The custom error of `iface` in a failure, with its arguments; undefined when it is not one. */
export function decodeCustomError(err: unknown, iface: Interface): { name: string; args: unknown[] } | undefined {
  const data = revertDataOf(err);
  if (data === undefined) return undefined;
  try {
    const parsed = iface.parseError(data);
    return parsed ? { name: parsed.name, args: [...parsed.args] } : undefined;
  } catch {
    return undefined;
  }
}
