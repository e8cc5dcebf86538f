/**
 * `scan`: a barcode/RFID scan at a warehouse step (receive, putaway, pick, pack, ship, count, adjust).
 * Becomes one `scan` event carrying the SKU and the order/shipment reference. A putaway may name the
 * location it moved the stock `from`.
 */
import { z } from 'zod'
import type { MessageContract } from './contract.ts'
import { id, seq, timestamp, toMs, version } from './fields.ts'
import { checkTime } from './time.ts'

const schema = z
  .strictObject({
    v: version,
    ts: timestamp,
    event: z.enum(['receive', 'putaway', 'pick', 'pack', 'ship', 'count', 'adjust']),
    sku: id('SKU scanned'),
    qty: z
      .number()
      .int()
      .min(-1_000_000_000)
      .max(1_000_000_000)
      .meta({ description: 'Integer quantity; at least 0, except for "adjust", which may be negative.' }),
    location: id('Location code, e.g. a bin or dock'),
    ref: id('Order or shipment reference').optional(),
    from: id('Source location of a putaway (a move)').optional(),
    seq: seq.optional(),
  })
  .refine((s) => s.qty >= 0 || s.event === 'adjust', {
    path: ['qty'],
    message: 'must be at least 0 unless event is "adjust"',
  })
  .refine((s) => s.from === undefined || s.event === 'putaway', {
    path: ['from'],
    message: 'only a "putaway" moves stock from a location; leave from out of other events',
  })
  .meta({
    title: 'stockyard/v1/{site}/{deviceId}/scan',
    description: 'A scan at a warehouse step. Becomes one event of kind "scan".',
  })

export type ScanPayload = z.infer<typeof schema>

export const scan: MessageContract<ScanPayload> = {
  kind: 'scan',
  schema,
  examples: [
    { v: 1, ts: '2025-01-31T12:00:00Z', event: 'pick', sku: 'SKU-1001', qty: 3, location: 'A-01-03', ref: 'SO-88123', seq: 77 },
    { v: 1, ts: 1738324800000, event: 'adjust', sku: 'SKU-1001', qty: -2, location: 'A-01-03' },
    { v: 1, ts: 1738324800000, event: 'putaway', sku: 'SKU-1001', qty: 24, location: 'A-01-03', from: 'DOCK-2' },
  ],
  collect(p, ctx, out) {
    const ts = toMs(p.ts)
    const refused = checkTime(ts, ctx, 'ts')
    if (refused) return refused
    out.events.push({
      kind: 'scan',
      ts,
      site: ctx.site,
      zone: ctx.zone,
      device: ctx.deviceId,
      sku: p.sku,
      ref: p.ref ?? '',
      body: { ...p, ts },
    })
    if (p.seq !== undefined) out.keys.push({ seq: p.seq, ts, points: [0, 0], events: [out.events.length - 1, out.events.length] })
    return undefined
  },
}
