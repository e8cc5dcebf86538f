/**
 * The baseline, intermittent and ARIMA forecasters (gateway/analytics/forecast/naive.ts,
 * intermittent.ts, arima.ts): known answers on hand-computed series, intervals that widen with the
 * horizon, bad input as ForecastInputError, and never a NaN. ARIMA is also scored on the eight
 * public series against R's auto.arima (reference.csv).
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { fitArima } from '../gateway/analytics/forecast/arima-fit.ts'
import { arima, autoArima, ndiffs } from '../gateway/analytics/forecast/arima.ts'
import { croston, demandClass, sba, tsb } from '../gateway/analytics/forecast/intermittent.ts'
import { ForecastInputError, zOf, type Forecast, type ForecastModel } from '../gateway/analytics/forecast/model.ts'
import { movingAverage, naive, snaive } from '../gateway/analytics/forecast/naive.ts'
import { Random } from '../simulators/random.ts'

const all: ForecastModel[] = [naive, snaive, movingAverage, croston, sba, tsb, arima]
const y8 = [1, 3, 2, 5, 4, 6, 5, 8]

function finite(f: Forecast): boolean {
  return [f.mean, ...Object.values(f.lower), ...Object.values(f.upper)].every((a) => a.every(Number.isFinite))
}

/** Width of the `level` interval at each step. */
const width = (f: Forecast, level: number): number[] => f.upper[String(level)]!.map((u, i) => u - f.lower[String(level)]![i]!)
const nonDecreasing = (a: number[]): boolean => a.every((v, i) => i === 0 || v >= a[i - 1]! - 1e-9)

function randomWalk(n: number, seed: number, sd = 1): number[] {
  const r = new Random(seed)
  const y = [100]
  for (let i = 1; i < n; i++) y.push(y[i - 1]! + r.normal(0, sd))
  return y
}

describe('naive, seasonal naive and moving average', () => {
  it('naive forecasts the last value with sd σ√h (FPP3 §5.5)', () => {
    const f = naive.fit({ y: y8, period: 1 })
    // Differences 2, −1, 3, −1, 2, −1, 3: σ² = 29 / 7.
    expect(f.fit.sigma2).toBeCloseTo(29 / 7, 12)
    const fc = f.forecast(4, [80, 95])
    expect(fc.mean).toEqual([8, 8, 8, 8])
    expect(fc.upper['95']![3]).toBeCloseTo(8 + zOf(95) * Math.sqrt(29 / 7) * 2, 9)
    expect(f.fitted[0]).toBeNaN()
    expect(f.fitted[3]).toBe(2)
  })

  it('seasonal naive repeats the last season with sd σ√(⌊(h−1)/m⌋+1)', () => {
    const f = snaive.fit({ y: y8, period: 2 })
    // Seasonal differences 1, 2, 2, 1, 1, 2: σ² = 15 / 6.
    expect(f.fit.sigma2).toBeCloseTo(2.5, 12)
    const fc = f.forecast(4, [95])
    expect(fc.mean).toEqual([5, 8, 5, 8])
    const w = width(fc, 95).map((v) => v / (2 * zOf(95) * Math.sqrt(2.5)))
    expect(w[0]).toBeCloseTo(1, 9)
    expect(w[1]).toBeCloseTo(1, 9)
    expect(w[2]).toBeCloseTo(Math.SQRT2, 9)
  })

  it('seasonal naive with period 1 is naive', () => {
    expect(snaive.fit({ y: y8, period: 1 }).forecast(3, [80])).toEqual(naive.fit({ y: y8, period: 1 }).forecast(3, [80]))
  })

  it('moving average picks the window with the least one-step SSE', () => {
    // Windows 2..4 scored on t = 4..7: SSE 8.75 (k = 2), 14.9 (k = 3), larger for 4; mean(5, 8) = 6.5.
    const f = movingAverage.fit({ y: y8, period: 1 })
    expect(f.fit.params.window).toBe(2)
    expect(f.forecast(3, [80]).mean).toEqual([6.5, 6.5, 6.5])
  })

  it('moving average intervals come from in-sample h-step errors: wider on a random walk than one step', () => {
    const fc = movingAverage.fit({ y: randomWalk(400, 3), period: 1 }).forecast(20, [95])
    const w = width(fc, 95)
    expect(nonDecreasing(w)).toBe(true)
    expect(w[19]!).toBeGreaterThan(1.5 * w[0]!)
  })
})

