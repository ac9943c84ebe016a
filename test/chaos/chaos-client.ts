/**
 * The chaos suite's edge client, a process of its own (SIGKILLed and restarted by one fault): a
 * WeirClient with a FileOutbox over every gateway, sending access logs at a steady rate. Event i
 * is a pure function of i (chaosEvent), so the suite knows every event and every window without
 * this process telling it. Every 100 ms it prints
 *   progress {"queued":<highest index in the outbox>,"maxAcked":<highest index answered>,"low":<lowest index not answered>}
 * SIGUSR2: stop sending, wait until everything is answered, print "done <stats>", exit.
 * argv: urls(comma-separated) tenant apiKey outboxPath prefix from ratePerSecond t0Ms
 */
import { FileOutbox, WeirClient } from "../../src/client/index.js";
import { chaosEvent } from "./events.js";

const [urls, tenant, apiKey, outboxPath, prefix, fromArg, rateArg, t0Arg] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
];
const from = Number(fromArg);
const rate = Number(rateArg);
const t0 = Number(t0Arg);

const outbox = await FileOutbox.open(outboxPath);
const client = await WeirClient.open({ urls: urls.split(","), tenant, apiKey, outbox, maxBufferedEvents: 2000 });
let stopping = false;
process.on("SIGUSR2", () => (stopping = true));

let queued = from - 1;
let maxAcked = -1;
const answered = new Set<number>();
let low = from;
const progress = setInterval(() => {
  while (answered.has(low)) answered.delete(low++);
  process.stdout.write(`progress ${JSON.stringify({ queued, maxAcked, low })}\n`);
}, 100);

const answers: Promise<unknown>[] = [];
const startedAt = Date.now();
for (let i = from; !stopping; i++) {
  // Paced: event i goes out no earlier than its place in the rate allows (event times never run ahead of the clock).
  const due = startedAt + ((i - from) * 1000) / rate;
  if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
  if (stopping) break;
  const handle = await client.send(chaosEvent(prefix, i, rate, t0));
  queued = i;
  answers.push(
    handle.acked.then(
      () => {
        answered.add(i);
        if (i > maxAcked) maxAcked = i;
      },
      (err: unknown) => process.stdout.write(`refused ${i} ${String(err)}\n`),
    ),
  );
}
await Promise.all(answers);
await client.flush();
clearInterval(progress);
while (answered.has(low)) answered.delete(low++);
process.stdout.write(`progress ${JSON.stringify({ queued, maxAcked, low })}\n`);
process.stdout.write(`done ${JSON.stringify(client.stats)}\n`);
await client.close();
process.exit(0);
