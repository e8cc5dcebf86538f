/**
 * The embedded SQLite store: the SeriesStore contract, plus what only this store promises — the
 * file survives reopening, raw reads by rowid range equal a full scan, the bounded dead-letter
 * table, retention by arrival time, and the device and token registries that keep only hashes.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { sha256 } from '../gateway/auth/secrets.ts'
import { ManualClock } from '../gateway/core/clock.ts'
import type { Accepted, Rejection, SeriesLabels } from '../gateway/core/records.ts'
import { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from '../gateway/store/sqlite/index.ts'
import { AGGREGATES, type Aggregate, type SeriesQuery } from '../gateway/store/types.ts'
import { runSeriesStoreContract } from './contracts/series-store.ts'
import { MAX_RAW_POINTS } from '../gateway/store/sqlite/series.ts'

const SEC = 1000
const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0)

runSeriesStoreContract('SQLite', (env) => {
  const dir = mkdtempSync(join(tmpdir(), 'stockyard-store-'))
  const db = openSqliteStore({ dataDir: dir, synchronous: 'NORMAL', retention: env.retention, now: env.now, writer: true })
  return {
    store: db.series,
    cleanup() {
      db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})

function labels(device: string, zone = 'z1', sku = ''): SeriesLabels {
  return { site: 's1', zone, device, sku }
}

function reading(device: string, metric: string, ts: number, value: number, seq?: number): Accepted {
  return {
    device,
    site: 's1',
    kind: 'reading',
    points: [{ metric, labels: labels(device), ts, value }],
    events: [],
    keys: seq === undefined ? [] : [{ seq, ts, points: [0, 1], events: [0, 0] }],
  }
}

function scan(device: string, ts: number): Accepted {
  return {
    device,
    site: 's1',
    kind: 'scan',
    points: [],
    events: [{ kind: 'scan', ts, site: 's1', zone: 'dock', device, sku: 'SKU-1', ref: 'PO-7', body: { sku: 'SKU-1', qty: 2 } }],
    keys: [],
  }
}

function rejection(device: string, seq: number, at: number): Rejection {
  return { code: 'payload.invalid', message: `bad payload ${seq}`, device, site: 's1', topic: `stockyard/v1/s1/${device}/reading`, seq, sample: '{}', ts: at }
}

/** A store in a temp dir with a manual arrival clock; `reopen()` closes and opens the same file. */
function harness(opts: Partial<SqliteStoreOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'stockyard-store-'))
  const clock = new ManualClock(T0 + HOUR)
  const open = (): SqliteStore => openSqliteStore({ dataDir: dir, synchronous: 'NORMAL', now: () => clock.now(), writer: true, ...opts })
  const h = {
    dir,
    clock,
    db: open(),
    reopen(): SqliteStore {
      h.db.close()
      h.db = open()
      return h.db
    },
    /** A second, read-only connection, as an operator with the sqlite3 shell would have. */
    raw<T>(sql: string, ...args: unknown[]): T[] {
      const conn = new Database(h.db.path, { readonly: true })
      try {
        return conn.prepare(sql).all(...args) as T[]
      } finally {
        conn.close()
      }
    },
    count(table: string): number {
      return h.raw<{ n: number }>(`SELECT count(*) AS n FROM ${table}`)[0]!.n
    },
    dispose(): void {
      h.db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return h
}

type Harness = ReturnType<typeof harness>

/** Deterministic PRNG (mulberry32), so a failing random case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('SQLite store file', () => {
  let h: Harness
  beforeEach(() => {
    h = harness()
  })
  afterEach(() => h.dispose())

  it('keeps points, rollups, events, dead letters, devices and tokens when reopened', async () => {
    const creds = await h.db.devices.add({ id: 'd1', kind: 'env', site: 's1', zone: 'z1' })
    const token = h.db.tokens.add('viewer', 'dashboard').token
    h.db.series.append({
      accepted: [reading('d1', 'temperature_c', T0, 4), reading('d1', 'temperature_c', T0 + 30 * SEC, 6, 7), scan('d1', T0)],
      rejections: [rejection('d1', 9, T0)],
    })
    const q: SeriesQuery = { metric: 'temperature_c', from: T0, to: T0 + HOUR, agg: 'avg' }
    const before = { raw: h.db.series.query(q), m1: h.db.series.query({ ...q, stepMs: MIN }), h1: h.db.series.query({ ...q, stepMs: HOUR, agg: 'last' }) }

    const db = h.reopen()
    expect(db.series.query(q)).toEqual(before.raw)
    expect(db.series.query({ ...q, stepMs: MIN })).toEqual(before.m1)
    expect(db.series.query({ ...q, stepMs: HOUR, agg: 'last' })).toEqual(before.h1)
    expect(db.series.countEvents({ kind: 'scan' })).toBe(1)
    expect(db.series.recentKeys(10)).toEqual([{ device: 'd1', seq: 7, ts: T0 + 30 * SEC }])
    expect(db.deadLetters.list({ limit: 10 }).map((d) => [d.code, d.seq])).toEqual([['payload.invalid', 9]])
    expect(await db.devices.verify('d1', creds.password)).toMatchObject({ device: { id: 'd1' } })
    expect(db.tokens.verify(token)).toMatchObject({ role: 'viewer' })
  })

  it('appends to the same series after reopening instead of creating another', () => {
    h.db.series.append({ accepted: [reading('d1', 'temperature_c', T0, 4)], rejections: [] })
    const db = h.reopen()
    db.series.append({ accepted: [reading('d1', 'temperature_c', T0 + SEC, 5)], rejections: [] })
    const res = db.series.query({ metric: 'temperature_c', from: T0, to: T0 + HOUR, agg: 'sum', stepMs: MIN })
    expect(res.series).toHaveLength(1)
    expect(res.series[0]!.points).toEqual([[T0, 9]])
    expect(h.count('series')).toBe(1)
  })

  it('answers from raw points, the minute rollup or the hour rollup depending on the step', () => {
    const q: SeriesQuery = { metric: 'temperature_c', from: T0, to: T0 + HOUR, agg: 'avg' }
    expect(h.db.series.query(q).source).toBe('raw')
    expect(h.db.series.query({ ...q, stepMs: 15 * SEC }).source).toBe('raw')
    expect(h.db.series.query({ ...q, stepMs: 90 * SEC }).source).toBe('raw')
    expect(h.db.series.query({ ...q, stepMs: MIN }).source).toBe('rollup_1m')
    expect(h.db.series.query({ ...q, stepMs: 5 * MIN }).source).toBe('rollup_1m')
    expect(h.db.series.query({ ...q, stepMs: HOUR }).source).toBe('rollup_1h')
    expect(h.db.series.query({ ...q, stepMs: 2 * HOUR }).source).toBe('rollup_1h')
  })

  it('stores nothing of a failed batch: no point, series, event, key, rollup, dead letter or mark', () => {
    h.db.series.append({ accepted: [reading('d1', 'temperature_c', T0, 4, 1)], rejections: [] })
    const tables = ['points', 'series', 'events', 'msg_keys', 'rollup_1m', 'rollup_1h', 'dead_letters', 'marks']
    const before = Object.fromEntries(tables.map((t) => [t, h.count(t)]))
    h.clock.advance(5 * MIN) // a new arrival minute: the batch would also write a mark
    expect(() =>
      h.db.series.append({
        accepted: [reading('d2', 'humidity_pct', T0, 50, 1), scan('d2', T0), reading('d1', 'temperature_c', T0 + SEC, Number.NaN, 2)],
        rejections: [rejection('d2', 3, T0)],
      }),
    ).toThrow(/NOT NULL/)
    expect(Object.fromEntries(tables.map((t) => [t, h.count(t)]))).toEqual(before)
    // The next batch of that minute writes its mark after all.
    h.db.series.append({ accepted: [reading('d1', 'temperature_c', T0 + 2 * SEC, 5)], rejections: [] })
    expect(h.raw<{ minute: number; point_id: number }>('SELECT minute, point_id FROM marks ORDER BY minute DESC LIMIT 1')[0]).toEqual({
      minute: T0 + HOUR + 5 * MIN,
      point_id: 1,
    })
  })
})

describe('SQLite rollups after a crash', () => {
  let h: Harness
  const copies: string[] = []
  beforeEach(() => {
    h = harness()
  })
  afterEach(() => {
    h.dispose()
    for (const c of copies.splice(0)) rmSync(c, { recursive: true, force: true })
  })

  /** The files as kill -9 would leave them now: database and WAL, no clean close, no rollup flush. */
  function crashCopy(): string {
    const copy = mkdtempSync(join(tmpdir(), 'stockyard-crash-copy-'))
    copies.push(copy)
    for (const f of ['stockyard.db', 'stockyard.db-wal']) if (existsSync(join(h.dir, f))) copyFileSync(join(h.dir, f), join(copy, f))
    return copy
  }

  it('rebuilds the rollups of points committed after the last rollup flush, counting nothing twice', () => {
    const q = (over: Partial<SeriesQuery>): SeriesQuery => ({ metric: 'temperature_c', device: 'd1', from: T0, to: T0 + 3 * HOUR, agg: 'count', ...over })
    h.db.series.append({ accepted: [reading('d1', 'temperature_c', T0 + 10 * SEC, 1), reading('d1', 'temperature_c', T0 + HOUR, 2)], rejections: [] })
    h.db.series.flushRollups()
    // Committed (and so acknowledged) but only in the raw table until the next flush:
    h.db.series.append({ accepted: [reading('d1', 'temperature_c', T0 + 20 * SEC, 3), reading('d1', 'temperature_c', T0 + 2 * HOUR, 4)], rejections: [] })
    h.db.series.append({ accepted: [reading('d1', 'temperature_c', T0 + 30 * SEC, 5)], rejections: [] })
    const copy = crashCopy()
    const expected = {
      raw: h.db.series.query(q({})),
      m1: h.db.series.query(q({ stepMs: MIN, agg: 'sum' })),
      h1: h.db.series.query(q({ stepMs: HOUR, agg: 'last' })),
      count: h.db.series.query(q({ stepMs: HOUR })),
    }
    expect(expected.raw.series[0]!.points).toHaveLength(5)
    expect(expected.count.series[0]!.points).toEqual([
      [T0, 3],
      [T0 + HOUR, 1],
      [T0 + 2 * HOUR, 1],
    ])

    for (let open = 0; open < 2; open++) {
      const recovered = openSqliteStore({ dataDir: copy, synchronous: 'NORMAL', writer: true })
      try {
        expect(recovered.series.query(q({}))).toEqual(expected.raw)
        expect(recovered.series.query(q({ stepMs: MIN, agg: 'sum' }))).toEqual(expected.m1)
        expect(recovered.series.query(q({ stepMs: HOUR, agg: 'last' }))).toEqual(expected.h1)
        expect(recovered.series.query(q({ stepMs: HOUR }))).toEqual(expected.count)
      } finally {
        recovered.close()
      }
    }
  })
})

