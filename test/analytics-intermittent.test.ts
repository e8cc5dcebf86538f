/**
 * Croston, SBA and TSB against a moving average on simulated intermittent SKUs, scored against the
 * simulator's ground truth (simulators/demand.ts): the true expected daily demand is known, so a
 * forecast's error against it is the forecasting error alone, without the demand's own noise.
 *
 * 200 SKUs: dayChance 0.05..0.5 × perDay 0.2..10 × 8 seeds, the warehouse simulator's default
 * weekly shape and lines. Fit on 365 days, forecast the next 28. Per SKU, errors are divided by the
 * SKU's true mean demand over the horizon, then averaged over SKUs:
 * - relMAE: mean |forecast − truth| / mean truth;
 * - relBias: mean (forecast − truth) / mean truth (> 0: over-forecasts);
 * - MASE: MAE against the realised demand, scaled by the in-sample naive MAE.
 * Every method here forecasts flat, and the truth has the weekly shape, so relMAE has a floor: the
 * table's 'oracle flat' row, the true horizon mean used as the forecast.
 */
import { describe, expect, it } from 'vitest'
import { croston, sba, tsb } from '../gateway/analytics/forecast/intermittent.ts'
import type { ForecastModel } from '../gateway/analytics/forecast/model.ts'
import { movingAverage } from '../gateway/analytics/forecast/naive.ts'
import { dailyDemand, demandSpec } from '../simulators/demand.ts'

const TRAIN = 365
const H = 28
const models: ForecastModel[] = [croston, sba, tsb, movingAverage]

interface Sku {
  dayChance: number
  train: number[]
  actual: number[]
  truth: number[]
}

function skus(): Sku[] {
  const out: Sku[] = []
  for (const dayChance of [0.05, 0.1, 0.2, 0.3, 0.5]) {
    for (const perDay of [0.2, 0.5, 1, 3, 10]) {
      for (let rep = 0; rep < 8; rep++) {
        const spec = demandSpec({ perDay, pattern: 'intermittent', dayChance })
        const { units, expected } = dailyDemand(spec, TRAIN + H, { seed: 1000 * rep + Math.round(dayChance * 100) * 37 + perDay * 10 })
        out.push({ dayChance, train: units.slice(0, TRAIN), actual: units.slice(TRAIN), truth: expected.slice(TRAIN) })
      }
    }
  }
  return out
}

interface Score {
  relMae: number
  relBias: number
  mase: number
  /** SKUs on which this method had the least relMAE. */
  wins: number
}

function score(data: Sku[]): Map<string, Score> {
  const out = new Map(models.map((m) => [m.name, { relMae: 0, relBias: 0, mase: 0, wins: 0 }]))
  for (const s of data) {
    const truthMean = s.truth.reduce((a, b) => a + b, 0) / H
    let naiveMae = 0
    for (let t = 1; t < TRAIN; t++) naiveMae += Math.abs(s.train[t]! - s.train[t - 1]!) / (TRAIN - 1)
    let best = ''
    let bestMae = Infinity
    for (const m of models) {
      const f = m.fit({ y: s.train, period: 7 }).forecast(H, [80, 95]).mean
      const sc = out.get(m.name)!
      const relMae = f.reduce((a, v, i) => a + Math.abs(v - s.truth[i]!), 0) / H / truthMean
      sc.relMae += relMae / data.length
      sc.relBias += f.reduce((a, v, i) => a + v - s.truth[i]!, 0) / H / truthMean / data.length
      sc.mase += f.reduce((a, v, i) => a + Math.abs(v - s.actual[i]!), 0) / H / Math.max(naiveMae, 1e-9) / data.length
      if (relMae < bestMae) {
        bestMae = relMae
        best = m.name
      }
    }
    out.get(best)!.wins++
  }
  return out
}

const round = (v: number): number => Math.round(v * 1000) / 1000

describe('intermittent methods against the simulated ground truth', () => {
  const data = skus()
  const all = score(data)

  it('prints the score table (200 SKUs, 365 days fitted, 28 forecast)', () => {
    const rows = [...all].map(([method, s]) => ({ method, relMAE: round(s.relMae), relBias: round(s.relBias), MASE: round(s.mase), wins: s.wins }))
    // The best any flat forecast can do: the true mean over the horizon (the rest is the weekly shape).
    const floor = data.reduce((a, s) => {
      const mu = s.truth.reduce((x, y) => x + y, 0) / H
      return a + s.truth.reduce((x, v) => x + Math.abs(mu - v), 0) / H / mu / data.length
    }, 0)
    console.log('Intermittent SKUs: forecast vs true expected demand (relMAE, relBias) and vs realised (MASE)')
    console.table([...rows, { method: 'oracle flat (true mean)', relMAE: round(floor), relBias: 0, MASE: NaN, wins: NaN }])
    const byChance = [0.05, 0.1, 0.2, 0.3, 0.5].map((dc) => {
      const sub = score(data.filter((s) => s.dayChance === dc))
      return { dayChance: dc, ...Object.fromEntries([...sub].map(([m, s]) => [m, round(s.relMae)])) }
    })
    console.log('relMAE vs truth by dayChance')
    console.table(byChance)
    expect(rows).toHaveLength(4)
  })

  it("Croston over-forecasts and SBA's correction shrinks the bias (Syntetos & Boylan 2005)", () => {
    expect(all.get('croston')!.relBias).toBeGreaterThan(0)
    expect(Math.abs(all.get('sba')!.relBias)).toBeLessThan(Math.abs(all.get('croston')!.relBias))
  })

  it('the best of Croston, SBA and TSB beats the moving average against the truth', () => {
    const best = Math.min(...['croston', 'sba', 'tsb'].map((m) => all.get(m)!.relMae))
    expect(best).toBeLessThan(all.get('ma')!.relMae)
  })
})
