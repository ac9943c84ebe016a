/**
 * The uWebSockets.js adapter: routes, socket lifecycle, backpressure hooks. All protocol
 * decisions live in the sessions (src/protocol, src/subscribe); this file only moves bytes between
 * uWS and them.
 * uWS rules kept here: message buffers are valid only during the callback (copied once),
 * a closed socket is never touched again, and shutdown closes the listen socket first.
 */
import uWS from "uWebSockets.js";
import { IngestSession, type IngestSessionDeps } from "../src/protocol/ingest-session.js";
import type { Transport } from "../src/protocol/ports.js";
import { Subscription, type SubscriptionDeps } from "../src/subscribe/subscription.js";
import type { Logger } from "../src/log.js";
import { WeirError } from "../src/errors.js";
import { readConfigFile } from "../src/config/read-file.js";
import { originAllowed, writeSecurityHeaders, type PageKind } from "./http-security.js";
import type { ConnectionKind, ConnectionSlot } from "../src/security/connection-caps.js";

export type ServerOptions = {
  readonly host: string;
  readonly port: number;
  /** Serve TLS only (wss://, https://) with this PEM certificate and key. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly passphrase?: string };
  readonly maxFrameBytes: number;
  readonly maxSendBufferBytes: number;
  readonly connection: IngestSessionDeps;
  readonly subscription: SubscriptionDeps;
  readonly logger: Logger;
  /** GET /metrics: Prometheus text. */
  readonly metrics: () => Promise<{ contentType: string; body: string }>;
  /** GET /v1/stats: live figures as JSON (the dashboard polls it); a promise for a process group, whose figures come from every process. */
  readonly stats: () => unknown;
  /** Static files served under /dashboard/ (path → content type and bytes). */
  readonly staticFiles?: ReadonlyMap<string, { type: string; body: Buffer }>;
  /** Who may connect: asked before each WebSocket upgrade, and told of each connection opened. */
  readonly admission?: UpgradeAdmission;
  /** Browser origins allowed besides the gateway's own (empty: any); see http-security.ts. */
  readonly allowedOrigins?: readonly string[];
  /** Who may read /metrics and /v1/stats, from the request's Authorization header (absent: anyone). */
  readonly opsAccess?: OpsAccess;
  /** /readyz answers 200 only while this returns ready. */
  readonly readiness: () => { ready: boolean; checks: Record<string, boolean> };
};

/** Access to the operational pages; refusals are audited by the implementation. */
export interface OpsAccess {
  allowed(page: "metrics" | "stats", authorization: string, peer: string): boolean | Promise<boolean>;
}

/** The server's connection policy (failed-auth throttling, connection caps, origins), as the server sees it. */
export interface UpgradeAdmission {
  /** Undefined to upgrade; or the HTTP answer that turns the client away (the policy audits it). */
  refusal(peer: string): { readonly status: 429 | 503; readonly retryAfterS: number } | undefined;
  /** A browser origin that is not allowed tried to connect (for the audit trail). */
  refusedOrigin?(peer: string, origin: string): void;
  /** Counts an upgraded connection until its session releases the slot. */
  open(peer: string, kind: ConnectionKind): ConnectionSlot;
}

type SocketData = { conn?: IngestSession; closed: boolean };
type SubscriberData = { sub?: Subscription; closed: boolean };

/** A uWS socket as the protocol classes see it; nothing is done to it once it closed. */
function transportOf(ws: uWS.WebSocket<{ closed: boolean }>, data: { closed: boolean }): Transport {
  return {
    // Read now: uWS frees the socket's address with the socket.
    peer: Buffer.from(ws.getRemoteAddressAsText()).toString(),
    send: (bytes) => {
      if (!data.closed) ws.cork(() => ws.send(bytes, true));
    },
    close: (code, reason) => {
      if (!data.closed) ws.end(code, reason);
    },
    bufferedAmount: () => (data.closed ? 0 : ws.getBufferedAmount()),
  };
}

const STATUS_LINES = { 429: "429 Too Many Requests", 503: "503 Service Unavailable" } as const;

/**
 * Upgrades to a WebSocket, unless the browser origin is not allowed (HTTP 403) or the admission
 * turns the client away (HTTP 429 or 503, Retry-After).
 */
