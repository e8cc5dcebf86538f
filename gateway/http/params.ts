/**
 * Query-string parsing shared by the routes: zod field types for instants and durations, and one
 * `parseQuery` that turns a request's query into typed data or a 400 naming each bad parameter.
 */
import type { Context } from 'hono'
import { z } from 'zod'
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

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${k}: unknown parameter`).join('; ')
  const name = issue.path.map(String).join('.') || 'query'
  return `${name}: ${issue.message}`
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
  const result = schema.safeParse(raw)
  if (!result.success) throw new StockyardError('request.invalid', result.error.issues.map(describe).join('; '))
  return result.data
}
