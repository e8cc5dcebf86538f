/**
 * The broker thread's side of replication: runs the sink worker, mirrors its stats into /metrics and
 * /api/v1/status, and hands its retention warnings to the rule runtime as the built-in alert
 * `stockyard_replication_at_risk`. A sink worker that dies is logged and started again after a pause;
 * ingest never depends on it, and its cursor is in the store, so nothing is lost meanwhile.
 */
import type { Config } from '../config/schema.ts'
import type { Logger } from '../core/log.ts'
import { BackgroundWorker } from '../core/thread.ts'
import { REPLICATION_AT_RISK } from '../rules/system.ts'
import type { IngestPipeline } from '../ingest/pipeline.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { FromSinkWorker, ToSinkWorker } from './protocol.ts'
import type { ReplicatorStats } from './replicator.ts'

export class SinkHost {
  private readonly worker: BackgroundWorker<ToSinkWorker, FromSinkWorker>
  /** True from the worker's ready message until it exits. */
  running = false
  /** As of the worker's last report (every second); null before the first. */
  stats: ReplicatorStats | null = null

  constructor(
    private readonly deps: {
      config: Readonly<Config>
      metrics: GatewayMetrics
      logger: Logger
      runtime: Pick<IngestPipeline, 'call'>
    },
  ) {
    this.worker = new BackgroundWorker({
      entry: new URL('./worker-entry.mjs', import.meta.url),
      workerData: { config: deps.config },
      name: 'sink worker',
      logger: deps.logger,
      onMessage: (m) => this.onMessage(m),
      onCrash: () => {
        this.running = false
        // Its figures are stale from now on; the restarted worker reports afresh.
        this.stats = null
        deps.metrics.sinkUp.set({ sink: 'influx' }, 0)
      },
    })
  }

  start(): void {
    this.worker.start()
  }

  /** Kill the sink worker as a crash would (it is restarted after 5 s); for tests and diagnostics. */
  async kill(): Promise<void> {
    await this.worker.kill()
  }

  async stop(): Promise<void> {
    await this.worker.stop()
    this.running = false
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
