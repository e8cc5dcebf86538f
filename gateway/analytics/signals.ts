/**
 * The forecast signals the rule engine reads (`forecast` conditions): for a SKU, the last run's daily
 * demand forecast played forward from the current time (`pathFromNow`) against the current on-hand
 * stock, with the policy module's formulas:
 *
 * - `days_of_cover`: days until the forecast demand from now adds up to what is on hand
 *   (`stockoutTime`); `MAX_COVER_DAYS` when the forecast ends (or its demand is zero) first; 0 when
 *   nothing is on hand.
 * - `stockout_within` (horizon H): the probability that demand over the next H exceeds on hand
 *   (`stockoutProbability`: normal, with the forecast's one-day error spread growing with √H).
 *
 * On-hand is read live on every call (the stock book on the ingest worker), so each pick moves the
 * signals; the forecasts change only when a run finishes (`load`).
 */
import type { Database } from 'better-sqlite3'
import type { Clock } from '../core/clock.ts'
import type { ForecastSignals } from '../rules/engine/engine.ts'
import { readForecastPaths, type ForecastPath } from './tables.ts'
import { DAY_MS } from './demand.ts'
import { stockoutProbability, stockoutTime } from './policy.ts'

/** Days of cover are reported up to this (a SKU whose forecast never uses up its stock has this much). */
export const MAX_COVER_DAYS = 366

/**
 * The daily forecast re-cut into 24-hour steps starting at `now` (step 0 = the next 24 h): the rest of
 * today counts for its share of today's forecast. Days before the forecast's first day read as its
 * first day and days after its last as its last (a run that is late keeps its level), and the path is
 * as long as the forecast.
 */
export function pathFromNow(f: Pick<ForecastPath, 'startDay' | 'mean'>, now: number): number[] {
  const last = f.mean.length - 1
  const at = (day: number): number => Math.max(0, f.mean[Math.min(last, Math.max(0, day - f.startDay))] ?? 0)
  const day = Math.floor(now / DAY_MS)
  const into = now / DAY_MS - day
  return f.mean.map((_, k) => at(day + k) * (1 - into) + at(day + k + 1) * into)
}

/** Days of cover of `onHand` at the forecast from `now`, and when it runs out (null: not within the forecast). */
export function coverOf(f: ForecastPath, onHand: number, now: number): { daysOfCover: number; stockoutAt: number | null } {
  const ms = stockoutTime(onHand, pathFromNow(f, now))
  return ms === null ? { daysOfCover: MAX_COVER_DAYS, stockoutAt: null } : { daysOfCover: Math.min(MAX_COVER_DAYS, ms / DAY_MS), stockoutAt: now + ms }
}

/** The probability, 0-1, that the forecast demand over the next `horizonMs` exceeds `onHand`. */
export function stockoutChance(f: ForecastPath, onHand: number, now: number, horizonMs: number): number {
  return stockoutProbability(onHand, { demandPerDay: pathFromNow(f, now), demandSdPerDay: f.sdDaily }, horizonMs / DAY_MS)
}

/** The runtime's source of forecast signals: the stored forecasts, with on-hand and time read live. */
export class ForecastBook implements ForecastSignals {
  private bySku = new Map<string, ForecastPath>()

  constructor(
    private readonly db: Database,
    private readonly onHand: (sku: string) => number,
    private readonly clock: Clock,
  ) {}

  /** Re-read the stored forecasts: the SKUs that have one now, and those that had one and lost it. */
  load(): { current: string[]; gone: string[] } {
    const before = [...this.bySku.keys()]
    this.bySku = new Map(readForecastPaths(this.db).map((f) => [f.sku, f]))
    return { current: [...this.bySku.keys()], gone: before.filter((sku) => !this.bySku.has(sku)) }
  }

  skus(): Iterable<string> {
    return this.bySku.keys()
  }

  get(sku: string, signal: 'days_of_cover' | 'stockout_within', horizonMs?: number): number | undefined {
    const f = this.bySku.get(sku)
    if (!f) return undefined
    const now = this.clock.now()
    const onHand = this.onHand(sku)
    return signal === 'stockout_within' ? stockoutChance(f, onHand, now, horizonMs ?? DAY_MS) : coverOf(f, onHand, now).daysOfCover
  }
}
