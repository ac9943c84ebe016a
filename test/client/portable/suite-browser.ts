/** The client suite in a browser: the browser bundle's entry and an IndexedDB outbox. */
import * as client from "../../../src/client/browser.js";
import type { SuiteEnv, SuiteReport } from "../../runtimes/suite-types.js";
import { clientSuite } from "./client-suite.js";

export function run(env: SuiteEnv): Promise<SuiteReport> {
  return clientSuite(env, { client, openOutbox: (name) => client.IndexedDbOutbox.open(name) });
}
