import { describe, expect, it } from "vitest";
import type { RecordMetadata } from "kafkajs";
import { unconfirmedPartitions } from "../../src/processor/task-producers.js";

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
