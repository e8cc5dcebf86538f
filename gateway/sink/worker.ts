/**
 * The sink worker thread: replication to InfluxDB, apart from ingest. It reads the rows the ingest
 * worker commits through a connection of its own (WAL lets it read while the writer writes) and
 * writes only its cursor and the dead letters of refused lines, in short transactions. Building lines
 * and HTTP run here, so they cost the ingest worker nothing (measured: on the ingest worker they took
 * ~15 % of max ingest).
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { Config } from '../config/schema.ts'
import { clockOf } from '../core/clock.ts'
import { createLogger } from '../core/log.ts'
import { lowerThreadPriority } from '../core/thread.ts'
import { openSqliteStore } from '../store/sqlite/index.ts'
import { createInfluxReplicator } from './influx/index.ts'
import type { FromSinkWorker, ToSinkWorker } from './protocol.ts'

/** How often the store is looked at for new rows (two indexed max(id) reads). */
const POLL_MS = 50

const port = parentPort!
const config = (workerData as { config: Config }).config
const logger = createLogger(config.log.level).child({ c: 'influx' })
const send = (m: FromSinkWorker): void => port.postMessage(m)

try {
  const refused = lowerThreadPriority(config.influx.nice)
  if (refused)
    logger.warn(
      { err: refused, nice: config.influx.nice },
      'could not lower the sink worker thread priority (Linux only); replication competes with ingest for CPU',
    )
  const store = openSqliteStore({ dataDir: config.dataDir, synchronous: config.store.synchronous })
  // The rows it reads were just written by another connection: map the file rather than copy pages.
  store.db.pragma('mmap_size = 268435456')
  const replicator = createInfluxReplicator(store.db, config, {
    log: logger,
    retentionNow: clockOf(config).now,
    onRisk: (lane, atRisk, s) => send({ type: 'risk', lane, atRisk, lagRows: s.lagRows, expiresAt: s.expiresAt, target: replicator.target }),
  })
  replicator.start()
  const report = (): void => {
    try {
      send({ type: 'stats', stats: replicator.checkRisk() })
    } catch (err) {
      logger.error({ err }, 'replication status check failed')
    }
  }
  report()
  const stats = setInterval(report, 1000)
  const poll = setInterval(() => replicator.notify(), POLL_MS)
  port.on('message', (m: ToSinkWorker) => {
    if (m.type !== 'close') return
    clearInterval(stats)
    clearInterval(poll)
    void replicator.stop().finally(() => {
      store.close()
      port.close()
    })
  })
  send({ type: 'ready' })
} catch (err) {
  send({ type: 'fatal', error: (err as Error).message })
  port.close()
}
