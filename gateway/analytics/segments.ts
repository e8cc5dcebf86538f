/**
 * SKU segmentation: ABC by value (Pareto), XYZ by demand variability, a demand pattern
 * (smooth / erratic / intermittent / lumpy, after Syntetos–Boylan) and K-means clusters of demand
 * features with k chosen by silhouette. Labels such as 'AX' or 'CZ' are plain strings for rules and
 * dashboards. Pure and synchronous; results are plain JSON (no NaN, no ±Infinity).
 */
import { StockyardError } from '../core/errors.ts'
import { chooseClustering, type KChoice } from './cluster.ts'
import { ForecastInputError } from './forecast/model.ts'
import { autocorrelation, describe } from './stats.ts'

export type Abc = 'A' | 'B' | 'C'
export type Xyz = 'X' | 'Y' | 'Z'
export type AbcXyz = `${Abc}${Xyz}`
/** Syntetos–Boylan class: ADI = periods per non-zero period (cut 1.32), CV² of the non-zero sizes (cut 0.49); 'none' without demand. */
export type DemandPattern = 'smooth' | 'erratic' | 'intermittent' | 'lumpy' | 'none'

/** One SKU's demand history: units per period (all periods the same length, e.g. days), oldest first. */
export interface SkuDemand {
  sku: string
  demand: readonly number[]
  /** Value of one unit (price or cost) for ABC; default 1, which makes ABC rank by volume. */
  unitValue?: number
}

export interface SegmentOptions {
  /** Cumulative value share that ends class A and class B (default [0.8, 0.95]), 0 < a < b ≤ 1. */
  abc?: readonly [number, number]
  /** CV of demand per period that ends class X and class Y (default [0.5, 1]), 0 < x < y. */
  xyz?: readonly [number, number]
  /** Periods per year, to turn mean demand into annual value (default 365, for daily demand). */
  periodsPerYear?: number
  /** Seasonal period in periods for the seasonality feature (default 7, weekly for daily demand; 1 = none). */
  seasonPeriod?: number
  /** Largest k tried (default 8). */
  maxK?: number
  /** K-means seed (default 42): the same input gives the same clusters. */
  seed?: number
}

/** Per-SKU demand features, in plain units. */
export interface SkuFeatures {
  periods: number
  /** Mean units per period. */
  meanDemand: number
  /** meanDemand × periodsPerYear × unitValue. */
  annualValue: number
  /** This SKU's share of the total annual value, in [0, 1]. */
  valueShare: number
  /** Share of value of this SKU and every SKU ranked above it. */
  cumulativeShare: number
  /** CV of demand per period (sample sd / mean); null without demand or with fewer than 2 periods. */
  cv: number | null
  /** Share of periods with no demand. */
  zeroShare: number
  /** Trend slope as a share of the mean per period; null without demand or with fewer than 2 periods. */
  relativeTrend: number | null
  /** Autocorrelation at the seasonal period, floored at 0; 0 when the history is shorter than two seasons. */
  seasonality: number
}

export interface SkuSegment {
  sku: string
  abc: Abc
  xyz: Xyz
  /** abc + xyz, e.g. 'AX'. */
  label: AbcXyz
  pattern: DemandPattern
  /** K-means cluster (0 = highest mean demand); null when clustering was skipped. */
  cluster: number | null
  features: SkuFeatures
}

/**
 * A cluster described by the mean features of its members, in plain units: mean demand as is; CV,
 * relative trend and seasonality as clustered (CV 0 without demand and at most 5, trend within ±1).
 */
export interface ClusterSummary {
  id: number
  size: number
  centroid: { meanDemand: number; cv: number; zeroShare: number; relativeTrend: number; seasonality: number }
  /** e.g. '12.5 units/period, CV 0.31, 4 % zero periods, trend +0.10 %/period, seasonality 0.42' (3 significant digits of demand). */
  description: string
}

export interface Clustering {
  k: number
  /** Mean silhouette of the chosen k, in [-1, 1]; null when not clustered or k = 1. */
  silhouette: number | null
  /** Every k tried with its mean silhouette. */
  candidates: KChoice[]
  clusters: ClusterSummary[]
  /** Why clustering was skipped or degenerate, else null. */
  note: string | null
}

