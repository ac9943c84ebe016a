/**
 * The part of the wire protocol every server endpoint shares — the gateway's /v1/ingest and
 * /v1/subscribe and the edge relay's /v1/ingest: frame decoding, the Hello deadline, the version
 * check, authentication, the Welcome, Ping/Pong, and how a connection is refused (a ProtocolError
 * frame, then the error's close code). What comes after the handshake belongs to an Endpoint
 * (ingest: credit and batches; subscribe: one Subscribe, then deliveries).
 *
 * Same bad input, same answer, on every endpoint:
 *   text frame, undecodable bytes, a frame of no known kind, Hello twice   4400 WEIR_ERR_BAD_FRAME
 *   unknown tenant or bad key                                               4401 WEIR_ERR_UNAUTHORIZED
 *   a token refused (bad signature, issuer, audience, expired; in Hello or Refresh)  4401 WEIR_ERR_BAD_TOKEN
 *   the token expired before a Refresh replaced it                          4419 WEIR_ERR_TOKEN_EXPIRED
 *   any other frame before the Welcome                                      4403 WEIR_ERR_HELLO_REQUIRED
 *   no Hello in time                                                        4408 WEIR_ERR_HELLO_TIMEOUT
 *   the tenant is at its connection cap on this server                      1013 WEIR_ERR_TOO_MANY_CONNECTIONS
 *   another protocol version                                                4426 WEIR_ERR_UNSUPPORTED_VERSION
 * (test/protocol/refusals.test.ts runs one table against the gateway and the relay.)
 *
 * Portable: no Node APIs, so the relay runs it on Deno.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema, HelloSchema, ServerFrameSchema, type ClientFrame, type Hello, type ServerFrame, type Welcome } from "../gen/weir/v1/protocol_pb.js";
import { WeirError, isWeirError } from "../errors.js";
import type { AuthOutcome, Authenticator, ConnectionSlot, Principal, RefusalReport, SessionLog, Transport } from "./ports.js";
import { PROTOCOL_VERSION } from "./version.js";

export type ClientFrameBody = ClientFrame["frame"];
export type ServerFrameBody = ServerFrame["frame"];

/** The Welcome's fields an endpoint sets (the session sets the session id). */
export type WelcomeFields = Omit<Partial<Welcome>, "$typeName" | "sessionId">;

/** What comes after the handshake: one per endpoint kind. */
export interface Endpoint {
  /** The tenant is authenticated (its grants: ProtocolSession.principal): the Welcome it gets. */
  onReady(tenant: string): WelcomeFields;
  /** A frame after the Welcome, other than Hello and Ping. */
  onFrame(frame: ClientFrameBody): void;
  /** The connection ended (closed by either side, or refused); called once. */
  onEnded(): void;
}

export type SessionOptions = {
  readonly authenticator: Authenticator;
  readonly helloTimeoutMs: number;
  /**
   * Unsent bytes a client may leave unread before `send` closes it as a slow reader (ingest);
   * without it the endpoint watches the buffer itself (subscribe).
   */
  readonly maxSendBufferBytes?: number;
  readonly log?: SessionLog;
  /** Every refusal, for the security audit trail. */
  readonly audit?: (refusal: RefusalReport) => void;
  /** The connection's place in the server's connection caps: may refuse its tenant; released at the end. */
  readonly slot?: ConnectionSlot;
};

/** The close code of an error that ends a connection; one without its own is a server fault (1011). */
export function closeCodeOf(error: WeirError): number {
  return error.spec.close ?? 1011;
}

/** One WebSocket message as a client frame, or the error that closes the connection. */
export function decodeClientFrame(bytes: Uint8Array, isBinary: boolean): ClientFrameBody | WeirError {
  if (!isBinary) return new WeirError("WEIR_ERR_BAD_FRAME", "text frames are not part of the protocol");
  try {
    return fromBinary(ClientFrameSchema, bytes).frame;
  } catch (err) {
    return new WeirError("WEIR_ERR_BAD_FRAME", (err as Error).message);
  }
}

export function encodeServerFrame(frame: ServerFrameBody): Uint8Array {
  return toBinary(ServerFrameSchema, create(ServerFrameSchema, { frame }));
}

