/**
 * `battery_low`: a device's last reported `battery_pct` is below a percentage. `value` is the
 * battery level; `threshold` is `below`.
 */
import { z } from 'zod'
import { afterFields, deviceKind, selector } from '../fields.ts'
import type { ConditionKind } from './kind.ts'

const pct = z.number().gt(0).max(100)

const schema = z
  .strictObject({
    kind: z.literal('battery_low'),
    below: pct,
    /** Resolves once the battery is at or above this (a charged or replaced battery); default `below`. */
    clear: pct.optional(),
    device_kind: deviceKind.optional(),
    select: selector(['site', 'zone', 'device']),
  })
  .superRefine(
    (c, ctx) => {
      if (c.clear !== undefined && c.clear <= c.below) {
        ctx.addIssue({
          code: 'custom',
          path: ['clear'],
          message: `${c.clear} must be above below (${c.below}): the alert fires when battery_pct < ${c.below} and clears once battery_pct >= clear (hysteresis); omit clear to clear at ${c.below}`,
        })
      }
    },
    afterFields('below', 'clear'),
  )

export const batteryLow: ConditionKind<typeof schema> = {
  kind: 'battery_low',
  summary: 'a device reports a battery level below a percentage',
  schema,
  labels: ['device', 'kind', 'site', 'zone'],
  placeholders: ['clear'],
}
