/**
 * The baseline a user would write by hand instead of Weir (issue 16): a `ws` server that decodes
 * the same Protobuf frames and produces each batch's events to Kafka (idempotent, acks=all),
 * answering the batch once Kafka has it; several batches in flight per connection. No
 * validation, no dedup, no admission bound, no dead letters, no metrics. Run as a child process:
 * prints "port <n>" once listening. `BENCH_BROKERS` names Kafka; the topic is made if missing.
 *
 * `BENCH_CLIENT` picks the Kafka client, written as each one's README shows: `confluent` (the
 * gateway's default client, through its KafkaJS-compatible API) or `kafkajs`.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { KafkaJS } from "@confluentinc/kafka-javascript";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { WebSocketServer } from "ws";
import { ClientFrameSchema, EventResultSchema, ResultCode, ServerFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";

const TOPIC = "weir.bench.hand-relay";
const CREDIT = 4096;
const brokers = [process.env.BENCH_BROKERS ?? "127.0.0.1:9092"];
type Send = (messages: Array<{ key: string; value: Buffer; headers: Record<string, string> }>) => Promise<unknown>;

async function kafkajsProducer(): Promise<Send> {
  const kafka = new Kafka({ brokers, clientId: "hand-relay", logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3 }] }).catch(() => false);
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  return (messages) => producer.send({ topic: TOPIC, acks: -1, messages });
}

async function confluentProducer(): Promise<Send> {
  const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers, clientId: "hand-relay", logLevel: KafkaJS.logLevel.NOTHING } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3 }] }).catch(() => false);
  await admin.disconnect();
  const producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 } });
  await producer.connect();
  return (messages) => producer.send({ topic: TOPIC, messages });
}

const send = process.env.BENCH_CLIENT === "kafkajs" ? await kafkajsProducer() : await confluentProducer();

const encode = (frame: Parameters<typeof create<typeof ServerFrameSchema>>[1]) => toBinary(ServerFrameSchema, create(ServerFrameSchema, frame));

const server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, maxPayload: 8 * 1024 * 1024 });
server.on("connection", (ws) => {
  ws.on("message", (data: Buffer) => {
    const frame = fromBinary(ClientFrameSchema, data).frame;
    if (frame.case === "hello") {
      ws.send(
        encode({
          frame: {
            case: "welcome",
            value: { credit: CREDIT, maxBatchEvents: 1000, maxEventBytes: 262_144, maxFrameBytes: 4 * 1024 * 1024, gatewayId: "hand-relay" },
          },
        }),
      );
      return;
    }
    if (frame.case !== "publish") return;
    const { seq, events } = frame.value;
    // Not awaited: the next frame's send starts while this one waits for Kafka.
    void send(events.map((e) => ({ key: e.partitionKey || e.id, value: Buffer.from(e.payload), headers: { "weir.id": e.id, "weir.type": e.type } })))
      .then(
        () => ResultCode.ACK,
        () => ResultCode.RETRY_AFTER,
      )
      .then((code) => {
        const results = events.map((e) => create(EventResultSchema, { id: e.id, code, retryAfterMs: code === ResultCode.ACK ? 0 : 100 }));
        if (ws.readyState === ws.OPEN) ws.send(encode({ frame: { case: "result", value: { seq, results, credit: events.length } } }));
      });
  });
});
server.on("listening", () => {
  const address = server.address();
  process.stdout.write(`port ${typeof address === "object" && address ? address.port : 0}\n`);
});
process.on("SIGTERM", () => {
  server.close();
  process.exit(0);
});
