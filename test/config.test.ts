import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { defaultText, resolveConfig, resolveToolSettings, parseApiKeys, settings, toolSettings, type ConfigOptions } from "../src/config.js";
import { WeirError } from "../src/errors.js";

/** The WeirError thrown by `fn`, or a failed expectation. */
function configError(fn: () => unknown): WeirError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WeirError);
    expect((err as WeirError).code).toBe("WEIR_ERR_CONFIG");
    return err as WeirError;
  }
  throw new Error("expected WEIR_ERR_CONFIG, nothing was thrown");
}

const noEnv = {};

describe("resolveConfig", () => {
  it("resolves every setting to its default when neither options nor env set it", () => {
    const config = resolveConfig({}, noEnv);
    for (const [key, setting] of Object.entries(settings)) {
      if (key === "gatewayId") continue;
      expect(config[key as keyof typeof config], key).toEqual(setting.default);
    }
    expect(config.port).toBe(8080);
    expect(config.kafkaBrokers).toEqual(["127.0.0.1:9092"]);
    expect(config.apiKeys).toEqual(["demo:demo-key"]);
    expect(config.dedupPendingTtlMs).toBeGreaterThan(config.kafkaPublishTimeoutMs);
  });

  it("generates a gateway id when none is configured, and keeps a configured one", () => {
    expect(resolveConfig({}, noEnv).gatewayId).toMatch(/^.+-\d+-[0-9a-f]{6}$/);
    expect(resolveConfig({}, { WEIR_GATEWAY_ID: "gw-7" }).gatewayId).toBe("gw-7");
  });

  it("parses integer environment variables", () => {
    const config = resolveConfig({}, { WEIR_PORT: "9090", WEIR_CONNECTION_CREDIT: " 4096 ", WEIR_MAX_BATCH_EVENTS: "10" });
    expect(config.port).toBe(9090);
    expect(config.connectionCredit).toBe(4096);
    expect(config.maxBatchEvents).toBe(10);
  });

  it("parses list environment variables, trimming entries and dropping empty ones", () => {
    const config = resolveConfig({}, { WEIR_KAFKA_BROKERS: " k1:9092, k2:9092,,", WEIR_API_KEYS: "acme:s3cret,globex:k2" });
    expect(config.kafkaBrokers).toEqual(["k1:9092", "k2:9092"]);
    expect(config.apiKeys).toEqual(["acme:s3cret", "globex:k2"]);
  });

  it("takes options over environment variables", () => {
    const config = resolveConfig({ port: 7000, kafkaBrokers: ["opt:1"] }, { WEIR_PORT: "9090", WEIR_KAFKA_BROKERS: "env:1" });
    expect(config.port).toBe(7000);
    expect(config.kafkaBrokers).toEqual(["opt:1"]);
  });

  it.each(["80x", "1.5", "", "0x10", "1e3"])("refuses WEIR_PORT=%j with WEIR_ERR_CONFIG naming the variable", (raw) => {
    const err = configError(() => resolveConfig({}, { WEIR_PORT: raw }));
    expect(err.message).toContain("WEIR_PORT");
    expect(err.message).toContain("not an integer");
  });

  it("refuses an integer out of its range, naming the variable and the bound", () => {
    const high = configError(() => resolveConfig({}, { WEIR_PORT: "65536" }));
    expect(high.message).toContain("WEIR_PORT");
    expect(high.message).toContain("<= 65535");
    const low = configError(() => resolveConfig({}, { WEIR_CONNECTION_CREDIT: "0" }));
    expect(low.message).toContain("WEIR_CONNECTION_CREDIT");
    expect(low.message).toContain(">= 1");
  });

  it("refuses a non-integer option value", () => {
    const err = configError(() => resolveConfig({ port: 80.5 }, noEnv));
    expect(err.message).toContain("WEIR_PORT");
    expect(configError(() => resolveConfig({ port: true } as unknown as ConfigOptions, noEnv)).message).toContain("WEIR_PORT");
  });

  it("refuses an option given as text: options are typed, text is for environment variables", () => {
    const asText = (options: Record<string, unknown>) => configError(() => resolveConfig(options, noEnv)).message;
    expect(asText({ port: "8081" })).toContain("WEIR_PORT) must be a number");
    expect(asText({ processorInGateway: "false" })).toContain("WEIR_PROCESSOR_IN_GATEWAY) must be a boolean");
    expect(asText({ traceSampleRatio: "0.5" })).toContain("WEIR_TRACE_SAMPLE_RATIO) must be a number");
    expect(asText({ jobOptions: '{"fraud":{}}' })).toContain("WEIR_JOB_OPTIONS");
  });

  it("refuses an unknown option key", () => {
    const err = configError(() => resolveConfig({ prot: 80 } as unknown as ConfigOptions, noEnv));
    expect(err.message).toContain("unknown option prot");
  });

  it.each([
    ["equal to", { dedupPendingTtlMs: 60_000, kafkaPublishTimeoutMs: 60_000 }],
    ["below", { dedupPendingTtlMs: 30_000, kafkaPublishTimeoutMs: 60_000 }],
  ])("refuses a dedup pending TTL %s the Kafka publish timeout", (_, options) => {
    const err = configError(() => resolveConfig(options, noEnv));
    expect(err.message).toContain("WEIR_DEDUP_PENDING_TTL_MS");
  });

  it("reads the dedup owner TTL and the verification cap, refusing values below their minimum", () => {
    const config = resolveConfig({}, { WEIR_DEDUP_OWNER_TTL_MS: "3000", WEIR_DEDUP_VERIFY_MAX_RECORDS: "5000" });
    expect(config.dedupOwnerTtlMs).toBe(3000);
    expect(config.dedupVerifyMaxRecords).toBe(5000);
    expect(resolveConfig({}, noEnv).dedupOwnerTtlMs).toBe(5000);
    expect(configError(() => resolveConfig({}, { WEIR_DEDUP_OWNER_TTL_MS: "10" })).message).toContain("WEIR_DEDUP_OWNER_TTL_MS");
    expect(configError(() => resolveConfig({}, { WEIR_DEDUP_VERIFY_MAX_RECORDS: "0" })).message).toContain("WEIR_DEDUP_VERIFY_MAX_RECORDS");
  });

  it("accepts a dedup pending TTL just above the Kafka publish timeout", () => {
    expect(resolveConfig({ dedupPendingTtlMs: 60_001, kafkaPublishTimeoutMs: 60_000 }, noEnv).dedupPendingTtlMs).toBe(60_001);
  });

  it("refuses maxBatchEvents above connectionCredit, accepts it equal", () => {
    const err = configError(() => resolveConfig({ maxBatchEvents: 101, connectionCredit: 100 }, noEnv));
    expect(err.message).toContain("WEIR_MAX_BATCH_EVENTS");
    expect(resolveConfig({ maxBatchEvents: 100, connectionCredit: 100 }, noEnv).maxBatchEvents).toBe(100);
    configError(() => resolveConfig({}, { WEIR_MAX_BATCH_EVENTS: "3000" }));
  });

  it("refuses maxEventBytes above maxFrameBytes, accepts it equal", () => {
    const err = configError(() => resolveConfig({ maxEventBytes: 2048, maxFrameBytes: 1024 }, noEnv));
    expect(err.message).toContain("WEIR_MAX_EVENT_BYTES");
    expect(resolveConfig({ maxEventBytes: 1024, maxFrameBytes: 1024 }, noEnv).maxEventBytes).toBe(1024);
  });

  it.each(["nocolon", ":key-without-tenant", "tenant-without-key:"])("refuses the WEIR_API_KEYS entry %j", (entry) => {
    const err = configError(() => resolveConfig({}, { WEIR_API_KEYS: `good:key,${entry}` }));
    expect(err.message).toContain("WEIR_API_KEYS");
    expect(err.message).toContain(entry);
  });

  it("refuses a log level pino does not know", () => {
    const err = configError(() => resolveConfig({}, { WEIR_LOG_LEVEL: "verbose" }));
    expect(err.message).toContain("WEIR_LOG_LEVEL");
  });

  it("returns a frozen config, lists included", () => {
    const config = resolveConfig({ kafkaBrokers: ["a:1"] }, noEnv);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.kafkaBrokers)).toBe(true);
    expect(() => ((config as { port: number }).port = 1)).toThrow(TypeError);
    expect(() => (config.kafkaBrokers as string[]).push("b:2")).toThrow(TypeError);
    expect(config.port).toBe(8080);
  });

  it("refuses a webhook URL that is not http(s)", () => {
    expect(configError(() => resolveConfig({}, { WEIR_WEBHOOK_URL: "ftp://x" })).message).toMatch(/WEIR_WEBHOOK_URL/);
    expect(resolveConfig({}, { WEIR_WEBHOOK_URL: "http://127.0.0.1:9/hook" }).webhookUrl).toBe("http://127.0.0.1:9/hook");
  });

  it("does not freeze or alias the caller's option arrays", () => {
    const brokers = ["a:1"];
    const config = resolveConfig({ kafkaBrokers: brokers }, noEnv);
    brokers.push("b:2");
    expect(config.kafkaBrokers).toEqual(["a:1"]);
    expect(Object.isFrozen(brokers)).toBe(false);
  });
});

