/**
 * The durable outbox to a series sink (InfluxDB): replication from the embedded store, at least once,
 * in append order, surviving outages and restarts.
 *
 * Each lane (points, events) has a cursor: the highest rowid the sink has acknowledged, with every row
 * below it. It lives in `sink_cursor` and moves only after a batch and all batches before it were
 * acknowledged, so after a crash or kill -9 replication resumes at the first unacknowledged row and
 * nothing is lost. Rows sent again are rewritten with the same measurement, tags and timestamp, which
 * InfluxDB treats as the same point (it overwrites), so at-least-once delivery gives exactly-once
 * results.
 *
 * - Batches: up to `batchLines` lines, sent when full or when the oldest row waited `flushMs`.
 * - At most `concurrency` batches in flight over all lanes.
 * - A failed batch is retried (backoff with full jitter, Retry-After honoured) until it lands.
 * - A batch the server refuses as bad data is bisected until the refused lines are found; those go
 *   to the dead-letter table with the server's reason (code `sink.rejected`), the rest lands. Dead
 *   letters and the cursor move are written in one transaction.
 * - Lag (rows and seconds) per lane; `onRisk` says when unreplicated rows come within
 *   `retentionWarnMs` of the store's retention deleting them.
 *
 * Hand-written because no library does this over our store: the InfluxDB client's WriteApi retries
 * from an in-memory buffer (lost on restart), and job queues need Redis or keep jobs in memory.
 * It runs on a worker thread of its own (sink/worker.ts); its statements are short indexed reads.
 */
import type { Database, Statement } from 'better-sqlite3'
import type { Config } from '../config/schema.ts'
import { backoffMs } from '../core/http-retry.ts'
import type { LaneName, LaneSource } from './sources.ts'
import { deliverLines, type DeliverPolicy, type RefusedLine } from './deliver.ts'
import type { LineWriter } from './types.ts'

const DAY = 86_400_000
/** Arrival samples kept per lane before their resolution is halved. */
const MAX_ARRIVALS = 1024

export const SINK_CURSOR_DDL = `
CREATE TABLE IF NOT EXISTS sink_cursor (
  sink TEXT NOT NULL, lane TEXT NOT NULL, last_id INTEGER NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY (sink, lane)) WITHOUT ROWID;
`
/** Dead-letter code of lines the sink refused as bad data. */
export const SINK_REJECTED = 'sink.rejected'

export interface LaneStats {
  /** Highest rowid acknowledged by the sink, with everything below it. */
  cursor: number
  /** Highest rowid in the store. */
  head: number
  /** Rows stored but not yet acknowledged (head - cursor). */
  lagRows: number
  /** Age of the oldest unacknowledged row, in seconds (0 when caught up). */
  lagSeconds: number
  /** The largest `lagSeconds` seen (every poll, 50 ms) since the previous `checkRisk()` report: the peak a snapshot misses. */
  lagSecondsMax: number
  /** Lines acknowledged since start. */
  sentLines: number
  /** Lines refused by the sink and dead-lettered since start. */
  rejectedLines: number
  /** Failed attempts (retried) since start. */
  failedAttempts: number
  /** Set while the sink is failing: the last reason. */
  lastError: string | null
  /** When retention deletes the oldest unacknowledged row (epoch ms), or null when caught up. */
  expiresAt: number | null
}

export interface ReplicatorStats {
  target: string
  inflight: number
  lanes: Record<LaneName, LaneStats>
}