describe('SQLite raw reads by rowid range', () => {
  let h: Harness
  beforeEach(() => {
    h = harness()
  })
  afterEach(() => h.dispose())

  interface ModelPoint {
    metric: string
    device: string
    ts: number
    value: number
    order: number
  }

  /**
   * Six series written over six hours of arrivals, in batches every 2 minutes: most points are
   * fresh, one in ten arrives up to 5 hours late, and batches are shuffled.
   */
  function writeRandom(rand: () => number): ModelPoint[] {
    const model: ModelPoint[] = []
    const devices = ['d1', 'd2', 'd3']
    const metrics = ['temperature_c', 'humidity_pct']
    let order = 0
    for (let arrival = T0 + 6 * HOUR; arrival < T0 + 12 * HOUR; arrival += 2 * MIN) {
      h.clock.set(arrival)
      const batch: Accepted[] = []
      for (let i = 0; i < 40; i++) {
        const late = rand() < 0.1 ? Math.floor(rand() * 5 * HOUR) : 0
        const ts = arrival - Math.floor(rand() * 2 * MIN) - late
        const p = { metric: metrics[Math.floor(rand() * 2)]!, device: devices[Math.floor(rand() * 3)]!, ts, value: Math.round(rand() * 10_000) / 100 }
        batch.push(reading(p.device, p.metric, p.ts, p.value))
        model.push({ ...p, order: order++ })
      }
      h.db.series.append({ accepted: batch, rejections: [] })
    }
    return model
  }

  /** What the query must return, computed from the model points alone. */
  /** The documented semantics: raw reads are [from, to); with a step, buckets are aligned and whole. */
  function expected(model: ModelPoint[], q: SeriesQuery): Array<[number, number]> {
    const from = q.stepMs === undefined ? q.from : Math.floor(q.from / q.stepMs) * q.stepMs
    const to = q.stepMs === undefined ? q.to : Math.ceil(q.to / q.stepMs) * q.stepMs
    const pts = model
      .filter((p) => p.metric === q.metric && p.device === q.device && p.ts >= from && p.ts < to)
      .sort((a, b) => a.ts - b.ts || a.order - b.order)
    if (q.stepMs === undefined) return pts.map((p) => [p.ts, p.value])
    const buckets = new Map<number, ModelPoint[]>()
    for (const p of pts) {
      const b = Math.floor(p.ts / q.stepMs) * q.stepMs
      buckets.set(b, [...(buckets.get(b) ?? []), p])
    }
    return [...buckets].map(([b, ps]) => [b, agg(q.agg, ps)])
  }

  function agg(a: Aggregate, ps: ModelPoint[]): number {
    const vs = ps.map((p) => p.value)
    const sum = vs.reduce((x, y) => x + y, 0)
    if (a === 'avg') return sum / vs.length
    if (a === 'sum') return sum
    if (a === 'min') return Math.min(...vs)
    if (a === 'max') return Math.max(...vs)
    if (a === 'count') return vs.length
    // last: greatest ts; among equal ts the later arrival
    return [...ps].sort((x, y) => x.ts - y.ts || x.order - y.order).at(-1)!.value
  }

  function expectClose(got: Array<[number, number]>, want: Array<[number, number]>, what: string): void {
    expect(
      got.map(([t]) => t),
      what,
    ).toEqual(want.map(([t]) => t))
    got.forEach(([, v], i) => expect(v, `${what} at ${got[i]![0]}`).toBeCloseTo(want[i]![1], 6))
  }

  it('returns exactly the points a full scan finds, for random ranges over random data with late points', () => {
    const rand = prng(20240501)
    const model = writeRandom(rand)
    expect(model.length).toBe(180 * 40)
    for (let i = 0; i < 300; i++) {
      const from = T0 + Math.floor(rand() * 13 * HOUR)
      const to = from + 1 + Math.floor(rand() * 3 * HOUR)
      const q: SeriesQuery = { metric: rand() < 0.5 ? 'temperature_c' : 'humidity_pct', device: `d${1 + Math.floor(rand() * 3)}`, from, to, agg: 'avg' }
      const got = h.db.series.query(q).series[0]?.points ?? []
      expect(got, `raw ${JSON.stringify(q)}`).toEqual(expected(model, q))
      // The same as a naive scan of the whole points table through another connection.
      const naive = h.raw<{ ts: number; value: number }>(
        `SELECT p.ts, p.value FROM points p JOIN series s ON s.id = p.series_id
         WHERE s.metric = ? AND s.device = ? AND p.ts >= ? AND p.ts < ? ORDER BY p.ts, p.id`,
        q.metric,
        q.device,
        from,
        to,
      )
      expect(got).toEqual(naive.map((r) => [r.ts, r.value]))
    }
  })

  it('aggregates sub-minute steps from raw points like the full scan, for every agg', () => {
    const rand = prng(7)
    const model = writeRandom(rand)
    for (let i = 0; i < 120; i++) {
      const from = T0 + Math.floor(rand() * 12 * HOUR)
      const to = from + 1 + Math.floor(rand() * HOUR)
      const q: SeriesQuery = {
        metric: 'temperature_c',
        device: `d${1 + Math.floor(rand() * 3)}`,
        from,
        to,
        stepMs: rand() < 0.5 ? 15 * SEC : 90 * SEC,
        agg: AGGREGATES[i % AGGREGATES.length]!,
      }
      expectClose(h.db.series.query(q).series[0]?.points ?? [], expected(model, q), JSON.stringify(q))
    }
  })

  it('aggregates minute and hour steps from the rollups like the full scan, late points included', () => {
    const rand = prng(99)
    const model = writeRandom(rand)
    for (let i = 0; i < 120; i++) {
      const stepMs = [MIN, 5 * MIN, HOUR, 2 * HOUR][i % 4]!
      // Unaligned ranges: the edge buckets must still come back whole.
      const from = T0 + Math.floor(rand() * 12 * HOUR)
      const to = from + 1 + Math.floor(rand() * stepMs * 20)
      const q: SeriesQuery = { metric: 'humidity_pct', device: `d${1 + Math.floor(rand() * 3)}`, from, to, stepMs, agg: AGGREGATES[i % AGGREGATES.length]! }
      expectClose(h.db.series.query(q).series[0]?.points ?? [], expected(model, q), JSON.stringify(q))
    }
  })
})

