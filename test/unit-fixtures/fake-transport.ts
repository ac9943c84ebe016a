/** A Transport that records what a protocol session sends, and client frames to drive it with. */
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { ClientFrameSchema, ServerFrameSchema, type ServerFrame } from "../../src/gen/weir/v1/protocol_pb.js";
import type { Transport } from "../../src/protocol/ports.js";

type ServerCase = NonNullable<ServerFrame["frame"]["case"]>;
type ServerValue<C extends ServerCase> = Extract<ServerFrame["frame"], { case: C }>["value"];

export class FakeTransport implements Transport {
  /** The client's address the audit trail reports. */
  peer = "203.0.113.7";
  readonly sent: Uint8Array[] = [];
  closed: { code: number; reason: string } | undefined;
  /** What bufferedAmount() reports. */
  buffered = 0;
  bufferedCalls = 0;

  send(bytes: Uint8Array): void {
    if (this.closed) throw new Error("send after close");
    this.sent.push(bytes);
  }

  close(code: number, reason: string): void {
    if (this.closed) throw new Error("closed twice");
    this.closed = { code, reason };
  }

  bufferedAmount(): number {
    this.bufferedCalls++;
    return this.buffered;
  }

  /** Every frame sent, decoded. */
  get frames(): ServerFrame["frame"][] {
    return this.sent.map((bytes) => fromBinary(ServerFrameSchema, bytes).frame);
  }

  /** The values of the frames of one kind, in the order they were sent. */
  framesOf<C extends ServerCase>(kind: C): Array<ServerValue<C>> {
    return this.frames.filter((f) => f.case === kind).map((f) => f.value as ServerValue<C>);
  }
}

export function clientFrame(frame: MessageInitShape<typeof ClientFrameSchema>["frame"]): Uint8Array {
  return toBinary(ClientFrameSchema, create(ClientFrameSchema, { frame }));
}