export interface ReplicatorOptions {
  db: Database
  /** Name of the cursor rows ('influx'). */
  name: string
  writer: LineWriter
  sources: readonly LaneSource[]
  config: Pick<Config['influx'], 'batchLines' | 'flushMs' | 'concurrency' | 'retryBaseMs' | 'retryMaxMs' | 'retentionWarnMs'>
  /** Dead-letter rows kept (ingest.deadLetterMax): the oldest are deleted as sink refusals are added. */
  deadLetterMax: number
  /** Retention of each lane's table in days (store.retention.rawDays / eventDays). */
  retentionDays: Record<LaneName, number>
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void }
  /** Real time: arrival of rows, lag, backoff. */
  now?: () => number
  /** The clock retention runs on (the gateway clock), to tell when rows expire. */
  retentionNow?: () => number
  random?: () => number
  /** Told at every `checkRisk()` whether a lane's unreplicated rows are at risk of retention (idempotent for the receiver). */
  onRisk?: (lane: LaneName, atRisk: boolean, stats: LaneStats) => void
}

interface Batch {
  lane: Lane
  last: number
  /** Emptied once the batch is settled: a batch waiting for an earlier one to be recorded holds no lines. */
  lines: string[]
  devices: string[]
  /** Lines the sink stored, once settled. */
  sent: number
  done: boolean
  dead: RefusedLine[]
}

interface Lane {
  source: LaneSource
  cursor: number
  /** Highest rowid read into a batch. */
  readTo: number
  inflight: Batch[]
  /** Rows up to here were stored before this process started; their arrival comes from `marks`. */
  startHead: number
  /** [maxId, first seen at]: when rows arrived since start, for the lag and the flush timer. */
  arrivals: Array<[number, number]>
  sentLines: number
  rejectedLines: number
  failedAttempts: number
  lastError: string | null
  /** As last reported to `onRisk`; null until the first check, which always reports (an alert from before a restart may need resolving). */
  atRisk: boolean | null
  /** Largest lag (ms) seen by pump since the last report. */
  peakLagMs: number
  /** Set while the cursor cannot be stored: logged once per streak. */
  cursorFailing: boolean
  markBefore: Statement
}

class Stopped extends Error {}

interface Sleeper {
  lane: Lane
  timer: NodeJS.Timeout
  /** Ends the wait early: the sink answered another batch of the lane, so it is back. */
  resume: () => void
  /** Ends the wait with Stopped. */
  wake: () => void
}

export class Replicator {
  private readonly lanes: Lane[]
  private readonly now: () => number
  private readonly random: () => number
  private readonly saveCursor: Statement
  private readonly insertDead: Statement
  private readonly trimDead: Statement
  private active = 0
  private started = 0
  private stopped = true
  /** After stop() returned: the connection may be closed, nothing more is recorded. */
  private closed = false
  private pumpQueued = false
  private flushTimer: NodeJS.Timeout | undefined
  private flushAt = Infinity
  private readonly sleeping = new Set<Sleeper>()
  private readonly sends = new Set<Promise<void>>()

  constructor(private readonly opts: ReplicatorOptions) {
    const { db } = opts
    this.now = opts.now ?? Date.now
    this.random = opts.random ?? Math.random
    db.exec(SINK_CURSOR_DDL)
    this.saveCursor = db.prepare(
      'INSERT INTO sink_cursor (sink, lane, last_id, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (sink, lane) DO UPDATE SET last_id = excluded.last_id, updated_at = excluded.updated_at',
    )
    this.insertDead = db.prepare('INSERT INTO dead_letters (at, code, message, device, topic, seq, sample) VALUES (?, ?, ?, ?, ?, NULL, ?)')
    this.trimDead = db.prepare('DELETE FROM dead_letters WHERE id <= ?')
    const load = db.prepare('SELECT last_id FROM sink_cursor WHERE sink = ? AND lane = ?').pluck()
    this.lanes = opts.sources.map((source) => {
      const cursor = (load.get(opts.name, source.lane) as number | undefined) ?? 0
      return {
        source,
        cursor,
        readTo: cursor,
        startHead: source.maxId(),
        inflight: [],
        arrivals: [],
        sentLines: 0,
        rejectedLines: 0,
        failedAttempts: 0,
        lastError: null,
        atRisk: null,
        peakLagMs: 0,
        cursorFailing: false,
        markBefore: db.prepare(`SELECT minute FROM marks WHERE ${source.markColumn} <= ? ORDER BY minute DESC LIMIT 1`).pluck(),
      }
    })
  }

