/** What the HTTP API needs from the rest of the gateway; passed in once by whoever builds the app. */
import type { Database } from 'better-sqlite3'
import type { Config } from '../config/schema.ts'
import type { Clock } from '../core/clock.ts'
import { StockyardError } from '../core/errors.ts'
import type { Logger } from '../core/log.ts'
import type { IngestPipeline } from '../ingest/pipeline.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { ReplicatorStats } from '../sink/replicator.ts'
import type { DeadLetterLog, DeviceRegistry, SeriesStore } from '../store/types.ts'
import type { AnalyticsDeps } from './analytics.ts'
import type { TokenVerifier } from './auth.ts'
import type { DashboardsDeps } from './dashboards.ts'
import type { HqPages } from '../hq/pages.ts'
import type { LiveFeed } from './live.ts'
import type { NodeRedDeps } from './nodered.ts'

/**
 * The warehouse state and the rule engine. Reads (alerts, silences, stock, shipments, SKUs) go to a
 * reader connection; changes (acks, silences, rule and SKU edits) are calls into the rule runtime on
 * the ingest worker, the store's one writer, which answers once they are committed.
 */
export interface WarehouseDeps {
  /** A reader connection to the store; never written through, but for HQ's acknowledgements (one meta row per stream). */
  db: Database
  runtime: Pick<IngestPipeline, 'call'>
}

export interface HttpDeps {
  config: Readonly<Config>
  store: SeriesStore
  devices: Pick<DeviceRegistry, 'list' | 'get'>
  deadLetters: DeadLetterLog
  /** Verifies bearer tokens; with `list`, changes record the token's name rather than its id. */
  tokens: TokenVerifier
  metrics: GatewayMetrics
  /** readiness of the components: broker listening, store open */
  ready(): { ready: boolean; checks: Record<string, boolean> }
  clock?: Clock
  /** Awaited before reading rollups, so they include everything acknowledged (the writer flushes). */
  beforeRead?: () => Promise<void>
  /** Where unexpected (500) errors are logged; `console.error` when omitted. */
  log?: Pick<Logger, 'error'>
  /** When the gateway started (epoch ms), for /api/v1/status. */
  startedAt?: number
  /** InfluxDB replication as last reported by the sink worker, and whether that worker runs; null when replication is off. */
  sinkStats?: () => (Partial<ReplicatorStats> & { running: boolean }) | null
  /** Alerts, stock, shipments, SKUs and rules; without it those routes answer 503. */
  warehouse?: WarehouseDeps
  /** The analytics worker's host (status, dispatch outlook, re-fit); without it those routes answer 503. */
  analytics?: AnalyticsDeps
  /** The dashboard definitions; without them `GET /api/v1/dashboards` answers 503. */
  dashboards?: DashboardsDeps
  /** Alert changes and data ticks for `GET /api/v1/live`. */
  live?: LiveFeed
  /** HQ's NDJSON pulls read on a thread of their own; without it they read on this one, page by page. */
  hqPages?: Pick<HqPages, 'page'>
  /** Embedded Node-RED behind `/red` and `/hooks` (admin); without it those paths are 404. */
  nodeRed?: NodeRedDeps
}

/** `deps.warehouse`, or a 503 when this app was built without it. */
export function warehouseOf(deps: HttpDeps): WarehouseDeps {
  if (!deps.warehouse) throw new StockyardError('store.failed', 'the warehouse state and rule engine are not available in this process')
  return deps.warehouse
}
