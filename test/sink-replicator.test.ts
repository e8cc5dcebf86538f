/**
 * The replicator's promises, against a real SQLite store and the real v1 writer over HTTP. The
 * server is a stand-in HTTP server in this process (named so in each test), because a real
 * InfluxDB cannot be made to answer 429, 503 or 500 on demand; everything InfluxDB itself does is
 * tested against influxd in e2e-influx*.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { rmSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConfigSchema, type Config } from '../gateway/config/schema.ts'
import type { Accepted } from '../gateway/core/records.ts'
import { createInfluxReplicator } from '../gateway/sink/influx/index.ts'
import type { Replicator } from '../gateway/sink/replicator.ts'
import { openSqliteStore, type SqliteStore } from '../gateway/store/sqlite/index.ts'
import { waitFor } from './helpers/e2e.ts'
import { tempDir } from './helpers/gateway.ts'

const T0 = Date.UTC(2026, 10, 1)
const quiet = { info() {}, warn() {}, error() {} }

interface Received {
  at: number
  lines: string[]
}

/** A stand-in InfluxDB /write endpoint: answers from `script` (then 204), records every request. */
class StandIn {
  readonly received: Received[] = []
  script: Array<(res: ServerResponse) => void> = []
  /** After the script: refuse (400, like a partial write) any request for which this says so. */
  refuse: (lines: string[]) => boolean = () => false
  refusal = (_lines: string[]): string => '{"error":"partial write: field type conflict dropped=1"}'
  /** After the script: answer 503 with Retry-After: 1 to any request for which this says so. */
  busy: (lines: string[]) => boolean = () => false
  delayMs = 0
  concurrent = 0
  maxConcurrent = 0
  private server!: Server

