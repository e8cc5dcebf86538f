/**
 * The broker thread's side of ingest. PUBLISHes are queued for at most `commitIntervalMs` (or until
 * `maxBatch`), then handed to the ingest worker as one batch. Up to MAX_IN_FLIGHT batches may be
 * queued at the worker, which commits them in order; when that many are waiting, the next batch
 * fills until one is answered, so batches grow with load.
 * Each message's callback runs when the worker answers that its transaction committed: the broker
 * sends the PUBACK from there, so a PUBACK means the message is on disk. A failed commit withholds
 * every PUBACK of the batch; the devices resend.
 */
import { EventEmitter } from 'node:events'
import { Worker } from 'node:worker_threads'
import type { Config } from '../config/schema.ts'
import { StockyardError, type ErrorCode } from '../core/errors.ts'
import type { Logger } from '../core/log.ts'
import type { Rejection, RejectionCode } from '../core/records.ts'
import type { GatewayMetrics } from '../metrics.ts'
import type { AlertNotice, RuntimeCalls } from '../rules/runtime.ts'
import { OUTCOME_ACCEPTED, type FromWorker, type RawMessage, type RuleStatsMessage, type ToWorker } from './protocol.ts'

/** Who sent a message, as established by the broker at CONNECT. */
export interface Sender {
  deviceId: string
  site: string
  zone: string
}

export type Outcome = 'accepted' | 'rejected'
export type Done = (err: Error | null, outcome?: Outcome) => void

export interface IngestEvents {
  /** A refused message (or element), after its dead-letter row is committed. */
  rejected: [rejection: Rejection]
  /** The worker cannot go on (its store failed to open or it crashed); nothing more will be stored. */
  fatal: [error: Error]
  /** Alert changes, after they committed. */
  alerts: [notices: AlertNotice[]]
  /** A batch committed: accepted messages by kind (for the dashboards' live feed). */
  committed: [kinds: Record<string, number>]
}

/** Batches handed to the worker and not yet answered; enough to keep it busy while one commits. */
const MAX_IN_FLIGHT = 4

interface Queued {
  message: RawMessage
  receivedAt: number
  done: Done
}

export class IngestPipeline extends EventEmitter<IngestEvents> {
  private readonly worker: Worker
  private pending: Queued[] = []
  private readonly inFlight = new Map<number, Queued[]>()
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null
  private nextId = 1
  private readonly flushWaiters = new Map<number, () => void>()
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  private closing: Promise<void> | null = null
  private dead: Error | null = null
  private readonly ready: Promise<void>

