/**
 * Automatic ARIMA/SARIMA: the Hyndman-Khandakar (2008) algorithm of R's `auto.arima`, on the CSS
 * fits of arima-fit.ts.
 *
 * 1. Seasonal differences D ∈ {0, 1}: D = 1 when the seasonal strength exceeds 0.64, as R's
 *    `nsdiffs(test = 'seas')`; R decomposes with STL, here a centred moving average for the trend
 *    and a ±5-cycle mean of each phase for the seasonal part is the cheap stand-in.
 * 2. Differences d ∈ {0, 1, 2}: repeated KPSS tests at 5 % (R's `ndiffs`, lag ⌊3√n/13⌋).
 * 3. Stepwise search of p, q ≤ 5, P, Q ≤ 2 (p + q + P + Q ≤ 5) and the constant, from four
 *    starting models, moving to any neighbour with a lower AICc until none is lower.
 *
 * Why not the `arima` npm package (ctsa in WASM; it loads under ESM/tsx in 33 ms):
 * - its ARIMA(0,1,0), which its own auto search picks for a random walk, returns zeros for the
 *   forecast and shifted, negative variances (the second array is a variance, not an sd);
 * - it writes to stdout even with `verbose: false` ("non-stationary seasonal AR part"), which
 *   would break the CLI's one-JSON-object stdout;
 * - an auto fit takes 640 ms (median; up to 3.7 s) on a 730-point daily series, 3.2 s on nottem;
 * - it exposes neither the chosen order nor the AICc.
 * On the eight reference series it was otherwise close to R (mean MASE 1.570 vs R's 1.667).
 * This implementation: mean MASE 1.683 there (test/analytics-baselines.test.ts prints the table).
 *
 * Short series: seasonal terms need 2m + 4 points; below that the fit is non-seasonal (the method
 * name then has no seasonal part). Fewer than 8 points: ForecastInputError.
 */
import { fitArima, rootsOutside, type ArimaFit, type ArimaOrder } from './arima-fit.ts'
import { checkRequest, checkSeries } from './naive.ts'
import { ForecastInputError, normalIntervals, type FittedModel, type Forecast, type ForecastModel } from './model.ts'

const MIN_POINTS = 8
const MAX_P = 5
const MAX_Q = 5
const MAX_SP = 2
const MAX_SQ = 2
const MAX_ORDER = 5
/** KPSS (level) 5 % critical value, Kwiatkowski et al. (1992) table 1. */
const KPSS_CRIT = 0.463
/** Seasonal strength above which one seasonal difference is taken (forecast::nsdiffs). */
const SEASONAL_STRENGTH = 0.64
/** Smallest root modulus auto.arima accepts. */
const ROOT = 1.01

const neg = (v: readonly number[]): number[] => v.map((x) => -x)

function isConstant(x: readonly number[]): boolean {
  return x.every((v) => v === x[0])
}

/** KPSS level-stationarity statistic with Bartlett weights and ⌊3√n/13⌋ lags. */
export function kpss(x: readonly number[]): number {
  const n = x.length
  const mean = x.reduce((a, b) => a + b, 0) / n
  const e = x.map((v) => v - mean)
  let s = 0
  let eta = 0
  for (const v of e) {
    s += v
    eta += s * s
  }
  eta /= n * n
  const l = Math.trunc((3 * Math.sqrt(n)) / 13)
  let s2 = e.reduce((a, v) => a + v * v, 0) / n
  for (let i = 1; i <= l; i++) {
    let c = 0
    for (let t = i; t < n; t++) c += e[t]! * e[t - i]!
    s2 += (2 * (1 - i / (l + 1)) * c) / n
  }
  return s2 > 0 ? eta / s2 : 0
}

