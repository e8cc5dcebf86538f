'use strict'
/**
 * stockyard alert in: the gateway's alert messages from MQTT (`stockyard/v1/{site}/alerts/{rule}/{id}`),
 * filtered by minimum severity and by event. Sends msg.topic = rule id, msg.payload = the message,
 * msg.alert = payload.alert and msg.notification = a ready webhook body (lib/notification.js).
 */
const { listen } = require('./lib/connection')
const { notificationOf } = require('./lib/notification')

const SEVERITIES = ['info', 'warning', 'critical']
const EVENTS = ['firing', 'resolved', 'acknowledged']

/** Whether a parsed message has the shape of an alert message. */
function isAlert(p) {
  const a = p && typeof p === 'object' ? p.alert : null
  return !!a && typeof a === 'object' && typeof p.event === 'string' && typeof a.id === 'string' && typeof a.rule === 'string' && typeof a.severity === 'string'
}

module.exports = function (RED) {
  function StockyardAlertIn(config) {
    RED.nodes.createNode(this, config)
    const node = this
    // `severity` may be `${ALERT_MIN_SEVERITY}`: Node-RED has put the variable's value in by now.
    let min = SEVERITIES.indexOf(String(config.severity).trim())
    if (min < 0) {
      node.error(`minimum severity ${JSON.stringify(config.severity)} is not info, warning or critical; passing every severity`)
      min = 0
    }
    const events = new Set(EVENTS.filter((e) => config[e]))
    const includeRetained = !!config.retained

    // What this node last passed per alert id (`episode:event`), kept in the file context store so it
    // survives restarts: a retained message it already passed is not passed again.
    const ctx = node.context()
    const store = 'file'
    let sent = {}
    try {
      sent = ctx.get('sent', store) || {}
    } catch {
      sent = ctx.get('sent') || {}
    }
    const remember = () => {
      try {
        ctx.set('sent', sent, store)
      } catch {
        ctx.set('sent', sent)
      }
    }

    function onMessage(topic, payload, packet) {
      // An empty retained message clears a resolved alert's topic; it carries nothing.
      if (payload.length === 0) return
      let p
      try {
        p = JSON.parse(payload.toString('utf8'))
      } catch {
        node.warn(`${topic}: not JSON, skipped`)
        return
      }
      if (!isAlert(p)) {
        node.warn(`${topic}: not an alert message (no event, alert.id, alert.rule or alert.severity), skipped`)
        return
      }
      const stamp = `${p.alert.episode}:${p.event}`
      // Retained: the alert's last message, which the broker sends at every (re)subscribe. Unless told
      // to pass them all, pass one only if this node has not passed it yet: it fired while Node-RED was
      // down (the broker queued it for this client's session) or before this node first ran.
      if (packet.retain && !includeRetained && sent[p.alert.id] === stamp) return
      if (p.event === 'resolved') delete sent[p.alert.id]
      else sent[p.alert.id] = stamp
      remember()
      if (!events.has(p.event) || SEVERITIES.indexOf(p.alert.severity) < min) return
      node.send({ topic: p.alert.rule, payload: p, alert: p.alert, notification: notificationOf(p), retain: packet.retain, mqttTopic: topic })
    }

    listen(node, 'alerts/+/+', onMessage)
  }
  RED.nodes.registerType('stockyard-alert-in', StockyardAlertIn)
}
