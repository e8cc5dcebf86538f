/**
 * The ingest worker thread: owns the store's one writer connection. It commits the batches the
 * broker thread sends, writes device presence, flushes rollups on a timer and on request, and runs
 * retention in bounded steps. On the broker thread, aedes keeps a core of its own.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { Config } from '../config/schema.ts'
import { clockOf } from '../core/clock.ts'
import { StockyardError } from '../core/errors.ts'
import { createLogger } from '../core/log.ts'
import { RuleRuntime } from '../rules/runtime.ts'
import { HQ_ACK_OVERDUE } from '../rules/system.ts'
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
    hq: { latenessMs: config.hq.allowedLatenessMs, now: clockOf(config).now },
  })
  store.devices.markAllOffline()
  const clock = clockOf(config)
  const core = new IngestCore(config, store, clock.now, (err, what) => logger.warn({ err }, what))
  // Warehouse state and rules run here, next to the data; alert changes go to the broker thread.
  const rules = new RuleRuntime({
    db: store.db,
    config,
    series: store.series,
    devices: store.devices,
    clock,
    log: logger.child({ c: 'rules' }),
    publish: (notices) => send({ type: 'alerts', notices }),
  })
  rules.start()
  const statsTimer = setInterval(() => {
    const alerts: Record<string, number> = {}
    for (const a of rules.book.list()) alerts[`${a.state}/${a.severity}`] = (alerts[`${a.state}/${a.severity}`] ?? 0) + 1
    send({
      type: 'ruleStats',
      rules: [...rules.engine.ruleStats()].map(([id, s]) => ({ id, ...s })),
      webhooks: rules.outbox.stats(),
      droppedNotifications: rules.droppedNotifications,
      alerts,
    })
  }, 2000)
  statsTimer.unref()

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
      deleted = store.series.enforceRetention(clock.now(), STEPS)
      if (deleted > 0) send({ type: 'retention', deleted })
      for (const [table, overdue] of store.series.hqAckOverdue()) {
        rules.observeSystem({ rule: HQ_ACK_OVERDUE.id, labels: { table }, fire: overdue, value: overdue ? 1 : 0, extra: {} })
      }
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
          // After the answer: the acks do not wait for the rules, and a rule failure cannot un-store a batch.
          if (r.accepted.length) {
            try {
              rules.onBatch(r.accepted)
            } catch (err) {
              logger.error({ err }, 'rule state update failed; the batch is stored and the state is rebuilt from the event log at the next start')
            }
          }
        } catch (err) {
          logger.error({ err, messages: m.messages.length }, 'commit failed; messages not acknowledged, devices will resend')
          send({ type: 'batch', id: m.id, ok: false, error: (err as Error).message })
        }
        return
      case 'call':
        try {
          const fn = rules[m.method] as (args: unknown) => unknown
          send({ type: 'reply', id: m.id, ok: true, value: fn.call(rules, m.args) })
        } catch (err) {
          const e = err instanceof StockyardError ? err : new StockyardError('internal', (err as Error).message)
          if (!(err instanceof StockyardError)) logger.error({ err, method: m.method }, 'rule runtime call failed')
          send({ type: 'reply', id: m.id, ok: false, error: { code: e.code, message: e.message, details: e.details } })
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
        clearInterval(statsTimer)
        clearTimeout(sweep)
        void rules.close().finally(() => {
          store.close()
          port.close()
        })
        return
    }
  })
  send({ type: 'ready' })
} catch (err) {
  send({ type: 'fatal', error: (err as Error).message, code: (err as { code?: string }).code })
  port.close()
}
