/** Value normalisation shared by the adapters. */

/**
 * The shortest decimal that is the same float32: 24.61 rather than 24.610000610351562 for a
 * value a device holds as a 32-bit float. Exact (it converts back to the identical float32),
 * and what the device's own display would show.
 */
export function float32Decimal(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const d = Number(f.toPrecision(p));
    if (Math.fround(d) === f) return d;
  }
  return f;
}
