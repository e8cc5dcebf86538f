/**
 * Composition root: opens the store, starts ingest, the broker and the HTTP API, and runs the
 * background jobs (retention, device re-checks). `stop()` closes listeners first, commits what is
 * queued, then closes the store, so a clean shutdown loses nothing that was acknowledged.
 */
import type { Config } from './config/schema.ts'
import type { Logger } from './core/log.ts'
import { startBroker, type Broker, type BrokerOptions } from './broker/index.ts'
import { createHttpApp, startHttpServer } from './http/index.ts'
import { IngestPipeline } from './ingest/pipeline.ts'
import { GatewayMetrics } from './metrics.ts'
import { openSqliteStore, type SqliteStore } from './store/sqlite/index.ts'

const DAY = 86_400_000

export interface Gateway {
  readonly config: Readonly<Config>
  readonly ports: { mqtt: number; ws: number; http: number; tls?: number }
  readonly store: SqliteStore
  readonly pipeline: IngestPipeline
  readonly broker: Broker
  readonly metrics: GatewayMetrics
  stop(): Promise<void>
}

export interface StartOptions {
  logger: Logger
  now?: () => number
  broker?: BrokerOptions
}

/** Start a gateway from validated config. */
export async function startGateway(config: Readonly<Config>, opts: StartOptions): Promise<Gateway> {
  const { logger } = opts
  const now = opts.now ?? Date.now
  const store = openSqliteStore({
    dataDir: config.dataDir,
    synchronous: config.store.synchronous,
    deadLetterMax: config.ingest.deadLetterMax,
    retention: {
      ...config.store.retention,
      // Keys older than the accepted past age can never match a new message.
      keyMaxAgeMs: config.ingest.maxPastAgeMs + DAY,
    },
    now,
    writer: true,
  })
  const metrics = new GatewayMetrics()
  const pipeline = new IngestPipeline({ config, series: store.series, devices: store.devices, metrics, logger: logger.child({ c: 'ingest' }), now })
  let broker: Broker
  try {
    broker = await startBroker({ config, devices: store.devices, pipeline, metrics, logger: logger.child({ c: 'broker' }) }, opts.broker)
  } catch (err) {
    store.close()
    throw err
  }
  let stopping = false
  const http = await startHttpServer(
    createHttpApp({
      config,
      store: store.series,
      devices: store.devices,
      deadLetters: store.deadLetters,
      tokens: store.tokens,
      metrics,
      ready: () => ({ ready: !stopping, checks: { broker: !stopping, store: !stopping } }),
      clock: { now },
      log: logger.child({ c: 'http' }),
    }),
    config.host,
    config.http.port,
  )

  // Disable/rotate through this process's registry: drop live sessions now (data_version misses own writes).
  store.devices.onRevoked(() => {
    try {
      broker.recheckDevices()
    } catch (err) {
      logger.error({ err }, 'device re-check failed')
    }
  })

  // Background: retention in bounded steps, and noticing CLI changes to devices (data_version).
  let version = store.dataVersion()
  const watch = setInterval(() => {
    const v = store.dataVersion()
    if (v !== version) {
      version = v
      broker.recheckDevices()
    }
  }, 1000)
  const sweep = setInterval(() => {
    try {
      const n = store.series.enforceRetention(now(), 20)
      if (n > 0) metrics.retentionDeleted.inc({ table: 'all' }, n)
    } catch (err) {
      logger.error({ err }, 'retention sweep failed')
    }
  }, config.store.retention.intervalMs)
  const rollups = setInterval(() => {
    try {
      store.series.flushRollups()
    } catch (err) {
      logger.error({ err }, 'rollup flush failed; will retry')
    }
  }, config.store.rollupFlushMs)
  watch.unref()
  sweep.unref()
  rollups.unref()

  const ports = { ...broker.ports, http: http.port }
  if (config.mqtt.allowAnonymous) logger.warn('anonymous MQTT access is ON: for development and conformance testing only')
  logger.info({ ports, host: config.host, dataDir: config.dataDir, site: config.site }, 'stockyard ready')

  return {
    config,
    ports,
    store,
    pipeline,
    broker,
    metrics,
    async stop() {
      if (stopping) return
      stopping = true
      clearInterval(watch)
      clearInterval(sweep)
      clearInterval(rollups)
      // Commit (and so acknowledge) what is queued, then close the connections.
      pipeline.close()
      await broker.close()
      await http.close()
      store.close()
      logger.info('stockyard stopped')
    },
  }
}
