/**
 * The broker thread's side of analytics: runs the analytics worker, schedules its runs (nightly at
 * `analytics.refitAt` UTC, at start when the last run is more than a day old, and on request),
 * mirrors progress into /metrics, and hands each finished run to the rule runtime: the forecast
 * signals are re-read there, and with `analytics.policy: apply` the suggested reorder points and
 * safety stocks are written to the SKU master. A worker that dies is restarted; the next run starts
 * over from the stored demand, so nothing is lost.
 */
import type { Config } from '../config/schema.ts'
import type { TimerClock } from '../core/clock.ts'
import { StockyardError } from '../core/errors.ts'
import type { Logger } from '../core/log.ts'
import { BackgroundWorker } from '../core/thread.ts'
import type { IngestPipeline } from '../ingest/pipeline.ts'
import type { GatewayMetrics } from '../metrics.ts'
import { DISPATCH_AT_RISK } from '../rules/system.ts'
import type { DispatchOutlook } from './dispatch.ts'
import type { FromAnalyticsWorker, RunReason, RunSummary, ToAnalyticsWorker } from './protocol.ts'

const DAY = 86_400_000

/** The next time of day `hhmm` (UTC) strictly after `now`. */
export function nextDailyAt(now: number, hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number]
  const at = Math.floor(now / DAY) * DAY + (h * 60 + m) * 60_000
  return at > now ? at : at + DAY
}

interface Waiter {
  resolve: (s: RunSummary) => void
  reject: (err: Error) => void
}

export interface AnalyticsStatus {
  running: boolean
  /** Of the current run, or the last one. */
  progress: { done: number; total: number }
  lastRun: RunSummary | null
  /** Gateway clock of the next nightly run. */
  nextRunAt: number | null
  lastError: string | null
}

export class AnalyticsHost {
  private readonly worker: BackgroundWorker<ToAnalyticsWorker, FromAnalyticsWorker>
  private readonly status: AnalyticsStatus = { running: false, progress: { done: 0, total: 0 }, lastRun: null, nextRunAt: null, lastError: null }
  private cancelNightly: (() => void) | undefined
  /** Waiting for the run in progress, and for the one queued after it (the worker queues one run). */
  private waiters: Waiter[] = []
  private nextWaiters: Waiter[] = []
  private queued = false
  /** Open shipments as of the last refresh. */
  outlook: DispatchOutlook[] = []

  constructor(
    private readonly deps: {
      config: Readonly<Config>
      clock: TimerClock
      metrics: GatewayMetrics
      logger: Logger
      runtime: Pick<IngestPipeline, 'call'>
    },
  ) {
    this.worker = new BackgroundWorker({
      entry: new URL('./worker-entry.mjs', import.meta.url),
      workerData: { config: deps.config },
      name: 'analytics worker',
      logger: deps.logger,
      onMessage: (m) => this.onMessage(m),
      onCrash: () => {
        // The worker forgot its queue: every waiter is told, and no run is in progress.
        if (this.status.running) deps.metrics.analyticsRuns.inc({ outcome: 'failed' })
        this.queued = false
        const waiters = [...this.takeWaiters(), ...this.takeWaiters()]
        for (const w of waiters) w.reject(new StockyardError('internal', 'the analytics worker died during the run; it is restarted, try again'))
      },
    })
  }

  start(): void {
    this.worker.start()
    this.armNightly()
  }

  snapshot(): AnalyticsStatus {
    return structuredClone(this.status)
  }

  /**
   * Start a run now (a run in progress is followed by one more); resolves with the next finished run's
   * summary. Throws at once (not through the promise) when the worker is not running.
   */
  refit(reason: RunReason = 'request'): Promise<RunSummary> {
    if (!this.worker.alive)
      throw new StockyardError('store.failed', 'the analytics worker is not running (it is restarted 5 s after a failure); try again shortly')
    // A run in progress may have read the store before this request: wait for the one after it.
    const list = this.status.running ? this.nextWaiters : this.waiters
    const done = new Promise<RunSummary>((resolve, reject) => list.push({ resolve, reject }))
    this.run(reason)
    return done
  }

  async stop(): Promise<void> {
    this.cancelNightly?.()
    this.queued = false
    for (const w of [...this.takeWaiters(), ...this.takeWaiters()])
      w.reject(new StockyardError('store.failed', 'the gateway is stopping; the run was not finished'))
    await this.worker.stop()
  }

