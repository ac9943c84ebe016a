/**
 * A user's own job over a user's own event type (acme.v1.PageView from examples/acme/proto, in a
 * schema image built with `weir schema build`): distinct visitors and views per page per 5
 * minutes. The producers key page views by user (a user's views in order); the job keys them by
 * page, so the runtime repartitions them. Views are de-duplicated per user within a window by
 * keeping the window's visitors as a sorted set (bounded by `maxVisitorsTracked`).
 *
 * Output "results": WindowResult with `result: { views, visitors, capped }` per "<tenant>/<page>";
 * "late": views too late for their window.
 */
import { defineJob, stream, tumbling, windowed, z } from "weir/jobs";

/** acme.v1.PageView as the job reads it (decoded from the schema image; no generated code needed). */
export type PageView = { readonly page: string; readonly user: string; readonly referrer: string };

type Visits = { readonly views: number; readonly visitors: readonly string[]; readonly capped: boolean };

export default defineJob({
  name: "page-stats",
  version: 1,
  description: "views and distinct visitors per page per window",
  options: z.strictObject({
    windowMs: z.int().positive().default(300_000),
    maxOutOfOrdernessMs: z.int().min(0).default(10_000),
    allowedLatenessMs: z.int().min(0).default(60_000),
    maxVisitorsTracked: z.int().positive().default(100_000),
  }),
  inputs: { views: stream<PageView>("acme.v1.PageView", { key: (view) => view.page }) },
  // Once a page's partition (or a source partition) has had no views for 30 s, its windows close.
  idle: { afterMs: 30_000 },
  map: ({ value }) => value.user,
  step: ({ options }) =>
    windowed({
      window: tumbling(options.windowMs),
      aggregate: {
        init: (): Visits => ({ views: 0, visitors: [], capped: false }),
        add: (acc: Visits, user: string): Visits => {
          const at = sortedIndex(acc.visitors, user);
          if (acc.visitors[at] === user) return { ...acc, views: acc.views + 1 };
          if (acc.visitors.length >= options.maxVisitorsTracked) return { ...acc, views: acc.views + 1, capped: true };
          return { views: acc.views + 1, visitors: [...acc.visitors.slice(0, at), user, ...acc.visitors.slice(at)], capped: acc.capped };
        },
        result: (acc: Visits) => ({ views: acc.views, visitors: acc.visitors.length, capped: acc.capped }),
      },
      maxOutOfOrdernessMs: options.maxOutOfOrdernessMs,
      allowedLatenessMs: options.allowedLatenessMs,
    }),
});

function sortedIndex(sorted: readonly string[], value: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
