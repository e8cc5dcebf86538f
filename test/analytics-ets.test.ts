/**
 * The exponential-smoothing family (ETS, Hyndman et al. 2008), its optimiser, the accuracy
 * measures and `auto`'s documented fallbacks: fits recover the parameters a series was simulated
 * with, intervals behave, and bad input gets a clear error or a fallback — never NaN.
 */
import { describe, expect, it } from 'vitest'
import { bias, mae, mase, naiveScale, smape } from '../gateway/analytics/forecast/accuracy.ts'
import { auto } from '../gateway/analytics/forecast/auto.ts'
import { ets, holt, holtDamped, holtWinters, hwAdditive, hwMultiplicative, ses } from '../gateway/analytics/forecast/ets.ts'
import { fitEts } from '../gateway/analytics/forecast/ets-fit.ts'
import type { EtsSpec } from '../gateway/analytics/forecast/ets-core.ts'
import { forecastSeries, METHODS } from '../gateway/analytics/forecast/index.ts'
import { ForecastInputError, type Forecast } from '../gateway/analytics/forecast/model.ts'
import { nelderMead } from '../gateway/analytics/forecast/optim.ts'

/** Seeded uniform PRNG and standard normal draws, so every run sees the same series. */
function rng(seed: number): { u: () => number; z: () => number } {
  let a = seed >>> 0
  const u = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return { u, z: () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()) }
}

interface SimParams {
  alpha: number
  beta?: number
  gamma?: number
  phi?: number
  level: number
  slope?: number
  seasons?: number[]
  sigma: number
}

/** Simulates an ETS model in error-correction form (additive error unless `mult`), n points. */
function simulate(n: number, p: SimParams, seed: number, mult = false): number[] {
  const { z } = rng(seed)
  const m = p.seasons?.length ?? 1
  const s = [...(p.seasons ?? [0])]
  const phi = p.phi ?? 1
  let l = p.level
  let b = p.slope ?? 0
  const y: number[] = []
  for (let t = 0; t < n; t++) {
    const q = l + phi * b
    const st = s[t % m]!
    const f = q + (p.seasons ? st : 0)
    const e = p.sigma * z()
    const yt = mult ? f * (1 + e) : f + e
    const err = mult ? f * e : e
    l = q + p.alpha * err
    b = phi * b + (p.beta ?? 0) * err
    if (p.seasons) s[t % m] = st + (p.gamma ?? 0) * err
    y.push(yt)
  }
  return y
}

function expectFinite(f: Forecast): void {
  for (const a of [f.mean, ...Object.values(f.lower), ...Object.values(f.upper)]) for (const v of a) expect(Number.isFinite(v)).toBe(true)
}

describe('nelderMead', () => {
  it('finds the minimum of the Rosenbrock function inside a box', () => {
    const r = nelderMead((x) => 100 * (x[1]! - x[0]! ** 2) ** 2 + (1 - x[0]!) ** 2, Float64Array.of(-1.2, 1), {
      lower: Float64Array.of(-5, -5),
      upper: Float64Array.of(5, 5),
      maxEvals: 2000,
      ftol: 1e-14,
    })
    expect(r.x[0]).toBeCloseTo(1, 3)
    expect(r.x[1]).toBeCloseTo(1, 3)
  })

  it('stops on the bound when the unconstrained minimum lies outside the box', () => {
    const r = nelderMead((x) => (x[0]! - 3) ** 2 + (x[1]! + 1) ** 2, Float64Array.of(0.5, 0.5), { lower: Float64Array.of(0, 0), upper: Float64Array.of(1, 1) })
    expect(r.x[0]).toBeCloseTo(1, 6)
    expect(r.x[1]).toBeCloseTo(0, 6)
  })
})

