/**
 * The relay's rules (src/relay/rules.ts): parseRules takes the documented shapes and refuses the
 * rest with WEIR_ERR_CONFIG naming the rule; decide() applies the first matching rule.
 */
import { describe, expect, test } from "vitest";
import { WeirError } from "../../src/errors.js";
import { decide, matches, parseRules, type RelayRule } from "../../src/relay/rules.js";
import type { Envelope } from "../../src/gen/weir/v1/envelope_pb.js";
import { quoteEvent } from "../unit-fixtures/events.js";

const QUOTE = "weir.events.v1.Quote";

/** The WeirError parseRules throws for `raw`. */
function refusal(raw: unknown): WeirError {
  try {
    parseRules(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(WeirError);
    expect((err as WeirError).code).toBe("WEIR_ERR_CONFIG");
    return err as WeirError;
  }
  throw new Error(`parseRules accepted ${JSON.stringify(raw)}`);
}

describe("parseRules", () => {
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

  test("a rule without match matches everything; windowMs is kept only for conflate", () => {
    expect(parseRules([{ action: "drop" }])).toEqual([{ match: {}, action: "drop" }]);
    expect(parseRules([{ action: "drop", windowMs: 5 }])).toEqual([{ match: {}, action: "drop" }]);
    expect(parseRules([{ action: "conflate", windowMs: 1 }])).toEqual([{ match: {}, action: "conflate", windowMs: 1 }]);
  });

  test("refuses a non-list", () => {
    expect(refusal({ action: "drop" }).message).toMatch(/rules must be a list/);
    expect(refusal("drop").message).toMatch(/rules must be a list/);
  });

  test("refuses bad rules, naming the rule's index", () => {
    const ok = { match: { type: QUOTE }, action: "drop" };
    const cases: Array<[unknown, RegExp]> = [
      [null, /must be an object/],
      ["drop", /must be an object/],
      [{ match: null, action: "drop" }, /match must be an object/],
      [{ match: "x", action: "drop" }, /match must be an object/],
      [{ match: { type: 7 }, action: "drop" }, /match\.type must be a string/],
      [{ match: { attributes: { env: 1 } }, action: "drop" }, /match\.attributes must map names to strings/],
      [{ match: { attributes: null }, action: "drop" }, /match\.attributes must map names to strings/],
      [{ match: { attributes: "env=dev" }, action: "drop" }, /match\.attributes must map names to strings/],
      [{ match: {}, action: "forward" }, /action must be "drop" or "conflate", got "forward"/],
      [{ match: {} }, /action must be "drop" or "conflate", got undefined/],
      [{ action: "conflate" }, /conflate needs windowMs ≥ 1/],
      [{ action: "conflate", windowMs: 0 }, /conflate needs windowMs ≥ 1/],
      [{ action: "conflate", windowMs: -5 }, /conflate needs windowMs ≥ 1/],
      [{ action: "conflate", windowMs: 1.5 }, /conflate needs windowMs ≥ 1/],
      [{ action: "conflate", windowMs: "100" }, /conflate needs windowMs ≥ 1/],
    ];
    for (const [bad, message] of cases) {
      // The bad rule third: the error names index 2, not the first rule.
      const err = refusal([ok, ok, bad]);
      expect(err.message, JSON.stringify(bad)).toMatch(/rules\[2\]/);
      expect(err.message, JSON.stringify(bad)).toMatch(message);
      expect(err.message).toMatch(/^invalid configuration: relay: /);
    }
    expect(refusal([{ action: "conflate" }]).message).toMatch(/rules\[0\]: conflate needs windowMs/);
  });
});

describe("decide", () => {
  const rules: RelayRule[] = parseRules([
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
    expect(decide(rules, quoteEvent("1", { partitionKey: "ACME" }))).toEqual({ action: "conflate", rule: 1, windowMs: 100, key: expect.any(String) });
    expect(keyOf(rules, quoteEvent("1", { partitionKey: "ACME" }))).toBe(keyOf(rules, quoteEvent("2", { partitionKey: "ACME" })));
    expect(keyOf(rules, quoteEvent("1", { partitionKey: "ACME" }))).not.toBe(keyOf(rules, quoteEvent("3", { partitionKey: "BOLT" })));
  });

  test("conflate keys differ by type for the same partition key", () => {
    const all = parseRules([{ action: "conflate", windowMs: 10 }]);
    expect(keyOf(all, quoteEvent("1", { partitionKey: "ACME" }))).not.toBe(keyOf(all, { ...quoteEvent("2", { partitionKey: "ACME" }), type: "weir.events.v1.Trade" }));
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
