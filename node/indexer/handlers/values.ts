/** Small conversions the event handlers share: decoded ABI values to index values. */
import { RecordKind } from "../../../lib/registry.ts";

export const ZERO32 = "0x" + "00".repeat(32);
export const n = (v: unknown): number => Number(v as bigint);
export const hex = (v: unknown): string => (v as string).toLowerCase();

/** The RecordKind name in lower case, or `kind-<n>` for a kind this version does not know. */
export const recordKindName = (kind: number): string => {
  const name = RecordKind[kind] as string | undefined;
  return name && kind !== RecordKind.None ? name.replace(/^./, (c) => c.toLowerCase()) : `kind-${kind}`;
};

/** Removes `value` as Solidity's swap-and-pop does, so the order matches the contract's arrays. */
export function swapRemove<T>(list: T[], value: T): void {
  const i = list.indexOf(value);
  if (i < 0) return;
  list[i] = list[list.length - 1]!;
  list.pop();
}
