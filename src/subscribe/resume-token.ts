/**
 * Resume tokens: where a subscriber is in a stream's topic, as the next offset to deliver of every
 * partition. Every delivery carries the token for "right after this record"; a reconnect with it
 * continues with no gap and no repeat (offsets are exact; records are delivered in offset order
 * per partition). Opaque to clients: base64url of "v1|topic|o0,o1,…".
 */
import { WeirError } from "../errors.js";

export function encodeResumeToken(topic: string, next: readonly number[]): string {
  return Buffer.from(`v1|${topic}|${next.join(",")}`, "utf8").toString("base64url");
}

/** The next offsets per partition in `token`, checked against the stream's topic and partition count. */
export function decodeResumeToken(token: string, topic: string, partitions: number): number[] {
  const bad = (why: string) => new WeirError("WEIR_ERR_BAD_RESUME_TOKEN", why);
  const parts = Buffer.from(token, "base64url").toString("utf8").split("|");
  if (parts.length !== 3 || parts[0] !== "v1") throw bad("not a resume token");
  if (parts[1] !== topic) throw bad(`it belongs to another stream (${parts[1]})`);
  const next = parts[2]!.split(",").map((o) => (/^\d+$/.test(o) ? Number(o) : Number.NaN));
  if (next.length !== partitions || next.some((o) => !Number.isSafeInteger(o))) throw bad(`expected ${partitions} offsets`);
  return next;
}
