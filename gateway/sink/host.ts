/**
 * The broker thread's side of replication: runs the sink worker, mirrors its stats into /metrics and
 * /api/v1/status, and hands its retention warnings to the rule runtime as the built-in alert
 * `stockyard_replication_at_risk`. A sink worker that dies is logged and started again after a pause;
 * ingest never depends on it, and its cursor is in the store, so nothing is lost meanwhile.
 */
import { Worker } from 'node:worker_threads'
import type { Config } from '../config/schema.ts'
import type { Logger } from '../core/log.ts'
import { REPLICATION_AT_RISK } from '../rules/system.ts'
import type { IngestPipeline } from '../ingest/pipeline.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { FromSinkWorker, ToSinkWorker } from './protocol.ts'
import type { ReplicatorStats } from './replicator.ts'

const RESTART_MS = 5000
const CLOSE_GRACE_MS = 5000

export class SinkHost {
  private worker: Worker | undefined
  /** True from the worker's ready message until it exits. */
  running = false
  private stopping = false
  private restartTimer: NodeJS.Timeout | undefined
  /** As of the worker's last report (every second); null before the first. */
  stats: ReplicatorStats | null = null

  constructor(
    private readonly deps: {
      config: Readonly<Config>
      metrics: GatewayMetrics
      logger: Logger
      runtime: Pick<IngestPipeline, 'call'>
    },
  ) {}

  start(): void {
    const worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: { config: this.deps.config } })
    this.worker = worker
    worker.on('message', (m: FromSinkWorker) => this.onMessage(m))
    worker.on('error', (err) => this.deps.logger.error({ err }, 'sink worker failed'))
    worker.on('exit', (code) => {
      if (this.worker !== worker) return
      this.worker = undefined
      this.running = false
      // Its figures are stale from now on; the restarted worker reports afresh.
      this.stats = null
      if (this.stopping) return
      this.deps.metrics.sinkUp.set({ sink: 'influx' }, 0)
      this.deps.logger.error({ code, restartInMs: RESTART_MS }, 'sink worker exited; replication resumes from its cursor when it is restarted')
      this.restartTimer = setTimeout(() => this.start(), RESTART_MS)
      this.restartTimer.unref()
    })
  }

  /** Kill the sink worker as a crash would (it is restarted after 5 s); for tests and diagnostics. */
  async kill(): Promise<void> {
    await this.worker?.terminate()
  }

  async stop(): Promise<void> {
    this.stopping = true
    clearTimeout(this.restartTimer)
    const worker = this.worker
    if (!worker) return
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    worker.postMessage({ type: 'close' } satisfies ToSinkWorker)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS)))
    if ((await Promise.race([exited, late])) === 'late') await worker.terminate()
    clearTimeout(timer)
  }

  private onMessage(m: FromSinkWorker): void {
    const { metrics, logger } = this.deps
    switch (m.type) {
      case 'stats': {
        this.stats = m.stats
        let up = 1
        for (const [lane, s] of Object.entries(m.stats.lanes)) {
          const labels = { sink: 'influx', lane }
          metrics.sinkLagRows.set(labels, s.lagRows)
          metrics.sinkLagSeconds.set(labels, s.lagSeconds)
          metrics.sinkLagSecondsMax.set(labels, s.lagSecondsMax)
          metrics.sinkSent.set(labels, s.sentLines)
          metrics.sinkRejected.set(labels, s.rejectedLines)
          metrics.sinkFailedAttempts.set(labels, s.failedAttempts)
          if (s.lastError !== null) up = 0
        }
        metrics.sinkUp.set({ sink: 'influx' }, up)
        return
      }
      case 'risk': {
        const args = {
          rule: REPLICATION_AT_RISK.id,
          labels: { lane: m.lane },
          fire: m.atRisk,
          value: m.lagRows,
          extra: { target: m.target, expires: m.expiresAt === null ? '' : new Date(m.expiresAt).toISOString() },
        }
        this.deps.runtime.call('observeSystem', args).catch((err: unknown) => logger.error({ err }, 'could not record the replication-at-risk alert'))
        return
      }
      case 'fatal':
        logger.error({ error: m.error }, 'sink worker could not start')
        return
      case 'ready':
        this.running = true
        return
    }
  }
}
