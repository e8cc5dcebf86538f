/**
 * Schedule windows of `absence` rules (days, from, to, tz) as instants. Local times are turned into
 * instants with `Intl` so daylight-saving changes land where the clock on the wall says; no time zone
 * library is needed for this one conversion.
 */
import { windowMs } from '../conditions/absence.ts'

export interface Schedule {
  days: readonly string[]
  from: string
  to: string
  tz?: string
}

const DAY = 86_400_000
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']
const formats = new Map<string, Intl.DateTimeFormat>()

function format(tz: string): Intl.DateTimeFormat {
  let f = formats.get(tz)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formats.set(tz, f)
  }
  return f
}

/** Offset of `tz` from UTC at instant `t`, in ms (positive east of Greenwich). */
function offset(t: number, tz: string): number {
  const parts = Object.fromEntries(
    format(tz)
      .formatToParts(new Date(t))
      .map((p) => [p.type, p.value]),
  )
  const local = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second))
  return local - Math.floor(t / 1000) * 1000
}

/** The instant at which the wall clock in `tz` shows local date (y, m, d) and `minutes` after midnight. */
function instant(y: number, m: number, d: number, minutes: number, tz: string): number {
  const guess = Date.UTC(y, m, d) + minutes * 60_000
  const first = guess - offset(guess, tz)
  return guess - offset(first, tz)
}

function hhmm(s: string): number {
  return Number(s.slice(0, 2)) * 60 + Number(s.slice(3))
}

/** Windows (open, close) that start on the local days around `t`, in time order. */
function windowsAround(s: Schedule, t: number): Array<[number, number]> {
  const tz = s.tz ?? Intl.DateTimeFormat().resolvedOptions().timeZone
  const out: Array<[number, number]> = []
  const length = windowMs(s)
  for (let k = -1; k <= 7; k++) {
    const day = new Date(t + offset(t, tz) + k * DAY)
    const y = day.getUTCFullYear()
    const m = day.getUTCMonth()
    const d = day.getUTCDate()
    if (!s.days.includes(WEEKDAYS[new Date(Date.UTC(y, m, d)).getUTCDay()]!)) continue
    const open = instant(y, m, d, hhmm(s.from), tz)
    out.push([open, open + length])
  }
  return out
}

/** The window that contains `t`, if any. */
export function windowAt(s: Schedule, t: number): { open: number; close: number } | undefined {
  for (const [open, close] of windowsAround(s, t)) if (open <= t && t < close) return { open, close }
  return undefined
}

/** The first window opening after `t` (within a week and a day). */
export function nextOpen(s: Schedule, t: number): number | undefined {
  for (const [open] of windowsAround(s, t)) if (open > t) return open
  return undefined
}
