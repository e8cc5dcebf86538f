/**
 * Durable webhook outbox for alert notifications: at-least-once delivery, in order per target.
 *
 * A notification is a row in `notify_queue`, inserted in the same SQLite transaction as the alert
 * change that caused it, so a crash can neither lose it nor send it for a change that rolled back.
 * Each target is a lane: its oldest pending row is POSTed, one request at a time, so a firing and
 * its resolve never arrive swapped. Lanes are independent: a receiver that hangs or is down only
 * holds up its own lane. A delivered row is deleted; a refused or expired one is kept as `dead`
 * (the newest `deadKeep`) for inspection.
 *
 * It is hand-written because no library does this: the job queues on npm (bullmq, bee-queue, p-queue
 * and the like) need Redis or keep jobs in memory, and none gives per-target FIFO over the SQLite file
 * (and the single writer connection) the gateway already has. The retry policy below is the one place
 * that decides retry and backoff for webhooks (STYLE §2).
 *
 * It runs on the ingest worker thread next to group commit, so it never blocks it for long: every
 * SQLite statement here is a single indexed lookup or update of a few rows, and the requests are
 * async (global fetch, with an AbortSignal timeout per request).
 *
 * @example
 * const outbox = new WebhookOutbox(db, { ...config.notify, log })
 * db.transaction(() => { alerts.fire(a); outbox.enqueue('ops', { status: 'firing', ...a }) })()
 * outbox.start() // after the transaction: delivers the backlog; later enqueues wake their lane themselves
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Database, Statement } from 'better-sqlite3'
import type { Config } from '../config/schema.ts'
import { StockyardError } from '../core/errors.ts'
import { backoffMs, describeFetchError, readPrefix, retryAfterMs } from '../core/http-retry.ts'

export type Webhook = Config['notify']['webhooks'][string]

export interface WebhookOutboxOptions {
  webhooks: Config['notify']['webhooks']
  /** Backoff between attempts starts at this... */
  retryBaseMs: number
  /** ...and never exceeds this (nor does an honoured Retry-After). */
  retryMaxMs: number
  /** A notification still undelivered this long after enqueue() is given up (kept as dead). */
  maxAgeMs: number
  /** Dead rows kept for inspection, newest first; default 1000. */
  deadKeep?: number
  now?: () => number
  random?: () => number
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void }
}

export interface WebhookOutboxStats {
  /** Rows waiting (or being tried) now. */
  pending: number
  /** Rows given up and kept for inspection (at most `deadKeep`). */
  dead: number
  /** Deliveries since this instance was created. */
  delivered: number
  /** Failed attempts that will be retried, since this instance was created. */
  failedAttempts: number
}

export interface DeadNotification {
  id: number
  target: string
  body: unknown
  createdAt: number
  attempts: number
  reason: string
}

export const NOTIFY_QUEUE_DDL = `
CREATE TABLE IF NOT EXISTS notify_queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  target TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
  last_error TEXT);
CREATE INDEX IF NOT EXISTS notify_queue_lane ON notify_queue (state, target, id);
`

/** Request header carrying the row id, so a receiver can drop the duplicates at-least-once implies (unique per gateway). */
export const NOTIFICATION_ID_HEADER = 'x-stockyard-notification-id'

const RETRY_STATUS = new Set([408, 425, 429])
const REASON_CHARS = 200
/** Expired rows marked dead per statement; the lane yields to other work between chunks. */
const EXPIRE_CHUNK = 1000

type Outcome = { kind: 'delivered' } | { kind: 'retry'; reason: string; retryAfterMs?: number } | { kind: 'refused'; reason: string }

interface HeadRow {
  id: number
  body: string
  created_at: number
  attempts: number
  next_at: number
}

/** Per-target state in memory; the queue itself is only in SQLite. */
interface Lane {
  timer?: NodeJS.Timeout
  inflight?: Promise<void>
  /** Set at the first failure, cleared by a delivery: a down receiver is logged once, not per attempt. */
  failing: boolean
}

