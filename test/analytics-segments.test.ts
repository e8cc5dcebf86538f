/**
 * SKU segmentation (gateway/analytics/segments.ts) and its clustering step (cluster.ts): ABC on a
 * hand-made value list, XYZ and demand-pattern boundaries, silhouette worked by hand, k-means finding
 * three well-separated groups with the silhouette choosing k = 3, and the promised fallbacks (fewer
 * than 3 SKUs, identical SKUs, all-zero demand, bad input).
 */
import { describe, expect, it } from 'vitest'
import { chooseClustering, condensedDistances, meanSilhouette } from '../gateway/analytics/cluster.ts'
import { ForecastInputError } from '../gateway/analytics/forecast/model.ts'
import { abcClasses, demandPattern, segment, xyzClass, type SkuDemand } from '../gateway/analytics/segments.ts'
import { StockyardError } from '../gateway/core/errors.ts'

const classesOf = (values: number[], thresholds?: [number, number]): string[] => {
  const m = abcClasses(
    values.map((value, i) => ({ sku: `S${i}`, value })),
    thresholds,
  )
  return values.map((_, i) => m.get(`S${i}`)!.abc)
}

describe('ABC by value', () => {
  it('classes a hand-made Pareto list at 80 / 95 %', () => {
    // Total 1000; share ranked above each: 0, 0.5, 0.8, 0.9, 0.95, 0.98.
    expect(classesOf([500, 300, 100, 50, 30, 20])).toEqual(['A', 'A', 'B', 'B', 'C', 'C'])
  })

  it('keeps the SKU that crosses the A boundary in A, so the top SKU is always A', () => {
    // 90 % in one SKU: it is A (nothing ranked above it), the next (0.9 above) is B, the rest C.
    expect(classesOf([90, 5, 3, 2])).toEqual(['A', 'B', 'C', 'C'])
  })

  it('ranks by value whatever the input order, and reports shares', () => {
    const m = abcClasses([
      { sku: 'low', value: 20 },
      { sku: 'top', value: 500 },
      { sku: 'mid', value: 480 },
    ])
    expect(m.get('top')).toEqual({ abc: 'A', share: 0.5, cumulative: 0.5 })
    expect(m.get('mid')).toEqual({ abc: 'A', share: 0.48, cumulative: 0.98 })
    expect(m.get('low')).toEqual({ abc: 'C', share: 0.02, cumulative: 1 })
  })

  it('takes configurable thresholds', () => {
    expect(classesOf([500, 300, 100, 50, 30, 20], [0.5, 0.9])).toEqual(['A', 'B', 'B', 'C', 'C', 'C'])
  })

  it('puts SKUs without value in C, also when nothing has value', () => {
    expect(classesOf([0, 0, 0])).toEqual(['C', 'C', 'C'])
    expect(classesOf([10, 0])).toEqual(['A', 'C'])
  })
})

describe('XYZ by variability', () => {
  it('cuts at 0.5 and 1.0 inclusive by default', () => {
    expect([0, 0.5, 0.5001, 1, 1.01].map((cv) => xyzClass(cv))).toEqual(['X', 'X', 'Y', 'Y', 'Z'])
  })

  it('takes configurable thresholds', () => {
    expect([0.2, 0.3, 0.7].map((cv) => xyzClass(cv, [0.25, 0.6]))).toEqual(['X', 'Y', 'Z'])
  })

  it('calls an undefined CV (no demand, too short) Z', () => {
    expect(xyzClass(null)).toBe('Z')
  })
})

describe('demand pattern', () => {
  it('classes by ADI 1.32 and CV² 0.49 of non-zero sizes', () => {
    expect(demandPattern([5, 5, 5, 5])).toBe('smooth')
    // sizes 1 and 10: mean 5.5, variance 20.25, CV² 0.67.
    expect(demandPattern([1, 10, 1, 10])).toBe('erratic')
    expect(demandPattern([0, 0, 5, 0, 0, 5])).toBe('intermittent')
    expect(demandPattern([0, 0, 1, 0, 0, 10])).toBe('lumpy')
    expect(demandPattern([0, 0, 0])).toBe('none')
    expect(demandPattern([])).toBe('none')
  })
})

