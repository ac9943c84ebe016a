/**
 * The relay's rules (src/relay/rules.ts): the config takes the documented shapes and refuses the
 * rest with WEIR_ERR_CONFIG naming the rule and field; decide() applies the first matching rule.
 */
import { describe, expect, test } from "vitest";
import { WeirError } from "../../src/errors.js";
import { decide, matches, type RelayRule } from "../../src/relay/rules.js";
import { parseRelayConfig } from "../../src/relay/config.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { quoteEvent } from "../unit-fixtures/events.js";

const QUOTE = "weir.events.v1.Quote";

const base = { upstream: { urls: ["ws://127.0.0.1:9/v1/ingest"], tenant: "up", apiKey: "k" }, devices: ["plant:k"] };

/** Rules as the relay's config checks them (src/relay/config.ts). */
const parseRules = (rules: unknown): readonly RelayRule[] => parseRelayConfig({ ...base, rules }).rules;

/** The WeirError the config throws for `rules`. */
function refusal(rules: unknown): WeirError {
  try {
    parseRules(rules);
  } catch (err) {
    expect(err).toBeInstanceOf(WeirError);
    expect((err as WeirError).code).toBe("WEIR_ERR_CONFIG");
    return err as WeirError;
  }
  throw new Error(`the relay config accepted rules ${JSON.stringify(rules)}`);
}

describe("rules in the relay config", () => {
  test("accepts drop and conflate rules, with type and attribute matches, and an empty list", () => {
    expect(parseRules([])).toEqual([]);
    expect(
      parseRules([
        { match: { type: "weir.events.v1.HttpAccessLog", attributes: { env: "dev" } }, action: "drop" },
        { match: { type: QUOTE }, action: "conflate", windowMs: 250 },
        { match: { attributes: { debug: "1" } }, action: "drop" },
      ]),
    ).toEqual([
      { match: { type: "weir.events.v1.HttpAccessLog", attributes: { env: "dev" } }, action: "drop" },
      { match: { type: QUOTE }, action: "conflate", windowMs: 250 },
      { match: { attributes: { debug: "1" } }, action: "drop" },
    ]);
  });

  test("a rule without match matches everything", () => {
    expect(parseRules([{ action: "drop" }])).toEqual([{ match: {}, action: "drop" }]);
    expect(parseRules([{ action: "conflate", windowMs: 1 }])).toEqual([{ match: {}, action: "conflate", windowMs: 1 }]);
  });

  test("refuses a non-list", () => {
    expect(refusal({ action: "drop" }).message).toMatch(/rules: expected array, got object/);
    expect(refusal("drop").message).toMatch(/rules: expected array, got string/);
  });

  test("refuses bad rules, naming the rule's index and field", () => {
    const ok = { match: { type: QUOTE }, action: "drop" };
    const cases: Array<[unknown, RegExp]> = [
      [null, /rules\[2\]: expected object, got null/],
      ["drop", /rules\[2\]: expected object, got string/],
      [{ match: null, action: "drop" }, /rules\[2\]\.match: expected object, got null/],
      [{ match: "x", action: "drop" }, /rules\[2\]\.match: expected object, got string/],
      [{ match: { type: 7 }, action: "drop" }, /rules\[2\]\.match\.type: expected string, got number/],
      [{ match: { attributes: { env: 1 } }, action: "drop" }, /rules\[2\]\.match\.attributes\.env: expected string, got number/],
      [{ match: { attributes: null }, action: "drop" }, /rules\[2\]\.match\.attributes: expected record, got null/],
      [{ match: { attributes: "env=dev" }, action: "drop" }, /rules\[2\]\.match\.attributes: expected record, got string/],
      [{ match: {}, action: "forward" }, /rules\[2\]\.action: expected "drop" or "conflate", got "forward"/],
      [{ match: {} }, /rules\[2\]\.action: expected "drop" or "conflate", got nothing/],
      [{ action: "conflate" }, /rules\[2\]\.windowMs: required/],
      [{ action: "conflate", windowMs: 0 }, /rules\[2\]\.windowMs: must be >= 1/],
      [{ action: "conflate", windowMs: -5 }, /rules\[2\]\.windowMs: must be >= 1/],
      [{ action: "conflate", windowMs: 1.5 }, /rules\[2\]\.windowMs: expected an integer, got 1.5/],
      [{ action: "conflate", windowMs: "100" }, /rules\[2\]\.windowMs: expected number, got string/],
      // A field that belongs to another action is a mistake worth telling, not something to ignore.
      [{ action: "drop", windowMs: 5 }, /rules\[2\]\.windowMs: unknown key/],
    ];
    for (const [bad, message] of cases) {
      // The bad rule third: the error names index 2, not the first rule.
      const err = refusal([ok, ok, bad]);
      expect(err.message, JSON.stringify(bad)).toMatch(message);
      expect(err.message).toMatch(/^invalid configuration: relay\.json: /);
    }
  });
});

