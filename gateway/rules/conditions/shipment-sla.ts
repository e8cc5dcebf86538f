/**
 * `shipment_sla`: a shipment must reach one step within a duration of another, e.g. `loaded` within
 * 4h of `released`. Fires when the deadline passes (or `at_risk_before` it); a late arrival resolves
 * it. `value` is the time taken so far; `threshold` is `within`; `deadline` is an ISO time.
 */
import { z } from 'zod'
import { positiveDuration } from '../duration.ts'
import { afterFields, SHIPMENT_STEPS } from '../fields.ts'
import type { ConditionKind } from './kind.ts'

type Step = (typeof SHIPMENT_STEPS)[number]
const STEP = /^\s*([a-z]+)\s*->\s*([a-z]+)\s*$/
const ORDER = SHIPMENT_STEPS.join(' -> ')

/** `released->loaded` -> `{ from: 'released', to: 'loaded' }`. */
const step = z.string({ error: `expected a step such as released->loaded; steps run ${ORDER}` }).transform((text, ctx) => {
  const m = STEP.exec(text)
  const [from, to] = [m?.[1], m?.[2]].map((s) => SHIPMENT_STEPS.indexOf(s as Step))
  if (!m || from! < 0 || to! < 0) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)} is not a step; write from->to with two of ${SHIPMENT_STEPS.join(', ')}` })
    return z.NEVER
  }
  if (to! <= from!) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)} does not go forward; steps run ${ORDER}` })
    return z.NEVER
  }
  return { from: SHIPMENT_STEPS[from!]!, to: SHIPMENT_STEPS[to!]! }
})

const schema = z
  .strictObject({
    kind: z.literal('shipment_sla'),
    step,
    within: positiveDuration,
    /** Fire this long before the deadline instead of at it. */
    at_risk_before: positiveDuration.optional(),
  })
  .superRefine(
    (c, ctx) => {
      if (c.at_risk_before !== undefined && c.at_risk_before >= c.within) {
        ctx.addIssue({ code: 'custom', path: ['at_risk_before'], message: 'must be shorter than within, or the shipment is at risk before the clock starts' })
      }
    },
    afterFields('within', 'at_risk_before'),
  )

export const shipmentSla: ConditionKind<typeof schema> = {
  kind: 'shipment_sla',
  summary: 'a shipment does not reach a step within a duration of an earlier step (breached, or at risk)',
  schema,
  labels: ['shipment', 'step'],
  placeholders: ['deadline'],
}