describe('silhouette', () => {
  it('matches a hand computation', () => {
    // [0], [1] | [10], [11]: a = 1 for every point; b = 10.5, 9.5, 9.5, 10.5.
    const s = meanSilhouette(condensedDistances([[0], [1], [10], [11]]), [0, 0, 1, 1])
    expect(s).toBeCloseTo((9.5 / 10.5 + 8.5 / 9.5) / 2, 12)
  })

  it('scores a point alone in its cluster 0', () => {
    // [0], [2] | [10]: point 0 a = 2, b = 10 → 0.8; point 1 a = 2, b = 8 → 0.75; point 2 alone → 0.
    const s = meanSilhouette(condensedDistances([[0], [2], [10]]), [0, 0, 1])
    expect(s).toBeCloseTo((0.8 + 0.75 + 0) / 3, 12)
  })

  it('chooses k by silhouette and puts one point per distinct value when that is best', () => {
    const c = chooseClustering([[0], [0.1], [5], [5.1], [20], [20.1]])
    expect(c.k).toBe(3)
    expect(c.candidates.map((x) => x.k)).toEqual([2, 3, 4, 5])
    expect(new Set(c.labels.slice(0, 2)).size).toBe(1)
    expect(c.labels[0]).not.toBe(c.labels[2])
    expect(c.labels[2]).not.toBe(c.labels[4])
  })

  it('gives one cluster when all points are the same', () => {
    expect(
      chooseClustering([
        [1, 2],
        [1, 2],
        [1, 2],
      ]),
    ).toEqual({ labels: [0, 0, 0], k: 1, silhouette: null, candidates: [] })
  })
})

const DAYS = 28
/** Fast movers: ~100-115 units a day, a little wobble. */
const fast = (s: number): number[] => Array.from({ length: DAYS }, (_, d) => 100 + s * 5 + (((d + s) % 3) - 1) * 2)
/** Every other day 4 or 5 units. */
const alternate = (s: number): number[] => Array.from({ length: DAYS }, (_, d) => ((d + s) % 2 === 0 ? 0 : 4 + (s % 2)))
/** One unit in four weeks. */
const rare = (s: number): number[] => Array.from({ length: DAYS }, (_, d) => (d === 3 + s ? 1 : 0))
const threeGroups: SkuDemand[] = [0, 1, 2, 3].flatMap((s) => [
  { sku: `F${s}`, demand: fast(s), unitValue: 2 },
  { sku: `I${s}`, demand: alternate(s), unitValue: 2 },
  { sku: `R${s}`, demand: rare(s), unitValue: 2 },
])

