/**
 * `stockyard forecast`, run as a real child process: the contract others build on (one JSON object
 * on stdout with method, forecast, lower/upper per level and fit), and every kind of bad input
 * (empty series, constant series, NaN, too short for the season, negative horizon) answered with a
 * clear error or the documented fallback, never a stack trace or a NaN.
 */
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from './helpers/gateway.ts'
import { runCli } from './helpers/proc-stockyard.ts'

const DATA = new URL('./fixtures/forecast/', import.meta.url).pathname

interface Output {
  method: string
  forecast: number[]
  lower: Record<string, number[]>
  upper: Record<string, number[]>
  fit: { aicc?: number; sigma2: number }
  note?: string
}

let dir: string
beforeAll(() => {
  dir = tempDir('stockyard-forecast-')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function csv(name: string, values: Array<number | string>): string {
  const file = join(dir, name)
  writeFileSync(file, ['timestamp,value', ...values.map((v, i) => `2025-01-${String(i + 1).padStart(2, '0')},${v}`)].join('\n') + '\n')
  return file
}

async function forecast(args: string[]): Promise<Output> {
  const r = await runCli(['forecast', ...args])
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  // One JSON object on stdout, nothing else.
  return JSON.parse(r.stdout) as Output
}

function expectFinite(o: Output): void {
  for (const xs of [o.forecast, ...Object.values(o.lower), ...Object.values(o.upper)]) for (const v of xs) expect(Number.isFinite(v)).toBe(true)
}

describe('stockyard forecast', () => {
  it('prints the contract for a seasonal series: H numbers, 80/95 bounds around them, the AICc of the fit', async () => {
    const o = await forecast(['--input', join(DATA, 'AirPassengers.csv'), '--horizon', '24', '--period', '12'])
    expect(o.method).toMatch(/^ets\(/)
    expect(o.forecast).toHaveLength(24)
    expect(Object.keys(o.lower).sort()).toEqual(['80', '95'])
    for (let i = 0; i < 24; i++) {
      expect(o.lower['95']![i]).toBeLessThan(o.lower['80']![i]!)
      expect(o.lower['80']![i]).toBeLessThan(o.forecast[i]!)
      expect(o.upper['80']![i]).toBeGreaterThan(o.forecast[i]!)
      expect(o.upper['95']![i]).toBeGreaterThan(o.upper['80']![i]!)
    }
    expect(typeof o.fit.aicc).toBe('number')
    expectFinite(o)
  })

  it('takes --method and --level', async () => {
    const o = await forecast(['--input', join(DATA, 'Nile.csv'), '--horizon', '6', '--period', '1', '--method', 'arima', '--level', '50,99'])
    expect(o.method).toMatch(/^arima\(/)
    expect(Object.keys(o.upper).sort()).toEqual(['50', '99'])
    expectFinite(o)
  })

  it('forecasts an intermittent series with a Croston-family method', async () => {
    const values = Array.from({ length: 120 }, (_, i) => (i % 5 === 0 ? 3 + (i % 3) : 0))
    const o = await forecast(['--input', csv('sparse.csv', values), '--horizon', '7', '--period', '7'])
    expect(o.method).toMatch(/^(croston|sba|tsb)/)
    expect(o.lower['95']!.every((v) => v >= 0)).toBe(true)
    expectFinite(o)
  })

  it('falls back, with a note, for a constant series and for one too short for its season', async () => {
    const flat = await forecast(['--input', csv('flat.csv', [5, 5, 5, 5]), '--horizon', '3', '--period', '7'])
    expect(flat.forecast).toEqual([5, 5, 5])
    expect(flat.note).toMatch(/constant/)
    const short = await forecast(['--input', csv('short.csv', [3, 4, 6, 5, 7, 8, 6, 9, 10, 8]), '--horizon', '4', '--period', '12'])
    expect(short.note).toMatch(/season/)
    expect(short.forecast).toHaveLength(4)
    expectFinite(short)
  })

  it.each([
    ['an empty series', () => ['--input', csv('empty.csv', []), '--horizon', '3', '--period', '1'], /no rows after the header/],
    ['a NaN', () => ['--input', csv('nan.csv', [1, 2, 'NaN', 4]), '--horizon', '3', '--period', '1'], /line 4: value "NaN" is not a finite number/],
    ['a gap', () => ['--input', csv('gap.csv', [1, '', 3]), '--horizon', '3', '--period', '1'], /line 3: value "" is not a finite number/],
    [
      'a negative horizon',
      () => ['--input', csv('ok.csv', [1, 2, 3]), '--horizon', '-2', '--period', '1'],
      /--horizon must be a whole number from 1 to 10000, got "-2"/,
    ],
    [
      'a huge horizon',
      () => ['--input', csv('ok5.csv', [1, 2, 3]), '--horizon', '100000000', '--period', '1'],
      /--horizon must be a whole number from 1 to 10000/,
    ],
    ['a zero period', () => ['--input', csv('ok2.csv', [1, 2, 3]), '--horizon', '2', '--period', '0'], /--period must be a whole number/],
    [
      'an unknown method',
      () => ['--input', csv('ok3.csv', [1, 2, 3]), '--horizon', '2', '--period', '1', '--method', 'magic'],
      /"magic" is not a method; use one of auto/,
    ],
    ['a bad level', () => ['--input', csv('ok4.csv', [1, 2, 3]), '--horizon', '2', '--period', '1', '--level', '80,150'], /--level "150" must be a percentage/],
    ['a missing file', () => ['--input', join(dir, 'nope.csv'), '--horizon', '2', '--period', '1'], /--input .*nope.csv: ENOENT/],
    ['a wrong header', () => ['--input', writeRaw('hdr.csv', 'date,qty\n1,2\n'), '--horizon', '2', '--period', '1'], /header timestamp,value/],
  ])('refuses %s with a clear error and exit 2', async (_what, args, message) => {
    const r = await runCli(['forecast', ...args()])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^error request\.invalid: /)
    expect(r.stderr).toMatch(message)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })
})

function writeRaw(name: string, text: string): string {
  const file = join(dir, name)
  writeFileSync(file, text)
  return file
}
