/**
 * The analytics plumbing on a real SQLite file: daily demand folded from the event log (incremental,
 * by UTC day, late scans to their own day, orders' pick lines), the forecast signals the rule engine
 * reads (days of cover, stock-out probability, played from "now" against on-hand), and the nightly
 * schedule.
 */
import { rmSync } from 'node:fs'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Database } from 'better-sqlite3'
import { openAnalyticsDb } from '../gateway/analytics/db.ts'
import { DAY_MS, DemandLedger } from '../gateway/analytics/demand.ts'
import { nextDailyAt } from '../gateway/analytics/host.ts'
import { ForecastBook, MAX_COVER_DAYS, pathFromNow } from '../gateway/analytics/signals.ts'
import { readForecasts, writeRun, type SkuForecast } from '../gateway/analytics/tables.ts'
import { ManualClock } from '../gateway/core/clock.ts'
import { openSqliteStore, type SqliteStore } from '../gateway/store/sqlite/index.ts'
import { tempDir } from './helpers/gateway.ts'

const D0 = Date.UTC(2026, 0, 5) // a Monday, 00:00 UTC
let dir: string
let store: SqliteStore
/** The analytics database beside the store. */
let adb: Database

beforeEach(() => {
  dir = tempDir('stockyard-analytics-')
  store = openSqliteStore({ dataDir: dir, synchronous: 'NORMAL' })
  adb = openAnalyticsDb(dir)
})
afterEach(() => {
  adb.close()
  store.close()
  rmSync(dir, { recursive: true, force: true })
})

function logScan(ts: number, event: string, sku: string, qty: number, ref = ''): void {
  store.db
    .prepare(`INSERT INTO events (ts, kind, site, zone, device, sku, ref, body) VALUES (?, 'scan', 's', 'z', 'd', ?, ?, ?)`)
    .run(ts, sku, ref, JSON.stringify({ event, sku, qty, location: 'A-1', ref }))
}

describe('DemandLedger', () => {
  it('sums pick and ship units per SKU and UTC day; receipts, adjustments and counts are not demand', () => {
    const ledger = new DemandLedger(store.db, adb)
    logScan(D0 + 3_600_000, 'pick', 'A', 3)
    logScan(D0 + 23 * 3_600_000, 'ship', 'A', 2)
    logScan(D0 + DAY_MS + 60_000, 'pick', 'A', 4)
    logScan(D0 + 5000, 'receive', 'A', 100)
    logScan(D0 + 6000, 'adjust', 'A', -7)
    logScan(D0 + 7000, 'count', 'A', 50)
    expect(ledger.fold()).toBe(3)
    expect(ledger.series('A', D0 / DAY_MS - 1, D0 / DAY_MS + 3)).toEqual([0, 5, 4, 0])
  })

  it('folds only what is new, and a late scan lands on the day it happened', () => {
    const ledger = new DemandLedger(store.db, adb)
    logScan(D0 + DAY_MS, 'pick', 'A', 1)
    expect(ledger.fold()).toBe(1)
    expect(ledger.fold()).toBe(0)
    logScan(D0 + 1000, 'pick', 'A', 6) // logged after, happened a day earlier
    expect(ledger.fold()).toBe(1)
    expect(ledger.series('A', D0 / DAY_MS, D0 / DAY_MS + 2)).toEqual([6, 1])
    // A second ledger on the same file resumes from the stored cursor.
    expect(new DemandLedger(store.db, adb).fold()).toBe(0)
  })

  it('folds in chunks, counts pick lines per order, and prunes old days', () => {
    const ledger = new DemandLedger(store.db, adb)
    for (let i = 0; i < 25; i++) logScan(D0 + i * 1000, 'pick', 'B', 2, 'SO-1')
    logScan(D0 - 40 * DAY_MS, 'pick', 'B', 9)
    expect(ledger.fold(10)).toBe(26)
    expect(ledger.order('SO-1')).toEqual({ lines: 25, units: 50 })
    expect(ledger.order('SO-404')).toEqual({ lines: 0, units: 0 })
    expect(ledger.skus()).toEqual([{ sku: 'B', first: D0 / DAY_MS - 40, last: D0 / DAY_MS, units: 59 }])
    ledger.prune(D0 / DAY_MS - 30)
    expect(ledger.skus()).toEqual([{ sku: 'B', first: D0 / DAY_MS, last: D0 / DAY_MS, units: 50 }])
  })
})

