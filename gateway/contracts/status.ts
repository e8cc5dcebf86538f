/**
 * `status`: device health and presence. Usually also the device's MQTT will message, which is
 * composed at connect time, so `ts` is optional and defaults to the arrival time. Becomes one
 * `status` event plus one point per numeric field present (battery_pct, rssi_dbm, uptime_s).
 */
import { z } from 'zod'
import type { SeriesLabels } from '../core/records.ts'
import type { MessageContract } from './contract.ts'
import { printable, seq, timestamp, toMs, version } from './fields.ts'
import { checkTime } from './time.ts'

const schema = z
  .strictObject({
    v: version,
    ts: timestamp.optional().meta({ description: 'Epoch milliseconds or ISO 8601 with Z or ±hh:mm offset; defaults to the arrival time.' }),
    state: z.enum(['online', 'offline']).optional(),
    battery_pct: z.number().min(0).max(100).optional(),
    firmware: printable(64, 'Firmware version, printable ASCII, up to 64 characters.').optional(),
    rssi_dbm: z.number().min(-200).max(0).optional(),
    uptime_s: z.number().min(0).optional(),
    seq: seq.optional(),
  })
  .meta({
    title: 'stockyard/v1/{site}/{deviceId}/status',
    description: 'Device health and presence. Becomes one event of kind "status" and a point per numeric field present.',
  })

export type StatusPayload = z.infer<typeof schema>

const NUMERIC = ['battery_pct', 'rssi_dbm', 'uptime_s'] as const

export const status: MessageContract<StatusPayload> = {
  kind: 'status',
  schema,
  examples: [
    { v: 1, ts: '2025-01-31T12:00:00Z', state: 'online', battery_pct: 87, firmware: '2.4.1', rssi_dbm: -61, uptime_s: 86400, seq: 12 },
    { v: 1, state: 'offline' },
  ],
  collect(p, ctx, out) {
    let ts = ctx.now
    if (p.ts !== undefined) {
      ts = toMs(p.ts)
      const refused = checkTime(ts, ctx, 'ts')
      if (refused) return refused
    }
    const firstPoint = out.points.length
    out.events.push({ kind: 'status', ts, site: ctx.site, zone: ctx.zone, device: ctx.deviceId, sku: '', ref: '', body: { ...p, ts } })
    let labels: SeriesLabels | undefined
    for (const metric of NUMERIC) {
      const value = p[metric]
      if (value === undefined) continue
      labels ??= { site: ctx.site, zone: ctx.zone, device: ctx.deviceId, sku: '' }
      out.points.push({ metric, labels, ts, value })
    }
    if (p.seq !== undefined) out.keys.push({ seq: p.seq, ts, points: [firstPoint, out.points.length], events: [out.events.length - 1, out.events.length] })
    return undefined
  },
}
