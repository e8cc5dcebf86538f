/**
 * The analytics worker thread: demand folding, forecasting, policy, segmentation and the dispatch
 * model, apart from ingest, through a store connection of its own. Every `analytics.refreshMs` it
 * folds new scans into daily demand and checks open shipments against the dispatch model; a `run`
 * message starts a full run (run.ts). Runs queue: a request during a run is served by one more run
 * after it.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { Config } from '../config/schema.ts'
import { clockOf } from '../core/clock.ts'
import { createLogger } from '../core/log.ts'
import { lowerThreadPriority } from '../core/thread.ts'
import { openSqliteStore } from '../store/sqlite/index.ts'
import { DemandLedger } from './demand.ts'
import { dispatchOutlook } from './dispatch.ts'
import type { FromAnalyticsWorker, RunReason, ToAnalyticsWorker } from './protocol.ts'
import type { LeadTimeModel } from './regression.ts'
import { runAnalytics } from './run.ts'
import { readResult } from './tables.ts'
import { openAnalyticsDb } from './db.ts'

const port = parentPort!
const config = (workerData as { config: Config }).config
const logger = createLogger(config.log.level).child({ c: 'analytics' })
const send = (m: FromAnalyticsWorker): void => port.postMessage(m)

let store: ReturnType<typeof openSqliteStore> | undefined
let db: ReturnType<typeof openAnalyticsDb> | undefined
let timer: NodeJS.Timeout | undefined
try {
  // Niceness, not SCHED_IDLE: an idle-class thread gets no CPU at all while the box is saturated, and it
  // would then hold its read snapshot of the store (and so the WAL's checkpoint) for as long as that lasts.
  const refused = lowerThreadPriority(config.analytics.nice)
  if (refused) logger.warn({ err: refused }, 'could not lower the analytics worker thread priority (Linux only); forecasting competes with ingest for CPU')
  const main = openSqliteStore({ dataDir: config.dataDir, synchronous: config.store.synchronous })
  store = main
  const adb = openAnalyticsDb(config.dataDir, config.store.synchronous)
  db = adb
  const ledger = new DemandLedger(main.db, adb)
  const clock = clockOf(config)
  let running: Promise<void> | undefined
  let queued: RunReason | undefined
  const closing = new AbortController()

  const refresh = (): void => {
    if (running) return
    try {
      ledger.fold()
      const model = readResult<LeadTimeModel>(adb, 'regression')?.body
      if (model) send({ type: 'dispatch', outlook: dispatchOutlook(main.db, ledger, model, config.analytics.dispatchWithinMs, clock.now()) })
    } catch (err) {
      logger.error({ err }, 'analytics refresh failed; will retry')
    }
  }

  const run = (reason: RunReason): void => {
    if (running) {
      queued = reason
      return
    }
    running = runAnalytics(main.db, adb, config, {
      reason,
      now: clock.now,
      log: logger,
      signal: closing.signal,
      onProgress: (done, total) => send({ type: 'progress', done, total }),
    })
      .then((summary) => send({ type: 'done', summary }))
      .catch((err: unknown) => {
        if (closing.signal.aborted) return
        logger.error({ err }, 'analytics run failed')
        send({ type: 'failed', error: (err as Error).message })
      })
      .finally(() => {
        running = undefined
        if (queued !== undefined && !closing.signal.aborted) {
          const next = queued
          queued = undefined
          run(next)
        } else if (!closing.signal.aborted) refresh()
      })
  }

  timer = setInterval(refresh, config.analytics.refreshMs)
  port.on('message', (m: ToAnalyticsWorker) => {
    if (m.type === 'run') return run(m.reason)
    closing.abort()
    clearInterval(timer)
    void Promise.resolve(running).finally(() => {
      adb.close()
      main.close()
      port.close()
    })
  })
  send({ type: 'ready', lastRunAt: readResult(adb, 'run')?.at ?? null })
  refresh()
} catch (err) {
  // Leave nothing behind that would keep this thread alive: the host restarts it.
  clearInterval(timer)
  db?.close()
  store?.close()
  send({ type: 'fatal', error: (err as Error).message })
  port.close()
}
