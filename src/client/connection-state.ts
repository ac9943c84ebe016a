/**
 * The client's connection as a state machine the user can watch (in the manner of Ably's and
 * Centrifugo's SDKs): connecting → connected → disconnected (with the reason and when it tries
 * again) → connecting …; suspended once no gateway has been reachable for `suspendAfterMs` (it
 * keeps trying at its backoff, and events keep queueing in the outbox); closed for good by
 * close() or a fatal refusal. Every change is reported once, with the state it left.
 */
export type ConnectionState = "connecting" | "connected" | "disconnected" | "suspended" | "closed";

export type ConnectionStateChange = {
  readonly state: ConnectionState;
  readonly previous: ConnectionState;
  /** connecting: the gateway being tried; connected: the one serving; else the last one tried. */
  readonly url?: string;
  /** connected: the gateway's id. */
  readonly gatewayId?: string;
  /** disconnected, suspended, closed: why (the close reason, or the connect error). */
  readonly reason?: string;
  /** disconnected, suspended: the WebSocket close code, when the connection closed with one. */
  readonly closeCode?: number;
  /** disconnected, suspended: how long until the next attempt (0: at once, at the next gateway). */
  readonly retryInMs?: number;
  /** disconnected, suspended: when that is (epoch ms). */
  readonly retryAtMs?: number;
  /** Epoch ms of the change. */
  readonly atMs: number;
};

export class ConnectionStateMachine {
  private current: ConnectionStateChange;
  /** Since when no gateway has served (undefined while connected). */
  private unreachableSince: number | undefined;

  constructor(
    private readonly suspendAfterMs: number,
    private readonly emit: (change: ConnectionStateChange) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.current = { state: "connecting", previous: "connecting", atMs: now() };
    this.unreachableSince = this.current.atMs;
  }

  get state(): ConnectionStateChange {
    return this.current;
  }

  connecting(url: string): void {
    if (this.current.state === "closed") return;
    // While suspended, attempts do not leave the state: it ends with a connection (or close).
    if (this.current.state === "suspended") return;
    this.change({ state: "connecting", url });
  }

  connected(url: string, gatewayId: string): void {
    this.unreachableSince = undefined;
    this.change({ state: "connected", url, gatewayId });
  }

  /** A connection ended or an attempt failed; the next attempt is in `retryInMs`. */
  disconnected(info: { url: string; reason: string; closeCode?: number; retryInMs: number }): void {
    if (this.current.state === "closed") return;
    const at = this.now();
    this.unreachableSince ??= at;
    const state = at - this.unreachableSince >= this.suspendAfterMs ? "suspended" : "disconnected";
    this.change(
      {
        state,
        url: info.url,
        reason: info.reason,
        ...(info.closeCode !== undefined ? { closeCode: info.closeCode } : {}),
        retryInMs: info.retryInMs,
        retryAtMs: at + info.retryInMs,
      },
      at,
    );
  }

  closed(reason: string): void {
    if (this.current.state === "closed") return;
    this.change({ state: "closed", reason });
  }

  private change(next: Omit<ConnectionStateChange, "previous" | "atMs">, atMs = this.now()): void {
    const previous = this.current.state;
    // A suspended client reports each failed round (its next retry time changes); otherwise repeats of a state are news only with news in them.
    if (previous === next.state && previous !== "suspended" && previous !== "disconnected" && this.current.url === next.url) return;
    this.current = { ...next, previous, atMs };
    this.emit(this.current);
  }
}
