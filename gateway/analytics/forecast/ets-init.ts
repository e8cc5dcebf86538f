/**
 * Starting states for an ETS fit, as R's forecast::ets `initstate()` computes them: a classical
 * decomposition of the first three seasons (or, with fewer than three, a linear trend plus one
 * Fourier pair) gives the seasonal states; a regression on the first max(10, 2m) seasonally
 * adjusted points gives level and slope. The optimiser then refines them for short series.
 */
import type { EtsSpec } from './ets-core.ts'

/** Initial level, slope and seasonal ring (ring[k]: seasonal state of phase k at time 0; length m, or 0). */
export interface InitialStates {
  level: number
  slope: number
  seasons: Float64Array
}

/**
 * R's `initstate()` for `spec` on `y` with period `m`; `y` must have ≥ 4 points (≥ m + 1 when seasonal).
 * `initSeasons` (default 3, R's) is how many whole seasons the decomposition and the level/slope
 * regression use; fits that do not optimise the states pass more, for steadier estimates.
 */
export function initialStates(y: Float64Array, m: number, spec: EtsSpec, initSeasons = 3): InitialStates {
  const n = y.length
  const seasonal = spec.season !== 'N' && m > 1
  const mult = spec.season === 'M'
  const whole = Math.max(3, Math.min(initSeasons, Math.floor(n / m)))
  let ring = new Float64Array(0)
  let sa: Float64Array = y
  if (seasonal) {
    const raw = n >= 3 * m ? decomposeFigure(y.subarray(0, whole * m), m, mult) : fourierResidual(y, m, mult)
    const seasons = (ring = new Float64Array(m))
    let sum = 0
    for (let k = 1; k < m; k++) {
      seasons[k] = mult ? Math.max(raw[k]!, 1e-2) : raw[k]!
      sum += seasons[k]!
    }
    if (mult && sum > m - 0.05) {
      for (let k = 1; k < m; k++) seasons[k] = (seasons[k]! * (m - 1)) / sum
      sum = m - 1
    }
    seasons[0] = (mult ? m : 0) - sum
    sa = new Float64Array(n)
    if (n >= 3 * m) for (let t = 0; t < n; t++) sa[t] = mult ? y[t]! / Math.max(raw[t % m]!, 1e-2) : y[t]! - raw[t % m]!
    else for (let t = 0; t < n; t++) sa[t] = mult ? y[t]! / Math.max(raw[t]!, 1e-2) : y[t]! - raw[t]!
  }
  const maxn = Math.min(Math.max(10, 2 * m, whole > 3 ? whole * m : 0), n)
  if (spec.trend === 'N') {
    let s = 0
    for (let t = 0; t < maxn; t++) s += sa[t]!
    return { level: s / maxn, slope: 0, seasons: ring }
  }
  // Least squares of sa on t = 1..maxn: the intercept is the level at time 0.
  let sx = 0
  let sy = 0
  let sxx = 0
  let sxy = 0
  for (let t = 0; t < maxn; t++) {
    const x = t + 1
    sx += x
    sy += sa[t]!
    sxx += x * x
    sxy += x * sa[t]!
  }
  let slope = (maxn * sxy - sx * sy) / (maxn * sxx - sx * sx)
  let level = (sy - slope * sx) / maxn
  if (Math.abs(level + slope) < 1e-8) {
    level *= 1 + 1e-3
    slope *= 1 + 1e-3
  }
  if (!Number.isFinite(slope)) slope = 0
  // A multiplicative model needs positive forecasts from the start; a line through a convex start
  // (exponential growth) can cross zero. Then start flat at the mean, which is positive for y > 0.
  if ((spec.error === 'M' || mult) && !(level > 0 && level + slope > 0)) {
    level = sy / maxn
    slope = 0
  }
  return { level, slope, seasons: ring }
}

/**
 * Classical decomposition (R's `decompose`) of `y` (whole seasons): centred moving average
 * (2×m for even m), then the mean detrended value per phase, normalised to mean 0 (additive) or 1
 * (multiplicative). Returns the figure, indexed by phase.
 */
