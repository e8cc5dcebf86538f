/**
 * `shipment_stalled`: a shipment that is under way (not delivered) has had no tracker update for a
 * duration. `value` is the time since the last update; `last_update` is an ISO time.
 */
import { z } from 'zod'
import { positiveDuration } from '../duration.ts'
import { SHIPMENT_STEPS } from '../fields.ts'
import type { ConditionKind } from './kind.ts'

const schema = z.strictObject({
  kind: z.literal('shipment_stalled'),
  no_update_for: positiveDuration,
  /** Only shipments in these statuses are watched (default: released up to departed). */
  status: z
    .array(z.enum(SHIPMENT_STEPS.slice(0, -1) as ['released', 'picked', 'packed', 'loaded', 'departed']))
    .min(1)
    .default(['released', 'picked', 'packed', 'loaded', 'departed']),
})

export const shipmentStalled: ConditionKind<typeof schema> = {
  kind: 'shipment_stalled',
  summary: 'a shipment under way has had no tracker update for a duration',
  schema,
  labels: ['shipment', 'status'],
  placeholders: ['last_update'],
}
