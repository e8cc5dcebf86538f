/**
 * `stock`: on-hand stock of a SKU at a location below a policy level (reorder point or safety
 * stock from the SKU master) or a fixed quantity. `value` is on hand; `threshold` the level.
 */
import { z } from 'zod'
import { afterFields } from '../fields.ts'
import { glob } from '../glob.ts'
import type { ConditionKind } from './kind.ts'

const POLICY = ['safety_stock', 'reorder_point'] as const
const level = z.union([z.enum(POLICY), z.number().int().min(0)], {
  error: (iss) => `expected reorder_point, safety_stock or a whole number of units${iss.input === undefined ? '' : `, got ${JSON.stringify(iss.input)}`}`,
})

const schema = z
  .strictObject({
    kind: z.literal('stock'),
    sku: glob.default('*'),
    location: glob.default('*'),
    below: level,
    /** Resolves once on hand is at or above this level (default: `below`). */
    clear: level.optional(),
  })
  .superRefine(
    (c, ctx) => {
      if (c.clear === undefined) return
      // Two fixed quantities, or two policy levels (safety stock sits below the reorder point), can be
      // compared now; a quantity against a policy level can only be checked against the SKU master.
      const rank = (l: string | number) => (typeof l === 'number' ? l : POLICY.indexOf(l as (typeof POLICY)[number]))
      if (typeof c.clear !== typeof c.below || rank(c.clear) > rank(c.below)) return
      ctx.addIssue({
        code: 'custom',
        path: ['clear'],
        message: `${c.clear} must be above below (${c.below}): the alert fires when on hand < ${c.below} and clears once on hand >= clear (hysteresis); omit clear to clear at ${c.below}`,
      })
    },
    afterFields('below', 'clear'),
  )

export const stock: ConditionKind<typeof schema> = {
  kind: 'stock',
  summary: 'on-hand stock of a SKU at a location below its reorder point, safety stock or a fixed quantity',
  schema,
  labels: ['sku', 'location'],
  placeholders: ['clear'],
}
