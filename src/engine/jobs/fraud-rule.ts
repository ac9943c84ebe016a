/**
 * The fraud rule's settings (WEIR_FRAUD_RULE) and their schema, in one place so the type the job
 * takes and the check the config runs cannot drift apart. Strict: an unknown key (a typo such as
 * `amountThreshold`) is refused instead of silently leaving the default in force.
 */
import { z } from "zod";

export const fraudRuleSchema = z
  .strictObject({
    /** N: purchases in a burst. Default 3. */
    minPurchases: z.int().min(1).optional(),
    /** Purchases count when amountMinor > this (minor units of the transaction's currency). Default 100_000. */
    amountThresholdMinor: z.int().min(0).optional(),
    /** M: the burst's first and last purchase are less than M minutes apart. Default 10. */
    withinMinutes: z.number().positive().optional(),
    /** K: locations remembered per card. Default 20. */
    knownLocationsPerCard: z.int().min(1).optional(),
  })
  .readonly();

export type FraudRuleOptions = z.output<typeof fraudRuleSchema>;
