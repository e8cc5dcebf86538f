'use strict'
/**
 * stockyard events in: the devices' messages of one kind (`stockyard/v1/{site}/+/{kind}`) as the
 * broker forwards them; the gateway hides refused ones, so these passed its contract. Sends
 * msg.payload = the parsed JSON, msg.device, msg.kind and msg.topic = the MQTT topic.
 */
const { listen } = require('./lib/connection')

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

    listen(node, `+/${kind}`, onMessage)
  }
  RED.nodes.registerType('stockyard-events-in', StockyardEventsIn)
}
