/**
 * Alerts: the outputs a person or a trading system must act on (fraud matches, risk limit
 * breaches and their clearing). The processor writes each one, in the same Kafka transaction as
 * the job's results, to the alerts topic (AlertRecord, src/kafka-contract.ts); the webhook sink
 * delivers them from there.
 */
import { FRAUD_ALERTS_STREAM, type FraudAlert } from "../engine/jobs/fraud.js";
import { BREACHES_STREAM } from "../engine/jobs/risk-limits.js";
import type { LimitEvent } from "../engine/risk/limits.js";
import type { AlertRecord } from "../kafka-contract.js";

/** The alert for one engine output, or undefined when that output is not an alert. */
export function alertOf(job: string, output: { stream: string; key: string; value: unknown; timestampMs: number }): AlertRecord | undefined {
  if (job === "fraud" && output.stream === FRAUD_ALERTS_STREAM) {
    const a = output.value as FraudAlert;
    const where = `${a.location.city}, ${a.location.country}`;
    return {
      alertId: `fraud:${a.alertId}`,
      job,
      kind: "fraud",
      key: a.cardId,
      atMs: output.timestampMs,
      summary: `Possible card fraud: card ${a.cardId}, ${a.transactionIds.length} purchases totalling ${(a.totalAmountMinor / 100).toFixed(2)} from ${where}, new for this card`,
      detail: a,
    };
  }
  if (job === "risk-limits" && output.stream === BREACHES_STREAM) {
    const e = output.value as LimitEvent;
    const limit = e.sector !== undefined ? `${e.limit}[${e.sector}]` : e.limit;
    return {
      alertId: `risk:${e.account}:${limit}:${e.type}:${e.atMs}`,
      job,
      kind: e.type,
      key: e.account,
      atMs: e.atMs,
      summary: `Risk limit ${e.type === "breach" ? "BREACHED" : "cleared"}: account ${e.account}, ${limit} = ${e.value.toFixed(2)} (limit ${e.threshold})`,
      detail: e,
    };
  }
  return undefined;
}
