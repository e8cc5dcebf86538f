/**
 * Rolling-origin evaluation (Tashman 2000) of any ForecastModel: refit at each origin on the data
 * before it, forecast `horizon` steps, score against what followed. The last origin leaves exactly
 * `horizon` points to score; earlier ones step back by `step`.
 *
 * Per method: MASE, sMAPE, MAE and bias averaged over origins (MASE scaled, at each origin, by
 * that origin's in-sample seasonal-naive MAE), and the forecast value added against seasonal
 * naive, FVA = 1 − MASE(method) / MASE(snaive) over the same origins: 0.25 means a quarter less
 * scaled error than seasonal naive, negative means worse. Seasonal naive (naive when period = 1
 * or the training part is shorter than a season + 1) is always scored as the baseline.
 *
 * A method that refuses an origin (ForecastInputError: too short, …) is counted in `failed` and
 * scored on the others; any other error propagates.
 */
import { accuracy, type Accuracy } from './accuracy.ts'
import { ForecastInputError, type ForecastModel } from './model.ts'
import { naive, snaive } from './naive.ts'

/** Where and how far to forecast. */
export interface BacktestOptions {
  period: number
  horizon: number
  /** Number of forecast origins (default 5). */
  origins?: number
  /** Periods between consecutive origins (default 1). */
  step?: number
  /** Shortest training part an origin may have (default: a season + 1, at least 4 points). */
  minTrain?: number
}

/** One method's averages over the origins it could forecast from. */
export interface MethodScore extends Accuracy {
  /** Forecast value added against seasonal naive (see the module comment); NaN when the baseline is perfect. */
  fva: number
  /** Origins scored. */
  origins: number
  /** Origins the method refused (ForecastInputError). */
  failed: number
  /** Method as fitted at the last scored origin, e.g. 'ets(A,N,A)'. */
  fitted: string
}

export interface BacktestResult {
  /** Training lengths at the origins, oldest first. */
  origins: number[]
  horizon: number
  /** Keyed by model name; always includes 'snaive'. */
  scores: Record<string, MethodScore>
}

/**
 * Scores `models` on `y` by rolling origin. Throws ForecastInputError when the series leaves no
 * origin (fewer than minTrain + horizon points) or the options are not positive integers.
 * @example backtest(y, [auto, ets], { period: 7, horizon: 14, origins: 4, step: 7 }).scores.auto.fva
 */
export function backtest(y: readonly number[], models: readonly ForecastModel[], opts: BacktestOptions): BacktestResult {
  const { period, horizon } = opts
  const count = opts.origins ?? 5
  const step = opts.step ?? 1
  for (const [k, v] of Object.entries({ period, horizon, origins: count, step })) {
    if (!Number.isInteger(v) || v < 1) throw new ForecastInputError(`backtest: ${k} must be a positive integer, got ${v}`)
  }
  const minTrain = opts.minTrain ?? Math.max(4, period + 1)
  const last = y.length - horizon
  const origins: number[] = []
  for (let i = 0; i < count; i++) {
    const t = last - i * step
    if (t < minTrain) break
    origins.unshift(t)
  }
  if (origins.length === 0)
    throw new ForecastInputError(
      `backtest: ${y.length} points leave no origin (needs ≥ ${minTrain + horizon} for horizon ${horizon}); shorten the horizon or wait for history`,
    )

  const baselineFor = (train: readonly number[]): ForecastModel => (period > 1 && train.length > period ? snaive : naive)
  const all = [...models.filter((m) => m.name !== 'snaive'), { ...snaive, fit: (s: Parameters<ForecastModel['fit']>[0]) => baselineFor(s.y).fit(s) }]
  const perOrigin = new Map<string, (Accuracy | null)[]>()
  const fittedName = new Map<string, string>()
  for (const model of all) {
    const rows: (Accuracy | null)[] = []
    for (const t of origins) {
      const train = y.slice(0, t)
      const actual = y.slice(t, t + horizon)
      try {
        const fit = model.fit({ y: train, period })
        rows.push(accuracy(actual, fit.forecast(horizon, []).mean, train, period))
        fittedName.set(model.name, fit.method)
      } catch (err) {
        if (!(err instanceof ForecastInputError)) throw err
        rows.push(null)
      }
    }
    perOrigin.set(model.name, rows)
  }

  const base = perOrigin.get('snaive')!
  const scores: Record<string, MethodScore> = {}
  for (const model of all) {
    const rows = perOrigin.get(model.name)!
    const ok = rows.flatMap((r, i) => (r !== null && base[i] !== null ? [i] : []))
    const mean = (f: (a: Accuracy) => number, from: (Accuracy | null)[]): number =>
      ok.length === 0 ? NaN : ok.reduce((s, i) => s + f(from[i]!), 0) / ok.length
    const mase = mean((a) => a.mase, rows)
    const baseMase = mean((a) => a.mase, base)
    scores[model.name] = {
      mase,
      smape: mean((a) => a.smape, rows),
      mae: mean((a) => a.mae, rows),
      bias: mean((a) => a.bias, rows),
      fva: baseMase > 0 ? 1 - mase / baseMase : NaN,
      origins: ok.length,
      failed: rows.filter((r) => r === null).length,
      fitted: fittedName.get(model.name) ?? model.name,
    }
  }
  return { origins, horizon, scores }
}
