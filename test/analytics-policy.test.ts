/**
 * Inventory policy (gateway/analytics/policy.ts): safety stock, reorder point and EOQ against hand
 * computations, days of cover, the stock-out time walk, the stock-out probability under its normal
 * approximation, the suggestion against a current policy, and bad input.
 */
import { describe, expect, it } from 'vitest'
import { ForecastInputError } from '../gateway/analytics/forecast/model.ts'
import { daysOfCover, eoq, inventoryPolicy, stockoutProbability, stockoutTime, suggestPolicy, type PolicyInput } from '../gateway/analytics/policy.ts'

const DAY = 86_400_000
const base: PolicyInput = { demandPerDay: 10, demandSdPerDay: 3, leadTimeDays: 4, serviceLevel: 0.95 }

describe('safety stock and reorder point', () => {
  it('sizes safety stock as z·σ_LT with z = 1.645 for 95 %', () => {
    // σ_LT = sqrt(4 · 3²) = 6; 1.6449 · 6 = 9.87 → 10; reorder point ⌈40 + 9.87⌉ = 50.
    const p = inventoryPolicy(base)
    expect(p.basis.z).toBeCloseTo(1.645, 3)
    expect(p.basis.sigmaLeadTime).toBe(6)
    expect(p.basis.leadTimeDemand).toBe(40)
    expect(p.safety_stock).toBe(10)
    expect(p.reorder_point).toBe(50)
    expect(p.eoq).toBeNull()
  })

  it('adds lead-time variability: σ_LT = sqrt(L·σd² + d²·σL²)', () => {
    // sqrt(9 · 25 + 400 · 4) = sqrt(1825) = 42.72; · 1.6449 = 70.27 → 71; ⌈180 + 70.27⌉ = 251.
    const p = inventoryPolicy({ demandPerDay: 20, demandSdPerDay: 5, leadTimeDays: 9, leadTimeSdDays: 2, serviceLevel: 0.95 })
    expect(p.basis.sigmaLeadTime).toBeCloseTo(Math.sqrt(1825), 12)
    expect(p.safety_stock).toBe(71)
    expect(p.reorder_point).toBe(251)
  })

  it('grows with the service level', () => {
    // z(0.99) = 2.326: 2.326 · 6 = 13.96 → 14.
    expect(inventoryPolicy({ ...base, serviceLevel: 0.99 }).safety_stock).toBe(14)
  })

  it('never goes negative below a 50 % service level', () => {
    const p = inventoryPolicy({ ...base, serviceLevel: 0.3 })
    expect(p.basis.z).toBeLessThan(0)
    expect(p.safety_stock).toBe(0)
    expect(p.reorder_point).toBe(40)
  })

  it('forgives float noise when rounding up (0.07 · 100 = 7.000000000000001 is 7)', () => {
    expect(0.07 * 100).toBeGreaterThan(7)
    expect(inventoryPolicy({ demandPerDay: 0.07, demandSdPerDay: 0, leadTimeDays: 100, serviceLevel: 0.95 }).reorder_point).toBe(7)
  })

  it('gives zeros for no demand and no error', () => {
    expect(
      inventoryPolicy({ demandPerDay: 0, demandSdPerDay: 0, leadTimeDays: 5, serviceLevel: 0.95, orderCost: 50, holdingCostPerUnitYear: 2 }),
    ).toMatchObject({
      safety_stock: 0,
      reorder_point: 0,
      eoq: 0,
    })
  })

  it('names every bad field in one ForecastInputError', () => {
    const bad = { demandPerDay: Number.NaN, demandSdPerDay: -1, leadTimeDays: 4, serviceLevel: 1 }
    expect(() => inventoryPolicy(bad)).toThrow(ForecastInputError)
    expect(() => inventoryPolicy(bad)).toThrow(/demandPerDay NaN.*demandSdPerDay -1.*serviceLevel 1 must be in \(0, 1\)/)
    expect(() => inventoryPolicy({ ...base, leadTimeDays: -2 })).toThrow(/leadTimeDays -2/)
    expect(() => inventoryPolicy({ ...base, packSize: 2.5 })).toThrow(/packSize 2.5/)
  })
})

describe('EOQ', () => {
  it('is sqrt(2·D·S/H) rounded up: sqrt(2·1200·50/2) = 244.9 → 245', () => {
    expect(eoq({ annualDemand: 1200, orderCost: 50, holdingCost: 2 })).toBe(245)
  })

  it('rounds up to whole packs: 244.9 / 12 → 21 packs = 252', () => {
    expect(eoq({ annualDemand: 1200, orderCost: 50, holdingCost: 2, packSize: 12 })).toBe(252)
  })

  it('is part of the policy when both costs are given, from daily demand', () => {
    expect(inventoryPolicy({ ...base, demandPerDay: 1200 / 365, orderCost: 50, holdingCostPerUnitYear: 2 }).eoq).toBe(245)
    expect(inventoryPolicy({ ...base, demandPerDay: 100, daysPerYear: 12, orderCost: 50, holdingCostPerUnitYear: 2 }).eoq).toBe(245)
  })

  it('is 0 without demand and one pack when ordering is free', () => {
    expect(eoq({ annualDemand: 0, orderCost: 50, holdingCost: 2 })).toBe(0)
    expect(eoq({ annualDemand: 1200, orderCost: 0, holdingCost: 2, packSize: 6 })).toBe(6)
  })

  it('rejects a holding cost of 0 (EOQ would be infinite)', () => {
    expect(() => eoq({ annualDemand: 1200, orderCost: 50, holdingCost: 0 })).toThrow(/holdingCost 0/)
  })
})

