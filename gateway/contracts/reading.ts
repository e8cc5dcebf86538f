/**
 * `reading`: numeric samples from a sensor or shelf scale. One message carries one reading, or a
 * batch of up to 1000 (`{"v":1,"readings":[...]}`) on the same topic. Each metric becomes one point
 * labelled {site, zone, device, sku}.
 */
import { z } from 'zod'
import type { Accepted, PointRecord, SeriesLabels } from '../core/records.ts'
import type { DecodeContext, MessageContract, Refusal } from './contract.ts'
import { id, metrics, seq, timestamp, toMs, version } from './fields.ts'
import { checkTime } from './time.ts'

const fields = {
  ts: timestamp,
  metrics,
  seq: seq.optional(),
  sku: id('SKU weighed or counted, for shelf scales').optional(),
}

const single = z.strictObject({ v: version, ...fields }).meta({ title: 'One reading' })
const element = z.strictObject(fields)
const batch = z
  .strictObject({
    v: version,
    readings: z.array(element).min(1).max(1000).meta({ description: '1 to 1000 readings.' }),
  })
  .meta({ title: 'Batch of readings' })

export type ReadingPayload = z.infer<typeof single>
export type ReadingBatchPayload = z.infer<typeof batch>
type Element = z.infer<typeof element>

function collectOne(r: Element, ctx: DecodeContext, out: Accepted, path: string | number): Refusal | undefined {
  const ts = toMs(r.ts)
  const refused = checkTime(ts, ctx, typeof path === 'number' ? `readings[${path}].ts` : path)
  if (refused) return refused
  // One labels object per reading, shared by its points: records are immutable values.
  const labels: SeriesLabels = { site: ctx.site, zone: ctx.zone, device: ctx.deviceId, sku: r.sku ?? '' }
  const first = out.points.length
  const m = r.metrics
  for (const metric in m) {
    const point: PointRecord = { metric, labels, ts, value: m[metric] as number }
    out.points.push(point)
  }
  if (r.seq !== undefined) out.keys.push({ seq: r.seq, ts, points: [first, out.points.length], events: [out.events.length, out.events.length] })
  return undefined
}

export const reading: MessageContract<ReadingPayload | ReadingBatchPayload> = {
  kind: 'reading',
  schema: z.union([single, batch]).meta({
    title: 'stockyard/v1/{site}/{deviceId}/reading',
    description: 'Numeric samples from a device: one reading, or a batch of up to 1000. Each metric becomes one series point.',
  }),
  examples: [
    { v: 1, ts: '2025-01-31T12:00:00Z', metrics: { temperature_c: 4.2, humidity_pct: 61 }, seq: 1042 },
    { v: 1, ts: 1738324800000, metrics: { weight_kg: 12.5, units: 25 }, sku: 'SKU-1001' },
    {
      v: 1,
      readings: [
        { ts: 1738324740000, metrics: { temperature_c: 4.1 }, seq: 1040 },
        { ts: 1738324770000, metrics: { temperature_c: 4.3 }, seq: 1041 },
      ],
    },
  ],
  schemaFor: (payload) => ('readings' in payload ? batch : single),
  collect(payload, ctx, out) {
    if (!('readings' in payload)) return collectOne(payload, ctx, out, 'ts')
    const readings = payload.readings
    for (let i = 0; i < readings.length; i++) {
      const refused = collectOne(readings[i] as Element, ctx, out, i)
      if (refused) return refused
    }
    return undefined
  },
}