describe("WEIR_JOB_OPTIONS", () => {
  it("takes a JSON object of job names to option objects (each job checks its own when it loads)", () => {
    const config = resolveConfig({}, { WEIR_JOB_OPTIONS: '{"fraud":{"minPurchases":4},"risk-limits":{"limits":{"default":{"maxLoss":10}}}}' });
    expect(config.jobOptions).toEqual({ fraud: { minPurchases: 4 }, "risk-limits": { limits: { default: { maxLoss: 10 } } } });
    expect(Object.isFrozen(config.jobOptions.fraud)).toBe(true);
    expect(resolveConfig({}, noEnv).jobOptions).toEqual({});
  });

  it("refuses JSON that is not an object of objects, naming the variable", () => {
    expect(configError(() => resolveConfig({}, { WEIR_JOB_OPTIONS: "{nope" })).message).toMatch(/WEIR_JOB_OPTIONS is not JSON/);
    expect(configError(() => resolveConfig({}, { WEIR_JOB_OPTIONS: "[1,2]" })).message).toContain("WEIR_JOB_OPTIONS: expected record, got array");
    expect(configError(() => resolveConfig({}, { WEIR_JOB_OPTIONS: '{"fraud":3}' })).message).toContain("WEIR_JOB_OPTIONS.fraud: expected record, got number");
  });
});

