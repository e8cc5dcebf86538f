'use strict'
/**
 * stockyard events in: the devices' messages of one kind (`stockyard/v1/{site}/+/{kind}`) as the
 * broker forwards them; the gateway hides refused ones, so these passed its contract. Sends
 * msg.payload = the parsed JSON, msg.device, msg.kind and msg.topic = the MQTT topic.
 */
const { acquire, siteRoot } = require('./lib/connection')

const KINDS = ['scan', 'shipment', 'reading', 'status']
/** Topic levels under the site that are not devices. */
const NOT_DEVICES = new Set(['alerts', 'flows'])

module.exports = function (RED) {
  function StockyardEventsIn(config) {
    RED.nodes.createNode(this, config)
    const node = this
    const kind = config.kind
    if (!KINDS.includes(kind)) {
      node.status({ fill: 'red', shape: 'ring', text: 'no kind' })
      node.error(`kind ${JSON.stringify(kind)} is not one of ${KINDS.join(', ')}`)
      return
    }
    const includeRetained = !!config.retained
    let conn
    try {
      const filter = `${siteRoot()}/+/${kind}`
      conn = acquire(node)
      conn.subscribe(filter, onMessage)
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: 'not configured' })
      node.error(err.message)
      return
    }

    function onMessage(topic, payload, packet) {
      const device = topic.split('/')[3]
      if (NOT_DEVICES.has(device) || payload.length === 0) return
      if (packet.retain && !includeRetained) return
      let body
      try {
        body = JSON.parse(payload.toString('utf8'))
      } catch {
        node.warn(`${topic}: not JSON, skipped`)
        return
      }
      node.send({ topic, payload: body, device, kind, retain: packet.retain })
    }

    node.on('close', (done) => {
      conn.release().then(() => done())
    })
  }
  RED.nodes.registerType('stockyard-events-in', StockyardEventsIn)
}
