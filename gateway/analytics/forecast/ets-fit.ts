/**
 * Fitting one ETS model: smoothing parameters by maximum likelihood with a bounded Nelder-Mead,
 * as R's forecast::ets does with opt.crit = "lik", from R's heuristic initial states (ets-init.ts).
 *
 * R also optimises the initial states (m + 1 more dimensions). That is available (`states: 'all'`)
 * but not the default: it costs 10-20× (a 120-point monthly series: ~25 ms instead of ~2 ms for the
 * 15 members; 250 daily points: ~45 ms instead of ~2 ms) and, judged on training data only, did
 * not forecast better: rolling-origin MASE inside the eight reference training sets 1.047 with
 * the states optimised, 1.035 without; synthetic daily demand, 28 days ahead: 0.753 vs 0.751 at
 * 200 points, 0.755 vs 0.761 at 730.
 *
 * Bounds are R's "usual" ones: alpha in [1e-4, 0.9999], beta in [1e-4, alpha], gamma in
 * [1e-4, 1 − alpha], phi in [0.8, 0.98]. The optimiser works on a box: beta = lo + u(alpha − lo)
 * and gamma = lo + v(1 − alpha − lo) with u, v in [0, 1]. R's further "admissible" (eigenvalue)
 * check is not applied; within the usual bounds the forecasts stay stable.
 */
import { checkRequest } from './naive.ts'
import { etsFilter, etsMeans, etsVariances, isMultiplicative, paramCount, simulatePaths, specName, type EtsSpec, type EtsState } from './ets-core.ts'
import { initialStates } from './ets-init.ts'
import { nelderMead } from './optim.ts'
import { zOf, type FitSummary, type FittedModel, type Forecast } from './model.ts'

const LO = 1e-4
const HI = 0.9999
const PHI_LO = 0.8
const PHI_HI = 0.98
/** Simulated paths for class-3 (multiplicative season) intervals. */
const PATHS = 1000

/**
 * Series longer than this are fitted with a looser tolerance (1e-6 rather than 1e-8 on the
 * objective, which then is in the thousands) and no Nelder-Mead restart; the ets() selection also
 * goes in two stages (ets.ts). Together that keeps 1,000 daily series × 730 points at ~3 s.
 */
export const LONG_SERIES = 300

/** How hard to work on one fit. */
export interface EtsFitOptions {
  /**
   * Which initial states the optimiser refines beyond `initialStates()`: 'all' (R's way), 'level'
   * (level and slope; seasonal states stay heuristic) or 'none' (default; see the module comment).
   */
  states?: 'all' | 'level' | 'none'
  /** Objective evaluations per Nelder-Mead run (default 2000 with seasonal states, 400 otherwise). */
  maxEvals?: number
  /** Nelder-Mead restarts from the best point found (default 1; 0 for long series). */
  restarts?: number
  /** Relative tolerance on the objective (default 1e-8, R's; 1e-6 for long series). */
  ftol?: number
  /** Whole seasons the heuristic initial states are estimated from (default 3, R's). */
  initSeasons?: number
}

/** Fewest points for `spec` with period m: R's rule n > (free parameters) + 4. */
export function etsMinLength(spec: EtsSpec, m: number): number {
  return paramCount(spec, m) + 5
}

/**
 * Fits `spec` to `y` with period m. Returns null when the model cannot be fitted (too short, or no
 * finite likelihood anywhere, e.g. a multiplicative model on data with zeros).
 */