describe("bool and float settings", () => {
  it("reads WEIR_PROCESSOR_IN_GATEWAY as a boolean and refuses anything but true/false/1/0", () => {
    expect(resolveConfig({}, noEnv).processorInGateway).toBe(true);
    expect(resolveConfig({}, { WEIR_PROCESSOR_IN_GATEWAY: "false" }).processorInGateway).toBe(false);
    expect(resolveConfig({}, { WEIR_PROCESSOR_IN_GATEWAY: "0" }).processorInGateway).toBe(false);
    expect(resolveConfig({}, { WEIR_PROCESSOR_IN_GATEWAY: "1" }).processorInGateway).toBe(true);
    const err = configError(() => resolveConfig({}, { WEIR_PROCESSOR_IN_GATEWAY: "yes" }));
    expect(err.message).toContain("WEIR_PROCESSOR_IN_GATEWAY=yes is not a boolean (true, false, 1 or 0)");
  });

  it("reads WEIR_TRACE_SAMPLE_RATIO as a number from 0 to 1", () => {
    expect(resolveConfig({}, noEnv).traceSampleRatio).toBe(0.01);
    expect(resolveConfig({}, { WEIR_TRACE_SAMPLE_RATIO: "0.25" }).traceSampleRatio).toBe(0.25);
    expect(resolveConfig({}, { WEIR_TRACE_SAMPLE_RATIO: "1" }).traceSampleRatio).toBe(1);
    expect(configError(() => resolveConfig({}, { WEIR_TRACE_SAMPLE_RATIO: "2" })).message).toContain("traceSampleRatio (WEIR_TRACE_SAMPLE_RATIO) must be <= 1");
    expect(configError(() => resolveConfig({ traceSampleRatio: -0.1 }, noEnv)).message).toContain("traceSampleRatio (WEIR_TRACE_SAMPLE_RATIO) must be >= 0");
    for (const raw of ["abc", "", "0x1", "Infinity", "1/2"]) {
      expect(configError(() => resolveConfig({}, { WEIR_TRACE_SAMPLE_RATIO: raw })).message, raw).toContain(`WEIR_TRACE_SAMPLE_RATIO=${raw} is not a number`);
    }
  });
});

