/**
 * The simulator's Modbus TCP server (jsmodbus): a coolant skid whose registers follow the
 * coolant model, in the encodings real devices use (float32 in both word orders, scaled
 * integers, a 32-bit counter). Reads outside the register map answer with exception 2 (illegal
 * data address) like a real device, and any address can be set to fail with a chosen exception.
 *
 * Register map (protocol addresses, 0-based):
 *   holding 0-1   supply temperature   float32, high word first (ABCD)        Cel
 *   holding 2     supply pressure      int16, bar x 100                       bar
 *   holding 3-4   flow                 uint32, low word first (CDAB), L/min x 10
 *   holding 5-6   return temperature   float32, low word first (CDAB)         Cel
 *   holding 100-199  free for tests (written with `writeRegisters`)
 *   input 0-1     pump running time    uint32, ABCD                           s
 *   input 2       supply deviation     int16, Cel x 100 from 24.00 Cel
 *   coil 0-15, discrete 0-15   free for tests (written with `writeBits`)
 */
import net from "node:net";
import Modbus from "jsmodbus";
import { coolant } from "./models.ts";
import { listen } from "./broker.ts";

export type RegisterTable = "holding" | "input";
export type BitTable = "coil" | "discrete";

const BITS = 16;
const HOLDING_WORDS = 200;
const INPUT_WORDS = 3;
/** Mapped ranges [first, last] per table; anything else is an illegal data address. */
const MAPPED: Record<RegisterTable | BitTable, [number, number][]> = {
  holding: [
    [0, 6],
    [100, 199],
  ],
  input: [[0, 2]],
  coil: [[0, BITS - 1]],
  discrete: [[0, BITS - 1]],
};

export const COOLANT_REGISTERS = {
  supplyTemperature: { table: "holding", address: 0, type: "float32", wordOrder: "big", unit: "Cel" },
  pressure: { table: "holding", address: 2, type: "int16", scale: 0.01, unit: "bar" },
  flow: { table: "holding", address: 3, type: "uint32", wordOrder: "little", scale: 0.1, unit: "L/min" },
  returnTemperature: { table: "holding", address: 5, type: "float32", wordOrder: "little", unit: "Cel" },
  pumpRunSeconds: { table: "input", address: 0, type: "uint32", wordOrder: "big", unit: "s" },
  deviation: { table: "input", address: 2, type: "int16", scale: 0.01, unit: "Cel" },
} as const;

export class SimModbusServer {
  readonly holding = Buffer.alloc(HOLDING_WORDS * 2);
  readonly input = Buffer.alloc(INPUT_WORDS * 2);
  /** Coils and discrete inputs, eight to a byte, the lowest address in the lowest bit (as on the wire). */
  readonly coil = Buffer.alloc(BITS / 8);
  readonly discrete = Buffer.alloc(BITS / 8);
  private faults = new Map<string, number>();
  private server: net.Server | undefined;
  private sockets = new Set<net.Socket>();
  private boundPort: number;
  private requests = 0;

  constructor(
    private readonly seed: number,
    port: number,
  ) {
    this.boundPort = port;
  }

  get port(): number {
    return this.boundPort;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** Read requests answered so far (including exceptions). */
  get requestCount(): number {
    return this.requests;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = new net.Server();
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      socket.on("error", () => {});
    });
    // No register buffers: jsmodbus then hands each read to these handlers, which answer from
    // the register map or with an exception, as a real device does.
    const modbus = new Modbus.server.TCP(server, { holding: undefined, input: undefined, coils: undefined, discrete: undefined } as unknown as { holding: Buffer; input: Buffer });
    modbus.on("readHoldingRegisters", (request, cb) => this.answer("holding", request, cb));
    modbus.on("readInputRegisters", (request, cb) => this.answer("input", request, cb));
    modbus.on("readCoils", (request, cb) => this.answer("coil", request, cb));
    modbus.on("readDiscreteInputs", (request, cb) => this.answer("discrete", request, cb));
    await listen(server, this.boundPort);
    this.boundPort = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  /** Set the coolant registers to the model's values for `tick`. */
  update(tick: number): void {
    const c = coolant(this.seed, tick);
    writeFloat32(this.holding, 0, c.supplyTemperature, "big");
    this.holding.writeInt16BE(Math.round(c.pressure * 100), 2 * 2);
    writeUint32(this.holding, 3, Math.round(c.flow * 10), "little");
    writeFloat32(this.holding, 5, c.returnTemperature, "little");
    writeUint32(this.input, 0, c.pumpRunSeconds, "big");
    this.input.writeInt16BE(Math.round(c.deviation * 100), 2 * 2);
  }

