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

  /** Rule engine counters, mirrored from the ingest worker every two seconds. */
  readonly ruleEvaluations = new Gauge({
    name: 'stockyard_rule_evaluations',
    help: 'Condition evaluations per rule since the rule was loaded',
    labelNames: ['rule'],
    registers: [this.registry],
  })
  readonly ruleErrors = new Gauge({
    name: 'stockyard_rule_errors',
    help: 'Evaluations that threw, per rule, since the rule was loaded (the other rules go on)',
    labelNames: ['rule'],
    registers: [this.registry],
  })
  readonly ruleLatePoints = new Gauge({
    name: 'stockyard_rule_late_points',
    help: 'Points that arrived after their window closed (beyond rules.allowedLatenessMs), per rule; counted, never folded',
    labelNames: ['rule'],
    registers: [this.registry],
  })
  readonly alerts = new Gauge({ name: 'stockyard_alerts', help: 'Alerts by state and severity', labelNames: ['state', 'severity'], registers: [this.registry] })
  readonly alertChanges = new Counter({
    name: 'stockyard_alert_changes_total',
    help: 'Alert state and attribute changes (pending, firing, resolved, cancelled, acknowledged, silenced, unsilenced)',
    labelNames: ['event'],
    registers: [this.registry],
  })
  readonly webhookQueue = new Gauge({
    name: 'stockyard_webhook_notifications',
    help: 'Webhook notifications waiting (pending) or given up (dead, kept for inspection)',
    labelNames: ['state'],
    registers: [this.registry],
  })
  readonly notificationsDropped = new Gauge({
    name: 'stockyard_notifications_dropped',
    help: 'Webhook notifications dropped since start because the rule names a webhook that is not configured',
    registers: [this.registry],
  })
  readonly webhookDelivered = new Gauge({
    name: 'stockyard_webhook_delivered',
    help: 'Webhook notifications delivered since start',
    registers: [this.registry],
  })
  readonly webhookFailedAttempts = new Gauge({
    name: 'stockyard_webhook_failed_attempts',
    help: 'Webhook attempts that failed and will be retried, since start',
    registers: [this.registry],
  })

  /** InfluxDB replication, per lane (points, events), mirrored from the sink worker every second. */
  readonly sinkLagRows = new Gauge({
    name: 'stockyard_sink_lag_rows',
    help: 'Rows stored but not yet acknowledged by the sink, per lane',
    labelNames: ['sink', 'lane'],
    registers: [this.registry],
  })
  readonly sinkLagSeconds = new Gauge({
    name: 'stockyard_sink_lag_seconds',
    help: 'Age of the oldest row not yet acknowledged by the sink (0 when caught up), per lane',
    labelNames: ['sink', 'lane'],
    registers: [this.registry],
  })
  readonly sinkLagSecondsMax = new Gauge({
    name: 'stockyard_sink_lag_seconds_max',
    help: 'Largest lag seen (polled every 50 ms) during the last second, per lane',
    labelNames: ['sink', 'lane'],
    registers: [this.registry],
  })
  readonly sinkSent = new Gauge({
    name: 'stockyard_sink_sent_lines',
    help: 'Lines acknowledged by the sink since start',
    labelNames: ['sink', 'lane'],
    registers: [this.registry],
  })
  readonly sinkRejected = new Gauge({
    name: 'stockyard_sink_rejected_lines',
    help: 'Lines refused by the sink as bad data since start (dead-lettered as sink.rejected)',
    labelNames: ['sink', 'lane'],
    registers: [this.registry],
  })
  readonly sinkFailedAttempts = new Gauge({
    name: 'stockyard_sink_failed_attempts',
    help: 'Sink writes that failed and were retried, since start',
    labelNames: ['sink', 'lane'],
    registers: [this.registry],
  })
  readonly sinkUp = new Gauge({
    name: 'stockyard_sink_up',
    help: '1 while the last write to the sink succeeded, 0 while it is failing',
    labelNames: ['sink'],
    registers: [this.registry],
  })

  /** Analytics runs (gateway/analytics/), mirrored from the analytics worker. */
  readonly analyticsRunning = new Gauge({
    name: 'stockyard_analytics_running',
    help: '1 while an analytics run (forecasts, policy, segments) is in progress',
    registers: [this.registry],
  })
  readonly analyticsProgress = new Gauge({
    name: 'stockyard_analytics_progress_ratio',
    help: 'Share of SKUs the current (or last) analytics run has forecast, 0-1',
    registers: [this.registry],
  })
  readonly analyticsDuration = new Gauge({
    name: 'stockyard_analytics_last_run_seconds',
    help: 'Duration of the last finished analytics run',
    registers: [this.registry],
  })
  readonly analyticsLastRun = new Gauge({
    name: 'stockyard_analytics_last_run_timestamp_seconds',
    help: 'When the last analytics run finished (gateway clock, Unix seconds)',
    registers: [this.registry],
  })
  readonly analyticsSkus = new Gauge({
    name: 'stockyard_analytics_skus',
    help: 'SKUs forecast by the last analytics run',
    registers: [this.registry],
  })
  readonly analyticsRuns = new Counter({
    name: 'stockyard_analytics_runs_total',
    help: 'Analytics runs since start, by outcome (ok, failed)',
    labelNames: ['outcome'],
    registers: [this.registry],
  })

  /** Embedded Node-RED (gateway/nodered/). */
  readonly nodeRedUp = new Gauge({
    name: 'stockyard_nodered_up',
    help: '1 while Node-RED is running with its flows started, 0 while it starts or restarts',
    registers: [this.registry],
  })
  readonly nodeRedStart = new Gauge({
    name: 'stockyard_nodered_start_seconds',
    help: 'How long the last Node-RED start took (loading nodes, starting flows)',
    registers: [this.registry],
  })
  readonly nodeRedErrors = new Counter({
    name: 'stockyard_nodered_errors_total',
    help: 'Errors logged by Node-RED: by a node of a flow (source node) or by the runtime (source runtime)',
    labelNames: ['source'],
    registers: [this.registry],
  })
  readonly nodeRedRestarts = new Counter({
    name: 'stockyard_nodered_restarts_total',
    help: 'Times the Node-RED thread died (a crash in a flow, say) and was started again',
    registers: [this.registry],
  })

  constructor() {
    // Includes nodejs_eventloop_lag_seconds and process RSS.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 })
  }
}
