/**
 * The stock book: on hand per SKU × location from scans, in event time (gateway/state/stock.ts states
 * the contract). Each rule has its unit test; a property test checks that any arrival order, with a
 * restart in the middle, gives the same on hand as replaying the facts in time order.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { readStock, StockBook, type ScanEvent, type ScanFact } from '../gateway/state/stock.ts'
import { tempDir } from './helpers/gateway.ts'

const T0 = Date.UTC(2025, 0, 31, 12)
const MIN = 60_000

let dir: string
let db: Database.Database
let book: StockBook

beforeEach(() => {
  dir = tempDir('stockyard-stock-')
  db = new Database(join(dir, 'state.db'))
  book = new StockBook(db)
})

afterEach(() => {
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

/** A scan of SKU S1 at location A, `minutes` after T0. */
function scan(minutes: number, event: ScanEvent, qty: number, extra: Partial<ScanFact> = {}): ScanFact {
  return { ts: T0 + minutes * MIN, event, sku: 'S1', qty, location: 'A', ref: '', device: 'scanner-1', ...extra }
}

function applyAll(...facts: ScanFact[]): void {
  for (const f of facts) book.apply(f)
}

function flush(): void {
  db.transaction(() => book.flush())()
}

function reopen(): void {
  db.close()
  db = new Database(join(dir, 'state.db'))
  book = new StockBook(db)
}

describe('what each scan does', () => {
  it('receive adds at the location, pick and ship take away, pack changes nothing', () => {
    applyAll(scan(1, 'receive', 24), scan(2, 'pick', 3), scan(3, 'ship', 2), scan(4, 'pack', 5))
    expect(book.get('S1', 'A')).toBe(19)
  })

  it('a putaway with from moves stock: + at the location, − at from, and reports both', () => {
    book.apply(scan(1, 'receive', 24, { location: 'DOCK' }))
    const changes = book.apply(scan(2, 'putaway', 20, { from: 'DOCK' }))
    expect(changes).toEqual([
      { sku: 'S1', location: 'A', onHand: 20, previous: 0, ts: T0 + 2 * MIN },
      { sku: 'S1', location: 'DOCK', onHand: 4, previous: 24, ts: T0 + 2 * MIN },
    ])
  })

  it('a putaway without from only adds at the location', () => {
    book.apply(scan(1, 'putaway', 10))
    expect(book.keys()).toEqual([{ sku: 'S1', location: 'A' }])
    expect(book.get('S1', 'A')).toBe(10)
  })

  it('adjust adds its signed qty', () => {
    applyAll(scan(1, 'receive', 10), scan(2, 'adjust', -3), scan(3, 'adjust', 1))
    expect(book.get('S1', 'A')).toBe(8)
  })

  it('keeps a negative on hand as it is: it shows a data problem', () => {
    book.apply(scan(1, 'pick', 4))
    expect(book.get('S1', 'A')).toBe(-4)
  })

  it('count sets on hand as of its ts; later deltas add on top', () => {
    applyAll(scan(1, 'receive', 24), scan(2, 'count', 20), scan(3, 'pick', 2))
    expect(book.get('S1', 'A')).toBe(18)
  })
})

describe('event time, not arrival order', () => {
  it('ignores a delta at or before the newest count: the counter saw it', () => {
    applyAll(scan(5, 'count', 20), scan(4, 'pick', 3), scan(5, 'receive', 24))
    expect(book.get('S1', 'A')).toBe(20)
  })

  it('re-folds on a late count: earlier deltas are dropped, later ones kept', () => {
    applyAll(scan(1, 'receive', 24), scan(2, 'pick', 2), scan(4, 'pick', 3))
    const changes = book.apply(scan(3, 'count', 30))
    expect(changes).toEqual([{ sku: 'S1', location: 'A', onHand: 27, previous: 19, ts: T0 + 3 * MIN }])
  })

  it('ignores a count older than the newest count', () => {
    applyAll(scan(5, 'count', 20), scan(6, 'receive', 4))
    expect(book.apply(scan(3, 'count', 99))).toEqual([])
    expect(book.get('S1', 'A')).toBe(24)
  })

  it('of two counts at the same ts takes the larger, in either arrival order', () => {
    applyAll(scan(5, 'count', 20), scan(5, 'count', 12))
    expect(book.get('S1', 'A')).toBe(20)
    book.apply(scan(5, 'count', 21, { location: 'B' }))
    book.apply(scan(5, 'count', 30, { location: 'B' }))
    expect(book.get('S1', 'B')).toBe(30)
  })

  it('starts a key never counted at 0', () => {
    expect(book.get('S1', 'NOWHERE')).toBe(0)
    expect(book.totalFor('S9')).toBe(0)
  })
})