export interface Segmentation {
  /** In input order. */
  skus: SkuSegment[]
  clustering: Clustering
  settings: { abc: [number, number]; xyz: [number, number]; periodsPerYear: number; seasonPeriod: number }
}

/** Caps applied to clustering features only (not to the reported features), so one wild SKU does not own a whole axis. */
const CV_CAP = 5
const TREND_CAP = 1

/**
 * Segments SKUs by ABC, XYZ, demand pattern and K-means cluster.
 *
 * - ABC: SKUs ranked by annual value (ties by sku); a SKU is A while the share of value ranked above
 *   it is below `abc[0]`, B while below `abc[1]`, else C. So the SKU that crosses 80 % is still A and
 *   the top SKU is always A. SKUs with no value are C.
 * - XYZ: CV ≤ xyz[0] is X, ≤ xyz[1] is Y, else Z. No demand or fewer than 2 periods (CV undefined) is Z.
 * - Clusters: k-means on standardised [log(1 + mean demand), CV (0 without demand, capped at 5),
 *   zero share, relative trend (capped at ±1), seasonality], k = 2..min(maxK, n − 1) chosen by
 *   silhouette. Fewer than 3 SKUs: not clustered (`cluster` null). All SKUs alike: one cluster 0.
 *
 * Throws StockyardError 'request.invalid' for bad options or a repeated sku, ForecastInputError for
 * a non-finite or negative demand or unit value.
 */
export function segment(skus: readonly SkuDemand[], options: SegmentOptions = {}): Segmentation {
  const settings = checkOptions(options)
  const seen = new Set<string>()
  for (const s of skus) {
    if (seen.has(s.sku)) throw new StockyardError('request.invalid', `sku ${s.sku} appears twice; give each SKU once`)
    seen.add(s.sku)
  }
  const rows = skus.map((s) => ({ sku: s.sku, ...baseFeatures(s, settings.periodsPerYear, settings.seasonPeriod) }))
  const classes = abcClasses(
    rows.map((r) => ({ sku: r.sku, value: r.annualValue })),
    settings.abc,
  )
  const clustered = clusterFeatures(rows, options)
  const out: SkuSegment[] = rows.map((r, i) => {
    const c = classes.get(r.sku)!
    const xyz = xyzClass(r.cv, settings.xyz)
    const features: SkuFeatures = {
      periods: r.periods,
      meanDemand: r.meanDemand,
      annualValue: r.annualValue,
      valueShare: c.share,
      cumulativeShare: c.cumulative,
      cv: r.cv,
      zeroShare: r.zeroShare,
      relativeTrend: r.relativeTrend,
      seasonality: r.seasonality,
    }
    return { sku: r.sku, abc: c.abc, xyz, label: `${c.abc}${xyz}`, pattern: r.pattern, cluster: clustered.labels?.[i] ?? null, features }
  })
  return { skus: out, clustering: clustered.clustering, settings }
}

/**
 * ABC classes by Pareto over `value` (see `segment`). Returns, per sku, its class, its share of the
 * total and the cumulative share including it. All values 0: everything is C with share 0.
 * @example
 * abcClasses([{ sku: 'a', value: 90 }, { sku: 'b', value: 5 }, { sku: 'c', value: 5 }], [0.8, 0.95]).get('b')?.abc // 'B'
 */
export function abcClasses(
  items: readonly { sku: string; value: number }[],
  [a, b]: readonly [number, number] = [0.8, 0.95],
): Map<string, { abc: Abc; share: number; cumulative: number }> {
  const ranked = [...items].sort((x, y) => y.value - x.value || (x.sku < y.sku ? -1 : x.sku > y.sku ? 1 : 0))
  const total = ranked.reduce((s, r) => s + r.value, 0)
  const out = new Map<string, { abc: Abc; share: number; cumulative: number }>()
  let before = 0
  for (const r of ranked) {
    // Shares from running sums of the raw values, so 500 + 300 of 1000 is exactly 0.8.
    const above = total > 0 ? before / total : 1
    before += r.value
    const abc: Abc = r.value <= 0 ? 'C' : above < a ? 'A' : above < b ? 'B' : 'C'
    out.set(r.sku, { abc, share: total > 0 ? r.value / total : 0, cumulative: total > 0 ? before / total : 0 })
  }
  return out
}

