/**
 * One state entry per host, kept for ever: the state-restore benchmark's job (a million hosts, a
 * million entries). Keyed by the producers' key (the host): no repartition step.
 */
import { defineJob, keyedProcess, stream } from "weir/jobs";
import { HttpAccessLogSchema } from "weir/events";

type HostState = { requests: number; errors: number; lastStatus: number; lastPath: string; firstSeenMs: number; lastSeenMs: number };

export default defineJob({
  name: "host-state",
  version: 1,
  description: "requests and errors per host since it was first seen",
  inputs: { logs: stream(HttpAccessLogSchema) },
  map: ({ value }) => ({ status: value.status, path: value.path }),
  step: () =>
    keyedProcess<{ status: number; path: string }, never>({
      streams: [],
      process: (record, ctx) => {
        const hosts = ctx.store<HostState>("hosts");
        const seen = hosts.get(record.key);
        hosts.put(record.key, {
          requests: (seen?.requests ?? 0) + 1,
          errors: (seen?.errors ?? 0) + (record.value.status >= 500 ? 1 : 0),
          lastStatus: record.value.status,
          lastPath: record.value.path,
          firstSeenMs: seen?.firstSeenMs ?? record.timestampMs,
          lastSeenMs: record.timestampMs,
        });
      },
    }),
});
