/**
 * The bench report: one markdown table (printed, and kept in BENCHMARKS.md in a section that the
 * next run of the same command replaces).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import type { TargetName } from './targets/types.ts'

export const COLUMNS: TargetName[] = ['aedes', 'mosquitto', 'gateway']

export interface Row {
  figure: string
  /** Numbers the ratios are computed from; missing = not measured. */
  values: Partial<Record<TargetName, number>>
  /** Cell text when it should say more than the number (e.g. a min–max range). */
  cells?: Partial<Record<TargetName, string>>
  digits?: number
}

/** A markdown table: one column per target, then gateway/aedes and gateway/mosquitto. */
export function table(rows: Row[], labels: Record<TargetName, string>): string {
  const head = `| Figure | ${COLUMNS.map((c) => labels[c]).join(' | ')} | gateway / aedes | gateway / mosquitto |`
  const rule = `|---|${COLUMNS.map(() => '---:').join('|')}|---:|---:|`
  const body = rows.map((r) => {
    const cell = (c: TargetName): string => r.cells?.[c] ?? (r.values[c] === undefined ? '–' : num(r.values[c]!, r.digits ?? 0))
    const ratio = (base: TargetName): string => {
      const g = r.values.gateway
      const b = r.values[base]
      return g === undefined || b === undefined || b === 0 ? '–' : `${(g / b).toFixed(2)}×`
    }
    return `| ${r.figure} | ${COLUMNS.map(cell).join(' | ')} | ${ratio('aedes')} | ${ratio('mosquitto')} |`
  })
  return [head, rule, ...body].join('\n')
}

export function num(n: number, digits: number): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

const HEADER = `# Benchmarks

Produced by \`npm run bench\` (test/bench/run.ts). Each section is replaced by the next run of the
same command; the load generator is simulators/loadgen/.
`

/** Replace the section tagged `key` in the file at `path` (or append it; create the file if needed). */
export function writeSection(path: string, key: string, section: string): void {
  const start = `<!-- bench:${key}:start -->`
  const end = `<!-- bench:${key}:end -->`
  const block = `${start}\n${section.trim()}\n${end}`
  const text = existsSync(path) ? readFileSync(path, 'utf8') : HEADER
  const i = text.indexOf(start)
  const j = text.indexOf(end)
  const next = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`
  writeFileSync(path, next)
}
