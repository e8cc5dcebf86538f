/**
 * The simple baselines every other method must beat: naive (last value), seasonal naive (value one
 * season ago) and a moving average whose window is fitted. Intervals for naive and seasonal naive
 * are the analytic ones of Hyndman & Athanasopoulos, FPP3 §5.5; the moving average's come from its
 * own in-sample h-step errors. Also the input checks the other methods in this folder share.
 */
import { ForecastInputError, normalIntervals, type FitSummary, type FittedModel, type Forecast, type ForecastModel, type SeriesInput } from './model.ts'

/**
 * Throws ForecastInputError unless `series` has at least `min` points, all finite, and an integer
 * period ≥ 1; `what` names the method in the message.
 */
export function checkSeries(series: SeriesInput, min: number, what: string): void {
  const { y, period } = series
  if (!Number.isInteger(period) || period < 1) throw new ForecastInputError(`${what}: period must be an integer ≥ 1, got ${period}`)
  if (y.length < min)
    throw new ForecastInputError(`${what}: needs at least ${min} points for period ${period}, got ${y.length}; use a longer series or 'naive'`)
  for (let i = 0; i < y.length; i++) {
    if (!Number.isFinite(y[i])) throw new ForecastInputError(`${what}: value ${i} is ${y[i]}; drop or fill missing values before fitting`)
  }
}

/** Throws ForecastInputError unless `h` is an integer ≥ 1 and every level lies in (0, 100). */
export function checkRequest(h: number, levels: readonly number[]): void {
  if (!Number.isInteger(h) || h < 1) throw new ForecastInputError(`horizon must be an integer ≥ 1, got ${h}`)
  for (const l of levels) if (!(l > 0 && l < 100)) throw new ForecastInputError(`interval level must be in (0, 100), got ${l}`)
}

/** Mean of squares of the finite entries (0 when there are none). */
export function meanSquare(e: readonly number[]): number {
  let s = 0
  let k = 0
  for (const v of e) {
    if (Number.isFinite(v)) {
      s += v * v
      k++
    }
  }
  return k === 0 ? 0 : s / k
}

/** A fitted model whose h-step forecast standard deviation is `sdAt(h)` (1-based) around `point(h)`. */
function fitted(method: string, fit: FitSummary, values: number[], point: (h: number) => number, sdAt: (h: number) => number[]): FittedModel {
  return {
    method,
    fit,
    fitted: values,
    forecast(h: number, levels: readonly number[]): Forecast {
      checkRequest(h, levels)
      const mean = Array.from({ length: h }, (_, i) => point(i + 1))
      return normalIntervals(mean, sdAt(h), levels)
    },
  }
}

/** Seasonal naive with period m: ŷ(T+h) = y(T + h − m(⌊(h−1)/m⌋ + 1)); sd grows as √(⌊(h−1)/m⌋ + 1). */
function fitSeasonalNaive(y: readonly number[], m: number, method: string): FittedModel {
  const n = y.length
  const values = y.map((_, t) => (t >= m ? y[t - m]! : NaN))
  const sigma2 = meanSquare(y.map((v, t) => v - values[t]!))
  const sd = Math.sqrt(sigma2)
  const last = y.slice(n - m)
  return fitted(
    method,
    { sigma2, params: { period: m } },
    values,
    (h) => last[(h - 1) % m]!,
    (h) => Array.from({ length: h }, (_, i) => sd * Math.sqrt(Math.floor(i / m) + 1)),
  )
}

/** Naive: the last value, for every horizon; interval sd = σ√h (random walk). Needs 2 points. */
export const naive: ForecastModel = {
  name: 'naive',
  minLength: () => 2,
  fit(series) {
    checkSeries(series, 2, 'naive')
    return fitSeasonalNaive(series.y, 1, 'naive')
  },
}

/**
 * Seasonal naive: the value one season back; interval sd = σ√(⌊(h−1)/m⌋ + 1). Needs one season
 * plus one point (period + 1). With period 1 it is naive.
 */
export const snaive: ForecastModel = {
  name: 'snaive',
  minLength: (period) => Math.max(1, period) + 1,
  fit(series) {
    checkSeries(series, series.period + 1, 'snaive')
    return fitSeasonalNaive(series.y, series.period, 'snaive')
  },
}

/** Widest window the moving average tries, and the fewest in-sample errors an h-step sd is based on. */
const MAX_WINDOW = 28
const MIN_ERRORS = 10

/**
 * Moving average of the last k values, flat over the horizon. k is chosen in 2..min(28, ⌊n/2⌋) by the
 * least in-sample one-step SSE, all windows scored over the same periods (t ≥ the widest k). The
 * h-step interval sd is the root mean square of the in-sample h-step errors of that window (so it
 * widens when the series wanders, and stays put when it does not), made non-decreasing in h and
 * held at its last value once fewer than 10 in-sample errors remain. Needs 4 points.
 */
export const movingAverage: ForecastModel = {
  name: 'ma',
  minLength: () => 4,
  fit(series) {
    checkSeries(series, 4, 'ma')
    const y = Float64Array.from(series.y)
    const n = y.length
    const kMax = Math.min(MAX_WINDOW, Math.floor(n / 2))
    const cum = new Float64Array(n + 1)
    for (let t = 0; t < n; t++) cum[t + 1] = cum[t]! + y[t]!
    let best = 2
    let bestSse = Infinity
    for (let k = 2; k <= kMax; k++) {
      let sse = 0
      for (let t = kMax; t < n; t++) {
        const e = y[t]! - (cum[t]! - cum[t - k]!) / k
        sse += e * e
      }
      if (sse < bestSse - 1e-12 * Math.abs(bestSse)) {
        bestSse = sse
        best = k
      }
    }
    const k = best
    const values = Array.from(y, (_, t) => (t >= k ? (cum[t]! - cum[t - k]!) / k : NaN))
    const sigma2 = meanSquare(Array.from(y, (v, t) => v - values[t]!))
    const level = (cum[n]! - cum[n - k]!) / k
    const sdAt = (h: number): number[] => {
      const out: number[] = []
      let prev = 0
      for (let s = 1; s <= h; s++) {
        // Origins t = k … n − s: the forecast mean(y[t−k..t−1]) against y[t + s − 1].
        if (n - s - k + 1 >= MIN_ERRORS || s === 1) {
          let sse = 0
          let cnt = 0
          for (let t = k; t + s - 1 < n; t++) {
            const e = y[t + s - 1]! - (cum[t]! - cum[t - k]!) / k
            sse += e * e
            cnt++
          }
          if (cnt > 0) prev = Math.max(prev, Math.sqrt(sse / cnt))
        }
        out.push(prev)
      }
      return out
    }
    return fitted('ma', { sigma2, params: { window: k } }, values, () => level, sdAt)
  },
}
