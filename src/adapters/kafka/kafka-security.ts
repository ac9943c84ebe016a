/**
 * How every Kafka client of Weir reaches the brokers (WEIR_KAFKA_SECURITY_PROTOCOL and friends):
 * plaintext, TLS, SASL, or SASL over TLS, in one shape, turned into each client library's own
 * settings here so the three event-log adapters, the processors, the subscription readers and the
 * health probe cannot drift apart.
 */
import type { KafkaConfig, SASLOptions } from "kafkajs";
import { WeirError } from "../../errors.js";
import { readConfigFile } from "../../config/read-file.js";

export const kafkaSecurityProtocols = ["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"] as const;
export const kafkaSaslMechanisms = ["scram-sha-512", "scram-sha-256", "plain"] as const;

export type KafkaSecurity = {
  readonly protocol: (typeof kafkaSecurityProtocols)[number];
  /** With sasl_plaintext and sasl_ssl. */
  readonly sasl?: { readonly mechanism: (typeof kafkaSaslMechanisms)[number]; readonly username: string; readonly password: string };
  /** PEM of the CA(s) that signed the brokers' certificates; absent: the system's roots. */
  readonly caPem?: string;
};

export const PLAINTEXT: KafkaSecurity = { protocol: "plaintext" };

/** The security settings of the config (the CA file is read now, so a wrong path stops the boot). */
export function kafkaSecurityOf(config: {
  readonly kafkaSecurityProtocol: string;
  readonly kafkaSaslMechanism: string;
  readonly kafkaSaslUsername: string;
  readonly kafkaSaslPassword: string;
  readonly kafkaSslCaFile: string;
}): KafkaSecurity {
  const protocol = config.kafkaSecurityProtocol as KafkaSecurity["protocol"];
  const usesSasl = protocol.startsWith("sasl_");
  if (usesSasl && !config.kafkaSaslUsername) throw new WeirError("WEIR_ERR_CONFIG", `WEIR_KAFKA_SECURITY_PROTOCOL ${protocol} needs WEIR_KAFKA_SASL_USERNAME`);
  const caPem = config.kafkaSslCaFile ? readConfigFile("WEIR_KAFKA_SSL_CA_FILE", config.kafkaSslCaFile) : undefined;
  return {
    protocol,
    ...(usesSasl
      ? {
          sasl: {
            mechanism: config.kafkaSaslMechanism as NonNullable<KafkaSecurity["sasl"]>["mechanism"],
            username: config.kafkaSaslUsername,
            password: config.kafkaSaslPassword,
          },
        }
      : {}),
    ...(caPem ? { caPem } : {}),
  };
}

const usesTls = (s: KafkaSecurity) => s.protocol === "ssl" || s.protocol === "sasl_ssl";

/** kafkajs's `ssl` and `sasl` settings. */
export function kafkajsSecurity(s: KafkaSecurity = PLAINTEXT): Pick<KafkaConfig, "ssl" | "sasl"> {
  return {
    ...(usesTls(s) ? { ssl: s.caPem ? { ca: [s.caPem] } : true } : {}),
    ...(s.sasl ? { sasl: { mechanism: s.sasl.mechanism, username: s.sasl.username, password: s.sasl.password } as SASLOptions } : {}),
  };
}

/** librdkafka's properties (@confluentinc/kafka-javascript). */
export function librdkafkaSecurity(s: KafkaSecurity = PLAINTEXT): Record<string, string> {
  if (s.protocol === "plaintext") return {};
  return {
    "security.protocol": s.protocol,
    ...(s.sasl ? { "sasl.mechanisms": s.sasl.mechanism.toUpperCase(), "sasl.username": s.sasl.username, "sasl.password": s.sasl.password } : {}),
    ...(s.caPem ? { "ssl.ca.pem": s.caPem } : {}),
  };
}

/** @platformatic/kafka's `tls` and `sasl` options. */
export function platformaticSecurity(s: KafkaSecurity = PLAINTEXT): {
  tls?: { ca?: string };
  sasl?: { mechanism: "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512"; username: string; password: string };
} {
  return {
    ...(usesTls(s) ? { tls: s.caPem ? { ca: s.caPem } : {} } : {}),
    ...(s.sasl
      ? {
          sasl: {
            mechanism: s.sasl.mechanism.toUpperCase() as "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512",
            username: s.sasl.username,
            password: s.sasl.password,
          },
        }
      : {}),
  };
}
