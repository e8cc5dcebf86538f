/**
 * Daily demand per SKU, folded from the store's event log into `analytics_demand` (in the analytics
 * database, db.ts) by the analytics worker.
 *
 * Demand is what leaves the shelves: the units of `pick` and `ship` scans (receipts, putaways,
 * adjustments and counts are not demand). A day is a UTC calendar day. The same pass sums the pick
 * lines and units of each order reference (`analytics_orders`): a shipment's volume, for the
 * dispatch lead-time regression. Folding is incremental: a
 * cursor (the newest event id folded, in `analytics_state`) moves in the same transaction as the
 * sums, so a crash folds nothing twice and a late scan is added to the day it happened. The table
 * keeps `analytics.historyDays`, longer than the event log's own retention, so forecasts can be
 * fitted on two years of history while raw events are kept for one.
 */
import type { Database, Statement } from 'better-sqlite3'
import { hasTable } from '../state/sql.ts'
import { createAnalyticsTables } from './tables.ts'

export const DAY_MS = 86_400_000

/** The ledger's tables (created by the ledger; exported for the demo, which seeds history). */
export const DEMAND_DDL = `
CREATE TABLE IF NOT EXISTS analytics_demand (
  sku TEXT NOT NULL, day INTEGER NOT NULL, units REAL NOT NULL, lines INTEGER NOT NULL,
  PRIMARY KEY (sku, day)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS analytics_orders (ref TEXT PRIMARY KEY, lines INTEGER NOT NULL, units REAL NOT NULL, last_ts INTEGER NOT NULL) WITHOUT ROWID;
`

const CURSOR = 'demand_event_id'

/** The UTC day number of an epoch-ms time. */
export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS)

export class DemandLedger {
  private readonly st: Record<'scans' | 'add' | 'addOrder' | 'cursor' | 'setCursor' | 'prune' | 'pruneOrders' | 'series' | 'skus' | 'order', Statement>

  /** `events`: a connection to the store (read only here); `db`: the analytics database (written). */
  constructor(
    events: Database,
    private readonly db: Database,
  ) {
    createAnalyticsTables(db)
    db.exec(DEMAND_DDL)
    this.st = {
      scans: events.prepare(
        // Every event after the cursor (not only scans), so the cursor also moves past the others.
        `SELECT id, ts, sku, ref, CASE kind WHEN 'scan' THEN json_extract(body, '$.event') END AS event, json_extract(body, '$.qty') AS qty
         FROM events WHERE id > ? ORDER BY id LIMIT ?`,
      ),
      add: db.prepare(
        `INSERT INTO analytics_demand (sku, day, units, lines) VALUES (?, ?, ?, ?)
         ON CONFLICT (sku, day) DO UPDATE SET units = units + excluded.units, lines = lines + excluded.lines`,
      ),
      addOrder: db.prepare(
        `INSERT INTO analytics_orders (ref, lines, units, last_ts) VALUES (?, ?, ?, ?)
         ON CONFLICT (ref) DO UPDATE SET lines = lines + excluded.lines, units = units + excluded.units, last_ts = max(last_ts, excluded.last_ts)`,
      ),
      order: db.prepare('SELECT lines, units FROM analytics_orders WHERE ref = ?'),
      pruneOrders: db.prepare('DELETE FROM analytics_orders WHERE last_ts < ?'),
      cursor: db.prepare(`SELECT value FROM analytics_state WHERE key = '${CURSOR}'`).pluck(),
      setCursor: db.prepare(`INSERT OR REPLACE INTO analytics_state (key, value) VALUES ('${CURSOR}', ?)`),
      prune: db.prepare('DELETE FROM analytics_demand WHERE day < ?'),
      series: db.prepare('SELECT day, units FROM analytics_demand WHERE sku = ? AND day >= ? AND day < ? ORDER BY day'),
      skus: db.prepare('SELECT sku, min(day) AS first, max(day) AS last, sum(units) AS units FROM analytics_demand GROUP BY sku ORDER BY sku'),
    }
  }

