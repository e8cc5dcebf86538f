/**
 * Inventory policy from a demand forecast: safety stock for a cycle service level, reorder point,
 * EOQ, days of cover, expected stock-out time and the probability of a stock-out within a horizon,
 * and a suggested policy set against the current one (the caller applies it or only shows it).
 *
 * Pure and synchronous. Units out (safety stock, reorder point, EOQ) are whole, never negative:
 * rounded up, after forgiving float noise of 1e-9 (100.0000000001 is 100). Bad input (non-finite,
 * negative, a service level outside (0, 1)) throws ForecastInputError naming every problem.
 */
import { errorFunction } from 'simple-statistics'
import { ForecastInputError, normalQuantile } from './forecast/model.ts'

const DAY_MS = 86_400_000

/** What the forecast says about daily demand over the lead time. */
export interface DemandForecast {
  /** Mean forecast demand per day over the lead time (units/day). */
  demandPerDay: number
  /** Standard deviation of the daily forecast error (units/day), e.g. the RMSE of one-step-ahead errors. */
  demandSdPerDay: number
}

export interface PolicyInput extends DemandForecast {
  /** Replenishment lead time in days. */
  leadTimeDays: number
  /** Standard deviation of the lead time in days (default 0: a fixed lead time). */
  leadTimeSdDays?: number
  /** Target cycle service level in (0, 1): the probability of no stock-out in a replenishment cycle, e.g. 0.95. */
  serviceLevel: number
  /** EOQ: cost of placing one order (S). EOQ is null unless both costs are given. */
  orderCost?: number
  /** EOQ: holding cost per unit and year (H), > 0. */
  holdingCostPerUnitYear?: number
  /** Order multiple (default 1): EOQ is rounded up to a whole number of packs. */
  packSize?: number
  /** Days per year, to turn daily demand into annual demand for EOQ (default 365). */
  daysPerYear?: number
}

/** A policy in the SKU master's terms, plus how it was derived. */
export interface InventoryPolicy {
  safety_stock: number
  reorder_point: number
  /** Economic order quantity in units, a multiple of the pack size; null without order and holding costs. */
  eoq: number | null
  basis: {
    /** Standard normal quantile of the service level (1.645 for 0.95). */
    z: number
    /** Expected demand over the lead time, d·L (not rounded). */
    leadTimeDemand: number
    /** Standard deviation of demand over the lead time, sqrt(L·σd² + d²·σL²) (not rounded). */
    sigmaLeadTime: number
  }
}

/**
 * Safety stock, reorder point and EOQ.
 *
 * - σ_LT = sqrt(L·σd² + d²·σL²): daily errors independent, lead time independent of demand.
 * - safety stock = ⌈z·σ_LT⌉ with z the normal quantile of the service level; a level below 0.5
 *   gives z < 0, and the safety stock is then 0, not negative.
 * - reorder point = ⌈d·L + z·σ_LT⌉ (with z·σ_LT floored at 0): the smallest whole stock that meets
 *   the target, so it can be one less than ⌈d·L⌉ + safety stock.
 * - EOQ = sqrt(2·D·S/H), D = d·daysPerYear, rounded up to whole packs; at least one pack when D > 0,
 *   0 when D = 0.
 * @example
 * inventoryPolicy({ demandPerDay: 10, demandSdPerDay: 3, leadTimeDays: 4, serviceLevel: 0.95 })
 * // { safety_stock: 10, reorder_point: 50, eoq: null, basis: { z: 1.645, leadTimeDemand: 40, sigmaLeadTime: 6 } }
 */
export function inventoryPolicy(input: PolicyInput): InventoryPolicy {
  check(input)
  const d = input.demandPerDay
  const L = input.leadTimeDays
  const sdL = input.leadTimeSdDays ?? 0
  const z = normalQuantile(input.serviceLevel)
  const sigmaLeadTime = Math.sqrt(L * input.demandSdPerDay ** 2 + d * d * sdL * sdL)
  const buffer = Math.max(0, z * sigmaLeadTime)
  const eoqUnits =
    input.orderCost !== undefined && input.holdingCostPerUnitYear !== undefined
      ? eoq({
          annualDemand: d * (input.daysPerYear ?? 365),
          orderCost: input.orderCost,
          holdingCost: input.holdingCostPerUnitYear,
          packSize: input.packSize ?? 1,
        })
      : null
  return {
    safety_stock: wholeUnits(buffer),
    reorder_point: wholeUnits(d * L + buffer),
    eoq: eoqUnits,
    basis: { z, leadTimeDemand: d * L, sigmaLeadTime },
  }
}