  /** The sink, for logs and alerts. */
  get target(): string {
    return this.opts.writer.describe
  }

  /** Start sending the backlog; later rows are picked up on `notify()`. */
  start(): void {
    this.stopped = false
    this.started = this.now()
    for (const lane of this.lanes) {
      const backlog = Math.max(0, lane.startHead - lane.cursor)
      this.opts.log.info({ lane: lane.source.lane, cursor: lane.cursor, backlog, target: this.opts.writer.describe }, 'replication started')
    }
    this.pump()
  }

  /** Rows were committed: look for a batch to send (coalesced; cheap to call after every commit). */
  notify(): void {
    if (this.pumpQueued || this.stopped) return
    this.pumpQueued = true
    setImmediate(() => {
      this.pumpQueued = false
      this.pump()
    })
  }

  stats(): ReplicatorStats {
    const now = this.now()
    const lanes = {} as Record<LaneName, LaneStats>
    for (const lane of this.lanes) {
      const head = lane.source.maxId()
      this.seen(lane, head, now)
      const lagRows = Math.max(0, head - lane.cursor)
      const arrived = lagRows > 0 ? this.arrivalOf(lane, lane.cursor) : null
      const lagMs = arrived === null ? 0 : Math.max(0, now - arrived)
      lanes[lane.source.lane] = {
        cursor: lane.cursor,
        head,
        lagRows,
        lagSeconds: lagMs / 1000,
        lagSecondsMax: Math.max(lagMs, lane.peakLagMs) / 1000,
        sentLines: lane.sentLines,
        rejectedLines: lane.rejectedLines,
        failedAttempts: lane.failedAttempts,
        lastError: lane.lastError,
        expiresAt: arrived === null ? null : arrived + this.opts.retentionDays[lane.source.lane] * DAY,
      }
    }
    return { target: this.opts.writer.describe, inflight: this.active, lanes }
  }

  /** Compare each lane's oldest unreplicated row with retention; calls `onRisk` on a change. */
  checkRisk(): ReplicatorStats {
    const stats = this.stats()
    const now = (this.opts.retentionNow ?? this.now)()
    for (const lane of this.lanes) {
      const s = stats.lanes[lane.source.lane]
      lane.peakLagMs = 0
      const atRisk = s.expiresAt !== null && now >= s.expiresAt - this.opts.config.retentionWarnMs
      // Told every time, so a receiver that missed one report (a failed call) catches up at the next.
      this.opts.onRisk?.(lane.source.lane, atRisk, s)
      if (atRisk === lane.atRisk) continue
      lane.atRisk = atRisk
      if (atRisk) {
        this.opts.log.error(
          { lane: lane.source.lane, lagRows: s.lagRows, expiresAt: new Date(s.expiresAt!).toISOString() },
          'unreplicated rows are about to be deleted by retention',
        )
      }
    }
    return stats
  }