describe('ETS fits recover the parameters a series was simulated with', () => {
  it('simple exponential smoothing: alpha', () => {
    const y = simulate(2000, { alpha: 0.3, level: 100, sigma: 2 }, 1)
    const fit = ses.fit({ y, period: 1 })
    expect(fit.method).toBe('ets(A,N,N)')
    expect(fit.fit.params.alpha).toBeGreaterThan(0.25)
    expect(fit.fit.params.alpha).toBeLessThan(0.35)
    expect(Math.sqrt(fit.fit.sigma2)).toBeCloseTo(2, 0)
  })

  it('damped trend: alpha, beta and phi', () => {
    const y = simulate(3000, { alpha: 0.5, beta: 0.2, phi: 0.9, level: 50, slope: 1, sigma: 1 }, 2)
    const fit = holtDamped.fit({ y, period: 1 })
    expect(fit.fit.params.alpha).toBeCloseTo(0.5, 1)
    expect(fit.fit.params.beta).toBeCloseTo(0.2, 1)
    expect(fit.fit.params.phi).toBeGreaterThan(0.85)
    expect(fit.fit.params.phi).toBeLessThan(0.95)
  })

  it('additive season: alpha and gamma, and ets() picks ETS(A,N,A)', () => {
    const seasons = [10, -5, 3, -8, 0, 6, -6]
    const y = simulate(1500, { alpha: 0.2, gamma: 0.15, level: 200, seasons, sigma: 2 }, 3)
    const fit = fitEts(Float64Array.from(y), 7, { error: 'A', trend: 'N', season: 'A' }, { states: 'all' })!
    expect(fit.fit.params.alpha).toBeCloseTo(0.2, 1)
    expect(fit.fit.params.gamma).toBeCloseTo(0.15, 1)
    expect(ets.fit({ y, period: 7 }).method).toMatch(/^ets\([AM],N,A\)$/)
  })

  it('multiplicative error: ets() prefers M error on a series whose noise scales with its level', () => {
    const y = simulate(300, { alpha: 0.3, level: 100, sigma: 0.1 }, 5, true)
    const fit = ets.fit({ y, period: 1 })
    expect(fit.method).toBe('ets(M,N,N)')
    expect(fit.fit.params.alpha).toBeGreaterThan(0.2)
    expect(fit.fit.params.alpha).toBeLessThan(0.4)
    expect(Math.sqrt(fit.fit.sigma2)).toBeCloseTo(0.1, 1)
  })
})

describe('ETS prediction intervals', () => {
  const seasons = [1.2, 0.8, 1.0, 1.1, 0.9, 1.0, 1.0]
  const positive = simulate(300, { alpha: 0.3, level: 100, sigma: 3 }, 5).map((v, t) => Math.max(1, v * seasons[t % 7]!))
  const cases: [string, EtsSpec][] = [
    ['A,N,N', { error: 'A', trend: 'N', season: 'N' }],
    ['A,Ad,A', { error: 'A', trend: 'Ad', season: 'A' }],
    ['M,A,N', { error: 'M', trend: 'A', season: 'N' }],
    ['M,N,M', { error: 'M', trend: 'N', season: 'M' }],
    ['M,Ad,M', { error: 'M', trend: 'Ad', season: 'M' }],
  ]
  it.each(cases)('ETS(%s): finite, nested, and wider with the horizon (relative to the level, for M error)', (_, spec) => {
    const fit = fitEts(Float64Array.from(positive), 7, spec)!
    const f = fit.forecast(28, [80, 95])
    expectFinite(f)
    const scale = (i: number): number => (spec.error === 'M' ? Math.abs(f.mean[i]!) : 1)
    const width = (lvl: string, i: number): number => (f.upper[lvl]![i]! - f.lower[lvl]![i]!) / scale(i)
    for (let i = 0; i < 28; i++) {
      expect(f.lower['95']![i]).toBeLessThanOrEqual(f.lower['80']![i]!)
      expect(f.upper['95']![i]).toBeGreaterThanOrEqual(f.upper['80']![i]!)
      expect(width('80', i)).toBeGreaterThan(0)
    }
    // Week over week (same seasonal phase), the interval only widens.
    for (let i = 0; i + 7 < 28; i++) expect(width('95', i + 7)).toBeGreaterThan(width('95', i))
  })

  it('the 95 % interval of a linear model covers about 95 % of simulated futures', () => {
    let inside = 0
    let total = 0
    for (let rep = 0; rep < 100; rep++) {
      const y = simulate(210, { alpha: 0.4, beta: 0.05, level: 20, slope: 0.2, sigma: 1 }, 100 + rep)
      const f = holt.fit({ y: y.slice(0, 200), period: 1 }).forecast(10, [95])
      for (let i = 0; i < 10; i++) {
        total++
        if (y[200 + i]! >= f.lower['95']![i]! && y[200 + i]! <= f.upper['95']![i]!) inside++
      }
    }
    expect(inside / total).toBeGreaterThan(0.9)
    expect(inside / total).toBeLessThan(0.99)
  })
})

