/**
 * `forecastSeries`: one series in, the JSON the `stockyard forecast` CLI prints out (issue 6):
 * `{ method, forecast, lower: {'80': […]}, upper, fit: { aicc, … }, note? }`.
 *
 * Bad input is refused with a ForecastInputError whose message says what to send instead: an
 * empty series, a non-finite value, a horizon that is not a positive integer, a period that is not
 * a positive integer, a level outside (0, 100), an unknown method. Everything else gets numbers:
 * `auto`'s documented fallbacks (auto-select.ts) cover constant and short series, and should a
 * method ever produce a non-finite number, the result is the naive forecast with a note instead.
 */
import { auto, type AutoFitted } from './auto-select.ts'
import { METHODS } from './index.ts'
import { ForecastInputError, type FitSummary, type Forecast } from './model.ts'
import { naive } from './naive.ts'

export { auto, type AutoFitted } from './auto-select.ts'

/** What to forecast: the seasonal period (1 = none), steps ahead, method name (default 'auto') and interval levels in percent (default 80, 95). */
export interface ForecastRequest {
  period: number
  horizon: number
  method?: string
  levels?: readonly number[]
}

/** The CLI/API contract; `lower`/`upper` are keyed by level ('80', '95'). `note` says why the method differs from the one asked for. */
export interface ForecastResult {
  method: string
  forecast: number[]
  lower: Record<string, number[]>
  upper: Record<string, number[]>
  fit: FitSummary
  note?: string
}

/**
 * Fits `req.method` to `y` (oldest first) and forecasts `req.horizon` steps.
 * @example forecastSeries([112, 118, 132, 129, 121, 135, 148, 148], { period: 1, horizon: 3 }).forecast // three numbers
 */
export function forecastSeries(y: readonly number[], req: ForecastRequest): ForecastResult {
  const levels = req.levels ?? [80, 95]
  const name = req.method ?? 'auto'
  if (!Array.isArray(y) || y.length === 0)
    throw new ForecastInputError('empty series: nothing to forecast; send at least one value (two or more for intervals)')
  for (let i = 0; i < y.length; i++) {
    if (typeof y[i] !== 'number' || !Number.isFinite(y[i]))
      throw new ForecastInputError(`value ${i} is ${String(y[i])}: every value must be a finite number; drop or fill missing periods first`)
  }
  if (!Number.isInteger(req.horizon) || req.horizon < 1) throw new ForecastInputError(`horizon must be a positive integer, got ${req.horizon}`)
  if (!Number.isInteger(req.period) || req.period < 1) throw new ForecastInputError(`period must be a positive integer (1 = no season), got ${req.period}`)
  for (const l of levels) if (!(l > 0 && l < 100)) throw new ForecastInputError(`interval level must be in (0, 100), got ${l}`)
  const model = METHODS[name]
  if (model === undefined) throw new ForecastInputError(`unknown method '${name}'; one of: ${Object.keys(METHODS).join(', ')}`)

  const series = { y, period: req.period }
  const fit: AutoFitted = model.fit(series)
  let out = fit.forecast(req.horizon, levels)
  let note = fit.note
  let method = fit.method
  let summary = fit.fit
  if (!allFinite(out)) {
    const fallback: AutoFitted = (y.length >= 2 ? naive : auto).fit({ y, period: 1 })
    out = fallback.forecast(req.horizon, levels)
    note = `${fit.method} produced non-finite values; ${fallback.method} forecast instead`
    method = fallback.method
    summary = fallback.fit
  }
  const result: ForecastResult = { method, forecast: out.mean, lower: out.lower, upper: out.upper, fit: finiteSummary(summary) }
  if (note !== undefined) result.note = note
  return result
}

function allFinite(f: Forecast): boolean {
  const ok = (a: readonly number[]): boolean => a.every((v) => Number.isFinite(v))
  return ok(f.mean) && Object.values(f.lower).every(ok) && Object.values(f.upper).every(ok)
}

/** The fit summary without non-finite entries (JSON has no NaN or Infinity). */
function finiteSummary(s: FitSummary): FitSummary {
  const out: FitSummary = { sigma2: Number.isFinite(s.sigma2) ? s.sigma2 : 0, params: {} }
  for (const k of ['aicc', 'aic', 'bic', 'loglik'] as const) if (Number.isFinite(s[k])) out[k] = s[k]
  for (const [k, v] of Object.entries(s.params)) if (Number.isFinite(v)) out.params[k] = v
  return out
}
