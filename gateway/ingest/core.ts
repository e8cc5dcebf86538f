/**
 * The ingest work proper, run on the worker thread: contract check -> duplicate check -> one
 * transaction per batch. Refused messages are committed too (to the dead-letter table) in the same
 * transaction, so a refusal is as durable as an acceptance before anything is acknowledged.
 */
import type { Config } from '../config/schema.ts'
import { decodeMessage, sampleOf } from '../contracts/index.ts'
import type { Accepted, Rejection } from '../core/records.ts'
import type { DeviceRegistry, SeriesStore } from '../store/types.ts'
import { DedupWindow } from './dedup.ts'
import { OUTCOME_ACCEPTED, OUTCOME_REJECTED, type BatchStats, type RawMessage } from './protocol.ts'

export interface BatchOutcome {
  /** What was stored, for the rule engine on this thread (not sent to the broker thread). */
  accepted: Accepted[]
  outcomes: Uint8Array
  rejections: Rejection[]
  stats: BatchStats
}

export class IngestCore {
  private readonly dedup: DedupWindow
  private readonly limits: { maxPayloadBytes: number; maxDepth: number; maxFutureSkewMs: number; maxPastAgeMs: number }

  constructor(
    config: Readonly<Config>,
    private readonly store: { series: SeriesStore; devices: DeviceRegistry },
    private readonly now: () => number,
    private readonly onError: (err: Error, what: string) => void,
  ) {
    const { ingest, mqtt } = config
    this.limits = {
      maxPayloadBytes: mqtt.maxPayloadBytes,
      maxDepth: ingest.maxDepth,
      maxFutureSkewMs: ingest.maxFutureSkewMs,
      maxPastAgeMs: ingest.maxPastAgeMs,
    }
    this.dedup = new DedupWindow(ingest.dedupPerDevice)
    this.dedup.load(store.series.recentKeys(Math.min(1_000_000, ingest.dedupPerDevice * Math.max(1, store.devices.list().length))))
  }

  /** Decode, dedup and commit one batch; throws (committing nothing) if the transaction fails. */
  process(messages: RawMessage[]): BatchOutcome {
    const now = this.now()
    const outcomes = new Uint8Array(messages.length)
    const accepted: Accepted[] = []
    const rejections: Rejection[] = []
    const added: Accepted[] = []
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!
      const payload = Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength)
      if (m.refusal) {
        rejections.push({
          code: m.refusal.code,
          message: m.refusal.message,
          device: m.deviceId,
          site: m.site,
          topic: m.topic,
          sample: sampleOf(payload),
          ts: now,
        })
        outcomes[i] = OUTCOME_REJECTED
        continue
      }
      const decoded = decodeMessage(m.kind, { deviceId: m.deviceId, site: m.site, zone: m.zone, topic: m.topic, payload, now, limits: this.limits })
      if (!decoded.ok) {
        rejections.push(decoded.rejection)
        outcomes[i] = OUTCOME_REJECTED
        continue
      }
      const a = decoded.accepted
      if (a.keys.length > 0) this.dropDuplicates(a, m.topic, payload, now, rejections)
      if (a.points.length === 0 && a.events.length === 0) {
        outcomes[i] = OUTCOME_REJECTED
        continue
      }
      accepted.push(a)
      if (a.keys.length > 0) added.push(a)
      outcomes[i] = OUTCOME_ACCEPTED
    }
    const t0 = process.hrtime.bigint()
    let stats
    try {
      stats = this.store.series.append({ accepted, rejections })
    } catch (err) {
      // Nothing was stored: forget the keys so the devices' resends are not taken for duplicates.
      for (const a of added) for (const k of a.keys) this.dedup.remove(a.device, k.seq, k.ts)
      throw err
    }
    const commitSeconds = Number(process.hrtime.bigint() - t0) / 1e9
    const kinds: Record<string, number> = {}
    for (const a of accepted) {
      kinds[a.kind] = (kinds[a.kind] ?? 0) + 1
      if (a.kind === 'status') this.applyStatus(a)
    }
    return { accepted, outcomes, rejections, stats: { kinds, points: stats.points, events: stats.events, commitSeconds } }
  }

  /**
   * Remove the elements already stored (or met earlier in this batch) under the same (seq, ts),
   * each with exactly the records it produced, and refuse each with `seq.duplicate`.
   */
  private dropDuplicates(accepted: Accepted, topic: string, payload: Buffer, now: number, rejections: Rejection[]): void {
    const dupPoints = new Set<number>()
    const dupEvents = new Set<number>()
    const fresh = []
    for (const k of accepted.keys) {
      if (!this.dedup.has(accepted.device, k.seq, k.ts)) {
        this.dedup.add(accepted.device, k.seq, k.ts)
        fresh.push(k)
        continue
      }
      for (let i = k.points[0]; i < k.points[1]; i++) dupPoints.add(i)
      for (let i = k.events[0]; i < k.events[1]; i++) dupEvents.add(i)
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
    }
    if (fresh.length === accepted.keys.length) return
    accepted.points = accepted.points.filter((_, i) => !dupPoints.has(i))
    accepted.events = accepted.events.filter((_, i) => !dupEvents.has(i))
    accepted.keys = fresh
  }

  /**
   * Battery and firmware from status messages. Best effort and after the commit: the messages are
   * stored either way, so a failure here is logged, never a reason to withhold their PUBACKs.
   * Online/offline is not taken from payloads: the broker's connect and disconnect events are the
   * authority (a will published for a session that a reconnect took over arrives after the new
   * session is up, and would mark a connected device offline).
   */
  private applyStatus(a: Accepted): void {
    for (const e of a.events) {
      const b = e.body as { battery_pct?: number; firmware?: string }
      if (b.battery_pct === undefined && b.firmware === undefined) continue
      try {
        this.store.devices.setHealth(a.device, b.battery_pct ?? null, b.firmware ?? null)
      } catch (err) {
        this.onError(err as Error, 'could not record device health')
      }
    }
  }
}
