/** Ingest session limits small enough that credit and batch limits are hit within a few frames. */
import type { IngestLimits } from "../../src/protocol/ingest-session.js";

export const SMALL_INGEST_LIMITS: IngestLimits = {
  connectionCredit: 4,
  maxBatchEvents: 3,
  maxEventBytes: 1024,
  maxFrameBytes: 65_536,
  maxSendBufferBytes: 4096,
  helloTimeoutMs: 60_000,
};
