/**
 * Checks a JSON value against a zod schema and turns every problem into one WEIR_ERR_CONFIG line
 * that names where it came from and the field's path: `WEIR_FRAUD_RULE.amountThreshold: unknown
 * key`, `relay.json: rules[2].windowMs: expected number, got string`. zod's own messages are
 * written for forms ("Invalid input: expected number, received string") and put unknown keys on
 * the parent object; an operator reading a refused boot wants the exact key to fix.
 *
 * No Node-only imports: the edge relay runs this on Deno.
 */
import { z } from "zod";
import { WeirError } from "../errors.js";

/** How a refused value is named: the path is "" for the value itself. */
export type PathLabel = (path: string) => string;

/** `WEIR_RISK_LIMITS` + `default.maxLoss` → `WEIR_RISK_LIMITS.default.maxLoss`. */
export const envPathLabel =
  (env: string): PathLabel =>
  (path) =>
    path === "" ? env : path.startsWith("[") ? `${env}${path}` : `${env}.${path}`;

/** `relay.json` + `rules[2].windowMs` → `relay.json: rules[2].windowMs`. */
export const filePathLabel =
  (file: string): PathLabel =>
  (path) =>
    path === "" ? file : `${file}: ${path}`;

/** The parsed value (zod's output: defaults filled in) or WEIR_ERR_CONFIG listing every problem. */
export function parseWithSchema<S extends z.ZodType>(schema: S, value: unknown, label: PathLabel): z.output<S> {
  // reportInput: the discriminated-union issue's message is fixed by zod, so it is rebuilt from its input.
  const result = schema.safeParse(value, { error: issueMessage, reportInput: true });
  if (result.success) return result.data;
  throw new WeirError("WEIR_ERR_CONFIG", result.error.issues.flatMap((issue) => issueLines(issue, label)).join("; "));
}

/** A JSON path in the JavaScript spelling: `accounts["ACC-1"].maxLoss`, `rules[2].windowMs`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)) out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function issueLines(issue: z.core.$ZodIssue, label: PathLabel): string[] {
  // One line per unknown key, at the key itself: that is the line the operator has to change.
  if (issue.code === "unrecognized_keys") return issue.keys.map((key) => `${label(formatPath([...issue.path, key]))}: unknown key`);
  return [`${label(formatPath(issue.path))}: ${issue.code === "invalid_union" ? (discriminatorMessage(issue) ?? issue.message) : issue.message}`];
}

/** `expected "drop" or "conflate", got "forward"` for a discriminated union none of whose options matched. */
function discriminatorMessage(issue: z.core.$ZodIssueInvalidUnion): string | undefined {
  if (issue.discriminator === undefined || !("options" in issue) || issue.options === undefined) return undefined;
  const input = issue.input;
  const given = typeof input === "object" && input !== null ? (input as Record<string, unknown>)[issue.discriminator] : undefined;
  return `expected ${issue.options.map((o) => JSON.stringify(o)).join(" or ")}, got ${given === undefined ? "nothing" : JSON.stringify(given)}`;
}

/** What a JSON value is, in the words of the messages: "string", "array", "null", "nothing". */
function kindOf(input: unknown): string {
  if (input === undefined) return "nothing";
  if (input === null) return "null";
  if (Array.isArray(input)) return "array";
  if (typeof input === "number" && !Number.isFinite(input)) return String(input);
  return typeof input;
}

/** zod error map: the messages of the common issues; others keep zod's wording. */
function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type": {
      if (issue.input === undefined) return `required (expected ${issue.expected})`;
      if (issue.expected === "int" && typeof issue.input === "number") return `expected an integer, got ${issue.input}`;
      return `expected ${issue.expected}, got ${kindOf(issue.input)}`;
    }
    case "too_small":
      if (issue.origin === "string" && Number(issue.minimum) === 1) return "must not be empty";
      if (issue.origin === "array" && Number(issue.minimum) === 1) return "must not be empty";
      if (issue.origin === "number" || issue.origin === "int") return `must be ${issue.inclusive ? ">=" : ">"} ${issue.minimum}`;
      return undefined;
    case "too_big":
      if (issue.origin === "number" || issue.origin === "int") return `must be ${issue.inclusive ? "<=" : "<"} ${issue.maximum}`;
      return undefined;
    default:
      return undefined;
  }
}
