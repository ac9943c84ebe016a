/**
 * The gateway's subscription reader thread (decision 0025): the live tails' kafkajs consumers run
 * here, so fetching and decoding every record of a subscribed topic does not take the ingest
 * thread's time. Each fetched batch goes to the main thread packed (tail-thread-messages.ts); a
 * tail waits once MAX_BATCHES_IN_FLIGHT of its batches are not dispatched yet.
 */
import { parentPort, workerData } from "node:worker_threads";
import { Kafka, logLevel } from "kafkajs";
import { kafkajsSecurity } from "../src/adapters/kafka/kafka-security.js";
import { openKafkajsTail } from "../src/adapters/kafka/kafkajs-topic-readers.js";
import type { TopicTail } from "../src/subscribe/ports.js";
import { MAX_BATCHES_IN_FLIGHT, packBatch, type TailThreadEvent, type TailThreadRequest } from "../src/subscribe/tail-thread-messages.js";
import type { TailThreadSetup } from "../src/adapters/kafka/tail-thread.js";

const setup = workerData as TailThreadSetup;
const kafka = new Kafka({ brokers: [...setup.brokers], clientId: setup.clientId, logLevel: logLevel.NOTHING, ...kafkajsSecurity(setup.security) });
const port = parentPort!;

type OpenTail = { tail?: TopicTail; closed: boolean; inFlight: number; resume?: () => void };
const tails = new Map<number, OpenTail>();

const post = (event: TailThreadEvent, transfer: ArrayBuffer[] = []): void => port.postMessage(event, transfer);

async function open(id: number, topic: string, from?: readonly number[]): Promise<void> {
  const state: OpenTail = { closed: false, inFlight: 0 };
  tails.set(id, state);
  try {
    const tail = await openKafkajsTail(kafka, topic, from);
    state.tail = tail;
    if (state.closed) return void (await tail.close());
    tail.add({
      onRecords: (partition, records, next, readAtMs) => {
        const batch = packBatch(partition, records, next, readAtMs);
        post({ kind: "records", id, ...batch }, [batch.values]);
        if (++state.inFlight < MAX_BATCHES_IN_FLIGHT) return;
        return new Promise<void>((resolve) => (state.resume = resolve));
      },
    });
    post({ kind: "opened", id, next: [...tail.next] });
  } catch (err) {
    tails.delete(id);
    post({ kind: "failed", id, message: (err as Error).message });
  }
}

port.on("message", (m: TailThreadRequest) => {
  if (m.kind === "open") void open(m.id, m.topic, m.from);
  else if (m.kind === "taken") {
    const state = tails.get(m.id);
    if (!state) return;
    state.inFlight--;
    const resume = state.resume;
    state.resume = undefined;
    resume?.();
  } else {
    const state = tails.get(m.id);
    tails.delete(m.id);
    if (!state) return;
    state.closed = true;
    state.resume?.();
    void state.tail?.close();
  }
});
