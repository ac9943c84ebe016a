/** The client suite on Node: weir/client (the `ws` WebSocket) and a file outbox in the run's tmpDir. */
import { join } from "node:path";
import * as client from "../../../src/client/index.js";
import type { SuiteEnv, SuiteReport } from "../../runtimes/suite-types.js";
import { clientSuite } from "./client-suite.js";

export function run(env: SuiteEnv): Promise<SuiteReport> {
  return clientSuite(env, { client, openOutbox: (name) => client.FileOutbox.open(join(String(env.params.tmpDir), `${name}.log`)) });
}