describe('changes, totals and keys', () => {
  it('reports a key only when its on hand changed', () => {
    book.apply(scan(1, 'receive', 10))
    expect(book.apply(scan(2, 'count', 10))).toEqual([])
    expect(book.apply(scan(3, 'pack', 1))).toEqual([])
    expect(book.apply(scan(4, 'putaway', 5, { from: 'A' }))).toEqual([])
  })

  it('totals a SKU over its locations, or over those a filter accepts', () => {
    applyAll(
      scan(1, 'receive', 10),
      scan(2, 'receive', 5, { location: 'B-1' }),
      scan(3, 'receive', 7, { location: 'B-2' }),
      scan(4, 'receive', 1, { sku: 'S2' }),
    )
    expect(book.totalFor('S1')).toBe(22)
    expect(book.totalFor('S1', (loc) => loc.startsWith('B-'))).toBe(12)
    expect(book.keys()).toEqual([
      { sku: 'S1', location: 'A' },
      { sku: 'S1', location: 'B-1' },
      { sku: 'S1', location: 'B-2' },
      { sku: 'S2', location: 'A' },
    ])
  })
})

describe('persistence', () => {
  it('survives a reopen: counts, deltas after them, and a late count that re-folds after the restart', () => {
    applyAll(scan(1, 'receive', 24), scan(3, 'count', 20), scan(4, 'pick', 2), scan(6, 'pick', 1), scan(2, 'putaway', 5, { location: 'B', from: 'A' }))
    flush()
    reopen()
    expect(book.get('S1', 'A')).toBe(17)
    expect(book.get('S1', 'B')).toBe(5)
    book.apply(scan(5, 'count', 10))
    flush()
    reopen()
    expect(book.get('S1', 'A')).toBe(9)
  })

  it('writes only the keys that changed since the last flush', () => {
    applyAll(scan(1, 'receive', 10), scan(1, 'receive', 10, { location: 'B' }))
    flush()
    db.prepare(`UPDATE stock_on_hand SET on_hand = 999 WHERE location = 'B'`).run()
    book.apply(scan(2, 'pick', 1))
    flush()
    expect(readStock(db).map((r) => r.onHand)).toEqual([9, 999])
  })

  it("opens no transaction of its own: a rollback of the caller's transaction leaves the tables as they were", () => {
    book.apply(scan(1, 'receive', 10))
    expect(() =>
      db.transaction(() => {
        book.flush()
        throw new Error('another write failed')
      })(),
    ).toThrow('another write failed')
    expect(readStock(db)).toEqual([])
  })

  it('keeps one row per live delta, and drops those a count covers', () => {
    applyAll(scan(1, 'receive', 10), scan(2, 'pick', 1), scan(4, 'pick', 1))
    flush()
    expect(db.prepare('SELECT count(*) FROM stock_deltas').pluck().get()).toBe(3)
    book.apply(scan(3, 'count', 8))
    flush()
    expect(db.prepare('SELECT ts FROM stock_deltas').pluck().all()).toEqual([T0 + 4 * MIN])
  })

  it('lets a reader on another connection see on hand and the last count from the tables alone', () => {
    const reader = new Database(join(dir, 'state.db'), { readonly: true })
    expect(readStock(reader)).toEqual([])
    applyAll(scan(1, 'receive', 10), scan(2, 'count', 7, { location: 'B' }), scan(3, 'receive', 1, { sku: 'S2' }))
    flush()
    expect(readStock(reader)).toEqual([
      { sku: 'S1', location: 'A', onHand: 10, countedAt: null },
      { sku: 'S1', location: 'B', onHand: 7, countedAt: T0 + 2 * MIN },
      { sku: 'S2', location: 'A', onHand: 1, countedAt: null },
    ])
    expect(readStock(reader, { sku: 'S1', location: 'B' })).toEqual([{ sku: 'S1', location: 'B', onHand: 7, countedAt: T0 + 2 * MIN }])
    reader.close()
  })
})

describe('compaction', () => {
  it('folds deltas older than the horizon: on hand stays, their rows go', () => {
    applyAll(scan(1, 'receive', 10), scan(2, 'pick', 1), scan(10, 'pick', 2))
    flush()
    book.compact(T0 + 5 * MIN)
    flush()
    expect(book.get('S1', 'A')).toBe(7)
    expect(db.prepare('SELECT ts FROM stock_deltas').pluck().all()).toEqual([T0 + 10 * MIN])
    reopen()
    expect(book.get('S1', 'A')).toBe(7)
  })

  it('still lets a later count supersede folded deltas', () => {
    applyAll(scan(1, 'receive', 10), scan(10, 'pick', 2))
    book.compact(T0 + 5 * MIN)
    book.apply(scan(6, 'count', 4))
    expect(book.get('S1', 'A')).toBe(2)
    flush()
    reopen()
    expect(book.get('S1', 'A')).toBe(2)
  })

  it('folds at once a delta older than the horizon that arrives after compaction', () => {
    book.compact(T0 + 5 * MIN)
    book.apply(scan(1, 'receive', 10))
    flush()
    expect(db.prepare('SELECT count(*) FROM stock_deltas').pluck().get()).toBe(0)
    expect(readStock(db)).toEqual([{ sku: 'S1', location: 'A', onHand: 10, countedAt: null }])
  })
})

// ---------------------------------------------------------------------------------------------------
// Property: arrival order and restarts do not matter.
// ---------------------------------------------------------------------------------------------------

