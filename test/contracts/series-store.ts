/**
 * The contract every `SeriesStore` passes (house style §5, after aedes-persistence `abstract.js`
 * and hono's `runTest({ newRouter })`): the SQLite store calls it today, the InfluxDB store will.
 *
 * The contract owns time: it hands the factory an arrival clock (`env.now`) that the store must use
 * to stamp what it appends (retention counts from arrival), and the retention policy to apply.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../gateway/core/clock.ts'
import type { Accepted, EventRecord, PointRecord, Rejection, SeriesLabels } from '../../gateway/core/records.ts'
import { AGGREGATES, type Aggregate, type SeriesQuery, type SeriesStore } from '../../gateway/store/types.ts'

const SEC = 1000
const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000

/** Retention the factory must configure. Rows per step is small so that bounded sweeps are visible. */
export const CONTRACT_RETENTION = { rawDays: 2, minuteDays: 4, hourDays: 8, chunkRows: 100 } as const

export interface SeriesStoreContractEnv {
  /** The arrival clock: the store stamps appended data with it (retention marks). */
  now: () => number
  retention: typeof CONTRACT_RETENTION
}

export interface SeriesStoreFixture {
  store: SeriesStore
  /** Close the store and delete what it wrote. */
  cleanup(): void
}

export type SeriesStoreFactory = (env: SeriesStoreContractEnv) => SeriesStoreFixture

/** 2024-05-01T12:00:00Z: a whole hour, so minute, 5-minute and hour buckets all start here. */
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0)

const SITE = 's1'
const D1: SeriesLabels = { site: SITE, zone: 'cold', device: 'd1', sku: '' }
const D2: SeriesLabels = { site: SITE, zone: 'dock', device: 'd2', sku: 'SKU-1' }

function point(metric: string, labels: SeriesLabels, ts: number, value: number): PointRecord {
  return { metric, labels, ts, value }
}

/** One accepted message carrying `points` (all of one device). */
function msg(...points: PointRecord[]): Accepted {
  const device = points[0]?.labels.device ?? 'd1'
  return { device, site: SITE, kind: 'reading', points, events: [], keys: points.map((p, i) => ({ seq: i, ts: p.ts, points: [i, i + 1], events: [0, 0] })) }
}

function scan(device: string, ts: number): Accepted {
  const event: EventRecord = { kind: 'scan', ts, site: SITE, zone: 'dock', device, sku: 'SKU-1', ref: 'PO-1', body: { sku: 'SKU-1', qty: 1 } }
  return { device, site: SITE, kind: 'scan', points: [], events: [event], keys: [] }
}

function rejection(device: string, ts: number): Rejection {
  return {
    code: 'payload.invalid',
    message: 'metrics: expected a number',
    device,
    site: SITE,
    topic: `stockyard/v1/${SITE}/${device}/reading`,
    sample: '{"v":1}',
    ts,
  }
}

/** The points of the single series a query returned. */
function only(result: ReturnType<SeriesStore['query']>): Array<[number, number]> {
  expect(result.series).toHaveLength(1)
  return result.series[0]!.points
}

/** All points of all series a query returned (none when no series matched). */
function all(result: ReturnType<SeriesStore['query']>): Array<[number, number]> {
  return result.series.flatMap((s) => s.points)
}

/**
 * The temperature of d1 around 12:00, written in three batches out of order. Per bucket:
 * - 12:00 minute: 1 (:10), 5 (:50), 3 (:30) — 5 has the greatest ts but arrives first.
 * - 12:00-12:05: also 10 (12:01:20), 2 (12:04:00) — 2 has the greatest ts and arrives before 10.
 * - 12:00 hour: also 7 (12:05), 4 (12:59:59.999) — 4 arrives in the first batch.
 * - outside [12:00, 13:00): 100 at 11:59:59.999 and 8 at 13:00:00.000.
 */
const TEMPERATURE: Array<Array<[number, number]>> = [
  [
    [T0 + 50 * SEC, 5],
    [T0 + 4 * MIN, 2],
    [T0 + HOUR - 1, 4],
    [T0 - 1, 100],
  ],
  [
    [T0 + 30 * SEC, 3],
    [T0 + 10 * SEC, 1],
    [T0 + HOUR, 8],
  ],
  [
    [T0 + MIN + 20 * SEC, 10],
    [T0 + 5 * MIN, 7],
  ],
]