describe('intermittent demand', () => {
  it('classifies by Syntetos-Boylan cut-offs (ADI 1.32, CV² 0.49)', () => {
    const c = demandClass([0, 0, 3, 0, 0, 0, 4, 0])
    expect(c.adi).toBe(4)
    expect(c.cv2).toBeCloseTo(0.5 / 12.25, 12)
    expect(c.class).toBe('intermittent')
    expect(demandClass([5, 6, 5, 6, 5, 6]).class).toBe('smooth')
    expect(demandClass([1, 10, 1, 10, 1, 10]).class).toBe('erratic')
    expect(demandClass([0, 0, 1, 0, 0, 20, 0, 0, 2]).class).toBe('lumpy')
    expect(demandClass([0, 0, 0])).toEqual({ adi: Infinity, cv2: 0, class: 'intermittent', zeroShare: 1 })
  })

  it('Croston on perfectly regular demand forecasts size / interval whatever the constants', () => {
    const y = Array.from({ length: 30 }, (_, i) => (i % 3 === 2 ? 4 : 0))
    const f = croston.fit({ y, period: 1 })
    expect(f.forecast(2, [80]).mean[0]).toBeCloseTo(4 / 3, 12)
    const s = sba.fit({ y, period: 1 })
    expect(s.forecast(1, [80]).mean[0]).toBeCloseTo((1 - s.fit.params.beta! / 2) * (4 / 3), 12)
  })

  it('TSB is p·z with p smoothed every period', () => {
    const y = [0, 0, 4, 0, 0, 4, 0, 0, 4, 0]
    const f = tsb.fit({ y, period: 1 })
    const { alpha, beta } = f.fit.params as { alpha: number; beta: number }
    let p = 3 / 10
    let z = 4
    for (const v of y) {
      if (v > 0) {
        z += alpha * (v - z)
        p += beta * (1 - p)
      } else p *= 1 - beta
    }
    expect(f.forecast(1, [80]).mean[0]).toBeCloseTo(p * z, 12)
  })

  it('fits its constants inside [0.05, 0.3]', () => {
    const r = new Random(9)
    const y = Array.from({ length: 365 }, () => (r.chance(0.2) ? 1 + r.poisson(3) : 0))
    for (const m of [croston, sba, tsb]) {
      const { alpha, beta } = m.fit({ y, period: 7 }).fit.params
      for (const v of [alpha!, beta!]) expect(v >= 0.05 - 1e-9 && v <= 0.3 + 1e-9).toBe(true)
    }
  })

  it('TSB follows demand that has stopped; Croston does not', () => {
    const y = [...Array.from({ length: 100 }, (_, i) => (i % 4 === 0 ? 5 : 0)), ...new Array<number>(60).fill(0)]
    const c = croston.fit({ y, period: 1 }).forecast(1, [80]).mean[0]!
    const t = tsb.fit({ y, period: 1 }).forecast(1, [80]).mean[0]!
    expect(t).toBeLessThan(c / 4)
  })

  it('an all-zero series forecasts 0 with a [0, 0] interval', () => {
    for (const m of [croston, sba, tsb]) {
      const fc = m.fit({ y: [0, 0, 0, 0], period: 1 }).forecast(3, [80, 95])
      expect(fc).toEqual({ mean: [0, 0, 0], lower: { '80': [0, 0, 0], '95': [0, 0, 0] }, upper: { '80': [0, 0, 0], '95': [0, 0, 0] } })
    }
  })

  it('intervals never go below 0, widen with h, and the upper 95 % covers the upper 80 %', () => {
    const r = new Random(4)
    const y = Array.from({ length: 200 }, () => (r.chance(0.3) ? 1 + r.poisson(2) : 0))
    for (const m of [croston, sba, tsb]) {
      const fc = m.fit({ y, period: 1 }).forecast(28, [80, 95])
      expect(fc.lower['95']!.every((v) => v >= 0)).toBe(true)
      expect(nonDecreasing(fc.upper['95']!)).toBe(true)
      expect(fc.upper['95']!.every((v, i) => v >= fc.upper['80']![i]!)).toBe(true)
      expect(fc.upper['80']![0]!).toBeGreaterThan(fc.mean[0]!)
    }
  })

  it('rejects negative demand', () => {
    for (const m of [croston, sba, tsb]) expect(() => m.fit({ y: [0, 2, -1, 0], period: 1 })).toThrow(ForecastInputError)
  })
})

