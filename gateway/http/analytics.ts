/**
 * Analytics: a SKU's demand history and forecast, the segments, the suggested policy, descriptive
 * statistics of a metric, open shipments against the dispatch model, the run status and an
 * on-demand re-fit. Results are those of the last finished run (stored by the analytics worker);
 * what depends on the moment (days of cover, stock-out probability) is computed from the current
 * on-hand stock on each request.
 */
import type { Database } from 'better-sqlite3'
import { z } from 'zod'
import { systemClock } from '../core/clock.ts'
import { StockyardError } from '../core/errors.ts'
import { DAY_MS, dayOf, demandReader } from '../analytics/demand.ts'
import type { AnalyticsStatus } from '../analytics/host.ts'
import type { DispatchOutlook } from '../analytics/dispatch.ts'
import type { RunSummary } from '../analytics/protocol.ts'
import type { SkuPolicyView } from '../analytics/run.ts'
import { coverOf, stockoutChance } from '../analytics/signals.ts'
import { describe } from '../analytics/stats.ts'
import { readForecasts, readForecastSkus, readResult } from '../analytics/tables.ts'
import { readStock } from '../state/stock.ts'
import { warehouseOf, type HttpDeps } from './deps.ts'
import { label, parseParams, parseQuery } from './params.ts'
import type { Route } from './route.ts'
import { SeriesQuerySchema, toSeriesQuery } from './series.ts'

/** What the API needs of the analytics host on the broker thread. */
export interface AnalyticsDeps {
  /** A reader connection to the analytics database (db.ts); never written through. */
  db: Database
  status(): AnalyticsStatus
  outlook(): DispatchOutlook[]
  refit(): Promise<RunSummary>
}

/** Days of history `GET /api/v1/forecast/{sku}` returns by default, and at most. */
export const HISTORY_DAYS = { default: 90, max: 3650 }

function analyticsOf(deps: HttpDeps): AnalyticsDeps {
  if (!deps.analytics) throw new StockyardError('store.failed', 'analytics is off in this gateway (analytics.enabled: false)')
  return deps.analytics
}

const isoDay = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10)
const intParam = (max: number) => z.coerce.number().int().min(1).max(max)

export const analyticsRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/v1/forecast/{sku}',
    access: 'viewer',
    handle: (c, deps) => {
      const { sku } = parseParams(c, z.object({ sku: label }))
      const q = parseQuery(c, z.strictObject({ history: intParam(HISTORY_DAYS.max).default(HISTORY_DAYS.default) }))
      const { db } = analyticsOf(deps)
      const f = readForecasts(db, sku)[0]
      if (!f) {
        throw new StockyardError(
          'not_found',
          `no forecast for ${sku}: it has no pick history before today, or no analytics run has finished since it had; see GET /api/v1/analytics/status`,
        )
      }
      const now = (deps.clock ?? systemClock).now()
      const today = dayOf(now)
      const onHand = readStock(warehouseOf(deps).db, { sku }).reduce((s, l) => s + l.onHand, 0)
      return c.json({
        sku,
        at: f.at,
        method: f.method,
        note: f.note ?? null,
        history: { start: isoDay(today - q.history), values: demandReader(db)(sku, today - q.history, today) },
        forecast: { start: isoDay(f.startDay), mean: f.mean, lower: f.lower, upper: f.upper, sdDaily: f.sdDaily },
        fit: f.fit,
        accuracy: f.accuracy,
        stats: f.stats,
        now: { onHand, ...coverOf(f, onHand, now), stockoutWithin48h: stockoutChance(f, onHand, now, 2 * DAY_MS) },
      })
    },
  },
  {
    method: 'GET',
    path: '/api/v1/analytics/segments',
    access: 'viewer',
    handle: (c, deps) => {
      parseQuery(c, z.strictObject({}))
      const r = readResult<object>(analyticsOf(deps).db, 'segments')
      return c.json(r ? { at: r.at, ...r.body } : { at: null, skus: [], clustering: null })
    },
  },
  {
    method: 'GET',
    path: '/api/v1/analytics/policy',
    access: 'viewer',
    handle: (c, deps) => {
      const q = parseQuery(c, z.strictObject({ sku: label.optional() }))
      const r = readResult<SkuPolicyView[]>(analyticsOf(deps).db, 'policy')
      const skus = (r?.body ?? []).filter((p) => q.sku === undefined || p.sku === q.sku)
      return c.json({ at: r?.at ?? null, mode: deps.config.analytics.policy, serviceLevel: deps.config.analytics.serviceLevel, skus })
    },
  },
  {
    method: 'GET',
    path: '/api/v1/analytics/stats',
    access: 'viewer',
    handle: async (c, deps) => {
      const now = (deps.clock ?? systemClock).now()
      const raw = c.req.query('metric')
      if (raw === 'demand') {
        // Daily demand per SKU from the analytics ledger; `from`/`to` are rounded to UTC days.
        const q = parseQuery(
          c,
          z.strictObject({ metric: z.literal('demand'), sku: label.optional(), from: SeriesQuerySchema.shape.from, to: SeriesQuerySchema.shape.to }),
        )
        const to = dayOf(q.to ?? now)
        const from = dayOf(q.from ?? (q.to ?? now) - HISTORY_DAYS.default * DAY_MS)
        if (from >= to) throw new StockyardError('request.invalid', 'from: must be at least a day before to')
        if (to - from > HISTORY_DAYS.max) throw new StockyardError('request.invalid', `from: at most ${HISTORY_DAYS.max} days before to, got ${to - from}`)
        const { db } = analyticsOf(deps)
        const demand = demandReader(db)
        const skus = q.sku !== undefined ? [q.sku] : readForecastSkus(db)
        return c.json({
          metric: 'demand',
          unit: 'units/day',
          from: isoDay(from),
          to: isoDay(to),
          series: skus.map((sku) => ({ labels: { sku }, stats: describe(demand(sku, from, to)) })),
        })
      }
      const query = toSeriesQuery(parseQuery(c, SeriesQuerySchema), now)
      await deps.beforeRead?.()
      const result = deps.store.query(query)
      return c.json({
        metric: query.metric,
        from: query.from,
        to: query.to,
        source: result.source,
        series: result.series.map((s) => ({ labels: s.labels, stats: describe(s.points.map((p) => p[1])) })),
      })
    },
  },
  {
    method: 'GET',
    path: '/api/v1/analytics/shipments',
    access: 'viewer',
    handle: (c, deps) => {
      parseQuery(c, z.strictObject({}))
      const model = readResult<object>(analyticsOf(deps).db, 'regression')
      return c.json({
        at: model?.at ?? null,
        model: model?.body ?? null,
        withinMs: deps.config.analytics.dispatchWithinMs,
        shipments: analyticsOf(deps).outlook(),
      })
    },
  },
  {
    method: 'GET',
    path: '/api/v1/analytics/status',
    access: 'viewer',
    handle: (c, deps) => {
      parseQuery(c, z.strictObject({}))
      return c.json(analyticsOf(deps).status())
    },
  },
  {
    method: 'POST',
    path: '/api/v1/analytics/refit',
    access: 'admin',
    handle: async (c, deps) => {
      const q = parseQuery(c, z.strictObject({ wait: z.enum(['true', 'false']).default('false') }))
      const done = analyticsOf(deps).refit()
      if (q.wait === 'false') {
        done.catch(() => undefined)
        return c.json({ started: true, status: analyticsOf(deps).status() }, 202)
      }
      return c.json({ started: true, run: await done })
    },
  },
]
