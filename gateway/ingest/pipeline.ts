/**
 * The ingest path: contract check -> duplicate check -> group commit -> callback (PUBACK).
 * Refused messages are committed too (to the dead-letter table) before their callback runs, then
 * explained to the device on its `errors` topic. Nothing here throws at the broker: every outcome
 * is a stored row, a counted rejection, or a failed commit that withholds the PUBACK.
 */
import { EventEmitter } from 'node:events'
import type { Config } from '../config/schema.ts'
import { decodeMessage } from '../contracts/index.ts'
import type { Logger } from '../core/log.ts'
import type { Accepted, Rejection, RejectionCode } from '../core/records.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { SqliteSeriesStore } from '../store/sqlite/series.ts'
import type { SqliteDeviceRegistry } from '../store/sqlite/devices.ts'
import { GroupCommitter, type Pending } from './committer.ts'
import { DedupWindow } from './dedup.ts'

/** Who sent a message, as established by the broker at CONNECT. */
export interface Sender {
  deviceId: string
  site: string
  zone: string
}

export interface IngestEvents {
  /** Accepted messages of one committed batch, in arrival order. */
  committed: [accepted: Accepted[]]
  /** A refused message (or element), after its dead-letter row is committed. */
  rejected: [rejection: Rejection]
}

/** Sample kept with a rejection: the first 1 KiB of the payload as text. */
export function sampleOf(payload: Buffer): string {
  return payload.subarray(0, 1024).toString('utf8')
}

export class IngestPipeline extends EventEmitter<IngestEvents> {
  private readonly dedup: DedupWindow
  private readonly committer: GroupCommitter
  private readonly limits: { maxPayloadBytes: number; maxDepth: number; maxFutureSkewMs: number; maxPastAgeMs: number }

  constructor(
    private readonly deps: {
      config: Readonly<Config>
      series: SqliteSeriesStore
      devices: SqliteDeviceRegistry
      metrics: GatewayMetrics
      logger: Logger
      now: () => number
    },
  ) {
    super()
    const { ingest, mqtt } = deps.config
    this.limits = {
      maxPayloadBytes: mqtt.maxPayloadBytes,
      maxDepth: ingest.maxDepth,
      maxFutureSkewMs: ingest.maxFutureSkewMs,
      maxPastAgeMs: ingest.maxPastAgeMs,
    }
    this.dedup = new DedupWindow(ingest.dedupPerDevice)
    this.dedup.load(deps.series.recentKeys(Math.min(1_000_000, ingest.dedupPerDevice * Math.max(1, deps.devices.list().length))))
    this.committer = new GroupCommitter(
      { commitIntervalMs: ingest.commitIntervalMs, maxBatch: ingest.maxBatch },
      {
        write: (batch) => deps.series.append(batch),
        committed: (entries, stats, seconds) => this.onCommitted(entries, stats, seconds),
        failed: (entries, err) => this.onFailed(entries, err),
      },
    )
  }

  /**
   * Decode, check and queue one PUBLISH; `done` runs after its commit (error: no PUBACK). Returns
   * at once whether anything of it will be stored, so the broker can keep a refused message from
   * its subscribers.
   */
  submit(sender: Sender, kind: string, topic: string, payload: Buffer, done: (err: Error | null) => void): 'accepted' | 'rejected' {
    const now = this.deps.now()
    const decoded = decodeMessage(kind, { deviceId: sender.deviceId, site: sender.site, zone: sender.zone, topic, payload, now, limits: this.limits })
    if (!decoded.ok) {
      this.committer.enqueue({ rejections: [decoded.rejection], receivedAt: now, done })
      return 'rejected'
    }
    const accepted = decoded.accepted
    const rejections: Rejection[] = []
    if (accepted.keys.length > 0) this.dropDuplicates(accepted, topic, payload, now, rejections)
    const empty = accepted.points.length === 0 && accepted.events.length === 0
    this.committer.enqueue({ accepted: empty ? undefined : accepted, rejections, receivedAt: now, done })
    return empty ? 'rejected' : 'accepted'
  }

