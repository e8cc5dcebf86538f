/**
 * `stockyard forecast --input FILE.csv --horizon H --period P [--method M] [--level 80,95]`: forecast
 * one series from a CSV file. Other tools build on this contract; keep it stable.
 *
 * Input: a header `timestamp,value`, then one row per period, oldest first. The timestamps are not
 * interpreted (the series is taken as evenly spaced), only checked to be present.
 * Output (stdout): one JSON object
 * `{"method", "forecast": [H numbers], "lower": {"80": [...], ...}, "upper": {...}, "fit": {"aicc", ...}}`,
 * plus `"note"` when the method had to fall back (too short for the season, constant series).
 * Bad input exits 2 with `error request.invalid: <what and where>`.
 */
import { readFileSync } from 'node:fs'
import { StockyardError } from '../core/errors.ts'
import { forecastSeries } from '../analytics/forecast/auto.ts'
import { METHODS } from '../analytics/forecast/index.ts'
import { parseCsv } from '../state/csv.ts'
import { parseFlags, requireFlag } from './args.ts'

/** The values of a `timestamp,value` CSV, oldest first; every problem is named with its line. */
export function readSeriesCsv(text: string, file: string): number[] {
  const parsed = parseCsv(text)
  if (!parsed.ok) throw new StockyardError('request.invalid', `${file}: line ${parsed.line}: ${parsed.message}`)
  const [header, ...rows] = parsed.records
  if (!header || header.cells.join(',').toLowerCase() !== 'timestamp,value') {
    throw new StockyardError(
      'request.invalid',
      `${file}: the first line must be the header timestamp,value (got ${JSON.stringify(header?.cells.join(',') ?? '')})`,
    )
  }
  if (rows.length === 0) throw new StockyardError('request.invalid', `${file}: no rows after the header; give at least one value`)
  const errors: string[] = []
  const values = rows.map((r) => {
    if (r.cells.length !== 2) errors.push(`line ${r.line}: ${r.cells.length} cells; each row is timestamp,value`)
    const [ts = '', cell = ''] = r.cells
    if (ts === '') errors.push(`line ${r.line}: the timestamp is empty`)
    const v = cell === '' ? NaN : Number(cell)
    if (!Number.isFinite(v))
      errors.push(`line ${r.line}: value ${JSON.stringify(cell)} is not a finite number; fill the gap (e.g. with 0 for no demand) or remove the row`)
    return v
  })
  if (errors.length)
    throw new StockyardError(
      'request.invalid',
      `${file}:\n  ${errors.slice(0, 20).join('\n  ')}${errors.length > 20 ? `\n  … and ${errors.length - 20} more` : ''}`,
    )
  return values
}

/** The largest --horizon and --period: far beyond any use, small enough that memory is never the limit. */
export const MAX_STEPS = 10_000

function positiveInt(text: string, flag: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 1 || n > MAX_STEPS) {
    throw new StockyardError('request.invalid', `--${flag} must be a whole number from 1 to ${MAX_STEPS}, got ${JSON.stringify(text)}`)
  }
  return n
}

/** `--horizon -2` reads as the flag and a value (parseArgs would take -2 for a flag), so the check below can say what is wrong. */
function joinNegativeNumbers(argv: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1]
    if (/^--(horizon|period)$/.test(argv[i]!) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${argv[i]}=${next}`)
      i++
    } else out.push(argv[i]!)
  }
  return out
}

export function runForecast(argv: string[]): void {
  const { values } = parseFlags(joinNegativeNumbers(argv), {
    input: { type: 'string' },
    horizon: { type: 'string' },
    period: { type: 'string' },
    method: { type: 'string', default: 'auto' },
    level: { type: 'string', default: '80,95' },
  })
  const file = requireFlag(values, 'input')
  const horizon = positiveInt(requireFlag(values, 'horizon'), 'horizon')
  const period = positiveInt(requireFlag(values, 'period'), 'period')
  const method = values.method
  if (!(method in METHODS))
    throw new StockyardError('request.invalid', `--method ${JSON.stringify(method)} is not a method; use one of ${Object.keys(METHODS).join(', ')}`)
  const levels = values.level.split(',').map((l) => {
    const n = Number(l.trim())
    if (!(n > 0 && n < 100)) throw new StockyardError('request.invalid', `--level ${JSON.stringify(l)} must be a percentage between 0 and 100, e.g. 80,95`)
    return n
  })
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new StockyardError('request.invalid', `--input ${file}: ${(err as Error).message}`)
  }
  const result = forecastSeries(readSeriesCsv(text, file), { period, horizon, method, levels })
  process.stdout.write(JSON.stringify(result) + '\n')
}
