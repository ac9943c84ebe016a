/**
 * The client test suite that runs unchanged on Node, Deno and in Chromium (test/runtimes runs it;
 * test/integration/client-runtimes.test.ts is the host). Each runtime's entry (suite-node.ts,
 * suite-deno.ts, suite-browser.ts) hands it the client module of its platform and a durable outbox
 * of its own kind (a file on Node and Deno, IndexedDB in the browser).
 *
 * Params from the host: urlA and urlB (two real gateways; the host stops A with SIGSTOP on
 * control("freeze-a") and kills it on control("kill-a")),
 * deadUrl (nothing listens there), subscribeUrl (B's /v1/subscribe), tenant, apiKey, prefix
 * (unique per runtime: the host reads Kafka back by it), symbol (a short one of its own, as a quote
 * symbol is at most 32 characters).
 */
import { QuoteSchema } from "../../../src/gen/weir/events/v1/market_pb.js";
import type * as Client from "../../../src/client/portable.js";
import type { SuiteEnv, SuiteReport } from "../../runtimes/suite-types.js";
import { cases, check, checkEqual } from "../../runtimes/suite-kit.js";

export type Platform = {
  readonly client: typeof Client;
  /** A durable outbox called `name`; opening the same name again gets the same events. */
  openOutbox(name: string): Promise<Client.Outbox>;
};

type Params = { urlA: string; urlB: string; deadUrl: string; subscribeUrl: string; tenant: string; apiKey: string; prefix: string; symbol: string };

const quote = { symbol: "ACME", bid: 10.5, ask: 10.6, bidSize: 100, askSize: 200, venue: "XNAS" };

