// ESLint, type-aware (typescript-eslint): `npm run lint`, part of `npm test`. Formatting is Biome's
// (biome.json), so no stylistic rules here. A rule turned off or down says why.
//
// TypeScript files are in tsconfig.json's project and get the type-checked rules. Plain JavaScript
// (.js/.mjs) is not in that project (no allowJs: the few JS files are loaders, browser code and
// k6 scripts), so it gets the same rules minus the type-checked ones, with the globals of the
// runtime it runs on.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

/** k6's own globals (k6 runs ES modules in its own runtime: neither Node nor a browser). */
const k6Globals = { __ENV: "readonly", __VU: "readonly", __ITER: "readonly", open: "readonly", console: "readonly" };

export default defineConfig(
  // Generated code (src/gen) and build, test and tool output, as in .gitignore.
  { ignores: ["src/gen/**", "dist/**", "coverage/**", "test-artifacts/**", ".weir/**", ".cache/**"] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      // The code's convention: a leading underscore marks a name left unused on purpose (a parameter
      // an interface requires, a property dropped from a copy with `{ x: _x, ...rest }`).
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_", ignoreRestSiblings: true },
      ],
      // Passing on a caught `unknown` (reject(err) in a catch or an error callback) is a rethrow, which
      // only-throw-error allows by default too; a value the code makes up still has to be an Error.
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingUnknown: true }],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    extends: [tseslint.configs.disableTypeChecked],
  },
  // Node: this file, the CLI entry and the loaders that register tsx for worker threads and k6's shim.
  {
    files: ["eslint.config.js", "bin/**/*.mjs", "workers/**/*.mjs", "load/bench/**/*.mjs", "load/k6/node-shim/**/*.mjs"],
    languageOptions: { globals: globals.node },
  },
  // The dashboard page, bundled for browsers by gateway/dashboard/files.ts.
  { files: ["gateway/dashboard/**/*.js"], languageOptions: { globals: globals.browser } },
  // k6 scripts, and the k6-style fixtures that test k6's Node shim.
  { files: ["load/k6/**/*.js", "test/load/fixtures/**/*.js"], languageOptions: { globals: k6Globals } },
);
