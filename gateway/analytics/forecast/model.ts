/**
 * The one interface every forecasting method implements, and the shapes they share.
 *
 * Lifecycle: `fit` is pure and synchronous: it reads the series, fits parameters (by likelihood or
 * SSE minimisation, never guessed) and returns a `FittedModel`, which holds no reference to the
 * input and can forecast any horizon any number of times. Nothing here does I/O or keeps state
 * between calls, so fits run on any thread (the analytics worker runs them off the ingest path).
 *
 * Errors: a series a method cannot fit (too short for its season, empty, not finite) throws
 * `ForecastInputError` with a message that says what to do; `auto` catches those and falls back
 * to a simpler method. No method returns NaN or ±Infinity in a forecast or interval.
 */
import { errorFunction } from 'simple-statistics'
import { StockyardError } from '../../core/errors.ts'

/** A series to fit: values oldest first, one per period step, all finite; `period` is the seasonal period (1 = none). */
export interface SeriesInput {
  readonly y: readonly number[]
  readonly period: number
}

/** Point forecast and prediction intervals, keyed by level in percent ('80', '95'). */
export interface Forecast {
  mean: number[]
  lower: Record<string, number[]>
  upper: Record<string, number[]>
}

export interface FitSummary {
  /** Information criteria, for likelihood-based fits (ETS, ARIMA); undefined otherwise. */
  aicc?: number
  aic?: number
  bic?: number
  loglik?: number
  /** Variance of the one-step-ahead residuals. */
  sigma2: number
  /** Fitted parameters by name (alpha, beta, phi, gamma, ar1, ma1, window, …). */
  params: Record<string, number>
}

export interface FittedModel {
  /** The method as it was fitted, e.g. 'ets(A,Ad,M)', 'arima(1,1,0)(0,1,1)[12]', 'sba'. */
  readonly method: string
  readonly fit: FitSummary
  /** One-step-ahead in-sample fitted values, same length as the input; NaN where a method has none. */
  readonly fitted: readonly number[]
  /** `h` ≥ 1 steps ahead; `levels` in percent, each in (0, 100). */
  forecast(h: number, levels: readonly number[]): Forecast
}

export interface ForecastModel {
  /** The name `--method` takes: 'naive', 'snaive', 'ma', 'ses', 'holt', 'ets', 'arima', 'croston', 'sba', 'tsb', … */
  readonly name: string
  /** Fewest points `fit` accepts for this period. */
  minLength(period: number): number
  /** Throws ForecastInputError when the series cannot be fitted by this method. */
  fit(series: SeriesInput): FittedModel
}

/** A series or request a method cannot work with; the message says why and what would do. */
export class ForecastInputError extends StockyardError {
  constructor(message: string) {
    super('request.invalid', message)
    this.name = 'ForecastInputError'
  }
}

/** z quantile of a two-sided `level` % interval. */
export function zOf(level: number): number {
  return normalQuantile(0.5 + level / 200)
}

/**
 * Inverse normal CDF (Acklam's rational approximation, |error| < 1.2e-9). Written here because
 * simple-statistics' `probit` is too coarse for intervals: it gives 1.9572 for 0.975 (exact 1.95996).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`quantile of ${p}`)
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239]
  const b = [-54.47609879822406, 161.5853275243271, -155.6989798598866, 66.80131188771753, -13.28068155211573]
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783]
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416]
  const lo = 0.02425
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p))
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
  }
  if (p > 1 - lo) return -normalQuantile(1 - p)
  const q = p - 0.5
  const r = q * q
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  )
}

/** Standard normal CDF (simple-statistics' error function, accurate to ~1e-7). */
export function normalCdf(z: number): number {
  return 0.5 * (1 + errorFunction(z / Math.SQRT2))
}

/** Symmetric interval around `mean` with per-step standard deviation `sd`. */
export function normalIntervals(mean: readonly number[], sd: readonly number[], levels: readonly number[]): Forecast {
  const lower: Record<string, number[]> = {}
  const upper: Record<string, number[]> = {}
  for (const level of levels) {
    const z = zOf(level)
    lower[String(level)] = mean.map((m, i) => m - z * sd[i]!)
    upper[String(level)] = mean.map((m, i) => m + z * sd[i]!)
  }
  return { mean: [...mean], lower, upper }
}
