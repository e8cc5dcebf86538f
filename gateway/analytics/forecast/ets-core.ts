/**
 * The ETS state-space recursions of Hyndman, Koehler, Ord & Snyder (2008), as R's forecast::ets
 * runs them (its `etscalc`/`update` C code): error A/M, trend N/A/Ad, season N/A/M. The state
 * update is written in terms of y, so it is the same for additive and multiplicative errors; only
 * the likelihood differs. Multiplicative trend is left out, as `ets()` leaves it out by default.
 *
 * Seasonal states live in a ring of length m indexed by phase: ring[t mod m] is s(t − m) when y(t)
 * arrives, and is overwritten by s(t). Everything here is allocation-free in its hot loop.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64'
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus'

export type ErrorType = 'A' | 'M'
export type TrendType = 'N' | 'A' | 'Ad'
export type SeasonType = 'N' | 'A' | 'M'

/** One member of the ETS family. */
export interface EtsSpec {
  readonly error: ErrorType
  readonly trend: TrendType
  readonly season: SeasonType
}

/** Smoothing parameters and states; `seasons` is the ring described above (length m, or 0). */
export interface EtsState {
  alpha: number
  beta: number
  gamma: number
  phi: number
  level: number
  slope: number
  seasons: Float64Array
}

/** 'ets(M,Ad,M)' */
export function specName(s: EtsSpec): string {
  return `ets(${s.error},${s.trend},${s.season})`
}

/** Smoothing parameters plus initial states, as R counts them (the last seasonal state is implied by normalisation). */
export function stateCount(s: EtsSpec, m: number): number {
  return 1 + (s.trend === 'N' ? 0 : 1) + (s.season === 'N' ? 0 : m - 1)
}

/** Free parameters of a spec: smoothing parameters + initial states (R's `length(par)`). */
export function paramCount(s: EtsSpec, m: number): number {
  return 1 + (s.trend === 'N' ? 0 : 1) + (s.season === 'N' ? 0 : 1) + (s.trend === 'Ad' ? 1 : 0) + stateCount(s, m)
}

/** Whether the spec is linear (class 1: every component additive) or needs M-error care. */
export function isMultiplicative(s: EtsSpec): boolean {
  return s.error === 'M' || s.season === 'M'
}

/**
 * Runs the filter over `y` from state `st` (consumed: on return it holds the final state) and returns
 * R's objective: n·log(SSE/n), plus 2·Σlog|ŷ| for multiplicative error. Infinity when a multiplicative
 * model meets a non-positive forecast or anything turns non-finite. `fitted`/`resid`, when given,
 * receive the one-step forecasts and the (relative, for M error) errors.
 */
export function etsFilter(
  y: Float64Array,
  spec: EtsSpec,
  st: EtsState,
  fitted: Float64Array | null = null,
  resid: Float64Array | null = null,
  sseOut: Float64Array | null = null,
): number {
  const n = y.length
  const m = st.seasons.length
  const multErr = spec.error === 'M'
  const trend = spec.trend !== 'N'
  const seas = spec.season === 'N' ? 0 : spec.season === 'A' ? 1 : 2
  const phi = spec.trend === 'Ad' ? st.phi : 1
  const alpha = st.alpha
  const ba = trend ? st.beta / alpha : 0
  const gamma = st.gamma
  const ring = st.seasons
  let l = st.level
  let b = trend ? st.slope : 0
  let sse = 0
  let sumLog = 0
  let prod = 1
  let k = 0
  for (let t = 0; t < n; t++) {
    const yt = y[t]!
    const phib = phi * b
    const q = l + phib
    let f = q
    let p = yt
    let s = 0
    if (seas === 1) {
      s = ring[k]!
      f = q + s
      p = yt - s
    } else if (seas === 2) {
      s = ring[k]!
      f = q * s
      p = yt / s
    }
    let e: number
    if (multErr) {
      if (!(f > 0)) return Infinity
      e = (yt - f) / f
      // Σlog f as the log of a running product, renormalised before it can over/underflow: one log per ~100 steps.
      prod *= f
      if (prod > 1e150 || prod < 1e-150) {
        sumLog += Math.log(prod)
        prod = 1
      }
    } else e = yt - f
    sse += e * e
    if (fitted !== null) fitted[t] = f
    if (resid !== null) resid[t] = e
    const ln = q + alpha * (p - q)
    if (trend) b = phib + ba * (ln - l - phib)
    if (seas === 1) ring[k] = s + gamma * (yt - q - s)
    else if (seas === 2) {
      if (!(q > 0 && s > 0)) return Infinity
      ring[k] = s + gamma * (yt / q - s)
    }
    l = ln
    if (++k === m) k = 0
  }
  // Leave the ring in canonical order (ring[i] is the phase of time n + i) so forecasts start at 0.
  if (m > 1 && k !== 0) rotate(ring, k)
  st.level = l
  st.slope = b
  if (sseOut !== null) sseOut[0] = sse
  sumLog += Math.log(prod)
  // A perfect fit (SSE 0, e.g. a constant stretch) gets a floor rather than log 0 = −∞.
  const lik = n * Math.log(Math.max(sse / n, 1e-300)) + (multErr ? 2 * sumLog : 0)
  return Number.isFinite(lik) ? lik : Infinity
}

