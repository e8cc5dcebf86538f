/** Field schemas shared by the message kinds: version, timestamps, sequence numbers, identifiers, metrics. */
import { z } from 'zod'
import { describeValue } from './issues.ts'

/** The largest epoch millisecond a JavaScript Date can hold (year 275760). */
export const MAX_EPOCH_MS = 8_640_000_000_000_000

const ID = /^[A-Za-z0-9][A-Za-z0-9._:/#+-]*$/
const METRIC = /^[a-z][a-z0-9_]{0,63}$/
const PRINTABLE = /^[\x20-\x7e]+$/
const ISO_HINT = 'expected an ISO 8601 date-time with seconds and Z or a ±hh:mm offset, e.g. "2025-01-31T12:00:00Z"'

/** Contract version; only 1 exists. A payload with another number is refused as `payload.unsupported_version`. */
export const SUPPORTED_VERSIONS = [1] as const
export const version = z.literal(1).meta({ description: 'Contract version; always 1.' })

const epochMs = z.number().min(0).max(MAX_EPOCH_MS)
const isoDateTime = z.iso.datetime({ offset: true, error: (iss) => `${ISO_HINT}, got ${describeValue(iss.input)}` })

/** Event time: epoch milliseconds, or an ISO 8601 date-time with `Z` or a `±hh:mm` offset. */
export const timestamp = z
  .union([epochMs, isoDateTime], {
    error: (iss) =>
      `${iss.input === undefined ? 'missing; expected' : 'expected'} epoch milliseconds (a number) or an ISO 8601 ` +
      `date-time with Z or a ±hh:mm offset, e.g. "2025-01-31T12:00:00Z"` +
      (iss.input === undefined ? '' : `, got ${describeValue(iss.input)}`),
  })
  .meta({ description: 'Epoch milliseconds, or ISO 8601 with Z or ±hh:mm offset, e.g. "2025-01-31T12:00:00.250+01:00".' })

/** Device-side message counter; with `ts`, the key for duplicate detection. */
export const seq = z
  .number()
  .int()
  .min(0)
  .meta({ description: 'Non-negative integer message counter; (seq, ts) identifies a message for duplicate detection.' })

/** An identifier: SKU, location, order or shipment reference. */
export function id(what: string) {
  return z
    .string()
    .min(1)
    .max(128)
    .regex(ID, {
      error: (iss) => `expected letters, digits and . _ : / # + - (starting with a letter or digit), got ${describeValue(iss.input)}`,
    })
    .meta({ description: `${what}; 1-128 characters: letters, digits and . _ : / # + -.` })
}

/** Free text of printable ASCII, e.g. a firmware version. */
export function printable(max: number, description: string) {
  return z.string().min(1).max(max).regex(PRINTABLE, 'use printable ASCII characters only').meta({ description })
}

const metricName = z.string().regex(METRIC, { error: 'metric names are 1 to 64 lowercase letters, digits and _, starting with a letter' })

/** Named numeric samples: `{"temperature_c": 4.2, "humidity_pct": 61}`. */
export const metrics = z
  .record(metricName, z.number())
  .refine(
    (m) => {
      let n = 0
      for (const _ in m) n++
      return n >= 1 && n <= 64
    },
    { message: 'must hold 1 to 64 metrics' },
  )
  .meta({
    description: 'Metric name -> finite number; 1 to 64 metrics, names match ^[a-z][a-z0-9_]{0,63}$.',
    minProperties: 1,
    maxProperties: 64,
  })

/** Epoch ms of a validated `timestamp`, truncated to whole milliseconds. */
export function toMs(ts: number | string): number {
  return typeof ts === 'number' ? Math.floor(ts) : Date.parse(ts)
}