function upgradeIfAdmitted<T>(opts: ServerOptions, res: uWS.HttpResponse, req: uWS.HttpRequest, context: uWS.us_socket_context_t, data: T): void {
  const peer = Buffer.from(res.getRemoteAddressAsText()).toString();
  const origin = req.getHeader("origin");
  if (!originAllowed(origin, req.getHeader("host"), opts.allowedOrigins ?? [])) {
    opts.admission?.refusedOrigin?.(peer, origin);
    res.cork(() => writeSecurityHeaders(res.writeStatus("403 Forbidden"), "api", false).end("origin not allowed"));
    return;
  }
  const refusal = opts.admission?.refusal(peer);
  if (refusal) {
    res.cork(() =>
      writeSecurityHeaders(res.writeStatus(STATUS_LINES[refusal.status]), "api", false).writeHeader("retry-after", String(refusal.retryAfterS)).end(),
    );
    return;
  }
  res.upgrade<T>(data, req.getHeader("sec-websocket-key"), req.getHeader("sec-websocket-protocol"), req.getHeader("sec-websocket-extensions"), context);
}

/** The connection's slot in the admission's caps (none without an admission). */
function slotOf(opts: ServerOptions, transport: Transport, kind: ConnectionKind): ConnectionSlot | undefined {
  return opts.admission?.open(transport.peer ?? "", kind);
}

export type RunningServer = {
  readonly port: number;
  readonly connections: ReadonlySet<IngestSession>;
  /** Every subscriber connection, from its first byte (subscribed or not yet). */
  readonly subscribers: ReadonlySet<Subscription>;
  /** Stops accepting connections; open ones continue. */
  stopListening(): void;
  /** Ends every open connection, ingest and subscribe, with `error`'s ProtocolError and close code. */
  closeAll(error: WeirError): void;
};

/**
 * uWS's TLS app. It reads the files itself and, given files it cannot use, throws only "App
 * construction failed": the files are read here first, so the boot stops with which file and why.
 */
function tlsApp(tls: NonNullable<ServerOptions["tls"]>): uWS.TemplatedApp {
  for (const [what, file] of [
    ["WEIR_TLS_CERT_FILE", tls.certFile],
    ["WEIR_TLS_KEY_FILE", tls.keyFile],
  ] as const) {
    const text = readConfigFile(what, file);
    if (!text.includes("-----BEGIN ")) throw new WeirError("WEIR_ERR_CONFIG", `${what}: ${file} is not PEM`);
  }
  try {
    return uWS.SSLApp({ cert_file_name: tls.certFile, key_file_name: tls.keyFile, ...(tls.passphrase ? { passphrase: tls.passphrase } : {}) });
  } catch (err) {
    throw new WeirError(
      "WEIR_ERR_CONFIG",
      `WEIR_TLS_CERT_FILE ${tls.certFile} and WEIR_TLS_KEY_FILE ${tls.keyFile} are not a usable certificate and private key (${(err as Error).message})`,
    );
  }
}