describe('forecast signals', () => {
  const forecast = (mean: number[], sdDaily = 0): SkuForecast => ({
    sku: 'A',
    at: D0,
    startDay: D0 / DAY_MS,
    method: 'test',
    n: 10,
    mean,
    lower: {},
    upper: {},
    sdDaily,
    fit: {},
    accuracy: null,
    stats: {},
  })

  it('re-cuts the daily forecast into 24 h steps from now', () => {
    const f = forecast([10, 20, 30])
    expect(pathFromNow(f, D0)).toEqual([10, 20, 30])
    // Noon: half of today, half of tomorrow in each step; the last day repeats past the end.
    expect(pathFromNow(f, D0 + DAY_MS / 2)).toEqual([15, 25, 30])
    // A run that is days late keeps its last level.
    expect(pathFromNow(f, D0 + 10 * DAY_MS)).toEqual([30, 30, 30])
  })

  function book(mean: number[], sdDaily: number, onHand: number, now: number): ForecastBook {
    writeRun(adb, now, [forecast(mean, sdDaily)], {})
    const b = new ForecastBook(adb, () => onHand, new ManualClock(now))
    expect(b.load()).toEqual({ current: ['A'], gone: [] })
    return b
  }

  it('days of cover: on hand over forecast demand from now; capped when demand is zero; 0 with nothing on hand', () => {
    expect(book([10, 10, 10, 10], 0, 25, D0).get('A', 'days_of_cover')).toBeCloseTo(2.5, 9)
    expect(book([10, 10, 10, 10], 0, 25, D0 + DAY_MS / 2).get('A', 'days_of_cover')).toBeCloseTo(2.5, 9)
    expect(book([0, 0], 0, 25, D0).get('A', 'days_of_cover')).toBe(MAX_COVER_DAYS)
    expect(book([10], 0, 0, D0).get('A', 'days_of_cover')).toBe(0)
    expect(book([10], 0, 5, D0).get('B', 'days_of_cover')).toBeUndefined()
  })

  it('stock-out probability over a horizon: 0.5 where on hand equals expected demand, rising as stock falls', () => {
    const at = (onHand: number): number => book([20, 20, 20], 6, onHand, D0).get('A', 'stockout_within', 2 * DAY_MS)!
    expect(at(40)).toBeCloseTo(0.5, 6)
    expect(at(60)).toBeLessThan(0.05)
    expect(at(25)).toBeGreaterThan(0.9)
    expect(at(0)).toBe(1)
    // No spread: certain either way.
    expect(book([20, 20], 0, 39, D0).get('A', 'stockout_within', 2 * DAY_MS)).toBe(1)
    expect(book([20, 20], 0, 41, D0).get('A', 'stockout_within', 2 * DAY_MS)).toBe(0)
  })
})

describe('stored runs', () => {
  const f = (sku: string, mean: number): SkuForecast => ({
    sku,
    at: 0,
    startDay: 1,
    method: 'm',
    n: 1,
    mean: [mean],
    lower: {},
    upper: {},
    sdDaily: 0,
    fit: {},
    accuracy: null,
    stats: {},
  })

  it('a reader sees the last complete run only; rows of an unfinished one are never read and are cleaned up', () => {
    const many = Array.from({ length: 250 }, (_, i) => f(`S${String(i).padStart(3, '0')}`, i))
    writeRun(adb, 1000, many, { run: { n: 1 } })
    expect(readForecasts(adb)).toHaveLength(250)
    writeRun(adb, 2000, [f('S000', 7)], { run: { n: 2 } })
    expect(readForecasts(adb)).toEqual([{ ...f('S000', 7), at: 2000 }])
    // A crash after writing part of run 3: not current, so not read; the next write removes it.
    adb.prepare(`INSERT INTO analytics_forecast (run, sku, start_day, sd_daily, mean, body) VALUES (3, 'S999', 1, 0, '[1]', '{}')`).run()
    expect(readForecasts(adb).map((x) => x.sku)).toEqual(['S000'])
    writeRun(adb, 3000, [f('S001', 1)], {})
    expect(readForecasts(adb).map((x) => x.sku)).toEqual(['S001'])
    expect(adb.prepare('SELECT count(*) FROM analytics_forecast').pluck().get()).toBe(1)
  })
})

describe('nightly schedule', () => {
  it('is the next HH:MM UTC strictly after now', () => {
    expect(nextDailyAt(D0, '02:00')).toBe(D0 + 2 * 3_600_000)
    expect(nextDailyAt(D0 + 2 * 3_600_000, '02:00')).toBe(D0 + DAY_MS + 2 * 3_600_000)
    expect(nextDailyAt(D0 + 23 * 3_600_000, '00:30')).toBe(D0 + DAY_MS + 30 * 60_000)
  })
})
