/**
 * Intermittent demand: Croston, the Syntetos-Boylan approximation (SBA) and Teunter-Syntetos-Babai
 * (TSB), plus the Syntetos-Boylan classifier that tells when a series needs them.
 *
 * Croston and SBA smooth the non-zero demand sizes z (constant alpha) and the intervals between
 * them p (constant beta), updating only in periods with demand; the forecast is z/p, and SBA
 * multiplies it by 1 − beta/2 to remove Croston's known upward bias (Syntetos & Boylan 2005). TSB
 * smooths the size the same way but the probability of demand every period (beta), so it decays
 * when demand stops; the forecast is p·z. All three forecast flat.
 *
 * Fitting: alpha and beta minimise the in-sample one-step MSE on a grid, 0.05..0.30 in steps of
 * 0.05, then 0.01 steps around the best. A grid and not golden-section: the MSE surface of these
 * methods is flat and often has several minima (it moves only at the few demand periods), and a
 * 6×6 grid plus refinement (61 passes of O(n)) is cheap and cannot wander off. The range is the
 * one the literature recommends for intermittent demand (Syntetos & Boylan 2005, Teunter et al.
 * 2011); larger constants just chase the noise.
 *
 * Initial state (as tsintermittent's default 'mean'): z0 = mean non-zero size, p0 = mean
 * interval (Croston/SBA) or share of periods with demand (TSB).
 *
 * Intervals: none of these has a stochastic model, so the interval is empirical: the forecast
 * plus the (1−L)/2 and (1+L)/2 quantiles of the in-sample one-step errors (after a burn-in), with
 * the spread scaled by √(1 + (h−1)·a²) as for simple exponential smoothing, a being the
 * per-period smoothing of the level (max(alpha, beta)/ADI for Croston/SBA, which update only at demands; beta for TSB). The
 * lower bound is clipped at 0 (demand is not negative). It is an approximation and says so.
 *
 * An all-zero series forecasts 0 with a zero-width interval [0, 0]; negative values are rejected.
 */
import { checkRequest, checkSeries } from './naive.ts'
import { ForecastInputError, type FittedModel, type Forecast, type ForecastModel, type SeriesInput } from './model.ts'

/** Syntetos-Boylan demand class. */
export type DemandClass = 'smooth' | 'erratic' | 'intermittent' | 'lumpy'

export interface DemandProfile {
  /** Average inter-demand interval: periods per period with demand (n / non-zero count); Infinity when all zero. */
  adi: number
  /** Squared coefficient of variation of the non-zero sizes (sample sd); 0 with fewer than two. */
  cv2: number
  class: DemandClass
  /** Share of periods with zero demand. */
  zeroShare: number
}

/** Syntetos-Boylan-Croston cut-offs (Syntetos, Boylan & Croston 2005). */
export const ADI_CUTOFF = 1.32
export const CV2_CUTOFF = 0.49

/**
 * Classifies a demand series by Syntetos-Boylan: ADI ≥ 1.32 means intermittent (Croston-type methods
 * fit; SBA is preferred), CV² ≥ 0.49 means erratic sizes. 'smooth' (neither), 'erratic' (sizes
 * only), 'intermittent' (intervals only) and 'lumpy' (both). A period has demand when its value
 * is > 0. An all-zero or empty series has ADI Infinity, CV² 0 and class 'intermittent'.
 * @example demandClass([0, 0, 3, 0, 0, 0, 4, 0]) // { adi: 4, cv2: 0.04…, class: 'intermittent', zeroShare: 0.75 }
 */
export function demandClass(y: readonly number[]): DemandProfile {
  let k = 0
  let s = 0
  let ss = 0
  for (const v of y) {
    if (v > 0) {
      k++
      s += v
      ss += v * v
    }
  }
  const adi = k === 0 ? Infinity : y.length / k
  const mean = k === 0 ? 0 : s / k
  const cv2 = k < 2 ? 0 : Math.max(0, (ss - k * mean * mean) / (k - 1)) / (mean * mean)
  const sporadic = adi >= ADI_CUTOFF
  const erratic = cv2 >= CV2_CUTOFF
  const cls: DemandClass = sporadic ? (erratic ? 'lumpy' : 'intermittent') : erratic ? 'erratic' : 'smooth'
  return { adi, cv2, class: cls, zeroShare: y.length === 0 ? 1 : 1 - k / y.length }
}

type Kind = 'croston' | 'sba' | 'tsb'

/** Initial state from the whole series. */
interface Init {
  z: number
  p: number
}

function initial(y: Float64Array, kind: Kind): Init {
  let k = 0
  let s = 0
  let last = -1
  let gaps = 0
  for (let t = 0; t < y.length; t++) {
    if (y[t]! > 0) {
      k++
      s += y[t]!
      gaps += t - last
      last = t
    }
  }
  if (k === 0) return { z: 0, p: kind === 'tsb' ? 0 : 1 }
  return { z: s / k, p: kind === 'tsb' ? k / y.length : gaps / k }
}

/**
 * One pass of the method: writes the one-step forecasts into `out` (out[t] is the forecast of y[t]
 * made after y[t−1]; out[n] is the forecast beyond the end) and returns the one-step SSE.
 */
