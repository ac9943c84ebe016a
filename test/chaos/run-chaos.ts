/**
 * One chaos run: the world up, the client streaming, then each fault in turn while the stream
 * flows; per fault the time to the first ack of an event sent after it began, the time until
 * every event sent up to its end is answered, and (read back at the end with the independent
 * reader) events lost and duplicated among those sent during it; meanwhile the longest time any
 * consumer group of the job had records waiting while its committed offsets stood still. At the
 * end: every event id in Kafka exactly once and every final window of the job exactly once.
 */
import { Kafka, logLevel } from "kafkajs";
import { consumerLag } from "../../src/processor/lag.js";
import { repartitionTopic, resultsTopic } from "../../src/kafka-contract.js";
import { startChaosWorld, JOB, TENANT, waitUntil, type ChaosWorld } from "./chaos-world.js";
import { expectedWindows } from "./events.js";
import type { Fault } from "./faults.js";
import { readAll } from "./independent-reader.js";

export type FaultReport = {
  readonly fault: string;
  readonly firstAckMs: number;
  readonly allAnsweredMs: number;
  /** Events sent while the fault lasted (and until the next one began). */
  events: number;
  lost: number;
  duplicated: number;
  /** Longest time a consumer group of the job had records waiting and did not commit. */
  readonly stalledMs: number;
};

export type ChaosReport = {
  readonly faults: FaultReport[];
  readonly events: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly windows: number;
  readonly windowProblems: string[];
  readonly unexpectedExits: string[];
};

const GROUP = `weir-chaos-${JOB}`;

/** Per group: since when it has had records waiting with its committed offsets unchanged. */
class StallMonitor {
  private readonly admin;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly state = new Map<string, { committed: string; since: number | undefined }>();
  /** The longest stall seen since the last reset. */
  longestMs = 0;

  constructor(brokers: readonly string[]) {
    this.admin = new Kafka({ brokers: [...brokers], logLevel: logLevel.NOTHING, clientId: "weir-chaos-lag" }).admin();
  }

  async start(): Promise<void> {
    await this.admin.connect();
    this.timer = setInterval(() => void this.sample().catch(() => {}), 1000);
  }

  reset(): void {
    this.longestMs = 0;
  }

  private async sample(): Promise<void> {
    const now = Date.now();
    for (const [group, topic] of [
      [GROUP, repartitionTopic(GROUP)],
      [`${GROUP}.repartition`, "weir.events.http-access-log"],
    ] as const) {
      const lag = await consumerLag(this.admin, group, topic);
      const [committed] = await this.admin.fetchOffsets({ groupId: group, topics: [topic] });
      const position = JSON.stringify(committed?.partitions.map((p) => p.offset) ?? []);
      const waiting = [...lag.values()].some((l) => l > 1);
      const s = this.state.get(group) ?? { committed: position, since: undefined };
      if (!waiting || s.committed !== position) s.since = undefined;
      else s.since ??= now;
      s.committed = position;
      this.state.set(group, s);
      if (s.since !== undefined) this.longestMs = Math.max(this.longestMs, now - s.since);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.admin.disconnect().catch(() => {});
  }
}

export async function runChaos(faults: readonly Fault[], opts: { rate?: number; log?: (line: string) => void } = {}): Promise<ChaosReport> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`[chaos] ${line}\n`));
  const rate = opts.rate ?? 200;
  const world = await startChaosWorld({ rate, prefix: `chaos-${Date.now().toString(36)}`, log });
  const monitor = new StallMonitor(world.stack.kafkaBrokerList);
  try {
    await monitor.start();
    await waitUntil(() => world.latest().maxAcked >= rate * 3, "three seconds of acked traffic", 120_000);
    const reports: (FaultReport & { from: number })[] = [];
    for (const fault of faults) {
      await waitUntil(() => world.latest().low > world.latest().queued - rate * 2, "the stream to be flowing before the fault", 120_000);
      monitor.reset();
      const from = world.latest().queued + 1;
      const startedAt = Date.now();
      log(`fault: ${fault.name}`);
      await fault.inject(world);
      const endedAt = Date.now();
      const queuedAtEnd = world.latest().queued;
      await waitUntil(() => world.latest().maxAcked >= from, "an ack of an event sent after the fault began", 180_000);
      const firstAckMs = world.progress.find((p) => p.atMs >= startedAt && p.maxAcked >= from)!.atMs - startedAt;
      await waitUntil(() => world.latest().low > queuedAtEnd, "answers to every event sent until the fault ended", 180_000);
      const allAnsweredMs = Math.max(0, world.progress.find((p) => p.atMs >= endedAt && p.low > queuedAtEnd)!.atMs - endedAt);
      reports.push({ fault: fault.name, from, firstAckMs, allAnsweredMs, events: 0, lost: 0, duplicated: 0, stalledMs: monitor.longestMs });
      log(`  first ack after ${firstAckMs} ms; everything answered ${allAnsweredMs} ms after the fault ended; longest stall ${monitor.longestMs} ms`);
    }
    await world.drainClient(180_000);
    const total = world.latest().queued + 1;
    log(`client done: ${total} events`);

    // Every event id in Kafka, counted by a reader that shares no code with the gateway.
    const counts = new Map<number, number>();
    const prefix = `${world.prefix}-`;
    for (const r of await readAll(world.stack.kafkaBrokerList, "weir.events.http-access-log", { headersOnly: true })) {
      const id = r.headers.get("weir.id") ?? "";
      if (r.headers.get("weir.tenant") !== TENANT || !id.startsWith(prefix)) continue;
      const i = Number(id.slice(prefix.length));
      counts.set(i, (counts.get(i) ?? 0) + 1);
    }
    let lost = 0;
    let duplicated = 0;
    for (let i = 0; i < total; i++) {
      const c = counts.get(i) ?? 0;
      const report = reports.findLast((r) => r.from <= i);
      if (report) report.events++;
      if (c === 0) lost++;
      if (c > 1) duplicated++;
      if (report && c === 0) report.lost++;
      if (report && c > 1) report.duplicated++;
    }

    const windowProblems = await checkWindows(world, total, log);
    return {
      faults: reports.map(({ from: _from, ...r }) => r),
      events: total,
      lost,
      duplicated,
      windows: expectedWindows(total, rate, world.t0).size,
      windowProblems,
      unexpectedExits: [...world.unexpectedExits],
    };
  } finally {
    await monitor.stop();
    await world.close();
  }
}

