/** Every forecasting method of the registry (`--method` names) against the shared ForecastModel contract. */
import { METHODS } from '../gateway/analytics/forecast/index.ts'
import { runForecastModelContract } from './contracts/forecast-model.ts'

runForecastModelContract(METHODS)