describe('SQLite dead-letter table', () => {
  let h: Harness
  beforeEach(() => {
    h = harness({ deadLetterMax: 10 })
  })
  afterEach(() => h.dispose())

  it('keeps only the newest deadLetterMax rejections', () => {
    for (let i = 0; i < 25; i += 7) {
      const batch = Array.from({ length: Math.min(7, 25 - i) }, (_, j) => rejection('d1', i + j, T0 + i + j))
      h.db.series.append({ accepted: [], rejections: batch })
    }
    expect(h.db.deadLetters.count()).toBe(10)
    expect(h.db.deadLetters.list({ limit: 100 }).map((d) => d.seq)).toEqual([24, 23, 22, 21, 20, 19, 18, 17, 16, 15])
  })

  it('lists by code and device, newest first, paging with beforeId', () => {
    h.db.series.append({ accepted: [], rejections: [rejection('d1', 1, T0), rejection('d2', 2, T0), { ...rejection('d1', 3, T0), code: 'ts.future' }] })
    expect(h.db.deadLetters.list({ limit: 10, device: 'd1' }).map((d) => d.seq)).toEqual([3, 1])
    expect(h.db.deadLetters.list({ limit: 10, code: 'ts.future' }).map((d) => d.seq)).toEqual([3])
    const [newest] = h.db.deadLetters.list({ limit: 1 })
    expect(h.db.deadLetters.list({ limit: 10, beforeId: newest!.id }).map((d) => d.seq)).toEqual([2, 1])
  })
})

