/**
 * Stock correctness through the real ingest path: 10,000 random scans, some sent twice (same seq and
 * ts, as a device resends after a lost PUBACK), delivered shuffled in random batches with a restart in
 * the middle, leave on-hand stock equal to a plain fold of the distinct scans in time order.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readStock } from '../gateway/state/stock.ts'
import { openRuleHarness } from './helpers/rules.ts'

const SKUS = ['SKU-1', 'SKU-2', 'SKU-3']
const LOCS = ['A-1', 'A-2', 'DOCK-1']
const EVENTS = ['receive', 'putaway', 'pick', 'pack', 'ship', 'count', 'adjust'] as const
const DAY = 86_400_000

interface Scan {
  seq: number
  ts: number
  event: (typeof EVENTS)[number]
  sku: string
  qty: number
  location: string
  from?: string
}

/** The obvious fold: distinct scans by time; count sets, everything else moves. Ties cannot happen (distinct ts). */
function fold(scans: readonly Scan[]): Map<string, number> {
  const stock = new Map<string, number>()
  const add = (sku: string, loc: string, d: number): void => void stock.set(`${sku}|${loc}`, (stock.get(`${sku}|${loc}`) ?? 0) + d)
  for (const s of [...scans].sort((a, b) => a.ts - b.ts)) {
    if (s.event === 'count') stock.set(`${s.sku}|${s.location}`, s.qty)
    else if (s.event === 'receive' || s.event === 'adjust') add(s.sku, s.location, s.qty)
    else if (s.event === 'putaway') {
      add(s.sku, s.location, s.qty)
      if (s.from) add(s.sku, s.from, -s.qty)
    } else if (s.event === 'pick' || s.event === 'ship') add(s.sku, s.location, -s.qty)
  }
  return stock
}

const scanArb = fc.record({
  event: fc.constantFrom(...EVENTS),
  sku: fc.constantFrom(...SKUS),
  location: fc.constantFrom(...LOCS),
  from: fc.option(fc.constantFrom(...LOCS), { nil: undefined }),
  qty: fc.integer({ min: 0, max: 50 }),
  negative: fc.boolean(),
})

describe('stock through ingest (fast-check)', () => {
  it('equals a plain fold of the distinct scans, whatever the order, duplicates and restarts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(scanArb, { minLength: 10_000, maxLength: 10_000 }),
        fc.array(fc.nat(), { minLength: 10_000, maxLength: 10_000 }),
        fc.double({ min: 0, max: 0.2, noNaN: true }),
        fc.integer({ min: 1, max: 500 }),
        fc.nat(),
        async (raw, keys, dupRate, batch, restartAt) => {
          const h = await openRuleHarness({ rules: 'version: 1\nrules: []\n' })
          try {
            const now = h.clock.now()
            // Distinct times spread over six days (inside the accepted past age), in a random order.
            const scans: Scan[] = raw.map((r, i) => {
              const s: Scan = { seq: i, ts: now - 6 * DAY + i * 50_000, event: r.event, sku: r.sku, location: r.location, qty: r.qty }
              if (r.event === 'adjust' && r.negative) s.qty = -r.qty
              if (r.event === 'putaway' && r.from !== undefined && r.from !== r.location) s.from = r.from
              return s
            })
            const sent = scans.flatMap((s, i) => ((keys[i]! % 1000) / 1000 < dupRate ? [s, s] : [s]))
            const order = sent.map((s, i) => ({ s, k: keys[i % keys.length]! ^ (i * 2654435761) })).sort((a, b) => a.k - b.k)
            const restart = restartAt % order.length
            for (let i = 0; i < order.length; i += batch) {
              if (restart >= i && restart < i + batch) await h.restart()
              h.publishMany(
                'scan-1',
                'scan',
                order.slice(i, i + batch).map(({ s }) => s),
              )
            }
            const expected = fold(scans)
            const actual = new Map(readStock(h.store.db).map((l) => [`${l.sku}|${l.location}`, l.onHand]))
            for (const [key, v] of expected) expect(actual.get(key) ?? 0, key).toBe(v)
            for (const [key, v] of actual) expect(expected.get(key) ?? 0, key).toBe(v)
          } finally {
            await h.close()
          }
        },
      ),
      { numRuns: 3 },
    )
  }, 120_000)
})
