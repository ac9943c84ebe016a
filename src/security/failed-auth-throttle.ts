/**
 * Failed-authentication throttling per client address: after `maxFailures` refused handshakes
 * (bad key, bad token) within one window, further connections from that address are turned away
 * before the WebSocket upgrade (HTTP 429) until the window ends. Memory stays bounded: at most
 * `maxAddresses` addresses are tracked; past that, windows that have ended are dropped first, and
 * if none has, the table starts over (an attacker spreading over that many addresses gets no more
 * than one window's worth of guesses per address).
 */
export type FailedAuthOptions = {
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly maxAddresses?: number;
};

export class FailedAuthThrottle {
  private readonly byPeer = new Map<string, { windowStart: number; failures: number }>();

  constructor(private readonly opts: FailedAuthOptions) {}

  /** How long `peer` must still wait (ms), or 0 when it may connect. */
  blockedFor(peer: string, now = Date.now()): number {
    const entry = this.byPeer.get(peer);
    if (!entry || entry.failures < this.opts.maxFailures) return 0;
    const left = entry.windowStart + this.opts.windowMs - now;
    if (left <= 0) {
      this.byPeer.delete(peer);
      return 0;
    }
    return left;
  }

  /** A handshake from `peer` was refused for its credentials. */
  failed(peer: string, now = Date.now()): void {
    const entry = this.byPeer.get(peer);
    if (entry && now - entry.windowStart < this.opts.windowMs) {
      entry.failures++;
      return;
    }
    if (!entry && this.byPeer.size >= (this.opts.maxAddresses ?? 100_000)) this.prune(now);
    this.byPeer.set(peer, { windowStart: now, failures: 1 });
  }

  get tracked(): number {
    return this.byPeer.size;
  }

  private prune(now: number): void {
    for (const [peer, e] of this.byPeer) if (now - e.windowStart >= this.opts.windowMs) this.byPeer.delete(peer);
    if (this.byPeer.size >= (this.opts.maxAddresses ?? 100_000)) this.byPeer.clear();
  }
}