export async function clientSuite(env: SuiteEnv, platform: Platform): Promise<SuiteReport> {
  const p = env.params as Params;
  const { WeirClient, envelopeOf, ResultCode, EventRefusedError, subscribe } = platform.client;
  const t = cases(env, { timeoutMs: 120_000 });
  const auth = { tenant: p.tenant, apiKey: p.apiKey, backoff: { initialMs: 50, maxMs: 500 } };
  const event = (id: string, symbol = "ACME") => envelopeOf(QuoteSchema, { ...quote, symbol }, { id, partitionKey: symbol });
  const ids = (name: string, n: number) => Array.from({ length: n }, (_, i) => `${p.prefix}-${name}-${i}`);
  const isDelivered = (code: Client.ResultCode) => code === ResultCode.ACK || code === ResultCode.DUPLICATE;

  await t.case("publishes with linger batching and a promise per event", async () => {
    const client = await WeirClient.open({ ...auth, urls: p.urlB, lingerMs: 10 });
    const sent = ids("batch", 300);
    const results = await Promise.all(sent.map((id) => client.publish(event(id))));
    await client.close();
    checkEqual(results.filter((r) => r.code === ResultCode.ACK).length, 300, "ACKs");
    return { ids: sent };
  });

  await t.case("an invalid event rejects with its code; it is not retried", async () => {
    const client = await WeirClient.open({ ...auth, urls: p.urlB });
    const bad = envelopeOf(QuoteSchema, { ...quote, bid: 11, ask: 10 }, { id: `${p.prefix}-invalid` });
    const error = await client.publish(bad).then(
      () => undefined,
      (e: unknown) => e,
    );
    await client.close();
    check(error instanceof EventRefusedError, `EventRefusedError, got ${String(error)}`);
    checkEqual([error.code, error.errorCode], [ResultCode.INVALID, "WEIR_ERR_INVALID_PAYLOAD"], "refusal");
  });

  await t.case("skips an unreachable gateway of the list", async () => {
    const client = await WeirClient.open({ ...auth, urls: [p.deadUrl, p.urlB] });
    const [id] = ids("skip", 1) as [string];
    const result = await client.publish(event(id));
    await client.close();
    check(isDelivered(result.code), `delivered, got ${result.code}`);
    return { ids: [id] };
  });

  await t.case("keeps events in its outbox across a restart and sends them when a gateway is reachable", async () => {
    const name = `${p.prefix}-outbox`;
    const sent = ids("outbox", 50);
    // Offline: nothing reachable; the events wait in the outbox.
    const offline = await WeirClient.open({ ...auth, urls: p.deadUrl, outbox: await platform.openOutbox(name) });
    for (const id of sent) await offline.send(event(id));
    checkEqual(offline.stats.unanswered, 50, "unanswered while offline");
    await offline.close();
    // Restarted on the same outbox, online.
    const answered: string[] = [];
    const online = await WeirClient.open({
      ...auth,
      urls: p.urlB,
      outbox: await platform.openOutbox(name),
      onResult: (r) => isDelivered(r.code) && answered.push(r.id),
    });
    checkEqual(online.stats.recovered, 50, "recovered from the outbox");
    await online.flush();
    await online.close();
    checkEqual(answered, sent, "answers of the recovered events, in order");
    const reopened = await platform.openOutbox(name);
    checkEqual((await reopened.load()).length, 0, "events left in the outbox");
    await reopened.close();
    return { ids: sent };
  });

  await t.case("fails over when its gateway is killed mid-stream; nothing unanswered is lost", async () => {
    const connected: string[] = [];
    const client = await WeirClient.open({
      ...auth,
      urls: [p.urlA, p.urlB],
      maxBufferedEvents: 200,
      onConnection: (e) => e.kind === "connected" && connected.push(e.url),
    });
    const sent = ids("failover", 2000);
    const answers: Array<Promise<Client.EventResult>> = [];
    let killed: Promise<unknown> | undefined;
    let unansweredAtKill = 0;
    // Bursts of 100 sends keep a hundred or more events unanswered at any time. Once 500 are
    // acked, gateway A is frozen (so batches stay at it, unanswered, some of them perhaps in
    // Kafka already), then killed.
    for (let i = 0; i < sent.length; i += 100) {
      const burst = sent.slice(i, i + 100).map((id, j) => client.send(event(id, `S${(i + j) % 7}`)));
      for (const receipt of await Promise.all(burst)) answers.push(receipt.acked);
      if (!killed && client.stats.acked >= 500) {
        await env.control("freeze-a");
        killed = (async () => {
          while (client.stats.inFlight < 50) await new Promise((r) => setTimeout(r, 5));
          unansweredAtKill = client.stats.inFlight;
          await env.control("kill-a");
        })();
      }
    }
    const results = await Promise.all(answers);
    await killed;
    const stats = client.stats;
    await client.close();
    check(unansweredAtKill >= 50, `events were unanswered when the gateway died (${unansweredAtKill})`);
    check(
      results.every((r) => isDelivered(r.code)),
      "every event delivered",
    );
    checkEqual([connected[0], connected.at(-1)], [p.urlA, p.urlB], "first and last gateway");
    return { ids: sent, unansweredAtKill, duplicates: stats.duplicates };
  });

  await t.case("subscribes as an async iterator and resumes from a delivery's token", async () => {
    const key = p.symbol;
    const stream = `events.${QuoteSchema.typeName}`;
    let live!: () => void;
    const subscribed = new Promise<void>((resolve) => (live = resolve));
    const first = subscribe({ url: p.subscribeUrl, tenant: p.tenant, apiKey: p.apiKey, stream, key, onSubscribed: () => live() });
    await subscribed;
    const client = await WeirClient.open({ ...auth, urls: p.urlB });
    const sent = ids("sub", 20);
    await Promise.all(sent.map((id) => client.publish(event(id, key))));
    await client.close();
    const got: string[] = [];
    for await (const d of first) {
      got.push(d.key);
      if (got.length === 8) break;
    }
    const token = first.resumeToken!;
    const second = subscribe({ url: p.subscribeUrl, tenant: p.tenant, apiKey: p.apiKey, stream, key, from: { resumeToken: token } });
    let rest = 0;
    for await (const d of second) {
      checkEqual(d.key, key, "key");
      if (++rest === 12) break;
    }
    checkEqual([got.length, rest], [8, 12], "deliveries before and after the resume");
    return { ids: sent };
  });

  return t.report();
}