describe('ARIMA', () => {
  it('ARIMA(0,1,0) without constant is the naive forecast, sd σ√h', () => {
    const y = randomWalk(60, 1)
    const a = fitArima(y, { p: 0, d: 1, q: 0, P: 0, D: 0, Q: 0, m: 1, constant: false }).forecast(5)
    const n = naive.fit({ y, period: 1 })
    const sd = Math.sqrt(n.fit.sigma2)
    a.mean.forEach((v) => expect(v).toBeCloseTo(y[59]!, 9))
    a.sd.forEach((v, i) => expect(v).toBeCloseTo(sd * Math.sqrt(i + 1), 9))
  })

  it('ARIMA(0,0,0) with a mean fits the sample mean and variance', () => {
    const y = [3, 5, 4, 6, 2, 4, 5, 3, 4, 4]
    const f = fitArima(y, { p: 0, d: 0, q: 0, P: 0, D: 0, Q: 0, m: 1, constant: true })
    expect(f.mu).toBeCloseTo(4, 6)
    expect(f.sigma2).toBeCloseTo(1.2, 6)
  })

  it('recovers an AR(1) coefficient and does not difference a stationary series', () => {
    const r = new Random(5)
    const y = [0]
    for (let i = 1; i < 600; i++) y.push(0.6 * y[i - 1]! + r.normal())
    expect(ndiffs(y)).toBe(0)
    expect(fitArima(y, { p: 1, d: 0, q: 0, P: 0, D: 0, Q: 0, m: 1, constant: true }).ar[0]).toBeCloseTo(0.6, 1)
    expect(ndiffs(randomWalk(600, 6))).toBe(1)
  })

  it('falls back to a non-seasonal model when the series has fewer than 2·period + 4 points', () => {
    const f = arima.fit({ y: randomWalk(20, 2), period: 12 })
    expect(f.method).not.toContain('[12]')
    expect(finite(f.forecast(12, [80, 95]))).toBe(true)
  })

  it('scores close to R auto.arima on the eight reference series', () => {
    const dir = new URL('./fixtures/forecast/', import.meta.url)
    const read = (f: string): number[] =>
      readFileSync(new URL(f, dir), 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => Number(l.split(',')[1]))
    const rows = readFileSync(new URL('reference.csv', dir), 'utf8').trim().split('\n').slice(1)
    const table: Array<Record<string, string | number>> = []
    let ours = 0
    let theirs = 0
    for (const row of rows) {
      const [name, period, , h, , rMase] = row.split(',') as [string, string, string, string, string, string]
      const y = read(`${name}.csv`)
      const actual = read(`${name}.actual.csv`)
      const m = Number(period)
      const t0 = performance.now()
      const f = arima.fit({ y, period: m })
      const fc = f.forecast(Number(h), [80, 95])
      const ms = performance.now() - t0
      expect(finite(fc)).toBe(true)
      expect(nonDecreasing(width(fc, 95))).toBe(true)
      expect(Number.isFinite(f.fit.aicc)).toBe(true)
      let scale = 0
      for (let t = m; t < y.length; t++) scale += Math.abs(y[t]! - y[t - m]!) / (y.length - m)
      const mase = actual.reduce((s, v, i) => s + Math.abs(v - fc.mean[i]!), 0) / actual.length / scale
      ours += mase / rows.length
      theirs += Number(rMase) / rows.length
      table.push({ series: name, model: f.method, mase: +mase.toFixed(3), rAutoArima: +Number(rMase).toFixed(3), ms: +ms.toFixed(1) })
    }
    table.push({ series: 'mean', model: '', mase: +ours.toFixed(3), rAutoArima: +theirs.toFixed(3), ms: 0 })
    console.table(table)
    expect(ours).toBeLessThan(theirs * 1.1)
  })
})

describe('every method', () => {
  const series = { y: [...y8, 7, 9, 8, 10, 9, 11, 10, 12, 11, 13, 12, 14], period: 2 }

  it('gives finite forecasts and intervals that do not narrow with h', () => {
    for (const m of all) {
      const fc = m.fit(series).forecast(12, [80, 95])
      expect(finite(fc), m.name).toBe(true)
      expect(nonDecreasing(width(fc, 95)), m.name).toBe(true)
      expect(fc.mean).toHaveLength(12)
    }
  })

  it('forecasts a constant series as that constant, with no NaN (SBA: by design, times 1 − beta/2)', () => {
    for (const m of all) {
      const f = m.fit({ y: new Array<number>(30).fill(5), period: 7 })
      const fc = f.forecast(4, [80, 95])
      expect(finite(fc), m.name).toBe(true)
      const want = m === sba ? 5 * (1 - f.fit.params.beta! / 2) : 5
      fc.mean.forEach((v) => expect(v, m.name).toBeCloseTo(want, 6))
    }
  })

  it('rejects an empty series, NaN, a bad period, a bad horizon and a bad level with ForecastInputError', () => {
    for (const m of all) {
      expect(() => m.fit({ y: [], period: 1 }), m.name).toThrow(ForecastInputError)
      expect(() => m.fit({ y: [...series.y.slice(0, 10), NaN, ...series.y.slice(10)], period: 1 }), m.name).toThrow(ForecastInputError)
      expect(() => m.fit({ y: series.y, period: 0 }), m.name).toThrow(ForecastInputError)
      expect(() => m.fit({ y: series.y.slice(0, m.minLength(1) - 1), period: 1 }), m.name).toThrow(ForecastInputError)
      const f = m.fit(series)
      for (const h of [0, -1, 1.5]) expect(() => f.forecast(h, [80]), `${m.name} h=${h}`).toThrow(ForecastInputError)
      for (const l of [0, 100, 120]) expect(() => f.forecast(3, [l]), `${m.name} level=${l}`).toThrow(ForecastInputError)
    }
  })

  it('a seasonal naive needs one season plus a point', () => {
    expect(() => snaive.fit({ y: [1, 2, 3, 4, 5, 6, 7], period: 7 })).toThrow(/at least 8 points/)
  })

  it('autoArima is deterministic', () => {
    const y = randomWalk(100, 8)
    expect(autoArima(y, 1).forecast(3)).toEqual(autoArima(y, 1).forecast(3))
  })
})
