/**
 * Fuzzing the edge relay (issue 15, item 8), without a network: the real Relay (src/relay/relay.ts)
 * gets a fake server-side WHATWG WebSocket per device (relay.accept), and its upstream is a real
 * WeirClient over a real FileOutbox in a temporary directory whose uplink never opens (a
 * WebSocket that fails to connect): everything the relay ACKs must be in that durable outbox.
 *
 * Random relay settings (credit, batch and event limits, drop and conflate rules) and random
 * message sequences as in ./handshake.test.ts. The device connection must answer as the protocol
 * table says (IngestModel), close through the WHATWG API with a code it accepts (1000 standing for
 * 1001/1009/1011/1013, the ProtocolError carrying the real one), and answer each accepted batch
 * once, each event as the cloud would: ACK exactly when the gateway's own EventChecker takes it,
 * as the device's and as forwarded ("<device tenant>/<id>", the device-tenant attribute), else a
 * final refusal; a drop rule says so. Then the outbox, reopened from disk, holds every forwarded
 * event, a survivor of every conflation window, nothing refused or dropped, no device tenant in
 * the envelope's tenant, and only envelopes the gateway's EventChecker takes.
 */
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, describe, expect, it } from "vitest";
import { ResultCode, ServerFrameSchema, type EventResult, type ServerFrame } from "../../src/gen/weir/v1/protocol_pb.js";
import { errorSpecs, type ErrorCode, type ErrorSpec } from "../../src/errors.js";
import { EnvelopeSchema, type Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { FileOutbox } from "../../src/client/file-outbox.js";
import { WeirClient } from "../../src/client/weir-client.js";
import type { WebSocketConstructor } from "../../src/client/transport.js";
import { parseRelayConfig, type RelayConfig } from "../../src/relay/config.js";
import { DEVICE_TENANT_ATTRIBUTE, Relay, upstreamEnvelope, upstreamId } from "../../src/relay/relay.js";
import { decide, type Decision, type RelayRule } from "../../src/relay/rules.js";
import { until } from "../unit-fixtures/fake-ports.js";
import { quoteEvent, sharedChecker } from "../unit-fixtures/events.js";
import { clientFrame } from "../unit-fixtures/fake-transport.js";
import { FUZZ_RUNS, FUZZ_SEED, fuzzTimeout, reportCases } from "./settings.js";
import { EVENT_TYPES, IngestModel, expectRefusalShape, expectResultsMatch, observed, sessionArb } from "./harness.js";

const DEVICES = ["plant-1:k1", "plant-2:k:2"];
const CREDENTIALS = new Map([
  ["plant-1", "k1"],
  ["plant-2", "k:2"],
]);

const dir = mkdtempSync(join(tmpdir(), "weir-fuzz-relay-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }), 60_000);
let outboxes = 0;

/** What the WHATWG close() takes: 1000 and 3000–4999 (the relay closes with 1000 for any other code). */
const socketCode = (code: number) => (code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000);

/** A device's connection as the relay sees it: a server-side WHATWG WebSocket, driven by the test. */
class DeviceSocket extends EventTarget {
  binaryType = "blob";
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: Uint8Array[] = [];
  closed: { code: number; reason: string } | undefined;
  sentAfterClose = 0;

  send(data: ArrayBuffer | Uint8Array): void {
    if (this.readyState !== 1) {
      this.sentAfterClose++;
      return;
    }
    this.sent.push(new Uint8Array(data instanceof Uint8Array ? data : new Uint8Array(data)).slice());
  }

  /** As the WHATWG API: only 1000 and 3000–4999, a reason of at most 123 bytes; closing twice does nothing. */
  close(code?: number, reason = ""): void {
    if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) throw new DOMException(`close code ${code}`, "InvalidAccessError");
    if (new TextEncoder().encode(reason).length > 123) throw new DOMException("close reason too long", "SyntaxError");
    if (this.readyState >= 2) return;
    this.readyState = 2;
    this.closed = { code: code ?? 1005, reason };
  }

  /** The device sends a message. */
  message(bytes: Uint8Array, isBinary: boolean): void {
    const data = isBinary ? bytes.slice().buffer : new TextDecoder().decode(bytes);
    this.dispatchEvent(new MessageEvent("message", { data }));
  }

  /** The connection is gone (after a close by either side). */
  end(): void {
    this.readyState = 3;
    this.dispatchEvent(new Event("close"));
  }

  get frames(): Array<ServerFrame["frame"]> {
    return this.sent.map((b) => fromBinary(ServerFrameSchema, b).frame);
  }
}

/** An uplink that never opens: every attempt fails (as with no network), so the relay only stores. */
class DeadUplink extends EventTarget {
  binaryType = "blob";
  readyState = 0;
  bufferedAmount = 0;
  constructor(readonly url: string) {
    super();
    setTimeout(() => {
      this.readyState = 3;
      this.dispatchEvent(Object.assign(new Event("close"), { code: 1006, reason: "no uplink (fuzz)", wasClean: false }));
    }, 0);
  }
  send(): void {
    throw new Error("the uplink never opens");
  }
  close(): void {
    this.readyState = 3;
  }
}

type Setup = { relay: Relay; upstream: WeirClient; config: RelayConfig; path: string; logs: Array<{ level: string; msg: string }> };

async function relayWith(settings: Record<string, unknown>): Promise<Setup> {
  const path = join(dir, `outbox-${++outboxes}.log`);
  const config = parseRelayConfig({
    upstream: { urls: ["ws://uplink.invalid/v1/ingest"], tenant: "up", apiKey: "up" },
    devices: DEVICES,
    relayId: "relay-fuzz",
    outbox: path,
    helloTimeoutMs: 600_000,
    ...settings,
  });
  const upstream = await WeirClient.open({
    urls: config.upstream.urls,
    tenant: config.upstream.tenant,
    apiKey: config.upstream.apiKey,
    outbox: await FileOutbox.open(path),
    maxBufferedEvents: config.maxBufferedEvents,
    WebSocket: DeadUplink as unknown as WebSocketConstructor,
    backoff: { initialMs: 3_600_000, maxMs: 3_600_000 },
    keepAliveMs: 0,
  });
  const logs: Setup["logs"] = [];
  const relay = new Relay(config, upstream, (level, msg) => void logs.push({ level, msg }));
  return { relay, upstream, config, path, logs };
}

/** The envelopes a stopped relay left in its outbox, read back from the file. */
async function stored(path: string): Promise<Envelope[]> {
  const outbox = await FileOutbox.open(path);
  try {
    return (await outbox.load()).map((e) => fromBinary(EnvelopeSchema, e.bytes));
  } finally {
    await outbox.close();
  }
}

// ---- what the relay must answer per event ----

/** The cloud's judgment of an event: the gateway's own EventChecker, with the relay's limits (the defaults' skew). */
const gateway = (config: RelayConfig) => sharedChecker(config.maxEventBytes);

/**
 * What the relay owes a device for one event (src/relay/relay.ts, README "Edge relay"): an ACK
 * exactly when the cloud takes the event — as the device's (its tenant, its envelope) and as the
 * relay forwards it (id qualified by the device tenant, the device-tenant attribute added, for
 * the relay's upstream tenant) — and the device did not set the attribute the relay reserves;
 * else a final refusal. ACKed, the first matching rule decides: drop, conflate or forward.
 */
function owed(env: Envelope, tenant: string, config: RelayConfig): { ack: boolean; decision?: Decision } {
  const checker = gateway(config);
  const takes =
    checker.check(env, tenant).ok &&
    checker.check(upstreamEnvelope(env, tenant), config.upstream.tenant).ok &&
    !Object.hasOwn(env.attributes, DEVICE_TENANT_ATTRIBUTE);
  return takes ? { ack: true, decision: decide(config.rules, env, tenant) } : { ack: false };
}

/** Not ACK: a final per-event code (the outbox works, so never RETRY_AFTER) that is its error code's result. */
function expectFinalRefusal(r: EventResult): void {
  expect(Object.keys(errorSpecs)).toContain(r.errorCode);
  const spec: ErrorSpec = errorSpecs[r.errorCode as ErrorCode];
  expect(spec.result, `${r.errorCode} is a per-event code`).toBeDefined();
  expect(r.code).toBe(spec.result);
  expect(spec.retryable ?? false, `${r.errorCode} for an event the relay could store`).toBe(false);
}

// ---- arbitraries ----

const ruleArb: fc.Arbitrary<RelayRule> = fc
  .record({
    match: fc.record(
      {
        type: fc.oneof({ weight: 3, arbitrary: fc.constant("weir.events.v1.Quote") }, fc.constantFrom(...EVENT_TYPES.filter((t) => t !== ""))),
        attributes: fc.dictionary(fc.constantFrom("venue", "debug"), fc.constantFrom("test", "1"), { maxKeys: 1 }),
      },
      { requiredKeys: [] },
    ),
    action: fc.constantFrom("drop" as const, "conflate" as const),
    windowMs: fc.integer({ min: 1, max: 4 }),
  })
  .map(({ match, action, windowMs }): RelayRule => (action === "drop" ? { match, action } : { match, action, windowMs }));

const settingsArb = fc.record({
  credit: fc.integer({ min: 1, max: 6 }),
  maxBatchEvents: fc.integer({ min: 1, max: 6 }),
  maxEventBytes: fc.constantFrom(160, 256, 512, 1 << 20),
  rules: fc.array(ruleArb, { maxLength: 3 }),
});

describe("fuzz: the relay's device connections", () => {
  it(
    "answer as the protocol table says, each event as the cloud would, and keep every ACKed event in the outbox as the cloud takes it",
    async () => {
      let cases = 0;
      await fc.assert(
        fc.asyncProperty(settingsArb, sessionArb(CREDENTIALS, 8, 5), async (settings, steps) => {
          cases++;
          const { relay, upstream, config, path, logs } = await relayWith(settings);
          const ws = new DeviceSocket();
          relay.accept(ws as unknown as WebSocket);
          const model = new IngestModel({ credentials: CREDENTIALS, credit: config.credit, maxBatchEvents: config.maxBatchEvents, asyncAuth: false });
          const answered = () => ws.frames.filter((f) => f.case === "result").length;
          const settle = () => until(() => expect(ws.closed !== undefined || answered() >= model.accepted.length).toBe(true));
          try {
            for (const step of steps) {
              expect(() => ws.message(step.bytes, step.isBinary)).not.toThrow();
              model.onMessage(step.bytes, step.isBinary);
              if (step.settle) {
                await settle();
                model.settle();
              }
              expect(observed(ws.frames)).toEqual(model.expected);
              expect(relay.stats.devices).toBe(model.expected.some((e) => e.case === "welcome") ? 1 : 0);
            }
            await settle();
            model.settle();

            const frames = ws.frames;
            expect(observed(frames)).toEqual(model.expected);
            expectRefusalShape(frames, ws.closed, socketCode);
            expect(ws.sentAfterClose).toBe(0);
            expectResultsMatch(frames, model.accepted, model.phase !== "closed");
            const welcome = frames[0]?.case === "welcome" ? frames[0].value : undefined;
            if (welcome) expect(welcome).toMatchObject({ credit: config.credit, maxBatchEvents: config.maxBatchEvents, gatewayId: "relay-fuzz" });

            // Each event as the cloud would answer it.
            const tenant = model.tenant;
            const events = model.accepted.flatMap((b) => b.events);
            const owes = events.map((e) => owed(e, tenant, config));
            const results = frames.flatMap((f) => (f.case === "result" ? [f.value] : []));
            let at = 0;
            for (const batch of model.accepted) {
              const got = results.find(
                (r) => r.seq === batch.seq && r.results.length === batch.events.length && r.results.every((x, k) => x.id === batch.events[k]!.id),
              );
              batch.events.forEach((e, k) => {
                const r = got?.results[k];
                const o = owes[at + k]!;
                if (!r) return; // not answered: the connection closed first
                const what = `event ${JSON.stringify(e.id)} of batch ${batch.seq}: ${r.errorCode} ${r.reason}`;
                expect(r.code === ResultCode.ACK, what).toBe(o.ack);
                if (r.code !== ResultCode.ACK) return expectFinalRefusal(r);
                expect(r.errorCode).toBe("");
                expect(r.reason, what).toBe(o.decision?.action === "drop" ? `dropped by relay rule ${o.decision.rule}` : "");
              });
              at += batch.events.length;
            }
            expect(relay.stats.received).toBe(events.length);
            if (model.phase !== "closed") {
              expect(relay.stats.refused).toBe(owes.filter((o) => !o.ack).length);
              expect(relay.stats.dropped).toBe(owes.filter((o) => o.decision?.action === "drop").length);
            }

            // The connection goes; conflation windows still open close and store their survivor (stopping the client finishes its write).
            ws.end();
            expect(relay.stats.devices).toBe(0);
            await until(() => expect(relay.snapshot().relay.conflating).toBe(0));
            await upstream.close();
            const kept = await stored(path);
            const keptIds = new Set(kept.map((e) => e.id));
            const storable = new Set(events.filter((_, k) => owes[k]!.ack && owes[k]!.decision!.action !== "drop").map((e) => upstreamId(tenant, e.id)));
            for (const e of kept) {
              expect(storable.has(e.id), `stored ${JSON.stringify(e.id)}, which was refused or dropped`).toBe(true);
              expect(e.tenant, "a device tenant travelled on as the envelope's").toBe("");
              expect(e.attributes[DEVICE_TENANT_ATTRIBUTE]).toBe(tenant);
              const verdict = gateway(config).check(e, config.upstream.tenant);
              expect(verdict.ok, `the cloud refuses stored ${JSON.stringify(e.id)}: ${verdict.ok ? "" : verdict.error.message}`).toBe(true);
            }
            const windows = new Map<string, string[]>();
            events.forEach((e, k) => {
              const d = owes[k]!.decision;
              const id = upstreamId(tenant, e.id);
              if (d?.action === "forward") expect(keptIds.has(id), `forwarded ${JSON.stringify(id)} is not in the outbox`).toBe(true);
              if (d?.action === "conflate") windows.set(d.key, [...(windows.get(d.key) ?? []), id]);
            });
            for (const [key, ids] of windows)
              expect(
                ids.some((id) => keptIds.has(id)),
                `no survivor of window ${JSON.stringify(key)}`,
              ).toBe(true);
            expect(logs).toEqual([]);
          } finally {
            ws.end();
            await upstream.close();
            rmSync(path, { force: true });
          }
        }),
        { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
      );
      reportCases("relay, device message sequences", cases);
    },
    fuzzTimeout(60),
  );
});

describe("fuzz: the relay's ids", () => {
  // Found by this fuzzing on the relay as it was before commit 7fb736e: an id of more than 65,535
  // UTF-8 bytes passed the relay's checks, FileOutbox could not hold it (u16 length prefix), and the
  // relay answered RETRY_AFTER / WEIR_ERR_UPSTREAM_UNAVAILABLE forever — and so did the other events
  // written with it (one group commit), any device's. 7fb736e refuses ids over what the cloud takes.
  it(
    "refuses an id that cannot travel upstream as final, at the 128-character boundary and far past it; the rest of its batch is ACKed",
    async () => {
      let cases = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.integer({ min: 110, max: 130 }), fc.integer({ min: 0xfff0, max: 0x10100 })),
          fc.constantFrom("x", "é", "👍"),
          fc.integer({ min: 0, max: 3 }),
          fc.nat(),
          async (length, char, others, at) => {
            cases++;
            const { relay, upstream, config, path } = await relayWith({ maxEventBytes: 1 << 20 });
            const ws = new DeviceSocket();
            relay.accept(ws as unknown as WebSocket);
            try {
              ws.message(clientFrame({ case: "hello", value: { protocolVersion: 1, tenant: "plant-1", apiKey: "k1" } }), true);
              const events = Array.from({ length: others }, (_, i) => quoteEvent(`ok-${i}`));
              const long = at % (others + 1);
              const id = char.repeat(length);
              events.splice(long, 0, quoteEvent(id));
              ws.message(clientFrame({ case: "publish", value: { seq: 1n, events } }), true);
              await until(() => expect(ws.frames.some((f) => f.case === "result")).toBe(true));
              const results = ws.frames.flatMap((f) => (f.case === "result" ? f.value.results : []));
              // "<tenant>/<id>" in code points, as the cloud's max_len 128 counts them.
              const fits = [...upstreamId("plant-1", id)].length <= 128;
              expect(results.map((r) => r.code)).toEqual(events.map((_, i) => (i === long && !fits ? ResultCode.INVALID : ResultCode.ACK)));
              if (!fits) expectFinalRefusal(results[long]!);
              await upstream.close();
              const kept = (await stored(path)).map((e) => e.id);
              expect(kept).toEqual(events.filter((_, i) => i !== long || fits).map((e) => upstreamId("plant-1", e.id)));
              expect(config.maxEventBytes).toBe(1 << 20);
            } finally {
              ws.end();
              await upstream.close();
              rmSync(path, { force: true });
            }
          },
        ),
        { seed: FUZZ_SEED, numRuns: Math.min(FUZZ_RUNS, 60) },
      );
      reportCases("relay, ids around what can travel upstream", cases);
    },
    fuzzTimeout(50),
  );
});
