/**
 * kafkajs's own log lines, routed to Weir's logger at warn and above (a consumer that lost its
 * coordinator must say so), each distinct message at most once per interval: during a broker
 * restart kafkajs repeats the same connection error for every retry of every client, and the
 * suppressed count goes out with the next line of that message.
 */
import { logLevel as kafkaLogLevel, type LogEntry, type logCreator } from "kafkajs";
import type { Logger } from "../../log.js";
import { LogThrottle } from "../../log-throttle.js";

export function kafkaLogCreator(logger: Logger, intervalMs = 10_000): logCreator {
  const throttle = new LogThrottle(intervalMs);
  return () =>
    ({ level, namespace, log }: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _name, ...extra } = log;
      const { log: emit, suppressed } = throttle.admit(message);
      if (!emit) return;
      const fields = { kafka: { namespace, ...extra, ...(suppressed ? { suppressed } : {}) } };
      if (level <= kafkaLogLevel.ERROR) logger.error(fields, message);
      else if (level === kafkaLogLevel.WARN) logger.warn(fields, message);
      else logger.debug(fields, message);
    };
}