/**
 * Economic order quantity sqrt(2·D·S/H), rounded up to whole packs (at least one when D > 0).
 * @example
 * eoq({ annualDemand: 1200, orderCost: 50, holdingCost: 2 }) // 245 (√60000 = 244.9)
 * eoq({ annualDemand: 1200, orderCost: 50, holdingCost: 2, packSize: 12 }) // 252
 */
export function eoq(p: { annualDemand: number; orderCost: number; holdingCost: number; packSize?: number }): number {
  const pack = p.packSize ?? 1
  const problems = [
    nonNegative('annualDemand', p.annualDemand),
    nonNegative('orderCost', p.orderCost),
    p.holdingCost > 0 && Number.isFinite(p.holdingCost) ? null : `holdingCost ${p.holdingCost} must be a finite number > 0`,
    Number.isInteger(pack) && pack >= 1 ? null : `packSize ${pack} must be a whole number ≥ 1`,
  ]
  fail(problems)
  if (p.annualDemand === 0) return 0
  const q = Math.sqrt((2 * p.annualDemand * p.orderCost) / p.holdingCost)
  return Math.max(1, wholeUnits(q / pack)) * pack
}

/**
 * Days the stock on hand lasts at the forecast daily demand: onHand / demandPerDay. 0 when nothing
 * is on hand; null when demand is 0 (it never runs out at that forecast; JSON has no Infinity).
 */
export function daysOfCover(onHand: number, demandPerDay: number): number | null {
  fail([finite('onHand', onHand), nonNegative('demandPerDay', demandPerDay)])
  if (onHand <= 0) return 0
  return demandPerDay > 0 ? onHand / demandPerDay : null
}

/**
 * Expected time until stock-out, in ms from now: walks the daily forecast from now until cumulative
 * demand reaches `onHand`, interpolating linearly within the day it happens. `demand` is the daily
 * path (entry 0 = the next 24 h) or one constant daily rate (no limit then). 0 when nothing is on
 * hand; null when the path ends (or the rate is 0) before the stock runs out.
 * @example
 * stockoutTime(15, [10, 10, 10]) // 1.5 days = 129_600_000
 */
export function stockoutTime(onHand: number, demand: number | readonly number[], dayMs = DAY_MS): number | null {
  fail([finite('onHand', onHand), ...checkDemand(demand)])
  if (onHand <= 0) return 0
  if (typeof demand === 'number') return demand > 0 ? (onHand / demand) * dayMs : null
  let cumulative = 0
  for (let day = 0; day < demand.length; day++) {
    const f = demand[day]!
    if (f > 0 && cumulative + f >= onHand) return (day + (onHand - cumulative) / f) * dayMs
    cumulative += f
  }
  return null
}

/**
 * Probability that demand over the next `horizonDays` exceeds `onHand`, in [0, 1].
 *
 * Normal approximation: demand over H days ~ N(μ_H, σd²·H), with μ_H the forecast summed over H
 * (a fractional last day counts pro rata; past the end of a path its last value repeats). The
 * variance grows linearly with H, which assumes independent daily errors: with autocorrelated
 * errors (a drifting level) the true spread grows faster and this understates the risk at long
 * horizons. σd = 0 gives 0 or 1. Nothing on hand: 1 if any demand is expected, else 0.
 * @example
 * stockoutProbability(100, { demandPerDay: 10, demandSdPerDay: 5 }, 9) // P(Z > 10/15) ≈ 0.25
 */
export function stockoutProbability(
  onHand: number,
  forecast: { demandPerDay: number | readonly number[]; demandSdPerDay: number },
  horizonDays: number,
): number {
  fail([
    finite('onHand', onHand),
    ...checkDemand(forecast.demandPerDay),
    nonNegative('demandSdPerDay', forecast.demandSdPerDay),
    nonNegative('horizonDays', horizonDays),
  ])
  const mu = demandOver(forecast.demandPerDay, horizonDays)
  const sd = forecast.demandSdPerDay * Math.sqrt(horizonDays)
  if (sd === 0 || onHand <= 0) return mu > Math.max(0, onHand) ? 1 : 0
  const p = 0.5 * (1 - errorFunction((onHand - mu) / (sd * Math.SQRT2)))
  return Math.min(1, Math.max(0, p))
}