export class WebhookOutbox {
  private readonly st: Record<string, Statement>
  private readonly lanes = new Map<string, Lane>()
  private readonly woken = new Set<string>()
  private wakeHandle: NodeJS.Immediate | undefined
  private running = false
  private delivered = 0
  private failedAttempts = 0
  private readonly now: () => number
  private readonly random: () => number
  private readonly deadKeep: number

  /** Creates `notify_queue` if missing. Does not send anything before start(). */
  constructor(
    private readonly db: Database,
    private readonly opts: WebhookOutboxOptions,
  ) {
    this.now = opts.now ?? Date.now
    this.random = opts.random ?? Math.random
    this.deadKeep = opts.deadKeep ?? 1000
    db.exec(NOTIFY_QUEUE_DDL)
    this.st = {
      insert: db.prepare('INSERT INTO notify_queue (target, body, created_at, next_at) VALUES (?, ?, ?, ?)'),
      head: db.prepare(`SELECT id, body, created_at, attempts, next_at FROM notify_queue WHERE state = 'pending' AND target = ? ORDER BY id LIMIT 1`),
      delete: db.prepare('DELETE FROM notify_queue WHERE id = ?'),
      retry: db.prepare('UPDATE notify_queue SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?'),
      refuse: db.prepare(`UPDATE notify_queue SET state = 'dead', attempts = attempts + 1, last_error = ? WHERE id = ?`),
      expire: db.prepare(
        `UPDATE notify_queue SET state = 'dead', last_error = ? || coalesce(last_error, 'none')
         WHERE id IN (SELECT id FROM notify_queue WHERE state = 'pending' AND target = ? AND created_at <= ? ORDER BY id LIMIT ${EXPIRE_CHUNK})`,
      ),
      killTarget: db.prepare(`UPDATE notify_queue SET state = 'dead', last_error = ? WHERE state = 'pending' AND target = ?`),
      pendingByTarget: db.prepare(`SELECT target, count(*) AS n FROM notify_queue WHERE state = 'pending' GROUP BY target`),
      trimDead: db.prepare(
        `DELETE FROM notify_queue WHERE state = 'dead' AND id <= (SELECT id FROM notify_queue WHERE state = 'dead' ORDER BY id DESC LIMIT 1 OFFSET ?)`,
      ),
      counts: db.prepare('SELECT state, count(*) AS n FROM notify_queue GROUP BY state'),
      listDead: db.prepare(`SELECT id, target, body, created_at, attempts, last_error FROM notify_queue WHERE state = 'dead' ORDER BY id DESC LIMIT ?`),
    }
  }

  /**
   * Queue `body` (JSON) for the webhook named `target`; returns the row id (sent as `x-stockyard-notification-id`).
   * Synchronous, and safe inside the caller's transaction: the row commits or rolls back with it, and
   * delivery is woken on the next event-loop turn, after the commit. Throws for an unknown target.
   */
  enqueue(target: string, body: unknown): number {
    if (!Object.hasOwn(this.opts.webhooks, target)) {
      const known = Object.keys(this.opts.webhooks).join(', ') || 'none'
      throw new StockyardError('config.invalid', `no webhook "${target}" in notify.webhooks (configured: ${known})`)
    }
    const json = JSON.stringify(body) as string | undefined
    if (json === undefined) throw new StockyardError('request.invalid', 'a notification body must be JSON-serializable')
    const now = this.now()
    const id = Number(this.st.insert!.run(target, json, now, now).lastInsertRowid)
    if (this.running) this.wake(target)
    return id
  }

  /**
   * Start delivering, the backlog from before a restart included. Pending rows of a target that is no
   * longer configured are marked dead. Call it once the caller's open transaction (if any) has committed.
   */
  start(): void {
    if (this.running) return
    this.running = true
    const pending = this.st.pendingByTarget!.all() as Array<{ target: string; n: number }>
    for (const { target, n } of pending) {
      if (Object.hasOwn(this.opts.webhooks, target)) {
        this.pump(target)
        continue
      }
      this.st.killTarget!.run(`webhook "${target}" is no longer configured in notify.webhooks`, target)
      this.opts.log.error({ target, count: n }, 'webhook removed from config: its pending notifications are given up (kept as dead)')
    }
    this.st.trimDead!.run(this.deadKeep)
  }

