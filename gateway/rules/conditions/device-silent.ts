/**
 * `device_silent`: a registered device has sent nothing (no message of any kind) for a duration.
 * `value` is the time since it was last seen; `last_seen` is an ISO time.
 */
import { z } from 'zod'
import { positiveDuration } from '../duration.ts'
import { deviceKind, selector } from '../fields.ts'
import type { ConditionKind } from './kind.ts'

const schema = z.strictObject({
  kind: z.literal('device_silent'),
  silent_for: positiveDuration,
  device_kind: deviceKind.optional(),
  select: selector(['site', 'zone', 'device']),
})

export const deviceSilent: ConditionKind<typeof schema> = {
  kind: 'device_silent',
  summary: 'a device has sent nothing for a duration',
  schema,
  labels: ['device', 'kind', 'site', 'zone'],
  placeholders: ['last_seen'],
}
