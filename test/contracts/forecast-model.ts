/**
 * The contract every `ForecastModel` passes (house style §5; gateway/analytics/forecast/model.ts states
 * it): on any series a method either refuses with ForecastInputError or returns a fit whose forecast
 * has the asked horizon, finite numbers, bounds around the mean that widen with the level, one fitted
 * value per input point, and the same answer when fitted again; the input is never modified.
 */
import { describe, expect, it } from 'vitest'
import { ForecastInputError, type FittedModel, type ForecastModel } from '../../gateway/analytics/forecast/model.ts'
import { dailyDemand, demandSpec } from '../../simulators/demand.ts'

const H = 14
const LEVELS = [50, 80, 95]

/** Series every model meets: seasonal, trending, intermittent, all zero, constant, short, negative values. */
export const CONTRACT_SERIES: Array<{ name: string; y: number[]; period: number }> = [
  { name: 'weekly demand', y: dailyDemand(demandSpec({ perDay: 30 }), 120, { seed: 1 }).units, period: 7 },
  { name: 'trending demand', y: dailyDemand(demandSpec({ perDay: 10, trend: 0.01 }), 90, { seed: 2 }).units, period: 7 },
  { name: 'intermittent demand', y: dailyDemand(demandSpec({ perDay: 1, pattern: 'intermittent', dayChance: 0.15 }), 200, { seed: 3 }).units, period: 7 },
  { name: 'all zero', y: new Array<number>(40).fill(0), period: 7 },
  { name: 'constant', y: new Array<number>(30).fill(12), period: 7 },
  { name: 'short (5 points)', y: [3, 5, 4, 6, 5], period: 7 },
  { name: 'monthly, two seasons', y: Array.from({ length: 26 }, (_, i) => 100 + 10 * Math.sin((2 * Math.PI * i) / 12) + i), period: 12 },
  { name: 'negative values (a net adjustment series)', y: Array.from({ length: 60 }, (_, i) => Math.round(8 * Math.sin(i / 3)) - 2), period: 1 },
]

function fitOrRefuse(model: ForecastModel, y: number[], period: number): FittedModel | 'refused' {
  try {
    return model.fit({ y, period })
  } catch (err) {
    expect(err, `${model.name} threw something other than ForecastInputError`).toBeInstanceOf(ForecastInputError)
    expect((err as Error).message.length).toBeGreaterThan(10)
    return 'refused'
  }
}

export function runForecastModelContract(models: Readonly<Record<string, ForecastModel>>): void {
  describe.each(Object.entries(models))('ForecastModel contract: %s', (_name, model) => {
    it.each(CONTRACT_SERIES)('$name: refuses clearly or forecasts finite numbers inside widening bounds', ({ y, period }) => {
      const input = [...y]
      const fit = fitOrRefuse(model, input, period)
      expect(input, 'the input is not modified').toEqual(y)
      if (fit === 'refused') return
      expect(typeof fit.method).toBe('string')
      expect(fit.fitted).toHaveLength(y.length)
      expect(Number.isFinite(fit.fit.sigma2)).toBe(true)
      const f = fit.forecast(H, LEVELS)
      expect(f.mean).toHaveLength(H)
      for (const v of f.mean) expect(Number.isFinite(v)).toBe(true)
      for (let i = 0; i < H; i++) {
        let lo = f.mean[i]!
        let hi = f.mean[i]!
        for (const level of LEVELS) {
          const l = f.lower[String(level)]![i]!
          const u = f.upper[String(level)]![i]!
          expect(Number.isFinite(l) && Number.isFinite(u)).toBe(true)
          // Nested: a higher level's interval holds the lower level's (to float noise).
          expect(l).toBeLessThanOrEqual(lo + 1e-9)
          expect(u).toBeGreaterThanOrEqual(hi - 1e-9)
          lo = l
          hi = u
        }
      }
      // Deterministic: the same series gives the same forecast.
      expect(fitOrRefuse(model, [...y], period)).not.toBe('refused')
      expect((model.fit({ y: [...y], period }) as FittedModel).forecast(H, LEVELS)).toEqual(f)
    })

    it('refuses a non-finite value with ForecastInputError', () => {
      expect(() => model.fit({ y: [1, 2, NaN, 4, 5, 6, 7, 8, 9, 10], period: 1 })).toThrow(ForecastInputError)
    })
  })
}
