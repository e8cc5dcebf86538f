/**
 * Forecast accuracy measures, defined as R's forecast package and the M competitions define them
 * (Hyndman & Koehler 2006), so our numbers line up with /work/shared/data/forecast/reference.csv.
 * All take `actual` and `forecast` of equal length; pairs with a non-finite member are skipped.
 */

/** MAE, MASE, sMAPE and bias of one forecast. */
export interface Accuracy {
  mae: number
  mase: number
  smape: number
  bias: number
}

/**
 * In-sample MAE of the seasonal naive forecast with lag m (lag 1 when m ≤ 1 or the series is
 * shorter than m + 1): the scale MASE divides by. NaN when there are no pairs, 0 for a flat series.
 */
export function naiveScale(train: readonly number[], m: number): number {
  const lag = m > 1 && train.length > m ? m : 1
  let s = 0
  let k = 0
  for (let t = lag; t < train.length; t++) {
    const d = train[t]! - train[t - lag]!
    if (Number.isFinite(d)) {
      s += Math.abs(d)
      k++
    }
  }
  return k > 0 ? s / k : NaN
}

/** Mean absolute error. */
export function mae(actual: readonly number[], forecast: readonly number[]): number {
  return meanOf(actual, forecast, (a, f) => Math.abs(a - f))
}

/** Mean of forecast − actual: positive when the forecast runs high. */
export function bias(actual: readonly number[], forecast: readonly number[]): number {
  return meanOf(actual, forecast, (a, f) => f - a)
}

/** Symmetric MAPE in percent, 200·|a − f| / (|a| + |f|) averaged; a pair with a = f = 0 counts 0. */
export function smape(actual: readonly number[], forecast: readonly number[]): number {
  return meanOf(actual, forecast, (a, f) => {
    const d = Math.abs(a) + Math.abs(f)
    return d === 0 ? 0 : (200 * Math.abs(a - f)) / d
  })
}

/**
 * Mean absolute scaled error: MAE over the training series' in-sample seasonal-naive MAE (lag m,
 * lag 1 for m = 1). Below 1 beats the in-sample seasonal naive. When the scale is 0 (a flat training
 * series) it is 0 for a perfect forecast and Infinity otherwise.
 * @example mase([3, 4], [3, 5], [1, 2, 3], 1) // 0.5
 */
export function mase(actual: readonly number[], forecast: readonly number[], train: readonly number[], m: number): number {
  const scale = naiveScale(train, m)
  const e = mae(actual, forecast)
  if (scale === 0) return e === 0 ? 0 : Infinity
  return e / scale
}

/** All four measures at once. */
export function accuracy(actual: readonly number[], forecast: readonly number[], train: readonly number[], m: number): Accuracy {
  return { mae: mae(actual, forecast), mase: mase(actual, forecast, train, m), smape: smape(actual, forecast), bias: bias(actual, forecast) }
}

function meanOf(actual: readonly number[], forecast: readonly number[], f: (a: number, p: number) => number): number {
  const n = Math.min(actual.length, forecast.length)
  let s = 0
  let k = 0
  for (let i = 0; i < n; i++) {
    const a = actual[i]!
    const p = forecast[i]!
    if (Number.isFinite(a) && Number.isFinite(p)) {
      s += f(a, p)
      k++
    }
  }
  return k > 0 ? s / k : NaN
}