describe('the family by name', () => {
  const y = simulate(120, { alpha: 0.3, beta: 0.05, level: 100, slope: 0.5, seasons: [10, -5, 3, -8], gamma: 0.1, sigma: 2 }, 6)
  it.each([
    ['ses', ses, /^ets\(A,N,N\)$/],
    ['holt', holt, /^ets\(A,Ad?,N\)$/],
    ['holt-damped', holtDamped, /^ets\(A,Ad,N\)$/],
    ['hw-additive', hwAdditive, /^ets\(A,A,A\)$/],
    ['hw-multiplicative', hwMultiplicative, /^ets\(M,A,M\)$/],
    ['hw', holtWinters, /^ets\((A,A,A|M,A,M)\)$/],
    ['ets', ets, /^ets\(/],
  ] as const)('%s fits and is registered under its name', (name, model, method) => {
    expect(model.name).toBe(name)
    expect(METHODS[model.name]).toBe(model)
    const fit = model.fit({ y, period: 4 })
    expect(fit.method).toMatch(method)
    expect(fit.fitted).toHaveLength(y.length)
    expect(Number.isFinite(fit.fit.aicc)).toBe(true)
    expectFinite(fit.forecast(8, [80, 95]))
  })

  it('fits what a heuristic start gets wrong: exponential growth in a multiplicative model, and a perfectly flat series', () => {
    const growth = Array.from({ length: 60 }, (_, t) => Math.exp(t / 5) * (1 + 0.1 * (t % 4)))
    expect(hwMultiplicative.fit({ y: growth, period: 4 }).method).toBe('ets(M,A,M)')
    const flat = ses.fit({ y: new Array(20).fill(3), period: 1 })
    expect(flat.forecast(3, [95])).toEqual({ mean: [3, 3, 3], lower: { '95': [3, 3, 3] }, upper: { '95': [3, 3, 3] } })
  })

  it('Holt-Winters refuses a series without a season, and multiplicative HW one with zeros, saying what to use', () => {
    expect(() => holtWinters.fit({ y, period: 1 })).toThrow(/seasonal period/)
    expect(() => hwMultiplicative.fit({ y: y.map((v, i) => (i === 3 ? 0 : v)), period: 4 })).toThrow(ForecastInputError)
  })
})

describe('bad input gets a clear error or a documented fallback, never NaN', () => {
  it('refuses an empty series, NaN, and a horizon that is not a positive integer', () => {
    expect(() => forecastSeries([], { period: 1, horizon: 3 })).toThrow(/empty series/)
    expect(() => forecastSeries([1, NaN, 3], { period: 1, horizon: 3 })).toThrow(/value 1 is NaN/)
    expect(() => forecastSeries([1, Infinity, 3], { period: 1, horizon: 3 })).toThrow(ForecastInputError)
    for (const horizon of [-1, 0, 1.5]) expect(() => forecastSeries([1, 2, 3], { period: 1, horizon })).toThrow(/horizon must be a positive integer/)
    expect(() => forecastSeries([1, 2, 3], { period: 0, horizon: 2 })).toThrow(/period/)
    expect(() => forecastSeries([1, 2, 3], { period: 1, horizon: 2, levels: [100] })).toThrow(/level/)
    expect(() => forecastSeries([1, 2, 3], { period: 1, horizon: 2, method: 'prophet' })).toThrow(/unknown method 'prophet'; one of: auto/)
  })

  it('a constant series: naive with zero-width intervals, and a note saying so', () => {
    const r = forecastSeries(new Array(30).fill(7), { period: 7, horizon: 5 })
    expect(r).toMatchObject({ method: 'naive', forecast: [7, 7, 7, 7, 7], lower: { '80': [7, 7, 7, 7, 7] }, upper: { '95': [7, 7, 7, 7, 7] } })
    expect(r.note).toMatch(/constant series/)
  })

  it('too few points for the season: fitted without it, and the note says so', () => {
    const y = [5, 7, 6, 8, 7, 9, 8, 10, 9, 11, 10, 12]
    const r = forecastSeries(y, { period: 12, horizon: 12 })
    expect(r.method).toMatch(/^ets\(.,.+,N\)$/)
    expect(r.note).toMatch(/too few for a season of 12/)
    expect(r.forecast.every(Number.isFinite)).toBe(true)
  })

  it('too few points for exponential smoothing: naive; a single point: that value', () => {
    const r = forecastSeries([3, 5, 4], { period: 1, horizon: 2 })
    expect(r).toMatchObject({ method: 'naive', forecast: [4, 4] })
    expect(r.note).toMatch(/only 3 points/)
    expect(forecastSeries([42], { period: 7, horizon: 2 })).toMatchObject({ method: 'naive', forecast: [42, 42], lower: { '95': [42, 42] } })
  })

  it('intermittent demand goes to Croston, SBA or TSB', () => {
    const { u } = rng(9)
    const y = Array.from({ length: 200 }, () => (u() < 0.25 ? 1 + Math.floor(u() * 5) : 0))
    expect(auto.fit({ y, period: 7 }).method).toMatch(/^(croston|sba|tsb)$/)
  })

  it('the ETS methods refuse what they cannot fit with a ForecastInputError, never another exception', () => {
    for (const model of [ses, holt, holtDamped, holtWinters, hwAdditive, hwMultiplicative, ets]) {
      for (const y of [[], [1, 2], [1, NaN, 2, 3, 4, 5, 6, 7, 8, 9]]) expect(() => model.fit({ y, period: 4 })).toThrow(ForecastInputError)
    }
  })

  it('odd but valid series all give finite numbers through auto', () => {
    const { u } = rng(10)
    const series = [
      Array.from({ length: 60 }, () => -50 + u()),
      Array.from({ length: 60 }, (_, t) => 1e12 * (1 + 0.1 * Math.sin(t))),
      Array.from({ length: 60 }, () => 1e-9 * u()),
      Array.from({ length: 60 }, (_, t) => (t < 30 ? 0 : 100)),
      Array.from({ length: 60 }, (_, t) => Math.exp(t / 4)),
      Array.from({ length: 60 }, () => (u() < 0.1 ? 1000 : 1)),
    ]
    for (const y of series) {
      for (const period of [1, 7, 12, 52]) {
        const r = forecastSeries(y, { period, horizon: 14 })
        expect([r.forecast, ...Object.values(r.lower), ...Object.values(r.upper)].flat().every(Number.isFinite)).toBe(true)
        expect(JSON.stringify(r)).not.toContain('null')
      }
    }
  })
})

describe('accuracy measures', () => {
  const train = [10, 12, 11, 13, 12, 14]
  it('MASE scales by the in-sample (seasonal) naive MAE', () => {
    expect(naiveScale(train, 1)).toBeCloseTo((2 + 1 + 2 + 1 + 2) / 5, 12)
    expect(naiveScale(train, 2)).toBeCloseTo(1, 12)
    expect(mase([15, 16], [14, 14], train, 1)).toBeCloseTo(1.5 / 1.6, 12)
    expect(mase([15, 16], [14, 14], train, 2)).toBeCloseTo(1.5, 12)
  })
  it('sMAPE is 200|a − f|/(|a| + |f|) in percent; MAE and bias are plain means', () => {
    expect(smape([100, 0], [110, 0])).toBeCloseTo((200 * 10) / 210 / 2, 12)
    expect(mae([1, 2, 3], [2, 2, 1])).toBeCloseTo(1, 12)
    expect(bias([1, 2, 3], [2, 2, 1])).toBeCloseTo(-1 / 3, 12)
  })
})