  async start(): Promise<string> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => {
        this.concurrent++
        this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent)
        const lines = body.split('\n')
        this.received.push({ at: Date.now(), lines })
        const answer =
          this.script.shift() ??
          ((r: ServerResponse) => {
            if (this.busy(lines)) r.writeHead(503, { 'retry-after': '1' }).end('{"error":"busy"}')
            else if (this.refuse(lines)) r.writeHead(400).end(this.refusal(lines))
            else r.writeHead(204).end()
          })
        setTimeout(() => {
          this.concurrent--
          answer(res)
        }, this.delayMs)
      })
    })
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  lines(): string[] {
    return this.received.flatMap((r) => r.lines)
  }

  stop(): Promise<void> {
    this.server.closeAllConnections()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

function readings(n: number, from = 0): Accepted[] {
  return Array.from({ length: n }, (_, i) => ({
    device: 'd1',
    site: 's1',
    kind: 'reading',
    points: [{ metric: 'temperature_c', labels: { site: 's1', zone: 'z1', device: 'd1', sku: '' }, ts: T0 + (from + i) * 1000, value: from + i }],
    events: [],
    keys: [],
  }))
}

let dir: string
let store: SqliteStore
let standIn: StandIn
let url: string
const running: Replicator[] = []

beforeEach(async () => {
  dir = tempDir('stockyard-sink-')
  store = openSqliteStore({ dataDir: dir, synchronous: 'NORMAL', writer: true })
  standIn = new StandIn()
  url = await standIn.start()
})

afterEach(async () => {
  for (const r of running.splice(0)) await r.stop(100)
  store.close()
  await standIn.stop()
  rmSync(dir, { recursive: true, force: true })
})

function replicator(influx: Record<string, unknown> = {}): Replicator {
  const config: Config = ConfigSchema.parse({ influx: { enabled: true, url, createDatabase: false, retryBaseMs: 20, retryMaxMs: 200, ...influx } })
  const r = createInfluxReplicator(store.db, config, { log: quiet })
  running.push(r)
  return r
}

function cursor(): number | undefined {
  return store.db.prepare(`SELECT last_id FROM sink_cursor WHERE sink = 'influx' AND lane = 'points'`).pluck().get() as number | undefined
}

describe('replicator (stand-in HTTP server for the InfluxDB write endpoint)', () => {
  it('sends full batches of batchLines in append order, and stores the cursor after each', async () => {
    store.series.append({ accepted: readings(2500), rejections: [] })
    const r = replicator({ batchLines: 1000, concurrency: 1 })
    r.start()
    expect(await waitFor(() => cursor() === 2500, 5000)).toBe(true)
    expect(standIn.received.map((q) => q.lines.length)).toEqual([1000, 1000, 500])
    expect(standIn.lines().map((l) => Number(l.split(' ')[1]!.split('=')[1]))).toEqual(Array.from({ length: 2500 }, (_, i) => i))
    expect(r.stats().lanes.points).toMatchObject({ cursor: 2500, head: 2500, lagRows: 0, sentLines: 2500, lagSeconds: 0 })
  })

  it('holds a part batch until its oldest row has waited flushMs', async () => {
    const r = replicator({ batchLines: 1000, flushMs: 400 })
    r.start()
    const appended = Date.now()
    store.series.append({ accepted: readings(10), rejections: [] })
    r.notify()
    await sleep(200)
    expect(standIn.received).toHaveLength(0)
    expect(r.stats().lanes.points.lagRows).toBe(10)
    expect(await waitFor(() => cursor() === 10, 3000)).toBe(true)
    expect(standIn.received).toHaveLength(1)
    expect(standIn.received[0]!.at - appended).toBeGreaterThanOrEqual(390)
    // Caught up now, but the report says how far behind it was since the last one; then it starts afresh.
    const report = r.checkRisk().lanes.points
    expect(report.lagSeconds).toBe(0)
    expect(report.lagSecondsMax).toBeGreaterThanOrEqual(0.39)
    expect(r.checkRisk().lanes.points.lagSecondsMax).toBe(0)
  })

  it.each([429, 503])('waits as long as Retry-After says on %i, then sends the same batch again', async (status) => {
    standIn.script.push((res) => res.writeHead(status, { 'retry-after': '1' }).end('{"error":"busy"}'))
    store.series.append({ accepted: readings(5), rejections: [] })
    const r = replicator({ retryMaxMs: 5000 })
    r.start()
    expect(await waitFor(() => cursor() === 5, 5000)).toBe(true)
    expect(standIn.received).toHaveLength(2)
    expect(standIn.received[1]!.at - standIn.received[0]!.at).toBeGreaterThanOrEqual(990)
    expect(standIn.received[1]!.lines).toEqual(standIn.received[0]!.lines)
    expect(r.stats().lanes.points.failedAttempts).toBe(1)
  })

  it('retries a 500 and a database-not-found 404 with backoff, never dead-letters them, and reports the failure meanwhile', async () => {
    standIn.script.push((res) => res.writeHead(500).end('{"error":"engine down"}'))
    standIn.script.push((res) => res.writeHead(404).end('{"error":"database not found: \\"stockyard\\""}'))
    standIn.script.push((res) => res.writeHead(404).end('{"error":"database not found: \\"stockyard\\""}'))
    store.series.append({ accepted: readings(3), rejections: [] })
    const r = replicator({ retryBaseMs: 150, retryMaxMs: 150 })
    r.start()
    expect(await waitFor(() => r.stats().lanes.points.lastError !== null, 2000)).toBe(true)
    expect(r.stats().lanes.points.lastError).toBe('HTTP 500: engine down')
    expect(await waitFor(() => cursor() === 3, 5000)).toBe(true)
    expect(standIn.received).toHaveLength(4)
    expect(r.stats().lanes.points).toMatchObject({ failedAttempts: 3, lastError: null, rejectedLines: 0, sentLines: 3 })
    expect(store.deadLetters.count()).toBe(0)
  })

  it('keeps at most `concurrency` batches in flight', async () => {
    standIn.delayMs = 100
    store.series.append({ accepted: readings(1000), rejections: [] })
    replicator({ batchLines: 100, concurrency: 3 }).start()
    expect(await waitFor(() => cursor() === 1000, 5000)).toBe(true)
    expect(standIn.received).toHaveLength(10)
    expect(standIn.maxConcurrent).toBe(3)
  })

  it('bisects a refused batch down to the bad line: dead-lettered with the reason, the rest acknowledged', async () => {
    // The stand-in refuses any request that holds the line of value 37, as InfluxDB answers a partial write.
    standIn.refuse = (lines) => lines.some((l) => l.includes('temperature_c=37 '))
    store.series.append({ accepted: readings(100), rejections: [] })
    const r = replicator()
    r.start()
    expect(await waitFor(() => cursor() === 100, 5000)).toBe(true)
    const dead = store.deadLetters.list({ limit: 10 })
    expect(dead).toHaveLength(1)
    expect(dead[0]).toMatchObject({
      code: 'sink.rejected',
      device: 'd1',
      topic: 'influx:points',
      message: 'HTTP 400: partial write: field type conflict dropped=1',
    })
    expect(dead[0]!.sample).toBe(`environment,device=d1,site=s1,zone=z1 temperature_c=37 ${T0 + 37_000}`)
    // log2(100) rounds of halving: far fewer requests than one per line.
    expect(standIn.received.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(100)) + 1)
    expect(r.stats().lanes.points).toMatchObject({ sentLines: 99, rejectedLines: 1 })
  })

  it('resumes after a restart at the stored cursor: nothing acknowledged is sent again', async () => {
    store.series.append({ accepted: readings(2000), rejections: [] })
    const first = replicator({ batchLines: 500 })
    first.start()
    expect(await waitFor(() => cursor() === 2000, 5000)).toBe(true)
    await first.stop()
    running.length = 0
    standIn.received.length = 0
    store.series.append({ accepted: readings(300, 2000), rejections: [] })
    const second = replicator({ batchLines: 500 })
    second.start()
    expect(await waitFor(() => cursor() === 2300, 5000)).toBe(true)
    expect(standIn.lines()).toHaveLength(300)
    expect(standIn.lines()[0]).toContain('temperature_c=2000 ')
  })

  it('sends the metrics of one reading as one line with a field each, but never one field twice in a line', async () => {
    const labels = { site: 's1', zone: 'z1', device: 'd1', sku: '' }
    const point = (metric: string, value: number, ts = T0) => ({ metric, labels, ts, value })
    const reading = (...points: ReturnType<typeof point>[]): Accepted => ({ device: 'd1', site: 's1', kind: 'reading', points, events: [], keys: [] })
    store.series.append({
      accepted: [
        reading(point('temperature_c', 4.5), point('humidity_pct', 61)),
        // A second reading of the same metric in the same ms, then another time.
        reading(point('temperature_c', 4.6)),
        reading(point('temperature_c', 4.7, T0 + 1000), point('weight_kg', 2, T0 + 1000)),
      ],
      rejections: [],
    })
    replicator().start()
    expect(await waitFor(() => cursor() === 5, 3000)).toBe(true)
    expect(standIn.lines()).toEqual([
      `environment,device=d1,site=s1,zone=z1 temperature_c=4.5,humidity_pct=61 ${T0}`,
      `environment,device=d1,site=s1,zone=z1 temperature_c=4.6 ${T0}`,
      `environment,device=d1,site=s1,zone=z1 temperature_c=4.7 ${T0 + 1000}`,
      `shelf,device=d1,site=s1,zone=z1 weight_kg=2 ${T0 + 1000}`,
    ])
  })

  it('holds at most `concurrency` unrecorded batches per lane while its oldest waits out a Retry-After, and resumes it when the sink answers', async () => {
    // The batch starting at value 0 is refused with 503 + Retry-After: 1 for its first second.
    const t0 = Date.now()
    standIn.busy = (lines) => lines[0]!.includes('temperature_c=0 ') && Date.now() - t0 < 1000
    store.series.append({ accepted: readings(1000), rejections: [] })
    replicator({ batchLines: 100, concurrency: 2, retryMaxMs: 5000 }).start()
    expect(await waitFor(() => cursor() === 1000, 5000)).toBe(true)
    const firstValue = (q: Received): number => Number(/temperature_c=(\d+) /.exec(q.lines[0]!)![1])
    const early = standIn.received.filter((q) => q.at - t0 < 900).map(firstValue)
    // Only the stuck batch and one more were sent meanwhile: nothing piles up behind the stuck one.
    expect(new Set(early)).toEqual(new Set([0, 100]))
    expect(standIn.received.map(firstValue).filter((v) => v === 0).length).toBeGreaterThanOrEqual(2)
  })

  it('records the batches that land while stop() waits for them', async () => {
    standIn.delayMs = 300
    store.series.append({ accepted: readings(200), rejections: [] })
    const r = replicator({ batchLines: 100, concurrency: 2 })
    r.start()
    expect(await waitFor(() => standIn.received.length === 2, 2000)).toBe(true)
    await r.stop(2000)
    running.length = 0
    expect(cursor()).toBe(200)
  })

  it('dead-letters a whole batch in one request when InfluxDB says it dropped every line', async () => {
    standIn.refuse = () => true
    standIn.refusal = (lines) => `{"error":"partial write: points beyond retention policy dropped=${lines.length}"}`
    store.series.append({ accepted: readings(300), rejections: [] })
    const r = replicator({ batchLines: 300 })
    r.start()
    expect(await waitFor(() => cursor() === 300, 3000)).toBe(true)
    expect(standIn.received).toHaveLength(1)
    expect(store.deadLetters.count()).toBe(300)
    expect(r.stats().lanes.points).toMatchObject({ sentLines: 0, rejectedLines: 300 })
  })

  it('refuses a retentionWarnMs that the store retention would always trigger', () => {
    const r = ConfigSchema.safeParse({ store: { retention: { rawDays: 1 } }, influx: { enabled: true } })
    expect(r.success).toBe(false)
    expect(r.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['influx.retentionWarnMs', expect.stringMatching(/^must be shorter than the store's shortest retention \(86400000 ms\)/)],
    ])
  })
})
