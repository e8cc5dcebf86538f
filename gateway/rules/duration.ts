/**
 * Durations in rule packs: `30s`, `10m`, `4h`, `1d`, or units joined largest first (`1h30m`). Parsed
 * once, at load, into milliseconds; the engine never sees the text.
 */
import { z } from 'zod'
import { describeValue } from '../contracts/issues.ts'

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
type Unit = keyof typeof UNIT_MS
const UNITS = ['d', 'h', 'm', 's', 'ms'] as const satisfies readonly Unit[]
const PART = /(\d{1,9})(ms|s|m|h|d)/g
const WHOLE = /^(?:\d{1,9}(?:ms|s|m|h|d))+$/

/** The longest duration a rule may name: a year. Longer is almost always a typo (`10d` for `10m`). */
export const MAX_DURATION_MS = 366 * UNIT_MS.d

/** What to write instead, appended to every duration error. */
export const DURATION_HINT = 'use 30s, 10m, 4h, 1d'

/**
 * Milliseconds for a duration string, or an error message. The number 0 is accepted ("at once").
 * @example parseDuration('1h30m') // { ok: true, ms: 5_400_000 }
 */
export function parseDuration(input: unknown): { ok: true; ms: number } | { ok: false; message: string } {
  if (input === 0) return { ok: true, ms: 0 }
  if (typeof input !== 'string' || !WHOLE.test(input)) {
    const what = typeof input === 'string' ? JSON.stringify(input) : describeValue(input)
    return { ok: false, message: `${what} is not a duration (${DURATION_HINT})` }
  }
  let ms = 0
  let last = -1
  for (const [, n, unit] of input.matchAll(PART)) {
    const rank = UNITS.indexOf(unit as Unit)
    if (rank <= last) return { ok: false, message: `${JSON.stringify(input)} repeats or reorders units; write them largest first, once each (e.g. 1h30m)` }
    last = rank
    ms += Number(n) * UNIT_MS[unit as Unit]
  }
  if (ms > MAX_DURATION_MS) return { ok: false, message: `${JSON.stringify(input)} is longer than a year (366d); ${DURATION_HINT}` }
  return { ok: true, ms }
}

/** `5400000` -> `1h30m`; `0` -> `0s`. For messages. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  let rest = ms
  let out = ''
  for (const unit of UNITS) {
    const n = Math.floor(rest / UNIT_MS[unit])
    if (n > 0) out += `${n}${unit}`
    rest -= n * UNIT_MS[unit]
  }
  return out
}

/** A duration field: text in, milliseconds out. */
export const duration = z.unknown().transform((input, ctx): number => {
  const parsed = parseDuration(input)
  if (parsed.ok) return parsed.ms
  ctx.addIssue({ code: 'custom', message: input === undefined ? `missing; expected a duration (${DURATION_HINT})` : parsed.message })
  return z.NEVER
})

/** A duration that must be longer than zero (window sizes, silence timeouts). */
export const positiveDuration = duration.refine((ms) => ms > 0, { message: `must be longer than 0 (${DURATION_HINT})` })
