/**
 * Rolling-origin backtesting (issue 6 §3): every method is refitted at each origin on the data
 * before it and scored on what followed; forecast value added is measured against seasonal naive.
 */
import { describe, expect, it } from 'vitest'
import { auto } from '../gateway/analytics/forecast/auto.ts'
import { backtest } from '../gateway/analytics/forecast/backtest.ts'
import { ets, hwAdditive } from '../gateway/analytics/forecast/ets.ts'
import { ForecastInputError, type ForecastModel } from '../gateway/analytics/forecast/model.ts'
import { naive } from '../gateway/analytics/forecast/naive.ts'

/** Weekly pattern plus trend plus a little deterministic wiggle: a series ETS should forecast far better than seasonal naive. */
const y = Array.from({ length: 140 }, (_, t) => 100 + 0.5 * t + [8, -4, 2, -6, 0, 5, -5][t % 7]! + 2 * Math.sin(t * 1.7))

describe('backtest', () => {
  it('places the origins so the last leaves exactly one horizon, earlier ones step back', () => {
    const r = backtest(y, [naive], { period: 7, horizon: 14, origins: 4, step: 7 })
    expect(r.origins).toEqual([105, 112, 119, 126])
    expect(r.scores.naive!.origins).toBe(4)
    expect(Object.keys(r.scores).sort()).toEqual(['naive', 'snaive'])
  })

  it('scores MASE, sMAPE, MAE, bias and FVA against seasonal naive', () => {
    const r = backtest(y, [auto, ets, hwAdditive], { period: 7, horizon: 14, origins: 3, step: 7 })
    const s = r.scores
    expect(s.snaive!.fva).toBe(0)
    for (const name of ['auto', 'ets', 'hw-additive']) {
      const m = s[name]!
      expect(m.mase).toBeLessThan(s.snaive!.mase)
      expect(m.fva).toBeCloseTo(1 - m.mase / s.snaive!.mase, 12)
      expect(m.fva).toBeGreaterThan(0.5)
      expect(m.smape).toBeGreaterThan(0)
      expect(Number.isFinite(m.mae) && Number.isFinite(m.bias)).toBe(true)
      expect(m.fitted).toMatch(/^ets\(/)
    }
    // Seasonal naive lags a rising series: 7 steps behind in the first week, 14 in the second, so bias ≈ −0.5 × 10.5.
    expect(s.snaive!.bias).toBeCloseTo(-5.25, 0)
  })

  it('counts the origins a method refuses instead of failing the run', () => {
    const picky: ForecastModel = { name: 'picky', minLength: () => 120, fit: (s) => (s.y.length < 120 ? naive.fit({ y: [], period: 1 }) : naive.fit(s)) }
    const r = backtest(y, [picky], { period: 7, horizon: 7, origins: 4, step: 7 })
    expect(r.origins).toEqual([112, 119, 126, 133])
    expect(r.scores.picky).toMatchObject({ origins: 2, failed: 2 })
  })

  it('refuses a series too short for one origin, and options that are not positive integers', () => {
    expect(() => backtest(y.slice(0, 10), [naive], { period: 7, horizon: 14 })).toThrow(ForecastInputError)
    expect(() => backtest(y, [naive], { period: 7, horizon: 0 })).toThrow(/horizon must be a positive integer/)
  })
})
