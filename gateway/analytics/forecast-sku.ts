/**
 * One SKU's daily demand forecast as a run stores it: the configured method (auto by default) with
 * its intervals, a rolling-origin backtest against seasonal naive, and descriptive statistics.
 * Demand is never negative, so the forecast and its bounds are floored at 0 (a linear model's
 * interval on a slow SKU otherwise dips below zero).
 */
import type { Config } from '../config/schema.ts'
import { backtest, forecastSeries, METHODS } from './forecast/index.ts'
import { ForecastInputError, zOf } from './forecast/model.ts'
import { describe } from './stats.ts'
import type { SkuForecast } from './tables.ts'

type Analytics = Config['analytics']

const floor0 = (xs: readonly number[]): number[] => xs.map((v) => Math.max(0, v))

export function forecastSku(y: readonly number[], a: Analytics): Omit<SkuForecast, 'sku' | 'at' | 'startDay'> {
  const r = forecastSeries(y, { period: a.period, horizon: a.horizonDays, method: a.method, levels: a.levels })
  const widest = Math.max(...a.levels)
  const upper = r.upper[String(widest)]!
  const sdDaily = Math.max(0, (upper[0]! - r.forecast[0]!) / zOf(widest))
  const mapLevels = (b: Record<string, number[]>): Record<string, number[]> => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, floor0(v)]))
  const out: Omit<SkuForecast, 'sku' | 'at' | 'startDay'> = {
    method: r.method,
    n: y.length,
    mean: floor0(r.forecast),
    lower: mapLevels(r.lower),
    upper: mapLevels(r.upper),
    sdDaily,
    fit: { ...r.fit },
    accuracy: backtestOf(y, a),
    stats: { ...describe(y) },
  }
  if (r.note !== undefined) out.note = r.note
  return out
}

/**
 * Rolling-origin accuracy of the configured method against seasonal naive: `backtestOrigins`
 * origins a season apart, each forecasting the full horizon. Null when the history is too short for
 * one origin (a new SKU) or backtesting is off.
 */
function backtestOf(y: readonly number[], a: Analytics): Record<string, unknown> | null {
  if (a.backtestOrigins === 0) return null
  const model = METHODS[a.method]!
  try {
    const b = backtest(y, [model], { period: a.period, horizon: a.horizonDays, origins: a.backtestOrigins, step: a.period })
    const score = b.scores[model.name]
    const base = b.scores.snaive
    if (!score || !base) return null
    // null rather than NaN or Infinity (JSON has neither): MASE of a series whose seasonal naive is perfect, say.
    const f = (x: number): number | null => (Number.isFinite(x) ? x : null)
    const scores = (m: typeof score) => ({ mase: f(m.mase), smape: f(m.smape), mae: f(m.mae), bias: f(m.bias) })
    return { origins: b.origins.length, horizon: b.horizon, method: scores(score), snaive: scores(base), fva: f(score.fva) }
  } catch (err) {
    if (err instanceof ForecastInputError) return null
    throw err
  }
}
