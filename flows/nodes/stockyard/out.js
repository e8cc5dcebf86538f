'use strict'
/**
 * stockyard out: publish to the gateway's broker under `stockyard/v1/{site}/flows/`, the only topics
 * the gateway lets its Node-RED write. The configured topic (or msg.topic) is the part after
 * `flows/`; an object payload is sent as JSON. QoS 1, optionally retained.
 */
const { acquire, siteRoot } = require('./lib/connection')

/** A topic part under flows/: levels without wildcards, not empty. */
const SUFFIX = /^[^/+#]+(\/[^/+#]+)*$/

module.exports = function (RED) {
  function StockyardOut(config) {
    RED.nodes.createNode(this, config)
    const node = this
    let conn
    let root
    try {
      root = `${siteRoot()}/flows`
      conn = acquire(node)
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: 'not configured' })
      node.error(err.message)
      return
    }

    node.on('input', (msg, send, done) => {
      const suffix = config.topic || msg.topic
      if (typeof suffix !== 'string' || !SUFFIX.test(suffix)) {
        done(new Error(`topic ${JSON.stringify(suffix)}: expected the part after ${root}/, e.g. wms/deviation (no wildcards, no leading /)`))
        return
      }
      const p = msg.payload
      const payload = Buffer.isBuffer(p) ? p : typeof p === 'string' ? p : p === undefined || p === null ? '' : JSON.stringify(p)
      conn.publish(`${root}/${suffix}`, payload, { qos: 1, retain: !!config.retain }, (err) => done(err || undefined))
    })

    node.on('close', (done) => {
      conn.release().then(() => done())
    })
  }
  RED.nodes.registerType('stockyard-out', StockyardOut)
}
