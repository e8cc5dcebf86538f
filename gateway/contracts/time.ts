/** The event-time window: a timestamp too far ahead of, or behind, the gateway clock is refused. */
import type { DecodeContext, Refusal } from './contract.ts'

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
]

/** A duration in the two largest units, e.g. `3d 4h`, `5m`, `250ms`. */
export function formatDuration(ms: number): string {
  const parts: string[] = []
  let rest = Math.round(Math.abs(ms))
  for (const [unit, size] of UNITS) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`)
      rest %= size
    }
    if (parts.length === 2) break
  }
  return parts.length === 0 ? `${rest}ms` : parts.join(' ')
}

function iso(ms: number): string {
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms)
}

/**
 * Refuses `ms` (the field at `path`) when it lies outside [now - maxPastAgeMs, now + maxFutureSkewMs].
 * Cheap when the time is in the window: two comparisons, no allocation.
 */
export function checkTime(ms: number, ctx: DecodeContext, path: string): Refusal | undefined {
  const { now, limits } = ctx
  if (ms > now + limits.maxFutureSkewMs) {
    return {
      code: 'ts.future',
      message:
        `${path}: ${iso(ms)} is ${formatDuration(ms - now)} ahead of the gateway clock (${iso(now)}); ` +
        `the limit is ${formatDuration(limits.maxFutureSkewMs)} (ingest.maxFutureSkewMs). Check the device clock (NTP).`,
    }
  }
  if (ms < now - limits.maxPastAgeMs) {
    const seconds = ms >= 1e9 && ms < 1e11 ? ' It looks like epoch seconds; ts is epoch milliseconds.' : ''
    return {
      code: 'ts.past',
      message:
        `${path}: ${iso(ms)} is ${formatDuration(now - ms)} behind the gateway clock (${iso(now)}); ` +
        `the limit is ${formatDuration(limits.maxPastAgeMs)} (ingest.maxPastAgeMs).${seconds}`,
    }
  }
  return undefined
}