  /** End the worker as a crash would (it is restarted after 5 s); for tests and diagnostics. */
  async kill(): Promise<void> {
    await this.worker.kill()
  }

  private run(reason: RunReason): void {
    if (!this.worker.alive) return
    if (this.status.running) this.queued = true
    this.status.running = true
    this.deps.metrics.analyticsRunning.set(1)
    this.worker.post({ type: 'run', reason })
  }

  /** A run ended: returns its waiters; the queued run (if any) starts in the worker at once, and its waiters move up. */
  private takeWaiters(): Waiter[] {
    const waiters = this.waiters
    this.waiters = this.nextWaiters
    this.nextWaiters = []
    this.status.running = this.queued
    this.queued = false
    this.deps.metrics.analyticsRunning.set(this.status.running ? 1 : 0)
    return waiters
  }

  private armNightly(): void {
    const { clock, config } = this.deps
    const at = nextDailyAt(clock.now(), config.analytics.refitAt)
    this.status.nextRunAt = at
    this.cancelNightly = clock.setTimer(at, () => {
      this.run('nightly')
      this.armNightly()
    })
  }

  private onMessage(m: FromAnalyticsWorker): void {
    const { metrics, logger, clock } = this.deps
    switch (m.type) {
      case 'ready':
        // A run already asked for (a re-fit posted before the worker was ready) serves as the first one.
        if (!this.status.running && (m.lastRunAt === null || clock.now() - m.lastRunAt > DAY)) this.run('start')
        return
      case 'dispatch':
        this.outlook = m.outlook
        this.flagDispatch(m.outlook)
        return
      case 'progress':
        this.status.progress = { done: m.done, total: m.total }
        metrics.analyticsProgress.set(m.total === 0 ? 1 : m.done / m.total)
        return
      case 'done': {
        const s = m.summary
        this.status.lastRun = s
        this.status.lastError = null
        metrics.analyticsProgress.set(1)
        metrics.analyticsDuration.set(s.seconds)
        metrics.analyticsLastRun.set(s.finishedAt / 1000)
        metrics.analyticsSkus.set(s.skus)
        metrics.analyticsRuns.inc({ outcome: 'ok' })
        logger.info({ reason: s.reason, skus: s.skus, seconds: s.seconds, failed: s.failed }, 'analytics run finished')
        const waiters = this.takeWaiters()
        void this.publish(s).finally(() => waiters.forEach((w) => w.resolve(s)))
        return
      }
      case 'failed':
        this.status.lastError = m.error
        metrics.analyticsRuns.inc({ outcome: 'failed' })
        logger.error({ error: m.error }, 'analytics run failed; the previous results stay')
        for (const w of this.takeWaiters()) w.reject(new StockyardError('internal', `the analytics run failed: ${m.error}`))
        return
      case 'fatal':
        this.status.lastError = m.error
        logger.error({ error: m.error }, 'analytics worker could not start')
        return
    }
  }

  /** `stockyard_dispatch_at_risk` fires for the shipments at risk now and resolves for every other. */
  private flagDispatch(outlook: readonly DispatchOutlook[]): void {
    const iso = (ms: number | null): string => (ms === null ? '' : new Date(ms).toISOString())
    const firing = outlook
      .filter((o) => o.atRisk === true)
      .map((o) => ({
        labels: { shipment: o.shipment },
        value: o.probabilityLate ?? 1,
        extra: { lines: String(o.lines), predicted: iso(o.predictedDepartureAt), deadline: iso(o.deadline) },
      }))
    this.deps.runtime
      .call('observeSystemSet', { rule: DISPATCH_AT_RISK.id, firing })
      .catch((err: unknown) => this.deps.logger.error({ err }, 'could not record the dispatch-at-risk alerts'))
  }

  /** Tell the rule runtime about the new forecasts, and apply the policy changes when configured to. */
  private async publish(s: RunSummary): Promise<void> {
    const { runtime, config, logger } = this.deps
    try {
      await runtime.call('reloadForecasts', {})
    } catch (err) {
      logger.error({ err }, 'the rule engine could not load the new forecasts')
    }
    if (config.analytics.policy !== 'apply' || s.changes.length === 0) return
    try {
      const r = await runtime.call('putSkus', { changes: s.changes })
      for (const x of r.refused) logger.warn({ sku: x.sku, error: x.error }, 'could not apply the suggested policy')
    } catch (err) {
      logger.error({ err }, 'could not apply the suggested policies')
    }
  }
}
