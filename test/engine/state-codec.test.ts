import { describe, expect, it } from "vitest";
import { decodeState, encodeOutput, encodeState } from "../../src/engine/state-codec.js";

describe("state and output JSON", () => {
  it("round-trips state with bigints and bytes exactly, nested anywhere", () => {
    const state = { n: 1, big: 9007199254740993n, nested: [{ raw: new Uint8Array([0, 1, 254, 255]) }, -12n], s: "x", nil: null };
    expect(decodeState(encodeState(state))).toEqual(state);
  });

  it("leaves plain JSON state as JSON.stringify writes it", () => {
    const plain = { a: [1, 2, { b: "c" }], d: true };
    expect(encodeState(plain)).toBe(JSON.stringify(plain));
  });

  it("does not mistake an object with other keys for a tagged value", () => {
    const state = { $bigint: "1", other: 2 };
    expect(decodeState(encodeState(state))).toEqual(state);
  });

  it("writes outputs with bigints as decimal strings and bytes as base64, like protobuf JSON", () => {
    expect(JSON.parse(encodeOutput({ amount: 12345678901234567890n, raw: new Uint8Array([104, 105]) }))).toEqual({
      amount: "12345678901234567890",
      raw: "aGk=",
    });
  });
});
