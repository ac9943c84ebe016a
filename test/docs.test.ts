/** The README documents every error code and every setting; a new one without docs fails here. */
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { errorSpecs } from "../src/errors.js";
import { settings } from "../src/config.js";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

test.each(Object.keys(errorSpecs))("README documents error code %s", (code) => {
  expect(readme).toContain(`\`${code}\``);
});

test.each(Object.values(settings).map((s) => s.env))("README documents setting %s", (env) => {
  expect(readme).toContain(`\`${env}\``);
});
