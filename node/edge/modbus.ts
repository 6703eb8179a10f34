/**
 * Modbus TCP adapter (jsmodbus client): polls holding and input registers, coils and discrete
 * inputs on an interval.
 *
 * Addresses next to each other in the same table are read with one request (up to 125
 * registers or 2000 bits, the protocol's limits). Registers are decoded per value: int16,
 * uint16, int32, uint32 or float32, 32-bit values in either word order (and optionally
 * byte-swapped), then `raw * scale + offset`; coils and discrete inputs are booleans. Modbus has no timestamps, so sourceTime is the time the response
 * arrived (timeSource "receive").
 *
 * Failures:
 * - an exception response (the device answered that it cannot give these registers: illegal
 *   address, device failure, gateway target not responding...) becomes a bad reading (value
 *   null, statusCode = the exception code) for each register of the request, and the status
 *   detail names it. The device is reachable and has spoken about that moment, so the stream's
 *   record shows the hole explicitly instead of silently missing samples, and the anchored
 *   data proves it. A multi-register request refused with "illegal data address" is split
 *   into single-register requests, so one bad address does not blank its neighbours.
 * - no answer (timeout), a broken connection or a garbled frame is a connection problem: no
 *   reading (nothing was measured), the adapter reports "disconnected", drops the socket
 *   (which also resynchronises transaction ids) and reconnects with back-off.
 *
 * Back-pressure: the next poll starts only after the previous poll's readings were accepted
 * by the buffer, so a slow sink stretches the poll interval instead of queueing polls.
 */
import net from "node:net";
import Modbus from "jsmodbus";
import type { Reading } from "../../lib/reading.ts";
import type { AdapterContext } from "./adapter.ts";
import { AdapterBase, message } from "./base.ts";
import { sleep } from "../../lib/retry.ts";
import { MODBUS_BIT_TABLES, MODBUS_WORDS, type ModbusDeviceConfig, type ModbusRegisterConfig } from "./config.ts";
import { untilAbort } from "./mqtt.ts";
import { float32Decimal } from "./values.ts";

/** Most addresses one request may read: registers, or bits (coils, discrete inputs). */
const MAX_READ: Record<Table, number> = { holding: 125, input: 125, coil: 2000, discrete: 2000 };
type Table = NonNullable<ModbusRegisterConfig["table"]>;
const TABLES: readonly Table[] = ["holding", "input", "coil", "discrete"];
const STABLE_MS = 10_000;

export const MODBUS_EXCEPTIONS: Record<number, string> = {
  1: "illegal function",
  2: "illegal data address",
  3: "illegal data value",
  4: "server device failure",
  5: "acknowledge",
  6: "server device busy",
  8: "memory parity error",
  10: "gateway path unavailable",
  11: "gateway target device failed to respond",
};

interface Block {
  table: Table;
  start: number;
  count: number;
  registers: ModbusRegisterConfig[];
}

type TcpClient = InstanceType<typeof Modbus.client.TCP>;

class ConnectionProblem extends Error {}

export class ModbusAdapter extends AdapterBase {
  private blocks: Block[];
  private socket: net.Socket | undefined;
  private loop: Promise<void> | undefined;
  private polls = 0;

  constructor(
    private readonly config: ModbusDeviceConfig,
    ctx: AdapterContext,
  ) {
    super(config.device, ctx, config);
    this.blocks = planBlocks(config.registers);
  }

  /** Completed polls since start (for diagnostics and tests). */
  get pollCount(): number {
    return this.polls;
  }

  protected async open(signal: AbortSignal): Promise<void> {
    let settle!: () => void;
    const first = new Promise<void>((resolve) => (settle = resolve));
    this.loop = this.run(signal, settle);
    await first;
  }

  protected async close(): Promise<void> {
    this.socket?.destroy();
    await this.loop;
  }

