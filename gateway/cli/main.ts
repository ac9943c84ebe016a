/** `weir` command line: gateway, processor, relay, stack, demo. */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { StackService } from "../../src/stack/index.js";
import { commandHelp, help } from "./help.js";

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
