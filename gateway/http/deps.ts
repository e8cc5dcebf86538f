/** What the HTTP API needs from the rest of the gateway; passed in once by whoever builds the app. */
import type { Config } from '../config/schema.ts'
import type { Clock } from '../core/clock.ts'
import type { Logger } from '../core/log.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { DeadLetterLog, DeviceRegistry, SeriesStore, TokenStore } from '../store/types.ts'

export interface HttpDeps {
  config: Readonly<Config>
  store: SeriesStore
  devices: Pick<DeviceRegistry, 'list' | 'get'>
  deadLetters: DeadLetterLog
  tokens: Pick<TokenStore, 'verify'>
  metrics: GatewayMetrics
  /** readiness of the components: broker listening, store open */
  ready(): { ready: boolean; checks: Record<string, boolean> }
  clock?: Clock
  /** Awaited before reading rollups, so they include everything acknowledged (the writer flushes). */
  beforeRead?: () => Promise<void>
  /** Where unexpected (500) errors are logged; `console.error` when omitted. */
  log?: Pick<Logger, 'error'>
}