describe('SQLite retention', () => {
  let h: Harness
  beforeEach(() => {
    h = harness({ retention: { rawDays: 2, minuteDays: 4, hourDays: 8, eventDays: 3, keyMaxAgeMs: DAY, chunkRows: 100 } })
  })
  afterEach(() => h.dispose())

  it('counts raw age from arrival, not from the ts the device sent', () => {
    // A point that arrives 10 days late is new to the store; a fresh point arriving now is not old.
    const arrived = h.clock.now()
    const at = (t: number, metric: string, ts: number): void => {
      h.clock.set(t)
      h.db.series.append({ accepted: [reading('d1', metric, ts, 0)], rejections: [] })
    }
    at(arrived, 'temperature_c', arrived - 10 * DAY)
    at(arrived + 2 * MIN, 'temperature_c', arrived + 2 * MIN)
    at(arrived + 3 * MIN, 'heartbeat', arrived + 3 * MIN) // data keeps arriving
    at(arrived + DAY, 'heartbeat', arrived + DAY)
    h.db.series.enforceRetention(h.clock.now())
    expect(h.db.series.countPoints({ metric: 'temperature_c' })).toBe(2)

    at(arrived + 2 * DAY + 2 * MIN, 'heartbeat', arrived + 2 * DAY + 2 * MIN)
    h.db.series.enforceRetention(h.clock.now())
    // The late point arrived first and has expired; the other arrived two minutes later and has not.
    expect(h.db.series.countPoints({ metric: 'temperature_c' })).toBe(1)
    expect(h.db.series.countPoints({ metric: 'temperature_c', to: arrived })).toBe(0)

    at(arrived + 2 * DAY + 3 * MIN, 'heartbeat', arrived + 2 * DAY + 3 * MIN)
    h.db.series.enforceRetention(h.clock.now())
    expect(h.db.series.countPoints({ metric: 'temperature_c' })).toBe(0)
  })

  it('deletes dedup keys after keyMaxAgeMs and events after eventDays, and drops marks no table needs', () => {
    const arrived = h.clock.now()
    h.db.series.append({ accepted: [reading('d1', 'temperature_c', arrived, 1, 1), scan('d1', arrived)], rejections: [] })
    let seq = 100
    // Later traffic, with keys and events of its own (retention never deletes a table's newest row).
    const at = (t: number): void => {
      h.clock.set(t)
      h.db.series.append({ accepted: [reading('d1', 'heartbeat', t, 0, seq++), scan('d1', t)], rejections: [] })
    }
    const eventTimes = (): number[] => h.raw<{ ts: number }>('SELECT ts FROM events ORDER BY id').map((r) => r.ts)
    at(arrived + MIN)
    at(arrived + DAY + 2 * MIN)
    h.db.series.enforceRetention(h.clock.now())
    expect(h.db.series.recentKeys(10).map((k) => k.ts)).not.toContain(arrived)
    expect(eventTimes()).toContain(arrived)

    at(arrived + 3 * DAY + 2 * MIN)
    h.db.series.enforceRetention(h.clock.now())
    expect(eventTimes()).not.toContain(arrived)
    expect(eventTimes()).toContain(arrived + 3 * DAY + 2 * MIN)

    const marksBefore = h.count('marks')
    at(arrived + 10 * DAY)
    h.db.series.enforceRetention(h.clock.now())
    // Marks older than the longest raw horizon (3 days for events) plus a day are gone.
    expect(h.count('marks')).toBeLessThan(marksBefore)
    expect(h.raw<{ minute: number }>('SELECT min(minute) AS minute FROM marks')[0]!.minute).toBeGreaterThanOrEqual(arrived + 10 * DAY - 4 * DAY - MIN)
  })

  it('never deletes the newest row of a table, so a fresh row never gets an old rowid and is swept at once', () => {
    const t0 = h.clock.now()
    h.db.series.append({ accepted: [reading('d1', 'temperature_c', t0, 1, 1)], rejections: [] })
    // Sweeps during a quiet spell leave marks naming rowid 1.
    h.clock.set(t0 + MIN)
    h.db.series.enforceRetention(h.clock.now())
    h.clock.set(t0 + 3 * DAY)
    h.db.series.enforceRetention(h.clock.now())
    expect(h.count('points')).toBe(1)
    // Traffic resumes: the new point must survive the next sweep.
    h.db.series.append({ accepted: [reading('d1', 'temperature_c', h.clock.now(), 2, 2)], rejections: [] })
    h.clock.advance(MIN)
    h.db.series.enforceRetention(h.clock.now())
    expect(h.raw<{ id: number; value: number }>('SELECT id, value FROM points ORDER BY id')).toEqual([{ id: 2, value: 2 }])
  })

  it('deletes at most chunkRows raw rows per step', () => {
    const batch = Array.from({ length: 1000 }, (_, i) => reading('d1', 'temperature_c', T0 + i, i))
    h.db.series.append({ accepted: batch, rejections: [] })
    h.clock.advance(MIN)
    h.db.series.append({ accepted: [reading('d1', 'heartbeat', h.clock.now(), 0)], rejections: [] })
    h.clock.advance(2 * DAY + MIN)
    h.db.series.append({ accepted: [reading('d1', 'heartbeat', h.clock.now(), 0)], rejections: [] })
    expect(h.db.series.enforceRetention(h.clock.now(), 1)).toBe(100)
    expect(h.db.series.enforceRetention(h.clock.now(), 4)).toBe(400)
    expect(h.db.series.countPoints({ metric: 'temperature_c' })).toBe(500)
    expect(h.db.series.enforceRetention(h.clock.now())).toBe(500)
    expect(h.db.series.countPoints({ metric: 'temperature_c' })).toBe(0)
  })
})

