/**
 * Resume tokens: "right after this record" as the next offset of every partition of the stream's
 * topic. A token must round-trip exactly, stay opaque (URL-safe), and be refused (4422,
 * WEIR_ERR_BAD_RESUME_TOKEN) when it is not one, belongs to another topic, or names another
 * partition count: a wrong position must never be accepted silently.
 */
import { describe, expect, it } from "vitest";
import { decodeResumeToken, encodeResumeToken } from "../../src/subscribe/resume-token.js";
import { isWeirError } from "../../src/errors.js";

const TOPIC = "weir.events.quote";

/** The WeirError `fn` throws (fails the test if it throws anything else, or nothing). */
function thrown(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    if (isWeirError(err)) return err;
    throw err;
  }
  throw new Error("expected a WeirError, nothing was thrown");
}

describe("resume tokens", () => {
  it.each([[[0]], [[0, 0, 0, 0]], [[12, 0, 7, 99_999]], [[Number.MAX_SAFE_INTEGER, 1]], [Array.from({ length: 64 }, (_, p) => p * 1000)]])(
    "round-trips %j exactly",
    (next) => {
      const token = encodeResumeToken(TOPIC, next);
      expect(decodeResumeToken(token, TOPIC, next.length)).toEqual(next);
    },
  );

  it("is opaque and URL-safe (base64url, no padding), and differs by position", () => {
    const a = encodeResumeToken(TOPIC, [1, 2, 3]);
    const b = encodeResumeToken(TOPIC, [1, 2, 4]);
    expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(a).not.toContain(TOPIC);
    expect(a).not.toBe(b);
  });

  it("does not keep a reference to the array it encodes (a later advance must not change an issued token)", () => {
    const next = [5, 6];
    const token = encodeResumeToken(TOPIC, next);
    next[0] = 100;
    expect(decodeResumeToken(token, TOPIC, 2)).toEqual([5, 6]);
  });

  it("refuses a token of another topic, naming it", () => {
    const err = thrown(() => decodeResumeToken(encodeResumeToken("weir.alerts", [1, 2, 3, 4]), TOPIC, 4));
    expect(err.code).toBe("WEIR_ERR_BAD_RESUME_TOKEN");
    expect(err.spec.close).toBe(4422);
    expect(err.message).toContain("weir.alerts");
  });

  it.each([
    ["fewer", [1, 2], 3],
    ["more", [1, 2, 3, 4], 3],
  ])("refuses a token with %s offsets than the topic has partitions", (_, next, partitions) => {
    const err = thrown(() => decodeResumeToken(encodeResumeToken(TOPIC, next), TOPIC, partitions));
    expect(err.code).toBe("WEIR_ERR_BAD_RESUME_TOKEN");
    expect(err.message).toContain(`expected ${partitions} offsets`);
  });

  const raw = (s: string) => Buffer.from(s, "utf8").toString("base64url");
  it.each([
    ["the empty string", ""],
    ["random text", "hello world"],
    ["another version", raw(`v2|${TOPIC}|1,2`)],
    ["too few fields", raw(`v1|${TOPIC}`)],
    ["too many fields", raw(`v1|${TOPIC}|1,2|3`)],
  ])("refuses %s as not a resume token", (_, token) => {
    const err = thrown(() => decodeResumeToken(token, TOPIC, 2));
    expect(err.code).toBe("WEIR_ERR_BAD_RESUME_TOKEN");
  });

  it.each([
    ["a negative offset", "1,-2"],
    ["a fraction", "1,2.5"],
    ["a hex number", "1,0x10"],
    ["an empty offset", "1,"],
    ["an exponent", "1,1e3"],
    ["spaces", "1, 2"],
    ["an offset beyond 2^53", `1,${2n ** 60n}`],
  ])("refuses %s", (_, offsets) => {
    const err = thrown(() => decodeResumeToken(raw(`v1|${TOPIC}|${offsets}`), TOPIC, 2));
    expect(err.code).toBe("WEIR_ERR_BAD_RESUME_TOKEN");
  });
});
