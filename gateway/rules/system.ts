/**
 * Built-in alerts raised by the gateway itself rather than by a rule pack. They share the alert
 * lifecycle (pending, firing, resolved, ack, silences, MQTT and bus delivery) with pack rules; their
 * ids start with `stockyard_`, and rule packs cannot redefine them.
 */
import type { LifecycleRule } from './engine/lifecycle.ts'
import { parseTemplate, type Segment } from './template.ts'

function template(text: string, placeholders: string[]): Segment[] {
  const parsed = parseTemplate(text, new Set(placeholders))
  if (!parsed.ok) throw new Error(`built-in template: ${parsed.message}`)
  return parsed.segments
}

/** Unreplicated rows of a lane (label `lane`: points or events) are within `influx.retentionWarnMs` of deletion by retention. */
export const REPLICATION_AT_RISK: LifecycleRule = {
  id: 'stockyard_replication_at_risk',
  forMs: 0,
  clearForMs: 0,
  severity: 'critical',
  labels: { sink: 'influx' },
  annotations: [
    [
      'summary',
      template(
        '{{ value }} {{ labels.lane }} not yet in InfluxDB ({{ target }}) will be deleted by retention from {{ expires }}: fix the sink or raise store.retention',
        ['value', 'target', 'expires'],
      ),
    ],
  ],
  notify: ['mqtt', 'bus'],
}

/**
 * An open shipment (label `shipment`) will likely depart after `analytics.dispatchWithinMs` from its
 * release, by the dispatch lead-time regression (gateway/analytics/dispatch.ts).
 */
export const DISPATCH_AT_RISK: LifecycleRule = {
  id: 'stockyard_dispatch_at_risk',
  forMs: 0,
  clearForMs: 0,
  severity: 'warning',
  labels: {},
  annotations: [
    [
      'summary',
      template(
        'shipment {{ labels.shipment }} ({{ lines }} pick lines) is predicted to depart at {{ predicted }}, after its dispatch deadline {{ deadline }}',
        ['lines', 'predicted', 'deadline'],
      ),
    ],
  ],
  notify: ['mqtt', 'bus'],
}

/**
 * With `store.retention.waitForHqAck`, rollup windows HQ had not acknowledged (label `table`) were
 * deleted anyway: they were older than their retention plus `store.retention.hqAckCapDays`.
 */
export const HQ_ACK_OVERDUE: LifecycleRule = {
  id: 'stockyard_hq_ack_overdue',
  forMs: 0,
  clearForMs: 0,
  severity: 'critical',
  labels: {},
  annotations: [
    [
      'summary',
      template(
        'HQ has not acknowledged {{ labels.table }} windows older than their retention plus hqAckCapDays; retention deleted them: check the HQ puller',
        [],
      ),
    ],
  ],
  notify: ['mqtt', 'bus'],
}

export const SYSTEM_RULES: readonly LifecycleRule[] = [REPLICATION_AT_RISK, DISPATCH_AT_RISK, HQ_ACK_OVERDUE]
