/** Messages between the broker thread and the sink worker (replication to InfluxDB). */
import type { LaneName } from './sources.ts'
import type { ReplicatorStats } from './replicator.ts'

export type ToSinkWorker = { type: 'close' }

export type FromSinkWorker =
  | { type: 'ready' }
  /** Every second: lag and counters, for /metrics and /api/v1/status. */
  | { type: 'stats'; stats: ReplicatorStats }
  /** Unreplicated rows of a lane came within `influx.retentionWarnMs` of retention, or no longer are. */
  | { type: 'risk'; lane: LaneName; atRisk: boolean; lagRows: number; expiresAt: number | null; target: string }
  | { type: 'fatal'; error: string }
