/**
 * Tokens on the client side: where a connection's token comes from (a fixed string, or a function
 * asked for a fresh one at each connect and before each expiry), and a refresher that sends a
 * Refresh some time before the token of a live connection expires, so the connection, its credit
 * and its in-flight events carry on. A connection whose token expired anyway is closed by the
 * gateway with 4419; the clients reconnect with a fresh token from the source.
 */
/** A token, or how to get a fresh one (called at each connect and before each expiry). */
export type TokenSource = string | (() => string | Promise<string>);

export async function tokenFrom(source: TokenSource | undefined): Promise<string> {
  if (source === undefined) return "";
  return typeof source === "string" ? source : await source();
}

/** How long before expiry the Refresh goes out: a fifth of the time left, between 1 s and 60 s. */
export function refreshLeadMs(leftMs: number): number {
  return Math.min(60_000, Math.max(1_000, leftMs / 5));
}

export class TokenRefresher {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    private readonly source: TokenSource | undefined,
    /** Sends a Refresh with the token on the connection, if it is still open. */
    private readonly sendRefresh: (token: string) => void,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  /** After a Welcome or a Refreshed: schedules the next Refresh (only a function source can give a new token). */
  schedule(expiresAtMs: bigint | number): void {
    clearTimeout(this.timer);
    const expires = Number(expiresAtMs);
    if (this.stopped || expires <= 0 || typeof this.source !== "function") return;
    const left = expires - Date.now();
    this.timer = setTimeout(() => void this.refresh(), Math.max(0, left - refreshLeadMs(left)));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async refresh(): Promise<void> {
    try {
      const token = await tokenFrom(this.source);
      if (!this.stopped) this.sendRefresh(token);
    } catch (err) {
      this.onError(err);
    }
  }
}
