/**
 * The alert sinks on the broker thread: the in-process bus (dashboards, Node-RED) and MQTT. The
 * webhook sink runs on the ingest worker with its durable queue (`webhook.ts`).
 *
 * MQTT: `stockyard/v1/{site}/alerts/{rule}/{fingerprint}`, QoS 1. A firing alert is published
 * retained (a client that subscribes later still sees it, and an acknowledgement updates it); on
 * resolve the resolved message is published, then an empty retained message clears the topic, so
 * only firing alerts are retained.
 */
import { EventEmitter } from 'node:events'
import type { Aedes } from 'aedes'
import type { Logger } from '../core/log.ts'
import { payloadOf, type AlertNotice } from '../rules/runtime.ts'

export interface AlertBusEvents {
  /** Every alert change (pending, firing, resolved, cancelled, acknowledged, silenced, unsilenced). */
  change: [notice: AlertNotice]
  /** Changes of rules that list `bus` in `notify`, and that notify (firing, resolved, not silenced). */
  notify: [notice: AlertNotice]
}

export class AlertBus extends EventEmitter<AlertBusEvents> {}

export function alertTopic(site: string, rule: string, fingerprint: string): string {
  return `stockyard/v1/${site}/alerts/${rule}/${fingerprint}`
}

/** Deliver committed alert changes to the bus and to MQTT; a failing listener never stops the others. */
export function deliverNotices(notices: readonly AlertNotice[], deps: { bus: AlertBus; aedes: Aedes; site: string; log: Logger }): void {
  for (const n of notices) {
    emitSafely(deps, 'change', n)
    if (n.deliver.includes('bus')) emitSafely(deps, 'notify', n)
    if (!n.deliver.includes('mqtt')) continue
    const topic = alertTopic(deps.site, n.alert.rule, n.alert.id)
    const payload = Buffer.from(JSON.stringify(payloadOf(n, deps.site)))
    const done = (err?: Error): void => {
      if (err) deps.log.warn({ err, topic }, 'could not publish an alert')
    }
    if (n.alert.state === 'firing') {
      deps.aedes.publish({ cmd: 'publish', topic, payload, qos: 1, retain: true, dup: false }, done)
    } else {
      deps.aedes.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, done)
      deps.aedes.publish({ cmd: 'publish', topic, payload: Buffer.alloc(0), qos: 1, retain: true, dup: false }, done)
    }
  }
}

function emitSafely(deps: { bus: AlertBus; log: Logger }, event: keyof AlertBusEvents, n: AlertNotice): void {
  for (const listener of deps.bus.listeners(event) as Array<(n: AlertNotice) => void>) {
    try {
      listener(n)
    } catch (err) {
      deps.log.error({ err, event }, 'alert bus listener failed')
    }
  }
}