describe('segment', () => {
  const result = segment(threeGroups)

  it('finds three well-separated demand groups, with the silhouette choosing k = 3', () => {
    expect(result.clustering.k).toBe(3)
    const byGroup = (prefix: string): Set<number | null> => new Set(result.skus.filter((s) => s.sku.startsWith(prefix)).map((s) => s.cluster))
    expect(byGroup('F')).toEqual(new Set([0]))
    expect(byGroup('I')).toEqual(new Set([1]))
    expect(byGroup('R')).toEqual(new Set([2]))
    const best = Math.max(...result.clustering.candidates.map((c) => c.silhouette))
    expect(result.clustering.silhouette).toBe(best)
    expect(result.clustering.candidates.find((c) => c.k === 3)?.silhouette).toBe(best)
    // k runs 2..min(8, n − 1) = 2..8.
    expect(result.clustering.candidates.map((c) => c.k)).toEqual([2, 3, 4, 5, 6, 7, 8])
  })

  it('numbers clusters by falling mean demand and describes centroids in plain units', () => {
    const [c0, c1, c2] = result.clustering.clusters
    expect(result.clustering.clusters.map((c) => c.size)).toEqual([4, 4, 4])
    // Fast group means: 100, 105, 110, 115 plus wobble that averages to ~0 over 28 days.
    expect(c0!.centroid.meanDemand).toBeGreaterThan(100)
    expect(c0!.centroid.zeroShare).toBe(0)
    expect(c1!.centroid.meanDemand).toBeCloseTo(2.25, 12)
    expect(c1!.centroid.zeroShare).toBe(0.5)
    expect(c2!.centroid.meanDemand).toBeCloseTo(1 / 28, 12)
    expect(c2!.description).toMatch(/^0\.0357 units\/period, CV 5\.00, 96 % zero periods/)
  })

  it('labels each SKU with ABC, XYZ and pattern', () => {
    const f0 = result.skus.find((s) => s.sku === 'F0')!
    expect(f0).toMatchObject({ abc: 'A', xyz: 'X', label: 'AX', pattern: 'smooth' })
    expect(f0.features.annualValue).toBeCloseTo(f0.features.meanDemand * 365 * 2, 9)
    expect(result.skus.find((s) => s.sku === 'R0')).toMatchObject({ abc: 'C', xyz: 'Z', label: 'CZ', pattern: 'intermittent' })
    expect(result.skus.map((s) => s.sku)).toEqual(threeGroups.map((s) => s.sku))
  })

  it('is deterministic', () => {
    expect(segment(threeGroups)).toEqual(result)
  })

  it('does not cluster fewer than 3 SKUs, and says so', () => {
    const r = segment([
      { sku: 'a', demand: [1, 2, 3] },
      { sku: 'b', demand: [0, 0, 1] },
    ])
    expect(r.skus.map((s) => s.cluster)).toEqual([null, null])
    expect(r.skus.map((s) => s.abc)).toEqual(['A', 'B'])
    expect(r.clustering).toMatchObject({ k: 0, silhouette: null, clusters: [] })
    expect(r.clustering.note).toMatch(/at least 3/)
    expect(segment([]).skus).toEqual([])
  })

  it('puts identical SKUs in one cluster and breaks ABC ties by sku', () => {
    const same = ['e', 'd', 'c', 'b', 'a'].map((sku) => ({ sku, demand: [3, 4, 5, 4] }))
    const r = segment(same)
    expect(r.clustering.k).toBe(1)
    expect(r.clustering.silhouette).toBeNull()
    expect(r.clustering.note).toMatch(/same demand features/)
    expect(r.skus.every((s) => s.cluster === 0)).toBe(true)
    // 20 % each: a..d have < 80 % ranked above them, e has exactly 80 %.
    expect(Object.fromEntries(r.skus.map((s) => [s.sku, s.abc]))).toEqual({ a: 'A', b: 'A', c: 'A', d: 'A', e: 'B' })
  })

  it('handles all-zero demand: C, Z, no pattern, CV null, no NaN anywhere', () => {
    const r = segment(['x', 'y', 'z'].map((sku) => ({ sku, demand: [0, 0, 0, 0] })))
    expect(r.skus.map((s) => s.label)).toEqual(['CZ', 'CZ', 'CZ'])
    expect(r.skus.every((s) => s.pattern === 'none' && s.features.cv === null && s.cluster === 0)).toBe(true)
    expect(JSON.stringify(r)).not.toMatch(/NaN|Infinity/)
    expect(JSON.stringify(result)).not.toMatch(/NaN|Infinity/)
  })

  it('takes ABC and XYZ thresholds from options', () => {
    const r = segment(threeGroups, { abc: [0.1, 0.2], xyz: [0.001, 0.002] })
    expect(r.skus.find((s) => s.sku === 'F3')?.label).toBe('AZ')
    expect(r.skus.find((s) => s.sku === 'F0')?.abc).toBe('C')
    expect(r.settings.abc).toEqual([0.1, 0.2])
  })

  it('rejects NaN or negative demand with ForecastInputError', () => {
    expect(() => segment([{ sku: 'a', demand: [1, Number.NaN] }])).toThrow(ForecastInputError)
    expect(() => segment([{ sku: 'a', demand: [1, -1] }])).toThrow(/a: demand 1 is -1/)
    expect(() => segment([{ sku: 'a', demand: [1], unitValue: Number.NaN }])).toThrow(ForecastInputError)
  })

  it('rejects bad options and repeated SKUs as request.invalid, naming every problem', () => {
    const err = (() => {
      try {
        segment([], { abc: [0.95, 0.8], xyz: [1, 0.5] })
      } catch (e) {
        return e
      }
      return undefined
    })()
    expect(err).toBeInstanceOf(StockyardError)
    expect((err as StockyardError).code).toBe('request.invalid')
    expect((err as StockyardError).message).toMatch(/abc \[0\.95, 0\.8\].*xyz \[1, 0\.5\]/)
    expect(() =>
      segment([
        { sku: 'a', demand: [1] },
        { sku: 'a', demand: [2] },
      ]),
    ).toThrow(/sku a appears twice/)
  })
})