  private async run(signal: AbortSignal, settle: () => void): Promise<void> {
    const c = this.config;
    const timeoutMs = c.timeoutMs ?? 2_000;
    while (!signal.aborted) {
      let detail: string;
      let connectedAt: number | undefined;
      const socket = new net.Socket();
      this.socket = socket;
      socket.on("error", () => {});
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      const aborted = untilAbort(signal);
      // Ends this connection's poll loop when the connection ends, whatever ended it.
      const connection = new AbortController();
      // The client must see the socket's "connect" event, so it is made before connecting.
      const client = new Modbus.client.TCP(socket, c.unitId ?? 1, timeoutMs);
      try {
        socket.setNoDelay(true);
        socket.connect({ host: c.host, port: c.port ?? 502 });
        const outcome = await Promise.race([
          new Promise<"connected">((resolve) => socket.once("connect", () => resolve("connected"))),
          new Promise<Error>((resolve) => socket.once("error", (e) => resolve(e))),
          sleep(timeoutMs, signal).then((full) => (full ? new Error(`connect timed out after ${timeoutMs} ms`) : undefined)),
        ]);
        if (outcome !== "connected") throw outcome ?? new Error("stopped");
        connectedAt = Date.now();
        this.setState("connected");
        settle();
        detail = await Promise.race([
          this.pollLoop(client, AbortSignal.any([signal, connection.signal])),
          closed.then(() => "connection closed by the device"),
          aborted.promise.then(() => "stopped"),
        ]);
      } catch (error) {
        detail = message(error);
      } finally {
        aborted.dispose();
        connection.abort();
      }
      socket.destroy();
      if (signal.aborted) break;
      if (connectedAt !== undefined && Date.now() - connectedAt >= STABLE_MS) this.backoff.reset();
      const delay = this.backoff.next();
      this.setState("disconnected", `${detail}; retrying in ${delay} ms`);
      settle();
      await sleep(delay, signal);
    }
    settle();
  }

  /** Poll until a connection problem (returned as text) or stop. */
  private async pollLoop(client: TcpClient, signal: AbortSignal): Promise<string> {
    const interval = this.config.pollIntervalMs ?? 1_000;
    while (!signal.aborted) {
      const started = Date.now();
      const readings: Reading[] = [];
      const problems: string[] = [];
      try {
        for (let i = 0; i < this.blocks.length; i++) {
          const block = this.blocks[i] as Block;
          const result = await this.readBlock(client, block);
          if (typeof result === "number") {
            if (result === 2 && block.registers.length > 1) {
              // Read each register on its own from now on, starting with this poll.
              const singles = planBlocks(block.registers, false);
              this.blocks.splice(i, 1, ...singles);
              this.log(`${block.table} ${block.start}..${block.start + block.count - 1}: illegal data address; reading its registers one by one`);
              i--;
              continue;
            }
            problems.push(`exception ${result} (${MODBUS_EXCEPTIONS[result] ?? "unknown"}) reading ${block.table} ${block.start}..${block.start + block.count - 1}`);
            const now = Date.now();
            for (const reg of block.registers) readings.push(badReading(reg, result, now));
          } else readings.push(...result);
        }
      } catch (error) {
        if (error instanceof ConnectionProblem) return error.message;
        throw error;
      }
      if (signal.aborted) break;
      this.setState("connected", problems.length ? problems.join("; ") : undefined);
      this.polls++;
      await this.deliver(readings);
      const wait = started + interval - Date.now();
      if (wait > 0) await sleep(wait, signal);
      else await new Promise((resolve) => setImmediate(resolve));
    }
    return "stopped";
  }

  /** The block's readings, or the exception code the device answered with. */
  private async readBlock(client: TcpClient, block: Block): Promise<Reading[] | number> {
    let words: Buffer;
    try {
      const res =
        block.table === "holding"
          ? await client.readHoldingRegisters(block.start, block.count)
          : block.table === "input"
            ? await client.readInputRegisters(block.start, block.count)
            : block.table === "coil"
              ? await client.readCoils(block.start, block.count)
              : await client.readDiscreteInputs(block.start, block.count);
      words = res.response.body.valuesAsBuffer as Buffer;
    } catch (error) {
      const e = error as { err?: string; message?: string; response?: { body?: { code?: number } } };
      if (e.err === "ModbusException" && typeof e.response?.body?.code === "number") return e.response.body.code;
      throw new ConnectionProblem(`${block.table} ${block.start}..${block.start + block.count - 1}: ${e.err ?? "error"} ${e.message ?? message(error)}`.trim());
    }
    const now = Date.now();
    if (MODBUS_BIT_TABLES.has(block.table)) {
      // Bits packed eight to a byte, the lowest address in the lowest bit.
      if (words.length < Math.ceil(block.count / 8)) throw new ConnectionProblem(`${block.table} ${block.start}: device returned ${words.length * 8} of ${block.count} bits`);
      return block.registers.map((reg) => {
        const i = reg.address - block.start;
        return bitReading(reg, ((words[i >> 3]! >> (i & 7)) & 1) === 1, now);
      });
    }
    if (words.length < block.count * 2) {
      throw new ConnectionProblem(`${block.table} ${block.start}: device returned ${words.length / 2} of ${block.count} registers`);
    }
    return block.registers.map((reg) => {
      const off = (reg.address - block.start) * 2;
      return registerReading(reg, words.subarray(off, off + MODBUS_WORDS[reg.type] * 2), now);
    });
  }
}

