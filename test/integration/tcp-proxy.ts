/**
 * A TCP proxy on a free loopback port that a test can cut (drop every connection, refuse new ones)
 * and restore, or slow down (every chunk held `latencyMs` each way): a flaky uplink.
 */
import { createServer, connect, type Server, type Socket } from "node:net";

export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private cutOff = false;
  /** Connections refused while cut. */
  refused = 0;
  /** Added to every chunk, each way (0: none). Chunks keep their order. */
  latencyMs = 0;
  /**
   * Where new connections go. May be set after start (0 until then: connections are refused), for
   * a proxy whose port must be known before its target exists (a broker's advertised front).
   */
  targetPort: number;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    targetPort: number,
  ) {
    this.targetPort = targetPort;
  }

  static async start(targetPort = 0, targetHost = "127.0.0.1"): Promise<TcpProxy> {
    // The handler runs on connections, so only after `proxy` below is set.
    const server = createServer((client) => {
      if (proxy.cutOff || proxy.targetPort === 0) {
        proxy.refused++;
        return client.destroy();
      }
      const upstream = connect(proxy.targetPort, targetHost);
      for (const s of [client, upstream]) {
        proxy.sockets.add(s);
        s.on("close", () => proxy.sockets.delete(s));
        s.on("error", () => {});
      }
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      const forward = (from: Socket, to: Socket) => {
        // One queue and one timer per direction: chunks leave strictly in arrival order, whatever
        // the latency was when each arrived (separate timers per chunk can fire out of order when
        // the latency changes, which garbles the byte stream, something TCP never does).
        const queue: Array<{ due: number; chunk: Buffer }> = [];
        let timer: NodeJS.Timeout | undefined;
        const pump = () => {
          timer = undefined;
          const now = Date.now();
          while (queue.length > 0 && queue[0]!.due <= now) {
            const { chunk } = queue.shift()!;
            if (!to.destroyed) to.write(chunk);
          }
          if (queue.length > 0) timer = setTimeout(pump, queue[0]!.due - now);
        };
        from.on("data", (chunk: Buffer) => {
          queue.push({ due: Date.now() + proxy.latencyMs, chunk });
          if (!timer) pump();
        });
        from.on("close", () => clearTimeout(timer));
      };
      forward(client, upstream);
      forward(upstream, client);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const proxy = new TcpProxy(server, (server.address() as { port: number }).port, targetPort);
    return proxy;
  }

  /** Drops every connection at once (no close handshake) and refuses new ones until restore(). */
  cut(): void {
    this.cutOff = true;
    for (const s of this.sockets) s.resetAndDestroy();
  }

  restore(): void {
    this.cutOff = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
