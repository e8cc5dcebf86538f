/**
 * On-hand stock per SKU × location, folded from scan facts in event time. Lives on the ingest worker,
 * which owns the only writer connection; readers on other connections use `readStock`.
 *
 * What each scan does (`qty` is the scan's quantity):
 * - receive: +qty at location.
 * - putaway: +qty at location, and −qty at `from` when given (a move between locations).
 * - pick, ship: −qty at location.
 * - adjust: +qty at location (a signed correction; qty may be negative).
 * - pack: nothing.
 * - count: on hand at location was qty at ts.
 *
 * Event time, not arrival order: on hand of a key = the qty of its newest count (by ts) + every delta
 * with ts strictly after that count. A delta at or before the newest count is superseded (the counter
 * saw its effect) and ignored. Of two counts with the same ts the larger qty wins, in whatever order
 * they arrive. A key never counted starts at 0. On hand may go negative; that shows a data problem
 * and is kept as is, never clamped.
 *
 * Per key the book keeps `base` (the newest count's qty), `baseTs` (its ts, or -Infinity), `folded`
 * (see compaction) and the deltas after baseTs. A count newer than baseTs becomes the base, drops the
 * deltas it covers and keeps the later ones; a count older than baseTs is ignored.
 *
 * Compaction: `compact(horizon)` folds deltas older than the horizon into `folded`, on the promise
 * that no count older than the horizon arrives any more (ingest refuses facts older than its max past
 * age). A later count still supersedes folded deltas. A delta older than the horizon that arrives
 * after compaction is folded at once.
 *
 * Persistence: `stock_on_hand` holds one row per key, with the current `on_hand` for readers;
 * `stock_deltas` holds the live deltas, one row each, inserted once and deleted when a count covers
 * them or compaction folds them. `flush()` writes only what changed since the last flush and opens no
 * transaction: the caller wraps it together with its other writes. If that transaction fails, the book
 * is ahead of the tables; construct it again to reload.
 */
import type { Database, Statement } from 'better-sqlite3'
import { hasTable } from './sql.ts'

export type ScanEvent = 'receive' | 'putaway' | 'pick' | 'pack' | 'ship' | 'count' | 'adjust'

/** One accepted scan. `ts` is event time (epoch ms); `ref` is '' when the scan had none. */
export interface ScanFact {
  ts: number
  event: ScanEvent
  sku: string
  qty: number
  location: string
  /** Source location of a putaway (a move). */
  from?: string
  ref: string
  device: string
}

/** On hand of one key changed, because of a fact at `ts`. */
export interface StockChange {
  sku: string
  location: string
  onHand: number
  previous: number
  ts: number
}

/** One key as readers see it; `countedAt` is the ts of its newest count, null when never counted. */
export interface StockLevel {
  sku: string
  location: string
  onHand: number
  countedAt: number | null
}

interface Delta {
  ts: number
  qty: number
  /** In `stock_deltas` already. Unsaved deltas are always a suffix of `Entry.deltas`. */
  saved: boolean
}

interface Entry {
  sku: string
  location: string
  base: number
  baseTs: number
  folded: number
  /** Deltas after baseTs and not folded, in arrival order. */
  deltas: Delta[]
  deltaSum: number
  /** baseTs moved forward since the last flush: saved deltas up to it are to be deleted. */
  cut: boolean
}

interface Row {
  sku: string
  location: string
  on_hand: number
  base: number
  base_ts: number | null
  folded: number
}

const DDL = `
CREATE TABLE IF NOT EXISTS stock_on_hand (
  sku TEXT NOT NULL, location TEXT NOT NULL, on_hand INTEGER NOT NULL,
  base INTEGER NOT NULL, base_ts INTEGER, folded INTEGER NOT NULL,
  PRIMARY KEY (sku, location)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stock_deltas (id INTEGER PRIMARY KEY, sku TEXT NOT NULL, location TEXT NOT NULL, ts INTEGER NOT NULL, qty INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS stock_deltas_key ON stock_deltas (sku, location, ts);
`

