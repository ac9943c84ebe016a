/**
 * A throwaway certificate authority and a server certificate signed by it, for the TLS tests
 * (gateway wss://, Kafka SASL_SSL, Redis TLS), made with the openssl CLI in a temp directory.
 * The server certificate names 127.0.0.1 and localhost, where the test services listen.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocketNode from "ws";
import type { WebSocketConstructor } from "../../src/client/index.js";

export type TestCertificates = {
  readonly dir: string;
  /** PEM files. */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** The CA certificate's PEM text (what a client trusts). */
  readonly ca: string;
  remove(): void;
};

export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "weir-tls-"));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", at("ca.key"), "-out", at("ca.pem"), "-days", "2", "-subj", "/CN=weir test CA");
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", at("server.key"), "-out", at("server.csr"), "-subj", "/CN=localhost");
  writeFileSync(at("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
  openssl(
    "x509",
    "-req",
    "-in",
    at("server.csr"),
    "-CA",
    at("ca.pem"),
    "-CAkey",
    at("ca.key"),
    "-CAcreateserial",
    "-out",
    at("server.pem"),
    "-days",
    "2",
    "-extfile",
    at("server.ext"),
  );
  return {
    dir,
    caFile: at("ca.pem"),
    certFile: at("server.pem"),
    keyFile: at("server.key"),
    ca: readFileSync(at("ca.pem"), "utf8"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `ws` trusting `ca` as well (what NODE_EXTRA_CA_CERTS, or a certificate from a public CA, gives a client). */
export function trustingWebSocket(ca: string): WebSocketConstructor {
  return class extends WebSocketNode {
    constructor(url: string) {
      super(url, { ca });
    }
  } as unknown as WebSocketConstructor;
}
