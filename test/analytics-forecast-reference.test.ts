/**
 * The accuracy target of issue 6: on eight public series (train NAME.csv, holdout NAME.actual.csv
 * in test/fixtures/forecast/, a copy of ../shared/data/forecast/ kept in the repo so a clean clone
 * anywhere has it), `--method auto` has a mean holdout MASE no worse than R's ets()
 * (1.477) and beats seasonal naive on at least 6 of 8. Selection sees only the training part.
 * MASE is scaled by the in-sample seasonal-naive MAE (lag 1 for period 1), as reference.csv is;
 * the seasonal-naive column is recomputed here and checked against R's to pin that definition.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { mase, smape } from '../gateway/analytics/forecast/accuracy.ts'
import { forecastSeries } from '../gateway/analytics/forecast/index.ts'

const DATA = new URL('./fixtures/forecast/', import.meta.url)

/** The `value` column of a `timestamp,value` CSV. */
function values(file: string): number[] {
  const lines = readFileSync(new URL(file, DATA), 'utf8').trim().split('\n').slice(1)
  return lines.map((l) => Number(l.split(',')[1]))
}

interface Ref {
  series: string
  period: number
  h: number
  ets: number
  arima: number
  snaive: number
  etsSmape: number
}

const reference: Ref[] = readFileSync(new URL('reference.csv', DATA), 'utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => {
    const c = line.split(',')
    return { series: c[0]!, period: Number(c[1]), h: Number(c[3]), ets: Number(c[4]), arima: Number(c[5]), snaive: Number(c[6]), etsSmape: Number(c[7]) }
  })

describe('forecast accuracy on the reference series (issue 6 target)', () => {
  it('reads the eight reference series', () => {
    expect(fileURLToPath(DATA)).toMatch(/fixtures\/forecast\/$/)
    expect(reference).toHaveLength(8)
  })

  it('auto: mean MASE ≤ R ets() (1.477) and better than seasonal naive on ≥ 6 of 8', () => {
    const rows = reference.map((r) => {
      const train = values(`${r.series}.csv`)
      const actual = values(`${r.series}.actual.csv`)
      expect(actual).toHaveLength(r.h)
      const started = performance.now()
      const ours = forecastSeries(train, { period: r.period, horizon: r.h })
      const ms = performance.now() - started
      const naive = forecastSeries(train, { period: r.period, horizon: r.h, method: r.period > 1 ? 'snaive' : 'naive' })
      const snaive = mase(actual, naive.forecast, train, r.period)
      expect(snaive).toBeCloseTo(r.snaive, 9) // same MASE definition as R's
      return { ...r, method: ours.method, mase: mase(actual, ours.forecast, train, r.period), smape: smape(actual, ours.forecast), snaiveOurs: snaive, ms }
    })

    const f = (v: number): string => v.toFixed(3).padStart(7)
    const lines = [
      'series          method          MASE  sMAPE | R ets  sMAPE | R arima | snaive |  ms',
      ...rows.map(
        (r) =>
          `${r.series.padEnd(15)} ${r.method.padEnd(12)} ${f(r.mase)} ${r.smape.toFixed(2).padStart(6)} |${f(r.ets)} ${r.etsSmape.toFixed(2).padStart(6)} |${f(r.arima)} |${f(r.snaiveOurs)} | ${r.ms.toFixed(0).padStart(3)}`,
      ),
    ]
    const mean = (k: 'mase' | 'ets' | 'arima' | 'snaiveOurs' | 'smape' | 'etsSmape'): number => rows.reduce((s, r) => s + r[k], 0) / rows.length
    lines.push(
      `${'mean'.padEnd(28)} ${f(mean('mase'))} ${mean('smape').toFixed(2).padStart(6)} |${f(mean('ets'))} ${mean('etsSmape').toFixed(2).padStart(6)} |${f(mean('arima'))} |${f(mean('snaiveOurs'))} |`,
    )
    const wins = rows.filter((r) => r.mase < r.snaiveOurs).length
    lines.push(`auto beats seasonal naive on ${wins} of ${rows.length}`)
    console.log(lines.join('\n'))

    expect(mean('mase')).toBeLessThanOrEqual(1.477)
    expect(wins).toBeGreaterThanOrEqual(6)
  })
})
