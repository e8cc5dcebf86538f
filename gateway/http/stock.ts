/**
 * Stock on hand per SKU: each location's on hand, the total over all locations (what the stock rules
 * compare with the policy), the SKU's policy from the SKU master and whether the total is below its
 * reorder point and safety stock. Read from the tables the ingest worker keeps current.
 */
import type { Database } from 'better-sqlite3'
import { z } from 'zod'
import { id } from '../contracts/fields.ts'
import { StockyardError } from '../core/errors.ts'
import { readSkus, type SkuRecord } from '../state/skus.ts'
import { readStock, type StockLevel as StockRow } from '../state/stock.ts'
import { warehouseOf } from './deps.ts'
import { label, parseParams, parseQuery } from './params.ts'
import type { Route } from './route.ts'

/** One SKU's stock as the API shows it. */
export interface StockLevel {
  sku: string
  /** On hand over all locations, also when the request filtered by location. */
  total: number
  /** On hand per location (only the requested one when filtered), by location. */
  locations: Array<{ location: string; onHand: number; countedAt: number | null }>
  policy: SkuRecord | null
  /** total < reorder_point and total < safety_stock; null without a policy. */
  below: { reorderPoint: boolean; safetyStock: boolean } | null
}

export const StockQuerySchema = z.strictObject({ sku: label.optional(), location: label.optional() })
const StockParams = z.object({ sku: id('SKU') })

function levelOf(sku: string, all: readonly StockRow[], shown: readonly StockRow[], policy: SkuRecord | undefined): StockLevel {
  const total = all.reduce((sum, r) => sum + r.onHand, 0)
  return {
    sku,
    total,
    locations: shown.map((r) => ({ location: r.location, onHand: r.onHand, countedAt: r.countedAt })),
    policy: policy ?? null,
    below: policy ? { reorderPoint: total < policy.reorder_point, safetyStock: total < policy.safety_stock } : null,
  }
}

/** Stock of every SKU that has stock rows or a policy, filtered like `readStock`, ordered by SKU. */
export function readStockLevels(db: Database, filter: { sku?: string; location?: string }): StockLevel[] {
  const rows = readStock(db, filter.sku === undefined ? {} : { sku: filter.sku })
  const policies = new Map(readSkus(db).map((p) => [p.sku, p]))
  const bySku = new Map<string, StockRow[]>()
  for (const r of rows) {
    const list = bySku.get(r.sku)
    if (list) list.push(r)
    else bySku.set(r.sku, [r])
  }
  // A SKU with a policy and no stock yet has 0 on hand: that is below its reorder point, worth seeing.
  if (filter.location === undefined) for (const sku of policies.keys()) if (filter.sku === undefined || filter.sku === sku) bySku.set(sku, bySku.get(sku) ?? [])
  const levels: StockLevel[] = []
  for (const [sku, all] of [...bySku].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const shown = filter.location === undefined ? all : all.filter((r) => r.location === filter.location)
    if (filter.location !== undefined && shown.length === 0) continue
    levels.push(levelOf(sku, all, shown, policies.get(sku)))
  }
  return levels
}

export const stockRoutes: Route[] = [
  {
    method: 'GET',
    path: '/api/v1/stock',
    access: 'viewer',
    handle: (c, deps) => c.json({ stock: readStockLevels(warehouseOf(deps).db, parseQuery(c, StockQuerySchema)) }),
  },
  {
    method: 'GET',
    path: '/api/v1/stock/{sku}',
    access: 'viewer',
    handle: (c, deps) => {
      const { sku } = parseParams(c, StockParams)
      const [level] = readStockLevels(warehouseOf(deps).db, { sku })
      if (!level) throw new StockyardError('not_found', `no stock and no policy for SKU ${sku}`)
      return c.json({ stock: level })
    },
  },
]
