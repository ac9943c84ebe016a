/** The one logger factory: pino, JSON lines on stdout, level from config. */
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } });
}

export const silentLogger: Logger = pino({ level: "silent" });
