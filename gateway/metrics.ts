/**
 * The gateway's Prometheus metrics (prom-client). One instance per gateway, on its own registry,
 * so several gateways in one test process do not collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export class GatewayMetrics {
  readonly registry = new Registry()
  /** Messages accepted and stored, by message kind. */
  readonly ingested = new Counter({
    name: 'stockyard_ingest_messages_total',
    help: 'Messages accepted and committed, by kind',
    labelNames: ['kind'],
    registers: [this.registry],
  })
  readonly points = new Counter({ name: 'stockyard_ingest_points_total', help: 'Raw points committed', registers: [this.registry] })
  readonly events = new Counter({ name: 'stockyard_ingest_events_total', help: 'Events committed to the event log', registers: [this.registry] })
  /** Refused messages (and duplicate elements), by reason code. */
  readonly rejected = new Counter({
    name: 'stockyard_rejections_total',
    help: 'Refused messages by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  })
  /** From the PUBLISH being handed to us to its transaction committing (the PUBACK follows at once). */
  readonly ackLatency = new Histogram({
    name: 'stockyard_ack_latency_seconds',
    help: 'Time from receipt of a PUBLISH to its durable commit',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  })
  readonly batchSize = new Histogram({
    name: 'stockyard_store_batch_messages',
    help: 'Messages per group-commit transaction',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
    registers: [this.registry],
  })
  readonly commitTime = new Histogram({
    name: 'stockyard_store_commit_seconds',
    help: 'Duration of one group-commit transaction',
    buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
    registers: [this.registry],
  })
  readonly storeErrors = new Counter({ name: 'stockyard_store_errors_total', help: 'Failed commits (messages not acknowledged)', registers: [this.registry] })
  readonly retentionDeleted = new Counter({
    name: 'stockyard_retention_deleted_rows_total',
    help: 'Rows deleted by retention',
    labelNames: ['table'],
    registers: [this.registry],
  })
  readonly connectedClients = new Gauge({ name: 'stockyard_mqtt_connected_clients', help: 'Connected MQTT clients', registers: [this.registry] })
  readonly authFailures = new Counter({
    name: 'stockyard_mqtt_auth_failures_total',
    help: 'Refused MQTT connects and ACL denials',
    labelNames: ['reason'],
    registers: [this.registry],
  })

  constructor() {
    // Includes nodejs_eventloop_lag_seconds and process RSS.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 })
  }
}