const SKUS = ['S1', 'S2', 'S3']
const LOCATIONS = ['A', 'B', 'C', 'D']
const EVENTS: ScanEvent[] = ['receive', 'putaway', 'pick', 'pack', 'ship', 'count', 'adjust']

const factArb = (ts: fc.Arbitrary<number>) =>
  fc
    .record({
      ts,
      event: fc.constantFrom(...EVENTS),
      sku: fc.constantFrom(...SKUS),
      location: fc.constantFrom(...LOCATIONS),
      qty: fc.integer({ min: 0, max: 40 }),
      from: fc.option(fc.constantFrom(...LOCATIONS), { nil: undefined }),
    })
    .map(({ from, ...f }): ScanFact => {
      const fact: ScanFact = { ...f, qty: f.event === 'adjust' ? f.qty - 20 : f.qty, ref: '', device: 'scanner-1' }
      if (f.event === 'putaway' && from !== undefined) fact.from = from
      return fact
    })

const keyOf = (sku: string, location: string) => `${sku}@${location}`

/**
 * The contract, as plainly as it can be written: replay every fact in time order. At one ts the deltas
 * go first and the counts last, smallest qty first, so the newest count is the one left standing and
 * the largest of tied counts wins.
 */
function referenceOnHand(facts: readonly ScanFact[]): Map<string, number> {
  const onHand = new Map<string, number>()
  const add = (sku: string, location: string, qty: number) => onHand.set(keyOf(sku, location), (onHand.get(keyOf(sku, location)) ?? 0) + qty)
  const inTimeOrder = [...facts].sort((a, b) => a.ts - b.ts || Number(a.event === 'count') - Number(b.event === 'count') || a.qty - b.qty)
  for (const f of inTimeOrder) {
    if (f.event === 'receive' || f.event === 'adjust') add(f.sku, f.location, f.qty)
    if (f.event === 'putaway') add(f.sku, f.location, f.qty)
    if (f.event === 'putaway' && f.from !== undefined) add(f.sku, f.from, -f.qty)
    if (f.event === 'pick' || f.event === 'ship') add(f.sku, f.location, -f.qty)
    if (f.event === 'count') onHand.set(keyOf(f.sku, f.location), f.qty)
  }
  return onHand
}

/** Applies `facts` in the order given, flushing, closing and reopening the database before `restartAt`. */
function bookAfter(file: string, facts: readonly ScanFact[], restartAt: number): Map<string, number> {
  let conn = new Database(file)
  let b = new StockBook(conn)
  for (const f of facts.slice(0, restartAt)) b.apply(f)
  conn.transaction(() => b.flush())()
  conn.close()
  conn = new Database(file)
  b = new StockBook(conn)
  for (const f of facts.slice(restartAt)) b.apply(f)
  conn.transaction(() => b.flush())()
  const inMemory = new Map(b.keys().map(({ sku, location }) => [keyOf(sku, location), b.get(sku, location)]))
  conn.close()
  const reader = new Database(file, { readonly: true })
  const fromTables = new Map(readStock(reader).map((r) => [keyOf(r.sku, r.location), r.onHand]))
  reader.close()
  expect(fromTables).toEqual(inMemory)
  return inMemory
}

/** Shrinking 10,000 facts through SQLite takes minutes; report the smallest failure found within 30 s. */
const SHRINK_FOR_AT_MOST_30S = fc.interruptAfterTimeLimit(30_000)

describe('property: any arrival order, with a restart in the middle, gives the time-ordered fold', () => {
  let run = 0

  it('10,000 scans with distinct timestamps, in random order', () => {
    const facts = fc.uniqueArray(factArb(fc.integer({ min: T0, max: T0 + 30 * 24 * 60 * MIN })), {
      minLength: 10_000,
      maxLength: 10_000,
      selector: (f) => f.ts,
    })
    fc.assert(
      fc.property(facts, fc.nat({ max: 10_000 }), (arrivals, restartAt) => {
        const actual = bookAfter(join(dir, `run-${run++}.db`), arrivals, restartAt)
        const expected = referenceOnHand(arrivals)
        for (const key of new Set([...actual.keys(), ...expected.keys()])) expect([key, actual.get(key) ?? 0]).toEqual([key, expected.get(key) ?? 0])
      }),
      { numRuns: 20, plugins: [SHRINK_FOR_AT_MOST_30S] },
    )
  })

  it('2,000 scans crowded onto 100 timestamps, so counts and deltas tie', () => {
    const facts = fc.array(factArb(fc.integer({ min: T0, max: T0 + 99 })), { minLength: 2_000, maxLength: 2_000 })
    fc.assert(
      fc.property(facts, fc.nat({ max: 2_000 }), (arrivals, restartAt) => {
        const actual = bookAfter(join(dir, `run-${run++}.db`), arrivals, restartAt)
        const expected = referenceOnHand(arrivals)
        for (const key of new Set([...actual.keys(), ...expected.keys()])) expect([key, actual.get(key) ?? 0]).toEqual([key, expected.get(key) ?? 0])
      }),
      { numRuns: 50, plugins: [SHRINK_FOR_AT_MOST_30S] },
    )
  })
})