describe("toolSettings", () => {
  it("resolves the tooling's settings from the environment, with their defaults", () => {
    const defaults = resolveToolSettings({});
    for (const [key, setting] of Object.entries(toolSettings)) expect(defaults[key as keyof typeof defaults], key).toEqual(setting.default);
    expect(defaults.kafkaCds).toBe(true);
    expect(defaults.otelDebug).toBe(false);
    const set = resolveToolSettings({
      WEIR_CACHE_DIR: "/tmp/c",
      WEIR_KAFKA_CDS: "0",
      WEIR_DENO: "/opt/deno",
      WEIR_DENO_DIR: "/tmp/d",
      WEIR_OTEL_DEBUG: "true",
      WEIR_GATEWAY_URL: "wss://gw.example",
      WEIR_TENANT: "acme",
      WEIR_API_KEY: "s3cret",
    });
    expect(set).toEqual({
      cacheDir: "/tmp/c",
      kafkaCds: false,
      deno: "/opt/deno",
      denoDir: "/tmp/d",
      otelDebug: true,
      gatewayUrl: "wss://gw.example",
      tenant: "acme",
      apiKey: "s3cret",
    });
    expect(Object.isFrozen(set)).toBe(true);
  });

  it("refuses a bad value, naming the variable", () => {
    expect(configError(() => resolveToolSettings({ WEIR_KAFKA_CDS: "off" })).message).toContain("WEIR_KAFKA_CDS=off is not a boolean");
  });
});

describe("README", () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const configuration = readme.slice(readme.indexOf("\n## Configuration"), readme.indexOf("\n## ", readme.indexOf("\n## Configuration") + 1));

  it.each([...Object.values(settings), ...Object.values(toolSettings)].map((s) => [s.env, s] as const))(
    "has a configuration table row for %s with its default",
    (env, setting) => {
      expect(configuration).toContain(`| \`${env}\` | \`${defaultText(setting)}\` |`);
    },
  );
});

describe("settings", () => {
  it("gives every setting its own WEIR_ environment variable (or OpenTelemetry's standard OTEL_ one) and a doc line", () => {
    const all = [...Object.values(settings), ...Object.values(toolSettings)];
    const envs = all.map((s) => s.env);
    expect(new Set(envs).size).toBe(envs.length);
    for (const setting of all) {
      expect(setting.env).toMatch(/^(WEIR|OTEL)_[A-Z0-9_]+$/);
      expect(setting.doc.length).toBeGreaterThan(0);
    }
  });
});

describe("parseApiKeys", () => {
  it("maps tenants to keys, splitting at the first colon", () => {
    const keys = parseApiKeys(["acme:k:with:colons", "globex:k2"]);
    expect(keys.get("acme")).toBe("k:with:colons");
    expect(keys.get("globex")).toBe("k2");
    expect(keys.size).toBe(2);
  });
});