  /** Queue a rejection decided by the broker (e.g. an ACL denial), committed like any other. */
  reject(code: RejectionCode, message: string, sender: Sender, topic: string, payload: Buffer, done: (err: Error | null) => void): void {
    const now = this.deps.now()
    const rejection: Rejection = { code, message, device: sender.deviceId, site: sender.site, topic, sample: sampleOf(payload), ts: now }
    this.committer.enqueue({ rejections: [rejection], receivedAt: now, done })
  }

  /**
   * Remove elements already stored (or queued) under the same (seq, ts) and refuse each with
   * `seq.duplicate`. An element is a whole reading, scan, shipment or status message: its points
   * and events share its ts.
   */
  private dropDuplicates(accepted: Accepted, topic: string, payload: Buffer, now: number, rejections: Rejection[]): void {
    const dupTs = new Set<number>()
    const fresh = []
    for (const k of accepted.keys) {
      if (this.dedup.has(accepted.device, k.seq, k.ts)) {
        dupTs.add(k.ts)
        rejections.push({
          code: 'seq.duplicate',
          message: `seq ${k.seq} with ts ${new Date(k.ts).toISOString()} is already stored; not stored again`,
          device: accepted.device,
          site: accepted.site,
          topic,
          seq: k.seq,
          sample: sampleOf(payload),
          ts: now,
        })
      } else {
        this.dedup.add(accepted.device, k.seq, k.ts)
        fresh.push(k)
      }
    }
    if (dupTs.size === 0) return
    // Elements are identified by ts within one message; a batch never repeats a ts for one device
    // except as a duplicate, so dropping by ts removes exactly the duplicate elements.
    const freshTs = new Set(fresh.map((k) => k.ts))
    accepted.points = accepted.points.filter((p) => !dupTs.has(p.ts) || freshTs.has(p.ts))
    accepted.events = accepted.events.filter((e) => !dupTs.has(e.ts) || freshTs.has(e.ts))
    accepted.keys = fresh
  }

  private onCommitted(entries: Pending[], stats: { points: number; events: number }, seconds: number): void {
    const m = this.deps.metrics
    const now = this.deps.now()
    m.commitTime.observe(seconds)
    m.batchSize.observe(entries.length)
    m.points.inc(stats.points)
    m.events.inc(stats.events)
    const accepted: Accepted[] = []
    const byKind = new Map<string, number>()
    for (const e of entries) {
      m.ackLatency.observe((now - e.receivedAt) / 1000)
      if (e.accepted) {
        byKind.set(e.accepted.kind, (byKind.get(e.accepted.kind) ?? 0) + 1)
        accepted.push(e.accepted)
        if (e.accepted.kind === 'status') this.applyStatus(e.accepted)
      }
      for (const r of e.rejections) {
        m.rejected.inc({ reason: r.code })
        this.safeEmit('rejected', r)
      }
    }
    for (const [kind, n] of byKind) m.ingested.inc({ kind }, n)
    if (accepted.length) this.safeEmit('committed', accepted)
  }

  private onFailed(entries: Pending[], err: Error): void {
    this.deps.metrics.storeErrors.inc()
    this.deps.logger.error({ err, messages: entries.length }, 'commit failed; messages not acknowledged, devices will resend')
    for (const e of entries) {
      if (e.accepted) for (const k of e.accepted.keys) this.dedup.remove(e.accepted.device, k.seq, k.ts)
    }
  }

  private applyStatus(a: Accepted): void {
    for (const e of a.events) {
      const b = e.body as { battery_pct?: number; firmware?: string; state?: string }
      if (b.battery_pct !== undefined || b.firmware !== undefined) this.deps.devices.setHealth(a.device, b.battery_pct ?? null, b.firmware ?? null)
      if (b.state === 'offline') this.deps.devices.setStatus(a.device, 'offline')
    }
  }

  /** One failing listener is logged and the others still run. */
  private safeEmit<K extends keyof IngestEvents>(event: K, ...args: IngestEvents[K]): void {
    for (const listener of this.listeners(event) as Array<(...a: IngestEvents[K]) => void>) {
      try {
        listener(...args)
      } catch (err) {
        this.deps.logger.error({ err, event }, 'ingest listener failed')
      }
    }
  }

  /** Commit whatever is queued (shutdown). */
  close(): void {
    this.committer.close()
  }
}
