/**
 * Latency samples in a growable Float64Array, summarised by sorting once at the end. Exact
 * nearest-rank percentiles; fine up to a few million samples (8 bytes each, one numeric sort).
 */
import type { LatencySummary } from './types.ts'

export class LatencyRecorder {
  private data = new Float64Array(65_536)
  private n = 0
  /** Samples offered after `maxSamples` was reached: counted, not kept. */
  dropped = 0

  constructor(private readonly maxSamples: number) {}

  /** Record one latency in milliseconds. */
  record(ms: number): void {
    if (this.n === this.data.length) {
      if (this.n >= this.maxSamples) {
        this.dropped++
        return
      }
      const bigger = new Float64Array(Math.min(this.data.length * 2, this.maxSamples))
      bigger.set(this.data)
      this.data = bigger
    }
    this.data[this.n++] = ms
  }

  /** Sort and summarise; all zeros when nothing was recorded. */
  summary(): LatencySummary {
    const n = this.n
    if (n === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0, samples: 0 }
    const s = this.data.subarray(0, n).sort()
    let sum = 0
    for (let i = 0; i < n; i++) sum += s[i]!
    const at = (q: number): number => s[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[n - 1]!, mean: sum / n, samples: n }
  }
}
