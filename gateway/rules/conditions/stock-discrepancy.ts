/**
 * `stock_discrepancy`: the shelf-scale estimate (weight ÷ unit weight) and the scan-derived on-hand
 * stock disagree by more than the tolerance. `value` is the difference in units.
 */
import { z } from 'zod'
import { glob } from '../glob.ts'
import type { ConditionKind } from './kind.ts'

const tolerance = z
  .strictObject({
    /** Allowed difference in units. */
    units: z.number().int().min(0).optional(),
    /** Allowed difference as a percentage of scan-derived on hand. */
    pct: z.number().min(0).max(100).optional(),
  })
  .refine((t) => t.units !== undefined || t.pct !== undefined, { message: 'give units, pct or both, e.g. { units: 2, pct: 5 }' })

const schema = z.strictObject({
  kind: z.literal('stock_discrepancy'),
  sku: glob.default('*'),
  location: glob.default('*'),
  /** With both, the larger allowance wins: a discrepancy exceeds units and pct. */
  tolerance,
})

export const stockDiscrepancy: ConditionKind<typeof schema> = {
  kind: 'stock_discrepancy',
  summary: 'shelf-scale estimate and scan-derived stock differ by more than a tolerance (units and/or percent)',
  schema,
  labels: ['sku', 'location'],
  placeholders: ['scale', 'scans'],
}
