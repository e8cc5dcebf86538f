/** Messages between the broker thread (AnalyticsHost) and the analytics worker. */
import type { DispatchOutlook } from './dispatch.ts'

/** Why a run was started. */
export type RunReason = 'nightly' | 'start' | 'request'

/** What a finished run reports (also stored as the `run` result). */
export interface RunSummary {
  reason: RunReason
  /** Gateway clock at start and end (epoch ms; simulated time when the gateway runs on it). */
  startedAt: number
  finishedAt: number
  /** Real (wall-clock) seconds the run took. */
  seconds: number
  skus: number
  /** SKUs per fitted method, e.g. {"ets(A,N,A)": 12, "sba": 30}. */
  methods: Record<string, number>
  /** SKUs whose fit failed (logged; they keep no forecast). */
  failed: number
  /** Policy changes suggested by this run (applied by the host when `analytics.policy` is `apply`). */
  changes: Array<{ sku: string; patch: { reorder_point: number; safety_stock: number } }>
}

export type ToAnalyticsWorker = { type: 'run'; reason: RunReason } | { type: 'close' }

export type FromAnalyticsWorker =
  | { type: 'ready'; lastRunAt: number | null }
  | { type: 'dispatch'; outlook: DispatchOutlook[] }
  | { type: 'progress'; done: number; total: number }
  | { type: 'done'; summary: RunSummary }
  | { type: 'failed'; error: string }
  | { type: 'fatal'; error: string }