  /** Stop sending: clears timers and waits for the requests in flight (each bounded by its timeoutMs) to be recorded. */
  async stop(): Promise<void> {
    this.running = false
    if (this.wakeHandle) clearImmediate(this.wakeHandle)
    this.wakeHandle = undefined
    this.woken.clear()
    for (const lane of this.lanes.values()) {
      clearTimeout(lane.timer)
      lane.timer = undefined
    }
    await Promise.all([...this.lanes.values()].map((lane) => lane.inflight))
  }

  /** Queue sizes from the table, counters since this instance was created. */
  stats(): WebhookOutboxStats {
    const rows = this.st.counts!.all() as Array<{ state: 'pending' | 'dead'; n: number }>
    const count = (state: string): number => rows.find((r) => r.state === state)?.n ?? 0
    return { pending: count('pending'), dead: count('dead'), delivered: this.delivered, failedAttempts: this.failedAttempts }
  }

  /** The newest dead notifications, with why each was given up. */
  listDead(limit = 100): DeadNotification[] {
    const rows = this.st.listDead!.all(limit) as Array<HeadRow & { target: string; last_error: string | null }>
    return rows.map((r) => ({
      id: r.id,
      target: r.target,
      body: JSON.parse(r.body),
      createdAt: r.created_at,
      attempts: r.attempts,
      reason: r.last_error ?? '',
    }))
  }

  private lane(target: string): Lane {
    let lane = this.lanes.get(target)
    if (!lane) this.lanes.set(target, (lane = { failing: false }))
    return lane
  }

  /** Pump `target` on the next turn of the event loop (coalesced), i.e. after the caller's transaction. */
  private wake(target: string): void {
    this.woken.add(target)
    this.wakeHandle ??= setImmediate(() => {
      this.wakeHandle = undefined
      const targets = [...this.woken]
      this.woken.clear()
      for (const t of targets) this.pump(t)
    })
  }

  private pumpIn(target: string, ms: number): void {
    if (!this.running) return
    const lane = this.lane(target)
    clearTimeout(lane.timer)
    lane.timer = setTimeout(() => {
      lane.timer = undefined
      this.pump(target)
    }, ms)
    lane.timer.unref()
  }

  /** Send the lane's head if it is due, or arm a timer for when it is. No-op while a request is in flight. */
  private pump(target: string): void {
    const lane = this.lane(target)
    if (!this.running || lane.inflight || !this.db.open) return
    clearTimeout(lane.timer)
    lane.timer = undefined
    // A caller's transaction is open on this connection (a manual BEGIN across an await): the head
    // may still roll back, and our own writes would join that transaction. Look again shortly.
    if (this.db.inTransaction) return this.pumpIn(target, 5)
    try {
      const row = this.st.head!.get(target) as HeadRow | undefined
      if (!row) return
      const now = this.now()
      const expiresAt = row.created_at + this.opts.maxAgeMs
      if (now >= expiresAt) {
        this.expire(target, now)
        return this.pumpIn(target, 0)
      }
      const due = Math.min(row.next_at, expiresAt)
      if (due > now) return this.pumpIn(target, due - now)
      const hook = this.opts.webhooks[target]!
      lane.inflight = this.attempt(target, hook, row).then((recorded) => {
        lane.inflight = undefined
        if (recorded) this.pump(target)
        else this.pumpIn(target, this.opts.retryBaseMs)
      })
    } catch (err) {
      this.opts.log.error({ err, target }, 'webhook outbox could not read its queue; will retry')
      this.pumpIn(target, this.opts.retryBaseMs)
    }
  }