describe('days of cover', () => {
  it('is on hand over daily demand', () => {
    expect(daysOfCover(100, 8)).toBe(12.5)
  })

  it('is null when demand is 0 and 0 when nothing is on hand', () => {
    expect(daysOfCover(100, 0)).toBeNull()
    expect(daysOfCover(0, 5)).toBe(0)
    expect(daysOfCover(-3, 5)).toBe(0)
  })

  it('rejects non-finite input', () => {
    expect(() => daysOfCover(Number.NaN, 5)).toThrow(ForecastInputError)
  })
})

describe('stock-out time', () => {
  it('interpolates within the day the stock runs out', () => {
    expect(stockoutTime(15, [10, 10, 10])).toBe(1.5 * DAY)
  })

  it('walks past days without demand', () => {
    // 10, then 0, then 10 (20 < 25), then half of day 3.
    expect(stockoutTime(25, [10, 0, 10, 10])).toBe(3.5 * DAY)
  })

  it('lands on a day boundary when demand matches on hand exactly', () => {
    expect(stockoutTime(20, [10, 10, 10])).toBe(2 * DAY)
  })

  it('is null when the path ends first, or demand is 0', () => {
    expect(stockoutTime(100, [10, 10])).toBeNull()
    expect(stockoutTime(100, 0)).toBeNull()
    expect(stockoutTime(100, [])).toBeNull()
  })

  it('takes a constant daily rate and a day length', () => {
    expect(stockoutTime(30, 10)).toBe(3 * DAY)
    expect(stockoutTime(15, [10, 10], 1000)).toBe(1500)
  })

  it('is 0 with nothing on hand, and rejects NaN in the path', () => {
    expect(stockoutTime(0, [10])).toBe(0)
    expect(() => stockoutTime(10, [1, Number.NaN])).toThrow(/demand\[1\] NaN/)
  })
})

describe('stock-out probability', () => {
  it('is P(N(d·H, σ²·H) > on hand)', () => {
    // μ 90, σ 5·3 = 15: P(Z > 10/15) = 0.25249.
    expect(stockoutProbability(100, { demandPerDay: 10, demandSdPerDay: 5 }, 9)).toBeCloseTo(0.25249, 4)
  })

  it('rises with the horizon', () => {
    const p = [3, 6, 9, 12].map((h) => stockoutProbability(100, { demandPerDay: 10, demandSdPerDay: 5 }, h))
    expect(p[0]).toBeLessThan(p[1]!)
    expect(p[1]).toBeLessThan(p[2]!)
    expect(p[2]).toBeLessThan(p[3]!)
    expect(p[3]).toBeGreaterThan(0.5)
  })

  it('is 0 or 1 without forecast error', () => {
    expect(stockoutProbability(100, { demandPerDay: 10, demandSdPerDay: 0 }, 9)).toBe(0)
    expect(stockoutProbability(100, { demandPerDay: 10, demandSdPerDay: 0 }, 11)).toBe(1)
    expect(stockoutProbability(100, { demandPerDay: 10, demandSdPerDay: 5 }, 0)).toBe(0)
  })

  it('is 1 with nothing on hand and demand expected, else 0', () => {
    expect(stockoutProbability(0, { demandPerDay: 1, demandSdPerDay: 5 }, 2)).toBe(1)
    expect(stockoutProbability(0, { demandPerDay: 0, demandSdPerDay: 5 }, 2)).toBe(0)
  })

  it('sums a daily path with a pro-rata last day, repeating its last value', () => {
    // 5 + 5 + 0.5 · 20 = 20 = on hand: even odds.
    expect(stockoutProbability(20, { demandPerDay: [5, 5, 20, 20], demandSdPerDay: 3 }, 2.5)).toBeCloseTo(0.5, 6)
    // 5 + 5 + 20 · 4 = 90 > 89 with no error.
    expect(stockoutProbability(89, { demandPerDay: [5, 5, 20], demandSdPerDay: 0 }, 6)).toBe(1)
    expect(stockoutProbability(90, { demandPerDay: [5, 5, 20], demandSdPerDay: 0 }, 6)).toBe(0)
  })

  it('rejects a negative horizon', () => {
    expect(() => stockoutProbability(10, { demandPerDay: 1, demandSdPerDay: 1 }, -1)).toThrow(/horizonDays -1/)
  })
})

describe('policy suggestion', () => {
  it('sets the suggested policy against the current one', () => {
    const s = suggestPolicy('SKU-0042', { reorder_point: 40, safety_stock: 5 }, { ...base, orderCost: 50, holdingCostPerUnitYear: 2, demandPerDay: 10 })
    expect(s.sku).toBe('SKU-0042')
    expect(s.current).toEqual({ reorder_point: 40, safety_stock: 5 })
    expect(s.suggested).toEqual({ reorder_point: 50, safety_stock: 10, eoq: 428 }) // sqrt(2·3650·50/2) = 427.2
    expect(s.change).toEqual({ reorder_point: 10, safety_stock: 5, reorder_point_share: 0.25 })
    expect(s.basis.serviceLevel).toBe(0.95)
  })

  it('has no change without a current policy, and no share from a reorder point of 0', () => {
    expect(suggestPolicy('a', undefined, base).change).toBeNull()
    expect(suggestPolicy('a', null, base).current).toBeNull()
    expect(suggestPolicy('a', { reorder_point: 0, safety_stock: 0 }, base).change?.reorder_point_share).toBeNull()
  })
})
