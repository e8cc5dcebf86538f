/**
 * `forecast`: a forecast signal per SKU compared with a value. The signals come from the analytics
 * runs (gateway/analytics/signals.ts), played against the current on-hand stock at every stock
 * change: `days_of_cover` (days until the forecast demand from now uses up what is on hand) and
 * `stockout_within` (the probability, 0-1, of running out within `horizon`). `value` is the signal.
 */
import { z } from 'zod'
import { duration } from '../duration.ts'
import { afterFields, clearProblem, finite, op } from '../fields.ts'
import { glob } from '../glob.ts'
import type { ConditionKind } from './kind.ts'

const schema = z
  .strictObject({
    kind: z.literal('forecast'),
    signal: z.enum(['days_of_cover', 'stockout_within']),
    /** Only for `stockout_within`: how far ahead the probability looks. */
    horizon: duration.optional(),
    sku: glob.default('*'),
    location: glob.default('*'),
    op,
    value: finite,
    clear: finite.optional(),
  })
  .superRefine(
    (c, ctx) => {
      if (c.signal === 'stockout_within') {
        if (c.horizon === undefined) ctx.addIssue({ code: 'custom', path: ['horizon'], message: 'missing; stockout_within needs a horizon, e.g. horizon: 7d' })
        for (const key of ['value', 'clear'] as const) {
          const v = c[key]
          if (v !== undefined && (v < 0 || v > 1)) ctx.addIssue({ code: 'custom', path: [key], message: `${v} is not a probability; stockout_within is 0-1` })
        }
      } else if (c.horizon !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['horizon'], message: 'only stockout_within has a horizon; remove it' })
      } else if (c.value < 0) {
        ctx.addIssue({ code: 'custom', path: ['value'], message: `${c.value} days of cover is impossible; use 0 or more` })
      }
      if (c.location !== '*') {
        ctx.addIssue({ code: 'custom', path: ['location'], message: 'forecast signals are per SKU over all its locations; leave location out' })
      }
      const problem = c.clear === undefined ? undefined : clearProblem(c.signal, c.op, c.value, c.clear)
      if (problem) ctx.addIssue({ code: 'custom', path: ['clear'], message: problem })
    },
    afterFields('signal', 'horizon', 'location', 'op', 'value', 'clear'),
  )

export const forecast: ConditionKind<typeof schema> = {
  kind: 'forecast',
  summary: 'a forecast signal (days_of_cover, stockout_within) per SKU compared with a value',
  schema,
  labels: ['sku', 'location'],
  placeholders: ['clear'],
}