  /** Write raw 16-bit words (e.g. into the free holding range 100-199). */
  writeRegisters(table: RegisterTable, address: number, words: readonly number[]): void {
    const buf = table === "holding" ? this.holding : this.input;
    words.forEach((w, i) => buf.writeUInt16BE(w & 0xffff, (address + i) * 2));
  }

  /** Set coils or discrete inputs from `address` on. */
  writeBits(table: BitTable, address: number, values: readonly boolean[]): void {
    const buf = this[table];
    values.forEach((v, i) => {
      const a = address + i;
      buf[a >> 3] = v ? buf[a >> 3]! | (1 << (a & 7)) : buf[a >> 3]! & ~(1 << (a & 7));
    });
  }

  /** Make every read that covers `address` answer with exception `code` (undefined clears it). */
  setFault(table: RegisterTable | BitTable, address: number, code: number | undefined): void {
    const key = `${table}:${address}`;
    if (code === undefined) this.faults.delete(key);
    else this.faults.set(key, code);
  }

  private answer(table: RegisterTable | BitTable, request: unknown, cb: (payload: Buffer) => void): void {
    this.requests++;
    const req = request as InstanceType<typeof Modbus.ModbusTCPRequest>;
    const body = req.body as unknown as { fc: number; start: number; count: number };
    const { start, count } = body;
    let exception: number | undefined;
    for (let a = start; a < start + count && exception === undefined; a++) exception = this.faults.get(`${table}:${a}`);
    if (exception === undefined && !MAPPED[table].some(([lo, hi]) => start >= lo && start + count - 1 <= hi)) exception = 0x02;
    const responseBody =
      exception !== undefined
        ? new Modbus.responses.ExceptionResponseBody(body.fc as never, exception as never)
        : table === "holding"
          ? Modbus.responses.ReadHoldingRegistersResponseBody.fromRequest(req.body as never, this.holding)
          : table === "input"
            ? Modbus.responses.ReadInputRegistersResponseBody.fromRequest(req.body as never, this.input)
            : table === "coil"
              ? Modbus.responses.ReadCoilsResponseBody.fromRequest(req.body as never, this.coil)
              : Modbus.responses.ReadDiscreteInputsResponseBody.fromRequest(req.body as never, this.discrete);
    cb(Modbus.ModbusTCPResponse.fromRequest(req as never, responseBody as never).createPayload());
  }
}

/** Write a float32 at register `address` in the given word order (bytes big-endian per word). */
export function writeFloat32(buf: Buffer, address: number, value: number, wordOrder: "big" | "little"): void {
  const tmp = Buffer.alloc(4);
  tmp.writeFloatBE(value);
  placeWords(buf, address, tmp, wordOrder);
}

export function writeUint32(buf: Buffer, address: number, value: number, wordOrder: "big" | "little"): void {
  const tmp = Buffer.alloc(4);
  tmp.writeUInt32BE(value >>> 0);
  placeWords(buf, address, tmp, wordOrder);
}

function placeWords(buf: Buffer, address: number, be: Buffer, wordOrder: "big" | "little"): void {
  const off = address * 2;
  if (wordOrder === "big") be.copy(buf, off);
  else {
    be.copy(buf, off, 2, 4);
    be.copy(buf, off + 2, 0, 2);
  }
}