/** XYZ class of a coefficient of variation; null (no demand, too short) is Z. */
export function xyzClass(cv: number | null, [x, y]: readonly [number, number] = [0.5, 1]): Xyz {
  if (cv === null) return 'Z'
  return cv <= x ? 'X' : cv <= y ? 'Y' : 'Z'
}

/**
 * Syntetos–Boylan demand pattern: ADI (periods per non-zero period) against 1.32 and the squared CV
 * of the non-zero demand sizes (population sd) against 0.49.
 * @example
 * demandPattern([0, 0, 5, 0, 0, 5]) // 'intermittent' (ADI 3, sizes constant)
 */
export function demandPattern(demand: readonly number[]): DemandPattern {
  const sizes = demand.filter((x) => x > 0)
  if (sizes.length === 0) return 'none'
  const adi = demand.length / sizes.length
  const m = sizes.reduce((s, x) => s + x, 0) / sizes.length
  const cv2 = sizes.reduce((s, x) => s + (x - m) ** 2, 0) / sizes.length / (m * m)
  if (adi < 1.32) return cv2 < 0.49 ? 'smooth' : 'erratic'
  return cv2 < 0.49 ? 'intermittent' : 'lumpy'
}

interface BaseRow {
  sku: string
  periods: number
  meanDemand: number
  annualValue: number
  cv: number | null
  zeroShare: number
  relativeTrend: number | null
  seasonality: number
  pattern: DemandPattern
}

function baseFeatures(s: SkuDemand, periodsPerYear: number, seasonPeriod: number): Omit<BaseRow, 'sku'> {
  const unitValue = s.unitValue ?? 1
  if (!Number.isFinite(unitValue) || unitValue < 0) throw new ForecastInputError(`${s.sku}: unitValue ${unitValue} must be a finite number ≥ 0`)
  const bad = s.demand.findIndex((x) => !Number.isFinite(x) || x < 0)
  if (bad >= 0) throw new ForecastInputError(`${s.sku}: demand ${bad} is ${s.demand[bad]}; demand must be finite and ≥ 0 (fill gaps with 0 or drop them)`)
  const d = describe(s.demand)
  const meanDemand = d.mean ?? 0
  const hasDemand = meanDemand > 0
  const seasonality = seasonPeriod > 1 && s.demand.length >= 2 * seasonPeriod ? Math.max(0, autocorrelation(s.demand, seasonPeriod)) : 0
  return {
    periods: d.n,
    meanDemand,
    annualValue: meanDemand * periodsPerYear * unitValue,
    cv: hasDemand ? d.cv : null,
    zeroShare: d.zeroShare ?? 0,
    relativeTrend: hasDemand ? (d.trend?.relative ?? null) : null,
    seasonality,
    pattern: demandPattern(s.demand),
  }
}

/** The vector k-means sees for one SKU, before standardisation. */
function clusterVector(r: BaseRow): number[] {
  const clamp = (x: number, cap: number): number => Math.max(-cap, Math.min(cap, x))
  return [Math.log1p(r.meanDemand), Math.min(r.cv ?? 0, CV_CAP), r.zeroShare, clamp(r.relativeTrend ?? 0, TREND_CAP), r.seasonality]
}

function clusterFeatures(rows: readonly BaseRow[], options: SegmentOptions): { labels: number[] | null; clustering: Clustering } {
  if (rows.length < 3) {
    const note = `not clustered: ${rows.length} SKU${rows.length === 1 ? '' : 's'}, clustering needs at least 3`
    return { labels: null, clustering: { k: 0, silhouette: null, candidates: [], clusters: [], note } }
  }
  const raw = rows.map(clusterVector)
  const chosen = chooseClustering(standardise(raw), { maxK: options.maxK ?? 8, seed: options.seed ?? 42 })
  // Renumber clusters by falling mean demand, so cluster 0 is the fast movers on every run.
  const summaries = summarise(rows, chosen.labels, chosen.k)
  const order = summaries.map((s, i) => ({ s, i })).sort((x, y) => y.s.centroid.meanDemand - x.s.centroid.meanDemand || x.i - y.i)
  const rename = new Map(order.map((o, id) => [o.i, id]))
  const labels = chosen.labels.map((l) => rename.get(l)!)
  const clusters = order.map((o, id) => ({ ...o.s, id }))
  const note = chosen.k === 1 ? 'all SKUs have the same demand features: one cluster' : null
  return { labels, clustering: { k: chosen.k, silhouette: chosen.silhouette, candidates: chosen.candidates, clusters, note } }
}

