import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kafkaSecurityOf, kafkajsSecurity, librdkafkaSecurity, platformaticSecurity } from "../../src/adapters/kafka/kafka-security.js";

const base = { kafkaSecurityProtocol: "plaintext", kafkaSaslMechanism: "scram-sha-512", kafkaSaslUsername: "", kafkaSaslPassword: "", kafkaSslCaFile: "" };

describe("Kafka security settings", () => {
  it("turns sasl_ssl with a CA file into each client's own settings", () => {
    const dir = mkdtempSync(join(tmpdir(), "weir-ks-"));
    writeFileSync(join(dir, "ca.pem"), "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
    const s = kafkaSecurityOf({
      ...base,
      kafkaSecurityProtocol: "sasl_ssl",
      kafkaSaslUsername: "u",
      kafkaSaslPassword: "p",
      kafkaSslCaFile: join(dir, "ca.pem"),
    });
    expect(kafkajsSecurity(s)).toEqual({ ssl: { ca: [s.caPem] }, sasl: { mechanism: "scram-sha-512", username: "u", password: "p" } });
    expect(librdkafkaSecurity(s)).toEqual({
      "security.protocol": "sasl_ssl",
      "sasl.mechanisms": "SCRAM-SHA-512",
      "sasl.username": "u",
      "sasl.password": "p",
      "ssl.ca.pem": s.caPem,
    });
    expect(platformaticSecurity(s)).toEqual({ tls: { ca: s.caPem }, sasl: { mechanism: "SCRAM-SHA-512", username: "u", password: "p" } });
  });

  it("adds nothing for plaintext, and TLS with the system's roots for ssl without a CA file", () => {
    const plain = kafkaSecurityOf(base);
    expect([kafkajsSecurity(plain), librdkafkaSecurity(plain), platformaticSecurity(plain)]).toEqual([{}, {}, {}]);
    const ssl = kafkaSecurityOf({ ...base, kafkaSecurityProtocol: "ssl" });
    expect(kafkajsSecurity(ssl)).toEqual({ ssl: true });
    expect(librdkafkaSecurity(ssl)).toEqual({ "security.protocol": "ssl" });
    expect(platformaticSecurity(ssl)).toEqual({ tls: {} });
  });

  it("refuses SASL without a user, and a CA file it cannot read, naming the setting", () => {
    expect(() => kafkaSecurityOf({ ...base, kafkaSecurityProtocol: "sasl_ssl" })).toThrow(/WEIR_KAFKA_SASL_USERNAME/);
    expect(() => kafkaSecurityOf({ ...base, kafkaSecurityProtocol: "ssl", kafkaSslCaFile: "/nonexistent/ca.pem" })).toThrow(
      /WEIR_KAFKA_SSL_CA_FILE: cannot read/,
    );
  });
});