type Phase = "awaiting-hello" | "authenticating" | "ready" | "closed";

/** Frames a client may send behind its Hello before the Welcome (a Subscribe, a first batch). */
const MAX_EARLY_FRAMES = 2;

/** The longest a timer can wait (setTimeout's limit); an expiry further out is re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class ProtocolSession {
  readonly sessionId: string = crypto.randomUUID();
  private phase: Phase = "awaiting-hello";
  private who: Principal = { tenant: "" };
  private helloTimer: ReturnType<typeof setTimeout> | undefined;
  private expiryTimer: ReturnType<typeof setTimeout> | undefined;
  /** A Refresh being verified (one at a time). */
  private refreshing = false;
  /** Frames that came behind the Hello while it was being authenticated. */
  private early: ClientFrameBody[] = [];

  constructor(
    readonly transport: Transport,
    private readonly opts: SessionOptions,
    private readonly endpoint: Endpoint,
  ) {
    this.helloTimer = setTimeout(() => {
      if (this.phase === "awaiting-hello" || this.phase === "authenticating") this.fail(new WeirError("WEIR_ERR_HELLO_TIMEOUT", opts.helloTimeoutMs));
    }, opts.helloTimeoutMs);
    // A pending Hello must not keep a process alive (Node; Deno timers have no unref here).
    (this.helloTimer as { unref?: () => void }).unref?.();
  }

  /** The authenticated tenant ("" before the Welcome). */
  get tenant(): string {
    return this.who.tenant;
  }

  /** Who the connection is, as of its last Hello or Refresh. */
  get principal(): Principal {
    return this.who;
  }

  get ready(): boolean {
    return this.phase === "ready";
  }

  get closed(): boolean {
    return this.phase === "closed";
  }

  /** Handles one WebSocket message. `bytes` must stay valid after return (the caller copies uWS buffers). */
  onMessage(bytes: Uint8Array, isBinary: boolean): void {
    if (this.phase === "closed") return;
    const frame = decodeClientFrame(bytes, isBinary);
    if (frame instanceof WeirError) return this.fail(frame);
    if (frame.case === undefined) return this.fail(new WeirError("WEIR_ERR_BAD_FRAME", "frame has no known kind"));
    if (frame.case === "hello") {
      if (this.phase !== "awaiting-hello") return this.fail(new WeirError("WEIR_ERR_BAD_FRAME", "Hello sent twice"));
      return this.onHello(frame.value);
    }
    if (this.phase === "authenticating") {
      // Sent right behind the Hello while its token is verified: handled after the Welcome.
      if (this.early.length >= MAX_EARLY_FRAMES)
        return this.fail(new WeirError("WEIR_ERR_BAD_FRAME", `more than ${MAX_EARLY_FRAMES} frames before the Welcome`));
      this.early.push(frame);
      return;
    }
    if (this.phase !== "ready") return this.fail(new WeirError("WEIR_ERR_HELLO_REQUIRED"));
    this.onFrame(frame);
  }

  /** A frame after the Welcome. */
  private onFrame(frame: ClientFrameBody): void {
    if (frame.case === "ping") return this.send({ case: "pong", value: { $typeName: "weir.v1.Pong", nonce: frame.value.nonce } });
    if (frame.case === "refresh") return this.onRefresh(frame.value.token);
    this.endpoint.onFrame(frame);
  }

  /** The transport closed (by either side). */
  onClose(): void {
    this.end();
  }

  /** Ends the connection with a ProtocolError frame and the error's close code. */
  fail(error: WeirError): void {
    if (this.phase === "closed") return;
    const closeCode = closeCodeOf(error);
    this.opts.log?.debug({ session: this.sessionId, code: error.code }, error.message);
    this.opts.audit?.({ code: error.code, closeCode, tenant: this.who.tenant, peer: this.transport.peer ?? "" });
    this.write({ case: "error", value: { $typeName: "weir.v1.ProtocolError", errorCode: error.code, message: error.message, closeCode } });
    this.end();
    this.transport.close(closeCode, error.code);
  }

  /** Sends a frame unless the client left too much unread (then closes it as a slow reader; see maxSendBufferBytes). */
  send(frame: ServerFrameBody): void {
    if (this.phase === "closed") return;
    const limit = this.opts.maxSendBufferBytes;
    if (limit !== undefined) {
      const buffered = this.transport.bufferedAmount();
      if (buffered > limit) return this.fail(new WeirError("WEIR_ERR_SLOW_READER", buffered));
    }
    this.write(frame);
  }

  /** Sends a frame now, whatever the send buffer holds (nothing once closed). */
  write(frame: ServerFrameBody): void {
    if (this.phase !== "closed") this.transport.send(encodeServerFrame(frame));
  }

  private onHello(hello: Hello): void {
    if (hello.protocolVersion !== PROTOCOL_VERSION) return this.fail(new WeirError("WEIR_ERR_UNSUPPORTED_VERSION", hello.protocolVersion, PROTOCOL_VERSION));
    this.phase = "authenticating";
    this.authenticate(hello, (principal) => {
      if (this.phase !== "authenticating") return; // closed meanwhile
      this.welcome(principal);
    });
  }

  /** Runs the authenticator; `then` gets the principal, a refusal closes the connection. */
  private authenticate(hello: Hello, then: (principal: Principal) => void): void {
    const settle = (outcome: AuthOutcome) => {
      if (this.phase === "closed") return;
      if (outcome instanceof WeirError) return this.fail(outcome);
      then(outcome);
    };
    const refuse = (err: unknown) => this.fail(isWeirError(err) ? err : new WeirError("WEIR_ERR_UNAUTHORIZED"));
    let outcome: AuthOutcome | Promise<AuthOutcome>;
    try {
      outcome = this.opts.authenticator.authenticate(hello);
    } catch (err) {
      return refuse(err);
    }
    if (outcome instanceof Promise) outcome.then(settle, refuse);
    else settle(outcome);
  }

  private welcome(principal: Principal): void {
    const refusal = this.opts.slot?.authenticated(principal.tenant);
    if (refusal) return this.fail(refusal);
    clearTimeout(this.helloTimer);
    this.phase = "ready";
    this.who = principal;
    this.armExpiry();
    const fields = this.endpoint.onReady(principal.tenant);
    this.send({
      case: "welcome",
      value: {
        $typeName: "weir.v1.Welcome",
        credit: 0,
        maxBatchEvents: 0,
        maxEventBytes: 0,
        maxFrameBytes: 0,
        gatewayId: "",
        ...fields,
        expiresAtMs: BigInt(principal.expiresAtMs ?? 0),
        sessionId: this.sessionId,
      },
    });
    for (const frame of this.early.splice(0)) if (this.phase === "ready") this.onFrame(frame);
  }

  /** A new token for the same tenant: the connection carries on with its grants and expiry. */
  private onRefresh(token: string): void {
    if (this.refreshing) return this.fail(new WeirError("WEIR_ERR_BAD_FRAME", "Refresh sent before the previous one was answered"));
    this.refreshing = true;
    const hello = create(HelloSchema, { protocolVersion: PROTOCOL_VERSION, tenant: this.who.tenant, token });
    this.authenticate(hello, (principal) => {
      this.refreshing = false;
      if (principal.tenant !== this.who.tenant)
        return this.fail(new WeirError("WEIR_ERR_BAD_TOKEN", `it names tenant ${principal.tenant}, the connection is ${this.who.tenant}`));
      this.who = principal;
      this.armExpiry();
      this.send({ case: "refreshed", value: { $typeName: "weir.v1.Refreshed", expiresAtMs: BigInt(principal.expiresAtMs ?? 0) } });
    });
  }

  /** Closes the connection when its credentials expire (re-armed by each Refresh). */
  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    const at = this.who.expiresAtMs;
    if (at === undefined) return;
    const wait = at - Date.now();
    if (wait <= 0) return this.fail(new WeirError("WEIR_ERR_TOKEN_EXPIRED"));
    this.expiryTimer = setTimeout(() => this.armExpiry(), Math.min(wait, MAX_TIMER_MS));
    (this.expiryTimer as { unref?: () => void }).unref?.();
  }

  private end(): void {
    if (this.phase === "closed") return;
    this.phase = "closed";
    clearTimeout(this.helloTimer);
    clearTimeout(this.expiryTimer);
    this.opts.slot?.release();
    this.endpoint.onEnded();
  }
}