/** Number of first differences (0..2) the KPSS test asks for. */
export function ndiffs(x: readonly number[]): number {
  let d = 0
  let z = x.slice()
  if (isConstant(z)) return 0
  while (d < 2 && z.length > 3 && kpss(z) > KPSS_CRIT) {
    z = z.slice(1).map((v, i) => v - z[i]!)
    d++
    if (isConstant(z)) break
  }
  return d
}

/** Seasonal strength max(0, 1 − var(remainder)/var(detrended)) of an additive decomposition; 0 below two seasons. */
export function seasonalStrength(x: readonly number[], m: number): number {
  const n = x.length
  if (m < 2 || n < 2 * m) return 0
  const half = Math.floor(m / 2)
  const detrended: Array<[number, number]> = []
  for (let t = half; t < n - half; t++) {
    let s = 0
    if (m % 2 === 0) {
      for (let i = -half; i <= half; i++) s += (Math.abs(i) === half ? 0.5 : 1) * x[t + i]!
    } else for (let i = -half; i <= half; i++) s += x[t + i]!
    detrended.push([t, x[t]! - s / m])
  }
  // Seasonal component: the mean of the same-phase detrended values within ±5 cycles, so that it
  // may evolve, as STL's (s.window 11) does.
  const byPhase: number[][] = Array.from({ length: m }, () => [])
  for (const [t, v] of detrended) byPhase[t % m]!.push(v)
  const variance = (v: number[]): number => {
    const mu = v.reduce((a, b) => a + b, 0) / v.length
    return v.reduce((a, b) => a + (b - mu) ** 2, 0) / v.length
  }
  const d = detrended.map(([, v]) => v)
  const r: number[] = []
  for (const sub of byPhase) {
    sub.forEach((v, i) => {
      const lo = Math.max(0, i - 5)
      const hi = Math.min(sub.length, i + 6)
      let s = 0
      for (let j = lo; j < hi; j++) s += sub[j]!
      r.push(v - s / (hi - lo))
    })
  }
  const vd = variance(d)
  return vd > 0 ? Math.max(0, 1 - variance(r) / vd) : 0
}

/** The order's text: 'arima(1,1,0)' or 'arima(1,1,0)(0,1,1)[12]'. */
export function orderName(o: ArimaOrder): string {
  const base = `arima(${o.p},${o.d},${o.q})`
  return o.m > 1 ? `${base}(${o.P},${o.D},${o.Q})[${o.m}]` : base
}

/** The stepwise search's moves of (p, q), or (P, Q): each order up or down by one, alone and together. */
const STEPS = [
  [-1, 0],
  [0, -1],
  [1, 0],
  [0, 1],
  [-1, -1],
  [-1, 1],
  [1, -1],
  [1, 1],
] as const

/**
 * Hyndman-Khandakar stepwise search: the ARIMA fit of x with the least AICc, for seasonal period m.
 * @example autoArima(monthly, 12).forecast(24)
 */
