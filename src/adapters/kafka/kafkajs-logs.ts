/**
 * kafkajs's own log lines, routed to Weir's logger at warn and above (a consumer that lost its
 * coordinator must say so), each distinct message at most once per interval: during a broker
 * restart kafkajs repeats the same connection error for every retry of every client, and the
 * suppressed count goes out with the next line of that message.
 */
import { logLevel as kafkaLogLevel, type LogEntry, type logCreator } from "kafkajs";
import type { Logger } from "../../log.js";

export function kafkaLogCreator(logger: Logger, intervalMs = 10_000): logCreator {
  const seen = new Map<string, { at: number; suppressed: number }>();
  return () =>
    ({ level, namespace, log }: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _name, ...extra } = log;
      const now = Date.now();
      const last = seen.get(message);
      if (last && now - last.at < intervalMs) {
        last.suppressed++;
        return;
      }
      if (seen.size > 1000) seen.clear();
      seen.set(message, { at: now, suppressed: 0 });
      const fields = { kafka: { namespace, ...extra, ...(last?.suppressed ? { suppressed: last.suppressed } : {}) } };
      if (level <= kafkaLogLevel.ERROR) logger.error(fields, message);
      else if (level === kafkaLogLevel.WARN) logger.warn(fields, message);
      else logger.debug(fields, message);
    };
}
