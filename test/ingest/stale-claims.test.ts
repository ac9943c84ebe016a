import { describe, expect, it } from "vitest";
import type { StaleOutcome } from "../../src/ingest/ports.js";
import { eventRecord } from "../../src/ingest/records.js";
import { StaleClaimVerifier, type StaleClaim } from "../../src/ingest/stale-claims.js";
import { FakeClock, FakeDedupStore, FakeEventLog, FakePublishedLookup } from "../unit-fixtures/fake-ports.js";
import { QUOTE_TOPIC, quoteEvent } from "../unit-fixtures/events.js";

const TENANT = "acme";
const DEAD = "gw-dead";
const TOKEN = "gw-test/1";
const EVENT_TIME = 1_700_000_000_000;
const key = (id: string) => `${TENANT}:${id}`;

/** A gateway DEAD claimed `ids` and died; `published` of them reached Kafka before it did. */
async function afterCrash(ids: string[], published: string[]) {
  const log = new FakeEventLog();
  // Redis time stands still in these tests: claim ages are exactly what the test makes them.
  const clock = new FakeClock();
  const dedup = new FakeDedupStore({ now: () => clock.wallMs() });
  const lookup = new FakePublishedLookup(log);
  for (const id of published) log.records.push(eventRecord(QUOTE_TOPIC, TENANT, quoteEvent(id, { eventTimeMs: EVENT_TIME })));
  for (const id of ids) dedup.seed(key(id), { token: `${DEAD}/7`, ageMs: 1000 });
  dedup.ownerDied(DEAD);
  // What a claim of this gateway found: the stale values, as the claim script returns them.
  const seen = await dedup.claim(ids.map(key), "gw-probe/1");
  const claims = ids.map((id, i) => {
    const claim = seen[i]!;
    if (claim.kind !== "stale") throw new Error(`${id}: expected a stale claim, got ${claim.kind}`);
    // Extra fields (the caller's own) come back in the verdict untouched.
    return {
      index: i,
      key: key(id),
      staleValue: claim.value,
      query: { topic: QUOTE_TOPIC, tenant: TENANT, id, timestampMs: EVENT_TIME },
    } satisfies StaleClaim & { index: number };
  });
  dedup.commands.length = 0;

  const confirmed: string[][] = [];
  const errors: string[] = [];
  const outcomes: Partial<Record<StaleOutcome, number>> = {};
  const verifier = new StaleClaimVerifier({
    lookup,
    dedup,
    confirm: (keys) => {
      confirmed.push(keys);
      void dedup.confirm(keys);
    },
    observer: { staleClaims: (outcome, count) => void (outcomes[outcome] = (outcomes[outcome] ?? 0) + count) },
    onError: (what) => errors.push(what),
  });
  return { log, dedup, lookup, claims, verifier, confirmed, errors, outcomes };
}

const ids = (claims: ReadonlyArray<{ key: string }>) => claims.map((c) => c.key.slice(TENANT.length + 1));

