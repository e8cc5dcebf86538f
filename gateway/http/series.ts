/**
 * Time-series reads: one metric over [from, to), optionally filtered by labels, as raw points or
 * as buckets of `step` aggregated with `agg`. The store picks raw or a rollup table.
 */
import { z } from 'zod'
import { systemClock } from '../core/clock.ts'
import { StockyardError } from '../core/errors.ts'
import { AGGREGATES, type SeriesQuery } from '../store/types.ts'
import { duration, instant, label, oneOf, parseQuery } from './params.ts'
import type { Route } from './route.ts'

/** The largest number of buckets one series may be split into. */
export const MAX_BUCKETS = 50_000
/** Window when `from` is omitted. */
export const DEFAULT_WINDOW_MS = 3_600_000

export const SeriesQuerySchema = z.strictObject({
  metric: label.min(1, 'required'),
  site: label.optional(),
  zone: label.optional(),
  device: label.optional(),
  sku: label.optional(),
  from: instant.optional(),
  to: instant.optional(),
  step: duration.optional(),
  agg: oneOf(AGGREGATES).default('avg'),
})

/** Resolve defaults (to = now, from = to - 1h) and refuse empty ranges and too many buckets. */
export function toSeriesQuery(q: z.output<typeof SeriesQuerySchema>, now: number): SeriesQuery {
  const to = q.to ?? now
  const from = q.from ?? to - DEFAULT_WINDOW_MS
  if (from >= to) throw new StockyardError('request.invalid', `from: must be before to (from=${from}, to=${to})`)
  if (q.step !== undefined) {
    const buckets = Math.ceil((to - from) / q.step)
    if (buckets > MAX_BUCKETS) {
      throw new StockyardError('request.invalid', `step: ${buckets} buckets per series is more than ${MAX_BUCKETS}; use a larger step or a shorter range`)
    }
  }
  const query: SeriesQuery = { metric: q.metric, from, to, agg: q.agg }
  if (q.site !== undefined) query.site = q.site
  if (q.zone !== undefined) query.zone = q.zone
  if (q.device !== undefined) query.device = q.device
  if (q.sku !== undefined) query.sku = q.sku
  if (q.step !== undefined) query.stepMs = q.step
  return query
}

export const seriesRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/v1/series',
    access: 'viewer',
    handle: async (c, deps) => {
      const query = toSeriesQuery(parseQuery(c, SeriesQuerySchema), (deps.clock ?? systemClock).now())
      await deps.beforeRead?.()
      return c.json(deps.store.query(query))
    },
  },
]
