/** JSON lines ⇄ events through the schema image (what `weir send` reads and `weir tail` prints). */
import { fromBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { expect, test } from "vitest";
import { HttpAccessLogSchema } from "../../src/events.js";
import { JsonEventError, envelopeFromJsonLine, envelopeToJsonLine, eventToJson } from "../../src/schema/json-events.js";
import { SchemaRegistry } from "../../src/schema/registry.js";

const registry = SchemaRegistry.builtin();
const TYPE = "weir.events.v1.HttpAccessLog";

test("a line becomes an envelope of its type: payload in Protobuf JSON, envelope fields under @weir", () => {
  const env = envelopeFromJsonLine(
    registry,
    JSON.stringify({
      host: "web-1",
      method: "GET",
      path: "/",
      status: 503,
      bytes_sent: "123",
      "@weir": { id: "e-1", key: "web-1", eventTime: "2026-12-07T09:00:00.250Z" },
    }),
    { type: TYPE },
  );
  expect(env).toMatchObject({ id: "e-1", type: TYPE, partitionKey: "web-1" });
  expect(timestampMs(env.eventTime!)).toBe(Date.parse("2026-12-07T09:00:00.250Z"));
  expect(fromBinary(HttpAccessLogSchema, env.payload)).toMatchObject({ host: "web-1", status: 503, bytesSent: 123n });
  // …and back: the same line, field names in lowerCamelCase.
  const line = JSON.parse(envelopeToJsonLine(registry, env)) as Record<string, unknown>;
  expect(line).toEqual({
    host: "web-1",
    method: "GET",
    path: "/",
    status: 503,
    bytesSent: "123",
    "@weir": { id: "e-1", type: TYPE, key: "web-1", eventTime: "2026-12-07T09:00:00.250Z" },
  });
});

test("defaults: --type and --key unless the line names its own; a fresh id and now as the event time", () => {
  const env = envelopeFromJsonLine(registry, JSON.stringify({ host: "h", method: "GET", path: "/", status: 200 }), { type: TYPE, key: "k", nowMs: 1_000 });
  expect(env.id).toMatch(/^[0-9a-f-]{36}$/);
  expect(env.partitionKey).toBe("k");
  expect(timestampMs(env.eventTime!)).toBe(1_000);
  expect(eventToJson(registry, TYPE, env.payload)).toEqual({ host: "h", method: "GET", path: "/", status: 200 });
  const own = envelopeFromJsonLine(registry, JSON.stringify({ symbol: "AAPL", bid: 1, ask: 2, "@weir": { type: "weir.events.v1.Quote", eventTime: 5 } }), {
    type: TYPE,
  });
  expect(own.type).toBe("weir.events.v1.Quote");
  expect(timestampMs(own.eventTime!)).toBe(5);
});

test.each([
  ["{not json", /not JSON/],
  ["[1,2]", /JSON object/],
  [JSON.stringify({ host: "h", nope: 1 }), /not a weir.events.v1.HttpAccessLog.*nope/],
  [JSON.stringify({ host: "h", "@weir": { type: "weir.events.v1.Nope" } }), /not in the schema image/],
  [JSON.stringify({ host: "h", "@weir": { eventTime: "yesterday" } }), /neither RFC 3339/],
])("refuses %s with a reason", (line, reason) => {
  expect(() => envelopeFromJsonLine(registry, line, { type: TYPE })).toThrow(JsonEventError);
  expect(() => envelopeFromJsonLine(registry, line, { type: TYPE })).toThrow(reason);
});

test("no type at all is refused", () => {
  expect(() => envelopeFromJsonLine(registry, "{}")).toThrow(/--type/);
});
