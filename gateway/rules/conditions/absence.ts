/**
 * `absence`: an expected scan event does not happen. During each schedule window (e.g. a shift),
 * at least one matching event must arrive in every `every`; a gap that long fires. Outside the
 * schedule nothing is expected. `value` is the time since the last matching event (or since the
 * window opened); `last_event` is an ISO time, or empty.
 */
import { z } from 'zod'
import { positiveDuration } from '../duration.ts'
import { afterFields, scanEvent, selector } from '../fields.ts'
import type { ConditionKind } from './kind.ts'

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const
const TIME = /^([01]\d|2[0-3]):([0-5]\d)$|^24:00$/

const clock = z.string({ error: 'expected a time of day such as "06:00" (quote it in YAML)' }).regex(TIME, {
  error: (iss) => `${JSON.stringify(iss.input)} is not a time of day; use HH:MM from 00:00 to 24:00, e.g. "06:00"`,
})

/** Minutes after midnight for `HH:MM`. */
function minutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3))
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

const schedule = z
  .strictObject({
    days: z
      .array(z.enum(DAYS))
      .min(1)
      .refine((d) => new Set(d).size === d.length, { message: 'lists a day twice' }),
    /** Local time the window opens; a window whose `to` is earlier than `from` runs past midnight. */
    from: clock,
    to: clock,
    /** IANA time zone, e.g. Europe/Amsterdam; default the gateway's. */
    tz: z
      .string()
      .refine(isTimeZone, { error: (iss) => `${JSON.stringify(iss.input)} is not an IANA time zone; use e.g. Europe/Amsterdam or UTC` })
      .optional(),
  })
  .superRefine(
    (s, ctx) => {
      if (s.from === '24:00') ctx.addIssue({ code: 'custom', path: ['from'], message: 'a window opens at 00:00, not 24:00' })
      else if (s.from === s.to) ctx.addIssue({ code: 'custom', path: ['to'], message: 'equals from; use 00:00 to 24:00 for a whole day' })
    },
    afterFields('from', 'to'),
  )

/** Length of a schedule window in milliseconds (overnight windows wrap past midnight). */
export function windowMs(s: { from: string; to: string }): number {
  const span = minutes(s.to) - minutes(s.from)
  return (span > 0 ? span : span + 24 * 60) * 60_000
}

const schema = z
  .strictObject({
    kind: z.literal('absence'),
    event: scanEvent,
    select: selector(['location', 'device', 'zone', 'sku']),
    schedule,
    every: positiveDuration,
  })
  .superRefine(
    (c, ctx) => {
      if (c.every > windowMs(c.schedule)) {
        ctx.addIssue({
          code: 'custom',
          path: ['every'],
          message: `is longer than the schedule window (${c.schedule.from}-${c.schedule.to}), so it could never fire`,
        })
      }
    },
    afterFields('schedule', 'every'),
  )

export const absence: ConditionKind<typeof schema> = {
  kind: 'absence',
  summary: 'no matching scan event in a given time during a schedule window (e.g. no receive at dock 2 during a shift)',
  schema,
  labels: ['event'],
  placeholders: ['last_event'],
}
