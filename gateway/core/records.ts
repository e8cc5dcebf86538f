/**
 * The normalised records that flow from the MQTT contracts into the store. A message that passes
 * its contract becomes one `Accepted` (points for numeric series, events for the event log); a
 * message that fails becomes one `Rejection`. Nothing else crosses the contract boundary.
 */

/** Label set identifying one series besides its metric name. Empty labels are stored as ''. */
export interface SeriesLabels {
  site: string
  zone: string
  device: string
  sku: string
}

/** One numeric sample of one series. `ts` is epoch milliseconds (event time, from the device). */
export interface PointRecord {
  metric: string
  labels: SeriesLabels
  ts: number
  value: number
}

/** Kinds of message that land in the append-only event log. */
export type EventKind = 'scan' | 'shipment' | 'status'

/** One entry of the append-only event log (scans, shipment events, device status). */
export interface EventRecord {
  kind: EventKind
  ts: number
  site: string
  zone: string
  device: string
  /** SKU for scans, '' otherwise. */
  sku: string
  /** Order or shipment reference, '' when absent. */
  ref: string
  /** The validated payload, as JSON-serialisable data. */
  body: Record<string, unknown>
}

/**
 * Identity of one accepted message element (a reading of a batch, or a whole scan, shipment or
 * status message), for duplicate detection, with the records it produced: `points[start, end)`
 * and `events[start, end)` of its `Accepted`.
 */
export interface MessageKey {
  seq: number
  ts: number
  points: [start: number, end: number]
  events: [start: number, end: number]
}

/** What one valid MQTT message contributes to the store. */
export interface Accepted {
  device: string
  site: string
  kind: string
  points: PointRecord[]
  events: EventRecord[]
  /** One key per element that carried a `seq`; elements without one are never deduplicated. */
  keys: MessageKey[]
}

/** Stable reason codes for refused input; they are the `reason` label in /metrics. */
export const REJECTION_CODES = [
  'payload.not_json',
  'payload.too_large',
  'payload.too_deep',
  'payload.invalid',
  'payload.unknown_kind',
  'payload.unsupported_version',
  'topic.invalid',
  'topic.too_many_levels',
  'topic.not_allowed',
  'ts.future',
  'ts.past',
  'seq.duplicate',
] as const
export type RejectionCode = (typeof REJECTION_CODES)[number]

/** A refused message: why, from whom, and what it looked like. */
export interface Rejection {
  code: RejectionCode
  message: string
  device: string
  site: string
  topic: string
  seq?: number
  /** The first 1 KiB of the payload, as text (invalid UTF-8 replaced). */
  sample: string
  ts: number
}
