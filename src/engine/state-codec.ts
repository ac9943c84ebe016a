/**
 * How state and outputs become JSON text. State must round-trip exactly (the changelog is read
 * back into the stores after a move or a crash): a bigint (a protobuf int64 field) is written as
 * {"$bigint":"…"} and bytes as {"$bytes":"<base64>"}, and read back as such. Outputs are read by
 * people and other programs: bigints become decimal strings and bytes base64, as in protobuf's
 * JSON mapping. Plain JSON state costs nothing extra beyond JSON.stringify's replacer call.
 */

type Tagged = { $bigint: string } | { $bytes: string };

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function stateReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return { $bigint: value.toString() } satisfies Tagged;
  if (value instanceof Uint8Array) return { $bytes: toBase64(value) } satisfies Tagged;
  return value;
}

function stateReviver(_key: string, value: unknown): unknown {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1) {
      const v = value as Record<string, unknown>;
      if (typeof v.$bigint === "string") return BigInt(v.$bigint);
      if (typeof v.$bytes === "string") return fromBase64(v.$bytes);
    }
  }
  return value;
}

/** A state value as changelog text (exact round trip with decodeState). */
export function encodeState(value: unknown): string {
  return JSON.stringify(value, stateReplacer);
}

export function decodeState(text: string): unknown {
  return JSON.parse(text, stateReviver) as unknown;
}

function outputReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return toBase64(value);
  return value;
}

/** An output value as JSON text for results and alerts. */
export function encodeOutput(value: unknown): string {
  return JSON.stringify(value, outputReplacer);
}