/** Expected buckets per step and aggregate, derived by hand from TEMPERATURE over [12:00, 13:00). */
const EXPECTED: Record<'1m' | '5m' | '1h', { step: number; buckets: Array<{ at: number; values: number[]; last: number }> }> = {
  '1m': {
    step: MIN,
    buckets: [
      { at: T0, values: [1, 5, 3], last: 5 },
      { at: T0 + MIN, values: [10], last: 10 },
      { at: T0 + 4 * MIN, values: [2], last: 2 },
      { at: T0 + 5 * MIN, values: [7], last: 7 },
      { at: T0 + 59 * MIN, values: [4], last: 4 },
    ],
  },
  '5m': {
    step: 5 * MIN,
    buckets: [
      { at: T0, values: [1, 5, 3, 10, 2], last: 2 },
      { at: T0 + 5 * MIN, values: [7], last: 7 },
      { at: T0 + 55 * MIN, values: [4], last: 4 },
    ],
  },
  '1h': { step: HOUR, buckets: [{ at: T0, values: [1, 5, 3, 10, 2, 7, 4], last: 4 }] },
}

function aggregate(agg: Aggregate, values: number[], last: number): number {
  const sum = values.reduce((a, b) => a + b, 0)
  switch (agg) {
    case 'avg':
      return sum / values.length
    case 'min':
      return Math.min(...values)
    case 'max':
      return Math.max(...values)
    case 'sum':
      return sum
    case 'count':
      return values.length
    case 'last':
      return last
  }
}

