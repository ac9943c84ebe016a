/**
 * Event types are data: a running gateway loads a new buf image with a user's own type (and its
 * field rules) and accepts it; an image that would break what it already accepts is refused,
 * and the running image stays in force.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, inject, test } from "vitest";
import { create, createFileRegistry, fromBinary, setExtension, toBinary, type DescMessage } from "@bufbuild/protobuf";
import {
  timestampNow,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  FieldOptionsSchema,
  MessageOptionsSchema,
  DescriptorProtoSchema,
  FieldDescriptorProtoSchema,
  FieldDescriptorProto_Label,
} from "@bufbuild/protobuf/wkt";
import { FieldRulesSchema, field as validateField } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { EventOptionsSchema, event as eventOption } from "../../src/gen/weir/v1/options_pb.js";
import { EnvelopeSchema } from "../../src/gen/weir/v1/envelope_pb.js";
import { IngestClient, ResultCode, envelopeOf } from "../../src/client/index.js";
import { CardTransactionSchema } from "../../src/events.js";
import { isWeirError } from "../../src/errors.js";
import type { Gateway } from "../../gateway/gateway.js";
import { builtinImageSet, mutatedImage } from "../unit-fixtures/images.js";
import { gatewayFor, readTopics } from "./support.js";

const tenant = `schema-reload-${Date.now()}`;
const services = { kafkaBrokers: inject("kafkaBrokers"), redisUrl: inject("redisUrl") };
const dir = mkdtempSync(join(tmpdir(), "weir-images-"));
let gateway: Gateway;

beforeAll(async () => {
  gateway = await gatewayFor(services, { apiKeys: [`${tenant}:k`] });
});
afterAll(async () => {
  await gateway?.close();
});

/** The built-in image plus acme/v1/heartbeat.proto: `Heartbeat { string device = 1 (min_len 1) }` on topic acme.heartbeat. */
function imageWithHeartbeat(): Uint8Array {
  const deviceOptions = create(FieldOptionsSchema);
  setExtension(deviceOptions, validateField, create(FieldRulesSchema, { type: { case: "string", value: { minLen: 1n } } }));
  const messageOptions = create(MessageOptionsSchema);
  setExtension(messageOptions, eventOption, create(EventOptionsSchema, { topic: "acme.heartbeat", partitions: 2 }));
  const file = create(FileDescriptorProtoSchema, {
    name: "acme/v1/heartbeat.proto",
    package: "acme.v1",
    syntax: "proto3",
    dependency: ["buf/validate/validate.proto", "weir/v1/options.proto"],
    messageType: [
      create(DescriptorProtoSchema, {
        name: "Heartbeat",
        options: messageOptions,
        field: [
          create(FieldDescriptorProtoSchema, {
            name: "device",
            jsonName: "device",
            number: 1,
            type: FieldDescriptorProto_Type.STRING,
            label: FieldDescriptorProto_Label.OPTIONAL,
            options: deviceOptions,
          }),
        ],
      }),
    ],
  });
  const set = builtinImageSet();
  set.file.push(file);
  return toBinary(FileDescriptorSetSchema, set);
}

function writeImage(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

test("a new image with a user-defined type is loaded, validated against its rules, and published", async () => {
  const image = imageWithHeartbeat();
  await gateway.reloadSchemas(writeImage("with-heartbeat.binpb", image));

  const heartbeat = createFileRegistry(fromBinary(FileDescriptorSetSchema, image)).getMessage("acme.v1.Heartbeat") as DescMessage;
  const envelope = (id: string, device: string) =>
    create(EnvelopeSchema, { id, type: "acme.v1.Heartbeat", eventTime: timestampNow(), payload: toBinary(heartbeat, create(heartbeat, { device })) });

  const client = await IngestClient.connect({ url: gateway.url, tenant, apiKey: "k" });
  const [ok, bad] = await client.publishUntilFinal([envelope(`${tenant}-hb-1`, "sensor-7"), envelope(`${tenant}-hb-2`, "")]);
  await client.close();
  expect(ok!.code).toBe(ResultCode.ACK);
  expect(bad!.code).toBe(ResultCode.INVALID);
  expect(bad!.reason).toContain("device");

  const records = await readTopics(services.kafkaBrokers, ["acme.heartbeat"], tenant);
  expect(records.map((r) => r.headers["weir.id"])).toEqual([`${tenant}-hb-1`]);
});

test("an image that drops an accepted type is refused and the running image stays in force", async () => {
  const withoutCards = mutatedImage((set) => {
    const card = set.file.find((f) => f.name === "weir/events/v1/card.proto")!;
    card.messageType = card.messageType.filter((m) => m.name !== "CardTransaction");
  });
  const err = await gateway.reloadSchemas(writeImage("without-cards.binpb", withoutCards)).catch((e: unknown) => e);
  expect(isWeirError(err, "WEIR_ERR_SCHEMA_INCOMPATIBLE")).toBe(true);
  expect((err as Error).message).toContain("weir.events.v1.CardTransaction");

  const client = await IngestClient.connect({ url: gateway.url, tenant, apiKey: "k" });
  const [result] = await client.publishUntilFinal([
    envelopeOf(
      CardTransactionSchema,
      { transactionId: "t1", cardId: "c1", amountMinor: 1200n, currency: "USD", merchantId: "m1", location: { country: "US", city: "Boston" } },
      { id: `${tenant}-card-1` },
    ),
  ]);
  await client.close();
  expect(result!.code).toBe(ResultCode.ACK);
});
