/** `weir schema check FILE [--against RUNNING]`: would a gateway running RUNNING take FILE on SIGHUP? */
import { breakingChanges } from "../../src/schema/compat.js";
import { SchemaRegistry } from "../../src/schema/registry.js";

export async function runSchemaCheck(opts: { image: string; against: string; json: boolean }): Promise<number> {
  const running = opts.against ? SchemaRegistry.fromFile(opts.against) : SchemaRegistry.builtin();
  const next = SchemaRegistry.fromFile(opts.image);
  const problems = await breakingChanges(running, next);
  if (opts.json) console.log(JSON.stringify({ image: opts.image, against: running.source, compatible: problems.length === 0, problems }));
  else if (problems.length === 0)
    console.log(`${opts.image}: compatible with ${running.source} (${next.eventTypes().length} event types); SIGHUP the gateways to load it`);
  else console.log(`${opts.image}: NOT compatible with ${running.source}:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  return problems.length === 0 ? 0 : 1;
}