  /** One POST and its outcome written back; false if the outcome could not be recorded. Never rejects. */
  private async attempt(target: string, hook: Webhook, row: HeadRow): Promise<boolean> {
    const outcome = await post(hook, row, this.now)
    try {
      while (this.db.open && this.db.inTransaction) await sleep(5)
      if (!this.db.open) return false
      this.record(target, row, outcome)
      return true
    } catch (err) {
      this.opts.log.error({ err, target, id: row.id }, 'webhook outbox could not record a delivery attempt; the notification may be sent again')
      return false
    }
  }

  private record(target: string, row: HeadRow, outcome: Outcome): void {
    const lane = this.lane(target)
    const { log, retryBaseMs, retryMaxMs } = this.opts
    switch (outcome.kind) {
      case 'delivered':
        this.st.delete!.run(row.id)
        this.delivered++
        lane.failing = false
        return
      case 'retry': {
        const attempts = row.attempts + 1
        let delay = backoffMs(attempts, retryBaseMs, retryMaxMs, this.random)
        if (outcome.retryAfterMs !== undefined) delay = Math.min(retryMaxMs, Math.max(delay, outcome.retryAfterMs))
        this.st.retry!.run(this.now() + delay, outcome.reason, row.id)
        this.failedAttempts++
        if (!lane.failing) {
          lane.failing = true
          log.warn({ target, id: row.id, attempts, error: outcome.reason, retryInMs: Math.round(delay) }, 'webhook delivery failed; retrying with backoff')
        }
        return
      }
      case 'refused':
        this.db.transaction(() => {
          this.st.refuse!.run(outcome.reason, row.id)
          this.st.trimDead!.run(this.deadKeep)
        })()
        log.error({ target, id: row.id, reason: outcome.reason }, 'webhook refused a notification; given up (kept as dead)')
    }
  }

  /** Mark the lane's rows older than maxAgeMs dead (one chunk), and log the give-up once for the chunk. */
  private expire(target: string, now: number): void {
    const reason = `expired: undelivered after maxAgeMs ${this.opts.maxAgeMs}; last error: `
    const n = this.db.transaction(() => {
      const changes = this.st.expire!.run(reason, target, now - this.opts.maxAgeMs).changes
      this.st.trimDead!.run(this.deadKeep)
      return changes
    })()
    this.opts.log.error({ target, count: n, maxAgeMs: this.opts.maxAgeMs }, 'webhook notifications expired undelivered; given up (kept as dead)')
  }
}

/** POST one row. Classifies the result; never throws. */
async function post(hook: Webhook, row: HeadRow, now: () => number): Promise<Outcome> {
  try {
    const headers = new Headers({ 'content-type': 'application/json', 'user-agent': 'stockyard' })
    for (const [name, value] of Object.entries(hook.headers)) headers.set(name, value)
    headers.set(NOTIFICATION_ID_HEADER, String(row.id))
    // redirect 'manual': fetch would turn a POST answered by 301/302/303 into a body-less GET.
    const res = await fetch(hook.url, { method: 'POST', headers, body: row.body, redirect: 'manual', signal: AbortSignal.timeout(hook.timeoutMs) })
    if (res.ok) {
      await res.body?.cancel().catch(() => undefined)
      return { kind: 'delivered' }
    }
    const text = await readPrefix(res, REASON_CHARS)
    const reason = `HTTP ${res.status}${text ? `: ${text}` : ''}`
    if (res.status >= 300 && res.status < 400) {
      return { kind: 'refused', reason: `${reason} (redirect to ${res.headers.get('location') ?? '?'}; configure the final URL)` }
    }
    if (RETRY_STATUS.has(res.status) || res.status >= 500) {
      const after = res.status === 429 || res.status === 503 ? retryAfterMs(res.headers.get('retry-after'), now()) : undefined
      return after === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs: after }
    }
    return { kind: 'refused', reason }
  } catch (err) {
    return { kind: 'retry', reason: describeFetchError(err, hook.timeoutMs) }
  }
}
