/**
 * The ingest worker thread: owns the store's one writer connection. It commits the batches the
 * broker thread sends, writes device presence, flushes rollups on a timer and on request, and runs
 * retention in bounded steps. On the broker thread, aedes keeps a core of its own.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { Config } from '../config/schema.ts'
import { createLogger } from '../core/log.ts'
import { openSqliteStore } from '../store/sqlite/index.ts'
import { IngestCore } from './core.ts'
import type { FromWorker, ToWorker } from './protocol.ts'

const DAY = 86_400_000
const port = parentPort!
const config = (workerData as { config: Config }).config
const logger = createLogger(config.log.level).child({ c: 'ingest-worker' })
const send = (m: FromWorker): void => port.postMessage(m)

try {
  const store = openSqliteStore({
    dataDir: config.dataDir,
    synchronous: config.store.synchronous,
    deadLetterMax: config.ingest.deadLetterMax,
    // Keys older than the accepted past age can never match a new message.
    retention: { ...config.store.retention, keyMaxAgeMs: config.ingest.maxPastAgeMs + DAY },
    writer: true,
  })
  store.devices.markAllOffline()
  const core = new IngestCore(config, store, Date.now, (err, what) => logger.warn({ err }, what))

  const rollups = setInterval(() => {
    try {
      store.series.flushRollups()
    } catch (err) {
      logger.error({ err }, 'rollup flush failed; will retry')
    }
  }, config.store.rollupFlushMs)
  // Retention in bounded steps; while a sweep uses its whole budget it comes back at once (after
  // the batches queued meanwhile), so it keeps up with any ingest rate without long stalls.
  const STEPS = 20
  let sweep: NodeJS.Timeout
  const runSweep = (): void => {
    let deleted = 0
    try {
      deleted = store.series.enforceRetention(Date.now(), STEPS)
      if (deleted > 0) send({ type: 'retention', deleted })
    } catch (err) {
      logger.error({ err }, 'retention sweep failed')
    }
    const behind = deleted >= STEPS * config.store.retention.chunkRows
    sweep = setTimeout(runSweep, behind ? 10 : config.store.retention.intervalMs)
  }
  sweep = setTimeout(runSweep, config.store.retention.intervalMs)

  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'batch':
        try {
          const r = core.process(m.messages)
          send({ type: 'batch', id: m.id, ok: true, outcomes: r.outcomes, rejections: r.rejections, stats: r.stats })
        } catch (err) {
          logger.error({ err, messages: m.messages.length }, 'commit failed; messages not acknowledged, devices will resend')
          send({ type: 'batch', id: m.id, ok: false, error: (err as Error).message })
        }
        return
      case 'presence':
        try {
          store.devices.setStatus(m.deviceId, m.status)
        } catch (err) {
          logger.warn({ err, device: m.deviceId }, 'could not record presence')
        }
        return
      case 'flush':
        try {
          store.series.flushRollups()
        } catch (err) {
          logger.error({ err }, 'rollup flush failed')
        }
        send({ type: 'flushed', id: m.id })
        return
      case 'close':
        clearInterval(rollups)
        clearTimeout(sweep)
        store.close()
        port.close()
        return
    }
  })
  send({ type: 'ready' })
} catch (err) {
  send({ type: 'fatal', error: (err as Error).message, code: (err as { code?: string }).code })
  port.close()
}