const onHandOf = (e: Entry): number => e.base + e.folded + e.deltaSum

/** The signed deltas of a scan that is not a count: [location, qty]. */
function deltasOf(f: ScanFact): Array<[location: string, qty: number]> {
  switch (f.event) {
    case 'receive':
    case 'adjust':
      return [[f.location, f.qty]]
    case 'putaway':
      return f.from === undefined
        ? [[f.location, f.qty]]
        : [
            [f.location, f.qty],
            [f.from, -f.qty],
          ]
    case 'pick':
    case 'ship':
      return [[f.location, -f.qty]]
    default:
      return []
  }
}

/** The stock book: see the module comment for the semantics. */
export class StockBook {
  private readonly bySku = new Map<string, Map<string, Entry>>()
  private readonly dirty = new Set<Entry>()
  private horizon = -Infinity
  private compactPending = false
  private readonly st: Record<'upsert' | 'insert' | 'cut' | 'compact', Statement>

  /** Creates the tables if needed and loads every key into memory. */
  constructor(db: Database) {
    db.exec(DDL)
    this.st = {
      upsert: db.prepare(
        `INSERT INTO stock_on_hand (sku, location, on_hand, base, base_ts, folded) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (sku, location) DO UPDATE SET on_hand = excluded.on_hand, base = excluded.base, base_ts = excluded.base_ts, folded = excluded.folded`,
      ),
      insert: db.prepare('INSERT INTO stock_deltas (sku, location, ts, qty) VALUES (?, ?, ?, ?)'),
      cut: db.prepare('DELETE FROM stock_deltas WHERE sku = ? AND location = ? AND ts <= ?'),
      compact: db.prepare('DELETE FROM stock_deltas WHERE ts < ?'),
    }
    for (const r of db.prepare('SELECT * FROM stock_on_hand').all() as Row[]) {
      Object.assign(this.entry(r.sku, r.location), { base: r.base, baseTs: r.base_ts ?? -Infinity, folded: r.folded })
    }
    const deltas = db.prepare('SELECT sku, location, ts, qty FROM stock_deltas ORDER BY id').all() as Array<{
      sku: string
      location: string
      ts: number
      qty: number
    }>
    for (const d of deltas) {
      const e = this.entry(d.sku, d.location)
      e.deltas.push({ ts: d.ts, qty: d.qty, saved: true })
      e.deltaSum += d.qty
    }
  }

  /**
   * Applies one scan; returns the keys whose on hand changed (none, one, or two for a move).
   * @example book.apply({ ts, event: 'putaway', sku: 'SKU-0001', qty: 24, location: 'A-1-1', from: 'DOCK-1', ref: '', device: 'scanner-1' })
   * // [{ sku: 'SKU-0001', location: 'A-1-1', onHand: 24, previous: 0, ts }, { sku: 'SKU-0001', location: 'DOCK-1', onHand: -24, previous: 0, ts }]
   */
  apply(f: ScanFact): StockChange[] {
    const before = new Map<Entry, number>()
    const touch = (location: string): Entry => {
      const e = this.entry(f.sku, location)
      if (!before.has(e)) before.set(e, onHandOf(e))
      return e
    }
    if (f.event === 'count') this.count(touch(f.location), f.ts, f.qty)
    else for (const [location, qty] of deltasOf(f)) this.add(touch(location), f.ts, qty)
    const changes: StockChange[] = []
    for (const [e, previous] of before) {
      const onHand = onHandOf(e)
      if (onHand !== previous) changes.push({ sku: e.sku, location: e.location, onHand, previous, ts: f.ts })
    }
    return changes
  }

  /** Folds deltas older than `horizonTs` for good; call it with now − the ingest's max past age. */
  compact(horizonTs: number): void {
    if (horizonTs <= this.horizon) return
    this.horizon = horizonTs
    this.compactPending = true
    for (const locations of this.bySku.values()) {
      for (const e of locations.values()) {
        if (!e.deltas.some((d) => d.ts < horizonTs)) continue
        for (const d of e.deltas) if (d.ts < horizonTs) e.folded += d.qty
        e.deltas = e.deltas.filter((d) => d.ts >= horizonTs)
        e.deltaSum = e.deltas.reduce((sum, d) => sum + d.qty, 0)
        this.dirty.add(e)
      }
    }
  }