/** Waits for a final window of every (host, minute) the events make, then checks each is there once with exact counts. */
async function checkWindows(world: ChaosWorld, total: number, log: (line: string) => void): Promise<string[]> {
  const expected = expectedWindows(total, world.rate, world.t0);
  // Per window: how many finals, and its latest result (a final, or an update after it: records
  // that came later than the job's out-of-orderness but within its allowed lateness correct it).
  let finals = new Map<string, { count: number; result: unknown }>();
  const others = new Map<string, number>();
  const read = async () => {
    finals = new Map();
    others.clear();
    for (const r of await readAll(world.stack.kafkaBrokerList, resultsTopic(JOB))) {
      if (r.headers.get("weir.tenant") !== TENANT) continue;
      const v = JSON.parse(r.value.toString()) as { kind: string; key: string; windowStartMs: number; result: unknown };
      const k = `${v.key.slice(v.key.indexOf("/") + 1)}|${v.windowStartMs}`;
      const seen = finals.get(k);
      if (v.kind === "final") finals.set(k, { count: (seen?.count ?? 0) + 1, result: v.result });
      else if (v.kind === "update" && seen) seen.result = v.result;
      else {
        const what = `${r.headers.get("weir.stream")}/${v.kind}`;
        others.set(what, (others.get(what) ?? 0) + 1);
      }
    }
    return [...expected].every(([k, want]) => JSON.stringify(finals.get(k)?.result) === JSON.stringify(want));
  };
  try {
    await waitUntil(read, "every host and minute's final window, with exact counts", 240_000);
  } catch (err) {
    log((err as Error).message);
  }
  const problems: string[] = [];
  for (const [k, want] of expected) {
    const got = finals.get(k);
    if (!got) problems.push(`${k}: no final window`);
    else if (got.count !== 1) problems.push(`${k}: ${got.count} final windows`);
    else if (JSON.stringify(got.result) !== JSON.stringify(want)) problems.push(`${k}: ${JSON.stringify(got.result)} instead of ${JSON.stringify(want)}`);
  }
  for (const k of finals.keys()) if (!expected.has(k)) problems.push(`${k}: a window no event made`);
  if (others.size > 0) problems.push(`other outputs: ${JSON.stringify(Object.fromEntries(others))}`);
  if (problems.length > 0) {
    // Where the window's records went missing or doubled: the job's repartition topic, by event id.
    const prefix = `${world.prefix}-`;
    const seen = new Map<number, number>();
    for (const r of await readAll(world.stack.kafkaBrokerList, repartitionTopic(GROUP), { headersOnly: true })) {
      const id = r.headers.get("weir.id") ?? "";
      if (id.startsWith(prefix)) seen.set(Number(id.slice(prefix.length)), (seen.get(Number(id.slice(prefix.length))) ?? 0) + 1);
    }
    const missing = Array.from({ length: total }, (_, i) => i).filter((i) => !seen.has(i));
    const twice = [...seen].filter(([, c]) => c > 1).map(([i]) => i);
    problems.push(
      `repartition topic: ${missing.length} events missing (${missing.slice(0, 20).join(",")}), ${twice.length} more than once (${twice.slice(0, 20).join(",")})`,
    );
    for (const p of world.processors)
      log(
        `${p.name}:\n${p.lines
          .map((l) => l.text)
          .filter((t) => /skipping|restored|failed|restarting|fatal|late|idle/i.test(t))
          .join("\n")}`,
      );
  }
  return problems;
}

/** The report as a Markdown table (RELIABILITY.md, the suite's output). */
export function formatReport(report: ChaosReport): string {
  const rows = report.faults.map((f) => `| ${f.fault} | ${f.firstAckMs} | ${f.allAnsweredMs} | ${f.stalledMs} | ${f.events} | ${f.lost} | ${f.duplicated} |`);
  return [
    "| fault | first ack after (ms) | all answered after it ended (ms) | longest stall (ms) | events | lost | duplicated |",
    "|---|---|---|---|---|---|---|",
    ...rows,
    "",
    `${report.events} events: ${report.lost} lost, ${report.duplicated} duplicated; ${report.windows} final windows expected, problems: ${report.windowProblems.length === 0 ? "none" : report.windowProblems.slice(0, 10).join("; ")}; processes that exited on their own: ${report.unexpectedExits.length === 0 ? "none" : report.unexpectedExits.join("; ")}`,
  ].join("\n");
}