describe('SQLite device registry', () => {
  let h: Harness
  beforeEach(() => {
    h = harness()
  })
  afterEach(() => h.dispose())

  const add = (id = 'd1') => h.db.devices.add({ id, kind: 'env', site: 's1', zone: 'z1' })

  it('returns the password once, at creation; get and list never show it', async () => {
    const creds = await add()
    expect(creds).toEqual({ id: 'd1', username: 'd1', password: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/) })
    const device = h.db.devices.get('d1')
    expect(device).toEqual({
      id: 'd1',
      kind: 'env',
      site: 's1',
      zone: 'z1',
      username: 'd1',
      disabled: false,
      createdAt: T0 + HOUR,
      lastSeen: null,
      status: 'never',
      battery: null,
      firmware: null,
    })
    expect(JSON.stringify(h.db.devices.list())).not.toContain(creds.password)
  })

  it('stores only an scrypt hash of the password, nowhere the password itself', async () => {
    const creds = await add()
    const rows = h.raw<Record<string, unknown>>('SELECT * FROM devices')
    expect(rows).toHaveLength(1)
    expect(rows[0]!.secret).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/)
    expect(JSON.stringify(rows)).not.toContain(creds.password)
    // Nor in any byte of the database, its WAL or its shared memory file.
    const files = readdirSync(h.dir)
    expect(files).toContain('stockyard.db-wal')
    for (const f of files) expect(readFileSync(join(h.dir, f)).includes(creds.password), f).toBe(false)
  })

  it('verifies: ok, bad_password, unknown, and disabled only with the right password', async () => {
    const creds = await add()
    expect(await h.db.devices.verify('d1', creds.password)).toMatchObject({ device: { id: 'd1', disabled: false } })
    expect(await h.db.devices.verify('d1', 'wrong')).toEqual({ refused: 'bad_password' })
    expect(await h.db.devices.verify('nobody', creds.password)).toEqual({ refused: 'unknown' })
    h.db.devices.disable('d1')
    expect(await h.db.devices.verify('d1', creds.password)).toEqual({ refused: 'disabled' })
    // A wrong password does not reveal that the device exists but is disabled.
    expect(await h.db.devices.verify('d1', 'wrong')).toEqual({ refused: 'bad_password' })
    h.db.devices.enable('d1')
    expect(await h.db.devices.verify('d1', creds.password)).toMatchObject({ device: { id: 'd1' } })
  })

  it('rotate: the old password stops working at once, even though it was verified (cached) before', async () => {
    const old = await add()
    expect(await h.db.devices.verify('d1', old.password)).toHaveProperty('device')
    const secretBefore = h.db.devices.secretOf('d1')
    const fresh = await h.db.devices.rotate('d1')
    expect(fresh.password).not.toBe(old.password)
    expect(h.db.devices.secretOf('d1')).not.toBe(secretBefore)
    expect(await h.db.devices.verify('d1', old.password)).toEqual({ refused: 'bad_password' })
    expect(await h.db.devices.verify('d1', fresh.password)).toHaveProperty('device')
  })

  it('rotate by another process (the CLI) also invalidates the password cached here', async () => {
    const old = await add()
    expect(await h.db.devices.verify('d1', old.password)).toHaveProperty('device')
    const cli = openSqliteStore({ dataDir: h.dir, synchronous: 'NORMAL' })
    const fresh = await cli.devices.rotate('d1')
    cli.close()
    expect(await h.db.devices.verify('d1', old.password)).toEqual({ refused: 'bad_password' })
    expect(await h.db.devices.verify('d1', fresh.password)).toHaveProperty('device')
  })

  it('refuses bad ids, duplicates and unknown devices with typed errors', async () => {
    await add()
    await expect(add()).rejects.toMatchObject({ code: 'conflict' })
    await expect(h.db.devices.add({ id: 'has space', kind: 'env', site: 's1', zone: 'z1' })).rejects.toMatchObject({ code: 'request.invalid' })
    expect(() => h.db.devices.disable('nobody')).toThrow(expect.objectContaining({ code: 'not_found' }))
    await expect(h.db.devices.rotate('nobody')).rejects.toMatchObject({ code: 'not_found' })
  })
})