/** Run the SeriesStore contract against the stores `create` makes (a fresh, empty one per test). */
export function runSeriesStoreContract(name: string, create: SeriesStoreFactory): void {
  describe(`SeriesStore contract: ${name}`, () => {
    let clock: ManualClock
    let fixture: SeriesStoreFixture
    let store: SeriesStore

    beforeEach(() => {
      clock = new ManualClock(T0 + 2 * HOUR)
      fixture = create({ now: () => clock.now(), retention: CONTRACT_RETENTION })
      store = fixture.store
    })

    afterEach(() => {
      fixture.cleanup()
    })

    const q = (over: Partial<SeriesQuery> = {}): SeriesQuery => ({ metric: 'temperature_c', from: T0, to: T0 + HOUR, agg: 'avg', ...over })

    function writeTemperature(): void {
      for (const batch of TEMPERATURE) {
        store.append({ accepted: batch.map(([ts, v]) => msg(point('temperature_c', D1, ts, v))), rejections: [] })
      }
    }

    describe('append', () => {
      it('writes points, events and rejections of one batch and reports what it wrote', () => {
        const stats = store.append({
          accepted: [msg(point('temperature_c', D1, T0, 4.2), point('humidity_pct', D1, T0, 61)), scan('d2', T0)],
          rejections: [rejection('d1', T0), rejection('d2', T0)],
        })
        expect(stats).toEqual({ points: 2, events: 1, rejections: 2 })
        expect(store.countPoints({})).toBe(2)
        expect(only(store.query(q({ metric: 'humidity_pct' })))).toEqual([[T0, 61]])
      })

      it('accepts an empty batch', () => {
        expect(store.append({ accepted: [], rejections: [] })).toEqual({ points: 0, events: 0, rejections: 0 })
        expect(store.countPoints({})).toBe(0)
      })

      it('commits nothing of a batch that throws (a NaN value is refused)', () => {
        store.append({ accepted: [msg(point('temperature_c', D1, T0, 1))], rejections: [] })
        const before = { raw: store.query(q()), m1: store.query(q({ stepMs: MIN, agg: 'sum' })), h1: store.query(q({ stepMs: HOUR, agg: 'count' })) }
        expect(() =>
          store.append({
            accepted: [
              msg(point('temperature_c', D1, T0 + SEC, 2)), // existing series
              msg(point('pressure_hpa', D2, T0, 1013)), // new series
              scan('d2', T0),
              msg(point('temperature_c', D1, T0 + 2 * SEC, Number.NaN)),
            ],
            rejections: [rejection('d1', T0)],
          }),
        ).toThrow()
        expect(store.countPoints({})).toBe(1)
        expect(store.query(q())).toEqual(before.raw)
        expect(store.query(q({ stepMs: MIN, agg: 'sum' }))).toEqual(before.m1)
        expect(store.query(q({ stepMs: HOUR, agg: 'count' }))).toEqual(before.h1)
        expect(store.query(q({ metric: 'pressure_hpa' })).series).toEqual([])
      })

      it('keeps working after a failed batch: series it would have created are created afresh', () => {
        expect(() =>
          store.append({ accepted: [msg(point('pressure_hpa', D2, T0, 1013), point('pressure_hpa', D2, T0 + SEC, Number.NaN))], rejections: [] }),
        ).toThrow()
        store.append({ accepted: [msg(point('rpm', D1, T0, 900))], rejections: [] })
        store.append({ accepted: [msg(point('pressure_hpa', D2, T0 + MIN, 1014))], rejections: [] })
        expect(store.query(q({ metric: 'rpm' })).series).toEqual([{ labels: { metric: 'rpm', ...D1 }, points: [[T0, 900]] }])
        expect(store.query(q({ metric: 'pressure_hpa' })).series).toEqual([{ labels: { metric: 'pressure_hpa', ...D2 }, points: [[T0 + MIN, 1014]] }])
      })
    })

    describe('raw query', () => {
      it('returns the points in [from, to), oldest first: to is exclusive, from inclusive', () => {
        writeTemperature()
        expect(only(store.query(q()))).toEqual([
          [T0 + 10 * SEC, 1],
          [T0 + 30 * SEC, 3],
          [T0 + 50 * SEC, 5],
          [T0 + MIN + 20 * SEC, 10],
          [T0 + 4 * MIN, 2],
          [T0 + 5 * MIN, 7],
          [T0 + HOUR - 1, 4],
        ])
        expect(only(store.query(q({ from: T0 - 1, to: T0 + 10 * SEC })))).toEqual([[T0 - 1, 100]])
        expect(only(store.query(q({ from: T0 + HOUR, to: T0 + HOUR + 1 })))).toEqual([[T0 + HOUR, 8]])
      })

      it('returns the labels of each series with its metric', () => {
        writeTemperature()
        expect(store.query(q()).series[0]!.labels).toEqual({ metric: 'temperature_c', site: 's1', zone: 'cold', device: 'd1', sku: '' })
      })

      it('returns no series for a range or metric without points', () => {
        writeTemperature()
        expect(store.query(q({ from: T0 + 6 * MIN, to: T0 + 59 * MIN })).series).toEqual([])
        expect(store.query(q({ metric: 'no_such_metric' })).series).toEqual([])
        expect(store.query(q({ from: T0 - 2 * DAY, to: T0 - DAY })).series).toEqual([])
      })

      it('ignores agg when no step is given', () => {
        writeTemperature()
        for (const agg of AGGREGATES) expect(only(store.query(q({ agg })))).toEqual(only(store.query(q())))
      })
    })

    describe('bucketed query', () => {
      for (const [label, { step, buckets }] of Object.entries(EXPECTED)) {
        for (const agg of AGGREGATES) {
          it(`step ${label}, agg ${agg}: one value per non-empty bucket, keyed by bucket start`, () => {
            writeTemperature()
            const got = only(store.query(q({ stepMs: step, agg })))
            expect(got.map(([at]) => at)).toEqual(buckets.map((b) => b.at))
            got.forEach(([, v], i) => {
              const b = buckets[i]!
              expect(v, `bucket ${new Date(b.at).toISOString()}`).toBeCloseTo(aggregate(agg, b.values, b.last), 9)
            })
          })
        }
      }

      it('last is the value with the greatest ts, whatever order the points arrived in', () => {
        writeTemperature()
        // In each bucket the point with the greatest ts arrived before points with smaller ts.
        expect(only(store.query(q({ stepMs: MIN, agg: 'last' })))[0]).toEqual([T0, 5])
        expect(only(store.query(q({ stepMs: 5 * MIN, agg: 'last' })))[0]).toEqual([T0, 2])
        expect(only(store.query(q({ stepMs: HOUR, agg: 'last' })))).toEqual([[T0, 4]])
      })

      it('excludes the bucket that starts at to', () => {
        writeTemperature()
        const hours = only(store.query(q({ stepMs: HOUR, agg: 'count', to: T0 + 2 * HOUR })))
        expect(hours).toEqual([
          [T0, 7],
          [T0 + HOUR, 1],
        ])
        expect(only(store.query(q({ stepMs: HOUR, agg: 'count', to: T0 + HOUR })))).toEqual([[T0, 7]])
        expect(only(store.query(q({ stepMs: MIN, agg: 'count', from: T0, to: T0 + MIN })))).toEqual([[T0, 3]])
      })

      it('combines points appended in separate batches into one bucket', () => {
        for (let i = 0; i < 10; i++) store.append({ accepted: [msg(point('temperature_c', D1, T0 + i * SEC, i))], rejections: [] })
        expect(only(store.query(q({ stepMs: MIN, agg: 'sum' })))).toEqual([[T0, 45]])
        expect(only(store.query(q({ stepMs: MIN, agg: 'count' })))).toEqual([[T0, 10]])
        expect(only(store.query(q({ stepMs: HOUR, agg: 'avg' })))).toEqual([[T0, 4.5]])
      })
    })

    describe('label filters', () => {
      beforeEach(() => {
        store.append({
          accepted: [
            msg(point('temperature_c', D1, T0, 1)),
            msg(point('temperature_c', D2, T0, 2)),
            msg(point('temperature_c', { ...D2, sku: 'SKU-2' }, T0, 3)),
            msg(point('weight_kg', D2, T0, 12.5)),
          ],
          rejections: [],
        })
      })

      const values = (over: Partial<SeriesQuery>): number[] =>
        all(store.query(q(over)))
          .map(([, v]) => v)
          .sort((a, b) => a - b)

      it('returns one series per label set of the metric when no label is given', () => {
        const res = store.query(q())
        expect(res.series.map((s) => s.labels).sort((a, b) => a.device.localeCompare(b.device) || a.sku.localeCompare(b.sku))).toEqual([
          { metric: 'temperature_c', ...D1 },
          { metric: 'temperature_c', ...D2 },
          { metric: 'temperature_c', ...D2, sku: 'SKU-2' },
        ])
      })

      it('filters by device, zone, sku and site, alone or together', () => {
        expect(values({ device: 'd1' })).toEqual([1])
        expect(values({ device: 'd2' })).toEqual([2, 3])
        expect(values({ zone: 'dock' })).toEqual([2, 3])
        expect(values({ sku: 'SKU-2' })).toEqual([3])
        expect(values({ sku: '' })).toEqual([1])
        expect(values({ site: SITE })).toEqual([1, 2, 3])
        expect(values({ device: 'd2', sku: 'SKU-1' })).toEqual([2])
        expect(values({ zone: 'cold', device: 'd2' })).toEqual([])
        expect(values({ site: 'elsewhere' })).toEqual([])
      })

      it('applies filters to bucketed reads too', () => {
        expect(only(store.query(q({ device: 'd2', stepMs: MIN, agg: 'sum', sku: 'SKU-2' })))).toEqual([[T0, 3]])
        expect(all(store.query(q({ zone: 'dock', stepMs: HOUR, agg: 'count' }))).map(([, v]) => v)).toEqual([1, 1])
      })
    })

    describe('countPoints', () => {
      it('counts raw points by label and by [from, to)', () => {
        writeTemperature()
        store.append({ accepted: [msg(point('weight_kg', D2, T0, 12.5), point('weight_kg', D2, T0 + MIN, 12.6))], rejections: [] })
        expect(store.countPoints({})).toBe(11)
        expect(store.countPoints({ metric: 'temperature_c' })).toBe(9)
        expect(store.countPoints({ device: 'd2' })).toBe(2)
        expect(store.countPoints({ zone: 'cold', metric: 'weight_kg' })).toBe(0)
        expect(store.countPoints({ metric: 'temperature_c', from: T0, to: T0 + HOUR })).toBe(7)
        expect(store.countPoints({ from: T0, to: T0 + MIN })).toBe(4)
        expect(store.countPoints({ to: T0 })).toBe(1)
        expect(store.countPoints({ from: T0 + HOUR })).toBe(1)
        expect(store.countPoints({ metric: 'no_such_metric' })).toBe(0)
      })
    })

    describe('retention (enforceRetention)', () => {
      const { rawDays, minuteDays, hourDays, chunkRows } = CONTRACT_RETENTION
      /** Old data: temperature of d1 over 12:00-12:03, arriving at T0 + 2h (the clock's start). */
      const OLD = { from: T0, to: T0 + HOUR }

      /** Data keeps arriving, as on a live gateway: a heartbeat point of d2, stamped `at`. */
      const arriveAt = (at: number): void => {
        clock.set(at)
        store.append({ accepted: [msg(point('heartbeat', D2, at, 1))], rejections: [] })
      }

      function writeOld(n: number): void {
        for (let i = 0; i < n; i += 50) {
          const batch: Accepted[] = []
          for (let j = i; j < Math.min(n, i + 50); j++) batch.push(msg(point('temperature_c', D1, T0 + (j * 180 * SEC) / n, j)))
          store.append({ accepted: batch, rejections: [] })
        }
      }

      it('deletes raw points rawDays after they arrived, and keeps their rollups', () => {
        const arrived = clock.now()
        writeOld(20)
        arriveAt(arrived + MIN)
        arriveAt(arrived + rawDays * DAY - HOUR)
        store.enforceRetention(clock.now())
        expect(store.countPoints({ metric: 'temperature_c' }), 'still young').toBe(20)

        arriveAt(arrived + rawDays * DAY + 2 * MIN)
        expect(store.enforceRetention(clock.now())).toBeGreaterThanOrEqual(20)
        expect(store.countPoints({ metric: 'temperature_c' })).toBe(0)
        expect(store.query(q(OLD)).series).toEqual([])
        expect(store.countPoints({ metric: 'heartbeat' }), 'data that arrived since is kept').toBeGreaterThan(0)
        // The rollups still answer for the old hour.
        expect(only(store.query(q({ ...OLD, stepMs: MIN, agg: 'count' }))).reduce((n, [, c]) => n + c, 0)).toBe(20)
        expect(only(store.query(q({ ...OLD, stepMs: 5 * MIN, agg: 'count' })))).toEqual([[T0, 20]])
        expect(only(store.query(q({ ...OLD, stepMs: HOUR, agg: 'sum' })))).toEqual([[T0, 190]])
      })

      it('deletes minute rollups after minuteDays and hour rollups after hourDays', () => {
        const arrived = clock.now()
        writeOld(20)
        arriveAt(arrived + MIN)
        arriveAt(T0 + minuteDays * DAY - HOUR)
        store.enforceRetention(clock.now())
        expect(all(store.query(q({ ...OLD, stepMs: MIN, agg: 'count' }))), 'minute rollups before minuteDays').not.toEqual([])

        arriveAt(T0 + minuteDays * DAY + HOUR)
        store.enforceRetention(clock.now())
        expect(all(store.query(q({ ...OLD, stepMs: MIN, agg: 'count' })))).toEqual([])
        expect(all(store.query(q({ ...OLD, stepMs: 5 * MIN, agg: 'count' })))).toEqual([])
        expect(only(store.query(q({ ...OLD, stepMs: HOUR, agg: 'count' })))).toEqual([[T0, 20]])

        arriveAt(T0 + hourDays * DAY + 2 * HOUR)
        store.enforceRetention(clock.now())
        expect(all(store.query(q({ ...OLD, stepMs: HOUR, agg: 'count' })))).toEqual([])
        // What arrived last is still there.
        expect(store.query(q({ metric: 'heartbeat', from: clock.now(), to: clock.now() + 1 })).series).toHaveLength(1)
      })

      it('does at most maxSteps short steps per call, and finishes over later calls', () => {
        const arrived = clock.now()
        const n = 10 * chunkRows
        writeOld(n)
        arriveAt(arrived + MIN)
        arriveAt(arrived + rawDays * DAY + 2 * MIN)

        expect(store.enforceRetention(clock.now(), 0)).toBe(0)
        const one = store.enforceRetention(clock.now(), 1)
        expect(one).toBeGreaterThan(0)
        expect(one).toBeLessThanOrEqual(chunkRows)
        const three = store.enforceRetention(clock.now(), 3)
        expect(three).toBeLessThanOrEqual(3 * chunkRows)
        expect(store.countPoints({ metric: 'temperature_c' })).toBeGreaterThan(0)

        let total = one + three
        for (let calls = 0; calls < 100; calls++) {
          const deleted = store.enforceRetention(clock.now(), 1)
          if (deleted === 0) break
          expect(deleted).toBeLessThanOrEqual(chunkRows)
          total += deleted
        }
        expect(store.countPoints({ metric: 'temperature_c' })).toBe(0)
        expect(total).toBeGreaterThanOrEqual(n)
        expect(only(store.query(q({ ...OLD, stepMs: HOUR, agg: 'count' })))).toEqual([[T0, n]])
      })
    })
  })
}
