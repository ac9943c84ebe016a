/**
 * The kinds of setting and how each is read: from its environment variable's text, or from an
 * option (the typed value). Each kind is parsed and checked in one place, so a
 * setting's table entry is all it needs: `WEIR_PROCESSOR_IN_GATEWAY=yes`, `WEIR_TRACE_SAMPLE_RATIO=2`
 * or a JSON setting with a misspelt key refuse to start, naming the variable and the field.
 */
import type { z } from "zod";
import { WeirError } from "../errors.js";
import { envPathLabel, parseWithSchema } from "./schema-check.js";

type Base = { readonly env: string; readonly doc: string };

export type StringSetting = Base & { readonly kind: "string"; readonly default: string; readonly allowed?: readonly string[] };
export type IntSetting = Base & { readonly kind: "int"; readonly default: number; readonly min?: number; readonly max?: number };
export type FloatSetting = Base & { readonly kind: "float"; readonly default: number; readonly min?: number; readonly max?: number };
export type BoolSetting = Base & { readonly kind: "bool"; readonly default: boolean };
export type ListSetting = Base & { readonly kind: "list"; readonly default: readonly string[] };
/** A JSON document checked by its schema; the setting's value is the schema's (typed) output. */
export type JsonSetting<S extends z.ZodType = z.ZodType> = Base & { readonly kind: "json"; readonly schema: S; readonly default: z.output<S> };

export type Setting = StringSetting | IntSetting | FloatSetting | BoolSetting | ListSetting | JsonSetting;
export type Kind = Setting["kind"];

/** The value a setting resolves to. */
export type SettingValue<S extends Setting> =
  S extends JsonSetting<infer Schema>
    ? z.output<Schema>
    : S extends IntSetting | FloatSetting
      ? number
      : S extends BoolSetting
        ? boolean
        : S extends ListSetting
          ? readonly string[]
          : string;

/** Table entries; these keep `kind` literal and the default's type wide. */
export const str = (setting: Omit<StringSetting, "kind">): StringSetting => ({ kind: "string", ...setting });
export const int = (setting: Omit<IntSetting, "kind">): IntSetting => ({ kind: "int", ...setting });
export const float = (setting: Omit<FloatSetting, "kind">): FloatSetting => ({ kind: "float", ...setting });
export const bool = (setting: Omit<BoolSetting, "kind">): BoolSetting => ({ kind: "bool", ...setting });
export const list = (setting: Omit<ListSetting, "kind">): ListSetting => ({ kind: "list", ...setting });
export const json = <S extends z.ZodType>(setting: Omit<JsonSetting<S>, "kind">): JsonSetting<S> => ({ kind: "json", ...setting });

const bad = (message: string) => new WeirError("WEIR_ERR_CONFIG", message);

// Decimal only: Number() would also take "0x1", "Infinity" and "" (as 0).
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;
const BOOLEANS: Readonly<Record<string, boolean>> = { true: true, false: false, "1": true, "0": false };

/** An environment variable's text as the setting's kind; checked by `checkValue` after. */
export function parseText(setting: Setting, raw: string): unknown {
  switch (setting.kind) {
    case "int":
      if (!/^-?\d+$/.test(raw.trim())) throw bad(`${setting.env}=${raw} is not an integer`);
      return Number(raw);
    case "float":
      if (!DECIMAL.test(raw.trim())) throw bad(`${setting.env}=${raw} is not a number`);
      return Number(raw);
    case "bool": {
      const value = BOOLEANS[raw.trim()];
      if (value === undefined) throw bad(`${setting.env}=${raw} is not a boolean (true, false, 1 or 0)`);
      return value;
    }
    case "list":
      return raw
        .split(",")
        .map((v) => v.trim())
        .filter(Boolean);
    case "json":
      try {
        return JSON.parse(raw) as unknown;
      } catch (err) {
        throw bad(`${setting.env} is not JSON: ${(err as Error).message}`);
      }
    case "string":
      return raw;
  }
}

/** The setting's value from an option, its environment variable, or its default; checked and frozen. */
export function resolveValue(key: string, setting: Setting, fromOptions: unknown, fromEnv: string | undefined): unknown {
  // Options are typed values; text is what environment variables hold.
  if (fromOptions !== undefined) return checkValue(key, setting, fromOptions);
  if (fromEnv !== undefined) return checkValue(key, setting, parseText(setting, fromEnv));
  return checkValue(key, setting, setting.default);
}

/** Checks a value of the setting's kind; returns it as the config holds it (a frozen copy for lists and JSON). */
export function checkValue(key: string, setting: Setting, value: unknown): unknown {
  const refuse = (why: string) => bad(`${key} (${setting.env}) ${why}`);
  switch (setting.kind) {
    case "int":
    case "float":
      if (typeof value !== "number" || !Number.isFinite(value)) throw refuse("must be a number");
      if (setting.kind === "int" && !Number.isInteger(value)) throw refuse("must be an integer");
      if (setting.min !== undefined && value < setting.min) throw refuse(`must be >= ${setting.min}`);
      if (setting.max !== undefined && value > setting.max) throw refuse(`must be <= ${setting.max}`);
      return value;
    case "bool":
      if (typeof value !== "boolean") throw refuse("must be a boolean");
      return value;
    case "list":
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) throw refuse("must be a list of strings");
      return Object.freeze([...(value as string[])]);
    case "json":
      return deepFreeze(parseWithSchema(setting.schema, value, envPathLabel(setting.env)));
    case "string":
      if (typeof value !== "string") throw refuse("must be a string");
      if (setting.allowed && !setting.allowed.includes(value)) throw refuse(`must be one of ${setting.allowed.join(", ")} (got "${value}")`);
      return value;
  }
}

/** The default as the README's configuration table shows it. */
export function defaultText(setting: Setting): string {
  switch (setting.kind) {
    case "list":
      return setting.default.length === 0 ? "(empty)" : setting.default.join(",");
    case "json":
      return JSON.stringify(setting.default);
    case "string":
      return setting.default === "" ? "(empty)" : setting.default;
    default:
      return String(setting.default);
  }
}

/** Resolves every setting of a table; `options` may only name the table's keys. */
export function resolveTable(
  table: Readonly<Record<string, Setting>>,
  options: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(table, key)) throw bad(`unknown option ${key}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(table)) out[key] = resolveValue(key, setting, options[key], env[setting.env]);
  return out;
}

// Whatever the schema did (zod's .readonly() freezes only where it is written): the config is frozen all through.
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