/** Rotates `a` left by `k` in place, without allocating (three reversals). */
function rotate(a: Float64Array, k: number): void {
  reverse(a, 0, k - 1)
  reverse(a, k, a.length - 1)
  reverse(a, 0, a.length - 1)
}

function reverse(a: Float64Array, i: number, j: number): void {
  for (; i < j; i++, j--) {
    const t = a[i]!
    a[i] = a[j]!
    a[j] = t
  }
}

/** Point forecasts 1..h from a final state whose ring is in canonical order. */
export function etsMeans(spec: EtsSpec, st: EtsState, h: number): number[] {
  const m = st.seasons.length
  const phi = spec.trend === 'Ad' ? st.phi : 1
  const out: number[] = []
  let damp = 0
  let pw = 1
  for (let i = 0; i < h; i++) {
    pw *= phi
    damp += pw
    let f = st.level + (spec.trend === 'N' ? 0 : damp * st.slope)
    if (spec.season === 'A') f += st.seasons[i % m]!
    else if (spec.season === 'M') f *= st.seasons[i % m]!
    out.push(f)
  }
  return out
}

/** c(j) = w'F^(j−1)g of the linear form: the weight of a one-step error on the forecast j steps later. */
export function impulseWeights(spec: EtsSpec, st: EtsState, m: number, h: number): Float64Array {
  const c = new Float64Array(h)
  const phi = spec.trend === 'Ad' ? st.phi : 1
  let damp = 0
  let pw = 1
  for (let j = 1; j < h; j++) {
    pw *= phi
    damp += pw
    let v = st.alpha
    if (spec.trend !== 'N') v += st.beta * damp
    if (spec.season !== 'N' && m > 1 && j % m === 0) v += st.gamma
    c[j] = v
  }
  return c
}

/**
 * Forecast variances 1..h. Class 1 (all additive): σ²(1 + Σc_j²). Class 2 (M error, additive
 * components): v_h = (1+σ²)θ_h − μ_h², θ_h = μ_h² + σ²Σ c_j² θ_(h−j) (Hyndman et al. 2008, §6.3).
 * Multiplicative seasons (class 3) are simulated by the caller; this returns the class-2
 * approximation for them, used when the simulation fails.
 */
export function etsVariances(spec: EtsSpec, st: EtsState, sigma2: number, mean: readonly number[]): number[] {
  const h = mean.length
  const c = impulseWeights(spec, st, st.seasons.length, h)
  const out: number[] = []
  if (spec.error === 'A' && spec.season !== 'M') {
    let acc = 1
    for (let i = 0; i < h; i++) {
      if (i > 0) acc += c[i]! * c[i]!
      out.push(sigma2 * acc)
    }
    return out
  }
  const theta = new Float64Array(h)
  for (let i = 0; i < h; i++) {
    let s = 0
    for (let j = 1; j <= i; j++) s += c[j]! * c[j]! * theta[i - j]!
    theta[i] = mean[i]! * mean[i]! + sigma2 * s
    out.push(Math.max(0, (1 + sigma2) * theta[i]! - mean[i]! * mean[i]!))
  }
  return out
}

/**
 * Simulated forecast paths for a class-3 model (multiplicative season): `paths` draws of y(n+1..n+h)
 * with ε ~ N(0, σ²), from a fixed seed so the same fit gives the same intervals. Returns
 * Float64Array[h][paths], each sorted ascending, or null if any path turned non-finite.
 */
export function simulatePaths(spec: EtsSpec, st: EtsState, sigma2: number, h: number, paths: number): Float64Array[] | null {
  const m = Math.max(1, st.seasons.length)
  const out = Array.from({ length: h }, () => new Float64Array(paths))
  const ring = new Float64Array(m)
  const sd = Math.sqrt(sigma2)
  // pure-rand's xoroshiro128+, seeded from the request: the same fit gives the same intervals.
  const g = xoroshiro128plus(0x5eed ^ paths ^ (h << 8))
  const rand = (): number => uniformFloat64(g)
  const phi = spec.trend === 'Ad' ? st.phi : 1
  const ba = spec.trend === 'N' ? 0 : st.beta / st.alpha
  const seas = spec.season === 'N' ? 0 : spec.season === 'A' ? 1 : 2
  for (let p = 0; p < paths; p++) {
    if (seas !== 0) ring.set(st.seasons)
    let l = st.level
    let b = spec.trend === 'N' ? 0 : st.slope
    for (let i = 0; i < h; i++) {
      // One step of the filter (as in etsFilter), with y drawn around its forecast.
      const j = i % m
      const phib = phi * b
      const q = l + phib
      const s = ring[j]!
      const f = seas === 0 ? q : seas === 1 ? q + s : q * s
      const eps = sd * gauss(rand)
      const y = spec.error === 'M' ? f * (1 + eps) : f + eps
      if (!Number.isFinite(y) || (seas === 2 && !(q > 0 && s > 0))) return null
      out[i]![p] = y
      const x = seas === 0 ? y : seas === 1 ? y - s : y / s
      const ln = q + st.alpha * (x - q)
      b = phib + ba * (ln - l - phib)
      if (seas === 1) ring[j] = s + st.gamma * (y - q - s)
      else if (seas === 2) ring[j] = s + st.gamma * (y / q - s)
      l = ln
    }
  }
  for (const row of out) row.sort()
  return out
}

/** Standard normal draw (Box-Muller). */
function gauss(rand: () => number): number {
  const u = 1 - rand()
  const v = rand()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}