  /** The newest event id folded so far. */
  cursor(): number {
    const v = this.st.cursor.get() as string | undefined
    return v === undefined ? 0 : Number(v)
  }

  /**
   * Fold the demand scans logged after the cursor, `chunk` events at a time: each chunk read from the
   * store, then written in one transaction of the analytics database (the sums and the cursor
   * together). This worker is the only writer of these tables, so nothing changes the cursor in
   * between. Returns the scans folded.
   */
  fold(chunk = 20_000): number {
    let total = 0
    for (;;) {
      const rows = this.st.scans.all(this.cursor(), chunk) as Array<{ id: number; ts: number; sku: string; ref: string; event: string | null; qty: number }>
      if (rows.length === 0) return total
      const sums = new Map<string, { sku: string; day: number; units: number; lines: number }>()
      const orders = new Map<string, { lines: number; units: number; last: number }>()
      let scans = 0
      for (const r of rows) {
        if (r.event !== 'pick' && r.event !== 'ship') continue
        scans++
        if (r.event === 'pick' && r.ref !== '') {
          const o = orders.get(r.ref) ?? { lines: 0, units: 0, last: r.ts }
          o.lines++
          o.units += r.qty
          o.last = Math.max(o.last, r.ts)
          orders.set(r.ref, o)
        }
        const day = dayOf(r.ts)
        const key = `${r.sku}\u0000${day}`
        const s = sums.get(key)
        if (s) {
          s.units += r.qty
          s.lines++
        } else sums.set(key, { sku: r.sku, day, units: r.qty, lines: 1 })
      }
      this.db
        .transaction(() => {
          for (const s of sums.values()) this.st.add.run(s.sku, s.day, s.units, s.lines)
          for (const [ref, o] of orders) this.st.addOrder.run(ref, o.lines, o.units, o.last)
          this.st.setCursor.run(String(rows[rows.length - 1]!.id))
        })
        .immediate()
      total += scans
      if (rows.length < chunk) return total
    }
  }

  /** Forget demand days before `day` (the history window) and orders last picked before it. */
  prune(day: number): number {
    return this.st.prune.run(day).changes + this.st.pruneOrders.run(day * DAY_MS).changes
  }

  /** Pick lines and units scanned for an order or shipment reference (0 and 0 when none). */
  order(ref: string): { lines: number; units: number } {
    return (this.st.order.get(ref) as { lines: number; units: number } | undefined) ?? { lines: 0, units: 0 }
  }

  /** SKUs with any demand, with their first and last demand day and total units. */
  skus(): Array<{ sku: string; first: number; last: number; units: number }> {
    return this.st.skus.all() as Array<{ sku: string; first: number; last: number; units: number }>
  }

  /** Units per day for days [from, to), zeros filled in. */
  series(sku: string, from: number, to: number): number[] {
    return readDemand(this.st.series, sku, from, to)
  }
}

/**
 * A reader of daily units per SKU for days [from, to), zeros where nothing was picked, for a reader
 * connection (the HTTP API); all zeros before the analytics worker has created the table.
 * @example const demand = demandReader(db); demand('SKU-1', day - 90, day)
 */
export function demandReader(db: Database): (sku: string, from: number, to: number) => number[] {
  if (!hasTable(db, 'analytics_demand')) return (_sku, from, to) => new Array<number>(Math.max(0, to - from)).fill(0)
  const st = db.prepare('SELECT day, units FROM analytics_demand WHERE sku = ? AND day >= ? AND day < ? ORDER BY day')
  return (sku, from, to) => readDemand(st, sku, from, to)
}

function readDemand(st: Statement, sku: string, from: number, to: number): number[] {
  const out = new Array<number>(Math.max(0, to - from)).fill(0)
  for (const r of st.all(sku, from, to) as Array<{ day: number; units: number }>) out[r.day - from] = r.units
  return out
}
