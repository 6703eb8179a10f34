/**
 * Machine models for the device simulator: pure functions of (seed, tick), so any tick's values
 * can be recomputed by a test, and two simulators with the same seed produce the same plant.
 * One tick is one sample (one second by default; the heats are compressed to a minute so a demo
 * shows whole cycles).
 */

/** Deterministic uniform noise in [-1, 1) for (seed, channel, tick): random access, no state. */
export function noise(seed: number, channel: number, tick: number): number {
  let h = Math.imul((seed ^ 0x9e3779b9) >>> 0, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15) ^ Math.imul(channel + 1, 0xc2b2ae35), 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 13) ^ Math.imul(tick + 1, 0x165667b1), 0x85ebca6b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return (h >>> 0) / 2 ** 31 - 1;
}

const round = (v: number, decimals: number) => Math.round(v * 10 ** decimals) / 10 ** decimals;

// ---- Furnace (OPC UA): one heat of an induction melting furnace ---------------------------------

export const HEAT_TICKS = 60;
export const RAMP_TICKS = 30;
export const SOAK_TICKS = 18;
export const TAP_TICKS = HEAT_TICKS - RAMP_TICKS - SOAK_TICKS;
const CHARGE_TEMP = 450;
const FIRST_HEAT = 4711;

export type FurnacePhase = "ramp" | "soak" | "tap";

export interface FurnaceSample {
  /** Melt temperature, Cel. */
  temperature: number;
  /** Coil power, kW. */
  power: number;
  phase: FurnacePhase;
  /** Heat (melt) number, increments per cycle. */
  heat: number;
}

/** Ramp from the charge to the heat's target, soak at the target, tap while the melt cools. */
export function furnace(seed: number, tick: number): FurnaceSample {
  const cycle = Math.floor(tick / HEAT_TICKS);
  const k = tick - cycle * HEAT_TICKS;
  const heat = FIRST_HEAT + cycle;
  // Each heat has its own aim temperature (grade-dependent), 1600..1640 Cel.
  const target = 1620 + 20 * noise(seed, 1, cycle);
  if (k < RAMP_TICKS) {
    const x = (k + 1) / RAMP_TICKS;
    const s = x * x * (3 - 2 * x);
    return {
      temperature: round(CHARGE_TEMP + (target - CHARGE_TEMP) * s + 4 * noise(seed, 2, tick), 1),
      power: round(2400 + 40 * noise(seed, 3, tick), 1),
      phase: "ramp",
      heat,
    };
  }
  if (k < RAMP_TICKS + SOAK_TICKS) {
    return {
      temperature: round(target + 2.5 * noise(seed, 2, tick), 1),
      power: round(650 + 20 * noise(seed, 3, tick), 1),
      phase: "soak",
      heat,
    };
  }
  const t = (k - RAMP_TICKS - SOAK_TICKS + 1) / TAP_TICKS;
  return {
    temperature: round(target - 140 * t + 3 * noise(seed, 2, tick), 1),
    power: 0,
    phase: "tap",
    heat,
  };
}

// ---- CNC spindle (Sparkplug device) ------------------------------------------------------------

export const PART_PROGRAM_TICKS = 20;

export interface SpindleSample {
  /** Spindle load, % of rated torque. */
  load: number;
  /** Spindle speed, rev/min. */
  speed: number;
}

/** A part program: tool change, roughing, finishing, unload. */
export function spindle(seed: number, tick: number): SpindleSample {
  const k = tick % PART_PROGRAM_TICKS;
  if (k < 2 || k >= 18) return { load: 0, speed: 0 };
  if (k < 12) {
    const engage = Math.min(1, (k - 1) / 2);
    return { load: round(engage * (62 + 10 * noise(seed, 10, tick)), 1), speed: 6000 };
  }
  return { load: round(24 + 4 * noise(seed, 10, tick), 1), speed: 9000 };
}

// ---- Tightening station (Sparkplug device) -----------------------------------------------------

export const TIGHTENING_TICKS = 10;
const RUNDOWN_STEPS = 6;

export interface TighteningSample {
  /** Torque, N.m. */
  torque: number;
  /** Angle since the start of rundown, deg. */
  angle: number;
  /** Parts fastened so far, including the one in progress. */
  partCount: number;
}

/**
 * One fastening per TIGHTENING_TICKS samples: rundown at prevailing torque, snug, then the
 * elastic rise to the part's final torque (25 N.m nominal).
 */
export function tightening(seed: number, tick: number): TighteningSample {
  const part = Math.floor(tick / TIGHTENING_TICKS);
  const k = tick - part * TIGHTENING_TICKS;
  const partCount = part + 1;
  if (k < RUNDOWN_STEPS) {
    return { torque: round(0.8 + 0.3 * noise(seed, 20, tick), 2), angle: k * 120, partCount };
  }
  const finalTorque = 25 + 0.4 * noise(seed, 21, part);
  const step = k - RUNDOWN_STEPS + 1;
  const steps = TIGHTENING_TICKS - RUNDOWN_STEPS;
  return {
    torque: round(4 + ((finalTorque - 4) * step) / steps, 2),
    angle: (RUNDOWN_STEPS - 1) * 120 + 20 + step * 9,
    partCount,
  };
}

// ---- Coolant skid (Modbus) ---------------------------------------------------------------------

export interface CoolantSample {
  /** Supply temperature, Cel. */
  supplyTemperature: number;
  /** Return temperature, Cel. */
  returnTemperature: number;
  /** Supply pressure, bar. */
  pressure: number;
  /** Flow, L/min. */
  flow: number;
  /** Pump running time, s. */
  pumpRunSeconds: number;
  /** Supply temperature minus its 24.00 Cel set point, Cel. */
  deviation: number;
}

export function coolant(seed: number, tick: number): CoolantSample {
  const supply = round(24 + 2.5 * Math.sin((2 * Math.PI * tick) / 300) + 0.2 * noise(seed, 30, tick), 2);
  return {
    supplyTemperature: supply,
    returnTemperature: round(supply + 3.2 + 0.1 * noise(seed, 31, tick), 2),
    pressure: round(4 + 0.3 * Math.sin((2 * Math.PI * tick) / 120) + 0.05 * noise(seed, 32, tick), 2),
    flow: round(38 + 3 * Math.sin((2 * Math.PI * tick) / 90) + 0.5 * noise(seed, 33, tick), 1),
    pumpRunSeconds: 4_400_000 + (seed % 1000) * 100 + tick,
    deviation: round(supply - 24, 2),
  };
}
