/**
 * The exponential-smoothing family behind `--method ses|holt|holt-damped|hw|hw-additive|hw-multiplicative|ets`:
 * each is an ETS state-space model (Hyndman et al. 2008) fitted by maximum likelihood (ets-fit.ts),
 * and where a method covers several members, the one with the least AICc wins, as in R's ets().
 *
 * Errors: a series too short for the method, not finite, or (for multiplicative members) not
 * strictly positive throws ForecastInputError saying so. `ets` itself drops what the series cannot
 * support (multiplicative members for data with zeros, the season for fewer than ~2 seasons).
 */
import { checkSeries } from './naive.ts'
import { paramCount, type EtsSpec, type SeasonType, type TrendType } from './ets-core.ts'
import { etsMinLength, fitEts, LONG_SERIES, type EtsFitOptions, type EtsFitted } from './ets-fit.ts'
import { ForecastInputError, type ForecastModel, type SeriesInput } from './model.ts'

/** Longest season ETS models carry states for (as R's ets(): longer periods are fitted without season). */
export const ETS_MAX_PERIOD = 24

/** Which members `etsCandidates` may return. */
export interface EtsFamilyOptions extends EtsFitOptions {
  /** Allow multiplicative error and season (default true; they are dropped anyway for data ≤ 0). */
  multiplicative?: boolean
  /** Trends to consider (default N, A, Ad). */
  trends?: readonly TrendType[]
  /** Allow a seasonal component (default true when 1 < period ≤ 24 and the series is long enough). */
  seasonal?: boolean
}

/**
 * R's default ets() candidate set for `y` with period m: error A/M × trend N/A/Ad × season N/A/M,
 * without A-error-with-M-season (numerically unstable, R's `restrict`), without multiplicative
 * members unless y > 0, and without members the series is too short for.
 */
export function etsCandidates(y: ArrayLike<number>, m: number, opts: EtsFamilyOptions = {}): EtsSpec[] {
  let positive = true
  for (let i = 0; i < y.length; i++) if (!(y[i]! > 0)) positive = false
  const mult = (opts.multiplicative ?? true) && positive
  const seasons: SeasonType[] = ['N']
  if ((opts.seasonal ?? true) && m > 1 && m <= ETS_MAX_PERIOD) seasons.push('A', ...(mult ? (['M'] as const) : []))
  const out: EtsSpec[] = []
  for (const error of mult ? (['A', 'M'] as const) : (['A'] as const)) {
    for (const trend of opts.trends ?? (['N', 'A', 'Ad'] as const)) {
      for (const season of seasons) {
        if (error === 'A' && season === 'M') continue
        const spec = { error, trend, season }
        if (y.length >= etsMinLength(spec, season === 'N' ? 1 : m)) out.push(spec)
      }
    }
  }
  return out
}

/** Whether the series has enough points for any seasonal ETS member with period m. */
export function seasonFits(n: number, m: number): boolean {
  return m > 1 && m <= ETS_MAX_PERIOD && n >= etsMinLength({ error: 'A', trend: 'N', season: 'A' }, m)
}

/**
 * Fits every spec to the series and returns the one with the least AICc.
 * Throws ForecastInputError when none can be fitted.
 */
export function selectEts(series: SeriesInput, specs: readonly EtsSpec[], what: string, opts: EtsFitOptions = {}): EtsFitted {
  const y = Float64Array.from(series.y)
  let best: EtsFitted | null = null
  for (const spec of specs) {
    const fit = fitEts(y, series.period, spec, opts)
    if (fit !== null && Number.isFinite(fit.fit.aicc!) && (best === null || fit.fit.aicc! < best.fit.aicc!)) best = fit
  }
  if (best === null) {
    const need = Math.min(...specs.map((s) => etsMinLength(s, s.season === 'N' ? 1 : series.period)))
    throw new ForecastInputError(
      `${what}: no model could be fitted to ${series.y.length} points (needs ≥ ${need}, and strictly positive values for multiplicative models); try 'naive' or 'auto'`,
    )
  }
  return best
}

