/** Flag parsing shared by the CLI commands (node:util parseArgs, strict: unknown flags are errors). */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { StockyardError } from '../core/errors.ts'

export type Options = NonNullable<ParseArgsConfig['options']>

export function parseFlags<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true })
  } catch (err) {
    throw new StockyardError('request.invalid', (err as Error).message)
  }
}

export function requireFlag(values: Record<string, unknown>, name: string): string {
  const v = values[name]
  if (typeof v !== 'string' || v === '') throw new StockyardError('request.invalid', `--${name} is required`)
  return v
}

/** Parse a port flag; 0 means an ephemeral port. */
export function portFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new StockyardError('request.invalid', `--${name} must be an integer 0-65535, got ${value}`)
  return n
}

/** Print one JSON document on stdout (the machine-readable output of every command). */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}
