/**
 * Mapping from the generated protobuf event types to the engine's plain risk inputs. The only risk
 * module that knows about protobuf; the generated types are imported as types only.
 */
import type { Quote, Trade } from "../../gen/weir/events/v1/market_pb.js";
import type { FxRate, Instrument } from "../../gen/weir/events/v1/reference_pb.js";
import type { RiskInput } from "./input.js";

/** weir.events.v1.Side values (SIDE_BUY = 1, SIDE_SELL = 2). */
const SIDE_BUY = 1;
const SIDE_SELL = 2;

export function instrumentInput(m: Instrument): Extract<RiskInput, { kind: "instrument" }> {
  return { kind: "instrument", symbol: m.symbol, sector: m.sector, currency: m.currency, contractMultiplier: m.contractMultiplier };
}

export function fxInput(m: FxRate): Extract<RiskInput, { kind: "fx" }> {
  return { kind: "fx", base: m.base, quote: m.quote, rate: m.rate };
}

/** Throws on SIDE_UNSPECIFIED (or an unknown side): a trade without a side cannot be applied. */
export function tradeInput(m: Trade): Extract<RiskInput, { kind: "trade" }> {
  const side = (m.side as number) === SIDE_BUY ? "BUY" : (m.side as number) === SIDE_SELL ? "SELL" : undefined;
  if (side === undefined) throw new RangeError(`trade ${m.tradeId}: side must be BUY or SELL, got ${m.side}`);
  return { kind: "trade", tradeId: m.tradeId, accountId: m.accountId, symbol: m.symbol, side, quantity: m.quantity, price: m.price };
}

export function quoteInput(m: Quote): Extract<RiskInput, { kind: "quote" }> {
  return { kind: "quote", symbol: m.symbol, bid: m.bid, ask: m.ask };
}
