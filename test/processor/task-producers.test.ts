import { describe, expect, it } from "vitest";
import type { RecordMetadata } from "kafkajs";
import { endOffsets, sendChunks, unconfirmedPartitions } from "../../src/processor/task-producers.js";

const meta = (topicName: string, partition: number, errorCode = 0): RecordMetadata => ({ topicName, partition, errorCode, baseOffset: "0" });

describe("unconfirmedPartitions: a transactional send kafkajs resolved without writing every partition", () => {
  const sent = [
    {
      topic: "rep",
      messages: [
        { value: "a", partition: 0 },
        { value: "b", partition: 2 },
        { value: "c", partition: 2 },
      ],
    },
    { topic: "marks", messages: [{ value: "m", partition: 1 }] },
  ];

  it("is empty when every partition records were sent to is confirmed without error", () => {
    expect(unconfirmedPartitions(sent, [meta("rep", 0), meta("rep", 2), meta("marks", 1)])).toEqual([]);
  });

  it("names each partition the result leaves out or reports with an error code", () => {
    expect(unconfirmedPartitions(sent, [meta("rep", 0), meta("marks", 1, 6)])).toEqual(["rep/2", "marks/1"]);
    expect(unconfirmedPartitions(sent, [])).toEqual(["rep/0", "rep/2", "marks/1"]);
  });

  it("cannot check records left to the partitioner (no explicit partition)", () => {
    expect(unconfirmedPartitions([{ topic: "results", messages: [{ key: "k", value: "v" }] }], [])).toEqual([]);
  });
});

describe("sendChunks: a transaction's records in sends of a bounded size", () => {
  const topics = [
    { topic: "results", messages: Array.from({ length: 5 }, (_, i) => `r${i}`) },
    { topic: "changelog", messages: Array.from({ length: 3 }, (_, i) => `c${i}`) },
  ];

  it("keeps every record once, in order, at most `max` per send, a topic split where it must be", () => {
    const chunks = sendChunks(topics, 3);
    expect(chunks.map((c) => c.reduce((n, t) => n + t.messages.length, 0))).toEqual([3, 3, 2]);
    expect(chunks).toEqual([
      [{ topic: "results", messages: ["r0", "r1", "r2"] }],
      [
        { topic: "results", messages: ["r3", "r4"] },
        { topic: "changelog", messages: ["c0"] },
      ],
      [{ topic: "changelog", messages: ["c1", "c2"] }],
    ]);
  });

  it("sends everything at once when it fits, and nothing for no records", () => {
    expect(sendChunks(topics, 100)).toEqual([topics]);
    expect(sendChunks([], 100)).toEqual([]);
  });
});

describe("endOffsets: where a send's records end, per partition (a disk-state task's checkpoint)", () => {
  it("is the base offset plus the records sent there, for records sent by explicit partition only", () => {
    const sent = [
      {
        topic: "log",
        messages: [
          { value: "a", partition: 0 },
          { value: "b", partition: 0 },
          { value: "c", partition: 3 },
        ],
      },
      { topic: "alerts", messages: [{ value: "x", key: "k" }] },
    ];
    const written: RecordMetadata[] = [
      { topicName: "log", partition: 0, errorCode: 0, baseOffset: "40" },
      { topicName: "log", partition: 3, errorCode: 0, baseOffset: "7" },
      { topicName: "alerts", partition: 1, errorCode: 0, baseOffset: "9" },
    ];
    expect(endOffsets(sent, written)).toEqual(
      new Map([
        ["log/0", 42],
        ["log/3", 8],
      ]),
    );
  });

  it("leaves out a partition whose write failed", () => {
    expect(endOffsets([{ topic: "log", messages: [{ value: "a", partition: 0 }] }], [{ ...meta("log", 0, 6), baseOffset: "5" }])).toEqual(new Map());
  });
});