describe("StaleClaimVerifier", () => {
  it("confirms the claims whose event is in Kafka, and takes none of them over", async () => {
    const { claims, verifier, dedup, lookup, confirmed, outcomes } = await afterCrash(["q1"], ["q1"]);
    const verdict = await verifier.verify(claims, TOKEN);
    expect(verdict.published).toEqual(claims);
    expect(verdict.takenOver).toEqual([]);
    expect(verdict.retry).toEqual([]);
    expect(lookup.calls).toEqual([[{ topic: QUOTE_TOPIC, tenant: TENANT, id: "q1", timestampMs: EVENT_TIME }]]);
    expect(confirmed).toEqual([[key("q1")]]);
    expect(dedup.commands.map((c) => c.op)).toEqual(["confirm"]);
    expect(outcomes).toEqual({ found: 1 });
  });

  it("takes the claims whose event is not in Kafka over for the caller's token, by compare-and-swap on the stale value", async () => {
    const { claims, verifier, dedup, confirmed, outcomes } = await afterCrash(["q1"], []);
    const verdict = await verifier.verify(claims, TOKEN);
    expect(verdict.takenOver).toEqual(claims);
    expect(verdict.published).toEqual([]);
    expect(verdict.retry).toEqual([]);
    expect(dedup.commands).toEqual([{ op: "takeOver", keys: [key("q1")], token: TOKEN }]);
    expect(dedup.tokenOf(key("q1"))).toBe(TOKEN);
    // The take-over stamped a fresh claim time: to another gateway the claim is young and live.
    expect(await dedup.claim([key("q1")], "gw-other/1")).toEqual([{ kind: "pending", retryAfterMs: 120_000 }]);
    expect(confirmed).toEqual([]);
    expect(outcomes).toEqual({ republished: 1 });
  });

  it("sorts a batch's stale claims with one lookup and one take-over, keeping their order", async () => {
    const { claims, verifier, dedup, lookup, outcomes } = await afterCrash(["a", "b", "c", "d"], ["b", "d"]);
    const verdict = await verifier.verify(claims, TOKEN);
    expect(ids(verdict.published)).toEqual(["b", "d"]);
    expect(ids(verdict.takenOver)).toEqual(["a", "c"]);
    expect(verdict.takenOver.map((c) => c.index)).toEqual([0, 2]);
    expect(lookup.calls).toHaveLength(1);
    expect(dedup.commands.filter((c) => c.op === "takeOver")).toEqual([{ op: "takeOver", keys: [key("a"), key("c")], token: TOKEN }]);
    expect(outcomes).toEqual({ found: 2, republished: 2 });
  });

  it("answers a claim another gateway took over first RETRY_AFTER in progress, leaving that gateway's claim", async () => {
    const { claims, verifier, dedup, lookup, outcomes } = await afterCrash(["lost", "won"], []);
    lookup.pause();
    const verdict = verifier.verify(claims, TOKEN);
    // Meanwhile another gateway verified "lost" too, and won its compare-and-swap.
    expect(await dedup.takeOver([key("lost")], [claims[0]!.staleValue], "gw-other/1")).toEqual([true]);
    lookup.resume();
    const { takenOver, retry } = await verdict;
    expect(ids(takenOver)).toEqual(["won"]);
    expect(retry.map((r) => [ids([r.claim])[0], r.error.code])).toEqual([["lost", "WEIR_ERR_IN_PROGRESS"]]);
    expect(dedup.tokenOf(key("lost"))).toBe("gw-other/1");
    expect(outcomes).toEqual({ republished: 1, lost: 1 });
  });

  it("answers every claim RETRY_AFTER in progress, touching nothing, when the lookup cannot tell", async () => {
    const { claims, verifier, dedup, lookup, confirmed, errors, outcomes } = await afterCrash(["q1", "q2"], ["q1"]);
    lookup.failWith(new Error("would scan 900000 records"));
    const verdict = await verifier.verify(claims, TOKEN);
    expect(verdict.published).toEqual([]);
    expect(verdict.takenOver).toEqual([]);
    expect(verdict.retry.map((r) => [ids([r.claim])[0], r.error.code])).toEqual([
      ["q1", "WEIR_ERR_IN_PROGRESS"],
      ["q2", "WEIR_ERR_IN_PROGRESS"],
    ]);
    expect(dedup.commands).toEqual([]);
    expect(confirmed).toEqual([]);
    expect(dedup.tokenOf(key("q2"))).toBe(`${DEAD}/7`);
    expect(errors).toEqual(["verifying stale claims in Kafka failed"]);
    expect(outcomes).toEqual({ failed: 2 });
  });

  it("answers the missing claims RETRY_AFTER dedup unavailable when the take-over fails, still confirming those found", async () => {
    const { claims, verifier, dedup, confirmed, errors, outcomes } = await afterCrash(["found", "missing"], ["found"]);
    dedup.failWith(new Error("Connection is closed."), "takeOver");
    const verdict = await verifier.verify(claims, TOKEN);
    expect(ids(verdict.published)).toEqual(["found"]);
    expect(verdict.takenOver).toEqual([]);
    expect(verdict.retry.map((r) => [ids([r.claim])[0], r.error.code, r.error.message])).toEqual([
      ["missing", "WEIR_ERR_DEDUP_UNAVAILABLE", "dedup store unavailable: take-over failed"],
    ]);
    expect(confirmed).toEqual([[key("found")]]);
    expect(errors).toEqual(["dedup take-over failed"]);
    expect(outcomes).toEqual({ found: 1, failed: 1 });
  });
});