  constructor(private readonly deps: { config: Readonly<Config>; metrics: GatewayMetrics; logger: Logger; now: () => number }) {
    super()
    this.worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: { config: deps.config } })
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        if (m.type !== 'ready' && m.type !== 'fatal') return
        this.worker.off('message', onMessage)
        if (m.type === 'ready') resolve()
        else reject(new StockyardError((m.code as ErrorCode | undefined) ?? 'store.failed', m.error))
      }
      this.worker.on('message', onMessage)
      this.worker.once('error', reject)
    })
    this.worker.on('message', (m: FromWorker) => this.onMessage(m))
    this.worker.on('error', (err) => this.die(err))
    this.worker.on('exit', (code) => {
      if (!this.closing) this.die(new Error(`ingest worker exited (code ${code})`))
    })
  }

  /** Resolves once the worker has opened the store; rejects with the store's error. */
  start(): Promise<void> {
    return this.ready
  }

  /** Queue one PUBLISH; `done` runs after its commit with whether anything of it was stored. */
  submit(sender: Sender, kind: string, topic: string, payload: Buffer, done: Done): void {
    this.enqueue({ deviceId: sender.deviceId, site: sender.site, zone: sender.zone, kind, topic, payload }, done)
  }

  /** Queue a refusal decided by the broker (e.g. an ACL denial), committed like any other. */
  reject(code: RejectionCode, message: string, sender: Sender, topic: string, payload: Buffer, done: Done): void {
    this.enqueue({ deviceId: sender.deviceId, site: sender.site, zone: sender.zone, kind: '', topic, payload, refusal: { code, message } }, done)
  }

  /** Record a device's connection state (written by the worker, the store's one writer). */
  presence(deviceId: string, status: 'online' | 'offline'): void {
    if (!this.dead && !this.closing) this.post({ type: 'presence', deviceId, status })
  }

  /** Make the rollup tables current (reads of rollups call this first). */
  flushRollups(): Promise<void> {
    if (this.dead || this.closing) return Promise.resolve()
    const id = this.nextId++
    return new Promise((resolve) => {
      this.flushWaiters.set(id, resolve)
      this.post({ type: 'flush', id })
    })
  }

  /** Call the rule runtime on the worker (acks, silences, rule and SKU edits); rejects with its StockyardError. */
  call<K extends keyof RuntimeCalls>(method: K, args: Parameters<RuntimeCalls[K]>[0]): Promise<ReturnType<RuntimeCalls[K]>> {
    if (this.dead) return Promise.reject(new StockyardError('store.failed', 'the ingest worker is down'))
    if (this.closing) return Promise.reject(new StockyardError('store.failed', 'the gateway is shutting down'))
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.post({ type: 'call', id, method, args })
    })
  }

  private enqueue(message: RawMessage, done: Done): void {
    if (this.dead) return done(this.dead)
    if (this.closing) return done(new Error('gateway is shutting down'))
    this.pending.push({ message, receivedAt: this.deps.now(), done })
    if (this.inFlight.size >= MAX_IN_FLIGHT) return
    if (this.pending.length >= this.deps.config.ingest.maxBatch) this.dispatch()
    else if (!this.timer) {
      const ms = this.deps.config.ingest.commitIntervalMs
      this.timer = ms === 0 ? setImmediate(() => this.dispatch()) : setTimeout(() => this.dispatch(), ms)
    }
  }

  private dispatch(): void {
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout)
      clearImmediate(this.timer as NodeJS.Immediate)
      this.timer = null
    }
    if (this.inFlight.size >= MAX_IN_FLIGHT || this.pending.length === 0 || this.dead) return
    const max = this.deps.config.ingest.maxBatch
    const entries = this.pending.length <= max ? this.pending : this.pending.slice(0, max)
    this.pending = this.pending.length <= max ? [] : this.pending.slice(max)
    const id = this.nextId++
    this.inFlight.set(id, entries)
    // Payloads are views into the socket's read buffers; cloning a view copies its whole buffer (64 KiB
    // chunks). Copying just the payload bytes into one buffer and transferring it costs less and
    // leaves nothing behind for the collector.
    let total = 0
    for (const e of entries) total += e.message.payload.byteLength
    const packed = new Uint8Array(total)
    const messages: RawMessage[] = new Array(entries.length)
    let offset = 0
    for (let i = 0; i < entries.length; i++) {
      const m = entries[i]!.message
      packed.set(m.payload, offset)
      messages[i] = { ...m, payload: packed.subarray(offset, offset + m.payload.byteLength) }
      offset += m.payload.byteLength
    }
    this.worker.postMessage({ type: 'batch', id, messages } satisfies ToWorker, [packed.buffer])
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'batch':
        return this.onBatch(m)
      case 'flushed':
        this.flushWaiters.get(m.id)?.()
        this.flushWaiters.delete(m.id)
        return
      case 'retention':
        this.deps.metrics.retentionDeleted.inc({ table: 'all' }, m.deleted)
        return
      case 'fatal':
        return this.die(new Error(m.error))
      case 'alerts':
        for (const n of m.notices) this.deps.metrics.alertChanges.inc({ event: n.event })
        this.safeEmit('alerts', m.notices)
        return
      case 'reply': {
        const call = this.calls.get(m.id)
        this.calls.delete(m.id)
        if (m.ok) call?.resolve(m.value)
        else call?.reject(new StockyardError(m.error.code as ErrorCode, m.error.message, m.error.details))
        return
      }
      case 'ruleStats':
        return this.onRuleStats(m)
      case 'ready':
        return
    }
  }

  private onBatch(m: Extract<FromWorker, { type: 'batch' }>): void {
    const entries = this.inFlight.get(m.id)
    if (!entries) return
    this.inFlight.delete(m.id)
    const metrics = this.deps.metrics
    if (!m.ok) {
      metrics.storeErrors.inc()
      const err = new Error(`commit failed: ${m.error}`)
      for (const e of entries) e.done(err)
    } else {
      const now = this.deps.now()
      metrics.commitTime.observe(m.stats.commitSeconds)
      metrics.batchSize.observe(entries.length)
      metrics.points.inc(m.stats.points)
      metrics.events.inc(m.stats.events)
      for (const [kind, n] of Object.entries(m.stats.kinds)) metrics.ingested.inc({ kind }, n)
      if (this.listenerCount('committed') > 0 && Object.keys(m.stats.kinds).length > 0) this.safeEmit('committed', m.stats.kinds)
      for (const r of m.rejections) {
        metrics.rejected.inc({ reason: r.code })
        this.safeEmit('rejected', r)
      }
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!
        metrics.ackLatency.observe((now - e.receivedAt) / 1000)
        e.done(null, m.outcomes[i] === OUTCOME_ACCEPTED ? 'accepted' : 'rejected')
      }
    }
    // What queued up while the worker was full goes next, at once.
    if (this.pending.length > 0 && this.inFlight.size === MAX_IN_FLIGHT - 1) this.dispatch()
  }

  private onRuleStats(m: RuleStatsMessage): void {
    const metrics = this.deps.metrics
    for (const g of [metrics.ruleEvaluations, metrics.ruleErrors, metrics.ruleLatePoints, metrics.alerts]) g.reset()
    for (const r of m.rules) {
      metrics.ruleEvaluations.set({ rule: r.id }, r.evaluations)
      metrics.ruleErrors.set({ rule: r.id }, r.errors)
      metrics.ruleLatePoints.set({ rule: r.id }, r.latePoints)
    }
    for (const [key, n] of Object.entries(m.alerts)) {
      const [state, severity] = key.split('/')
      metrics.alerts.set({ state, severity }, n)
    }
    metrics.webhookQueue.set({ state: 'pending' }, m.webhooks.pending)
    metrics.webhookQueue.set({ state: 'dead' }, m.webhooks.dead)
    metrics.webhookDelivered.set(m.webhooks.delivered)
    metrics.notificationsDropped.set(m.droppedNotifications)
    metrics.webhookFailedAttempts.set(m.webhooks.failedAttempts)
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m)
  }

  private die(err: Error): void {
    if (this.dead) return
    this.dead = err
    this.deps.logger.fatal({ err }, 'ingest worker failed; nothing more can be stored')
    const waiting = [...[...this.inFlight.values()].flat(), ...this.pending]
    this.inFlight.clear()
    this.pending = []
    for (const e of waiting) e.done(err)
    for (const resolve of this.flushWaiters.values()) resolve()
    this.flushWaiters.clear()
    for (const call of this.calls.values()) call.reject(new StockyardError('store.failed', 'the ingest worker is down'))
    this.calls.clear()
    this.safeEmit('fatal', err)
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

  /** Commit (and so acknowledge) everything queued, then close the store and stop the worker. */
  close(): Promise<void> {
    if (this.closing) return this.closing
    this.closing = (async () => {
      if (!this.dead) {
        // Drain: dispatch and wait until nothing is queued or in flight.
        while (this.inFlight.size > 0 || this.pending.length > 0) {
          this.dispatch()
          await new Promise((r) => setTimeout(r, 2))
          if (this.dead) break
        }
        const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()))
        this.post({ type: 'close' })
        await exited
      } else {
        await this.worker.terminate()
      }
    })()
    return this.closing
  }
}
