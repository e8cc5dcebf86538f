/**
 * The durable webhook outbox against real HTTP receivers on 127.0.0.1 and a real SQLite file:
 * delivered once, in order per target, retried when the receiver may recover, given up (and kept
 * as dead) when it refuses or the notification is too old, and carried across a restart.
 */
import { rmSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { NOTIFICATION_ID_HEADER, WebhookOutbox, type Webhook, type WebhookOutboxOptions } from '../gateway/alerts/webhook.ts'
import { backoffMs, retryAfterMs } from '../gateway/core/http-retry.ts'
import { StockyardError } from '../gateway/core/errors.ts'
import { tempDir } from './helpers/gateway.ts'

const BASE = 20

interface Hit {
  n: number
  /** performance.now() when the whole request had arrived. */
  at: number
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: unknown
}
type Reply = (hit: Hit, res: ServerResponse) => void | Promise<void>

/** A webhook receiver on 127.0.0.1 that records every request; down() and up() keep its port. */
class Receiver {
  readonly hits: Hit[] = []
  maxConcurrent = 0
  port = 0
  private concurrent = 0
  private readonly server: Server

  constructor(reply: Reply) {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const hit = {
          n: this.hits.length + 1,
          at: performance.now(),
          method: req.method!,
          path: req.url!,
          headers: req.headers,
          body: JSON.parse(String(Buffer.concat(chunks))),
        }
        this.hits.push(hit)
        this.maxConcurrent = Math.max(this.maxConcurrent, ++this.concurrent)
        res.on('close', () => this.concurrent--)
        void Promise.resolve(reply(hit, res))
      })
    })
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`
  }

  bodies(): unknown[] {
    return this.hits.map((h) => h.body)
  }

  async up(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    this.port = (this.server.address() as AddressInfo).port
  }

  /** Close the port (connections refused) and drop open connections, hanging requests included. */
  async down(): Promise<void> {
    const closed = new Promise((resolve) => this.server.close(resolve))
    this.server.closeAllConnections()
    await closed
  }
}

const ok: Reply = (_hit, res) => void res.writeHead(204).end()

let dir: string
let db: Database.Database
let receivers: Receiver[]
let outboxes: WebhookOutbox[]
let dbs: Database.Database[]

function openDb(): Database.Database {
  const d = new Database(join(dir, 'stockyard.db'))
  d.pragma('journal_mode = WAL')
  dbs.push(d)
  return d
}

async function receiver(reply: Reply = ok): Promise<Receiver> {
  const r = new Receiver(reply)
  await r.up()
  receivers.push(r)
  return r
}

type Log = WebhookOutboxOptions['log'] & { warn: ReturnType<typeof vi.fn>; error: ReturnType<typeof vi.fn> }

/** An outbox with fast retries and no jitter (random 0: every backoff is retryBaseMs) unless overridden. */
function outbox(
  webhooks: Record<string, string | (Partial<Webhook> & { url: string })>,
  opts: Partial<WebhookOutboxOptions> = {},
  database = db,
): { ob: WebhookOutbox; log: Log } {
  const hooks: Record<string, Webhook> = {}
  for (const [name, w] of Object.entries(webhooks)) hooks[name] = { headers: {}, timeoutMs: 2000, ...(typeof w === 'string' ? { url: w } : w) }
  const log = { warn: vi.fn(), error: vi.fn() }
  const ob = new WebhookOutbox(database, { webhooks: hooks, retryBaseMs: BASE, retryMaxMs: 100, maxAgeMs: 60_000, random: () => 0, log, ...opts })
  outboxes.push(ob)
  return { ob, log }
}

function rows(database = db): Array<Record<string, unknown>> {
  return database.prepare('SELECT * FROM notify_queue ORDER BY id').all() as Array<Record<string, unknown>>
}

/** Poll until `check` stops throwing (every 5 ms, for at most `timeout` ms). */
function until(check: () => void, timeout = 3000): Promise<void> {
  return vi.waitFor(check, { timeout, interval: 5 })
}

beforeEach(() => {
  dir = tempDir('stockyard-webhook-')
  receivers = []
  outboxes = []
  dbs = []
  db = openDb()
})

afterEach(async () => {
  // Receivers first: a hanging request then fails at once, so stop() does not wait for its timeout.
  await Promise.all(receivers.map((r) => r.down()))
  await Promise.all(outboxes.map((o) => o.stop()))
  for (const d of dbs) if (d.open) d.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('webhook outbox: delivery', () => {
  it('delivers a notification once, as a JSON POST with the configured headers', async () => {
    const rx = await receiver()
    const { ob } = outbox({ ops: { url: rx.url('/alerts'), headers: { authorization: 'Bearer s3cret', 'x-site': 'dc1' } } })
    ob.start()
    const body = { status: 'firing', rule: 'cold-room-temp', zone: 'z1', value: 9.5 }
    const id = ob.enqueue('ops', body)

    await until(() => expect(ob.stats().delivered).toBe(1))
    await sleep(5 * BASE)
    expect(rx.hits).toHaveLength(1)
    const hit = rx.hits[0]!
    expect(hit).toMatchObject({ method: 'POST', path: '/alerts', body })
    expect(hit.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'stockyard',
      authorization: 'Bearer s3cret',
      'x-site': 'dc1',
      [NOTIFICATION_ID_HEADER]: String(id),
    })
    expect(rows()).toEqual([])
    expect(ob.stats()).toEqual({ pending: 0, dead: 0, delivered: 1, failedAttempts: 0 })
  })

  it('sends what was enqueued in a transaction after its commit, and nothing from one that rolled back', async () => {
    const rx = await receiver()
    const { ob } = outbox({ ops: rx.url() })
    ob.start()
    db.exec('CREATE TABLE alerts (id TEXT PRIMARY KEY, state TEXT NOT NULL)')
    const setAlert = db.prepare('INSERT INTO alerts (id, state) VALUES (?, ?)')
    const failed = db.transaction(() => {
      setAlert.run('a1', 'firing')
      ob.enqueue('ops', { alert: 'a1' })
      throw new Error('rule evaluation failed')
    })
    expect(failed).toThrow('rule evaluation failed')
    db.transaction(() => {
      setAlert.run('a2', 'firing')
      ob.enqueue('ops', { alert: 'a2' })
    })()

    await until(() => expect(ob.stats().delivered).toBe(1))
    await sleep(5 * BASE)
    expect(rx.bodies()).toEqual([{ alert: 'a2' }])
  })

  it('delivers to a receiver that was down at first once it is up, in order, one request at a time', async () => {
    const rx = await receiver(async (_hit, res) => {
      await sleep(10)
      res.writeHead(200).end('ok')
    })
    await rx.down()
    const { ob, log } = outbox({ ops: rx.url() }, { random: Math.random })
    const sent = [
      { alert: 'a', status: 'firing' },
      { alert: 'a', status: 'resolved' },
      { alert: 'b', status: 'firing' },
      { alert: 'b', status: 'resolved' },
    ]
    ob.enqueue('ops', sent[0])
    ob.enqueue('ops', sent[1])
    ob.start()
    ob.enqueue('ops', sent[2])
    await until(() => expect(ob.stats().failedAttempts).toBeGreaterThanOrEqual(3))
    ob.enqueue('ops', sent[3])
    // A down receiver is logged once, not at every attempt.
    expect(log.warn).toHaveBeenCalledTimes(1)
    expect(log.warn.mock.calls[0]![0]).toMatchObject({ target: 'ops', error: expect.stringContaining('ECONNREFUSED') })

    await rx.up()
    await until(() => expect(rx.hits.length).toBeGreaterThanOrEqual(1))
    // Enqueued while a request of the same lane is in flight: queued behind it, not sent beside it.
    const more = [
      { alert: 'c', status: 'firing' },
      { alert: 'c', status: 'resolved' },
    ]
    for (const body of more) ob.enqueue('ops', body)
    await until(() => expect(ob.stats().delivered).toBe(6))
    expect(rx.bodies()).toEqual([...sent, ...more])
    expect(rx.maxConcurrent).toBe(1)
    expect(ob.stats().pending).toBe(0)
  })

  it('retries after 500 twice, backing off, and delivers on the third attempt', async () => {
    const rx = await receiver((hit, res) => void (hit.n <= 2 ? res.writeHead(500).end('database is locked') : res.writeHead(200).end()))
    const { ob } = outbox({ ops: rx.url() }, { retryBaseMs: 30 })
    ob.start()
    ob.enqueue('ops', { alert: 'a' })

    await until(() => expect(ob.stats().delivered).toBe(1))
    await sleep(100)
    expect(rx.hits).toHaveLength(3)
    expect(ob.stats()).toEqual({ pending: 0, dead: 0, delivered: 1, failedAttempts: 2 })
    // retryBaseMs apart at least (timers have 1 ms granularity).
    expect(rx.hits[1]!.at - rx.hits[0]!.at).toBeGreaterThanOrEqual(29)
    expect(rx.hits[2]!.at - rx.hits[1]!.at).toBeGreaterThanOrEqual(29)
  })

  it('waits as long as Retry-After says on 429', async () => {
    const rx = await receiver(async (hit, res) => {
      if (hit.n > 1) return void res.writeHead(204).end()
      await sleep(5)
      res.writeHead(429, { 'retry-after': '1' }).end('slow down')
    })
    const { ob } = outbox({ ops: rx.url() }, { retryMaxMs: 5000 })
    ob.start()
    ob.enqueue('ops', { alert: 'a' })

    await until(() => expect(ob.stats().delivered).toBe(1))
    expect(rx.hits).toHaveLength(2)
    const gap = rx.hits[1]!.at - rx.hits[0]!.at
    expect(gap).toBeGreaterThanOrEqual(1000)
    expect(gap).toBeLessThan(1500) // Retry-After, not some longer delay
  })

  it('caps Retry-After at retryMaxMs', async () => {
    const rx = await receiver((hit, res) => void (hit.n > 1 ? res.writeHead(204).end() : res.writeHead(503, { 'retry-after': '3600' }).end()))
    const { ob } = outbox({ ops: rx.url() }, { retryMaxMs: 200 })
    ob.start()
    ob.enqueue('ops', { alert: 'a' })

    await until(() => expect(ob.stats().delivered).toBe(1))
    const gap = rx.hits[1]!.at - rx.hits[0]!.at
    expect(gap).toBeGreaterThanOrEqual(199)
    expect(gap).toBeLessThan(1000)
  })

  it('retries a request that timed out (same notification id, so the receiver can drop the duplicate)', async () => {
    const rx = await receiver((hit, res) => {
      if (hit.n > 1) res.writeHead(204).end()
      // The first request is never answered.
    })
    const { ob, log } = outbox({ ops: { url: rx.url(), timeoutMs: 150 } })
    ob.start()
    ob.enqueue('ops', { alert: 'a' })

    await until(() => expect(ob.stats().delivered).toBe(1))
    expect(rx.hits).toHaveLength(2)
    expect(rx.hits[1]!.at - rx.hits[0]!.at).toBeGreaterThanOrEqual(149)
    expect(rx.hits[1]!.headers[NOTIFICATION_ID_HEADER]).toBe(rx.hits[0]!.headers[NOTIFICATION_ID_HEADER])
    expect(ob.stats().failedAttempts).toBe(1)
    expect(log.warn.mock.calls[0]![0]).toMatchObject({ error: 'timeout after 150 ms' })
  })

  it('does not let a receiver that hangs delay another target', async () => {
    const stuck = await receiver(() => undefined)
    const rx = await receiver()
    const { ob } = outbox({ stuck: { url: stuck.url(), timeoutMs: 3000 }, ops: rx.url() })
    ob.enqueue('stuck', { n: 1 })
    ob.enqueue('stuck', { n: 2 })
    ob.start()
    const t0 = performance.now()
    for (const n of [1, 2, 3]) ob.enqueue('ops', { n })
    ob.enqueue('stuck', { n: 3 })

    await until(() => expect(rx.hits).toHaveLength(3), 1000)
    expect(performance.now() - t0).toBeLessThan(1000) // well before the stuck request's 3 s timeout
    expect(rx.bodies()).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }])
    expect(stuck.hits).toHaveLength(1) // its other notifications wait behind the first
    await until(() => expect(ob.stats()).toMatchObject({ delivered: 3, pending: 3 }))
  })
})

describe('webhook outbox: giving up', () => {
  it('marks a notification refused with 400 dead at once, with status and body start as the reason, and moves on', async () => {
    const refusal = `invalid field "severity": ${'x'.repeat(300)}`
    const rx = await receiver((hit, res) => void (hit.n === 1 ? res.writeHead(400).end(refusal) : res.writeHead(204).end()))
    const { ob, log } = outbox({ ops: rx.url() })
    ob.start()
    const bad = { alert: 'a', severity: 'extreme' }
    const id = ob.enqueue('ops', bad)
    ob.enqueue('ops', { alert: 'b' })

    await until(() => expect(ob.stats().delivered).toBe(1))
    await sleep(5 * BASE)
    expect(rx.bodies()).toEqual([bad, { alert: 'b' }]) // the refused one was not retried
    expect(ob.listDead()).toEqual([{ id, target: 'ops', body: bad, createdAt: expect.any(Number), attempts: 1, reason: `HTTP 400: ${refusal.slice(0, 200)}` }])
    expect(ob.stats()).toEqual({ pending: 0, dead: 1, delivered: 1, failedAttempts: 0 })
    expect(log.error).toHaveBeenCalledTimes(1)
    expect(log.error.mock.calls[0]![0]).toMatchObject({ target: 'ops', id })
  })

  it('gives up a notification still undelivered after maxAgeMs, logging it once', async () => {
    const rx = await receiver()
    await rx.down()
    // Attempts at 0 and 250 ms; the next would be at 500 ms, past the 300 ms maxAge.
    const { ob, log } = outbox({ ops: rx.url() }, { maxAgeMs: 300, retryBaseMs: 250, retryMaxMs: 5000 })
    const t0 = Date.now()
    ob.enqueue('ops', { alert: 'old' })
    ob.start()

    await until(() => expect(ob.stats().dead).toBe(1), 2000)
    const elapsed = Date.now() - t0
    expect(elapsed).toBeGreaterThanOrEqual(300)
    expect(elapsed).toBeLessThan(450) // given up at maxAge, not at the next attempt
    const [dead] = ob.listDead()
    expect(dead!.reason).toMatch(/^expired: undelivered after maxAgeMs 300; last error: network error: ECONNREFUSED$/)
    expect(dead!.attempts).toBe(2)
    expect(log.error).toHaveBeenCalledTimes(1)
    expect(log.error.mock.calls[0]![0]).toMatchObject({ target: 'ops', count: 1 })

    await rx.up()
    ob.enqueue('ops', { alert: 'new' })
    await until(() => expect(ob.stats().delivered).toBe(1))
    expect(rx.bodies()).toEqual([{ alert: 'new' }])
  })

  it('gives up a backlog older than maxAgeMs at start without sending it', async () => {
    const rx = await receiver()
    let now = Date.UTC(2024, 4, 1)
    const { ob } = outbox({ ops: rx.url() }, { maxAgeMs: 60_000, now: () => now })
    ob.enqueue('ops', { alert: 'stale' })
    now += 60_001
    ob.start()
    ob.enqueue('ops', { alert: 'fresh' })

    await until(() => expect(ob.stats().delivered).toBe(1))
    expect(rx.bodies()).toEqual([{ alert: 'fresh' }])
    expect(ob.listDead().map((d) => d.body)).toEqual([{ alert: 'stale' }])
  })

  it('keeps only the newest deadKeep dead notifications', async () => {
    const rx = await receiver((_hit, res) => void res.writeHead(422).end('no'))
    const { ob } = outbox({ ops: rx.url() }, { deadKeep: 2 })
    ob.start()
    for (const n of [1, 2, 3, 4]) ob.enqueue('ops', { n })

    await until(() => expect(rx.hits).toHaveLength(4))
    await until(() => expect(ob.stats().pending).toBe(0))
    expect(ob.stats().dead).toBe(2)
    expect(ob.listDead().map((d) => d.body)).toEqual([{ n: 4 }, { n: 3 }])
  })

  it('refuses to enqueue for a webhook that is not configured, and writes nothing', () => {
    const { ob } = outbox({ ops: 'http://127.0.0.1:9/hook' })
    let err: unknown
    try {
      ob.enqueue('pager', { alert: 'a' })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(StockyardError)
    expect(err).toMatchObject({ code: 'config.invalid', message: 'no webhook "pager" in notify.webhooks (configured: ops)' })
    expect(rows()).toEqual([])
  })
})

describe('webhook outbox: restarts', () => {
  it('delivers exactly once what was pending when the previous instance stopped', async () => {
    const rx = await receiver()
    await rx.down()
    const first = outbox({ ops: rx.url() })
    first.ob.enqueue('ops', { alert: 'a', status: 'firing' })
    first.ob.start()
    first.ob.enqueue('ops', { alert: 'a', status: 'resolved' })
    await until(() => expect(first.ob.stats().failedAttempts).toBeGreaterThanOrEqual(1))
    await first.ob.stop()
    db.close()

    await rx.up()
    await sleep(5 * BASE)
    expect(rx.hits).toHaveLength(0) // the stopped instance sends nothing more

    const db2 = openDb()
    const second = outbox({ ops: rx.url() }, {}, db2)
    second.ob.start()
    await until(() => expect(second.ob.stats().delivered).toBe(2))
    await sleep(5 * BASE)
    expect(rx.bodies()).toEqual([
      { alert: 'a', status: 'firing' },
      { alert: 'a', status: 'resolved' },
    ])
    expect(rows(db2)).toEqual([])
  })

  it('stop() waits for the request in flight and records it, so the next instance does not resend it', async () => {
    const rx = await receiver(async (_hit, res) => {
      await sleep(200)
      res.writeHead(204).end()
    })
    const first = outbox({ ops: rx.url() })
    first.ob.start()
    first.ob.enqueue('ops', { alert: 'a' })
    await until(() => expect(rx.hits).toHaveLength(1))
    await first.ob.stop()
    expect(first.ob.stats()).toMatchObject({ pending: 0, delivered: 1 })

    const second = outbox({ ops: rx.url() })
    second.ob.start()
    await sleep(5 * BASE)
    expect(rx.hits).toHaveLength(1)
  })

  it('gives up at start the pending notifications of a webhook removed from config', async () => {
    const rx = await receiver()
    const first = outbox({ ops: rx.url(), legacy: rx.url('/legacy') })
    first.ob.enqueue('legacy', { alert: 'a' })
    first.ob.enqueue('legacy', { alert: 'b' })
    first.ob.enqueue('ops', { alert: 'c' })

    const second = outbox({ ops: rx.url() })
    second.ob.start()
    await until(() => expect(second.ob.stats().delivered).toBe(1))
    expect(rx.hits.map((h) => [h.path, h.body])).toEqual([['/hook', { alert: 'c' }]])
    expect(second.ob.listDead().map((d) => [d.target, d.reason])).toEqual([
      ['legacy', 'webhook "legacy" is no longer configured in notify.webhooks'],
      ['legacy', 'webhook "legacy" is no longer configured in notify.webhooks'],
    ])
    expect(second.log.error).toHaveBeenCalledTimes(1)
    expect(second.log.error.mock.calls[0]![0]).toEqual({ target: 'legacy', count: 2 })
  })
})

describe('webhook outbox: retry policy', () => {
  it('backs off exponentially with full jitter between retryBaseMs and retryMaxMs', () => {
    expect(backoffMs(1, 100, 10_000, () => 0)).toBe(100)
    expect(backoffMs(1, 100, 10_000, () => 1)).toBe(200)
    expect(backoffMs(3, 100, 10_000, () => 0.5)).toBe(450)
    expect(backoffMs(5, 100, 10_000, () => 1)).toBe(3200)
    expect(backoffMs(40, 100, 10_000, () => 1)).toBe(10_000)
    expect(backoffMs(40, 100, 10_000, () => 0)).toBe(100)
  })

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.UTC(2024, 4, 1, 12, 0, 0)
    expect(retryAfterMs('120', now)).toBe(120_000)
    expect(retryAfterMs(' 0 ', now)).toBe(0)
    expect(retryAfterMs(new Date(now + 30_000).toUTCString(), now)).toBe(30_000)
    expect(retryAfterMs(new Date(now - 30_000).toUTCString(), now)).toBe(0)
    expect(retryAfterMs('soon', now)).toBeUndefined()
    expect(retryAfterMs(null, now)).toBeUndefined()
  })
})
