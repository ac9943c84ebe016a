/**
 * The security audit trail: every refusal a client caused (a failed handshake, a bad token, a
 * protocol violation, a permission denied) counted by its code, and logged at warn with the peer
 * address and tenant — at most one line per code per interval, with the count held back since,
 * so a client guessing keys thousands of times a second cannot flood the log.
 */
import type { Logger } from "../log.js";
import { LogThrottle } from "../log-throttle.js";

export type Refusal = {
  /** The Weir error code (WEIR_ERR_...). */
  readonly code: string;
  /** The close code, for refusals that end the connection. */
  readonly closeCode?: number;
  /** "" before the tenant is known. */
  readonly tenant: string;
  /** The client's address as the server saw it ("" when unknown). */
  readonly peer: string;
};

/** Codes that say the server stopped, not that a client misbehaved: not part of the trail. */
const SERVER_SIDE = new Set(["WEIR_ERR_SHUTDOWN", "WEIR_ERR_INTERNAL", "WEIR_ERR_SUBSCRIPTION_FAILED", "WEIR_ERR_DRAINING"]);

export class SecurityAudit {
  private readonly throttle: LogThrottle;

  constructor(
    private readonly logger: Pick<Logger, "warn">,
    private readonly count: (code: string) => void,
    intervalMs = 10_000,
  ) {
    this.throttle = new LogThrottle(intervalMs);
  }

  record(refusal: Refusal): void {
    if (SERVER_SIDE.has(refusal.code)) return;
    this.count(refusal.code);
    const { log, suppressed } = this.throttle.admit(refusal.code);
    if (log) this.logger.warn({ security: { ...refusal, ...(suppressed ? { suppressedSinceLast: suppressed } : {}) } }, `refused: ${refusal.code}`);
  }
}
