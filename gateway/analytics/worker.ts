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
import { createAnalyticsTables, readResult } from './tables.ts'

const port = parentPort!
const config = (workerData as { config: Config }).config
const logger = createLogger(config.log.level).child({ c: 'analytics' })
const send = (m: FromAnalyticsWorker): void => port.postMessage(m)

try {
  const refused = lowerThreadPriority(config.analytics.nice)
  if (refused) logger.warn({ err: refused }, 'could not lower the analytics worker thread priority (Linux only)')
  const store = openSqliteStore({ dataDir: config.dataDir, synchronous: config.store.synchronous })
  const { db } = store
  createAnalyticsTables(db)
  const ledger = new DemandLedger(db)
  const clock = clockOf(config)
  let running: Promise<void> | undefined
  let queued: RunReason | undefined
  const closing = new AbortController()

  const refresh = (): void => {
    if (running) return
    try {
      ledger.fold()
      const model = readResult<LeadTimeModel>(db, 'regression')?.body
      if (model) send({ type: 'dispatch', outlook: dispatchOutlook(db, ledger, model, config.analytics.dispatchWithinMs) })
    } catch (err) {
      logger.error({ err }, 'analytics refresh failed; will retry')
    }
  }

  const run = (reason: RunReason): void => {
    if (running) {
      queued = reason
      return
    }
    running = runAnalytics(db, config, {
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

  const timer = setInterval(refresh, config.analytics.refreshMs)
  port.on('message', (m: ToAnalyticsWorker) => {
    if (m.type === 'run') return run(m.reason)
    closing.abort()
    clearInterval(timer)
    void Promise.resolve(running).finally(() => {
      store.close()
      port.close()
    })
  })
  send({ type: 'ready', lastRunAt: readResult(db, 'run')?.at ?? null })
  refresh()
} catch (err) {
  send({ type: 'fatal', error: (err as Error).message })
  port.close()
}