export function fitEts(y: Float64Array, m: number, spec: EtsSpec, opts: EtsFitOptions = {}): EtsFitted | null {
  const n = y.length
  const mm = spec.season === 'N' ? 1 : m
  if (n < etsMinLength(spec, mm)) return null
  if (isMultiplicative(spec)) for (let t = 0; t < n; t++) if (!(y[t]! > 0)) return null
  const init = initialStates(y, mm, spec, opts.initSeasons)
  const long = n > LONG_SERIES
  const mode = opts.states ?? 'none'
  const optLevel = mode !== 'none'
  const trend = spec.trend !== 'N'
  const seas = spec.season !== 'N'
  const damped = spec.trend === 'Ad'
  const ns = seas ? mm : 0

  // Layout of the optimiser's vector: alpha, u, v, phi (as present), then level, slope, ring[1..m-1].
  const iU = trend ? 1 : -1
  const iV = seas ? 1 + (trend ? 1 : 0) : -1
  const iPhi = damped ? 1 + (trend ? 1 : 0) + (seas ? 1 : 0) : -1
  const nSmooth = 1 + (trend ? 1 : 0) + (seas ? 1 : 0) + (damped ? 1 : 0)
  const optSeasons = mode === 'all' && seas
  const dim = nSmooth + (optLevel ? 1 + (trend ? 1 : 0) : 0) + (optSeasons ? mm - 1 : 0)
  const x0 = new Float64Array(dim)
  const lower = new Float64Array(dim)
  const upper = new Float64Array(dim)
  const step = new Float64Array(dim)
  const scale = diffScale(y)
  x0[0] = LO + (0.2 * (HI - LO)) / mm
  lower[0] = LO
  upper[0] = HI
  step[0] = 0.1
  if (iU >= 0) set(iU, 0.1, 0, 1, 0.1)
  if (iV >= 0) set(iV, 0.05, 0, 1, 0.1)
  if (iPhi >= 0) set(iPhi, PHI_LO + 0.99 * (PHI_HI - PHI_LO), PHI_LO, PHI_HI, 0.05)
  let i = nSmooth
  if (optLevel) {
    set(i++, init.level, -Infinity, Infinity, scale)
    if (trend) set(i++, init.slope, -Infinity, Infinity, 0.2 * scale)
  }
  if (optSeasons) {
    for (let k = 1; k < ns; k++) {
      if (spec.season === 'M') set(i++, init.seasons[k]!, 1e-3, Infinity, 0.05)
      else set(i++, init.seasons[k]!, -Infinity, Infinity, 0.5 * scale)
    }
  }

  const st: EtsState = { alpha: 0, beta: 0, gamma: 0, phi: 1, level: 0, slope: 0, seasons: new Float64Array(ns) }
  const decode = (x: Float64Array): boolean => {
    const alpha = x[0]!
    st.alpha = alpha
    st.beta = iU >= 0 ? LO + x[iU]! * (alpha - LO) : 0
    st.gamma = iV >= 0 ? LO + x[iV]! * (1 - alpha - LO) : 0
    st.phi = iPhi >= 0 ? x[iPhi]! : 1
    let i = nSmooth
    st.level = optLevel ? x[i++]! : init.level
    st.slope = optLevel && trend ? x[i++]! : init.slope
    if (!optSeasons) {
      st.seasons.set(init.seasons)
      return true
    }
    let sum = 0
    for (let k = 1; k < ns; k++) {
      st.seasons[k] = x[i++]!
      sum += st.seasons[k]!
    }
    st.seasons[0] = (spec.season === 'M' ? mm : 0) - sum
    return spec.season !== 'M' || st.seasons[0]! > 0
  }
  const objective = (x: Float64Array): number => (decode(x) ? etsFilter(y, spec, st) : Infinity)

  const maxEvals = opts.maxEvals ?? (optSeasons ? 2000 : 400)
  const nm = { lower, upper, step, maxEvals, ftol: opts.ftol ?? (long ? 1e-6 : 1e-8) }
  let best = nelderMead(objective, x0, nm)
  for (let r = 0; r < (opts.restarts ?? (long ? 0 : 1)) && Number.isFinite(best.fx); r++) {
    const again = nelderMead(objective, best.x, nm)
    if (!(again.fx < best.fx - 1e-9 * Math.abs(best.fx))) {
      if (again.fx < best.fx) best = again
      break
    }
    best = again
  }
  if (!Number.isFinite(best.fx)) return null

  decode(best.x)
  const start = { level: st.level, slope: st.slope }
  const fitted = new Float64Array(n)
  const resid = new Float64Array(n)
  const sse = new Float64Array(1)
  const lik = etsFilter(y, spec, st, fitted, resid, sse)
  if (!Number.isFinite(lik)) return null
  // Parameters as R counts them: smoothing parameters, initial states (estimated from the data even when not optimised) and σ².
  const np = paramCount(spec, mm) + 1
  // The Gaussian log-likelihood at σ² = SSE/n: −½(n·log(SSE/n) + 2Σlog|ŷ| + n(log 2π + 1)).
  const loglik = -0.5 * (lik + n * (Math.log(2 * Math.PI) + 1))
  const aic = -2 * loglik + 2 * np
  const aicc = n - np - 1 > 0 ? aic + (2 * np * (np + 1)) / (n - np - 1) : Infinity
  const bic = aic + (Math.log(n) - 2) * np
  const sigma2 = sse[0]! / Math.max(1, n - np)
  const params: Record<string, number> = { alpha: st.alpha, level0: start.level }
  if (trend) Object.assign(params, { beta: st.beta, slope0: start.slope })
  if (seas) params.gamma = st.gamma
  if (damped) params.phi = st.phi
  return new EtsFitted(spec, { aicc, aic, bic, loglik, sigma2, params }, Array.from(fitted), st)

  function set(i: number, v: number, lo: number, hi: number, s: number): void {
    x0[i] = v
    lower[i] = lo
    upper[i] = hi
    step[i] = s
  }
}