export function decomposeFigure(y: Float64Array, m: number, mult: boolean): Float64Array {
  const n = y.length
  const half = Math.floor(m / 2)
  const sums = new Float64Array(m)
  const counts = new Float64Array(m)
  for (let t = half; t < n - half; t++) {
    let tr = 0
    if (m % 2 === 1) {
      for (let j = -half; j <= half; j++) tr += y[t + j]!
    } else {
      tr = 0.5 * (y[t - half]! + y[t + half]!)
      for (let j = -half + 1; j < half; j++) tr += y[t + j]!
    }
    tr /= m
    sums[t % m] = sums[t % m]! + (mult ? y[t]! / tr : y[t]! - tr)
    counts[t % m] = counts[t % m]! + 1
  }
  const fig = new Float64Array(m)
  let mean = 0
  for (let k = 0; k < m; k++) {
    fig[k] = counts[k]! > 0 ? sums[k]! / counts[k]! : mult ? 1 : 0
    mean += fig[k]! / m
  }
  for (let k = 0; k < m; k++) fig[k] = mult ? (mean !== 0 ? fig[k]! / mean : 1) : fig[k]! - mean
  return fig
}

/**
 * For fewer than three seasons: regress y on (1, t, sin 2πt/m, cos 2πt/m) and return what the line
 * leaves, y − (a + bt) or y / (a + bt), for every t (R fits `tslm(y ~ trend + fourier(y, 1))`).
 */
function fourierResidual(y: Float64Array, m: number, mult: boolean): Float64Array {
  const n = y.length
  const cols = m === 2 ? 3 : 4 // sin(πt) is identically 0 for m = 2
  const xtx = new Float64Array(cols * cols)
  const xty = new Float64Array(cols)
  const row = new Float64Array(cols)
  for (let t = 0; t < n; t++) {
    const x = t + 1
    row[0] = 1
    row[1] = x
    row[2] = Math.cos((2 * Math.PI * x) / m)
    if (cols === 4) row[3] = Math.sin((2 * Math.PI * x) / m)
    for (let i = 0; i < cols; i++) {
      xty[i] = xty[i]! + row[i]! * y[t]!
      for (let j = 0; j < cols; j++) xtx[i * cols + j] = xtx[i * cols + j]! + row[i]! * row[j]!
    }
  }
  const beta = solve(xtx, xty, cols)
  const out = new Float64Array(n)
  for (let t = 0; t < n; t++) {
    const line = beta[0]! + beta[1]! * (t + 1)
    out[t] = mult ? (line !== 0 ? y[t]! / line : 1) : y[t]! - line
  }
  return out
}

/** Solves the k×k system a·x = b by Gaussian elimination with partial pivoting (a tiny ridge keeps it regular). */
export function solve(a: Float64Array, b: Float64Array, k: number): Float64Array {
  const m = Float64Array.from(a)
  const x = Float64Array.from(b)
  for (let i = 0; i < k; i++) m[i * k + i] = m[i * k + i]! * (1 + 1e-10) + 1e-12
  for (let c = 0; c < k; c++) {
    let p = c
    for (let r = c + 1; r < k; r++) if (Math.abs(m[r * k + c]!) > Math.abs(m[p * k + c]!)) p = r
    if (p !== c) {
      for (let j = 0; j < k; j++) {
        const t = m[c * k + j]!
        m[c * k + j] = m[p * k + j]!
        m[p * k + j] = t
      }
      const t = x[c]!
      x[c] = x[p]!
      x[p] = t
    }
    const d = m[c * k + c]!
    if (d === 0) continue
    for (let r = c + 1; r < k; r++) {
      const f = m[r * k + c]! / d
      if (f === 0) continue
      for (let j = c; j < k; j++) m[r * k + j] = m[r * k + j]! - f * m[c * k + j]!
      x[r] = x[r]! - f * x[c]!
    }
  }
  for (let c = k - 1; c >= 0; c--) {
    let s = x[c]!
    for (let j = c + 1; j < k; j++) s -= m[c * k + j]! * x[j]!
    const d = m[c * k + c]!
    x[c] = d !== 0 ? s / d : 0
  }
  return x
}