/** The reorder point and safety stock in force now, as in the SKU master. */
export interface CurrentPolicy {
  reorder_point: number
  safety_stock: number
}

export interface PolicySuggestion {
  sku: string
  /** null when the SKU has no policy yet. */
  current: CurrentPolicy | null
  suggested: { reorder_point: number; safety_stock: number; eoq: number | null }
  /** suggested − current, and the reorder point change as a share of the current one (null when that is 0); null without a current policy. */
  change: { reorder_point: number; safety_stock: number; reorder_point_share: number | null } | null
  basis: InventoryPolicy['basis'] & { serviceLevel: number }
}

/**
 * The policy the forecast calls for, next to the current one. Deciding whether to apply it
 * (`analytics.policy: apply`) or only show it is the caller's business.
 */
export function suggestPolicy(sku: string, current: CurrentPolicy | null | undefined, input: PolicyInput): PolicySuggestion {
  const p = inventoryPolicy(input)
  const suggested = { reorder_point: p.reorder_point, safety_stock: p.safety_stock, eoq: p.eoq }
  const change = current
    ? {
        reorder_point: p.reorder_point - current.reorder_point,
        safety_stock: p.safety_stock - current.safety_stock,
        reorder_point_share: current.reorder_point > 0 ? (p.reorder_point - current.reorder_point) / current.reorder_point : null,
      }
    : null
  return { sku, current: current ?? null, suggested, change, basis: { ...p.basis, serviceLevel: input.serviceLevel } }
}

/** Expected demand over `days`: a constant rate times days, or the path summed with a pro-rata last day. */
function demandOver(demand: number | readonly number[], days: number): number {
  if (typeof demand === 'number') return demand * days
  if (demand.length === 0) return 0
  let total = 0
  for (let day = 0; day < Math.ceil(days); day++) total += (demand[Math.min(day, demand.length - 1)] ?? 0) * Math.min(1, days - day)
  return total
}

/** Rounds up to whole units, forgiving float noise, never below 0. */
function wholeUnits(x: number): number {
  return Math.max(0, Math.ceil(x - 1e-9 * Math.max(1, Math.abs(x))))
}

function check(i: PolicyInput): void {
  fail([
    nonNegative('demandPerDay', i.demandPerDay),
    nonNegative('demandSdPerDay', i.demandSdPerDay),
    nonNegative('leadTimeDays', i.leadTimeDays),
    nonNegative('leadTimeSdDays', i.leadTimeSdDays ?? 0),
    i.serviceLevel > 0 && i.serviceLevel < 1 ? null : `serviceLevel ${i.serviceLevel} must be in (0, 1), e.g. 0.95`,
    i.orderCost === undefined ? null : nonNegative('orderCost', i.orderCost),
    i.holdingCostPerUnitYear === undefined || (i.holdingCostPerUnitYear > 0 && Number.isFinite(i.holdingCostPerUnitYear))
      ? null
      : `holdingCostPerUnitYear ${i.holdingCostPerUnitYear} must be a finite number > 0`,
    i.packSize === undefined || (Number.isInteger(i.packSize) && i.packSize >= 1) ? null : `packSize ${i.packSize} must be a whole number ≥ 1`,
    i.daysPerYear === undefined || (i.daysPerYear > 0 && Number.isFinite(i.daysPerYear)) ? null : `daysPerYear ${i.daysPerYear} must be > 0`,
  ])
}

function checkDemand(demand: number | readonly number[]): (string | null)[] {
  if (typeof demand === 'number') return [nonNegative('demand', demand)]
  const bad = demand.findIndex((x) => !(Number.isFinite(x) && x >= 0))
  return [bad < 0 ? null : `demand[${bad}] ${demand[bad]} must be a finite number ≥ 0`]
}

function finite(name: string, x: number): string | null {
  return Number.isFinite(x) ? null : `${name} ${x} must be a finite number`
}

function nonNegative(name: string, x: number): string | null {
  return Number.isFinite(x) && x >= 0 ? null : `${name} ${x} must be a finite number ≥ 0`
}

function fail(problems: readonly (string | null)[]): void {
  const list = problems.filter((p): p is string => p !== null)
  if (list.length > 0) throw new ForecastInputError(list.join('; '))
}