describe('SQLite token store', () => {
  let h: Harness
  beforeEach(() => {
    h = harness()
  })
  afterEach(() => h.dispose())

  it('returns the token once and stores only its SHA-256', () => {
    const t = h.db.tokens.add('hq', 'hq-export')
    expect(t.token).toMatch(new RegExp(`^sy_${t.id}_[A-Za-z0-9_-]{43}$`))
    const rows = h.raw<Record<string, unknown>>('SELECT * FROM tokens')
    expect(rows).toEqual([{ id: t.id, hash: sha256(t.token), role: 'hq', name: 'hq-export', created_at: T0 + HOUR }])
    expect(JSON.stringify(rows)).not.toContain(t.token.slice(4 + t.id.length))
    expect(h.db.tokens.list()).toEqual([{ id: t.id, role: 'hq', name: 'hq-export', createdAt: T0 + HOUR }])
  })

  it('verifies a token to its id and role, and nothing else', () => {
    const t = h.db.tokens.add('admin')
    expect(h.db.tokens.verify(t.token)).toEqual({ id: t.id, role: 'admin' })
    expect(h.db.tokens.verify(t.token + 'x')).toBeNull()
    expect(h.db.tokens.verify(sha256(t.token))).toBeNull()
    expect(h.db.tokens.verify('')).toBeNull()
    expect(h.db.tokens.verify('sy_' + 'a'.repeat(300))).toBeNull()
  })

  it('revokes: the token stops verifying; revoking again reports false', () => {
    const keep = h.db.tokens.add('viewer')
    const t = h.db.tokens.add('viewer')
    expect(h.db.tokens.revoke(t.id)).toBe(true)
    expect(h.db.tokens.verify(t.token)).toBeNull()
    expect(h.db.tokens.verify(keep.token)).toEqual({ id: keep.id, role: 'viewer' })
    expect(h.db.tokens.revoke(t.id)).toBe(false)
    expect(h.db.tokens.list().map((x) => x.id)).toEqual([keep.id])
  })

  it('refuses an unknown role', () => {
    expect(() => h.db.tokens.add('root' as 'admin')).toThrow(expect.objectContaining({ code: 'request.invalid' }))
  })
})