  /** Writes the keys changed since the last flush. Opens no transaction; the caller wraps it in one. */
  flush(): void {
    if (this.compactPending) this.st.compact.run(this.horizon)
    this.compactPending = false
    for (const e of this.dirty) {
      if (e.cut) this.st.cut.run(e.sku, e.location, e.baseTs)
      e.cut = false
      let first = e.deltas.length
      while (first > 0 && !e.deltas[first - 1]!.saved) first--
      for (const d of e.deltas.slice(first)) {
        this.st.insert.run(e.sku, e.location, d.ts, d.qty)
        d.saved = true
      }
      this.st.upsert.run(e.sku, e.location, onHandOf(e), e.base, Number.isFinite(e.baseTs) ? e.baseTs : null, e.folded)
    }
    this.dirty.clear()
  }

  /** On hand of one key; 0 for a key never seen. */
  get(sku: string, location: string): number {
    const e = this.bySku.get(sku)?.get(location)
    return e ? onHandOf(e) : 0
  }

  /** On hand of a SKU summed over its locations, or over those `locationFilter` accepts. */
  totalFor(sku: string, locationFilter?: (location: string) => boolean): number {
    let total = 0
    for (const e of this.bySku.get(sku)?.values() ?? []) if (!locationFilter || locationFilter(e.location)) total += onHandOf(e)
    return total
  }

  /** Every key the book knows. */
  keys(): Array<{ sku: string; location: string }> {
    return [...this.bySku.values()].flatMap((locations) => [...locations.values()].map((e) => ({ sku: e.sku, location: e.location })))
  }

  private entry(sku: string, location: string): Entry {
    let locations = this.bySku.get(sku)
    if (!locations) this.bySku.set(sku, (locations = new Map()))
    let e = locations.get(location)
    if (!e) locations.set(location, (e = { sku, location, base: 0, baseTs: -Infinity, folded: 0, deltas: [], deltaSum: 0, cut: false }))
    return e
  }

  private count(e: Entry, ts: number, qty: number): void {
    if (ts < e.baseTs) return
    if (ts === e.baseTs) {
      if (qty <= e.base) return
      e.base = qty
      this.dirty.add(e)
      return
    }
    e.base = qty
    e.baseTs = ts
    e.folded = 0
    e.deltas = e.deltas.filter((d) => d.ts > ts)
    e.deltaSum = e.deltas.reduce((sum, d) => sum + d.qty, 0)
    e.cut = true
    this.dirty.add(e)
  }

  private add(e: Entry, ts: number, qty: number): void {
    if (ts <= e.baseTs) return
    if (ts < this.horizon) e.folded += qty
    else {
      e.deltas.push({ ts, qty, saved: false })
      e.deltaSum += qty
    }
    this.dirty.add(e)
  }
}

/**
 * Current on hand from the tables alone, for readers on another connection (the HTTP API); empty
 * before the ingest worker has created the tables. Filters match exactly.
 * @example readStock(db, { sku: 'SKU-0001' }) // [{ sku: 'SKU-0001', location: 'A-1-1', onHand: 42, countedAt: null }, ...]
 */
export function readStock(db: Database, filter: { sku?: string; location?: string } = {}): StockLevel[] {
  if (!hasTable(db, 'stock_on_hand')) return []
  const rows = db
    .prepare(
      `SELECT sku, location, on_hand, base_ts FROM stock_on_hand
       WHERE (@sku IS NULL OR sku = @sku) AND (@location IS NULL OR location = @location) ORDER BY sku, location`,
    )
    .all({ sku: filter.sku ?? null, location: filter.location ?? null }) as Array<Pick<Row, 'sku' | 'location' | 'on_hand' | 'base_ts'>>
  return rows.map((r) => ({ sku: r.sku, location: r.location, onHand: r.on_hand, countedAt: r.base_ts }))
}
