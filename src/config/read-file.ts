/** Reads a file a setting names (a CA, a certificate); a path that cannot be read stops the boot, naming the setting. */
import { readFileSync } from "node:fs";
import { WeirError } from "../errors.js";

export function readConfigFile(setting: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new WeirError("WEIR_ERR_CONFIG", `${setting}: cannot read ${path}: ${(err as Error).message}`);
  }
}