function run(y: Float64Array, kind: Kind, alpha: number, beta: number, init: Init, out: Float64Array | null): number {
  let z = init.z
  let p = init.p
  let q = 1
  const factor = kind === 'sba' ? 1 - beta / 2 : 1
  let sse = 0
  for (let t = 0; t < y.length; t++) {
    const f = kind === 'tsb' ? p * z : (factor * z) / p
    if (out) out[t] = f
    const v = y[t]!
    const e = v - f
    sse += e * e
    if (kind === 'tsb') {
      if (v > 0) {
        z += alpha * (v - z)
        p += beta * (1 - p)
      } else p -= beta * p
    } else if (v > 0) {
      z += alpha * (v - z)
      p += beta * (q - p)
      q = 1
    } else q++
  }
  if (out) out[y.length] = kind === 'tsb' ? p * z : (factor * z) / p
  return sse
}

const GRID_LO = 0.05
const GRID_HI = 0.3

/** (alpha, beta) with the least one-step SSE: a coarse grid, then 0.01 steps around its best. */
function optimise(y: Float64Array, kind: Kind, init: Init): [number, number] {
  let best: [number, number] = [GRID_LO, GRID_LO]
  let bestSse = Infinity
  const tryAt = (a: number, b: number): void => {
    const sse = run(y, kind, a, b, init, null)
    if (sse < bestSse) {
      bestSse = sse
      best = [a, b]
    }
  }
  for (let a = GRID_LO; a <= GRID_HI + 1e-9; a += 0.05) for (let b = GRID_LO; b <= GRID_HI + 1e-9; b += 0.05) tryAt(a, b)
  const [a0, b0] = best
  for (let da = -0.02; da <= 0.02 + 1e-9; da += 0.01) {
    for (let db = -0.02; db <= 0.02 + 1e-9; db += 0.01) {
      const a = a0 + da
      const b = b0 + db
      if (a >= GRID_LO - 1e-9 && a <= GRID_HI + 1e-9 && b >= GRID_LO - 1e-9 && b <= GRID_HI + 1e-9 && (da !== 0 || db !== 0)) tryAt(a, b)
    }
  }
  return best
}

/** Value at quantile p of a sorted array (linear interpolation, type 7). */
function quantile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  const x = (sorted.length - 1) * p
  const lo = Math.floor(x)
  const hi = Math.min(sorted.length - 1, lo + 1)
  return sorted[lo]! + (x - lo) * (sorted[hi]! - sorted[lo]!)
}

function fitIntermittent(series: SeriesInput, kind: Kind): FittedModel {
  checkSeries(series, 2, kind)
  const y = Float64Array.from(series.y)
  for (let t = 0; t < y.length; t++) {
    if (y[t]! < 0) throw new ForecastInputError(`${kind}: value ${t} is ${y[t]}; demand cannot be negative (net out returns before fitting)`)
  }
  const n = y.length
  const init = initial(y, kind)
  const profile = demandClass(series.y)
  const zero = init.z === 0
  const [alpha, beta] = zero ? [GRID_LO, GRID_LO] : optimise(y, kind, init)
  const f = new Float64Array(n + 1)
  const sse = run(y, kind, alpha, beta, init, f)
  const level = f[n]!
  // Errors after a burn-in of about one smoothing time constant (but keep at least half the series).
  const burn = Math.min(Math.floor(n / 2), Math.ceil(1 / Math.min(alpha, beta)))
  const errors = new Float64Array(n - burn)
  for (let t = burn; t < n; t++) errors[t - burn] = y[t]! - f[t]!
  errors.sort()
  // Per-period smoothing of the level: Croston/SBA move z only once per ADI periods.
  const a = kind === 'tsb' ? beta : Math.max(alpha, beta) / Math.max(1, Number.isFinite(profile.adi) ? profile.adi : 1)
  const method = kind
  return {
    method,
    fit: { sigma2: sse / n, params: { alpha, beta } },
    fitted: Array.from(f.subarray(0, n)),
    forecast(h: number, levels: readonly number[]): Forecast {
      checkRequest(h, levels)
      const mean = new Array<number>(h).fill(level)
      const lower: Record<string, number[]> = {}
      const upper: Record<string, number[]> = {}
      for (const l of levels) {
        const lo = quantile(errors, (1 - l / 100) / 2)
        const hi = quantile(errors, (1 + l / 100) / 2)
        lower[String(l)] = mean.map((m, i) => Math.max(0, m + Math.min(0, lo) * Math.sqrt(1 + i * a * a)))
        upper[String(l)] = mean.map((m, i) => Math.max(0, m + Math.max(0, hi) * Math.sqrt(1 + i * a * a)))
      }
      return { mean, lower, upper }
    },
  }
}

/** Croston (1972): smoothed size over smoothed interval, updated at demand periods. Needs 2 points. */
export const croston: ForecastModel = { name: 'croston', minLength: () => 2, fit: (s) => fitIntermittent(s, 'croston') }

/** Syntetos-Boylan approximation: Croston times 1 − beta/2 (beta = interval smoothing). Needs 2 points. */
export const sba: ForecastModel = { name: 'sba', minLength: () => 2, fit: (s) => fitIntermittent(s, 'sba') }

/** Teunter-Syntetos-Babai (2011): demand probability smoothed every period, times smoothed size. Needs 2 points. */
export const tsb: ForecastModel = { name: 'tsb', minLength: () => 2, fit: (s) => fitIntermittent(s, 'tsb') }
