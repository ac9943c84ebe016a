/**
 * The three scenario jobs as the processor runs them: which raw event types each consumes, how a
 * record's payload becomes the engine's plain input, which inputs every shard must see
 * (reference data, quotes), and how the operator is built over named stores.
 */
import { fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { CardTransactionSchema, FxRateSchema, HttpAccessLogSchema, InstrumentSchema, QuoteSchema, TradeSchema } from "../events.js";
import type { Operator, StoreProvider } from "../engine/types.js";
import { accessLogLine, errorRateJob } from "../engine/jobs/error-rate.js";
import { windowedAggregateStores } from "../engine/windows/index.js";
import { FraudJob, toFraudTransaction, type FraudRuleOptions } from "../engine/jobs/fraud.js";
import { RiskOperator, type RiskOperatorOptions } from "../engine/jobs/risk-limits.js";
import type { LimitsConfig } from "../engine/risk/limits.js";
import { resolveSetting, type ConfigOptions } from "../config.js";
import { splitTenantKey, tenantKey } from "../kafka-contract.js";
import { fxInput, instrumentInput, quoteInput, tradeInput } from "../engine/risk/from-proto.js";

/**
 * One input of a job. The engine keys a record by its Kafka record key, so producers must set
 * partition_key to the job's key (host, card id, account id): then a key lives on one partition,
 * one processor and one worker thread, with its state.
 */
export type JobInput = {
  /** Engine input from the record's payload bytes; `key` is the (tenant-qualified) record key. */
  decode(payload: Uint8Array, key: string): unknown;
  /** Every shard gets these records (global tables), instead of the shard of their key. */
  broadcast?: boolean;
};

/**
 * Settings of the scenario jobs (plain JSON: they travel to the worker threads as workerData).
 * Unset fields take the engine's defaults.
 */
export type JobOptions = {
  readonly fraud?: FraudRuleOptions;
  readonly riskLimits?: LimitsConfig;
  readonly risk?: Omit<RiskOperatorOptions, "limits">;
};

export type JobSpec = {
  readonly name: string;
  /** By fully qualified event type (the weir.type header). */
  readonly inputs: Readonly<Record<string, JobInput>>;
  create(stores: StoreProvider, options: JobOptions): Operator<unknown, unknown>;
};

function decoder<D extends DescMessage, V>(schema: D, map: (m: MessageShape<D>) => V): (payload: Uint8Array) => V {
  return (payload) => map(fromBinary(schema, payload));
}

function withTenantOf<T extends { accountId: string }>(key: string, trade: T): T {
  const owner = splitTenantKey(key);
  return owner ? { ...trade, accountId: tenantKey(owner.tenant, trade.accountId) } : trade;
}

export const jobs: Readonly<Record<string, JobSpec>> = Object.freeze({
  "error-rate": {
    name: "error-rate",
    inputs: { [HttpAccessLogSchema.typeName]: { decode: decoder(HttpAccessLogSchema, accessLogLine) } },
    create: (stores) => errorRateJob(windowedAggregateStores(stores)) as Operator<unknown, unknown>,
  },
  fraud: {
    name: "fraud",
    inputs: { [CardTransactionSchema.typeName]: { decode: decoder(CardTransactionSchema, toFraudTransaction) } },
    create: (stores, options) => new FraudJob({ ...options.fraud, store: stores.store("fraud") }) as Operator<unknown, unknown>,
  },
  "risk-limits": {
    name: "risk-limits",
    inputs: {
      [InstrumentSchema.typeName]: { decode: decoder(InstrumentSchema, instrumentInput), broadcast: true },
      [FxRateSchema.typeName]: { decode: decoder(FxRateSchema, fxInput), broadcast: true },
      [QuoteSchema.typeName]: { decode: decoder(QuoteSchema, quoteInput), broadcast: true },
      // Positions are per account: the account id is qualified with the trade's tenant, as its key is.
      [TradeSchema.typeName]: { decode: (payload, key) => withTenantOf(key, tradeInput(fromBinary(TradeSchema, payload))) },
    },
    create: (stores, options) =>
      new RiskOperator(
        { reference: stores.store("reference"), accounts: stores.store("accounts"), symbols: stores.store("symbols") },
        // A snapshot per trade feeds the dashboard's exposure table without one per quote and account.
        { emitSnapshots: "trades", ...options.risk, ...(options.riskLimits ? { limits: options.riskLimits } : {}) },
      ) as Operator<unknown, unknown>,
  },
});

/**
 * The jobs' settings from the config's JSON settings, checked before any thread starts. A
 * resolved Config holds them parsed already; given as JSON text (a test, a script) they are
 * parsed and checked here by the same schemas.
 */
export function jobOptionsOf(config: Pick<ConfigOptions, "fraudRule" | "riskLimits">): JobOptions {
  return { fraud: resolveSetting("fraudRule", config.fraudRule), riskLimits: resolveSetting("riskLimits", config.riskLimits) };
}

export function jobNames(): string[] {
  return Object.keys(jobs);
}

export function jobSpec(name: string): JobSpec {
  const spec = jobs[name];
  if (!spec) throw new Error(`unknown job ${name}; known: ${Object.keys(jobs).join(", ")}`);
  return spec;
}