/** Z-scores per column (population sd); a constant column becomes all 0, as it tells SKUs nothing apart. */
function standardise(raw: readonly number[][]): number[][] {
  const dims = raw[0]!.length
  const cols = Array.from({ length: dims }, (_, d) => raw.map((r) => r[d]!))
  const stats = cols.map((c) => {
    const m = c.reduce((s, x) => s + x, 0) / c.length
    const sd = Math.sqrt(c.reduce((s, x) => s + (x - m) ** 2, 0) / c.length)
    return { m, sd: sd > 1e-12 * Math.max(1, Math.abs(m)) ? sd : 0 }
  })
  return raw.map((r) => r.map((x, d) => (stats[d]!.sd === 0 ? 0 : (x - stats[d]!.m) / stats[d]!.sd)))
}

function summarise(rows: readonly BaseRow[], labels: readonly number[], k: number): ClusterSummary[] {
  return Array.from({ length: k }, (_, id) => {
    const members = rows.filter((_, i) => labels[i] === id).map(clusterVector)
    const avg = (d: number): number => members.reduce((s, v) => s + v[d]!, 0) / members.length
    const meanDemand = rows.filter((_, i) => labels[i] === id).reduce((s, r) => s + r.meanDemand, 0) / members.length
    const centroid = { meanDemand, cv: avg(1), zeroShare: avg(2), relativeTrend: avg(3), seasonality: avg(4) }
    return { id, size: members.length, centroid, description: describeCentroid(centroid) }
  })
}

function describeCentroid(c: ClusterSummary['centroid']): string {
  const sign = c.relativeTrend >= 0 ? '+' : ''
  return (
    `${Number(c.meanDemand.toPrecision(3))} units/period, CV ${c.cv.toFixed(2)}, ${Math.round(c.zeroShare * 100)} % zero periods, ` +
    `trend ${sign}${(c.relativeTrend * 100).toFixed(2)} %/period, seasonality ${c.seasonality.toFixed(2)}`
  )
}

function checkOptions(o: SegmentOptions): Segmentation['settings'] {
  const [a, b] = o.abc ?? [0.8, 0.95]
  const [x, y] = o.xyz ?? [0.5, 1]
  const periodsPerYear = o.periodsPerYear ?? 365
  const seasonPeriod = o.seasonPeriod ?? 7
  const problems: string[] = []
  if (!(a > 0 && a < b && b <= 1)) problems.push(`abc [${a}, ${b}]: need 0 < A boundary < B boundary ≤ 1, e.g. [0.8, 0.95]`)
  if (!(x > 0 && x < y && Number.isFinite(y))) problems.push(`xyz [${x}, ${y}]: need 0 < X boundary < Y boundary, e.g. [0.5, 1]`)
  if (!(periodsPerYear > 0 && Number.isFinite(periodsPerYear))) problems.push(`periodsPerYear ${periodsPerYear}: need a number > 0, e.g. 365 for daily demand`)
  if (!(Number.isInteger(seasonPeriod) && seasonPeriod >= 1)) problems.push(`seasonPeriod ${seasonPeriod}: need a whole number ≥ 1 (1 = none)`)
  if (o.maxK !== undefined && !(Number.isInteger(o.maxK) && o.maxK >= 2)) problems.push(`maxK ${o.maxK}: need a whole number ≥ 2`)
  if (problems.length > 0) throw new StockyardError('request.invalid', problems.join('; '), { problems })
  return { abc: [a, b], xyz: [x, y], periodsPerYear, seasonPeriod }
}
