/**
 * K-means with the number of clusters chosen by mean silhouette: the clustering step of SKU
 * segmentation (`segments.ts`), kept apart because it knows nothing about SKUs. Pure, synchronous
 * and deterministic: the same points and seed give the same labels.
 */
import { kmeans } from 'ml-kmeans'

export interface KChoice {
  k: number
  /** Mean silhouette of the best of the seeded runs for this k, in [-1, 1]. */
  silhouette: number
}

export interface ChosenClustering {
  /** Cluster of each point, 0..k-1, every cluster non-empty. */
  labels: number[]
  k: number
  /** Mean silhouette of the chosen clustering; null when k = 1 (silhouette needs two clusters). */
  silhouette: number | null
  /** Every k tried, in order; empty when there was nothing to choose. */
  candidates: KChoice[]
}

export interface ChooseOptions {
  /** Largest k tried (default 8); k also stays ≤ n − 1 and ≤ the number of distinct points. */
  maxK?: number
  /** Seed of the k-means++ initialisation (default 42); run r of each k uses seed + r. */
  seed?: number
  /** Seeded runs per k; the one with the lowest within-cluster sum of squares is kept (default 4). */
  runs?: number
  /** Silhouettes are computed on at most this many points, an evenly spaced subset (default 2000): the cost is quadratic. */
  silhouetteSample?: number
}

/**
 * Clusters `points` (already standardised: Euclidean distance is used as is) with k-means for
 * k = 2..min(maxK, n − 1, distinct points) and keeps the k with the highest mean silhouette (ties go
 * to the smaller k). With fewer than 2 distinct points every point is in cluster 0 (k = 1).
 * @example
 * chooseClustering([[0], [0.1], [5], [5.1]]).k // 2
 */
export function chooseClustering(points: readonly (readonly number[])[], options: ChooseOptions = {}): ChosenClustering {
  const n = points.length
  const distinct = new Set(points.map((p) => p.join(','))).size
  const maxK = Math.min(options.maxK ?? 8, n - 1, distinct)
  if (maxK < 2) return { labels: points.map(() => 0), k: 1, silhouette: null, candidates: [] }
  const data = points.map((p) => [...p])
  const sample = evenSample(n, options.silhouetteSample ?? 2000)
  const distances = condensedDistances(sample.map((i) => data[i]!))
  const runs = Math.max(1, options.runs ?? 4)
  const seed = options.seed ?? 42
  const candidates: KChoice[] = []
  let best: ChosenClustering | undefined
  for (let k = 2; k <= maxK; k++) {
    let labels: number[] = []
    let inertia = Infinity
    for (let r = 0; r < runs; r++) {
      const result = kmeans(data, k, { seed: seed + r, initialization: 'kmeans++', maxIterations: 300 })
      const compact = compactLabels(result.clusters)
      const sse = withinSumOfSquares(data, compact)
      if (sse < inertia - 1e-12) [labels, inertia] = [compact, sse]
    }
    const used = Math.max(...labels) + 1
    const score = meanSilhouette(
      distances,
      sample.map((i) => labels[i]!),
    )
    candidates.push({ k: used, silhouette: score })
    if (best === undefined || score > (best.silhouette ?? -Infinity) + 1e-12) best = { labels, k: used, silhouette: score, candidates }
  }
  return { ...best!, candidates }
}

/**
 * Mean silhouette (Rousseeuw 1987) of a labelling, from a condensed distance matrix (see
 * `condensedDistances`). For point i, a = mean distance to the other members of its cluster, b = the
 * smallest mean distance to another cluster, s = (b − a) / max(a, b); a point alone in its cluster
 * scores 0, as does a point with a = b = 0. Returns 0 when there is only one cluster.
 */
export function meanSilhouette(distances: Float64Array, labels: readonly number[]): number {
  const n = labels.length
  const k = Math.max(...labels) + 1
  if (k < 2) return 0
  const sizes = new Array<number>(k).fill(0)
  for (const l of labels) sizes[l]!++
  let total = 0
  const sums = new Array<number>(k)
  for (let i = 0; i < n; i++) {
    sums.fill(0)
    for (let j = 0; j < n; j++) if (j !== i) sums[labels[j]!]! += distances[pairIndex(i, j, n)]!
    const own = labels[i]!
    if (sizes[own]! < 2) continue
    const a = sums[own]! / (sizes[own]! - 1)
    let b = Infinity
    for (let c = 0; c < k; c++) if (c !== own && sizes[c]! > 0) b = Math.min(b, sums[c]! / sizes[c]!)
    const m = Math.max(a, b)
    if (m > 0 && Number.isFinite(b)) total += (b - a) / m
  }
  return total / n
}

/** Euclidean distances of all pairs i < j, row by row: entry (i, j) is at `pairIndex(i, j, n)`. */
export function condensedDistances(points: readonly (readonly number[])[]): Float64Array {
  const n = points.length
  const out = new Float64Array((n * (n - 1)) / 2)
  for (let i = 0; i < n; i++) {
    const p = points[i]!
    for (let j = i + 1; j < n; j++) {
      const q = points[j]!
      let s = 0
      for (let d = 0; d < p.length; d++) s += (p[d]! - q[d]!) ** 2
      out[pairIndex(i, j, n)] = Math.sqrt(s)
    }
  }
  return out
}

function pairIndex(i: number, j: number, n: number): number {
  const [a, b] = i < j ? [i, j] : [j, i]
  return a * n - (a * (a + 1)) / 2 + (b - a - 1)
}

/** Renumbers labels 0..m-1 in order of first appearance, dropping empty clusters. */
function compactLabels(labels: readonly number[]): number[] {
  const map = new Map<number, number>()
  return labels.map((l) => {
    if (!map.has(l)) map.set(l, map.size)
    return map.get(l)!
  })
}

function withinSumOfSquares(data: readonly number[][], labels: readonly number[]): number {
  const k = Math.max(...labels) + 1
  const dim = data[0]!.length
  const sums = Array.from({ length: k }, () => new Array<number>(dim).fill(0))
  const sizes = new Array<number>(k).fill(0)
  data.forEach((p, i) => {
    sizes[labels[i]!]!++
    p.forEach((x, d) => (sums[labels[i]!]![d]! += x))
  })
  let sse = 0
  data.forEach((p, i) => p.forEach((x, d) => (sse += (x - sums[labels[i]!]![d]! / sizes[labels[i]!]!) ** 2)))
  return sse
}

/** Indices 0..n-1, or `max` of them evenly spaced when n > max. */
function evenSample(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i)
  return Array.from({ length: max }, (_, i) => Math.floor((i * n) / max))
}
