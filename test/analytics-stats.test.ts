/**
 * Descriptive statistics (gateway/analytics/stats.ts): known answers worked by hand, and the
 * promised output for empty, single, constant, all-zero and non-finite input (null, never NaN).
 */
import { describe as suite, expect, it } from 'vitest'
import { ForecastInputError } from '../gateway/analytics/forecast/model.ts'
import { autocorrelation, describe, trend } from '../gateway/analytics/stats.ts'

suite('describe', () => {
  // [2, 4, 4, 4, 5, 5, 7, 9]: mean 5; squared deviations sum to 32, so the sample sd is sqrt(32 / 7).
  // Type-7 quantiles sit at index 7p: q05 at 0.35 → 2 + 0.35·2 = 2.7, q25 at 1.75 → 4, q75 at 5.25 → 5.5, q95 at 6.65 → 8.3.
  // Trend: Sxx = 42, Sxy = 34 → slope 34/42, intercept 5 − 3.5·34/42.
  const d = describe([2, 4, 4, 4, 5, 5, 7, 9])

  it('computes centre, spread and quantiles of a series', () => {
    expect(d.n).toBe(8)
    expect(d.dropped).toBe(0)
    expect(d.mean).toBe(5)
    expect(d.median).toBe(4.5)
    expect(d.std).toBeCloseTo(Math.sqrt(32 / 7), 12)
    expect(d.min).toBe(2)
    expect(d.max).toBe(9)
    expect(d.q05).toBeCloseTo(2.7, 12)
    expect(d.q25).toBeCloseTo(4, 12)
    expect(d.q75).toBeCloseTo(5.5, 12)
    expect(d.q95).toBeCloseTo(8.3, 12)
    expect(d.cv).toBeCloseTo(Math.sqrt(32 / 7) / 5, 12)
    expect(d.zeroShare).toBe(0)
  })

  it('fits a linear trend against the period index', () => {
    expect(d.trend?.slope).toBeCloseTo(34 / 42, 12)
    expect(d.trend?.intercept).toBeCloseTo(5 - (3.5 * 34) / 42, 12)
    expect(d.trend?.relative).toBeCloseTo(34 / 42 / 5, 12)
  })

  it('counts the share of zero periods', () => {
    expect(describe([0, 0, 3, 0, 1]).zeroShare).toBeCloseTo(0.6, 12)
  })

  it('gives n 0 and nulls for an empty series, not NaN', () => {
    expect(describe([])).toEqual({
      n: 0,
      dropped: 0,
      mean: null,
      median: null,
      std: null,
      min: null,
      max: null,
      q05: null,
      q25: null,
      q75: null,
      q95: null,
      cv: null,
      zeroShare: null,
      trend: null,
    })
  })

  it('gives std, cv and trend null for a single value', () => {
    const one = describe([7])
    expect(one).toMatchObject({ n: 1, mean: 7, median: 7, min: 7, max: 7, q05: 7, q95: 7, std: null, cv: null, trend: null, zeroShare: 0 })
  })

  it('gives cv 0 and a flat trend for a constant non-zero series', () => {
    const c = describe([3, 3, 3, 3])
    expect(c.std).toBe(0)
    expect(c.cv).toBe(0)
    expect(c.trend).toEqual({ slope: 0, intercept: 3, relative: 0 })
  })

  it('gives cv null for an all-zero series (the mean is 0)', () => {
    const z = describe([0, 0, 0])
    expect(z.std).toBe(0)
    expect(z.cv).toBeNull()
    expect(z.zeroShare).toBe(1)
    expect(z.trend?.relative).toBeNull()
  })

  it('divides by the absolute mean, so the cv of a negative series is positive', () => {
    expect(describe([-1, -2, -3]).cv).toBeCloseTo(1 / 2, 12)
  })

  it('throws ForecastInputError naming the first non-finite value', () => {
    expect(() => describe([1, Number.NaN, 3])).toThrow(ForecastInputError)
    expect(() => describe([1, 2, Infinity])).toThrow(/value 2 is Infinity/)
  })

  it("drops non-finite values and counts them with nonFinite: 'drop'", () => {
    const d2 = describe([1, Number.NaN, 3, -Infinity], { nonFinite: 'drop' })
    expect(d2.n).toBe(2)
    expect(d2.dropped).toBe(2)
    expect(d2.mean).toBe(2)
  })

  it('never puts NaN or Infinity in the output', () => {
    for (const xs of [[], [0], [0, 0], [5], [1e300, -1e300], [0, 0, 0, 1]]) {
      const json = JSON.stringify(describe(xs))
      expect(json).not.toMatch(/NaN|Infinity/)
      expect(Object.values(describe(xs)).every((v) => v === null || typeof v === 'object' || Number.isFinite(v))).toBe(true)
    }
  })
})

suite('trend', () => {
  it('recovers slope and intercept of a straight line', () => {
    expect(trend([1, 3, 5, 7])).toEqual({ slope: 2, intercept: 1, relative: 2 / 4 })
  })

  it('is null with fewer than two values', () => {
    expect(trend([4])).toBeNull()
    expect(trend([])).toBeNull()
  })
})

suite('autocorrelation', () => {
  it('matches the standard estimator worked by hand', () => {
    // mean 0.5, variance sum 1.5; lag-2 products: four of 0.25 → 1 / 1.5.
    expect(autocorrelation([1, 0, 1, 0, 1, 0], 2)).toBeCloseTo(2 / 3, 12)
    // lag 1: five products of −0.25 → −1.25 / 1.5.
    expect(autocorrelation([1, 0, 1, 0, 1, 0], 1)).toBeCloseTo(-1.25 / 1.5, 12)
  })

  it('is 0 for a constant series or one no longer than the lag', () => {
    expect(autocorrelation([2, 2, 2, 2], 1)).toBe(0)
    expect(autocorrelation([1, 2], 2)).toBe(0)
  })

  it('rejects a lag below 1', () => {
    expect(() => autocorrelation([1, 2, 3], 0)).toThrow(ForecastInputError)
  })
})
