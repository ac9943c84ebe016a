/**
 * How many WebSocket connections a server holds, and from whom. Three caps apply before the
 * upgrade, from the client's address alone: connections not yet authenticated (all of them, and
 * per address) and connections per address. Each unauthenticated connection may make the server
 * buffer up to one frame (uWS keeps a partial frame until it is complete), so the pre-auth cap
 * times the largest frame is the memory anyone can pin without a key (SECURITY.md). A fourth cap
 * applies once a connection authenticates: connections per tenant, counted per kind (ingest and
 * subscribe apart), so a tenant holding many subscribers cannot crowd out its own publishers.
 */
import { WeirError } from "../errors.js";
import type { ConnectionSlot } from "../protocol/ports.js";

export type { ConnectionSlot } from "../protocol/ports.js";

export type ConnectionKind = "ingest" | "subscribe";

/** 0 in a per-address cap: no cap (behind a proxy that hides client addresses). */
export type ConnectionLimits = {
  /** Connections that have not completed their Hello, all addresses together. */
  readonly maxPreauth: number;
  /** Connections that have not completed their Hello, per client address. */
  readonly maxPreauthPerPeer: number;
  /** Open connections per client address. */
  readonly maxPerPeer: number;
  /** Authenticated connections per tenant and kind. */
  readonly maxPerTenant: Readonly<Record<ConnectionKind, number>>;
};

/** Why a connection is turned away before the upgrade: the HTTP status and the audit code. */
export type UpgradeRefusal = { readonly status: 429 | 503; readonly error: WeirError };

export class ConnectionCaps {
  private preauth = 0;
  private readonly preauthByPeer = new Map<string, number>();
  private readonly byPeer = new Map<string, number>();
  private readonly byTenant = new Map<string, number>();

  constructor(private readonly limits: ConnectionLimits) {}

  /** Connections open and not yet authenticated. */
  get unauthenticated(): number {
    return this.preauth;
  }

  /** Whether a new connection from `peer` may be upgraded (undefined) or why not. */
  refusal(peer: string): UpgradeRefusal | undefined {
    const { maxPreauth, maxPreauthPerPeer, maxPerPeer } = this.limits;
    if (maxPerPeer > 0 && (this.byPeer.get(peer) ?? 0) >= maxPerPeer)
      return { status: 429, error: new WeirError("WEIR_ERR_TOO_MANY_CONNECTIONS", `${maxPerPeer} from ${peer}`) };
    if (maxPreauthPerPeer > 0 && (this.preauthByPeer.get(peer) ?? 0) >= maxPreauthPerPeer)
      return { status: 429, error: new WeirError("WEIR_ERR_TOO_MANY_CONNECTIONS", `${maxPreauthPerPeer} unauthenticated from ${peer}`) };
    if (this.preauth >= maxPreauth) return { status: 503, error: new WeirError("WEIR_ERR_TOO_MANY_CONNECTIONS", `${maxPreauth} unauthenticated`) };
    return undefined;
  }

  /** Counts a connection that was upgraded (refusal() said yes just before). */
  open(peer: string, kind: ConnectionKind): ConnectionSlot {
    this.preauth++;
    increment(this.preauthByPeer, peer);
    increment(this.byPeer, peer);
    let tenantKey: string | undefined;
    let state: "preauth" | "authenticated" | "released" = "preauth";
    const leavePreauth = () => {
      this.preauth--;
      decrement(this.preauthByPeer, peer);
    };
    return {
      authenticated: (tenant) => {
        if (state !== "preauth") return undefined;
        const key = `${kind}\u0000${tenant}`;
        const max = this.limits.maxPerTenant[kind];
        if ((this.byTenant.get(key) ?? 0) >= max) return new WeirError("WEIR_ERR_TOO_MANY_CONNECTIONS", `${max} ${kind} connections of tenant ${tenant}`);
        leavePreauth();
        state = "authenticated";
        tenantKey = key;
        increment(this.byTenant, key);
        return undefined;
      },
      release: () => {
        if (state === "released") return;
        if (state === "preauth") leavePreauth();
        else decrement(this.byTenant, tenantKey!);
        state = "released";
        decrement(this.byPeer, peer);
      },
    };
  }
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** Counts that reach zero are removed, so the maps hold only addresses and tenants connected now. */
function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