describe('one writer per data directory, and readers that do not disturb it', () => {
  it('does not count points twice when a reader (the CLI) opens the store while the writer holds unflushed rollups', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stockyard-rw-'))
    const t = Date.UTC(2026, 0, 1)
    const writer = openSqliteStore({ dataDir: dir, synchronous: 'NORMAL', writer: true, now: () => t })
    const labels = { site: 's', zone: 'z', device: 'd1', sku: '' }
    writer.series.append({
      accepted: [{ device: 'd1', site: 's', kind: 'reading', points: [{ metric: 'm', labels, ts: t, value: 2 }], events: [], keys: [] }],
      rejections: [],
    })
    const reader = openSqliteStore({ dataDir: dir, synchronous: 'NORMAL' })
    reader.devices.list()
    reader.close()
    const res = writer.series.query({ metric: 'm', from: t, to: t + 60_000, stepMs: 60_000, agg: 'count' })
    expect(res.series[0]?.points).toEqual([[t, 1]])
    writer.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('refuses a second writer process on the same data directory, and takes over a lock left by a dead one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stockyard-lock-'))
    const { spawn } = await import('node:child_process')
    // A live foreign pid: a child that sleeps.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' })
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
    writeFileSync(join(dir, 'gateway.lock'), `${other.pid} ${boot}\n`)
    expect(() => openSqliteStore({ dataDir: dir, synchronous: 'NORMAL', writer: true })).toThrow(expect.objectContaining({ code: 'conflict' }))
    // Readers are never refused.
    openSqliteStore({ dataDir: dir, synchronous: 'NORMAL' }).close()
    const exited = new Promise((r) => other.once('exit', r))
    other.kill('SIGKILL')
    await exited
    const store = openSqliteStore({ dataDir: dir, synchronous: 'NORMAL', writer: true })
    expect(readFileSync(join(dir, 'gateway.lock'), 'utf8')).toBe(`${process.pid} ${boot}\n`)
    store.close()
    expect(existsSync(join(dir, 'gateway.lock'))).toBe(false)
    // A lock written before the last reboot is stale even if its pid is alive now (it is ours here).
    writeFileSync(join(dir, 'gateway.lock'), `1 some-earlier-boot\n`)
    openSqliteStore({ dataDir: dir, synchronous: 'NORMAL', writer: true }).close()
    rmSync(dir, { recursive: true, force: true })
  })
})