/** Standard deviation of the first differences (1 when that is 0 or undefined): the scale of state steps. */
function diffScale(y: Float64Array): number {
  let s = 0
  let s2 = 0
  for (let t = 1; t < y.length; t++) {
    const d = y[t]! - y[t - 1]!
    s += d
    s2 += d * d
  }
  const k = y.length - 1
  const v = k > 1 ? (s2 - (s * s) / k) / (k - 1) : 0
  return v > 0 ? Math.sqrt(v) : Math.max(1e-3, Math.abs(y[0] ?? 1) * 0.01)
}

/** A fitted ETS model; holds its final state (not the input) and forecasts any horizon. */
export class EtsFitted implements FittedModel {
  readonly method: string
  constructor(
    readonly spec: EtsSpec,
    readonly fit: FitSummary,
    readonly fitted: readonly number[],
    private readonly state: EtsState,
  ) {
    this.method = specName(spec)
  }

  /** Point forecasts and intervals: analytic for classes 1 and 2, simulated for a multiplicative season. */
  forecast(h: number, levels: readonly number[]): Forecast {
    checkRequest(h, levels)
    const mean = etsMeans(this.spec, this.state, h).map((v) => (Number.isFinite(v) ? v : 0))
    const lower: Record<string, number[]> = {}
    const upper: Record<string, number[]> = {}
    const sigma2 = this.fit.sigma2
    const paths = this.spec.season === 'M' && sigma2 > 0 ? simulatePaths(this.spec, this.state, sigma2, h, PATHS) : null
    const sd = etsVariances(this.spec, this.state, sigma2, mean).map((v) => (Number.isFinite(v) ? Math.sqrt(v) : 0))
    for (const level of levels) {
      const key = String(level)
      if (paths !== null) {
        const p = (1 - level / 100) / 2
        lower[key] = paths.map((row, i) => finite(quantile(row, p), mean[i]!))
        upper[key] = paths.map((row, i) => finite(quantile(row, 1 - p), mean[i]!))
      } else {
        const z = zOf(level)
        lower[key] = mean.map((v, i) => finite(v - z * sd[i]!, v))
        upper[key] = mean.map((v, i) => finite(v + z * sd[i]!, v))
      }
    }
    return { mean, lower, upper }
  }
}

/** Linear-interpolated quantile of a sorted sample. */
function quantile(sorted: Float64Array, p: number): number {
  const pos = p * (sorted.length - 1)
  const i = Math.floor(pos)
  const j = Math.min(sorted.length - 1, i + 1)
  return sorted[i]! + (pos - i) * (sorted[j]! - sorted[i]!)
}

function finite(v: number, fallback: number): number {
  return Number.isFinite(v) ? v : fallback
}
