/**
 * Request parsing shared by the routes: zod field types for instants and durations, and `parseQuery`
 * and `parseParams` that turn a request's query or path into typed data or a 400 naming each bad
 * parameter (`validate` does the same for bodies, see `body.ts`).
 */
import type { Context } from 'hono'
import { z } from 'zod'
import { formatPath, PARSE_OPTIONS } from '../contracts/issues.ts'
import { StockyardError } from '../core/errors.ts'

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** `30s`, `1m`, `5m`, `1h`, `1d`, `250ms` or a bare integer of milliseconds -> ms; null when not one. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,15})(ms|s|m|h|d)?$/.exec(text.trim())
  if (!m) return null
  const ms = Number(m[1]) * UNIT_MS[(m[2] ?? 'ms') as keyof typeof UNIT_MS]
  return Number.isSafeInteger(ms) && ms > 0 ? ms : null
}

// A date, or a date and time that says its zone: local time would mean something else on every host.
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/i

/** Epoch milliseconds or ISO 8601 (`2024-05-01`, `2024-05-01T12:00:00Z`, `…+02:00`) -> epoch ms; null when not one. */
export function parseInstant(text: string): number | null {
  const s = text.trim()
  if (/^\d{1,16}$/.test(s)) {
    const n = Number(s)
    return Number.isSafeInteger(n) ? n : null
  }
  if (!ISO_8601.test(s)) return null
  const t = Date.parse(s)
  return Number.isFinite(t) ? t : null
}

/** A string parameter; when absent the message is just `required`. */
const text = () => z.string({ error: (issue) => (issue.input === undefined ? 'required' : 'expected text') })

/** A name or label filter: 1-128 characters, no control characters. */
export const label = text()
  .max(128, 'at most 128 characters')
  .regex(/^[^\u0000-\u001f]+$/, 'control characters are not allowed')

/** Epoch ms or ISO 8601 with a zone. */
export const instant = text().transform((s, ctx) => {
  const t = parseInstant(s)
  if (t === null) {
    ctx.addIssue({ code: 'custom', message: 'expected epoch milliseconds or ISO 8601 with a zone, e.g. 2024-05-01T12:00:00Z', input: s })
    return z.NEVER
  }
  return t
})

/** A positive duration: `30s`, `1m`, `5m`, `1h`, `1d` or milliseconds. */
export const duration = text().transform((s, ctx) => {
  const ms = parseDuration(s)
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: 'expected a positive duration like 30s, 1m, 5m, 1h, 1d or milliseconds', input: s })
    return z.NEVER
  }
  return ms
})

/** A non-negative integer, from a query string. */
export const integer = (min: number, max: number) =>
  text()
    .regex(/^\d{1,15}$/, `expected an integer from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `expected an integer from ${min} to ${max}`)

/** One of a fixed set of strings. */
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: `expected one of ${values.join('|')}` })

type Part = 'query' | 'path' | 'body'

const UNKNOWN: Record<Part, string> = { query: 'unknown parameter', path: 'unknown parameter', body: 'unknown field' }

/** `name: message` lines; a body field is named by its path (`matchers.zone`, `rules[2].id`). */
function describe(issue: z.core.$ZodIssue, part: Part): string[] {
  const name = (path: readonly PropertyKey[]) => (part === 'body' ? formatPath(path) : path.map(String).join('.'))
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${name([...issue.path, k])}: ${UNKNOWN[part]}`)
  return [`${name(issue.path) || part}: ${issue.message}`]
}

/**
 * Validate `raw` (the `part` of a request) against `schema`, or throw a 400 `request.invalid` whose
 * message lists every problem, each starting with its name, and whose `details.errors` has one per line.
 */
export function validate<T extends z.ZodType>(schema: T, raw: unknown, part: Part): z.output<T> {
  // Bodies are JSON from programs: word type errors as the message contracts do ("expected an integer, got string").
  const result = part === 'body' ? schema.safeParse(raw, PARSE_OPTIONS) : schema.safeParse(raw)
  if (result.success) return result.data
  throw invalid(result.error.issues.flatMap((iss) => describe(iss, part)))
}

/** A 400 `request.invalid` listing `errors` (each `name: problem`) in its message and in `details.errors`. */
export function invalid(errors: string[]): StockyardError {
  return new StockyardError('request.invalid', errors.join('; '), { errors })
}

/**
 * Validate the query string of `c` against `schema`. Empty values (`site=`) count as omitted; a
 * parameter given twice, an unknown one or a bad value is a 400 `request.invalid` naming it.
 */
export function parseQuery<T extends z.ZodType>(c: Context, schema: T): z.output<T> {
  const raw: Record<string, string> = Object.create(null)
  const seen = new Set<string>()
  for (const [k, v] of new URL(c.req.url).searchParams) {
    if (seen.has(k)) throw new StockyardError('request.invalid', `${k}: given more than once`)
    seen.add(k)
    if (v !== '') raw[k] = v
  }
  return validate(schema, raw, 'query')
}

/**
 * Validate the path parameters of `c` against `schema`; a bad one is a 400 naming it.
 * @example const { id } = parseParams(c, z.object({ id: alertId }))
 */
export function parseParams<T extends z.ZodType>(c: Context, schema: T): z.output<T> {
  return validate(schema, c.req.param(), 'path')
}
