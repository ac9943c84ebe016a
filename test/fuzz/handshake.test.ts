/**
 * Fuzzing the handshake (issue 15, item 8): random sequences of up to eight client messages —
 * Hello with right, wrong or random version, tenant, key and token; PublishBatch of valid and
 * random events; Ping, Refresh, Subscribe, a frame of no kind, text, garbage, damaged frames —
 * sent to an IngestSession whose authenticator answers at once (API keys) or in a later turn (as
 * a token check does), with pending answers let in at random points. The session must do what
 * the protocol table in src/protocol/session.ts says (IngestModel in ./harness.ts): a Welcome at
 * most once and only after a Hello with the right version and credentials; the right refusal and
 * close code for everything else; nothing after a close; credit never below zero and as the model
 * counts it; one PublishResult per accepted batch with one result per event.
 */
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import type { Hello } from "../../src/gen/weir/v1/protocol_pb.js";
import { IngestSession } from "../../src/protocol/ingest-session.js";
import { apiKeyAuthenticator } from "../../src/protocol/api-key-authenticator.js";
import type { Authenticator } from "../../src/protocol/ports.js";
import { ingestHarness } from "../unit-fixtures/events.js";
import { clientFrame } from "../unit-fixtures/fake-transport.js";
import { flushMicrotasks } from "../unit-fixtures/fake-ports.js";
import { FUZZ_RUNS, FUZZ_SEED, fuzzTimeout, reportCases } from "./settings.js";
import { CREDENTIALS, LIMITS, IngestModel, RecordingTransport, expectRefusalShape, expectResultsMatch, observed, sessionArb } from "./harness.js";

/** The API-key authenticator answering in a later turn, as a token check (JWKS, clock) does. */
function later(inner: Authenticator): Authenticator {
  return { authenticate: (hello: Hello) => Promise.resolve().then(() => inner.authenticate(hello)) };
}

/** Lets every pending answer arrive: authentications, then every batch in flight. */
async function settle(conn: IngestSession): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await flushMicrotasks();
    await conn.idle();
  }
}

const open: IngestSession[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.onClose();
});

describe("fuzz: the ingest handshake", () => {
  it(
    "answers random message sequences as the protocol table says",
    async () => {
      let cases = 0;
      await fc.assert(
        fc.asyncProperty(fc.boolean(), sessionArb(CREDENTIALS), async (asyncAuth, steps) => {
          cases++;
          const h = ingestHarness();
          const t = new RecordingTransport();
          const authenticator = asyncAuth ? later(apiKeyAuthenticator(CREDENTIALS)) : apiKeyAuthenticator(CREDENTIALS);
          const conn = new IngestSession(t, { publisher: h.service, authenticator, limits: LIMITS, serverId: "gw-fuzz" });
          for (const s of open.splice(0)) s.onClose(); // the previous case's (its timers)
          open.push(conn);
          const model = new IngestModel({ credentials: CREDENTIALS, credit: LIMITS.connectionCredit, maxBatchEvents: LIMITS.maxBatchEvents, asyncAuth });

          const check = (allAnswered: boolean) => {
            const frames = t.frames;
            expect(observed(frames)).toEqual(model.expected);
            expectRefusalShape(frames, t.closed);
            expectResultsMatch(frames, model.accepted, allAnswered && model.phase !== "closed");
            expect(conn.creditLeft, "credit below zero").toBeGreaterThanOrEqual(0);
            if (model.phase === "ready") expect(conn.creditLeft).toBe(model.credit);
            expect(conn.ready).toBe(model.phase === "ready");
            expect(t.sentAfterClose, "frames sent after the close").toBe(0);
            expect(t.closedAgain, "closed twice").toBe(0);
          };

          for (const step of steps) {
            expect(() => conn.onMessage(step.bytes, step.isBinary)).not.toThrow();
            model.onMessage(step.bytes, step.isBinary);
            if (step.settle) {
              await settle(conn);
              model.settle();
            }
            check(step.settle);
          }
          await settle(conn);
          model.settle();
          check(true);
          expect(conn.inFlight).toBe(0);

          const welcomes = t.framesOf("welcome");
          expect(welcomes.length).toBeLessThanOrEqual(1);
          if (welcomes.length === 1) {
            expect(t.frames[0]?.case, "the Welcome is the first frame").toBe("welcome");
            expect(welcomes[0]).toMatchObject({ sessionId: conn.sessionId, credit: 4, maxBatchEvents: 3, gatewayId: "gw-fuzz" });
            expect(CREDENTIALS.has(conn.tenant)).toBe(true);
          }
          // Refused before any Welcome: only for a bad frame, no Hello first, bad credentials or another version.
          const first = model.expected[0];
          if (first?.case === "error" && steps.length > 0) {
            expect(["WEIR_ERR_BAD_FRAME", "WEIR_ERR_HELLO_REQUIRED", "WEIR_ERR_UNAUTHORIZED", "WEIR_ERR_BAD_TOKEN", "WEIR_ERR_UNSUPPORTED_VERSION"]).toContain(
              first.errorCode,
            );
            expect([4400, 4401, 4403, 4426]).toContain(t.closed?.code);
          }
          expect(h.errors).toEqual([]);

          // After a close the connection answers nothing more.
          if (t.closed) {
            const sent = t.sent.length;
            conn.onMessage(clientFrame({ case: "ping", value: { nonce: 1n } }), true);
            conn.onMessage(clientFrame({ case: "hello", value: { protocolVersion: 1, tenant: "acme", apiKey: "s3cret-key" } }), true);
            await settle(conn);
            expect(t.sent).toHaveLength(sent);
          }
        }),
        { seed: FUZZ_SEED, numRuns: FUZZ_RUNS },
      );
      reportCases("handshake, message sequences", cases);
    },
    fuzzTimeout(20),
  );
});
