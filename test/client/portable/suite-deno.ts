/** The client suite on Deno: Deno's own WebSocket and a file outbox (Deno's node:fs) in the run's tmpDir. */
import * as client from "../../../src/client/deno.js";
import type { SuiteEnv, SuiteReport } from "../../runtimes/suite-types.js";
import { clientSuite } from "./client-suite.js";

export function run(env: SuiteEnv): Promise<SuiteReport> {
  return clientSuite(env, { client, openOutbox: (name) => client.FileOutbox.open(`${String(env.params.tmpDir)}/${name}.log`) });
}
