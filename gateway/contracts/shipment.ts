/**
 * `shipment`: a shipment changed state (released ... delivered, or exception), optionally with an ETA
 * and a position. Becomes one `shipment` event whose ref is the shipment id.
 */
import { z } from 'zod'
import type { MessageContract } from './contract.ts'
import { id, seq, timestamp, toMs, version } from './fields.ts'
import { checkTime } from './time.ts'

const schema = z
  .strictObject({
    v: version,
    ts: timestamp,
    shipmentId: id('Shipment identifier'),
    status: z.enum(['released', 'picked', 'packed', 'loaded', 'departed', 'delivered', 'exception']),
    eta: timestamp.optional(),
    position: z
      .strictObject({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) })
      .meta({ description: 'WGS 84 position in decimal degrees.' })
      .optional(),
    note: z.string().max(1024).optional(),
    seq: seq.optional(),
  })
  .meta({
    title: 'stockyard/v1/{site}/{deviceId}/shipment',
    description: 'A shipment status change. Becomes one event of kind "shipment"; ts and eta are stored as epoch ms.',
  })

export type ShipmentPayload = z.infer<typeof schema>

export const shipment: MessageContract<ShipmentPayload> = {
  kind: 'shipment',
  schema,
  examples: [
    {
      v: 1,
      ts: '2025-01-31T12:00:00Z',
      shipmentId: 'SH-2025-000431',
      status: 'departed',
      eta: '2025-01-31T16:30:00+01:00',
      position: { lat: 51.9225, lon: 4.47917 },
      seq: 9,
    },
    { v: 1, ts: 1738324800000, shipmentId: 'SH-2025-000432', status: 'exception', note: 'pallet damaged at dock 3' },
  ],
  collect(p, ctx, out) {
    const ts = toMs(p.ts)
    const refused = checkTime(ts, ctx, 'ts')
    if (refused) return refused
    // The ETA is not window-checked: it is legitimately in the future.
    const body: Record<string, unknown> = { ...p, ts }
    if (p.eta !== undefined) body.eta = toMs(p.eta)
    out.events.push({ kind: 'shipment', ts, site: ctx.site, zone: ctx.zone, device: ctx.deviceId, sku: '', ref: p.shipmentId, body })
    if (p.seq !== undefined) out.keys.push({ seq: p.seq, ts, points: [0, 0], events: [out.events.length - 1, out.events.length] })
    return undefined
  },
}
