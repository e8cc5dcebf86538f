/**
 * Daily demand series from the warehouse simulator's pick process, with its ground truth: a pure
 * generator for forecasting tests and benchmarks that need to know the true mean demand.
 *
 * The process is the one `WarehouseModel.demandIn` (simulators/model.ts) runs step by step:
 * - intermittent SKUs have demand on a day with probability `dayChance` (fast/slow: every day);
 * - in a step starting at time s, pick lines ~ Poisson(λ(s) / lineMean) with
 *   λ(s) = perDay · (1/dayChance if intermittent) · weekly[weekday] / mean(weekly) · promotion(s)
 *          · (1 + trend · days since start) · hourShare[UTC hour] · step / 1 h;
 * - each line takes 1 + Poisson(lineMean − 1) units (Random's Poisson: a rounded normal above 30).
 * A day's lines are the sum of its steps' Poisson counts, so they are drawn at once as
 * Poisson(Σλ / lineMean), and the day's units as lines + Poisson(lines · (lineMean − 1)): the same
 * distribution as the model's, from fewer draws (so not the same numbers as a simulator run).
 *
 * Ground truth: `expected[d]` = E[units on day d] = Σλ(s) over the day's steps with demand, times
 * dayChance for intermittent SKUs (so the day-chance factors cancel: the mean is perDay shaped by
 * week, trend and promotions). Day d is [start + d·24 h, start + (d+1)·24 h), as in the model.
 */
import { dailyShape } from './model.ts'
import { Random } from './random.ts'
import type { z } from 'zod'
import { ScenarioSchema, type SkuSpec } from './scenario.ts'

export type DemandSpec = SkuSpec['demand']
const demandSchema = ScenarioSchema.shape.skus.element.shape.demand

const HOUR = 3_600_000
const DAY = 24 * HOUR

/** A demand spec with the scenario file's defaults filled in (throws a zod error on bad fields). */
export function demandSpec(input: z.input<typeof demandSchema>): DemandSpec {
  return demandSchema.parse(input)
}

export interface DemandOptions {
  /** Seed of the generator (same seed, same series). */
  seed: number
  /** First day's start, epoch ms (default 2024-01-01T00:00Z, a Monday). */
  start?: number
  /** The model's step in ms (the scenario's `step`, default 60 s). */
  step?: number
}

export interface DailyDemand {
  /** Realised units per day. */
  units: number[]
  /** Ground truth: the expected units per day under the process. */
  expected: number[]
}

/**
 * `days` days of demand for one SKU.
 * @example dailyDemand(demandSpec({ perDay: 2, pattern: 'intermittent', dayChance: 0.2 }), 730, { seed: 7 })
 */
export function dailyDemand(spec: DemandSpec, days: number, opts: DemandOptions): DailyDemand {
  const start = opts.start ?? Date.UTC(2024, 0, 1)
  const step = opts.step ?? 60_000
  const rnd = new Random(opts.seed)
  const shape = dailyShape(spec.hours)
  const weeklyMean = spec.weekly.reduce((a, b) => a + b, 0) / 7
  const intermittent = spec.pattern === 'intermittent'
  const chance = intermittent ? spec.dayChance : 1
  const dayShare = intermittent ? (spec.dayChance > 0 ? 1 / spec.dayChance : 0) : 1
  const promoAt = (since: number): number => spec.promotions.filter((p) => since >= p.from && since < p.to).reduce((f, p) => f * p.factor, 1)
  const boundaries = spec.promotions.flatMap((p) => [p.from, p.to])
  // Σλ over the steps in [from, to), as demandIn computes it: clock values from each step's start.
  const rate = (s: number): number => {
    const since = s - start
    const weekday = (Math.floor(s / DAY) + 3) % 7 // epoch day 0 was a Thursday; Monday first
    const hour = Math.floor(s / HOUR) % 24
    return spec.perDay * dayShare * (spec.weekly[weekday]! / weeklyMean) * promoAt(since) * (1 + spec.trend * (since / DAY)) * shape[hour]! * (step / HOUR)
  }
  const aligned = HOUR % step === 0 && start % step === 0
  const sumRate = (from: number, to: number): number => {
    let total = 0
    let s = from
    while (s < to) {
      const hourEnd = Math.min(to, (Math.floor(s / HOUR) + 1) * HOUR)
      const k = Math.ceil((hourEnd - s) / step)
      const plain = aligned && !boundaries.some((b) => b > s - start && b < s - start + k * step)
      if (plain && shape[Math.floor(s / HOUR) % 24] === 0) s += k * step
      else if (plain) {
        // λ is linear in the step's start within an hour block: k steps at their mean start.
        const mid = s + ((k - 1) * step) / 2
        total += k * Math.max(0, rate(mid))
        s += k * step
      } else {
        total += Math.max(0, rate(s))
        s += step
      }
    }
    return total
  }
  const units: number[] = []
  const expected: number[] = []
  for (let d = 0; d < days; d++) {
    const from = start + d * DAY
    const first = from + ((step - ((from - start) % step)) % step)
    const lambda = sumRate(first, from + DAY)
    expected.push(chance * lambda)
    if (intermittent && !rnd.chance(spec.dayChance)) {
      units.push(0)
      continue
    }
    const lines = rnd.poisson(lambda / spec.lineMean)
    units.push(lines === 0 ? 0 : lines + rnd.poisson(lines * (spec.lineMean - 1)))
  }
  return { units, expected }
}
