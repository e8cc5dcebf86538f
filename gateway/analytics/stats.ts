/**
 * Descriptive statistics of one series (daily demand of a SKU, a metric's values): centre, spread,
 * quantiles, share of zero periods and a linear trend. Pure and synchronous; plain-JSON results
 * (no NaN, no ±Infinity: what cannot be computed is `null`). Built on simple-statistics.
 */
import { linearRegression, max, mean, median, min, quantileSorted, sampleStandardDeviation } from 'simple-statistics'
import { ForecastInputError } from './forecast/model.ts'

/** Least-squares line through (period index, value). */
export interface Trend {
  /** Change per period (units of the series per step), from a least-squares line over the index 0..n-1. */
  slope: number
  /** Fitted value at the first period (index 0). */
  intercept: number
  /** `slope / |mean|`: the share of the mean gained (or lost, < 0) each period; null when the mean is 0. */
  relative: number | null
}

/**
 * Summary of a series. With n = 0 every field but `n`, `dropped` is null. A statistic that overflows
 * (values near ±1e308) is null too, so the result never holds NaN or ±Infinity.
 */
export interface Description {
  n: number
  /** Non-finite values left out (only with `nonFinite: 'drop'`; otherwise 0). */
  dropped: number
  mean: number | null
  median: number | null
  /** Sample standard deviation (n − 1 divisor, as R's `sd`); null when n < 2. */
  std: number | null
  min: number | null
  max: number | null
  /** Quantiles by linear interpolation (R type 7, numpy's default). */
  q05: number | null
  q25: number | null
  q75: number | null
  q95: number | null
  /** Coefficient of variation `std / |mean|`: 0 for a constant non-zero series; null when the mean is 0 or n < 2. */
  cv: number | null
  /** Share of values exactly 0, in [0, 1]. */
  zeroShare: number | null
  /** Linear trend; null when n < 2 (or on overflow). */
  trend: Trend | null
}

export interface DescribeOptions {
  /** What to do with NaN and ±Infinity: 'throw' (default) a ForecastInputError naming the first, or 'drop' them and count them in `dropped`. */
  nonFinite?: 'throw' | 'drop'
}

/**
 * Describes a series. Values are taken oldest first (the order matters only for the trend).
 * Throws ForecastInputError on a non-finite value unless `nonFinite: 'drop'`.
 * @example
 * describe([2, 4, 4, 4, 5, 5, 7, 9]).median // 4.5
 * describe([]).mean // null
 */
export function describe(values: readonly number[], options: DescribeOptions = {}): Description {
  const xs = finiteValues(values, options.nonFinite ?? 'throw')
  const dropped = values.length - xs.length
  const n = xs.length
  if (n === 0) {
    return {
      n,
      dropped,
      mean: null,
      median: null,
      std: null,
      min: null,
      max: null,
      q05: null,
      q25: null,
      q75: null,
      q95: null,
      cv: null,
      zeroShare: null,
      trend: null,
    }
  }
  const sorted = [...xs].sort((a, b) => a - b)
  const m = mean(xs)
  const std = n >= 2 ? orNull(sampleStandardDeviation(xs)) : null
  const t = trend(xs)
  return {
    n,
    dropped,
    mean: orNull(m),
    median: orNull(median(sorted)),
    std,
    min: min(xs),
    max: max(xs),
    q05: orNull(quantileSorted(sorted, 0.05)),
    q25: orNull(quantileSorted(sorted, 0.25)),
    q75: orNull(quantileSorted(sorted, 0.75)),
    q95: orNull(quantileSorted(sorted, 0.95)),
    cv: std === null || m === 0 ? null : orNull(std / Math.abs(m)),
    zeroShare: xs.filter((x) => x === 0).length / n,
    trend: t && Number.isFinite(t.slope) && Number.isFinite(t.intercept) ? t : null,
  }
}

/** x, or null when arithmetic on huge values overflowed to ±Infinity or NaN. */
function orNull(x: number): number | null {
  return Number.isFinite(x) ? x : null
}

/**
 * Least-squares trend of a series against its period index; null when fewer than 2 values.
 * Throws ForecastInputError on a non-finite value.
 * @example
 * trend([1, 3, 5]) // { slope: 2, intercept: 1, relative: 2 / 3 }
 */
export function trend(values: readonly number[]): Trend | null {
  const xs = finiteValues(values, 'throw')
  if (xs.length < 2) return null
  const { m, b } = linearRegression(xs.map((y, i) => [i, y]))
  const avg = mean(xs)
  const relative = avg === 0 ? null : m / Math.abs(avg)
  return { slope: m, intercept: b, relative: relative !== null && Number.isFinite(relative) ? relative : null }
}

/**
 * Sample autocorrelation at `lag` (the standard estimator: lagged covariance over the variance,
 * both with divisor n). 0 for a constant series or when the series has no more than `lag` values,
 * so a caller can read it as "no detectable pattern". Throws ForecastInputError on a non-finite
 * value or a lag < 1.
 * @example
 * autocorrelation([1, 0, 1, 0, 1, 0], 2) // ≈ 0.667 (the estimator shrinks towards 0 at long lags)
 */
export function autocorrelation(values: readonly number[], lag: number): number {
  if (!Number.isInteger(lag) || lag < 1) throw new ForecastInputError(`lag must be a whole number ≥ 1, got ${lag}`)
  const xs = finiteValues(values, 'throw')
  const n = xs.length
  if (n <= lag) return 0
  const m = mean(xs)
  let den = 0
  for (const x of xs) den += (x - m) ** 2
  if (den === 0) return 0
  let num = 0
  for (let i = lag; i < n; i++) num += (xs[i]! - m) * (xs[i - lag]! - m)
  return num / den
}

/** The finite values of `values`; with 'throw', a ForecastInputError naming the first non-finite one instead. */
export function finiteValues(values: readonly number[], mode: 'throw' | 'drop'): number[] {
  if (mode === 'drop') return values.filter((x) => Number.isFinite(x))
  const bad = values.findIndex((x) => typeof x !== 'number' || !Number.isFinite(x))
  if (bad >= 0)
    throw new ForecastInputError(`value ${bad} is ${String(values[bad])}; give finite numbers only (fill or drop gaps first, or pass nonFinite: 'drop')`)
  return [...values]
}