export function autoArima(x: readonly number[], period: number): ArimaFit {
  const n = x.length
  const m = period > 1 && n >= 2 * period + 4 ? period : 1
  const D = m > 1 && seasonalStrength(x, m) > SEASONAL_STRENGTH ? 1 : 0
  const xs = D ? x.slice(m).map((v, i) => v - x[i]!) : x
  const d = ndiffs(xs)
  const allowConstant = d + D <= 1
  const tried = new Map<string, ArimaFit | null>()
  let best: ArimaFit | null = null
  const consider = (p: number, q: number, P: number, Q: number, constant: boolean): boolean => {
    if (p < 0 || q < 0 || P < 0 || Q < 0 || p > MAX_P || q > MAX_Q || P > MAX_SP || Q > MAX_SQ || p + q + P + Q > MAX_ORDER) return false
    if (constant && !allowConstant) return false
    const o: ArimaOrder = m > 1 ? { p, d, q, P, D, Q, m, constant } : { p, d, q, P: 0, D: 0, Q: 0, m: 1, constant }
    const key = JSON.stringify(o)
    if (tried.has(key)) return false
    let fit: ArimaFit | null = null
    try {
      fit = fitArima(x, o)
    } catch {
      fit = null
    }
    // As auto.arima: no AR or MA root within 1.01 of the unit circle (near-unit roots mean the wrong d).
    if (fit && !(rootsOutside(fit.ar, ROOT) && rootsOutside(fit.sar, ROOT ** m) && rootsOutside(neg(fit.ma), ROOT) && rootsOutside(neg(fit.sma), ROOT ** m)))
      fit = null
    tried.set(key, fit)
    if (fit && Number.isFinite(fit.aicc) && (!best || fit.aicc < best.aicc - 1e-9)) {
      best = fit
      return true
    }
    return false
  }
  const c = allowConstant
  if (m > 1) {
    consider(2, 2, 1, 1, c)
    consider(0, 0, 0, 0, c)
    consider(1, 0, 1, 0, c)
    consider(0, 1, 0, 1, c)
  } else {
    consider(2, 2, 0, 0, c)
    consider(0, 0, 0, 0, c)
    consider(1, 0, 0, 0, c)
    consider(0, 1, 0, 0, c)
  }
  if (c) consider(0, 0, 0, 0, false)
  for (let round = 0; round < 100 && best; round++) {
    const b: ArimaOrder = (best as ArimaFit).order
    const moves: Array<[number, number, number, number, boolean]> = []
    if (m > 1) {
      for (const [dP, dQ] of STEPS) moves.push([b.p, b.q, b.P + dP, b.Q + dQ, b.constant])
    }
    for (const [dp, dq] of STEPS) moves.push([b.p + dp, b.q + dq, b.P, b.Q, b.constant])
    moves.push([b.p, b.q, b.P, b.Q, !b.constant])
    let moved = false
    for (const mv of moves) {
      if (consider(...mv)) {
        moved = true
        break
      }
    }
    if (!moved) break
  }
  if (best) return best
  // Nothing fitted (a series too short for even white noise after differencing): a random walk or white noise.
  return fitArima(x, { p: 0, d: Math.min(d, 1), q: 0, P: 0, D: 0, Q: 0, m: 1, constant: false })
}

/** Adapts an ArimaFit to the shared FittedModel. */
export function toFittedModel(fit: ArimaFit): FittedModel {
  const params: Record<string, number> = {}
  fit.ar.forEach((v, i) => (params[`ar${i + 1}`] = v))
  fit.ma.forEach((v, i) => (params[`ma${i + 1}`] = v))
  fit.sar.forEach((v, i) => (params[`sar${i + 1}`] = v))
  fit.sma.forEach((v, i) => (params[`sma${i + 1}`] = v))
  if (fit.order.constant) params[fit.order.d + fit.order.D === 0 ? 'mean' : 'drift'] = fit.mu
  const finite = (v: number): number | undefined => (Number.isFinite(v) ? v : undefined)
  return {
    method: orderName(fit.order),
    fit: { aicc: finite(fit.aicc), aic: finite(fit.aic), bic: finite(fit.bic), loglik: finite(fit.loglik), sigma2: fit.sigma2, params },
    fitted: fit.fitted,
    forecast(h: number, levels: readonly number[]): Forecast {
      checkRequest(h, levels)
      const { mean, sd } = fit.forecast(h)
      return normalIntervals(mean, sd, levels)
    },
  }
}

/** Automatic ARIMA/SARIMA by AICc (Hyndman-Khandakar stepwise, CSS fits). Needs 8 points; seasonal terms need 2·period + 4. */
export const arima: ForecastModel = {
  name: 'arima',
  minLength: () => MIN_POINTS,
  fit(series) {
    checkSeries(series, MIN_POINTS, 'arima')
    const fit = autoArima(series.y, series.period)
    if (!Number.isFinite(fit.sigma2))
      throw new ForecastInputError('arima: the residual variance overflows; rescale the series (e.g. to thousands) before fitting')
    return toFittedModel(fit)
  },
}