/**
 * The ets() selection: every candidate by AICc. For series longer than LONG_SERIES, in two stages
 * to save time: the additive-error members first, then the multiplicative-error variants of the
 * winner's trend and season (and a multiplicative season when the winner's is additive). On the
 * synthetic daily demand of the speed test this picks as well as the full search at ~40 % of the cost.
 */
export function fitEtsAuto(series: SeriesInput, opts: EtsFamilyOptions = {}): EtsFitted {
  const specs = etsCandidates(series.y, series.period, opts)
  if (series.y.length <= LONG_SERIES) return selectEts(series, specs, 'ets', opts)
  const first = selectEts(
    series,
    specs.filter((s) => s.error === 'A'),
    'ets',
    opts,
  )
  const { trend, season } = first.spec
  const more = specs.filter((s) => s.error === 'M' && s.trend === trend && (s.season === season || (season === 'A' && s.season === 'M')))
  if (more.length === 0) return first
  try {
    const second = selectEts(series, more, 'ets', opts)
    return second.fit.aicc! < first.fit.aicc! ? second : first
  } catch {
    return first
  }
}

/** A method over a fixed list of specs; `min` is the shortest series any of them accepts. */
function fixed(name: string, specs: readonly EtsSpec[]): ForecastModel {
  return {
    name,
    minLength: (period) => Math.min(...specs.map((s) => paramCount(s, s.season === 'N' ? 1 : period) + 5)),
    fit(series) {
      checkSeries(series, this.minLength(series.period), name)
      const seasonal = specs.some((s) => s.season !== 'N')
      if (seasonal && (series.period < 2 || series.period > ETS_MAX_PERIOD))
        throw new ForecastInputError(`${name}: needs a seasonal period in 2..${ETS_MAX_PERIOD}, got ${series.period}; use 'holt' or 'ets'`)
      return selectEts(series, specs, name)
    },
  }
}

/** Simple exponential smoothing, ETS(A,N,N). */
export const ses = fixed('ses', [{ error: 'A', trend: 'N', season: 'N' }])

/** Holt's damped trend, ETS(A,Ad,N). */
export const holtDamped = fixed('holt-damped', [{ error: 'A', trend: 'Ad', season: 'N' }])

/** Holt's linear trend, ETS(A,A,N), or its damped variant ETS(A,Ad,N) when that has the lower AICc. */
export const holt = fixed('holt', [
  { error: 'A', trend: 'A', season: 'N' },
  { error: 'A', trend: 'Ad', season: 'N' },
])

/** Additive Holt-Winters, ETS(A,A,A) (R's hw(seasonal = 'additive')). */
export const hwAdditive = fixed('hw-additive', [{ error: 'A', trend: 'A', season: 'A' }])

/** Multiplicative Holt-Winters, ETS(M,A,M) (R's hw(seasonal = 'multiplicative')); strictly positive data only. */
export const hwMultiplicative = fixed('hw-multiplicative', [{ error: 'M', trend: 'A', season: 'M' }])

/** Holt-Winters, additive or multiplicative by AICc (multiplicative only for strictly positive data). */
export const holtWinters: ForecastModel = {
  name: 'hw',
  minLength: (period) => hwAdditive.minLength(period),
  fit(series) {
    checkSeries(series, this.minLength(series.period), 'hw')
    if (series.period < 2 || series.period > ETS_MAX_PERIOD)
      throw new ForecastInputError(`hw: needs a seasonal period in 2..${ETS_MAX_PERIOD}, got ${series.period}; use 'holt' or 'ets'`)
    const specs: EtsSpec[] = [{ error: 'A', trend: 'A', season: 'A' }]
    if (series.y.every((v) => v > 0)) specs.push({ error: 'M', trend: 'A', season: 'M' })
    return selectEts(series, specs, 'hw')
  },
}

/**
 * ETS with automatic selection, like R's ets(): every admissible member fitted, least AICc wins.
 * Series too short for a season (or with a period over 24) get non-seasonal members only.
 */
export const ets: ForecastModel = {
  name: 'ets',
  minLength: () => etsMinLength({ error: 'A', trend: 'N', season: 'N' }, 1),
  fit(series) {
    checkSeries(series, this.minLength(series.period), 'ets')
    return fitEtsAuto(series)
  },
}