describe('bounded raw reads', () => {
  it('refuses a raw read of more than MAX_RAW_POINTS points of one series with a request.invalid that says what to do', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stockyard-cap-'))
    const t0 = Date.UTC(2026, 0, 1)
    const store = openSqliteStore({ dataDir: dir, synchronous: 'NORMAL', writer: true, now: () => t0 })
    const labels = { site: 's', zone: 'z', device: 'd1', sku: '' }
    const points = Array.from({ length: MAX_RAW_POINTS + 1 }, (_, i) => ({ metric: 'm', labels, ts: t0 + i, value: i }))
    store.series.append({ accepted: [{ device: 'd1', site: 's', kind: 'reading', points, events: [], keys: [] }], rejections: [] })
    const all = { metric: 'm', from: t0, to: t0 + MAX_RAW_POINTS + 1, agg: 'avg' as const }
    expect(() => store.series.query(all)).toThrow(expect.objectContaining({ code: 'request.invalid', message: expect.stringContaining('pass a step') }))
    // One point fewer is fine, and a minute step reads the rollups.
    expect(store.series.query({ ...all, to: t0 + MAX_RAW_POINTS }).series[0]!.points).toHaveLength(MAX_RAW_POINTS)
    expect(store.series.query({ ...all, stepMs: 60_000, agg: 'count' }).series[0]!.points.reduce((n, p) => n + p[1], 0)).toBe(MAX_RAW_POINTS + 1)
    store.close()
    rmSync(dir, { recursive: true, force: true })
  })
})

describe('token ids', () => {
  it('are hex, so they never start with a dash and work as a CLI flag value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stockyard-tokid-'))
    const store = openSqliteStore({ dataDir: dir, synchronous: 'NORMAL' })
    for (let i = 0; i < 200; i++) expect(store.tokens.add('viewer').id).toMatch(/^[0-9a-f]{12}$/)
    store.close()
    rmSync(dir, { recursive: true, force: true })
  })
})
