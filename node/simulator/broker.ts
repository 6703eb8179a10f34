/**
 * An in-process MQTT broker (aedes) on 127.0.0.1, for the simulator when no broker is given.
 * It can be stopped and started again on the same port, dropping every client, to exercise
 * reconnection.
 */
import net from "node:net";
import { Aedes } from "aedes";

export class SimBroker {
  private broker: Aedes | undefined;
  private server: net.Server | undefined;
  private sockets = new Set<net.Socket>();
  private boundPort: number;

  constructor(port: number) {
    this.boundPort = port;
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.boundPort}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** The running aedes instance (for its events, e.g. "ack" when a client acknowledges). */
  get aedes(): Aedes | undefined {
    return this.broker;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const broker = await Aedes.createBroker();
    const server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      broker.handle(socket);
    });
    await listen(server, this.boundPort);
    this.boundPort = (server.address() as net.AddressInfo).port;
    this.broker = broker;
    this.server = server;
  }

  async stop(): Promise<void> {
    const { broker, server } = this;
    if (!server || !broker) return;
    this.server = undefined;
    this.broker = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
    await new Promise<void>((resolve) => broker.close(() => resolve()));
  }
}

export function listen(server: net.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
}
