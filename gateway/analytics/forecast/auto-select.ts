/**
 * `--method auto`: picks a method for a series from the training data alone.
 *
 * 1. Constant series (or a single point): the last value, with zero-width intervals (there is no
 *    variation to scale them by).
 * 2. Intermittent demand (Syntetos-Boylan ADI ≥ 1.32, no negative values): Croston, SBA or TSB,
 *    whichever has the least in-sample one-step MSE.
 * 3. Otherwise ETS by AICc over the admissible family (ets.ts). A season the series is too short
 *    for (or longer than 24 periods) is dropped, and the fit says so in `note`.
 * 4. Too short for any ETS member (< 7 points): naive, with a note.
 *
 * ARIMA and an ETS/ARIMA average were evaluated on the eight reference series and not adopted:
 * mean holdout MASE 1.38 for ETS alone, 1.68 for auto-ARIMA (arima.ts), 1.52 for the average; the
 * average would also double the cost per series.
 *
 * Lives apart from auto.ts so that the registry (index.ts) can import `auto` without a cycle.
 */
import { ets, fitEtsAuto, seasonFits, ETS_MAX_PERIOD } from './ets.ts'
import { etsMinLength } from './ets-fit.ts'
import { ADI_CUTOFF, croston, demandClass, sba, tsb } from './intermittent.ts'
import { checkRequest, checkSeries, naive } from './naive.ts'
import type { FitSummary, FittedModel, Forecast, ForecastModel, SeriesInput } from './model.ts'

/** A fitted model plus why auto chose something other than the usual (too short for the season, …). */
export interface AutoFitted extends FittedModel {
  readonly note?: string
}

/** Fewest points ETS is tried on; below it auto forecasts naive. */
const MIN_ETS = etsMinLength({ error: 'A', trend: 'N', season: 'N' }, 1)
/** Fewest points for the intermittent methods to be worth choosing among (else ETS/naive). */
const MIN_INTERMITTENT = 8

/** Automatic method selection; see the module comment. Fits any non-empty finite series. */
export const auto: ForecastModel = {
  name: 'auto',
  minLength: () => 1,
  fit(series: SeriesInput): AutoFitted {
    checkSeries(series, 1, 'auto')
    const { y, period } = series
    const n = y.length
    if (n === 1) return flat(y[0]!, n, 'a single point: forecast is that value, with zero-width intervals')
    if (y.every((v) => v === y[0])) return flat(y[0]!, n, 'constant series: naive forecast with zero-width intervals')
    if (n >= MIN_INTERMITTENT && y.every((v) => v >= 0) && demandClass(y).adi >= ADI_CUTOFF) return bestIntermittent(series)
    if (n < MIN_ETS) return withNote(naive.fit(series), `only ${n} points, fewer than the ${MIN_ETS} exponential smoothing needs: naive forecast`)
    let note: string | undefined
    let m = period
    if (period > ETS_MAX_PERIOD) {
      note = `period ${period} is longer than the ${ETS_MAX_PERIOD} ETS models carry a season for: fitted without season`
      m = 1
    } else if (period > 1 && !seasonFits(n, period)) {
      const need = etsMinLength({ error: 'A', trend: 'N', season: 'A' }, period)
      note = `${n} points are too few for a season of ${period} (needs ≥ ${need}): fitted without season`
      m = 1
    }
    const fit = m === period ? ets.fit(series) : fitEtsAuto({ y, period: 1 })
    return withNote(fit, note)
  },
}

/** Croston, SBA or TSB, by in-sample one-step MSE (the first ADI-worth of fitted values skipped as burn-in). */
function bestIntermittent(series: SeriesInput): AutoFitted {
  let best: FittedModel | null = null
  let bestMse = Infinity
  for (const model of [croston, sba, tsb]) {
    const fit = model.fit(series)
    const mse = inSampleMse(series.y, fit.fitted)
    if (best === null || mse < bestMse) {
      best = fit
      bestMse = mse
    }
  }
  return best!
}

/** Mean squared one-step error over the points that have a finite fitted value. */
export function inSampleMse(y: readonly number[], fitted: readonly number[]): number {
  let s = 0
  let k = 0
  for (let t = 0; t < y.length; t++) {
    const f = fitted[t]
    if (f !== undefined && Number.isFinite(f)) {
      s += (y[t]! - f) ** 2
      k++
    }
  }
  return k > 0 ? s / k : Infinity
}

/** `fit` with a note attached (the same object's behaviour otherwise). */
function withNote(fit: FittedModel, note: string | undefined): AutoFitted {
  if (note === undefined) return fit
  return { method: fit.method, fit: fit.fit, fitted: fit.fitted, note, forecast: (h, levels) => fit.forecast(h, levels) }
}

/** The documented fallback for a series with no variation: `value` for every step, intervals of zero width. */
function flat(value: number, n: number, note: string): AutoFitted {
  const fit: FitSummary = { sigma2: 0, params: {} }
  return {
    method: 'naive',
    fit,
    fitted: Array.from({ length: n }, (_, t) => (t === 0 ? NaN : value)),
    note,
    forecast(h: number, levels: readonly number[]): Forecast {
      checkRequest(h, levels)
      const mean = new Array<number>(h).fill(value)
      const lower: Record<string, number[]> = {}
      const upper: Record<string, number[]> = {}
      for (const l of levels) {
        lower[String(l)] = [...mean]
        upper[String(l)] = [...mean]
      }
      return { mean, lower, upper }
    },
  }
}
