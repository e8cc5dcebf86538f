/**
 * `threshold`: an aggregate of one metric over a time window, per series, compared with a value.
 * `value` in templates is the aggregate; `threshold` is `value` from the rule.
 */
import { z } from 'zod'
import { positiveDuration } from '../duration.ts'
import { afterFields, clearProblem, finite, name, op, selector } from '../fields.ts'
import type { ConditionKind } from './kind.ts'

const window = z
  .strictObject({
    /** tumbling: back-to-back windows of `size`; sliding: the last `size`, re-evaluated every `every` (default: each point). */
    type: z.enum(['tumbling', 'sliding']),
    size: positiveDuration,
    every: positiveDuration.optional(),
  })
  .superRefine(
    (w, ctx) => {
      if (w.every === undefined) return
      if (w.type === 'tumbling') {
        ctx.addIssue({ code: 'custom', path: ['every'], message: 'a tumbling window advances by its size; remove every, or use type: sliding' })
      } else if (w.every > w.size) {
        ctx.addIssue({ code: 'custom', path: ['every'], message: 'must not be longer than size, or some points would never be in a window' })
      }
    },
    afterFields('type', 'size', 'every'),
  )

const schema = z
  .strictObject({
    kind: z.literal('threshold'),
    metric: name('metric name'),
    select: selector(['site', 'zone', 'device', 'sku']),
    window,
    agg: z.enum(['avg', 'min', 'max', 'sum', 'count', 'rate', 'p95']),
    op,
    value: finite,
    clear: finite.optional(),
  })
  .superRefine(
    (c, ctx) => {
      const problem = c.clear === undefined ? undefined : clearProblem(c.agg, c.op, c.value, c.clear)
      if (problem) ctx.addIssue({ code: 'custom', path: ['clear'], message: problem })
    },
    afterFields('agg', 'op', 'value', 'clear'),
  )

export const threshold: ConditionKind<typeof schema> = {
  kind: 'threshold',
  summary: 'an aggregate (avg, min, max, sum, count, rate, p95) of a metric over a window, compared with a value',
  schema,
  labels: ['metric', 'site', 'zone', 'device', 'sku'],
  placeholders: ['clear'],
}
