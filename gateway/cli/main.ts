/** `weir` command line: gateway, processor, relay, stack, demo. */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { StackService } from "../../src/stack/index.js";

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
  weir stack restart SERVICE   stop one service (kafka, redis, jaeger) and start it again on its ports and data
  weir stack purge             stop everything and delete the stack's data
  weir relay --config F        run an edge relay on Deno (devices → store and forward → gateways; see README)
  weir schema build --proto DIR --out FILE
                               build a schema image of your .proto files (with Weir's types) for WEIR_SCHEMA_IMAGE
  weir schema check FILE [--against RUNNING]
                               whether a gateway running RUNNING (default WEIR_SCHEMA_IMAGE) would take FILE on SIGHUP
  weir topics                  Weir's topics: partitions, records, and each consumer group's lag
  weir demo [--events N]       stack up, start a gateway, stream sample traffic, print what happened
  weir demo --regions 2        scenario 3 in two regions: region a killed halfway, failover to b, fail-back
  weir send --type T [--key K] [FILE.jsonl | -]
                               publish JSON events (one per line) through a gateway; prints each event's result
  weir tail STREAM [--from F]  print a stream (results.<job>, alerts, events.<type>) as JSON lines
  weir COMMAND --help          a command's own help
  weir --help                  this text

Signals (gateway): SIGTERM/SIGINT drain and stop; SIGHUP reloads WEIR_SCHEMA_IMAGE (refused if incompatible).`;

const target = `  --url U         the gateway (default WEIR_GATEWAY_URL, ws://127.0.0.1:8080)
  --tenant T      tenant to sign in as (default WEIR_TENANT, demo)
  --api-key K     its API key (default WEIR_API_KEY, demo-key)
  --json          JSON output, one object per line`;

const commandHelp: Record<string, string> = {
  schema: `weir schema build --proto DIR --out FILE
weir schema check FILE [--against RUNNING] [--json]

check: tells whether a gateway running the image RUNNING (default: WEIR_SCHEMA_IMAGE, else Weir's
own types) would accept FILE on SIGHUP: every event type stays accepted on the same topic, and
buf's WIRE rules hold between the two. Exit code 0 when compatible, 1 with the problems listed.`,
  topics: `weir topics [--json]

Lists Weir's topics on WEIR_KAFKA_BROKERS (weir.*, jobs' changelog and repartition topics, and
topics mirrored from other regions): partitions, records (the sum of the partitions' end
offsets), and for each consumer group reading it, its lag.`,
  send: `weir send --type T [--key K] [FILE.jsonl | -]

Publishes JSON events, one per line (from FILE, or stdin with - or no file), through a gateway.
Each line is an event of type T in Protobuf JSON, converted with the schema image
(WEIR_SCHEMA_IMAGE, else Weir's types); envelope fields go under "@weir":
  {"host":"web-1","method":"GET","path":"/","status":503,"@weir":{"id":"e-1","key":"web-1","eventTime":"2026-12-07T09:00:00Z"}}
("@weir" may also name the line's "type"). Prints each event's result in input order:
ACK, DUPLICATE, INVALID (with the code and reason), or NOT_SENT for a line that is not an event.
Exit code 0 when every event is in Kafka.

  --type T        full event type name, e.g. weir.events.v1.HttpAccessLog
  --key K         partition key of every event (default: the line's "@weir".key, else its id)
${target}`,
  tail: `weir tail STREAM [--from latest|earliest|TIME|TOKEN] [--key K] [--limit N]

Prints a stream as JSON lines through a subscription: results.<job> and alerts as the jobs wrote
them, events.<type> (types in WEIR_SUBSCRIBE_RAW_TYPES) in Protobuf JSON. With --json each line
also carries the key, kind, timestamp and resume token (--from TOKEN continues after it).

  --from F        latest (default), earliest, a time (RFC 3339 or epoch ms), or a resume token
  --key K         only this key
  --limit N       stop after N deliveries
${target}`,
};

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
      type: { type: "string" },
      key: { type: "string" },
      json: { type: "boolean" },
      url: { type: "string" },
      tenant: { type: "string" },
      "api-key": { type: "string" },
      from: { type: "string" },
      limit: { type: "string" },
      against: { type: "string" },
      config: { type: "string" },
      proto: { type: "string" },
      out: { type: "string" },
    },
  });
  const [command, sub] = positionals;
  if (values.help && command !== undefined && commandHelp[command]) {
    console.log(commandHelp[command]);
    return 0;
  }
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
      else if ((sub === "down" || sub === "purge") && regions.length > 0) await stack.regionsDown(root, { purge: sub === "purge" || values.purge === true });
      else if (sub === "status" && regions.length > 0) return (await stack.regionsStatus(root, {})) ? 0 : 1;
      else if (sub === "up") {
        const brokers = values.brokers === undefined ? undefined : Number(values.brokers);
        if (brokers !== undefined && !(Number.isInteger(brokers) && brokers >= 1 && brokers <= 9)) {
          console.error(`weir stack up: --brokers must be a whole number from 1 to 9, not ${values.brokers}`);
          return 2;
        }
        await stack.stackUp({ ...opts, withJaeger: values.with === "jaeger", ...(brokers !== undefined ? { brokers } : {}) });
      } else if (sub === "down") await stack.stackDown({ ...opts, purge: values.purge === true });
      else if (sub === "purge") await stack.stackDown({ ...opts, purge: true });
      else if (sub === "restart") {
        const service = positionals[2];
        if (!stack.STACK_SERVICES.includes(service as StackService)) {
          console.error(`weir stack restart: which service? ${stack.STACK_SERVICES.join(", ")}`);
          return 2;
        }
        await stack.stackRestart(service as StackService, opts);
      } else if (sub === "status") return (await stack.stackStatus(opts)) ? 0 : 1;
      else {
        console.error(`weir stack: expected up, down, status, restart <service> or purge\n\n${help}`);
        return 2;
      }
      return 0;
    }
    case "schema": {
      if (sub === "check") {
        const image = positionals[2];
        if (!image) {
          console.error(`weir schema check: which image?\n\n${commandHelp.schema}`);
          return 2;
        }
        const { runSchemaCheck } = await import("./schema-check.js");
        const { resolveConfig } = await import("../../src/config.js");
        return runSchemaCheck({ image, against: values.against ?? resolveConfig().schemaImage, json: values.json === true });
      }
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
    case "topics": {
      const { runTopics } = await import("./topics.js");
      const { resolveConfig } = await import("../../src/config.js");
      return runTopics({ brokers: resolveConfig().kafkaBrokers, json: values.json === true });
    }
    case "send": {
      const { runSend } = await import("./send.js");
      const { cliTarget } = await import("./target.js");
      const { resolveConfig } = await import("../../src/config.js");
      return runSend({
        ...cliTarget(values),
        ...(values.type ? { type: values.type } : {}),
        ...(values.key ? { key: values.key } : {}),
        file: sub ?? "-",
        json: values.json === true,
        schemaImage: resolveConfig().schemaImage,
      });
    }
    case "tail": {
      if (!sub) {
        console.error(`weir tail: which stream? (results.<job>, alerts, events.<type>)\n\n${commandHelp.tail}`);
        return 2;
      }
      const limit = values.limit === undefined ? undefined : Number(values.limit);
      if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
        console.error(`weir tail: --limit must be a whole number above 0, not ${values.limit}`);
        return 2;
      }
      const { runTail } = await import("./tail.js");
      const { cliTarget } = await import("./target.js");
      const { resolveConfig } = await import("../../src/config.js");
      return runTail({
        ...cliTarget(values),
        stream: sub,
        ...(values.from ? { from: values.from } : {}),
        ...(values.key ? { key: values.key } : {}),
        ...(limit !== undefined ? { limit } : {}),
        json: values.json === true,
        schemaImage: resolveConfig().schemaImage,
      });
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
