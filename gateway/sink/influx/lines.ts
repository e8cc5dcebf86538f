/**
 * The InfluxDB schema of Stockyard: how a stored point or event becomes one line of line protocol.
 *
 * - Points: one measurement per metric family (`environment`, `shelf`, `device`, else `reading`,
 *   overridable per metric in `influx.measurements`), the metric name as the field, tags site, zone,
 *   device and sku (empty ones left out), millisecond timestamps. The metrics of one reading (stored
 *   as consecutive rows with one timestamp) go out as one line with a field each.
 * - Events: `scan` (tags + event and sku), `shipment` (tag status; the shipment id is a field, never a
 *   tag, so tag cardinality stays bounded) and `device_status`.
 * - Numbers are always written as floats, so a field never changes type between lines.
 *
 * Escaping is the official client's (`escape`), so a tag value with a space, comma or `=` round-trips.
 */
import { escape } from '@influxdata/influxdb-client'
import type { SeriesLabels } from '../../core/records.ts'

/** Built-in metric families; `influx.measurements` adds to and overrides these. */
export const DEFAULT_MEASUREMENTS: Readonly<Record<string, string>> = {
  temperature_c: 'environment',
  humidity_pct: 'environment',
  co2_ppm: 'environment',
  weight_kg: 'shelf',
  units: 'shelf',
  battery_pct: 'device',
  rssi_dbm: 'device',
  uptime_s: 'device',
}
/** Measurement of a metric in no family. */
export const OTHER_MEASUREMENT = 'reading'

/** A stored event as the replicator reads it (`body` is the validated payload). */
export interface EventRow {
  kind: string
  ts: number
  site: string
  zone: string
  device: string
  sku: string
  body: Record<string, unknown>
}

/** Payload keys that are never fields: the version, the time (the line's timestamp) and the sequence number. */
const NOT_FIELDS = new Set(['v', 'ts', 'seq'])

export class LineSchema {
  private readonly measurements: Record<string, string>

  constructor(overrides: Readonly<Record<string, string>> = {}) {
    this.measurements = { ...DEFAULT_MEASUREMENTS, ...overrides }
  }

  measurementOf(metric: string): string {
    return Object.hasOwn(this.measurements, metric) ? this.measurements[metric]! : OTHER_MEASUREMENT
  }

  /** Measurement and tags of a series' points (`environment,site=s,zone=a`): a point's identity with its timestamp. */
  seriesKey(metric: string, labels: SeriesLabels): string {
    return `${escape.measurement(this.measurementOf(metric))}${tags({ device: labels.device, site: labels.site, sku: labels.sku, zone: labels.zone })}`
  }

  /** The field of a metric (`temperature_c`). */
  fieldOf(metric: string): string {
    return escape.tag(metric)
  }

  /** Everything of a one-field point's line before the value (`environment,site=s,zone=a temperature_c=`). */
  seriesPrefix(metric: string, labels: SeriesLabels): string {
    return `${this.seriesKey(metric, labels)} ${this.fieldOf(metric)}=`
  }

  /** One event as one line, or null for an event kind with no measurement. */
  eventLine(e: EventRow): string | null {
    const fields: string[] = []
    const b = e.body
    switch (e.kind) {
      case 'scan':
        for (const [k, v] of Object.entries(b)) if (k !== 'event' && k !== 'sku') field(fields, k, v)
        return `scan${tags({ device: e.device, event: str(b.event), site: e.site, sku: e.sku || str(b.sku), zone: e.zone })} ${fields.join(',')} ${e.ts}`
      case 'shipment': {
        field(fields, 'shipment_id', b.shipmentId)
        if (b.eta !== undefined) field(fields, 'eta_ms', b.eta)
        const pos = b.position as { lat?: unknown; lon?: unknown } | undefined
        if (pos) {
          field(fields, 'lat', pos.lat)
          field(fields, 'lon', pos.lon)
        }
        field(fields, 'note', b.note)
        return `shipment${tags({ device: e.device, site: e.site, status: str(b.status), zone: e.zone })} ${fields.join(',')} ${e.ts}`
      }
      case 'status':
        for (const [k, v] of Object.entries(b)) field(fields, k, v)
        // A status message may carry nothing but its time; a point needs a field.
        if (fields.length === 0) fields.push('reported=true')
        return `device_status${tags({ device: e.device, site: e.site, zone: e.zone })} ${fields.join(',')} ${e.ts}`
      default:
        return null
    }
  }
}

/** `,k=v` for each non-empty value, in the order given (callers pass keys sorted, as InfluxDB prefers). */
function tags(t: Record<string, string>): string {
  let out = ''
  for (const [k, v] of Object.entries(t)) if (v) out += `,${k}=${escape.tag(v)}`
  return out
}

function field(out: string[], key: string, v: unknown): void {
  if (NOT_FIELDS.has(key) || v === undefined || v === null) return
  if (typeof v === 'number' && Number.isFinite(v)) out.push(`${escape.tag(key)}=${v}`)
  else if (typeof v === 'boolean') out.push(`${escape.tag(key)}=${v}`)
  else if (typeof v === 'string') out.push(`${escape.tag(key)}=${escape.quoted(v)}`)
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : ''
}
