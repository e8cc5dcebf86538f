/**
 * Composition root: starts the ingest worker (the store's one writer), the broker and the HTTP API,
 * and watches the device registry for revocations made elsewhere. `stop()` closes the listeners,
 * commits and acknowledges what is queued, then closes the store, so a clean shutdown loses nothing
 * that was acknowledged.
 */
import type { Duplex } from 'node:stream'
import { AlertBus, deliverNotices } from './alerts/bus.ts'
import { openAnalyticsDb } from './analytics/db.ts'
import { AnalyticsHost } from './analytics/host.ts'
import type { Config } from './config/schema.ts'
import { StockyardError } from './core/errors.ts'
import { clockOf } from './core/clock.ts'
import type { Logger } from './core/log.ts'
import { startBroker, type Broker, type BrokerOptions } from './broker/index.ts'
import { loadDashboards } from './dashboards/load.ts'
import { HqPages } from './hq/pages.ts'
import { createHttpApp, nodeRedUpgrade, ROUTES, startHttpServer } from './http/index.ts'
import { LiveFeed } from './http/live.ts'
import { IngestPipeline } from './ingest/pipeline.ts'
import { GatewayMetrics } from './metrics.ts'
import { NodeRedHost, nodeRedIdentities, prepareNodeRed, withNodeRedToken } from './nodered/host.ts'
import { SinkHost } from './sink/host.ts'
import { openSqliteStore, type SqliteStore } from './store/sqlite/index.ts'

export interface Gateway {
  readonly config: Readonly<Config>
  readonly ports: { mqtt: number; ws: number; http: number; tls?: number }
  /** A reader of the store (registry, tokens, queries); the ingest worker is its writer. */
  readonly store: SqliteStore
  readonly pipeline: IngestPipeline
  readonly broker: Broker
  readonly metrics: GatewayMetrics
  /** Replication to InfluxDB, when `influx.enabled`. */
  readonly sink: SinkHost | undefined
  /** Forecasting, policy and segmentation runs, when `analytics.enabled`. */
  readonly analytics: AnalyticsHost | undefined
  /** Alert changes as they commit (dashboards, Node-RED). */
  readonly alerts: AlertBus
  /** Embedded Node-RED, when `nodeRed.enabled`. */
  readonly nodeRed: NodeRedHost | undefined
  stop(): Promise<void>
}

export interface StartOptions {
  logger: Logger
  /** Clock of the broker thread (HTTP defaults, ack latency); default `config.clock`, which the ingest worker uses too. */
  now?: () => number
  broker?: BrokerOptions
  /** Called when the ingest worker fails for good (the CLI exits non-zero so a supervisor restarts it). */
  onFatal?: (err: Error) => void
}

