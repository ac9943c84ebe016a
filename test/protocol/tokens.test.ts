/**
 * Tokens (JWT, jose): who a token says the tenant is and what it may do; refused when forged,
 * expired, for another issuer or audience; keys rotated through a JWKS URL; and on a live
 * connection, a Refresh that carries it past the first token's expiry, or a close (4419) when
 * none comes. API keys stored as SHA-256 digests.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { SignJWT, exportJWK, generateKeyPair, type JWK, type JWTPayload } from "jose";
import { create } from "@bufbuild/protobuf";
import { HelloSchema, ResultCode } from "../../src/gen/weir/v1/protocol_pb.js";
import { jwtAuthenticator, credentialsAuthenticator } from "../../src/protocol/jwt-authenticator.js";
import { apiKeyAuthenticator } from "../../src/protocol/api-key-authenticator.js";
import type { Authenticator, AuthOutcome, Principal } from "../../src/protocol/ports.js";
import { IngestSession } from "../../src/protocol/ingest-session.js";
import { PROTOCOL_VERSION } from "../../src/protocol/version.js";
import { WeirError } from "../../src/errors.js";
import { clientFrame, FakeTransport } from "../unit-fixtures/fake-transport.js";
import { flushMicrotasks, until } from "../unit-fixtures/fake-ports.js";
import { ingestHarness, quoteEvent } from "../unit-fixtures/events.js";

const SECRET = "a shared secret of at least thirty-two bytes!";
const secretKey = new TextEncoder().encode(SECRET);
const nowS = () => Math.floor(Date.now() / 1000);

function token(claims: JWTPayload, opts: { expiresInS?: number; secret?: Uint8Array; issuer?: string; audience?: string } = {}) {
  let jwt = new SignJWT({ weir_tenant: "acme", weir_publish: ["weir.events.v1.*"], weir_subscribe: ["results.*"], ...claims })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt();
  if (opts.expiresInS !== null) jwt = jwt.setExpirationTime(nowS() + (opts.expiresInS ?? 300));
  if (opts.issuer) jwt = jwt.setIssuer(opts.issuer);
  if (opts.audience) jwt = jwt.setAudience(opts.audience);
  return jwt.sign(opts.secret ?? secretKey);
}

const hello = (fields: { token?: string; tenant?: string; apiKey?: string }) => create(HelloSchema, { protocolVersion: PROTOCOL_VERSION, ...fields });

async function outcome(auth: Authenticator, fields: { token?: string; tenant?: string; apiKey?: string }): Promise<AuthOutcome> {
  return await auth.authenticate(hello(fields));
}

function refusal(o: AuthOutcome): WeirError {
  if (!(o instanceof WeirError)) throw new Error(`expected a refusal, got tenant ${o.tenant}`);
  return o;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("jwtAuthenticator", () => {
  const auth = jwtAuthenticator({ secret: SECRET, issuer: "https://idp.example", audience: "weir" });
  const valid = (claims: JWTPayload = {}, opts: Parameters<typeof token>[1] = {}) =>
    token(claims, { issuer: "https://idp.example", audience: "weir", ...opts });

  it("takes the tenant, grants and expiry from a valid token's claims", async () => {
    const o = (await outcome(auth, { token: await valid({}, { expiresInS: 600 }) })) as Principal;
    expect(o.tenant).toBe("acme");
    expect(o.grants).toEqual({ publish: ["weir.events.v1.*"], subscribe: ["results.*"] });
    expect(o.expiresAtMs).toBe((nowS() + 600) * 1000);
  });

  it("gives a token without grant claims no grants at all (opt-in)", async () => {
    const o = (await outcome(auth, { token: await valid({ weir_publish: undefined, weir_subscribe: undefined }) })) as Principal;
    expect(o.grants).toEqual({ publish: [], subscribe: [] });
  });

  it.each([
    [
      "forged (another secret)",
      () => valid({}, { secret: new TextEncoder().encode("another secret of thirty-two bytes or more") }),
      "signature does not verify",
    ],
    ["expired", () => valid({}, { expiresInS: -60 }), "expired"],
    ["for another issuer", () => valid({}, { issuer: "https://evil.example" }), "claim iss: check_failed"],
    ["for another audience", () => valid({}, { audience: "someone-else" }), "claim aud: check_failed"],
    ["without an expiry", () => valid({}, { expiresInS: null as unknown as number }), "claim exp"],
    ["without a tenant", () => valid({ weir_tenant: undefined }), "claim weir_tenant must name a tenant"],
    ["with a tenant containing /", () => valid({ weir_tenant: "a/b" }), "claim weir_tenant must name a tenant"],
    ["with grants that are not lists", () => valid({ weir_publish: "weir.events.v1.*" }), "claim weir_publish must be a list of strings"],
    ["not a JWT at all", () => Promise.resolve("not.a.jwt"), ""],
  ])("refuses a token %s with WEIR_ERR_BAD_TOKEN (4401)", async (_, make, reason) => {
    const err = refusal(await outcome(auth, { token: await make() }));
    expect(err.code).toBe("WEIR_ERR_BAD_TOKEN");
    expect(err.spec.close).toBe(4401);
    expect(err.message).toContain(reason);
  });

  it("refuses a token naming another tenant than the Hello", async () => {
    const err = refusal(await outcome(auth, { token: await valid(), tenant: "globex" }));
    expect(err.message).toBe("token refused: it names tenant acme, the Hello globex");
  });

  describe("keys from a JWKS URL", () => {
    let server: Server;
    let jwks: { keys: JWK[] } = { keys: [] };
    let fetches = 0;
    beforeAll(async () => {
      server = createServer((_req, res) => {
        fetches++;
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(jwks));
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it("verifies RS256 tokens and follows a key rotation (a new key id is fetched)", async () => {
      const first = await generateKeyPair("RS256");
      const second = await generateKeyPair("ES256");
      jwks = { keys: [{ ...(await exportJWK(first.publicKey)), kid: "k1", alg: "RS256" }] };
      const rotating = jwtAuthenticator({ jwksUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json` });
      const sign = (key: Parameters<SignJWT["sign"]>[0], alg: string, kid: string) =>
        new SignJWT({ weir_tenant: "acme" })
          .setProtectedHeader({ alg, kid })
          .setExpirationTime(nowS() + 60)
          .sign(key);

      expect(((await outcome(rotating, { token: await sign(first.privateKey, "RS256", "k1") })) as Principal).tenant).toBe("acme");
      // The issuer rotates: the new key is published, tokens are signed with it.
      jwks = { keys: [...jwks.keys, { ...(await exportJWK(second.publicKey)), kid: "k2", alg: "ES256" }] };
      // jose refetches an unknown key id only after its cooldown; its clock moves on here.
      vi.useFakeTimers({ now: Date.now() + 31_000, toFake: ["Date"] });
      expect(((await outcome(rotating, { token: await sign(second.privateKey, "ES256", "k2") })) as Principal).tenant).toBe("acme");
      expect(fetches).toBe(2);
      // A key id nobody published: refused.
      const stranger = await generateKeyPair("ES256");
      const err = refusal(await outcome(rotating, { token: await sign(stranger.privateKey, "ES256", "k9") }));
      expect(err.message).toMatch(/no key matches its key id|signature does not verify/);
    });
  });
});

describe("API keys", () => {
  it("accepts a key configured as its SHA-256 digest and refuses others, unknown tenants too", () => {
    const digest = createHash("sha256").update("s3cret").digest("hex");
    const auth = apiKeyAuthenticator(new Map([["acme", `sha256:${digest}`]]));
    expect((auth.authenticate(hello({ tenant: "acme", apiKey: "s3cret" })) as Principal).tenant).toBe("acme");
    expect(refusal(auth.authenticate(hello({ tenant: "acme", apiKey: `sha256:${digest}` })) as AuthOutcome).code).toBe("WEIR_ERR_UNAUTHORIZED");
    expect(refusal(auth.authenticate(hello({ tenant: "globex", apiKey: "s3cret" })) as AuthOutcome).code).toBe("WEIR_ERR_UNAUTHORIZED");
  });

  it("sends a Hello with a token to the token authenticator and one with a key to the keys", async () => {
    const both = credentialsAuthenticator({ tokens: jwtAuthenticator({ secret: SECRET }), apiKeys: apiKeyAuthenticator(new Map([["globex", "k"]])) });
    expect(((await outcome(both, { token: await token({}) })) as Principal).tenant).toBe("acme");
    expect(((await outcome(both, { tenant: "globex", apiKey: "k" })) as Principal).tenant).toBe("globex");
    const keysOnly = credentialsAuthenticator({ apiKeys: apiKeyAuthenticator(new Map([["globex", "k"]])) });
    expect(refusal(await outcome(keysOnly, { token: await token({}) })).code).toBe("WEIR_ERR_BAD_TOKEN");
  });
});

describe("a connection with a token", () => {
  function connect() {
    const h = ingestHarness();
    const transport = new FakeTransport();
    const conn = new IngestSession(transport, {
      publisher: h.service,
      authenticator: jwtAuthenticator({ secret: SECRET }),
      limits: { connectionCredit: 10, maxBatchEvents: 10, maxEventBytes: 4096, maxFrameBytes: 65_536, maxSendBufferBytes: 1 << 20, helloTimeoutMs: 60_000 },
      serverId: "gw-test",
    });
    return { h, transport, conn };
  }
  const helloFrame = (t: string) => clientFrame({ case: "hello", value: { protocolVersion: PROTOCOL_VERSION, token: t } });
  const refreshFrame = (t: string) => clientFrame({ case: "refresh", value: { token: t } });

  it("is welcomed with its expiry, refreshed past it, and closed with 4419 when the next expiry passes without a Refresh", async () => {
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
    const { transport, conn } = connect();
    conn.onMessage(helloFrame(await token({}, { expiresInS: 60 })), true);
    await until(() => expect(transport.framesOf("welcome")).toHaveLength(1));
    expect(Number(transport.framesOf("welcome")[0]!.expiresAtMs)).toBe((nowS() + 60) * 1000);

    await vi.advanceTimersByTimeAsync(50_000);
    conn.onMessage(refreshFrame(await token({}, { expiresInS: 120 })), true);
    await until(() => expect(transport.framesOf("refreshed")).toHaveLength(1));
    // Past the first token's expiry: still open.
    await vi.advanceTimersByTimeAsync(30_000);
    expect(transport.closed).toBeUndefined();
    // Past the second's: closed, with the code a client reconnects on with a fresh token.
    await vi.advanceTimersByTimeAsync(100_000);
    expect(transport.closed).toEqual({ code: 4419, reason: "WEIR_ERR_TOKEN_EXPIRED" });
  });

  it("handles up to two frames sent behind the Hello while its token is verified, and refuses a third (4400)", async () => {
    const publishFrame = (seq: bigint) => clientFrame({ case: "publish", value: { seq, events: [quoteEvent(`early-${seq}`)] } });
    const ok = connect();
    ok.conn.onMessage(helloFrame(await token({ weir_publish: ["*"] })), true);
    ok.conn.onMessage(publishFrame(1n), true);
    ok.conn.onMessage(publishFrame(2n), true);
    await until(() => expect(ok.transport.framesOf("result").map((r) => r.seq)).toEqual([1n, 2n]));
    const greedy = connect();
    greedy.conn.onMessage(helloFrame(await token({})), true);
    for (const seq of [1n, 2n, 3n]) greedy.conn.onMessage(publishFrame(seq), true);
    expect(greedy.transport.closed).toEqual({ code: 4400, reason: "WEIR_ERR_BAD_FRAME" });
  });

  it("is closed with 4401 when a Refresh carries another tenant's token, or a bad one", async () => {
    for (const next of [await token({ weir_tenant: "globex" }), "garbage"]) {
      const { transport, conn } = connect();
      conn.onMessage(helloFrame(await token({})), true);
      await until(() => expect(transport.framesOf("welcome")).toHaveLength(1));
      conn.onMessage(refreshFrame(next), true);
      await until(() => expect(transport.closed).toEqual({ code: 4401, reason: "WEIR_ERR_BAD_TOKEN" }));
    }
  });

  it("publishes only the types its token grants: others are refused per event, UNAUTHORIZED, and the connection goes on", async () => {
    const { h, transport, conn } = connect();
    conn.onMessage(helloFrame(await token({ weir_publish: ["weir.events.v1.HttpAccessLog"] })), true);
    await until(() => expect(transport.framesOf("welcome")).toHaveLength(1));
    conn.onMessage(clientFrame({ case: "publish", value: { seq: 1n, events: [quoteEvent("q1")] } }), true);
    await until(() => expect(transport.framesOf("result")).toHaveLength(1));
    const [result] = transport.framesOf("result")[0]!.results;
    expect([result!.code, result!.errorCode, result!.reason]).toEqual([
      ResultCode.UNAUTHORIZED,
      "WEIR_ERR_FORBIDDEN_TYPE",
      "tenant acme may not publish weir.events.v1.Quote",
    ]);
    expect(h.log.records.filter((r) => r.headers["weir.id"] === "q1" && r.topic !== "weir.dead-letter")).toEqual([]);
    await flushMicrotasks();
    expect(transport.closed).toBeUndefined();
  });
});
