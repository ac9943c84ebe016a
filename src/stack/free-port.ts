import { createServer, type Server } from "node:net";

// Ports come from the OS (listen on 0) so parallel test runs and other engineers' stacks never collide.
// All requested ports are held open together before any is released, so one call never returns duplicates.
export async function freePorts(count: number, host = "127.0.0.1"): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ port: 0, host, exclusive: true }, resolve);
      });
    }
    return servers.map((s) => {
      const addr = s.address();
      if (addr === null || typeof addr === "string") throw new Error("free-port: server has no TCP address");
      return addr.port;
    });
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
  const [port] = await freePorts(1, host);
  return port!;
}

// Used before (re)starting a service on a persisted port, to fail with a clear message instead of a log tail.
export async function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  const server = createServer();
  return new Promise<boolean>((resolve) => {
    server.once("error", () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Waits briefly for a port to become free: a service that was just killed may still be closing its sockets.
 * Throws with `what` in the message if it stays busy.
 */
export async function waitPortFree(port: number, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await isPortFree(port))) {
    if (Date.now() > deadline) throw new Error(`${what}: port 127.0.0.1:${port} is already in use by another process`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
