/**
 * The forecasting registry: every name `--method` (and the API's `method`) accepts, mapped to its
 * model. Adding a method is one file plus one entry in `MODELS`.
 */
import { arima } from './arima.ts'
import { auto } from './auto-select.ts'
import { ets, holt, holtDamped, holtWinters, hwAdditive, hwMultiplicative, ses } from './ets.ts'
import { croston, sba, tsb } from './intermittent.ts'
import type { ForecastModel } from './model.ts'
import { movingAverage, naive, snaive } from './naive.ts'

const MODELS: readonly ForecastModel[] = [
  auto,
  naive,
  snaive,
  movingAverage,
  ses,
  holt,
  holtDamped,
  holtWinters,
  hwAdditive,
  hwMultiplicative,
  ets,
  arima,
  croston,
  sba,
  tsb,
]

/** Every method by its `--method` name ('auto', 'naive', 'snaive', 'ma', 'ses', 'holt', 'holt-damped', 'hw', 'hw-additive', 'hw-multiplicative', 'ets', 'arima', 'croston', 'sba', 'tsb'). */
export const METHODS: Readonly<Record<string, ForecastModel>> = Object.freeze(Object.fromEntries(MODELS.map((m) => [m.name, m])))

export { forecastSeries, type ForecastRequest, type ForecastResult } from './auto.ts'
export { backtest, type BacktestOptions, type BacktestResult, type MethodScore } from './backtest.ts'
export { accuracy, mase, smape, mae, bias, type Accuracy } from './accuracy.ts'
export { ForecastInputError, type FittedModel, type Forecast, type ForecastModel, type SeriesInput } from './model.ts'