  /** Stop sending; waits up to `graceMs` for batches in flight (what is not acknowledged is sent again after a restart). */
  async stop(graceMs = 2000): Promise<void> {
    this.stopped = true
    clearTimeout(this.flushTimer)
    for (const s of this.sleeping) {
      clearTimeout(s.timer)
      s.wake()
    }
    this.sleeping.clear()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([Promise.allSettled([...this.sends]), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))])
    clearTimeout(timer)
    this.closed = true
    await this.opts.writer.close()
  }

  // ---------------------------------------------------------------------------------------------

  private pump(): void {
    if (this.stopped) return
    const now = this.now()
    const { batchLines, flushMs, concurrency } = this.opts.config
    let wakeAt = Infinity
    const heads = new Map<Lane, number>()
    for (const lane of this.lanes) {
      // Acknowledged batches whose cursor write failed earlier are recorded now.
      if (lane.inflight[0]?.done) this.advance(lane)
      const head = lane.source.maxId()
      heads.set(lane, head)
      this.seen(lane, head, now)
      if (head > lane.cursor) lane.peakLagMs = Math.max(lane.peakLagMs, now - (this.arrivalOf(lane, lane.cursor) ?? now))
    }
    // Lanes take turns, one batch each, while there is room in flight. A lane never holds more than
    // `concurrency` batches not yet recorded in its cursor (settled or not), so memory stays bounded
    // even while its oldest batch waits out a long backoff.
    for (let progress = true; progress && this.active < concurrency;) {
      progress = false
      for (const lane of this.lanes) {
        if (this.active >= concurrency) break
        if (lane.inflight.length >= concurrency) continue
        const head = heads.get(lane)!
        if (head <= lane.readTo) continue
        const oldest = this.arrivalOf(lane, lane.readTo) ?? now
        if (head - lane.readTo < batchLines && now - oldest < flushMs) {
          wakeAt = Math.min(wakeAt, oldest + flushMs)
          continue
        }
        const read = lane.source.read(lane.readTo, batchLines)
        lane.readTo = read.last
        const batch: Batch = { lane, last: read.last, lines: read.lines, devices: read.devices, sent: 0, done: false, dead: [] }
        lane.inflight.push(batch)
        this.active++
        progress = true
        const send = this.send(batch).finally(() => this.sends.delete(send))
        this.sends.add(send)
      }
    }
    if (wakeAt < Infinity && wakeAt !== this.flushAt) {
      clearTimeout(this.flushTimer)
      this.flushAt = wakeAt
      this.flushTimer = setTimeout(
        () => {
          this.flushAt = Infinity
          this.pump()
        },
        Math.max(0, wakeAt - now),
      )
    }
  }

  private async send(batch: Batch): Promise<void> {
    try {
      for (let failures = 1; batch.lines.length > 0; failures++) {
        try {
          batch.dead = await deliverLines(this.opts.writer, batch.lines, batch.devices, this.policy(batch.lane))
          break
        } catch (err) {
          if (err instanceof Stopped) throw err
          // A bug, not an outage (writers never throw): keep the batch, log, try again later.
          this.opts.log.error({ err, lane: batch.lane.source.lane }, 'replication batch failed unexpectedly; retrying')
          await this.sleep(backoffMs(failures, this.opts.config.retryBaseMs, this.opts.config.retryMaxMs, this.random), batch.lane)
        }
      }
      batch.sent = batch.lines.length - batch.dead.length
      batch.lines = []
      batch.devices = []
      batch.done = true
    } catch {
      return // stopped: the batch is sent again after a restart
    } finally {
      this.active--
    }
    this.advance(batch.lane)
    this.pump()
  }

  /** Move the cursor over the acknowledged prefix of the lane's batches, with their dead letters, in one transaction. */
  private advance(lane: Lane): void {
    let done = 0
    while (done < lane.inflight.length && lane.inflight[done]!.done) done++
    if (done === 0 || this.closed) return
    const batches = lane.inflight.slice(0, done)
    const last = batches[batches.length - 1]!.last
    const now = this.now()
    const topic = `${this.opts.name}:${lane.source.lane}`
    try {
      this.opts.db.transaction(() => {
        let lastDead = 0
        for (const b of batches) {
          for (const d of b.dead) lastDead = Number(this.insertDead.run(now, SINK_REJECTED, d.reason, d.device, topic, d.line.slice(0, 1024)).lastInsertRowid)
        }
        if (lastDead > this.opts.deadLetterMax) this.trimDead.run(lastDead - this.opts.deadLetterMax)
        this.saveCursor.run(this.opts.name, lane.source.lane, last, now)
      })()
    } catch (err) {
      // The store was busy or failed: the batches stay settled but unrecorded (holding no lines); the
      // next pump records them, or a restart sends them again.
      if (!lane.cursorFailing) this.opts.log.error({ err, lane: lane.source.lane }, 'could not store the replication cursor; will retry')
      lane.cursorFailing = true
      return
    }
    lane.cursorFailing = false
    lane.inflight.splice(0, done)
    lane.cursor = last
    for (const b of batches) {
      lane.sentLines += b.sent
      lane.rejectedLines += b.dead.length
      if (b.dead.length)
        this.opts.log.warn(
          { lane: lane.source.lane, lines: b.dead.length, reason: b.dead[0]!.reason },
          'sink refused lines; dead-lettered (code sink.rejected)',
        )
    }
    while (lane.arrivals.length > 1 && lane.arrivals[0]![0] <= lane.cursor) lane.arrivals.shift()
  }

  /** Remember when rows up to `head` were first seen (coalesced to one entry per 50 ms). */
  private seen(lane: Lane, head: number, now: number): void {
    if (head <= lane.startHead) return
    const tail = lane.arrivals[lane.arrivals.length - 1]
    if (tail && head <= tail[0]) return
    if (tail && now - tail[1] < 50) tail[0] = head
    else lane.arrivals.push([head, now])
    // A long outage would add an entry every 50 ms: halve the resolution instead (each pair keeps its
    // earlier time, so the lag is never under-stated).
    if (lane.arrivals.length > MAX_ARRIVALS) {
      const a = lane.arrivals
      const merged: Array<[number, number]> = []
      for (let i = 0; i < a.length; i += 2) merged.push([a[i + 1]?.[0] ?? a[i]![0], a[i]![1]])
      lane.arrivals = merged
    }
  }

  /** When the first row above `id` arrived, or null if it has not been seen yet. */
  private arrivalOf(lane: Lane, id: number): number | null {
    if (id >= lane.startHead) {
      for (const [maxId, at] of lane.arrivals) if (maxId > id) return at
      return null
    }
    // Stored before this start: the arrival minute of the row after `id` (marks hold the highest
    // rowid at the start of each minute), or, with no mark, the start itself. Rows below the lowest
    // still stored are gone (retention): the oldest unreplicated row is the lowest one left.
    const floor = lane.source.minId() - 1
    return (lane.markBefore.get(Math.max(id, floor)) as number | undefined) ?? this.started
  }

  /** How a lane's batches are settled: backoff, and the lane's counters and error kept up to date. */
  private policy(lane: Lane): DeliverPolicy {
    return {
      retryBaseMs: this.opts.config.retryBaseMs,
      retryMaxMs: this.opts.config.retryMaxMs,
      random: this.random,
      sleep: (ms) => this.sleep(ms, lane),
      onRetry: (reason, delay) => {
        lane.failedAttempts++
        if (lane.lastError === null) {
          this.opts.log.warn(
            { lane: lane.source.lane, target: this.opts.writer.describe, error: reason, retryInMs: Math.round(delay) },
            'sink write failed; retrying with backoff (nothing is lost)',
          )
        }
        lane.lastError = reason
      },
      onOk: () => {
        if (lane.lastError === null) return
        this.resumeLane(lane)
        this.opts.log.info({ lane: lane.source.lane, target: this.opts.writer.describe }, 'sink write succeeded again')
        lane.lastError = null
      },
    }
  }

  private sleep(ms: number, lane: Lane): Promise<void> {
    if (this.stopped) return Promise.reject(new Stopped())
    return new Promise((resolve, reject) => {
      const entry: Sleeper = {
        lane,
        timer: setTimeout(() => {
          this.sleeping.delete(entry)
          if (this.stopped) reject(new Stopped())
          else resolve()
        }, ms),
        resume: () => {
          clearTimeout(entry.timer)
          this.sleeping.delete(entry)
          resolve()
        },
        wake: () => reject(new Stopped()),
      }
      this.sleeping.add(entry)
    })
  }

  /** The sink answered a batch of `lane`: the lane's other batches waiting out a backoff try again now. */
  private resumeLane(lane: Lane): void {
    for (const s of [...this.sleeping]) if (s.lane === lane) s.resume()
  }
}
