/**
 * Zod issues, reworded for device developers: every message names the field path and says what was
 * expected and what arrived, e.g. `metrics.temperature_c: expected a finite number, got string "hot"`.
 */
import type { z } from 'zod'

type RawIssue = z.core.$ZodRawIssue
type Issue = z.core.$ZodIssue

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/
const MAX_LISTED = 5

const EXPECTED: Record<string, string> = {
  number: 'a finite number',
  int: 'an integer',
  string: 'a string',
  boolean: 'true or false',
  object: 'a JSON object',
  record: 'a JSON object',
  array: 'an array',
}

/** A short, safe rendering of a received value: its JSON type, and the value itself when small. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  switch (typeof value) {
    case 'string':
      return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
    case 'number':
      return Number.isFinite(value) ? `number ${value}` : `${value} (an overflowing number such as 1e999)`
    case 'boolean':
      return `boolean ${value}`
    case 'object':
      return 'an object'
    default:
      return typeof value
  }
}

/** `readings[3].metrics.temperature_c`; keys that are not identifiers are quoted: `metrics["Temp C"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else if (typeof seg === 'string' && IDENTIFIER.test(seg)) out += out === '' ? seg : `.${seg}`
    else out += `[${JSON.stringify(String(seg))}]`
  }
  return out
}

function bound(origin: string, n: number | bigint, inclusive: boolean | undefined, upper: boolean): string {
  if (origin === 'string') return `${n} character${n === 1 ? '' : 's'}`
  if (origin === 'array') return `${n} element${n === 1 ? '' : 's'}`
  if (inclusive === false) return upper ? `less than ${n}` : `greater than ${n}`
  return String(n)
}

function size(value: unknown): string {
  if (typeof value === 'string') return `${value.length} characters`
  if (Array.isArray(value)) return `${value.length} elements`
  return String(value)
}

function allowedKeys(iss: RawIssue): string {
  const shape = (iss.inst as { _zod?: { def?: { shape?: object } } } | undefined)?._zod?.def?.shape
  return shape ? `; allowed keys: ${Object.keys(shape).join(', ')}` : ''
}

/**
 * The per-parse zod error map. Schema-level messages (regex explanations, refinements) take
 * precedence over it; everything else is worded here. Runs only for failing input.
 */
export function issueMessage(iss: RawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type': {
      const expected = EXPECTED[iss.expected] ?? iss.expected
      return iss.input === undefined ? `missing; expected ${expected}` : `expected ${expected}, got ${describeValue(iss.input)}`
    }
    case 'invalid_value': {
      const values = iss.values.map((v) => JSON.stringify(v))
      const expected = values.length === 1 ? values[0] : `one of ${values.join(', ')}`
      return iss.input === undefined ? `missing; expected ${expected}` : `expected ${expected}, got ${describeValue(iss.input)}`
    }
    case 'too_small':
      return `must be at least ${bound(iss.origin, iss.minimum, iss.inclusive, false)}, got ${size(iss.input)}`
    case 'too_big':
      return `must be at most ${bound(iss.origin, iss.maximum, iss.inclusive, true)}, got ${size(iss.input)}`
    case 'unrecognized_keys':
      return `unknown key${iss.keys.length === 1 ? '' : 's'}${allowedKeys(iss)}`
    case 'invalid_key':
      return `invalid key: ${iss.issues[0]?.message ?? 'not allowed'}`
    case 'invalid_format':
      return `${describeValue(iss.input)} does not have the expected format${iss.pattern && iss.pattern.length <= 80 ? ` ${iss.pattern}` : ''}`
    default:
      return undefined
  }
}

/** Options for `schema.safeParse(value, PARSE_OPTIONS)`; built once. */
export const PARSE_OPTIONS = { error: issueMessage } as const

/** One line listing up to five issues, each prefixed with its field path. */
export function formatIssues(issues: readonly Issue[]): string {
  const parts: string[] = []
  for (const iss of issues.slice(0, MAX_LISTED)) {
    const where = iss.code === 'unrecognized_keys' ? iss.keys.map((k) => formatPath([...iss.path, k])).join(', ') : formatPath(iss.path)
    parts.push(where === '' ? iss.message : `${where}: ${iss.message}`)
  }
  const more = issues.length - MAX_LISTED
  return more > 0 ? `${parts.join('; ')} (and ${more} more)` : parts.join('; ')
}
