/** `weir` command line: gateway, processor, relay, stack, demo. */
import { resolve } from "node:path";
import { parseArgs } from "node:util";

const help = `weir — edge-to-cloud streaming gateway

Usage:
  weir gateway                 run a gateway (settings from WEIR_* environment variables, see README)
  weir processor               run the stream processor jobs (WEIR_PROCESSOR_JOBS) without a gateway
  weir stack up [--data-dir D] [--with jaeger] [--brokers 3]
                               start local Kafka (KRaft) and Redis (and Jaeger) on loopback; prints WEIR_* settings
                               (--brokers 3: three brokers, replication 3, min.insync.replicas 2)
  weir stack up --regions 2    two regions (a Kafka and a Redis each) and MirrorMaker 2 between them, both ways;
                               prints region a's settings, region b's are in <data dir>/region-b/env
  weir stack down [--purge]    stop them (--purge: and delete their data)
  weir stack status            show whether they run
  weir relay --config F        run an edge relay on Deno (devices → store and forward → gateways; see README)
  weir schema build --proto DIR --out FILE
                               build a schema image of your .proto files (with Weir's types) for WEIR_SCHEMA_IMAGE
  weir demo [--events N]       stack up, start a gateway, stream sample traffic, print what happened
  weir demo --regions 2        scenario 3 in two regions: region a killed halfway, failover to b, fail-back
  weir --help                  this text

Signals (gateway): SIGTERM/SIGINT drain and stop; SIGHUP reloads WEIR_SCHEMA_IMAGE (refused if incompatible).`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: "boolean", short: "h" },
      "data-dir": { type: "string" },
      events: { type: "string" },
      with: { type: "string" },
      brokers: { type: "string" },
      regions: { type: "string" },
      purge: { type: "boolean" },
      config: { type: "string" },
      proto: { type: "string" },
      out: { type: "string" },
    },
  });
  const [command, sub] = positionals;
  if (values.help || !command) {
    console.log(help);
    return 0;
  }
  const dataDir = values["data-dir"];
  switch (command) {
    case "gateway": {
      const { runGateway } = await import("./run-gateway.js");
      return runGateway();
    }
    case "processor": {
      const { runProcessor } = await import("./run-processor.js");
      return runProcessor();
    }
    case "stack": {
      const stack = await import("../../src/stack/index.js");
      const opts = dataDir ? { dataDir } : {};
      const root = resolve(dataDir ?? stack.defaultDataDir());
      const regions = stack.regionsIn(root);
      if (sub === "up" && values.regions !== undefined) {
        const count = Number(values.regions);
        if (!(Number.isInteger(count) && count >= 2 && count <= 3)) {
          console.error(`weir stack up: --regions must be 2 or 3, not ${values.regions}`);
          return 2;
        }
        await stack.regionsUp(root, count, { withJaeger: values.with === "jaeger" });
      } else if (sub === "up" && regions.length > 0) await stack.regionsUp(root, regions.length, { withJaeger: values.with === "jaeger" });
      else if (sub === "down" && regions.length > 0) await stack.regionsDown(root, { purge: values.purge === true });
      else if (sub === "status" && regions.length > 0) return (await stack.regionsStatus(root, {})) ? 0 : 1;
      else if (sub === "up") {
        const brokers = values.brokers === undefined ? undefined : Number(values.brokers);
        if (brokers !== undefined && !(Number.isInteger(brokers) && brokers >= 1 && brokers <= 9)) {
          console.error(`weir stack up: --brokers must be a whole number from 1 to 9, not ${values.brokers}`);
          return 2;
        }
        await stack.stackUp({ ...opts, withJaeger: values.with === "jaeger", ...(brokers !== undefined ? { brokers } : {}) });
      } else if (sub === "down") await stack.stackDown({ ...opts, purge: values.purge === true });
      else if (sub === "status") return (await stack.stackStatus(opts)) ? 0 : 1;
      else {
        console.error(`weir stack: expected up, down or status\n\n${help}`);
        return 2;
      }
      return 0;
    }
    case "schema": {
      if (sub !== "build" || !values.proto || !values.out) {
        console.error(`weir schema: expected build --proto <dir> --out <image>\n\n${help}`);
        return 2;
      }
      const { buildSchemaImage } = await import("../../src/schema/build-image.js");
      const registry = buildSchemaImage({ protoDir: values.proto, out: values.out });
      console.log(
        `${values.out}: ${registry.eventTypes().length} event types (${registry
          .eventTypes()
          .map((t) => `${t.name} → ${t.topic}`)
          .join(", ")})`,
      );
      return 0;
    }
    case "relay": {
      const { runRelay } = await import("./run-relay.js");
      return runRelay(values.config);
    }
    case "demo": {
      if (values.regions !== undefined) {
        if (values.regions !== "2") {
          console.error(`weir demo: --regions must be 2, not ${values.regions}`);
          return 2;
        }
        const { runRegionsDemo } = await import("./demo-regions.js");
        return runRegionsDemo({ events: values.events ? Number(values.events) : 4_000, ...(dataDir ? { dataDir } : {}) });
      }
      const { runDemo } = await import("./demo.js");
      return runDemo({ events: values.events ? Number(values.events) : 20_000, ...(dataDir ? { dataDir } : {}) });
    }
    default:
      console.error(`weir: unknown command ${command}\n\n${help}`);
      return 2;
  }
}

/** After a command returned, whatever is still open (a socket a broker never answers) may not keep the process up. */
const EXIT_GRACE_MS = 3_000;

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  },
  (err: unknown) => {
    console.error(err instanceof Error ? `${(err as { code?: string }).code ?? "error"}: ${err.message}` : err);
    process.exitCode = 1;
  },
);
