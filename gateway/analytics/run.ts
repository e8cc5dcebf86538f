/**
 * One analytics run over the store: fold new demand, forecast every SKU's daily demand, backtest it,
 * describe it, size its policy, segment the SKUs, fit the dispatch lead-time model, and store it all
 * in one transaction (tables.ts). Runs on the analytics worker (worker.ts), never on the ingest path;
 * it yields to the event loop between SKUs so a close request is heard. A SKU whose fit fails keeps
 * no forecast and is counted; the run goes on.
 */
import type { Database } from 'better-sqlite3'
import type { Config } from '../config/schema.ts'
import type { Logger } from '../core/log.ts'
import { readSkus, type SkuRecord } from '../state/skus.ts'
import { readStock } from '../state/stock.ts'
import { DAY_MS, DemandLedger, dayOf } from './demand.ts'
import { fitDispatchModel } from './dispatch.ts'
import { forecastSku } from './forecast-sku.ts'
import { suggestPolicy, type PolicySuggestion } from './policy.ts'
import { coverOf } from './signals.ts'
import type { RunReason, RunSummary } from './protocol.ts'
import { segment, type SkuDemand } from './segments.ts'
import { createAnalyticsTables, writeRun, type SkuForecast } from './tables.ts'

/** SKUs forecast between two yields to the event loop. */
const YIELD_EVERY = 25
/** The regression learns from shipments released in this many days. */
const DISPATCH_HISTORY_DAYS = 90

/** One SKU in the policy result: the suggestion plus what on hand means at the forecast. */
export interface SkuPolicyView extends PolicySuggestion {
  onHand: number
  /** Days until the forecast demand uses up what is on hand (null: not within the forecast horizon). */
  daysOfCover: number | null
  /** Epoch ms of the expected stock-out, or null when not within the horizon. */
  stockoutAt: number | null
  /** Whether the SKU master follows the suggestion (`analytics.policy: apply`; the host writes the changed ones after the run). */
  applied: boolean
}

export interface RunOptions {
  reason: RunReason
  now: () => number
  log: Pick<Logger, 'warn'>
  onProgress?: (done: number, total: number) => void
  /** Aborted when the worker closes: the run stops between SKUs and stores nothing. */
  signal?: AbortSignal
}

const pause = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** `store`: a connection to the store (read: events, SKU master, stock, shipments); `db`: the analytics database (written). */
export async function runAnalytics(store: Database, db: Database, config: Readonly<Config>, opts: RunOptions): Promise<RunSummary> {
  const a = config.analytics
  const started = performance.now()
  const startedAt = opts.now()
  createAnalyticsTables(db)
  const ledger = new DemandLedger(store, db)
  ledger.fold()
  const today = dayOf(startedAt)
  db.transaction(() => ledger.prune(today - a.historyDays)).immediate()

  const policies = new Map(readSkus(store).map((p) => [p.sku, p]))
  const onHand = new Map<string, number>()
  for (const s of readStock(store)) onHand.set(s.sku, (onHand.get(s.sku) ?? 0) + s.onHand)

  const skus = ledger.skus().filter((s) => s.first < today)
  const forecasts: SkuForecast[] = []
  const demands: SkuDemand[] = []
  const policy: SkuPolicyView[] = []
  const methods: Record<string, number> = {}
  const changes: RunSummary['changes'] = []
  let failed = 0
  for (let i = 0; i < skus.length; i++) {
    if (i % YIELD_EVERY === 0) {
      opts.onProgress?.(i, skus.length)
      await pause()
      opts.signal?.throwIfAborted()
    }
    const { sku, first } = skus[i]!
    const y = ledger.series(sku, Math.max(first, today - a.historyDays), today)
    let f: SkuForecast
    try {
      f = { sku, at: 0, startDay: today, ...forecastSku(y, a) }
    } catch (err) {
      failed++
      opts.log.warn({ err, sku }, 'forecast failed; the SKU has no forecast until the next run')
      continue
    }
    forecasts.push(f)
    methods[f.method] = (methods[f.method] ?? 0) + 1
    const p = policies.get(sku)
    demands.push({ sku, demand: y.slice(-365), unitValue: p?.unit_cost })
    if (p) {
      let view: SkuPolicyView
      try {
        view = policyView(p, f, onHand.get(sku) ?? 0, startedAt, config)
      } catch (err) {
        opts.log.warn({ err, sku }, 'no policy suggestion for this SKU')
        continue
      }
      policy.push(view)
      const { suggested, current } = view
      if (!current || suggested.reorder_point !== current.reorder_point || suggested.safety_stock !== current.safety_stock) {
        changes.push({ sku, patch: { reorder_point: suggested.reorder_point, safety_stock: suggested.safety_stock } })
      }
    }
  }
  opts.onProgress?.(skus.length, skus.length)

  const segments = segment(demands, { abc: a.abc, xyz: a.xyz, seasonPeriod: a.period })
  const regression = fitDispatchModel(store, ledger, startedAt - DISPATCH_HISTORY_DAYS * DAY_MS)
  const finishedAt = opts.now()
  const summary: RunSummary = {
    reason: opts.reason,
    startedAt,
    finishedAt,
    seconds: (performance.now() - started) / 1000,
    skus: forecasts.length,
    methods,
    failed,
    changes,
  }
  // In apply mode the SKU master follows the suggestions: written now by the host, or already equal.
  for (const v of policy) v.applied = config.analytics.policy === 'apply'
  writeRun(db, finishedAt, forecasts, { run: summary, segments, policy, regression })
  return summary
}

/** The suggested policy of one SKU, and its cover at the forecast. */
function policyView(p: SkuRecord, f: SkuForecast, onHand: number, now: number, config: Readonly<Config>): SkuPolicyView {
  const a = config.analytics
  const leadTimeDays = p.lead_time_ms / DAY_MS
  // Mean daily demand over the lead time (the forecast's last day repeats past its horizon).
  const days = Math.max(1, Math.ceil(leadTimeDays))
  let sum = 0
  for (let d = 0; d < days; d++) sum += f.mean[Math.min(d, f.mean.length - 1)]!
  const suggestion = suggestPolicy(
    p.sku,
    { reorder_point: p.reorder_point, safety_stock: p.safety_stock },
    {
      demandPerDay: Math.max(0, sum / days),
      demandSdPerDay: f.sdDaily,
      leadTimeDays,
      serviceLevel: a.serviceLevel,
      orderCost: a.orderCost,
      holdingCostPerUnitYear: p.unit_cost === undefined ? a.holdingCost : a.holdingRate * p.unit_cost,
      packSize: p.pack_size,
    },
  )
  const cover = coverOf(f, onHand, now)
  return { ...suggestion, onHand, daysOfCover: cover.stockoutAt === null ? null : cover.daysOfCover, stockoutAt: cover.stockoutAt, applied: false }
}
