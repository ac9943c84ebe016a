/** Shim of `k6/metrics`: Counter, Gauge, Rate, Trend with add(value[, tags]). Tags are ignored. */
import { registerMetric, type Metric, type MetricType } from "./runtime.js";

class Base {
  readonly #metric: Metric;
  constructor(name: string, type: MetricType, isTime = false) {
    this.#metric = registerMetric(name, type, isTime);
  }
  get name(): string {
    return this.#metric.name;
  }
  add(value: number | boolean, _tags?: Record<string, string>): void {
    this.#metric.add(typeof value === "boolean" ? (value ? 1 : 0) : value);
  }
}

export class Counter extends Base {
  constructor(name: string, isTime = false) {
    super(name, "counter", isTime);
  }
}

export class Gauge extends Base {
  constructor(name: string, isTime = false) {
    super(name, "gauge", isTime);
  }
}

/** Rate: the share of added values that are non-zero (true). */
export class Rate extends Base {
  constructor(name: string, isTime = false) {
    super(name, "rate", isTime);
  }
}

export class Trend extends Base {
  constructor(name: string, isTime = false) {
    super(name, "trend", isTime);
  }
}

export default { Counter, Gauge, Rate, Trend };
