/**
 * PublishBatch frames for the load generator, cheap enough that the generator is not the limit:
 * one batch is encoded once as a template with fixed-width placeholder ids; each send copies the
 * template and writes fresh ids in place (the ids are what makes every event new to the dedup).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import { accessLogEvent } from "../../src/generators/access-log.js";
import { createRng } from "../../src/generators/rng.js";

const ID_WIDTH = 24;

export type FrameFactory = {
  readonly eventsPerFrame: number;
  readonly bytesPerFrame: number;
  /** A frame whose events get ids `${prefix}${n}` for n in [first, first + eventsPerFrame). */
  frame(first: number): Buffer;
  /** The counter encoded in an event id made by this factory. */
  counterOf(id: string): number;
};

export function frameFactory(prefix: string, eventsPerFrame: number, seed = 1): FrameFactory {
  const digits = ID_WIDTH - prefix.length;
  if (digits < 10) throw new Error(`id prefix ${prefix} too long`);
  const placeholder = (j: number) => `${prefix}${"#".repeat(digits - 6)}${String(j).padStart(6, "0")}`;
  const rng = createRng(seed);
  const baseTimeMs = Date.now() - 60_000;
  const events = Array.from({ length: eventsPerFrame }, (_, j) => ({ ...accessLogEvent(rng, j, { baseTimeMs, maxDisorderMs: 0 }), id: placeholder(j) }));
  const template = Buffer.from(toBinary(ClientFrameSchema, create(ClientFrameSchema, { frame: { case: "publish", value: { seq: 1n, events } } })));
  const offsets = events.map((e, j) => {
    const at = template.indexOf(e.id, 0, "latin1");
    if (at < 0) throw new Error(`placeholder ${j} not found`);
    return at;
  });
  return {
    eventsPerFrame,
    bytesPerFrame: template.length,
    frame(first) {
      const out = Buffer.from(template);
      for (let j = 0; j < offsets.length; j++) out.write(prefix + String(first + j).padStart(digits, "0"), offsets[j]!, "latin1");
      return out;
    },
    counterOf: (id) => Number(id.slice(prefix.length)),
  };
}
