/**
 * The dashboard's frames (gateway/dashboard/codec.ts) as the gateway reads them: Hello with the
 * protocol version and the dashboard's client id; Subscribe starting from a resume token, else
 * from a time, else at the latest record; every ServerFrame decoded to protobuf-es's oneof.
 */
import { expect, test } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema, ServerFrameSchema } from "../../../src/gen/weir/v1/protocol_pb.js";
import { decodeServerFrame, encodeHello, encodeSubscribe } from "../../../gateway/dashboard/codec.js";

const client = (bytes: Uint8Array) => fromBinary(ClientFrameSchema, bytes).frame;

test("Hello carries protocol version 1, the credentials and the dashboard's client id", () => {
  expect(client(encodeHello({ tenant: "démo", apiKey: "kéy 🔑" }))).toMatchObject({
    case: "hello",
    value: { protocolVersion: 1, tenant: "démo", apiKey: "kéy 🔑", clientId: "weir-dashboard" },
  });
  expect(client(encodeHello({ tenant: "t", apiKey: "k", clientId: "other" })).value).toMatchObject({ clientId: "other" });
});

test("Subscribe starts at the resume token, else at the time (whole ms, not before 0), else at the latest record", () => {
  const sub = (init: Parameters<typeof encodeSubscribe>[0]) => {
    const frame = client(encodeSubscribe(init));
    if (frame.case !== "subscribe") throw new Error(`decoded ${String(frame.case)}`);
    return frame.value;
  };
  expect(sub({ stream: "alerts", resumeToken: "tok", fromTimestampMs: 5 })).toMatchObject({
    stream: "alerts",
    key: "",
    keyPrefix: "",
    start: { case: "resumeToken", value: "tok" },
  });
  expect(sub({ stream: "alerts", resumeToken: "" }).start).toEqual({ case: "resumeToken", value: "" }); // an empty token is still a token
  expect(sub({ stream: "results.fraud", fromTimestampMs: 1_700_000_000_123.9 }).start).toEqual({ case: "fromTimestampMs", value: 1_700_000_000_123n });
  expect(sub({ stream: "results.fraud", fromTimestampMs: 0 }).start).toEqual({ case: "fromTimestampMs", value: 0n }); // present, though zero
  expect(sub({ stream: "results.fraud", fromTimestampMs: -60_000 }).start).toEqual({ case: "fromTimestampMs", value: 0n });
  expect(sub({ stream: "results.risk-limits" }).start).toEqual({ case: undefined });
});

test("server frames decode to protobuf-es's oneof, unknown fields and frames included", () => {
  const frame = (init: Parameters<typeof create<typeof ServerFrameSchema>>[1]) => toBinary(ServerFrameSchema, create(ServerFrameSchema, init));
  expect(decodeServerFrame(frame({ frame: { case: "subscribed", value: { stream: "alerts", slowPolicy: "disconnect" } } }))).toMatchObject({
    case: "subscribed",
    value: { stream: "alerts", slowPolicy: "disconnect" },
  });
  expect(
    decodeServerFrame(frame({ frame: { case: "error", value: { errorCode: "WEIR_ERR_UNAUTHORIZED", message: "bad key", closeCode: 4401 } } })),
  ).toMatchObject({
    case: "error",
    value: { errorCode: "WEIR_ERR_UNAUTHORIZED", message: "bad key", closeCode: 4401 },
  });
  const value = new TextEncoder().encode('{"kind":"fraud"}');
  const delivery = {
    key: "card-1",
    value,
    contentType: "application/json",
    timestampMs: 1_700_000_000_000n,
    kind: "alerts",
    resumeToken: "r1",
    readAtMs: 1_700_000_000_005n,
  };
  const decoded = decodeServerFrame(frame({ frame: { case: "deliveries", value: { deliveries: [delivery, { key: "card-2" }] } } }));
  if (decoded.case !== "deliveries") throw new Error(`decoded ${String(decoded.case)}`);
  expect(decoded.value.deliveries[0]).toMatchObject(delivery);
  expect(decoded.value.deliveries[1]).toMatchObject({ key: "card-2", value: new Uint8Array(0), resumeToken: "", timestampMs: 0n });
  // A field this version does not know (99, varint), then a frame: the field is skipped.
  const withUnknown = new Uint8Array([0x98, 0x06, 0x01, ...frame({ frame: { case: "welcome", value: { sessionId: "s1", gatewayId: "g1" } } })]);
  expect(decodeServerFrame(withUnknown)).toMatchObject({ case: "welcome", value: { sessionId: "s1", gatewayId: "g1" } });
  expect(decodeServerFrame(new Uint8Array(0))).toEqual({ case: undefined });
});