/** Group addresses into read requests: same table, contiguous or overlapping, at most the table's MAX_READ. */
export function planBlocks(registers: readonly ModbusRegisterConfig[], coalesce = true): Block[] {
  const blocks: Block[] = [];
  for (const table of TABLES) {
    const regs = registers.filter((r) => (r.table ?? "holding") === table).sort((a, b) => a.address - b.address);
    let current: Block | undefined;
    for (const reg of regs) {
      const end = reg.address + MODBUS_WORDS[reg.type];
      if (coalesce && current && reg.address <= current.start + current.count && Math.max(end, current.start + current.count) - current.start <= MAX_READ[table]) {
        current.count = Math.max(end, current.start + current.count) - current.start;
        current.registers.push(reg);
      } else {
        current = { table, start: reg.address, count: end - reg.address, registers: [reg] };
        blocks.push(current);
      }
    }
  }
  return blocks;
}

/** Decode one register's words (big-endian bytes per word, as on the wire) into its value. */
export function decodeRegister(words: Buffer, reg: Pick<ModbusRegisterConfig, "type" | "wordOrder" | "byteSwap" | "scale" | "offset">): number {
  let b = Buffer.from(words);
  if (reg.byteSwap) for (let i = 0; i + 1 < b.length; i += 2) [b[i], b[i + 1]] = [b[i + 1] as number, b[i] as number];
  if (b.length === 4 && reg.wordOrder === "little") b = Buffer.concat([b.subarray(2, 4), b.subarray(0, 2)]);
  let raw: number;
  switch (reg.type) {
    case "int16":
      raw = b.readInt16BE(0);
      break;
    case "uint16":
      raw = b.readUInt16BE(0);
      break;
    case "int32":
      raw = b.readInt32BE(0);
      break;
    case "uint32":
      raw = b.readUInt32BE(0);
      break;
    case "float32":
      raw = float32Decimal(b.readFloatBE(0));
      break;
    case "bool":
      throw new RangeError("a bool is a coil or discrete input bit, not a register");
  }
  const scale = reg.scale ?? 1;
  const offset = reg.offset ?? 0;
  if (scale === 1 && offset === 0) return raw;
  // 15 significant digits drop binary noise (1234 * 0.1 = 123.4, not 123.40000000000001).
  return Number((raw * scale + offset).toPrecision(15));
}

function registerReading(reg: ModbusRegisterConfig, words: Buffer, now: number): Reading {
  const value = decodeRegister(words, reg);
  // A float32 NaN or infinity is the device saying "no value" (e.g. sensor open circuit).
  const ok = Number.isFinite(value);
  const r: Reading = { stream: reg.stream, metric: reg.metric, value: ok ? value : null, sourceTime: now, timeSource: "receive", quality: ok ? "good" : "bad" };
  if (reg.unit !== undefined) r.unit = reg.unit;
  return r;
}

function bitReading(reg: ModbusRegisterConfig, value: boolean, now: number): Reading {
  const r: Reading = { stream: reg.stream, metric: reg.metric, value, sourceTime: now, timeSource: "receive", quality: "good" };
  if (reg.unit !== undefined) r.unit = reg.unit;
  return r;
}

function badReading(reg: ModbusRegisterConfig, code: number, now: number): Reading {
  const r: Reading = { stream: reg.stream, metric: reg.metric, value: null, sourceTime: now, timeSource: "receive", quality: "bad", statusCode: code };
  if (reg.unit !== undefined) r.unit = reg.unit;
  return r;
}