/** Start a gateway from validated config. */
export async function startGateway(config: Readonly<Config>, opts: StartOptions): Promise<Gateway> {
  const { logger } = opts
  const now = opts.now ?? clockOf(config).now
  // The dashboard definitions are config: an invalid set refuses the start, with every error.
  const loadPages = (): ReturnType<typeof loadDashboards> => loadDashboards(config.dashboards.dir, ROUTES)
  const defs = loadPages()
  if (!defs.ok) throw new StockyardError('config.invalid', `dashboard definitions in ${config.dashboards.dir} are invalid:\n  ${defs.errors.join('\n  ')}`)
  const pages = defs.dashboards
  // Node-RED's shipped flows are checked like the rest of the config; its identities exist for this run only.
  const red = config.nodeRed.enabled ? prepareNodeRed(config, logger) : undefined
  const redIds = red && (await nodeRedIdentities(config))
  const metrics = new GatewayMetrics()
  // Ack latency is real time, also when the gateway runs on simulated time.
  const pipeline = new IngestPipeline({ config, metrics, logger: logger.child({ c: 'ingest' }), now: Date.now })
  try {
    await pipeline.start()
  } catch (err) {
    await pipeline.close()
    throw err
  }
  let stopping = false
  let failed = false
  pipeline.on('fatal', (err) => {
    failed = true
    opts.onFatal?.(err)
  })
  const store = openSqliteStore({ dataDir: config.dataDir, synchronous: config.store.synchronous })
  let broker: Broker
  try {
    broker = await startBroker(
      { config, devices: store.devices, pipeline, metrics, logger: logger.child({ c: 'broker' }), internalClients: redIds ? [redIds.mqtt] : [] },
      opts.broker,
    )
  } catch (err) {
    await pipeline.close()
    store.close()
    throw err
  }
  // Replication to InfluxDB on a thread of its own, from the store's durable cursor (gateway/sink/);
  // started once everything else is up.
  const sink = config.influx.enabled ? new SinkHost({ config, metrics, logger: logger.child({ c: 'influx' }), runtime: pipeline }) : undefined
  // Forecasts, policy and segments on another thread; its runs are handed to the rule runtime.
  const analytics = config.analytics.enabled
    ? new AnalyticsHost({ config, clock: clockOf(config), metrics, logger: logger.child({ c: 'analytics' }), runtime: pipeline })
    : undefined
  const analyticsDb = analytics && openAnalyticsDb(config.dataDir, config.store.synchronous)
  const alerts = new AlertBus()
  pipeline.on('alerts', (notices) => deliverNotices(notices, { bus: alerts, aedes: broker.aedes, site: config.site, log: logger }))
  // The dashboards' live feed: alert changes as they commit, and coalesced ticks of committed data.
  const live = new LiveFeed()
  alerts.on('change', (n) => live.alert(n))
  pipeline.on('committed', (kinds) => live.committed(kinds))
  let nodeRed: NodeRedHost | undefined
  const redTarget = { target: () => nodeRed?.target() ?? null, state: () => nodeRed?.state ?? { running: false as const } }
  const tokens = withNodeRedToken(store.tokens, redIds)
  const upgraded = new Set<Duplex>()
  const hqPages = new HqPages({ dbPath: store.path, site: config.site })
  let http: Awaited<ReturnType<typeof startHttpServer>>
  try {
    http = await startHttpServer(
      createHttpApp({
        config,
        store: store.series,
        beforeRead: () => pipeline.flushRollups(),
        startedAt: Date.now(),
        sinkStats: () => (sink ? { running: sink.running, ...sink.stats } : null),
        devices: store.devices,
        deadLetters: store.deadLetters,
        tokens,
        metrics,
        ready: () => ({ ready: !stopping && !failed, checks: { broker: !stopping, store: !failed } }),
        clock: { now },
        log: logger.child({ c: 'http' }),
        // Reads on this (reader) connection; changes go through the rule runtime on the ingest worker.
        warehouse: { db: store.db, runtime: pipeline },
        analytics: analytics && { db: analyticsDb!, status: () => analytics.snapshot(), outlook: () => analytics.outlook, refit: () => analytics.refit() },
        dashboards: { load: loadPages, lastGood: pages },
        live,
        hqPages,
        ...(red ? { nodeRed: redTarget } : {}),
      }),
      config.host,
      config.http.port,
      red ? { upgrade: nodeRedUpgrade(redTarget, tokens, upgraded), upgraded } : {},
    )
  } catch (err) {
    // e.g. the HTTP port is taken: release everything taken so far (the writer lock included).
    await broker.close()
    await pipeline.close()
    analyticsDb?.close()
    store.close()
    throw err
  }

  const recheck = (): void => {
    try {
      broker.recheckDevices()
    } catch (err) {
      logger.error({ err }, 'device re-check failed')
    }
  }
  // Disable/rotate through this process's registry: drop live sessions at once.
  store.devices.onRevoked(recheck)
  // Disable/rotate by another process (the CLI): noticed within a second.
  let version = store.devices.version()
  const watch = setInterval(() => {
    const v = store.devices.version()
    if (v !== version) {
      version = v
      recheck()
    }
  }, 1000)
  watch.unref()

  sink?.start()
  analytics?.start()
  const ports = { ...broker.ports, http: http.port }
  if (red && redIds) {
    nodeRed = new NodeRedHost({ config, ids: redIds, credentialSecret: red.credentialSecret, ports, metrics, logger: logger.child({ c: 'node-red' }) })
    nodeRed.start()
  }
  if (config.mqtt.allowAnonymous) logger.warn('anonymous MQTT access is ON: for development and conformance testing only')
  logger.info({ ports, host: config.host, dataDir: config.dataDir, site: config.site }, 'stockyard ready')

  return {
    config,
    ports,
    store,
    pipeline,
    broker,
    metrics,
    sink,
    analytics,
    alerts,
    get nodeRed() {
      return nodeRed
    },
    async stop() {
      if (stopping) return
      stopping = true
      clearInterval(watch)
      await nodeRed?.stop()
      await sink?.stop()
      await analytics?.stop()
      // Commit (and so acknowledge) what is queued, then close the connections.
      await pipeline.close()
      await broker.close()
      live.close()
      await http.close()
      await hqPages.close()
      analyticsDb?.close()
      store.close()
      logger.info('stockyard stopped')
    },
  }
}