export function startServer(opts: ServerOptions): Promise<RunningServer> {
  const connections = new Set<IngestSession>();
  const subscribers = new Set<Subscription>();
  const app = opts.tls ? tlsApp(opts.tls) : uWS.App();
  const tls = opts.tls !== undefined;

  app.ws<SocketData>("/v1/ingest", {
    compression: uWS.DISABLED,
    // uWS cuts frames over maxPayloadLength without a close frame (the client sees 1006). Up to
    // twice our limit we still read the frame and answer with a ProtocolError and 1009.
    maxPayloadLength: opts.maxFrameBytes * 2,
    // uWS's own hard cap sits above ours, so the connection closes with our code first.
    maxBackpressure: opts.maxSendBufferBytes * 2,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => upgradeIfAdmitted<SocketData>(opts, res, req, context, { closed: false }),
    open: (ws) => {
      const data = ws.getUserData();
      const transport = transportOf(ws, data);
      const conn = new IngestSession(transport, opts.connection, slotOf(opts, transport, "ingest"));
      data.conn = conn;
      connections.add(conn);
    },
    message: (ws, message, isBinary) => {
      const conn = ws.getUserData().conn;
      if (!conn) return;
      if (message.byteLength > opts.maxFrameBytes) return conn.fail(new WeirError("WEIR_ERR_FRAME_TOO_LARGE", message.byteLength, opts.maxFrameBytes));
      // uWS reuses `message` after this callback returns; decoded payloads must outlive it.
      conn.onMessage(new Uint8Array(message.slice(0)), isBinary);
    },
    close: (ws, code) => {
      const data = ws.getUserData();
      data.closed = true;
      if (data.conn) {
        data.conn.onClose();
        connections.delete(data.conn);
        opts.logger.debug({ session: data.conn.sessionId, code }, "connection closed");
      }
    },
  });

  app.ws<SubscriberData>("/v1/subscribe", {
    compression: uWS.DISABLED,
    maxPayloadLength: 64 * 1024,
    // Above our own slow-subscriber limit, so the subscription closes with its code first.
    maxBackpressure: opts.maxSendBufferBytes * 4,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => upgradeIfAdmitted<SubscriberData>(opts, res, req, context, { closed: false }),
    open: (ws) => {
      const data = ws.getUserData();
      const transport = transportOf(ws, data);
      data.sub = new Subscription(transport, opts.subscription, slotOf(opts, transport, "subscribe"));
      subscribers.add(data.sub);
    },
    message: (ws, message, isBinary) => ws.getUserData().sub?.onMessage(new Uint8Array(message.slice(0)), isBinary),
    drain: (ws) => ws.getUserData().sub?.onDrain(),
    close: (ws) => {
      const data = ws.getUserData();
      data.closed = true;
      if (data.sub) {
        data.sub.onClose();
        subscribers.delete(data.sub);
      }
    },
  });

  /** Answers with the security headers; `body` runs corked, after the status line. */
  const answer = (res: uWS.HttpResponse, kind: PageKind, status: string, then: (res: uWS.HttpResponse) => void) =>
    res.cork(() => then(writeSecurityHeaders(res.writeStatus(status), kind, tls)));

  /** Serves `page` to whoever opsAccess allows (401 otherwise); `body` may be async. */
  const opsPage = (page: "metrics" | "stats", body: () => Promise<{ contentType: string; text: string }>) => (res: uWS.HttpResponse, req: uWS.HttpRequest) => {
    // uWS frees the request when the handler returns: read what is needed first.
    const authorization = req.getHeader("authorization");
    const peer = Buffer.from(res.getRemoteAddressAsText()).toString();
    let aborted = false;
    res.onAborted(() => (aborted = true));
    void (async () => {
      let reply: { status: string; contentType: string; text: string };
      try {
        const allowed = (await opts.opsAccess?.allowed(page, authorization, peer)) ?? true;
        reply = allowed
          ? { status: "200 OK", ...(await body()) }
          : { status: "401 Unauthorized", contentType: "text/plain", text: `${page} needs a bearer token` };
      } catch {
        reply = { status: "500 Internal Server Error", contentType: "text/plain", text: `${page} failed` };
      }
      if (aborted) return;
      answer(res, "api", reply.status, (r) => {
        if (reply.status === "401 Unauthorized") r.writeHeader("www-authenticate", 'Bearer realm="weir"');
        r.writeHeader("content-type", reply.contentType).end(reply.text);
      });
    })();
  };

  app.get("/healthz", (res) => void answer(res, "api", "200 OK", (r) => void r.writeHeader("content-type", "text/plain").end("ok")));
  app.get("/readyz", (res) => {
    const { ready, checks } = opts.readiness();
    answer(
      res,
      "api",
      ready ? "200 OK" : "503 Service Unavailable",
      (r) => void r.writeHeader("content-type", "application/json").end(JSON.stringify({ ready, checks })),
    );
  });
  app.get(
    "/metrics",
    opsPage("metrics", async () => {
      const { contentType, body } = await opts.metrics();
      return { contentType, text: body };
    }),
  );
  app.get(
    "/v1/stats",
    opsPage("stats", async () => ({ contentType: "application/json", text: JSON.stringify(await opts.stats()) })),
  );
  for (const [path, file] of opts.staticFiles ?? []) {
    app.get(path, (res) => void answer(res, "page", "200 OK", (r) => void r.writeHeader("content-type", file.type).end(file.body)));
  }
  app.any("/*", (res) => void answer(res, "api", "404 Not Found", (r) => void r.end("not found")));

  return new Promise((resolve, reject) => {
    app.listen(opts.host, opts.port, (token) => {
      if (!token) return reject(new Error(`cannot listen on ${opts.host}:${opts.port}`));
      let listening = true;
      resolve({
        port: uWS.us_socket_local_port(token),
        connections,
        subscribers,
        stopListening: () => {
          // Closing a uWS listen socket twice is undefined behaviour: once only.
          if (!listening) return;
          listening = false;
          uWS.us_listen_socket_close(token);
        },
        closeAll: (error) => {
          for (const conn of [...connections]) conn.fail(error);
          for (const sub of [...subscribers]) sub.fail(error);
        },
      });
    });
  });
}
