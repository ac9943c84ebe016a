/**
 * Fuzzing the frame decoder (issue 15, item 8): arbitrary bytes and damaged valid ClientFrames
 * (bits flipped, bytes inserted, deleted, repeated, cut off) go to decodeClientFrame and to a
 * fresh or welcomed IngestSession. The decoder never throws: it answers a frame or a
 * WEIR_ERR_BAD_FRAME; the session answers as the protocol table says (IngestModel), and a
 * refused connection gets exactly one ProtocolError, then its close code, and nothing after.
 */
import fc from "fast-check";
import { create, equals, toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { ClientFrameSchema } from "../../src/gen/weir/v1/protocol_pb.js";
import { WeirError, errorSpecs } from "../../src/errors.js";
import { decodeClientFrame } from "../../src/protocol/session.js";
import { IngestSession } from "../../src/protocol/ingest-session.js";
import { apiKeyAuthenticator } from "../../src/protocol/api-key-authenticator.js";
import { PROTOCOL_VERSION } from "../../src/protocol/version.js";
import { ingestHarness } from "../unit-fixtures/events.js";
import { clientFrame } from "../unit-fixtures/fake-transport.js";
import { flushMicrotasks } from "../unit-fixtures/fake-ports.js";
import { FUZZ_RUNS, FUZZ_SEED, fuzzTimeout, reportCases } from "./settings.js";
import { CREDENTIALS, LIMITS, IngestModel, RecordingTransport, expectRefusalShape, expectResultsMatch, mutatedFrame, observed, validFrame } from "./harness.js";

const KNOWN_CASES = [undefined, "hello", "publish", "ping", "refresh", "subscribe"];

/** Bytes of any kind: random, a valid frame, a damaged one. */
const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 256 }), validFrame(CREDENTIALS), mutatedFrame(CREDENTIALS));

function expectDecoderAnswer(bytes: Uint8Array, isBinary: boolean): void {
  let out: ReturnType<typeof decodeClientFrame>;
  expect(() => (out = decodeClientFrame(bytes, isBinary))).not.toThrow();
  const decoded = out!;
  if (decoded instanceof WeirError) {
    expect(decoded.code).toBe("WEIR_ERR_BAD_FRAME");
    expect(decoded.code in errorSpecs).toBe(true);
    expect(decoded.spec.close).toBe(4400);
    return;
  }
  expect(isBinary, "a text frame decoded").toBe(true);
  expect(KNOWN_CASES).toContain(decoded.case);
  // What it decoded encodes and decodes to the same frame: nothing a later hop re-encodes changes meaning.
  const again = decodeClientFrame(toBinary(ClientFrameSchema, create(ClientFrameSchema, { frame: decoded })), true);
  expect(again).not.toBeInstanceOf(WeirError);
  expect(equals(ClientFrameSchema, create(ClientFrameSchema, { frame: again as typeof decoded }), create(ClientFrameSchema, { frame: decoded }))).toBe(true);
}

const open: IngestSession[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.onClose();
});

describe("fuzz: decodeClientFrame", () => {
  it("answers arbitrary bytes with a frame or WEIR_ERR_BAD_FRAME, never a throw", () => {
    let cases = 0;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.boolean(), (bytes, isBinary) => {
        cases++;
        expectDecoderAnswer(bytes, isBinary);
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
    );
    reportCases("frame decoder, arbitrary bytes", cases);
  });

  it("answers damaged valid frames (Hello, PublishBatch, Subscribe, Ping, Refresh) with a frame or WEIR_ERR_BAD_FRAME", () => {
    let cases = 0;
    fc.assert(
      fc.property(mutatedFrame(CREDENTIALS), fc.boolean(), (bytes, isBinary) => {
        cases++;
        expectDecoderAnswer(bytes, isBinary);
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
    );
    reportCases("frame decoder, damaged valid frames", cases);
  });
});

describe("fuzz: one message to an IngestSession", () => {
  it(
    "answers as the protocol table says; a refusal is one ProtocolError then its close code, nothing after",
    async () => {
      let cases = 0;
      await fc.assert(
        fc.asyncProperty(anyBytes, fc.boolean(), fc.boolean(), async (bytes, isBinary, welcomed) => {
          cases++;
          const h = ingestHarness();
          const t = new RecordingTransport();
          const conn = new IngestSession(t, { publisher: h.service, authenticator: apiKeyAuthenticator(CREDENTIALS), limits: LIMITS, serverId: "gw-fuzz" });
          for (const s of open.splice(0)) s.onClose(); // the previous case's (its timers)
          open.push(conn);
          const model = new IngestModel({ credentials: CREDENTIALS, credit: LIMITS.connectionCredit, maxBatchEvents: LIMITS.maxBatchEvents, asyncAuth: false });
          if (welcomed) {
            const hello = clientFrame({ case: "hello", value: { protocolVersion: PROTOCOL_VERSION, tenant: "acme", apiKey: "s3cret-key" } });
            conn.onMessage(hello, true);
            model.onMessage(hello, true);
          }
          expect(() => conn.onMessage(bytes, isBinary)).not.toThrow();
          model.onMessage(bytes, isBinary);
          await flushMicrotasks();
          await conn.idle();
          model.settle();

          const frames = t.frames;
          expect(observed(frames)).toEqual(model.expected);
          expectRefusalShape(frames, t.closed);
          expectResultsMatch(frames, model.accepted, model.phase !== "closed");
          expect(conn.creditLeft).toBeGreaterThanOrEqual(0);
          if (model.phase === "ready") expect(conn.creditLeft).toBe(model.credit);
          expect(conn.ready).toBe(model.phase === "ready");
          // Anything more the client sends after a close is ignored.
          const sent = t.sent.length;
          conn.onMessage(clientFrame({ case: "ping", value: { nonce: 1n } }), true);
          if (t.closed) expect(t.sent).toHaveLength(sent);
          expect(t.sentAfterClose).toBe(0);
          expect(t.closedAgain).toBe(0);
          expect(h.errors).toEqual([]);
        }),
        { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
      );
      reportCases("IngestSession, one message", cases);
    },
    fuzzTimeout(10),
  );
});
