/**
 * What the gateway refuses in a payload that no protovalidate rule says: non-finite doubles and
 * floats (unless the field opts in), Timestamps and Durations out of range; found however deep
 * (nested, repeated, maps, oneofs, recursive types), with the field's path in the reason.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { create, type DescMessage } from "@bufbuild/protobuf";
import { buildSchemaImage } from "../../src/schema/build-image.js";
import { payloadViolation, timestampViolation } from "../../src/ingest/payload-hygiene.js";

const PROTO = `syntax = "proto3";
package hyg.v1;
import "weir/v1/options.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/duration.proto";
message Point { double x = 1; float y = 2; }
message Tree { double value = 1; repeated Tree children = 2; }
message Labels { string name = 1; int64 count = 2; }
message Sample {
  option (weir.v1.event) = { topic: "hyg.samples" };
  double plain = 1;
  double lenient = 2 [(weir.v1.field).allow_non_finite = true];
  repeated double series = 3;
  map<string, double> gauges = 4;
  Point point = 5;
  repeated Point points = 6;
  oneof reading { double level = 7; string note = 8; }
  google.protobuf.Timestamp at = 9;
  google.protobuf.Duration took = 10;
  Tree tree = 11;
  map<string, Point> named = 12;
  Labels labels = 13;
}
`;

let sample: DescMessage;
let labels: DescMessage;
beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), "weir-hygiene-"));
  mkdirSync(join(dir, "hyg"));
  writeFileSync(join(dir, "hyg", "sample.proto"), PROTO);
  const registry = buildSchemaImage({ protoDir: dir, out: join(dir, "image.binpb") });
  sample = registry.eventType("hyg.v1.Sample")!.schema;
  labels = registry.files.getMessage("hyg.v1.Labels")!;
});

const violation = (init: Record<string, unknown>) => payloadViolation(sample, create(sample, init as never));

describe("payload hygiene", () => {
  it("passes finite numbers, in-range times and absent fields", () => {
    expect(violation({})).toBeUndefined();
    expect(
      violation({
        plain: 1e308,
        series: [1, -2.5],
        gauges: { a: 0 },
        point: { x: 1, y: 2 },
        reading: { case: "level", value: 3 },
        at: { seconds: 1_700_000_000n, nanos: 999_999_999 },
        took: { seconds: -5n, nanos: -1 },
        tree: { value: 1, children: [{ value: 2, children: [{ value: 3 }] }] },
      }),
    ).toBeUndefined();
  });

  it.each([
    [{ plain: Number.POSITIVE_INFINITY }, "plain: Infinity is not a finite number"],
    [{ plain: Number.NaN }, "plain: NaN is not a finite number"],
    [{ series: [1, Number.NEGATIVE_INFINITY] }, "series[1]: -Infinity"],
    [{ gauges: { cpu: Number.NaN } }, 'gauges["cpu"]: NaN'],
    [{ point: { y: Number.POSITIVE_INFINITY } }, "point.y: Infinity"],
    [{ points: [{}, { x: Number.NaN }] }, "points[1].x: NaN"],
    [{ reading: { case: "level", value: Number.NaN } }, "level: NaN"],
    [{ tree: { children: [{ children: [{ value: Number.NaN }] }] } }, "tree.children[0].children[0].value: NaN"],
    [{ named: { p: { x: Number.POSITIVE_INFINITY } } }, 'named["p"].x: Infinity'],
  ])("refuses a non-finite number in %j", (init, reason) => {
    expect(violation(init)).toContain(reason);
  });

  it("lets a field that opts in with allow_non_finite hold NaN and Infinity", () => {
    expect(violation({ lenient: Number.NaN })).toBeUndefined();
    expect(violation({ lenient: Number.NEGATIVE_INFINITY })).toBeUndefined();
  });

  it.each([
    ["timestamp nanos -1", { at: { seconds: 1n, nanos: -1 } }, "at: nanos -1 is outside 0..999999999"],
    ["timestamp nanos 2e9", { at: { seconds: 1n, nanos: 2_000_000_000 } }, "at: nanos 2000000000"],
    ["timestamp after 9999", { at: { seconds: 253_402_300_800n } }, "at: seconds 253402300800 is outside"],
    ["duration of mixed signs", { took: { seconds: 1n, nanos: -1 } }, "took: seconds and nanos have different signs"],
    ["duration over 10,000 years", { took: { seconds: 315_576_000_001n } }, "took: seconds 315576000001 is outside"],
  ])("refuses a %s", (_, init, reason) => {
    expect(violation(init)).toContain(reason);
  });

  it("does not walk a type with nothing to check", () => {
    expect(payloadViolation(labels, create(labels, { name: "x", count: 3n }))).toBeUndefined();
  });

  it("checks a Timestamp's own range", () => {
    expect(timestampViolation(0n, 0)).toBeUndefined();
    expect(timestampViolation(-62_135_596_801n, 0)).toMatch(/outside 0001-01-01/);
  });
});