describe("decide", () => {
  const rules: readonly RelayRule[] = parseRules([
    { match: { type: QUOTE, attributes: { venue: "test" } }, action: "drop" },
    { match: { type: QUOTE }, action: "conflate", windowMs: 100 },
    { match: { attributes: { debug: "1" } }, action: "drop" },
  ]);
  const other = (id: string, attributes: Record<string, string> = {}) => ({ ...quoteEvent(id, { attributes }), type: "weir.events.v1.Trade" });
  /** The conflation key decide() gives `env` (fails the test if the decision is not conflate). */
  const keyOf = (rs: readonly RelayRule[], env: Envelope): string => {
    const d = decide(rs, env);
    if (d.action !== "conflate") throw new Error(`expected conflate, got ${JSON.stringify(d)}`);
    return d.key;
  };

  test("the fixture's events are quotes", () => {
    expect(quoteEvent("q").type).toBe(QUOTE);
  });

  test("no rule matches: forward", () => {
    expect(decide([], quoteEvent("a"))).toEqual({ action: "forward" });
    expect(decide(rules, other("b"))).toEqual({ action: "forward" });
    expect(decide(rules, other("c", { debug: "0" }))).toEqual({ action: "forward" });
  });

  test("the first matching rule wins", () => {
    // Matches rules 0 and 1: rule 0 decides.
    expect(decide(rules, quoteEvent("a", { attributes: { venue: "test" } }))).toEqual({ action: "drop", rule: 0 });
    // Matches rules 1 and 2: rule 1 decides.
    expect(decide(rules, quoteEvent("b", { attributes: { debug: "1" }, partitionKey: "ACME" }))).toMatchObject({ action: "conflate", rule: 1 });
    // Rule 2 alone.
    expect(decide(rules, other("c", { debug: "1" }))).toEqual({ action: "drop", rule: 2 });
    // The same rules in another order: another winner.
    expect(decide([rules[2]!, rules[1]!], quoteEvent("d", { attributes: { debug: "1" } }))).toEqual({ action: "drop", rule: 0 });
  });

  test("type and attributes must all match; extra attributes on the event do not matter", () => {
    const m = { type: QUOTE, attributes: { venue: "test", env: "dev" } };
    expect(matches(m, quoteEvent("a", { attributes: { venue: "test", env: "dev", extra: "x" } }))).toBe(true);
    expect(matches(m, quoteEvent("b", { attributes: { venue: "test" } }))).toBe(false);
    expect(matches(m, quoteEvent("c", { attributes: { venue: "test", env: "prod" } }))).toBe(false);
    expect(matches(m, other("d", { venue: "test", env: "dev" }))).toBe(false);
    expect(matches({}, other("e"))).toBe(true);
    expect(matches({ attributes: {} }, quoteEvent("f"))).toBe(true);
  });

  test("conflate: the rule's window, and one key per (type, partition key)", () => {
    expect(decide(rules, quoteEvent("1", { partitionKey: "ACME" }))).toEqual({ action: "conflate", rule: 1, windowMs: 100, key: expect.any(String) as string });
    expect(keyOf(rules, quoteEvent("1", { partitionKey: "ACME" }))).toBe(keyOf(rules, quoteEvent("2", { partitionKey: "ACME" })));
    expect(keyOf(rules, quoteEvent("1", { partitionKey: "ACME" }))).not.toBe(keyOf(rules, quoteEvent("3", { partitionKey: "BOLT" })));
  });

  test("conflate keys differ by type for the same partition key", () => {
    const all = parseRules([{ action: "conflate", windowMs: 10 }]);
    expect(keyOf(all, quoteEvent("1", { partitionKey: "ACME" }))).not.toBe(
      keyOf(all, { ...quoteEvent("2", { partitionKey: "ACME" }), type: "weir.events.v1.Trade" }),
    );
  });

  test("conflate without a partition key: keyed by the id (each event is its own window)", () => {
    expect(keyOf(rules, quoteEvent("x"))).toBe(keyOf(rules, quoteEvent("x")));
    expect(keyOf(rules, quoteEvent("x"))).not.toBe(keyOf(rules, quoteEvent("y")));
  });

  // An event without a partition key whose id equals another event's partition key must not join
  // that key's window (one of the two would be superseded).
  test("conflate: an id fallback never shares a window with a partition key of the same text", () => {
    expect(keyOf(rules, quoteEvent("ACME"))).not.toBe(keyOf(rules, quoteEvent("z", { partitionKey: "ACME" })));
  });
});
