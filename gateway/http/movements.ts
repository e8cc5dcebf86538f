/**
 * Stock movements of a time window, from the event log: the scans whose event time falls in
 * [from, to), counted and summed by scan event (receive, putaway, pick, pack, ship, count, adjust)
 * and by SKU. What a shift report needs; the stock routes give the state, this gives the flow.
 */
import type { Database } from 'better-sqlite3'
import { z } from 'zod'
import { warehouseOf } from './deps.ts'
import { instant, integer, invalid, label, parseQuery } from './params.ts'
import type { Route } from './route.ts'

/** The longest window one request may cover. */
const MAX_WINDOW_MS = 31 * 86_400_000

const MovementsQuerySchema = z.strictObject({
  from: instant,
  to: instant.optional(),
  sku: label.optional(),
  zone: label.optional(),
  /** SKUs listed, the most moved (units) first. */
  limit: integer(1, 10_000).default(100),
})

export interface MovementTotals {
  scans: number
  units: number
}

/**
 * Scans with event time in [from, to). The event log has no time index; rows are found by rowid from
 * the arrival mark of `from` less the allowed future skew (a scan cannot arrive before its time by
 * more than that), then filtered by time, so a late scan is counted in the window of its time.
 */
export function readMovements(
  db: Database,
  q: { from: number; to: number; sku?: string; zone?: string; limit: number },
  maxFutureSkewMs: number,
): { byEvent: Record<string, MovementTotals>; bySku: Array<{ sku: string } & Record<string, MovementTotals | string>>; skus: number } {
  const minute = Math.floor((q.from - maxFutureSkewMs) / 60_000)
  const mark = db.prepare('SELECT event_id FROM marks WHERE minute <= ? ORDER BY minute DESC LIMIT 1').pluck().get(minute) as number | undefined
  const where = ['id >= ?', "kind = 'scan'", 'ts >= ?', 'ts < ?']
  const args: unknown[] = [mark ?? 0, q.from, q.to]
  if (q.sku !== undefined) (where.push('sku = ?'), args.push(q.sku))
  if (q.zone !== undefined) (where.push('zone = ?'), args.push(q.zone))
  const rows = db
    .prepare(
      `SELECT sku, json_extract(body, '$.event') AS event, count(*) AS scans, sum(json_extract(body, '$.qty')) AS units
       FROM events WHERE ${where.join(' AND ')} GROUP BY sku, event`,
    )
    .all(...args) as Array<{ sku: string; event: string; scans: number; units: number }>
  const byEvent: Record<string, MovementTotals> = {}
  const perSku = new Map<string, { moved: number; events: Record<string, MovementTotals> }>()
  for (const r of rows) {
    const e = (byEvent[r.event] ??= { scans: 0, units: 0 })
    e.scans += r.scans
    e.units += r.units
    const s = perSku.get(r.sku) ?? { moved: 0, events: {} }
    s.events[r.event] = { scans: r.scans, units: r.units }
    s.moved += Math.abs(r.units)
    perSku.set(r.sku, s)
  }
  const bySku = [...perSku.entries()]
    .sort((a, b) => b[1].moved - a[1].moved || a[0].localeCompare(b[0]))
    .slice(0, q.limit)
    .map(([sku, s]) => ({ sku, ...s.events }))
  return { byEvent, bySku, skus: perSku.size }
}

export const movementRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/v1/movements',
    access: 'viewer',
    handle: (c, deps) => {
      const q = parseQuery(c, MovementsQuerySchema)
      const to = q.to ?? deps.clock?.now() ?? Date.now()
      if (to <= q.from) throw invalid(['to: must be after from'])
      if (to - q.from > MAX_WINDOW_MS) throw invalid(['to: at most 31 days after from'])
      const { db } = warehouseOf(deps)
      const m = readMovements(db, { ...q, to }, deps.config.ingest.maxFutureSkewMs)
      return c.json({ from: new Date(q.from).toISOString(), to: new Date(to).toISOString(), ...m })
    },
  },
]
